/* SPDX-License-Identifier: MIT */
/* Unit tests for target/iscsi/params.c (RFC 7143 5.1, 6.1, 6.2, 13). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/compiler.h"
#include "target/iscsi/params.h"

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	struct iscsi_params p;

	memset(&p, 0xa5, sizeof(p));
	iscsi_params_defaults(&p);
	assert_false(p.header_digest);
	assert_false(p.data_digest);
	assert_int_equal(p.max_recv_dsl, 8192);
	assert_int_equal(p.max_xmit_dsl, 8192);
	assert_int_equal(p.max_burst, 262144);
	assert_int_equal(p.first_burst, 65536);
	assert_true(p.immediate_data);
	assert_true(p.initial_r2t);
	assert_int_equal(p.max_outstanding_r2t, 1);
	assert_int_equal(p.max_connections, 1);
	assert_int_equal(p.default_time2wait, 2);
	assert_int_equal(p.default_time2retain, 20);
	assert_true(p.data_pdu_in_order);
	assert_true(p.data_seq_in_order);
	assert_int_equal(p.error_recovery_level, 0);
}

/* ---- text codec ---- */

/* Parses len bytes of s (copied, plus the spare byte) into kv. */
static int parse_str(const char *s, size_t len, struct iscsi_kv *kv, unsigned max, char *buf)
{
	memcpy(buf, s, len);
	buf[len] = 'Z'; /* the spare byte: must not leak into a value */
	return iscsi_text_parse(buf, len, kv, max);
}

#define PARSE(lit, kv, max, buf) parse_str(lit, sizeof(lit) - 1, kv, max, buf)

static void test_text_parse_good(void **state)
{
	struct iscsi_kv kv[8];
	char buf[256];

	assert_int_equal(PARSE("", kv, 8, buf), 0);
	assert_int_equal(PARSE("A=1\0", kv, 8, buf), 1);
	assert_string_equal(kv[0].key, "A");
	assert_string_equal(kv[0].val, "1");
	assert_int_equal(PARSE("InitiatorName=iqn.x\0SessionType=Normal\0", kv, 8, buf), 2);
	assert_string_equal(kv[1].key, "SessionType");
	assert_string_equal(kv[1].val, "Normal");
	/* Values may hold '=' and be empty. */
	assert_int_equal(PARSE("K=a=b\0E=\0", kv, 8, buf), 2);
	assert_string_equal(kv[0].val, "a=b");
	assert_string_equal(kv[1].val, "");
	/* The last pair without its NUL is terminated in the spare byte. */
	assert_int_equal(PARSE("A=1\0B=22", kv, 8, buf), 2);
	assert_string_equal(kv[1].val, "22");
	assert_int_equal(buf[8], '\0');
	/* Padding NULs after the last pair are ignored. */
	assert_int_equal(PARSE("A=1\0\0\0\0", kv, 8, buf), 1);
	assert_int_equal(PARSE("\0\0\0", kv, 8, buf), 0);
	/* Every allowed key character, and the X# prefix. */
	assert_int_equal(PARSE("aZ09.-+@_=v\0X#org.example=1\0X-vendor.key=2\0", kv, 8, buf), 3);
	assert_string_equal(kv[1].key, "X#org.example");
}

static void test_text_parse_bad(void **state)
{
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
#define B(lit) {lit, sizeof(lit) - 1}
		B("A\0"),				/* no '=' */
		B("=1\0"),				/* empty key */
		B("A=1\0\0B=2\0"),			/* empty pair between pairs */
		B("A B=1\0"),				/* space in the key */
		B("A:B=1\0"),				/* ':' in the key */
		B("A#B=1\0"),				/* '#' only as X# */
		B("#=1\0"),	   B("K\xc3\xa9y=1\0"), /* non-ASCII key */
		B("A=1\0nokey\0"), B("A=1\0\0\0x"),	/* data after padding */
#undef B
	};
	struct iscsi_kv kv[8];
	char buf[256];

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(parse_str(bad[i].s, bad[i].len, kv, 8, buf), -EINVAL);
}

static void test_text_parse_lengths(void **state)
{
	static char in[9000], buf[9100];
	struct iscsi_kv kv[2];
	size_t n;

	/* A 63-byte key is fine, a 64-byte key is not (RFC 7143 6.1). */
	memset(in, 'K', 63);
	memcpy(in + 63, "=v", 3);
	assert_int_equal(parse_str(in, 66, kv, 2, buf), 1);
	assert_int_equal(strlen(kv[0].key), 63);
	memset(in, 'K', 64);
	memcpy(in + 64, "=v", 3);
	assert_int_equal(parse_str(in, 67, kv, 2, buf), -EINVAL);
	/* Values up to 8192 bytes. */
	in[0] = 'V';
	in[1] = '=';
	memset(in + 2, 'x', 8192);
	in[8194] = '\0';
	assert_int_equal(parse_str(in, 8195, kv, 2, buf), 1);
	assert_int_equal(strlen(kv[0].val), 8192);
	memset(in + 2, 'x', 8193);
	in[8195] = '\0';
	assert_int_equal(parse_str(in, 8196, kv, 2, buf), -EINVAL);
	/* Unterminated over-long value: still refused. */
	assert_int_equal(parse_str(in, 8195, kv, 2, buf), -EINVAL);
	/* More pairs than room. */
	n = 0;
	for (int i = 0; i < 3; i++)
		n += (size_t)sprintf(in + n, "K%d=%d", i, i) + 1;
	assert_int_equal(parse_str(in, n, kv, 2, buf), -E2BIG);
	assert_int_equal(parse_str(in, n, kv, 3 - 1, buf), -E2BIG);
	struct iscsi_kv kv3[3];
	assert_int_equal(parse_str(in, n, kv3, 3, buf), 3);
}

static void test_text_add(void **state)
{
	char buf[16];
	struct iscsi_text_out o = {.buf = buf, .cap = sizeof(buf)};

	iscsi_text_add(&o, "A", "%u", 12u);
	assert_int_equal(o.len, 5);
	assert_memory_equal(buf, "A=12\0", 5);
	/* "Key=123456789\0" is 14 bytes: does not fit in the 11 left. */
	iscsi_text_add(&o, "Key", "%s", "123456789");
	assert_true(o.overflow);
	assert_int_equal(o.len, 5);
	/* Sticky: later pairs that would fit are dropped too. */
	iscsi_text_add(&o, "B", "1");
	assert_int_equal(o.len, 5);

	/* Exact fit. */
	struct iscsi_text_out e = {.buf = buf, .cap = 6};
	iscsi_text_add(&e, "AB", "%s", "cd");
	assert_false(e.overflow);
	assert_int_equal(e.len, 6);
	assert_memory_equal(buf, "AB=cd\0", 6);
	iscsi_text_add(&e, "", "%s", "");
	assert_true(e.overflow);
	struct iscsi_text_out f = {.buf = buf, .cap = 5};
	iscsi_text_add(&f, "AB", "%s", "cd");
	assert_true(f.overflow);
	assert_int_equal(f.len, 0);
}

static void test_parse_num(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		uint32_t v;
	} t[] = {
		{"0", true, 0},
		{"8192", true, 8192},
		{"0008192", true, 8192},
		{"4294967295", true, 4294967295u},
		{"4294967296", false, 0},
		{"99999999999999999999999", false, 0},
		{"0x2000", true, 8192},
		{"0XfFfF", true, 65535},
		{"0xffffffff", true, 4294967295u},
		{"0x100000000", false, 0},
		{"0x", false, 0},
		{"", false, 0},
		{"-1", false, 0},
		{"+1", false, 0},
		{" 1", false, 0},
		{"1 ", false, 0},
		{"12a", false, 0},
		{"0b1", false, 0},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		uint32_t v = 0;

		assert_int_equal(iscsi_text_parse_num(t[i].s, &v), t[i].ok);
		if (t[i].ok)
			assert_int_equal(v, t[i].v);
	}
}

/* ---- negotiation ---- */

static const struct tgt_iscsi_opts ours = {
	.max_recv_dsl = 65536,
	.max_burst = 1048576,
	.first_burst = 65536,
	.immediate_data = true,
	.initial_r2t = false,
	.max_outstanding_r2t = 4,
	.default_time2wait = 2,
	.default_time2retain = 20,
};

struct neg_fixture {
	struct iscsi_params p;
	uint64_t seen;
	char out[1024];
	struct iscsi_text_out o;
	struct iscsi_neg n;
	char flat[1024]; /* the answer with NULs shown as '|' */
};

static void fx_init(struct neg_fixture *f, bool discovery, const struct tgt_iscsi_opts *opts)
{
	memset(f, 0, sizeof(*f));
	iscsi_params_defaults(&f->p);
	f->o = (struct iscsi_text_out){.buf = f->out, .cap = sizeof(f->out)};
	f->n = (struct iscsi_neg){
		.p = &f->p, .ours = opts, .discovery = discovery, .seen = &f->seen, .out = &f->o};
}

static const char *fx_flat(struct neg_fixture *f)
{
	for (size_t i = 0; i < f->o.len; i++)
		f->flat[i] = f->out[i] ? f->out[i] : '|';
	f->flat[f->o.len] = '\0';
	return f->flat;
}

/* Negotiates one request given as "k=v|k=v|" and returns the flattened answer. */
static int fx_neg(struct neg_fixture *f, const char *req)
{
	static char buf[1024];
	struct iscsi_kv kv[32];
	size_t len = strlen(req);
	int n;

	for (size_t i = 0; i < len; i++)
		buf[i] = req[i] == '|' ? '\0' : req[i];
	f->o.len = 0;
	n = iscsi_text_parse(buf, len, kv, 32);
	assert_true(n >= 0);
	return iscsi_params_negotiate(&f->n, kv, (unsigned)n);
}

struct neg_case {
	const char *req;
	const char *rsp;
	size_t field; /* offsetof in iscsi_params, SIZE_MAX: no field to check */
	uint32_t value;
};

#define F(x) offsetof(struct iscsi_params, x)
#define NOF  SIZE_MAX

/* Normal session, one key per request, our opts above. */
static const struct neg_case normal_cases[] = {
	/* RFC 7143 13.1: the initiator's first supported value wins */
	{"HeaderDigest=CRC32C,None|", "HeaderDigest=CRC32C|", F(header_digest), 1},
	{"HeaderDigest=None,CRC32C|", "HeaderDigest=None|", F(header_digest), 0},
	{"HeaderDigest=CRC32C|", "HeaderDigest=CRC32C|", F(header_digest), 1},
	{"HeaderDigest=MD5,CRC32C|", "HeaderDigest=CRC32C|", F(header_digest), 1},
	{"HeaderDigest=MD5|", "HeaderDigest=Reject|", F(header_digest), 0},
	{"HeaderDigest=|", "HeaderDigest=Reject|", F(header_digest), 0},
	{"HeaderDigest=crc32c|", "HeaderDigest=Reject|", F(header_digest), 0},
	{"HeaderDigest=,,None|", "HeaderDigest=None|", F(header_digest), 0},
	{"DataDigest=CRC32C,None|", "DataDigest=CRC32C|", F(data_digest), 1},
	{"DataDigest=None|", "DataDigest=None|", F(data_digest), 0},
	{"DataDigest=Bogus,Junk|", "DataDigest=Reject|", F(data_digest), 0},
	/* 13.2: Minimum with our 1 */
	{"MaxConnections=1|", "MaxConnections=1|", F(max_connections), 1},
	{"MaxConnections=8|", "MaxConnections=1|", F(max_connections), 1},
	{"MaxConnections=65535|", "MaxConnections=1|", F(max_connections), 1},
	{"MaxConnections=0|", "MaxConnections=Reject|", F(max_connections), 1},
	{"MaxConnections=65536|", "MaxConnections=Reject|", F(max_connections), 1},
	/* 13.10: OR */
	{"InitialR2T=Yes|", "InitialR2T=Yes|", F(initial_r2t), 1},
	{"InitialR2T=No|", "InitialR2T=No|", F(initial_r2t), 0},
	{"InitialR2T=yes|", "InitialR2T=Reject|", F(initial_r2t), 1},
	/* 13.11: AND */
	{"ImmediateData=Yes|", "ImmediateData=Yes|", F(immediate_data), 1},
	{"ImmediateData=No|", "ImmediateData=No|", F(immediate_data), 0},
	{"ImmediateData=1|", "ImmediateData=Reject|", F(immediate_data), 1},
	/* 13.12: declarative, we declare ours back */
	{"MaxRecvDataSegmentLength=262144|", "MaxRecvDataSegmentLength=65536|", F(max_xmit_dsl),
	 262144},
	{"MaxRecvDataSegmentLength=512|", "MaxRecvDataSegmentLength=65536|", F(max_xmit_dsl), 512},
	{"MaxRecvDataSegmentLength=16777215|", "MaxRecvDataSegmentLength=65536|", F(max_xmit_dsl),
	 16777215},
	{"MaxRecvDataSegmentLength=0x2000|", "MaxRecvDataSegmentLength=65536|", F(max_recv_dsl),
	 65536},
	/* 13.13, 13.14: Minimum */
	{"MaxBurstLength=262144|", "MaxBurstLength=262144|", F(max_burst), 262144},
	{"MaxBurstLength=16777215|", "MaxBurstLength=1048576|", F(max_burst), 1048576},
	{"MaxBurstLength=512|", "MaxBurstLength=512|", F(max_burst), 512},
	{"MaxBurstLength=511|", "MaxBurstLength=Reject|", F(max_burst), 262144},
	{"MaxBurstLength=16777216|", "MaxBurstLength=Reject|", F(max_burst), 262144},
	{"MaxBurstLength=abc|", "MaxBurstLength=Reject|", F(max_burst), 262144},
	{"MaxBurstLength=|", "MaxBurstLength=Reject|", F(max_burst), 262144},
	{"FirstBurstLength=8192|", "FirstBurstLength=8192|", F(first_burst), 8192},
	{"FirstBurstLength=262144|", "FirstBurstLength=65536|", F(first_burst), 65536},
	{"FirstBurstLength=100|", "FirstBurstLength=Reject|", F(first_burst), 65536},
	/* 13.15: Maximum; 13.16: Minimum; 0..3600 */
	{"DefaultTime2Wait=0|", "DefaultTime2Wait=2|", F(default_time2wait), 2},
	{"DefaultTime2Wait=3600|", "DefaultTime2Wait=3600|", F(default_time2wait), 3600},
	{"DefaultTime2Wait=3601|", "DefaultTime2Wait=Reject|", F(default_time2wait), 2},
	{"DefaultTime2Retain=0|", "DefaultTime2Retain=0|", F(default_time2retain), 0},
	{"DefaultTime2Retain=3600|", "DefaultTime2Retain=20|", F(default_time2retain), 20},
	{"DefaultTime2Retain=-1|", "DefaultTime2Retain=Reject|", F(default_time2retain), 20},
	/* 13.17 */
	{"MaxOutstandingR2T=1|", "MaxOutstandingR2T=1|", F(max_outstanding_r2t), 1},
	{"MaxOutstandingR2T=65535|", "MaxOutstandingR2T=4|", F(max_outstanding_r2t), 4},
	{"MaxOutstandingR2T=0|", "MaxOutstandingR2T=Reject|", F(max_outstanding_r2t), 1},
	/* 13.18, 13.19: OR with our Yes */
	{"DataPDUInOrder=No|", "DataPDUInOrder=Yes|", F(data_pdu_in_order), 1},
	{"DataPDUInOrder=Yes|", "DataPDUInOrder=Yes|", F(data_pdu_in_order), 1},
	{"DataSequenceInOrder=No|", "DataSequenceInOrder=Yes|", F(data_seq_in_order), 1},
	{"DataSequenceInOrder=Maybe|", "DataSequenceInOrder=Reject|", F(data_seq_in_order), 1},
	/* 13.20: Minimum with our 0 */
	{"ErrorRecoveryLevel=2|", "ErrorRecoveryLevel=0|", F(error_recovery_level), 0},
	{"ErrorRecoveryLevel=0|", "ErrorRecoveryLevel=0|", F(error_recovery_level), 0},
	{"ErrorRecoveryLevel=3|", "ErrorRecoveryLevel=Reject|", F(error_recovery_level), 0},
	/* 13.23, 13.24 */
	{"TaskReporting=FastAbort,RFC3720|", "TaskReporting=RFC3720|", NOF, 0},
	{"TaskReporting=FastAbort|", "TaskReporting=Reject|", NOF, 0},
	{"iSCSIProtocolLevel=2|", "iSCSIProtocolLevel=1|", NOF, 0},
	{"iSCSIProtocolLevel=0|", "iSCSIProtocolLevel=0|", NOF, 0},
	{"iSCSIProtocolLevel=32|", "iSCSIProtocolLevel=Reject|", NOF, 0},
	/* markers: never */
	{"IFMarker=Yes|", "IFMarker=No|", NOF, 0},
	{"OFMarker=No|", "OFMarker=No|", NOF, 0},
	{"OFMarker=Si|", "OFMarker=Reject|", NOF, 0},
	{"IFMarkInt=2048~8192|", "IFMarkInt=Irrelevant|", NOF, 0},
	{"OFMarkInt=1|", "OFMarkInt=Irrelevant|", NOF, 0},
	/* RFC 7143 6.2: anything else */
	{"X-com.example.Foo=1|", "X-com.example.Foo=NotUnderstood|", NOF, 0},
	{"X#org.example=1|", "X#org.example=NotUnderstood|", NOF, 0},
	{"Bogus=1|", "Bogus=NotUnderstood|", NOF, 0},
	{"headerdigest=None|", "headerdigest=NotUnderstood|", NOF, 0},
};

static uint32_t field_value(const struct iscsi_params *p, size_t off)
{
	const uint8_t *b = (const uint8_t *)p + off;

	if (off == F(header_digest) || off == F(data_digest) || off == F(immediate_data) ||
	    off == F(initial_r2t) || off == F(data_pdu_in_order) || off == F(data_seq_in_order))
		return *(const bool *)(const void *)b;
	if (off == F(error_recovery_level))
		return *b;
	if (off == F(max_outstanding_r2t) || off == F(max_connections) ||
	    off == F(default_time2wait) || off == F(default_time2retain))
		return *(const uint16_t *)(const void *)b;
	return *(const uint32_t *)(const void *)b;
}

static void run_cases(const struct neg_case *c, size_t n, bool discovery)
{
	struct neg_fixture f;

	for (size_t i = 0; i < n; i++) {
		fx_init(&f, discovery, &ours);
		assert_int_equal(fx_neg(&f, c[i].req), 0);
		if (strcmp(fx_flat(&f), c[i].rsp))
			fail_msg("%s: got \"%s\", want \"%s\"", c[i].req, f.flat, c[i].rsp);
		if (c[i].field != NOF && field_value(&f.p, c[i].field) != c[i].value)
			fail_msg("%s: field %u, want %u", c[i].req, field_value(&f.p, c[i].field),
				 c[i].value);
	}
}

static void test_neg_each_key(void **state)
{
	run_cases(normal_cases, ARRAY_SIZE(normal_cases), false);
}

static const struct neg_case discovery_cases[] = {
	{"MaxConnections=1|", "MaxConnections=Irrelevant|", F(max_connections), 1},
	{"InitialR2T=No|", "InitialR2T=Irrelevant|", F(initial_r2t), 1},
	{"ImmediateData=No|", "ImmediateData=Irrelevant|", F(immediate_data), 1},
	{"MaxBurstLength=512|", "MaxBurstLength=Irrelevant|", F(max_burst), 262144},
	{"FirstBurstLength=512|", "FirstBurstLength=Irrelevant|", F(first_burst), 65536},
	{"MaxOutstandingR2T=2|", "MaxOutstandingR2T=Irrelevant|", F(max_outstanding_r2t), 1},
	{"DataPDUInOrder=No|", "DataPDUInOrder=Irrelevant|", NOF, 0},
	{"DataSequenceInOrder=No|", "DataSequenceInOrder=Irrelevant|", NOF, 0},
	{"TaskReporting=RFC3720|", "TaskReporting=Irrelevant|", NOF, 0},
	/* Still relevant for discovery */
	{"HeaderDigest=CRC32C|", "HeaderDigest=CRC32C|", F(header_digest), 1},
	{"DataDigest=None|", "DataDigest=None|", F(data_digest), 0},
	{"MaxRecvDataSegmentLength=4096|", "MaxRecvDataSegmentLength=65536|", F(max_xmit_dsl),
	 4096},
	{"DefaultTime2Wait=5|", "DefaultTime2Wait=5|", F(default_time2wait), 5},
	{"DefaultTime2Retain=5|", "DefaultTime2Retain=5|", F(default_time2retain), 5},
	{"ErrorRecoveryLevel=1|", "ErrorRecoveryLevel=0|", F(error_recovery_level), 0},
	{"IFMarker=No|", "IFMarker=No|", NOF, 0},
	{"X-foo=bar|", "X-foo=NotUnderstood|", NOF, 0},
};

static void test_neg_discovery(void **state)
{
	run_cases(discovery_cases, ARRAY_SIZE(discovery_cases), true);
}

/* RFC 7143 6.2: a key negotiated twice fails the login, in one request or across two. */
static void test_neg_duplicates(void **state)
{
	static const char *const keys[] = {
		"HeaderDigest=None",
		"DataDigest=None",
		"MaxConnections=1",
		"InitialR2T=Yes",
		"ImmediateData=Yes",
		"MaxRecvDataSegmentLength=8192",
		"MaxBurstLength=8192",
		"FirstBurstLength=8192",
		"DefaultTime2Wait=2",
		"DefaultTime2Retain=2",
		"MaxOutstandingR2T=1",
		"DataPDUInOrder=Yes",
		"DataSequenceInOrder=Yes",
		"ErrorRecoveryLevel=0",
		"IFMarker=No",
		"OFMarker=No",
		"TaskReporting=RFC3720",
		"iSCSIProtocolLevel=1",
		"IFMarkInt=1",
		"OFMarkInt=1",
	};
	struct neg_fixture f;
	char req[128];

	for (unsigned i = 0; i < ARRAY_SIZE(keys); i++) {
		fx_init(&f, false, &ours);
		snprintf(req, sizeof(req), "%s|%s|", keys[i], keys[i]);
		assert_int_equal(fx_neg(&f, req), -EPROTO);
		assert_non_null(f.n.err);
		fx_init(&f, false, &ours);
		snprintf(req, sizeof(req), "%s|", keys[i]);
		assert_int_equal(fx_neg(&f, req), 0);
		assert_int_equal(fx_neg(&f, req), -EPROTO);
		/* Discovery sessions too, even for Irrelevant keys. */
		fx_init(&f, true, &ours);
		assert_int_equal(fx_neg(&f, req), 0);
		assert_int_equal(fx_neg(&f, req), -EPROTO);
	}
	/* A Reject answer still counts as negotiated. */
	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "MaxBurstLength=1|"), 0);
	assert_int_equal(fx_neg(&f, "MaxBurstLength=8192|"), -EPROTO);
	/* Unknown keys are not tracked: answered each time. */
	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "X-a=1|X-a=2|"), 0);
	assert_string_equal(fx_flat(&f), "X-a=NotUnderstood|X-a=NotUnderstood|");
}

static void test_neg_mrdsl(void **state)
{
	struct neg_fixture f;

	/* Invalid declarations fail the login: a declaration cannot be rejected. */
	static const char *const bad[] = {
		"MaxRecvDataSegmentLength=511|", "MaxRecvDataSegmentLength=16777216|",
		"MaxRecvDataSegmentLength=lots|", "MaxRecvDataSegmentLength=|"};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		fx_init(&f, false, &ours);
		assert_int_equal(fx_neg(&f, bad[i]), -EPROTO);
		assert_string_equal(f.n.err, "invalid MaxRecvDataSegmentLength");
	}
	/* Not sent by the initiator: finish() declares ours once. */
	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "ImmediateData=Yes|"), 0);
	f.o.len = 0;
	iscsi_params_finish(&f.n);
	assert_string_equal(fx_flat(&f), "MaxRecvDataSegmentLength=65536|");
	assert_int_equal(f.p.max_recv_dsl, 65536);
	assert_int_equal(f.p.max_xmit_dsl, 8192);
	f.o.len = 0;
	iscsi_params_finish(&f.n);
	assert_string_equal(fx_flat(&f), "");
	/* Sent: answered at once, finish() adds nothing. */
	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "MaxRecvDataSegmentLength=1024|"), 0);
	f.o.len = 0;
	iscsi_params_finish(&f.n);
	assert_int_equal(f.o.len, 0);
	/* Our own value is kept within the key's range. */
	struct tgt_iscsi_opts odd = ours;
	odd.max_recv_dsl = 100;
	fx_init(&f, false, &odd);
	iscsi_params_finish(&f.n);
	assert_string_equal(fx_flat(&f), "MaxRecvDataSegmentLength=512|");
	odd.max_recv_dsl = 1u << 25;
	fx_init(&f, false, &odd);
	iscsi_params_finish(&f.n);
	assert_string_equal(fx_flat(&f), "MaxRecvDataSegmentLength=16777215|");
}

/* RFC 7143 13.14: FirstBurstLength <= MaxBurstLength. */
static void test_neg_bursts(void **state)
{
	struct neg_fixture f;

	/* Same request, FirstBurstLength listed first: still bounded. */
	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "FirstBurstLength=65536|MaxBurstLength=8192|"), 0);
	assert_string_equal(fx_flat(&f), "MaxBurstLength=8192|FirstBurstLength=8192|");
	assert_int_equal(f.p.max_burst, 8192);
	assert_int_equal(f.p.first_burst, 8192);
	/* MaxBurstLength agreed earlier bounds a later FirstBurstLength. */
	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "MaxBurstLength=4096|"), 0);
	assert_int_equal(fx_neg(&f, "FirstBurstLength=65536|"), 0);
	assert_string_equal(fx_flat(&f), "FirstBurstLength=4096|");
	/* FirstBurstLength agreed, then a smaller MaxBurstLength: initiator error. */
	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "FirstBurstLength=65536|"), 0);
	assert_int_equal(fx_neg(&f, "MaxBurstLength=4096|"), -EPROTO);
	/* Never negotiated: finish() clamps the default. */
	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "MaxBurstLength=1024|"), 0);
	assert_int_equal(f.p.first_burst, 65536);
	iscsi_params_finish(&f.n);
	assert_int_equal(f.p.first_burst, 1024);
	/* Our own FirstBurstLength above our MaxBurstLength (misconfiguration). */
	struct tgt_iscsi_opts odd = ours;
	odd.max_burst = 16384;
	odd.first_burst = 65536;
	fx_init(&f, false, &odd);
	assert_int_equal(fx_neg(&f, "MaxBurstLength=262144|FirstBurstLength=262144|"), 0);
	assert_string_equal(fx_flat(&f), "MaxBurstLength=16384|FirstBurstLength=16384|");
}

static void test_neg_full_request(void **state)
{
	struct neg_fixture f;

	fx_init(&f, false, &ours);
	assert_int_equal(fx_neg(&f, "HeaderDigest=CRC32C,None|DataDigest=CRC32C,None|"
				    "MaxRecvDataSegmentLength=262144|MaxBurstLength=16776192|"
				    "FirstBurstLength=262144|ImmediateData=Yes|InitialR2T=Yes|"
				    "MaxOutstandingR2T=1|MaxConnections=1|DefaultTime2Wait=2|"
				    "DefaultTime2Retain=0|DataPDUInOrder=Yes|"
				    "DataSequenceInOrder=Yes|ErrorRecoveryLevel=0|IFMarker=No|"
				    "OFMarker=No|X-com.vendor=1|"),
			 0);
	assert_string_equal(fx_flat(&f),
			    "MaxBurstLength=1048576|HeaderDigest=CRC32C|DataDigest=CRC32C|"
			    "MaxRecvDataSegmentLength=65536|FirstBurstLength=65536|"
			    "ImmediateData=Yes|InitialR2T=Yes|MaxOutstandingR2T=1|"
			    "MaxConnections=1|DefaultTime2Wait=2|DefaultTime2Retain=0|"
			    "DataPDUInOrder=Yes|DataSequenceInOrder=Yes|ErrorRecoveryLevel=0|"
			    "IFMarker=No|OFMarker=No|X-com.vendor=NotUnderstood|");
	assert_true(f.p.header_digest);
	assert_true(f.p.data_digest);
	assert_int_equal(f.p.max_xmit_dsl, 262144);
	assert_int_equal(f.p.max_recv_dsl, 65536);
	assert_int_equal(f.p.max_burst, 1048576);
	assert_int_equal(f.p.first_burst, 65536);
	assert_true(f.p.initial_r2t);
	assert_int_equal(f.p.default_time2retain, 0);
	/* NULL keys (taken by the login layer) are skipped. */
	struct iscsi_kv kv[2] = {{NULL, "x"}, {"ImmediateData", "No"}};
	fx_init(&f, false, &ours);
	assert_int_equal(iscsi_params_negotiate(&f.n, kv, 2), 0);
	assert_string_equal(fx_flat(&f), "ImmediateData=No|");
	/* A full response buffer: the answer is dropped, flagged, no error here. */
	char tiny[8];
	fx_init(&f, false, &ours);
	f.o = (struct iscsi_text_out){.buf = tiny, .cap = sizeof(tiny)};
	assert_int_equal(iscsi_params_negotiate(&f.n, kv, 2), 0);
	assert_true(f.o.overflow);
	assert_true(iscsi_params_is_key("DataDigest"));
	assert_false(iscsi_params_is_key("SendTargets"));
	assert_false(iscsi_params_is_key("AuthMethod"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),       cmocka_unit_test(test_text_parse_good),
		cmocka_unit_test(test_text_parse_bad), cmocka_unit_test(test_text_parse_lengths),
		cmocka_unit_test(test_text_add),       cmocka_unit_test(test_parse_num),
		cmocka_unit_test(test_neg_each_key),   cmocka_unit_test(test_neg_discovery),
		cmocka_unit_test(test_neg_duplicates), cmocka_unit_test(test_neg_mrdsl),
		cmocka_unit_test(test_neg_bursts),     cmocka_unit_test(test_neg_full_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
