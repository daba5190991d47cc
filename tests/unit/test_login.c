/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for target/iscsi/login.c: whole login conversations (RFC 7143
 * 6.3, 11.12, 11.13, 12.1.3). Text segments are written with '|' for NUL.
 * The random source is deterministic: every call fills 0x10, 0x11, ... so
 * CHAP_I is 16 and CHAP_C is 0x101112..1f; the expected CHAP responses were
 * computed with Python's hashlib.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/byteorder.h"
#include "target/iscsi/login.h"

#define IQN	 "iqn.2024-01.test:disk"
#define INIT	 "iqn.2024-01.test:init"
#define IDS	 "InitiatorName=" INIT "|TargetName=" IQN "|"
#define TPGT_RSP "TargetPortalGroupTag=7|TargetAlias=disk-alias|"
/* MD5(0x10 || "secret123456" || 10 11 .. 1f) */
#define CHAP_R_OK   "0x1df9e507168728f8f0a35c8430b0a1c5"
#define CHAP_R_B64  "0bHfnlBxaHKPjwo1yEMLChxQ=="
#define CHAP_C_OURS "0x101112131415161718191a1b1c1d1e1f"
/* MD5(33 || "tsecret654321" || 40 41 .. 4f) */
#define MUTUAL_C "0x404142434445464748494a4b4c4d4e4f"
#define MUTUAL_R "0x956e4f752f88a36a7fd13195b936a2e4"

#define OPS                                                                                        \
	"HeaderDigest=CRC32C,None|DataDigest=None|MaxRecvDataSegmentLength=262144|"                \
	"MaxBurstLength=262144|FirstBurstLength=65536|ImmediateData=Yes|InitialR2T=No|"            \
	"MaxOutstandingR2T=1|MaxConnections=1|DefaultTime2Wait=2|DefaultTime2Retain=0|"            \
	"DataPDUInOrder=Yes|DataSequenceInOrder=Yes|ErrorRecoveryLevel=0|IFMarker=No|OFMarker=No|"
#define OPS_RSP                                                                                    \
	"MaxBurstLength=262144|HeaderDigest=CRC32C|DataDigest=None|"                               \
	"MaxRecvDataSegmentLength=65536|FirstBurstLength=65536|ImmediateData=Yes|InitialR2T=No|"   \
	"MaxOutstandingR2T=1|MaxConnections=1|DefaultTime2Wait=2|DefaultTime2Retain=0|"            \
	"DataPDUInOrder=Yes|DataSequenceInOrder=Yes|ErrorRecoveryLevel=0|IFMarker=No|OFMarker=No|"

/* Login Request byte 1 values. */
#define SEC_TO_OP  0x81 /* T, CSG 0, NSG 1 */
#define SEC_TO_FFP 0x83
#define SEC_STAY   0x00
#define OP_TO_FFP  0x87
#define OP_STAY	   0x04

static const uint8_t isid[6] = {0x80, 0x12, 0x34, 0x56, 0x78, 0x9a};

struct fx {
	struct tgt_config cfg;
	struct iscsi_login_env env;
	struct iscsi_login l;
	struct iscsi_login_rsp rsp;
	int bind_ret;
	unsigned bind_calls;
	uint16_t bind_saw_tsih;
	uint32_t itt;
	uint8_t version_min, version_max;
	uint16_t tsih;
	char flat[ISCSI_LOGIN_DATA_MAX + 1];
};

static void fx_random(void *buf, size_t len)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(0x10 + i);
}

static int fx_bind(struct iscsi_login *l, void *arg)
{
	struct fx *f = arg;

	f->bind_calls++;
	f->bind_saw_tsih = l->tsih;
	/* bind() sees the final parameters and names. */
	assert_string_equal(l->initiator_name, INIT);
	assert_memory_equal(l->isid, isid, 6);
	return f->bind_ret;
}

static int fx_setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	struct tgt_config *c = &f->cfg;

	snprintf(c->iqn, sizeof(c->iqn), IQN);
	snprintf(c->alias, sizeof(c->alias), "disk-alias");
	c->nportals = 2;
	snprintf(c->portals[0].addr, sizeof(c->portals[0].addr), "192.0.2.1");
	c->portals[0].port = 3260;
	c->portals[0].tpgt = 7;
	snprintf(c->portals[1].addr, sizeof(c->portals[1].addr), "2001:db8::1");
	c->portals[1].port = 3261;
	c->portals[1].tpgt = 8;
	snprintf(c->chap.user, sizeof(c->chap.user), "user");
	snprintf(c->chap.secret, sizeof(c->chap.secret), "secret123456");
	snprintf(c->chap.mutual_user, sizeof(c->chap.mutual_user), "target");
	snprintf(c->chap.mutual_secret, sizeof(c->chap.mutual_secret), "tsecret654321");
	c->iscsi = (struct tgt_iscsi_opts){
		.max_recv_dsl = 65536,
		.max_burst = 1048576,
		.first_burst = 65536,
		.immediate_data = true,
		.initial_r2t = false,
		.max_outstanding_r2t = 4,
		.default_time2wait = 2,
		.default_time2retain = 20,
	};
	f->env = (struct iscsi_login_env){
		.cfg = c, .portal_tpgt = 7, .bind = fx_bind, .bind_arg = f, .random = fx_random};
	f->bind_ret = 0x1234;
	f->itt = 0x1000;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	test_free(*state);
	return 0;
}

/* Starts the login (after the test changed cfg). */
static void fx_start(struct fx *f)
{
	f->bind_calls = 0;
	f->tsih = 0;
	iscsi_login_init(&f->l, &f->env);
}

static const char *fx_text(struct fx *f)
{
	for (uint32_t i = 0; i < f->rsp.data_len; i++)
		f->flat[i] = f->rsp.data[i] ? (char)f->rsp.data[i] : '|';
	f->flat[f->rsp.data_len] = '\0';
	return f->flat;
}

/* Sends one Login Request with the '|'-separated text; returns iscsi_login_handle()'s value. */
static int fx_send_raw(struct fx *f, uint8_t flags, const uint8_t *data, uint32_t dlen)
{
	static const struct iscsi_pdu_limits lim = {.max_data_len = ISCSI_LOGIN_DATA_MAX};
	struct iscsi_bhs b;
	struct iscsi_pdu_hdr h;

	memset(&b, 0, sizeof(b));
	b.raw[0] = ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE;
	b.raw[1] = flags;
	b.raw[2] = f->version_max;
	b.raw[3] = f->version_min;
	put_be24(b.raw + 5, dlen);
	memcpy(b.raw + 8, isid, 6);
	put_be16(b.raw + 14, f->tsih);
	put_be32(b.raw + 16, ++f->itt);
	put_be16(b.raw + 20, 1);
	put_be32(b.raw + 24, 5);
	put_be32(b.raw + 28, 9);
	if (dlen <= ISCSI_LOGIN_DATA_MAX)
		assert_int_equal(iscsi_pdu_parse_bhs(b.raw, sizeof(b), &lim, &h), ISCSI_BHS_LEN);
	else
		assert_int_equal(iscsi_pdu_parse_bhs(b.raw, sizeof(b), &lim, &h), -EMSGSIZE);
	h.data_len = dlen;
	memset(&f->rsp, 0xee, sizeof(f->rsp));
	return iscsi_login_handle(&f->l, &b, &h, data, dlen, &f->rsp);
}

static int fx_send(struct fx *f, uint8_t flags, const char *text)
{
	static uint8_t buf[ISCSI_LOGIN_ACCUM_MAX];
	size_t len = strlen(text);

	for (size_t i = 0; i < len; i++)
		buf[i] = text[i] == '|' ? 0 : (uint8_t)text[i];
	return fx_send_raw(f, flags, buf, (uint32_t)len);
}

static uint16_t rsp_status(const struct fx *f)
{
	return get_be16(f->rsp.bhs.raw + 36);
}

/* Every response: opcode, versions, ISID, ITT, zeroed fields the caller stamps. */
static void check_common(const struct fx *f)
{
	const uint8_t *b = f->rsp.bhs.raw;

	assert_int_equal(b[0], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(b[2], 0);
	assert_int_equal(b[3], 0);
	assert_int_equal(b[4], 0);
	assert_int_equal(get_be24(b + 5), f->rsp.data_len);
	assert_memory_equal(b + 8, isid, 6);
	assert_int_equal(get_be32(b + 16), f->itt);
	for (unsigned i = 20; i < 36; i++)
		assert_int_equal(b[i], 0);
	for (unsigned i = 38; i < 48; i++)
		assert_int_equal(b[i], 0);
}

/* One successful step: exact flags and text. */
static void step_ok(struct fx *f, uint8_t flags, const char *req, uint8_t rsp_flags,
		    const char *rsp_text)
{
	assert_int_equal(fx_send(f, flags, req), 0);
	check_common(f);
	if (rsp_status(f) != 0)
		fail_msg("status %04x (%s) for \"%s\"", rsp_status(f), f->l.reason, req);
	assert_int_equal(f->rsp.bhs.raw[1], rsp_flags);
	if (strcmp(fx_text(f), rsp_text))
		fail_msg("got \"%s\", want \"%s\"", f->flat, rsp_text);
	assert_false(f->rsp.close_after);
}

/* One failing step: exact status, empty data, connection to close. */
static void step_fail(struct fx *f, uint8_t flags, const char *req, uint16_t status)
{
	assert_int_equal(fx_send(f, flags, req), 0);
	check_common(f);
	if (rsp_status(f) != status)
		fail_msg("status %04x, want %04x (reason \"%s\")", rsp_status(f), status,
			 f->l.reason);
	assert_int_equal(f->rsp.data_len, 0);
	assert_int_equal(f->rsp.bhs.raw[1] & 0xc3, 0); /* T=0, C=0, NSG=0 */
	assert_int_equal(f->rsp.bhs.raw[1] >> 2 & 3, ISCSI_LOGIN_CSG(flags));
	assert_true(f->rsp.close_after);
	assert_false(f->rsp.full_feature);
	assert_int_equal(f->l.state, ISCSI_LOGIN_FAILED);
	assert_true(f->l.reason[0] != '\0');
	/* Nothing more is answered on this connection. */
	assert_int_equal(fx_send(f, OP_TO_FFP, IDS), -EPROTO);
}

static void check_ffp(struct fx *f)
{
	assert_true(f->rsp.full_feature);
	assert_int_equal(f->l.state, ISCSI_LOGIN_FULL_FEATURE);
	assert_int_equal(get_be16(f->rsp.bhs.raw + 14), 0x1234);
	assert_int_equal(f->l.tsih, 0x1234);
	assert_int_equal(f->bind_calls, 1);
	/* A login request in full feature phase is a protocol error. */
	assert_int_equal(fx_send(f, OP_TO_FFP, IDS), -EPROTO);
}

/* ---- None authentication ---- */

static void test_none_one_stage(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_ok(f, OP_TO_FFP, IDS "SessionType=Normal|" OPS, 0x87, TPGT_RSP OPS_RSP);
	check_ffp(f);
	assert_int_equal(f->bind_saw_tsih, 0);
	assert_int_equal(f->l.session_type, ISCSI_SESSION_NORMAL);
	assert_string_equal(f->l.target_name, IQN);
	assert_int_equal(f->l.cmdsn, 5);
	assert_int_equal(f->l.exp_statsn, 9);
	assert_int_equal(f->l.cid, 1);
	assert_true(f->l.params.header_digest);
	assert_false(f->l.params.data_digest);
	assert_int_equal(f->l.params.max_xmit_dsl, 262144);
	assert_int_equal(f->l.params.max_recv_dsl, 65536);
	assert_false(f->l.params.initial_r2t);
	assert_int_equal(f->l.params.default_time2retain, 0);
}

static void test_none_two_stages(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS "InitiatorAlias=host1|AuthMethod=None|", 0x81,
		TPGT_RSP "AuthMethod=None|");
	assert_false(f->rsp.full_feature);
	assert_int_equal(get_be16(f->rsp.bhs.raw + 14), 0); /* no TSIH before the end */
	assert_int_equal(f->l.state, ISCSI_LOGIN_OPERATIONAL);
	assert_string_equal(f->l.initiator_alias, "host1");
	assert_int_equal(f->bind_calls, 0);
	/* An operational step that does not move yet; TPGT is not repeated. */
	step_ok(f, OP_STAY, "ImmediateData=No|", 0x04, "ImmediateData=No|");
	step_ok(f, OP_TO_FFP, "MaxBurstLength=8192|", 0x87,
		"MaxBurstLength=8192|MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
	assert_false(f->l.params.immediate_data);
	assert_int_equal(f->l.params.first_burst, 8192); /* clamped to MaxBurstLength */
	assert_int_equal(f->l.params.max_xmit_dsl, 8192);
}

static void test_security_straight_to_ffp(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_ok(f, SEC_TO_FFP, IDS "AuthMethod=CHAP,None|MaxRecvDataSegmentLength=4096|", 0x83,
		TPGT_RSP "AuthMethod=None|MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
	assert_int_equal(f->l.params.max_xmit_dsl, 4096);
}

static void test_security_without_authmethod(void **state)
{
	struct fx *f = *state;

	/* No auth required: the initiator may leave AuthMethod out. */
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS, 0x81, TPGT_RSP);
	step_ok(f, OP_TO_FFP, "", 0x87, "MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
}

static void test_none_refused_when_only_chap_offered(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_fail(f, SEC_TO_OP, IDS "AuthMethod=CHAP|", ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

static void test_reinstatement_tsih_passed_to_bind(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	f->tsih = 0x55;
	step_ok(f, OP_TO_FFP, IDS, 0x87, TPGT_RSP "MaxRecvDataSegmentLength=65536|");
	assert_int_equal(f->bind_saw_tsih, 0x55);
	check_ffp(f);
}

static void test_bind_refuses(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	f->bind_ret = -ISCSI_LOGIN_STATUS_NO_SESSION;
	step_fail(f, OP_TO_FFP, IDS, ISCSI_LOGIN_STATUS_NO_SESSION);
	assert_int_equal(f->bind_calls, 1);
	fx_start(f);
	f->bind_ret = 0;
	step_fail(f, OP_TO_FFP, IDS, ISCSI_LOGIN_STATUS_TARGET_ERROR);
	fx_start(f);
	f->bind_ret = 0x10000;
	step_fail(f, OP_TO_FFP, IDS, ISCSI_LOGIN_STATUS_TARGET_ERROR);
	struct iscsi_login_env env = f->env;
	env.bind = NULL;
	iscsi_login_init(&f->l, &env);
	step_fail(f, OP_TO_FFP, IDS, ISCSI_LOGIN_STATUS_TARGET_ERROR);
}

/* ---- discovery ---- */

static void test_discovery(void **state)
{
	struct fx *f = *state;
	char req[] = "SendTargets=All";
	char out[512];
	int n;

	fx_start(f);
	step_ok(f, SEC_TO_OP, "InitiatorName=" INIT "|SessionType=Discovery|AuthMethod=None|", 0x81,
		"AuthMethod=None|");
	step_ok(f, OP_TO_FFP,
		"HeaderDigest=None|MaxRecvDataSegmentLength=32768|MaxBurstLength=512|"
		"DefaultTime2Wait=0|",
		0x87,
		"MaxBurstLength=Irrelevant|HeaderDigest=None|MaxRecvDataSegmentLength=65536|"
		"DefaultTime2Wait=2|");
	check_ffp(f);
	assert_int_equal(f->l.session_type, ISCSI_SESSION_DISCOVERY);
	assert_int_equal(f->l.params.max_burst, 262144);
	n = iscsi_text_handle(&f->cfg, f->l.session_type, req, sizeof(req), out, sizeof(out));
	static const char want[] = "TargetName=" IQN "\0TargetAddress=192.0.2.1:3260,7\0"
				   "TargetAddress=[2001:db8::1]:3261,8";
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void test_discovery_with_target_name(void **state)
{
	struct fx *f = *state;

	/* A TargetName in a discovery session is not checked. */
	fx_start(f);
	step_ok(f, OP_TO_FFP, "InitiatorName=" INIT "|SessionType=Discovery|TargetName=iqn.x|",
		0x87, "MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
}

/* ---- identity checks ---- */

static void test_identity_failures(void **state)
{
	static const struct {
		const char *req;
		uint16_t status;
	} t[] = {
		{"TargetName=" IQN "|", ISCSI_LOGIN_STATUS_MISSING_FIELDS},
		{"InitiatorName=|TargetName=" IQN "|", ISCSI_LOGIN_STATUS_MISSING_FIELDS},
		{"InitiatorName=" INIT "|", ISCSI_LOGIN_STATUS_MISSING_FIELDS},
		{"InitiatorName=" INIT "|SessionType=Normal|", ISCSI_LOGIN_STATUS_MISSING_FIELDS},
		{"InitiatorName=" INIT "|TargetName=|", ISCSI_LOGIN_STATUS_MISSING_FIELDS},
		{"InitiatorName=" INIT "|TargetName=iqn.2024-01.test:other|",
		 ISCSI_LOGIN_STATUS_TGT_NOT_FOUND},
		{IDS "SessionType=Bogus|", ISCSI_LOGIN_STATUS_NO_SESSION_TYPE},
		{IDS "SessionType=discovery|", ISCSI_LOGIN_STATUS_NO_SESSION_TYPE},
		{IDS "InitiatorName=" INIT "|", ISCSI_LOGIN_STATUS_INIT_ERR},
		{IDS "TargetName=" IQN "|", ISCSI_LOGIN_STATUS_INIT_ERR},
		{IDS "TargetAlias=x|", ISCSI_LOGIN_STATUS_INIT_ERR},
		{IDS "TargetAddress=1.2.3.4|", ISCSI_LOGIN_STATUS_INIT_ERR},
		{IDS "TargetPortalGroupTag=1|", ISCSI_LOGIN_STATUS_INIT_ERR},
		{IDS "SendTargets=All|", ISCSI_LOGIN_STATUS_INIT_ERR},
		{IDS "AuthMethod=None|AuthMethod=None|", ISCSI_LOGIN_STATUS_INIT_ERR},
		{"InitiatorName|", ISCSI_LOGIN_STATUS_INIT_ERR},
		{IDS "bad key=1|", ISCSI_LOGIN_STATUS_INIT_ERR},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		struct fx *f = *state;

		fx_start(f);
		step_fail(f, SEC_TO_OP, t[i].req, t[i].status);
		assert_int_equal(f->bind_calls, 0);
	}
}

static void test_long_names(void **state)
{
	struct fx *f = *state;
	static char req[1024];
	char name[300];

	memset(name, 'a', 260);
	name[260] = '\0';
	snprintf(req, sizeof(req), "InitiatorName=%s|TargetName=" IQN "|", name);
	fx_start(f);
	step_fail(f, OP_TO_FFP, req, ISCSI_LOGIN_STATUS_INIT_ERR);
	snprintf(req, sizeof(req), "InitiatorName=" INIT "|TargetName=%s|", name);
	fx_start(f);
	step_fail(f, OP_TO_FFP, req, ISCSI_LOGIN_STATUS_TGT_NOT_FOUND);
}

static void test_target_name_case(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_ok(f, OP_TO_FFP, "InitiatorName=" INIT "|TargetName=IQN.2024-01.TEST:DISK|", 0x87,
		TPGT_RSP "MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
}

static void test_acl(void **state)
{
	struct fx *f = *state;

	f->cfg.nallow = 2;
	snprintf(f->cfg.allow[0], sizeof(f->cfg.allow[0]), "iqn.2024-01.test:someone");
	snprintf(f->cfg.allow[1], sizeof(f->cfg.allow[1]), "IQN.2024-01.test:INIT");
	fx_start(f);
	step_ok(f, OP_TO_FFP, IDS, 0x87, TPGT_RSP "MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
	f->cfg.nallow = 1;
	fx_start(f);
	step_fail(f, OP_TO_FFP, IDS, ISCSI_LOGIN_STATUS_TGT_FORBIDDEN);
	/* Discovery sessions are subject to the ACL as well. */
	fx_start(f);
	step_fail(f, OP_TO_FFP, "InitiatorName=" INIT "|SessionType=Discovery|",
		  ISCSI_LOGIN_STATUS_TGT_FORBIDDEN);
	assert_int_equal(f->bind_calls, 0);
}

static void test_identity_repeated_later(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS "AuthMethod=None|", 0x81, TPGT_RSP "AuthMethod=None|");
	/* Same values again: fine. */
	step_ok(f, OP_STAY, IDS "SessionType=Normal|", 0x04, "");
	step_fail(f, OP_TO_FFP, "InitiatorName=iqn.2024-01.test:other|",
		  ISCSI_LOGIN_STATUS_INIT_ERR);
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS, 0x81, TPGT_RSP);
	step_fail(f, OP_TO_FFP, "SessionType=Discovery|", ISCSI_LOGIN_STATUS_INIT_ERR);
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS, 0x81, TPGT_RSP);
	step_fail(f, OP_TO_FFP, "SessionType=Junk|", ISCSI_LOGIN_STATUS_INIT_ERR);
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS, 0x81, TPGT_RSP);
	step_fail(f, OP_TO_FFP, "TargetName=iqn.x|", ISCSI_LOGIN_STATUS_INIT_ERR);
}

/* ---- stages, flags, versions ---- */

static void test_bad_flags(void **state)
{
	static const uint8_t bad[] = {
		0xc1,	    /* T and C */
		0xc7, 0x08, /* CSG 2 */
		0x8b,	    /* CSG 2, NSG 3 */
		0x0c,	    /* CSG 3 */
		0x8f, 0x82, /* NSG 2 */
		0x80,	    /* T, NSG 0 from CSG 0 */
		0x85,	    /* T, NSG 1 from CSG 1 */
		0x84,	    /* T, NSG 0 from CSG 1 */
		0x86,	    /* NSG 2 from CSG 1 */
	};

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		struct fx *f = *state;

		fx_start(f);
		step_fail(f, bad[i], IDS, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
	}
}

static void test_wrong_stage(void **state)
{
	struct fx *f = *state;

	/* After moving to the operational stage, CSG=0 is wrong. */
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS "AuthMethod=None|", 0x81, TPGT_RSP "AuthMethod=None|");
	step_fail(f, SEC_TO_FFP, "", ISCSI_LOGIN_STATUS_INVALID_REQUEST);
	/* Staying in security and then claiming the operational stage is wrong too. */
	fx_start(f);
	step_ok(f, SEC_STAY, IDS, 0x00, TPGT_RSP);
	step_fail(f, OP_TO_FFP, "", ISCSI_LOGIN_STATUS_INVALID_REQUEST);
	/* Security keys in the operational stage. */
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS, 0x81, TPGT_RSP);
	step_fail(f, OP_TO_FFP, "AuthMethod=None|", ISCSI_LOGIN_STATUS_INIT_ERR);
	fx_start(f);
	step_fail(f, OP_TO_FFP, IDS "CHAP_A=5|", ISCSI_LOGIN_STATUS_INIT_ERR);
	/* CHAP keys without AuthMethod=CHAP. */
	fx_start(f);
	step_fail(f, SEC_TO_OP, IDS "AuthMethod=None|CHAP_A=5|", ISCSI_LOGIN_STATUS_AUTH_FAILED);
	/* AuthMethod negotiated twice. */
	fx_start(f);
	step_ok(f, SEC_STAY, IDS "AuthMethod=None|", 0x00, TPGT_RSP "AuthMethod=None|");
	step_fail(f, SEC_TO_OP, "AuthMethod=None|", ISCSI_LOGIN_STATUS_INIT_ERR);
}

static void test_version(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	f->version_min = 1;
	f->version_max = 1;
	step_fail(f, OP_TO_FFP, IDS, ISCSI_LOGIN_STATUS_NO_VERSION);
	/* A range that includes 0 is fine; we answer with 0. */
	fx_start(f);
	f->version_min = 0;
	f->version_max = 5;
	step_ok(f, OP_TO_FFP, IDS, 0x87, TPGT_RSP "MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
}

static void test_isid_tsih_cid_change(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS, 0x81, TPGT_RSP);
	f->tsih = 3;
	assert_int_equal(fx_send(f, OP_TO_FFP, ""), 0);
	assert_int_equal(rsp_status(f), ISCSI_LOGIN_STATUS_INIT_ERR);
	assert_true(f->rsp.close_after);
}

static void test_duplicate_operational_key(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS "MaxConnections=1|", 0x81, TPGT_RSP "MaxConnections=1|");
	step_fail(f, OP_TO_FFP, "MaxConnections=1|", ISCSI_LOGIN_STATUS_INIT_ERR);
	fx_start(f);
	step_fail(f, OP_TO_FFP, IDS "MaxRecvDataSegmentLength=100|", ISCSI_LOGIN_STATUS_INIT_ERR);
}

static void test_unknown_keys(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	step_ok(f, OP_TO_FFP, IDS "X-com.example.a=1|Foo=bar|X#org.x=2|ImmediateData=Perhaps|",
		0x87,
		TPGT_RSP "X-com.example.a=NotUnderstood|Foo=NotUnderstood|X#org.x=NotUnderstood|"
			 "ImmediateData=Reject|MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
	assert_true(f->l.params.immediate_data);
}

/* ---- C-bit continuation ---- */

static void test_continuation(void **state)
{
	struct fx *f = *state;
	static const char full[] = IDS "SessionType=Normal|" OPS;
	char part[sizeof(full)];

	fx_start(f);
	/* Split inside a key, and inside a value. */
	memcpy(part, full, 20);
	part[20] = '\0';
	step_ok(f, OP_STAY | ISCSI_LOGIN_F_CONTINUE, part, 0x04, "");
	assert_int_equal(get_be16(f->rsp.bhs.raw + 36), 0);
	memcpy(part, full + 20, 80);
	part[80] = '\0';
	step_ok(f, OP_STAY | ISCSI_LOGIN_F_CONTINUE, part, 0x04, "");
	assert_int_equal(f->l.state, ISCSI_LOGIN_START);
	step_ok(f, OP_TO_FFP, full + 100, 0x87, TPGT_RSP OPS_RSP);
	check_ffp(f);
}

static void test_continuation_errors(void **state)
{
	struct fx *f = *state;

	/* CSG must not change between the parts of one request. */
	fx_start(f);
	step_ok(f, OP_STAY | ISCSI_LOGIN_F_CONTINUE, "InitiatorName=", 0x04, "");
	step_fail(f, SEC_TO_OP, INIT "|", ISCSI_LOGIN_STATUS_INVALID_REQUEST);
	/* T with C is refused in a continuation too. */
	fx_start(f);
	step_ok(f, SEC_STAY | ISCSI_LOGIN_F_CONTINUE, "InitiatorName=", 0x00, "");
	step_fail(f, SEC_TO_OP | ISCSI_LOGIN_F_CONTINUE, INIT "|",
		  ISCSI_LOGIN_STATUS_INVALID_REQUEST);
	/* The accumulated text is bounded. */
	static uint8_t big[ISCSI_LOGIN_DATA_MAX];
	memset(big, 'a', sizeof(big));
	fx_start(f);
	for (unsigned i = 0; i < ISCSI_LOGIN_ACCUM_MAX / ISCSI_LOGIN_DATA_MAX; i++) {
		assert_int_equal(
			fx_send_raw(f, SEC_STAY | ISCSI_LOGIN_F_CONTINUE, big, sizeof(big)), 0);
		assert_int_equal(rsp_status(f), 0);
	}
	assert_int_equal(fx_send_raw(f, SEC_STAY | ISCSI_LOGIN_F_CONTINUE, big, 1), 0);
	assert_int_equal(rsp_status(f), ISCSI_LOGIN_STATUS_INIT_ERR);
	assert_true(f->rsp.close_after);
	/* One data segment above 8192 bytes. */
	static uint8_t huge[ISCSI_LOGIN_DATA_MAX + 1];
	fx_start(f);
	assert_int_equal(fx_send_raw(f, SEC_STAY, huge, sizeof(huge)), 0);
	assert_int_equal(rsp_status(f), ISCSI_LOGIN_STATUS_INIT_ERR);
}

static void test_text_edge_forms(void **state)
{
	struct fx *f = *state;
	static const char unterminated[] = "InitiatorName=" INIT "\0TargetName=" IQN;
	static const char padded[] = "InitiatorName=" INIT "\0TargetName=" IQN "\0\0\0";

	/* The last pair without its NUL, and trailing pad NULs: both accepted. */
	fx_start(f);
	assert_int_equal(
		fx_send_raw(f, OP_TO_FFP, (const uint8_t *)unterminated, sizeof(unterminated) - 1),
		0);
	assert_int_equal(rsp_status(f), 0);
	check_ffp(f);
	fx_start(f);
	assert_int_equal(fx_send_raw(f, OP_TO_FFP, (const uint8_t *)padded, sizeof(padded) - 1), 0);
	assert_int_equal(rsp_status(f), 0);
	check_ffp(f);
}

static void test_not_a_login(void **state)
{
	struct fx *f = *state;
	struct iscsi_bhs b;
	struct iscsi_pdu_hdr h = {.opcode = ISCSI_OP_TEXT_REQ};

	fx_start(f);
	memset(&b, 0, sizeof(b));
	b.raw[0] = ISCSI_OP_TEXT_REQ;
	assert_int_equal(iscsi_login_handle(&f->l, &b, &h, NULL, 0, &f->rsp), -EPROTO);
	assert_int_equal(f->l.state, ISCSI_LOGIN_START);
}

/* ---- CHAP ---- */

static void chap_start(struct fx *f, bool mutual)
{
	f->cfg.chap.enabled = true;
	f->cfg.chap.mutual = mutual;
	fx_start(f);
	assert_true(f->l.auth_required);
	step_ok(f, SEC_TO_OP, IDS "AuthMethod=CHAP,None|", 0x00, TPGT_RSP "AuthMethod=CHAP|");
	step_ok(f, SEC_TO_OP, "CHAP_A=7,5|", 0x00, "CHAP_A=5|CHAP_I=16|CHAP_C=" CHAP_C_OURS "|");
	assert_int_equal(f->l.chap, CHAP_WAIT_RESPONSE);
}

static void test_chap_one_way(void **state)
{
	struct fx *f = *state;

	chap_start(f, false);
	step_ok(f, SEC_TO_OP, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|", 0x81, "");
	assert_true(f->l.authenticated);
	assert_int_equal(f->l.chap, CHAP_DONE);
	step_ok(f, OP_TO_FFP, OPS, 0x87, OPS_RSP);
	check_ffp(f);
}

static void test_chap_base64_and_direct_to_ffp(void **state)
{
	struct fx *f = *state;

	chap_start(f, false);
	step_ok(f, SEC_TO_FFP, "CHAP_N=user|CHAP_R=" CHAP_R_B64 "|", 0x83,
		"MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
}

static void test_chap_algorithm_with_authmethod(void **state)
{
	struct fx *f = *state;

	/* AuthMethod and CHAP_A in one request (some initiators do this). */
	f->cfg.chap.enabled = true;
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS "AuthMethod=None,CHAP|CHAP_A=5|", 0x00,
		TPGT_RSP "AuthMethod=CHAP|CHAP_A=5|CHAP_I=16|CHAP_C=" CHAP_C_OURS "|");
	/* Operational keys ride along with the response: negotiated after auth. */
	step_ok(f, SEC_TO_OP, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|MaxConnections=4|", 0x81,
		"MaxConnections=1|");
	step_ok(f, OP_TO_FFP, "", 0x87, "MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
}

static void test_chap_mutual(void **state)
{
	struct fx *f = *state;

	chap_start(f, true);
	step_ok(f, SEC_TO_OP, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_I=33|CHAP_C=" MUTUAL_C "|",
		0x81, "CHAP_N=target|CHAP_R=" MUTUAL_R "|");
	step_ok(f, OP_TO_FFP, "", 0x87, "MaxRecvDataSegmentLength=65536|");
	check_ffp(f);
	/* Mutual configured but not asked for: one-way is fine. */
	chap_start(f, true);
	step_ok(f, SEC_TO_OP, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|", 0x81, "");
}

static void test_chap_failures(void **state)
{
	static const struct {
		bool mutual;
		const char *req;
	} t[] = {
		{false, "CHAP_N=user|CHAP_R=0x1df9e507168728f8f0a35c8430b0a1c4|"}, /* wrong */
		{false, "CHAP_N=user|CHAP_R=0x1df9e507168728f8f0a35c8430b0a1|"},   /* short */
		{false, "CHAP_N=user|CHAP_R=" CHAP_R_OK "00|"},			   /* long */
		{false, "CHAP_N=user|CHAP_R=1df9e507168728f8f0a35c8430b0a1c5|"},   /* no 0x */
		{false, "CHAP_N=someone|CHAP_R=" CHAP_R_OK "|"},		   /* user */
		{false, "CHAP_N=User|CHAP_R=" CHAP_R_OK "|"},
		{false, "CHAP_R=" CHAP_R_OK "|"},
		{false, "CHAP_N=user|"},
		{false, "|"},
		{false, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_R=" CHAP_R_OK "|"},
		{false, "CHAP_A=5|CHAP_N=user|CHAP_R=" CHAP_R_OK "|"},
		/* mutual not configured */
		{false, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_I=33|CHAP_C=" MUTUAL_C "|"},
		/* mutual halves */
		{true, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_I=33|"},
		{true, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_C=" MUTUAL_C "|"},
		{true, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_I=256|CHAP_C=" MUTUAL_C "|"},
		{true, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_I=x|CHAP_C=" MUTUAL_C "|"},
		{true, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_I=33|CHAP_C=0x|"},
		/* the initiator reflects our own challenge */
		{true, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_I=16|CHAP_C=" CHAP_C_OURS "|"},
		/* a wrong response fails before any mutual answer */
		{true, "CHAP_N=user|CHAP_R=0x00000000000000000000000000000000|CHAP_I=33|"
		       "CHAP_C=" MUTUAL_C "|"},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		struct fx *f = *state;

		chap_start(f, t[i].mutual);
		step_fail(f, SEC_TO_OP, t[i].req, ISCSI_LOGIN_STATUS_AUTH_FAILED);
		assert_false(f->l.authenticated);
		assert_int_equal(f->bind_calls, 0);
	}
}

static void test_chap_same_secret_both_ways(void **state)
{
	struct fx *f = *state;

	snprintf(f->cfg.chap.mutual_secret, sizeof(f->cfg.chap.mutual_secret), "secret123456");
	chap_start(f, true);
	step_fail(f, SEC_TO_OP, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|CHAP_I=33|CHAP_C=" MUTUAL_C "|",
		  ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

static void test_chap_required(void **state)
{
	struct fx *f = *state;

	f->cfg.chap.enabled = true;
	/* None is never accepted once CHAP is configured. */
	fx_start(f);
	step_fail(f, SEC_TO_OP, IDS "AuthMethod=None|", ISCSI_LOGIN_STATUS_AUTH_FAILED);
	/* Skipping the security stage. */
	fx_start(f);
	step_fail(f, OP_TO_FFP, IDS, ISCSI_LOGIN_STATUS_AUTH_FAILED);
	/* Asking to move on without offering any AuthMethod. */
	fx_start(f);
	step_fail(f, SEC_TO_OP, IDS, ISCSI_LOGIN_STATUS_AUTH_FAILED);
	/* Operational keys before authentication. */
	fx_start(f);
	step_fail(f, SEC_TO_OP, IDS "AuthMethod=CHAP|MaxConnections=1|",
		  ISCSI_LOGIN_STATUS_INIT_ERR);
	/* No MD5 in CHAP_A. */
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS "AuthMethod=CHAP|", 0x00, TPGT_RSP "AuthMethod=CHAP|");
	step_fail(f, SEC_TO_OP, "CHAP_A=6,7|", ISCSI_LOGIN_STATUS_AUTH_FAILED);
	/* Answering before the challenge. */
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS "AuthMethod=CHAP|", 0x00, TPGT_RSP "AuthMethod=CHAP|");
	step_fail(f, SEC_TO_OP, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|",
		  ISCSI_LOGIN_STATUS_AUTH_FAILED);
	/* Moving to the operational stage in the middle of CHAP. */
	chap_start(f, false);
	step_fail(f, OP_TO_FFP, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|",
		  ISCSI_LOGIN_STATUS_INVALID_REQUEST);
	/* CHAP keys after CHAP finished. */
	chap_start(f, false);
	step_ok(f, SEC_STAY, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|", 0x00, "");
	step_fail(f, SEC_TO_OP, "CHAP_A=5|", ISCSI_LOGIN_STATUS_AUTH_FAILED);
	/* Discovery sessions authenticate too. */
	fx_start(f);
	step_fail(f, OP_TO_FFP, "InitiatorName=" INIT "|SessionType=Discovery|",
		  ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

static void test_chap_waits_for_keys(void **state)
{
	struct fx *f = *state;

	/* An empty request while CHAP_A is awaited is answered with T=0, not moved on. */
	f->cfg.chap.enabled = true;
	fx_start(f);
	step_ok(f, SEC_TO_OP, IDS "AuthMethod=CHAP|", 0x00, TPGT_RSP "AuthMethod=CHAP|");
	step_ok(f, SEC_TO_OP, "", 0x00, "");
	assert_int_equal(f->l.state, ISCSI_LOGIN_SECURITY);
	step_ok(f, SEC_TO_OP, "CHAP_A=5|", 0x00, "CHAP_A=5|CHAP_I=16|CHAP_C=" CHAP_C_OURS "|");
	step_ok(f, SEC_TO_OP, "CHAP_N=user|CHAP_R=" CHAP_R_OK "|", 0x81, "");
}

static void test_chap_no_random(void **state)
{
	struct fx *f = *state;
	struct iscsi_login_env env = f->env;

	f->cfg.chap.enabled = true;
	env.random = NULL;
	iscsi_login_init(&f->l, &env);
	step_ok(f, SEC_TO_OP, IDS "AuthMethod=CHAP|", 0x00, TPGT_RSP "AuthMethod=CHAP|");
	step_fail(f, SEC_TO_OP, "CHAP_A=5|", ISCSI_LOGIN_STATUS_TARGET_ERROR);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_none_one_stage),
		T(test_none_two_stages),
		T(test_security_straight_to_ffp),
		T(test_security_without_authmethod),
		T(test_none_refused_when_only_chap_offered),
		T(test_reinstatement_tsih_passed_to_bind),
		T(test_bind_refuses),
		T(test_discovery),
		T(test_discovery_with_target_name),
		T(test_identity_failures),
		T(test_long_names),
		T(test_target_name_case),
		T(test_acl),
		T(test_identity_repeated_later),
		T(test_bad_flags),
		T(test_wrong_stage),
		T(test_version),
		T(test_isid_tsih_cid_change),
		T(test_duplicate_operational_key),
		T(test_unknown_keys),
		T(test_continuation),
		T(test_continuation_errors),
		T(test_text_edge_forms),
		T(test_not_a_login),
		T(test_chap_one_way),
		T(test_chap_base64_and_direct_to_ffp),
		T(test_chap_algorithm_with_authmethod),
		T(test_chap_mutual),
		T(test_chap_failures),
		T(test_chap_same_secret_both_ways),
		T(test_chap_required),
		T(test_chap_waits_for_keys),
		T(test_chap_no_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
