/* SPDX-License-Identifier: MIT */
/*
 * CHAP for the iSCSI login security stage (RFC 7143 12.1.3, RFC 1994), with
 * MD5 only (CHAP_A=5). Internal to target/iscsi: login.c drives it.
 *
 * Exchange (target side), recorded in struct iscsi_login.chap:
 *
 *   CHAP_NONE --AuthMethod=CHAP agreed--> CHAP_WAIT_A --CHAP_A incl. 5: we send
 *   CHAP_A=5, CHAP_I, CHAP_C--> CHAP_WAIT_RESPONSE --CHAP_N/CHAP_R verified (and,
 *   when the initiator sent CHAP_I/CHAP_C, our CHAP_N/CHAP_R)--> CHAP_DONE
 *
 * Anything out of that order fails the login with 0x0201.
 */
#ifndef TARGET_ISCSI_CHAP_H
#define TARGET_ISCSI_CHAP_H

#include <stddef.h>
#include <stdint.h>
#include "target/iscsi/login.h"
#include "target/iscsi/params.h"

#define ISCSI_CHAP_DIGEST_LEN	 16
#define ISCSI_CHAP_CHALLENGE_MAX 1024 /* RFC 7143 12.1.3: at most 1024 bytes */

/*
 * Decodes an RFC 7143 5.1 binary-value: "0x"/"0X" hex (an odd digit count
 * gets a leading zero nibble) or "0b"/"0B" base64. Returns the byte count,
 * -EINVAL for a malformed or empty value, -E2BIG when it exceeds cap.
 * Pure; any thread.
 */
int iscsi_chap_decode(const char *s, uint8_t *out, size_t cap);

/*
 * Writes "0x" and 2*len lowercase hex digits plus a NUL. Returns the string
 * length, or -ENOSPC when cap is too small. Pure; any thread.
 */
int iscsi_chap_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* RFC 1994 4.1: MD5(identifier || secret || challenge). Pure; any thread. */
void iscsi_chap_digest(uint8_t id, const char *secret, const uint8_t *chal, size_t chal_len,
		       uint8_t out[ISCSI_CHAP_DIGEST_LEN]);

/*
 * Handles the CHAP_* keys of one security-stage request (kv entries it uses
 * are set to NULL) and appends our CHAP keys to out. Called only when
 * AuthMethod=CHAP was agreed. Returns 0, or -ISCSI_LOGIN_STATUS_AUTH_FAILED
 * with l->reason set. Thread of the connection.
 */
int iscsi_chap_handle(struct iscsi_login *l, struct iscsi_kv *kv, unsigned nkv,
		      struct iscsi_text_out *out);

/* True for the CHAP_* key names (RFC 7143 12.1.3). */
bool iscsi_chap_is_key(const char *key);

#endif
