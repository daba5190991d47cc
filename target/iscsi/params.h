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
	bool header_digest;    /* CRC32C on headers */
	bool data_digest;      /* CRC32C on data segments */
	uint32_t max_recv_dsl; /* what we accept: our declared MaxRecvDataSegmentLength */
	uint32_t max_xmit_dsl; /* what we may send: the initiator's MaxRecvDataSegmentLength */
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

#define ISCSI_KEY_NAME_MAX  63 /* RFC 7143 6.1: key names at most 63 bytes */
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

/*
 * RFC 7143 5.1 numerical-value: a decimal-constant or a hex-constant ("0x..."),
 * at most 2^32 - 1. Returns false for anything else. Pure; any thread.
 */
bool iscsi_text_parse_num(const char *s, uint32_t *out);

/* Appends "key=value\0" to a response buffer. */
struct iscsi_text_out {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow; /* a pair did not fit; nothing partial was written */
};
void iscsi_text_add(struct iscsi_text_out *o, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Negotiation of the operational keys of one login (RFC 7143 6.2, 13).
 * The caller owns the state (params, seen-bitmap) and keeps it across the
 * requests of the login; iscsi_params_negotiate() is called once per request.
 */
struct iscsi_neg {
	struct iscsi_params *p;		   /* updated as keys are agreed */
	const struct tgt_iscsi_opts *ours; /* what this target offers */
	bool discovery;			   /* SessionType=Discovery: many keys Irrelevant */
	uint64_t *seen;			   /* keys answered so far in this login */
	struct iscsi_text_out *out;	   /* answers are appended here */
	const char *err;		   /* on failure: a static reason for the log */
};

/*
 * Answers every pair of kv whose key is not NULL: operational keys are
 * negotiated (RFC 7143 13), X-* and unknown keys get NotUnderstood, keys that
 * do not apply to a discovery session get Irrelevant, malformed values get
 * Reject. MaxBurstLength is settled before FirstBurstLength so the answer
 * keeps FirstBurstLength <= MaxBurstLength (RFC 7143 13.14).
 * Returns 0, or -EPROTO when the login must fail with "initiator error"
 * (a key negotiated twice, RFC 7143 6.2; an invalid declarative value);
 * n->err then says why. Any thread; touches only its arguments.
 */
int iscsi_params_negotiate(struct iscsi_neg *n, struct iscsi_kv *kv, unsigned nkv);

/*
 * Before the response that ends operational negotiation: declares our
 * MaxRecvDataSegmentLength if no answer carried it yet (RFC 7143 13.12) and
 * clamps FirstBurstLength to MaxBurstLength. Any thread.
 */
void iscsi_params_finish(struct iscsi_neg *n);

/* True for the operational keys iscsi_params_negotiate() negotiates. */
bool iscsi_params_is_key(const char *key);

#endif
