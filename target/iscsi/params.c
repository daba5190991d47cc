/* SPDX-License-Identifier: MIT */
/*
 * iSCSI text keys: the key=value codec (RFC 7143 6.1) and the negotiation
 * of the operational keys (RFC 7143 6.2, 13). Sans-I/O.
 *
 * The target only answers: it never opens a negotiation itself (except for
 * declaring its MaxRecvDataSegmentLength), so a key the initiator leaves out
 * keeps its RFC 7143 default whatever tgt_iscsi_opts says. Every initiator
 * we know of (open-iscsi, libiscsi, Windows) proposes all of them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/compiler.h"
#include "target/iscsi/params.h"

#define ISCSI_TEXT_VALUE_MAX 8192
#define ISCSI_DSL_MIN	     512
#define ISCSI_DSL_MAX	     16777215u /* 2^24 - 1 */

/* RFC 7143 13 */
void iscsi_params_defaults(struct iscsi_params *p)
{
	*p = (struct iscsi_params){
		.header_digest = false,
		.data_digest = false,
		.max_recv_dsl = 8192,
		.max_xmit_dsl = 8192,
		.max_burst = 262144,
		.first_burst = 65536,
		.immediate_data = true,
		.initial_r2t = true,
		.max_outstanding_r2t = 1,
		.max_connections = 1,
		.default_time2wait = 2,
		.default_time2retain = 20,
		.data_pdu_in_order = true,
		.data_seq_in_order = true,
		.error_recovery_level = 0,
	};
}

/* RFC 7143 6.1: key names are letters, digits, '.', '-', '+', '@', '_'; "X#" is the IANA prefix. */
static bool text_key_valid(const char *k, size_t len)
{
	if (len == 0 || len > ISCSI_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = k[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '.' || c == '-' || c == '+' || c == '@' || c == '_')
			continue;
		if (c == '#' && i == 1 && k[0] == 'X')
			continue;
		return false;
	}
	return true;
}

/* RFC 7143 6.1 */
int iscsi_text_parse(char *buf, size_t len, struct iscsi_kv *out, unsigned max)
{
	size_t i = 0;
	unsigned n = 0;

	/* The last pair may lack its NUL; the spare byte terminates it. */
	if (len && buf[len - 1] != '\0')
		buf[len] = '\0';
	while (i < len) {
		char *pair = buf + i;
		size_t plen = strlen(pair);
		char *eq;

		if (plen == 0) {
			/* Only padding NULs may follow the last pair. */
			for (; i < len; i++)
				if (buf[i])
					return -EINVAL;
			break;
		}
		eq = memchr(pair, '=', plen);
		if (!eq || !text_key_valid(pair, (size_t)(eq - pair)))
			return -EINVAL;
		if (plen - (size_t)(eq - pair) - 1 > ISCSI_TEXT_VALUE_MAX)
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		*eq = '\0';
		out[n].key = pair;
		out[n].val = eq + 1;
		n++;
		i += plen + 1;
	}
	return (int)n;
}

void iscsi_text_add(struct iscsi_text_out *o, const char *key, const char *fmt, ...)
{
	size_t room, klen;
	va_list ap;
	int vlen;

	/* Once a pair was dropped the rest is dropped too, so no answer goes missing silently. */
	if (o->overflow)
		return;
	klen = strlen(key);
	room = o->cap - o->len;
	if (klen + 2 > room)
		goto overflow;
	va_start(ap, fmt);
	vlen = vsnprintf(o->buf + o->len + klen + 1, room - klen - 1, fmt, ap);
	va_end(ap);
	if (vlen < 0 || (size_t)vlen + klen + 2 > room)
		goto overflow;
	memcpy(o->buf + o->len, key, klen);
	o->buf[o->len + klen] = '=';
	o->len += klen + 1 + (size_t)vlen + 1;
	return;
overflow:
	o->overflow = true;
}

/* RFC 7143 5.1 numerical-value */
bool iscsi_text_parse_num(const char *s, uint32_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		v = v * base + d;
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* RFC 7143 5.1 boolean-value */
static int text_parse_bool(const char *s)
{
	if (!strcmp(s, "Yes"))
		return 1;
	if (!strcmp(s, "No"))
		return 0;
	return -1;
}

enum neg_kind {
	NEG_DIGEST,    /* list: CRC32C,None (13.1) */
	NEG_AND,       /* boolean, result function AND */
	NEG_OR,	       /* boolean, result function OR */
	NEG_MIN,       /* numeric, result function Minimum */
	NEG_MAX,       /* numeric, result function Maximum */
	NEG_DECL_DSL,  /* MaxRecvDataSegmentLength: declarative (13.12) */
	NEG_TASKREP,   /* TaskReporting list (13.23) */
	NEG_IRRELEVANT /* OFMarkInt/IFMarkInt: markers are always off */
};

#define NO_FIELD SIZE_MAX

struct neg_key {
	const char *name;
	uint8_t kind;
	bool disc_irrelevant; /* "Irrelevant when: SessionType=Discovery" */
	uint32_t lo, hi;      /* numeric range */
	size_t field;	      /* offset in struct iscsi_params, or NO_FIELD */
	uint8_t width;	      /* size of that field */
	size_t opt;	      /* offset in struct tgt_iscsi_opts, or NO_FIELD */
	uint8_t opt_width;
	uint32_t fixed; /* our value when opt is NO_FIELD */
};

#define PF(f) offsetof(struct iscsi_params, f), sizeof(((struct iscsi_params *)0)->f)
#define OF(f) offsetof(struct tgt_iscsi_opts, f), sizeof(((struct tgt_iscsi_opts *)0)->f)
#define NOF   NO_FIELD, 0

/* Index in this table = bit in *seen. */
static const struct neg_key neg_keys[] = {
	/* RFC 7143 13.1 */
	{"HeaderDigest", NEG_DIGEST, false, 0, 0, PF(header_digest), NOF, 0},
	{"DataDigest", NEG_DIGEST, false, 0, 0, PF(data_digest), NOF, 0},
	/* 13.2: we run one connection per session */
	{"MaxConnections", NEG_MIN, true, 1, 65535, PF(max_connections), NOF, 1},
	/* 13.10, 13.11 */
	{"InitialR2T", NEG_OR, true, 0, 1, PF(initial_r2t), OF(initial_r2t), 0},
	{"ImmediateData", NEG_AND, true, 0, 1, PF(immediate_data), OF(immediate_data), 0},
	/* 13.12 */
	{"MaxRecvDataSegmentLength", NEG_DECL_DSL, false, ISCSI_DSL_MIN, ISCSI_DSL_MAX,
	 PF(max_xmit_dsl), OF(max_recv_dsl), 0},
	/* 13.13, 13.14 */
	{"MaxBurstLength", NEG_MIN, true, ISCSI_DSL_MIN, ISCSI_DSL_MAX, PF(max_burst),
	 OF(max_burst), 0},
	{"FirstBurstLength", NEG_MIN, true, ISCSI_DSL_MIN, ISCSI_DSL_MAX, PF(first_burst),
	 OF(first_burst), 0},
	/* 13.15, 13.16 */
	{"DefaultTime2Wait", NEG_MAX, false, 0, 3600, PF(default_time2wait), OF(default_time2wait),
	 0},
	{"DefaultTime2Retain", NEG_MIN, false, 0, 3600, PF(default_time2retain),
	 OF(default_time2retain), 0},
	/* 13.17 */
	{"MaxOutstandingR2T", NEG_MIN, true, 1, 65535, PF(max_outstanding_r2t),
	 OF(max_outstanding_r2t), 0},
	/* 13.18, 13.19: we need in-order data (OR with our Yes) */
	{"DataPDUInOrder", NEG_OR, true, 0, 1, PF(data_pdu_in_order), NOF, 1},
	{"DataSequenceInOrder", NEG_OR, true, 0, 1, PF(data_seq_in_order), NOF, 1},
	/* 13.20: ErrorRecoveryLevel 0 only */
	{"ErrorRecoveryLevel", NEG_MIN, false, 0, 2, PF(error_recovery_level), NOF, 0},
	/* 13.23, 13.24 */
	{"TaskReporting", NEG_TASKREP, true, 0, 0, NOF, NOF, 0},
	{"iSCSIProtocolLevel", NEG_MIN, true, 0, 31, NOF, NOF, 1},
	/* RFC 3720 A.3.2 markers: obsolete (RFC 7143 13.25?), we never use them */
	{"IFMarker", NEG_AND, false, 0, 1, NOF, NOF, 0},
	{"OFMarker", NEG_AND, false, 0, 1, NOF, NOF, 0},
	{"IFMarkInt", NEG_IRRELEVANT, false, 0, 0, NOF, NOF, 0},
	{"OFMarkInt", NEG_IRRELEVANT, false, 0, 0, NOF, NOF, 0},
};
_Static_assert(ARRAY_SIZE(neg_keys) < 63, "seen bitmap has one spare bit");

/* *seen bit for "our MaxRecvDataSegmentLength was declared". */
#define SEEN_MRDSL_DECLARED (1ull << 63)

static const struct neg_key *neg_find(const char *key, unsigned *idx)
{
	for (unsigned i = 0; i < ARRAY_SIZE(neg_keys); i++) {
		if (!strcmp(neg_keys[i].name, key)) {
			*idx = i;
			return &neg_keys[i];
		}
	}
	return NULL;
}

bool iscsi_params_is_key(const char *key)
{
	unsigned idx;

	return neg_find(key, &idx) != NULL;
}

static void field_set(void *base, size_t off, uint8_t width, uint32_t v)
{
	uint8_t *p = (uint8_t *)base + off;

	switch (width) {
	case 1: {
		/* bool and uint8_t fields */
		uint8_t b = (uint8_t)v;
		memcpy(p, &b, 1);
		break;
	}
	case 2: {
		uint16_t h = (uint16_t)v;
		memcpy(p, &h, 2);
		break;
	}
	default:
		memcpy(p, &v, 4);
		break;
	}
}

static uint32_t field_get(const void *base, size_t off, uint8_t width)
{
	const uint8_t *p = (const uint8_t *)base + off;
	uint16_t h;
	uint32_t w;

	switch (width) {
	case 1:
		return p[0];
	case 2:
		memcpy(&h, p, 2);
		return h;
	default:
		memcpy(&w, p, 4);
		return w;
	}
}

static uint32_t neg_ours(const struct iscsi_neg *n, const struct neg_key *k)
{
	if (k->opt == NO_FIELD)
		return k->fixed;
	return field_get(n->ours, k->opt, k->opt_width);
}

static void neg_store(struct iscsi_neg *n, const struct neg_key *k, uint32_t v)
{
	if (k->field != NO_FIELD)
		field_set(n->p, k->field, k->width, v);
}

/* RFC 7143 6.2.1: the first value of the originator's list that we support wins. */
static int neg_list_pick(const char *val, const char *const *ours, unsigned nours)
{
	const char *s = val;

	while (*s) {
		size_t len = strcspn(s, ",");

		for (unsigned i = 0; i < nours; i++)
			if (strlen(ours[i]) == len && !strncmp(s, ours[i], len))
				return (int)i;
		s += len;
		if (*s == ',')
			s++;
	}
	return -1;
}

static void neg_reject(struct iscsi_neg *n, const char *key)
{
	iscsi_text_add(n->out, key, "Reject");
}

static const char *const digest_names[] = {"None", "CRC32C"};
static const char *const taskrep_names[] = {"RFC3720"};

static void neg_digest(struct iscsi_neg *n, const struct neg_key *k, const char *val)
{
	int i = neg_list_pick(val, digest_names, ARRAY_SIZE(digest_names));

	if (i < 0) {
		neg_reject(n, k->name);
		return;
	}
	neg_store(n, k, i == 1);
	iscsi_text_add(n->out, k->name, "%s", digest_names[i]);
}

static void neg_bool(struct iscsi_neg *n, const struct neg_key *k, const char *val)
{
	int theirs = text_parse_bool(val);
	bool ours = neg_ours(n, k) != 0;
	bool res;

	if (theirs < 0) {
		neg_reject(n, k->name);
		return;
	}
	res = k->kind == NEG_AND ? (theirs && ours) : (theirs || ours);
	neg_store(n, k, res);
	iscsi_text_add(n->out, k->name, "%s", res ? "Yes" : "No");
}

static void neg_num(struct iscsi_neg *n, const struct neg_key *k, const char *val)
{
	uint32_t theirs, ours = neg_ours(n, k), res;

	if (!iscsi_text_parse_num(val, &theirs) || theirs < k->lo || theirs > k->hi) {
		neg_reject(n, k->name);
		return;
	}
	if (k->kind == NEG_MIN)
		res = MIN(theirs, ours);
	else
		res = MAX(theirs, ours);
	/* RFC 7143 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength. */
	if (k->field == offsetof(struct iscsi_params, first_burst))
		res = MIN(res, n->p->max_burst);
	/* Never answer outside the key's range, whatever the configuration says. */
	res = MIN(MAX(res, k->lo), k->hi);
	neg_store(n, k, res);
	iscsi_text_add(n->out, k->name, "%u", res);
}

static void neg_declare_dsl(struct iscsi_neg *n)
{
	uint32_t ours = MIN(MAX(n->ours->max_recv_dsl, ISCSI_DSL_MIN), ISCSI_DSL_MAX);

	n->p->max_recv_dsl = ours;
	iscsi_text_add(n->out, "MaxRecvDataSegmentLength", "%u", ours);
	*n->seen |= SEEN_MRDSL_DECLARED;
}

/* RFC 7143 13.12: the initiator's value bounds what we send; we declare ours in return. */
static int neg_dsl(struct iscsi_neg *n, const struct neg_key *k, const char *val)
{
	uint32_t theirs;

	if (!iscsi_text_parse_num(val, &theirs) || theirs < k->lo || theirs > k->hi) {
		/* A declaration cannot be answered with Reject: the login fails. */
		n->err = "invalid MaxRecvDataSegmentLength";
		return -EPROTO;
	}
	n->p->max_xmit_dsl = theirs;
	if (!(*n->seen & SEEN_MRDSL_DECLARED))
		neg_declare_dsl(n);
	return 0;
}

static int neg_one(struct iscsi_neg *n, const char *key, const char *val)
{
	const struct neg_key *k;
	unsigned idx;

	k = neg_find(key, &idx);
	if (!k) {
		/* RFC 7143 6.2: X-*, X#* and unknown keys alike */
		iscsi_text_add(n->out, key, "NotUnderstood");
		return 0;
	}
	/* RFC 7143 6.2: renegotiating a key is an initiator error */
	if (*n->seen & (1ull << idx)) {
		n->err = "key negotiated twice";
		return -EPROTO;
	}
	*n->seen |= 1ull << idx;
	if (n->discovery && k->disc_irrelevant) {
		iscsi_text_add(n->out, key, "Irrelevant");
		return 0;
	}
	switch (k->kind) {
	case NEG_DIGEST:
		neg_digest(n, k, val);
		break;
	case NEG_AND:
	case NEG_OR:
		neg_bool(n, k, val);
		break;
	case NEG_MIN:
	case NEG_MAX:
		neg_num(n, k, val);
		break;
	case NEG_DECL_DSL:
		return neg_dsl(n, k, val);
	case NEG_TASKREP:
		if (neg_list_pick(val, taskrep_names, 1) < 0)
			neg_reject(n, key);
		else
			iscsi_text_add(n->out, key, "RFC3720");
		break;
	default:
		iscsi_text_add(n->out, key, "Irrelevant");
		break;
	}
	return 0;
}

static bool neg_seen(const struct iscsi_neg *n, const char *key)
{
	unsigned idx;

	return neg_find(key, &idx) && (*n->seen & (1ull << idx));
}

/* RFC 7143 6.2, 13 */
int iscsi_params_negotiate(struct iscsi_neg *n, struct iscsi_kv *kv, unsigned nkv)
{
	int rc;

	/* Pass 0: MaxBurstLength only, so FirstBurstLength can be bounded by it. */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < nkv; i++) {
			bool mbl;

			if (!kv[i].key)
				continue;
			mbl = !strcmp(kv[i].key, "MaxBurstLength");
			if (mbl != (pass == 0))
				continue;
			rc = neg_one(n, kv[i].key, kv[i].val);
			if (rc)
				return rc;
		}
	}
	if (n->p->first_burst > n->p->max_burst && neg_seen(n, "FirstBurstLength")) {
		n->err = "MaxBurstLength below the agreed FirstBurstLength";
		return -EPROTO;
	}
	return 0;
}

void iscsi_params_finish(struct iscsi_neg *n)
{
	if (!(*n->seen & SEEN_MRDSL_DECLARED))
		neg_declare_dsl(n);
	n->p->first_burst = MIN(n->p->first_burst, n->p->max_burst);
}
