/* SPDX-License-Identifier: MIT */
/*
 * The target side of the iSCSI login phase (RFC 7143 6.3, 11.12, 11.13,
 * 12 for CHAP), sans-I/O: it consumes one Login Request (BHS + data segment)
 * at a time and produces one Login Response.
 *
 * States (one connection):
 *
 *    START --first request--> SECURITY --T, NSG=1--> OPERATIONAL --T, NSG=3--> FULL_FEATURE
 *      |                          |  \__________T, NSG=3 (no operational stage)_____^
 *      \--first request CSG=1 ----+--> OPERATIONAL (only when no auth is required)
 *    any stage --error--> FAILED (the response carries a status class 02xx/03xx;
 *                                  the connection closes after sending it)
 *
 * A request with C=1 (continue) is accumulated until its final part; the
 * target answers each part with an empty response (RFC 7143 6.5).
 *
 * The caller stamps StatSN, ExpCmdSN and MaxCmdSN into the response BHS
 * (bytes 24..35) before sending; everything else is filled in here.
 */
#ifndef TARGET_ISCSI_LOGIN_H
#define TARGET_ISCSI_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "target/config.h"
#include "target/iscsi/params.h"
#include "target/iscsi/pdu.h"

#define ISCSI_LOGIN_DATA_MAX  8192  /* login data segments never exceed this (RFC 7143 13.12) */
#define ISCSI_LOGIN_ACCUM_MAX 32768 /* C-bit accumulation limit */

enum iscsi_login_state {
	ISCSI_LOGIN_START,
	ISCSI_LOGIN_SECURITY,
	ISCSI_LOGIN_OPERATIONAL,
	ISCSI_LOGIN_FULL_FEATURE,
	ISCSI_LOGIN_FAILED,
};

enum iscsi_session_type {
	ISCSI_SESSION_NORMAL,
	ISCSI_SESSION_DISCOVERY,
};

enum iscsi_chap_state {
	CHAP_NONE,	    /* not started */
	CHAP_WAIT_A,	    /* AuthMethod=CHAP agreed, waiting for CHAP_A */
	CHAP_WAIT_RESPONSE, /* challenge sent, waiting for CHAP_N/CHAP_R */
	CHAP_DONE,
};

enum iscsi_auth_method {
	ISCSI_AUTH_UNSET, /* AuthMethod not negotiated (yet) */
	ISCSI_AUTH_NONE,
	ISCSI_AUTH_CHAP,
};

struct iscsi_login;

/*
 * Called once, when the target is about to answer the final request that moves
 * to full feature phase. It binds the connection to a session (new session for
 * TSIH 0, reinstatement of an existing ISID, ...). Returns the session's TSIH
 * (> 0), or a negative login status (-ISCSI_LOGIN_STATUS_*) to refuse.
 */
typedef int (*iscsi_login_bind_fn)(struct iscsi_login *l, void *arg);

struct iscsi_login_env {
	const struct tgt_config *cfg;
	uint16_t portal_tpgt; /* TPGT of the portal this connection came in on */
	iscsi_login_bind_fn bind;
	void *bind_arg;
	/* Fills buf with len random bytes (CHAP identifier and challenge); tests replace it. */
	void (*random)(void *buf, size_t len);
};

struct iscsi_login {
	const struct iscsi_login_env *env;
	enum iscsi_login_state state;
	enum iscsi_session_type session_type;
	enum iscsi_chap_state chap;
	bool auth_required; /* CHAP configured */
	bool authenticated;
	char initiator_name[TGT_NAME_MAX];
	char initiator_alias[TGT_NAME_MAX];
	char target_name[TGT_NAME_MAX];
	uint8_t isid[6];
	uint16_t tsih; /* as requested; the bound TSIH after bind() */
	uint16_t cid;
	uint32_t itt;	/* of the request being answered */
	uint32_t cmdsn; /* CmdSN of the first login request */
	uint32_t exp_statsn;
	uint8_t chap_id;
	uint8_t chap_challenge[16];
	struct iscsi_params params; /* negotiated so far; final at FULL_FEATURE */
	uint64_t keys_seen;	    /* bitmap of operational keys already negotiated (duplicates) */
	/* C-bit accumulation. */
	char accum[ISCSI_LOGIN_ACCUM_MAX + 1];
	size_t accum_len;
	/* Why the login failed, for the log ("CHAP response mismatch", ...). */
	char reason[128];
	/* Added with login.c: */
	bool accum_active;   /* parts of a C=1 request are being accumulated */
	uint8_t accum_csg;   /* CSG every part of that request must repeat */
	uint8_t auth_method; /* enum iscsi_auth_method agreed in the security stage */
	bool tpgt_sent;	     /* TargetPortalGroupTag went out (first response) */
};

void iscsi_login_init(struct iscsi_login *l, const struct iscsi_login_env *env);

struct iscsi_login_rsp {
	struct iscsi_bhs bhs; /* complete except StatSN/ExpCmdSN/MaxCmdSN */
	uint8_t data[ISCSI_LOGIN_DATA_MAX];
	uint32_t data_len;
	bool close_after;  /* failure response: send, then close the connection */
	bool full_feature; /* this response moves the connection to full feature phase */
};

/*
 * Handles one Login Request. bhs/hdr: the request header as parsed by
 * iscsi_pdu_parse_bhs(); data/dlen: its data segment (unpadded).
 * Always fills *rsp (a success, continuation or failure response) and
 * returns 0; returns -EPROTO only when no response may be sent at all
 * (then the caller closes the connection at once).
 */
int iscsi_login_handle(struct iscsi_login *l, const struct iscsi_bhs *bhs,
		       const struct iscsi_pdu_hdr *hdr, const uint8_t *data, uint32_t dlen,
		       struct iscsi_login_rsp *rsp);

/*
 * Builds the SendTargets response (RFC 7143 Appendix C, 12.? SendTargets):
 * for "All" every target with all its portals as TargetAddress=addr:port,tpgt;
 * for a target name only that target. Returns bytes written, or -ENOENT
 * (unknown target name: empty response is written, returns 0 then) / -ENOSPC.
 */
int iscsi_sendtargets_build(const struct tgt_config *cfg, const char *what, char *buf, size_t cap);

/*
 * Handles a Text Request's keys in full feature phase (SendTargets and
 * anything else: unknown keys get "NotUnderstood", keys that only login may
 * negotiate get "Reject"). Returns bytes written into buf or a negative errno:
 * -EINVAL when req is not NUL-terminated text (RFC 7143 6.1; req is split in
 * place), -E2BIG for too many keys, -ENOSPC when the answer exceeds cap.
 */
int iscsi_text_handle(const struct tgt_config *cfg, enum iscsi_session_type type, char *req,
		      size_t req_len, char *buf, size_t cap);

#endif
