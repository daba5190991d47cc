/* SPDX-License-Identifier: MIT */
/*
 * Negotiated operational parameters of one session/connection (RFC 7143 13)
 * and the text-key codec used by Login and Text requests (RFC 7143 6, 5.3).
 * Sans-I/O: nothing here touches a socket.
 */
#ifndef TARGET_ISCSI_PARAMS_H
#define TARGET_ISCSI_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "target/config.h"

struct iscsi_params {
	bool header_digest;        /* CRC32C on headers */
	bool data_digest;          /* CRC32C on data segments */
	uint32_t max_recv_dsl;     /* what we accept: our declared MaxRecvDataSegmentLength */
	uint32_t max_xmit_dsl;     /* what we may send: the initiator's MaxRecvDataSegmentLength */
	uint32_t max_burst;
	uint32_t first_burst;
	bool immediate_data;
	bool initial_r2t;
	uint16_t max_outstanding_r2t;
	uint16_t max_connections;
	uint16_t default_time2wait;
	uint16_t default_time2retain;
	bool data_pdu_in_order;
	bool data_seq_in_order;
	uint8_t error_recovery_level;
};

/* RFC 7143 defaults (what holds before/without negotiation). */
void iscsi_params_defaults(struct iscsi_params *p);

#define ISCSI_KEY_NAME_MAX  63   /* RFC 7143 6.1: key names at most 63 bytes */
#define ISCSI_TEXT_MAX_KEYS 64

struct iscsi_kv {
	const char *key;
	const char *val;
};

/*
 * Splits a text data segment ("k=v\0k=v\0...", RFC 7143 6.1) in place into
 * key/value pairs (pointers into buf, which must hold len bytes plus one
 * spare byte for a terminator). Returns the number of pairs, or:
 *   -EINVAL  a pair without '=', an empty or over-long key, a value over 8192
 *   -E2BIG   more than max pairs
 */
int iscsi_text_parse(char *buf, size_t len, struct iscsi_kv *out, unsigned max);

/* Appends "key=value\0" to a response buffer. */
struct iscsi_text_out {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow; /* a pair did not fit; nothing partial was written */
};
void iscsi_text_add(struct iscsi_text_out *o, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
