/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of target/iscsi/conn.c through a real target on loopback (see
 * iscsi_fixture.h): login phase (RFC 7143 6.3, 11.12, 11.13), receive
 * framing, flow control of control PDUs, batched sends, Reject (11.17) and
 * the liveness tick (login timeout, NOP-In pings, 11.19).
 */
#include "tests/unit/iscsi_fixture.h"

static bool has_key(const struct fx_conn *c, const char *kv)
{
	char want[256];

	snprintf(want, sizeof(want), "%s|", kv);
	return strstr(c->keys, want) != NULL;
}

/* RFC 7143 6.3: operational stage straight to full feature phase. */
static void test_login_one_stage(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *c;
	uint32_t login_statsn, itt;

	fx_start(f);
	c = fx_connect(f);
	fx_login_full(f, c, NULL, false, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(p.bhs[1], 0x87); /* T, CSG 1, NSG 3 */
	assert_int_equal(p.bhs[2], 0);	  /* Version-max */
	assert_int_equal(p.bhs[3], 0);	  /* Version-active */
	assert_int_equal(get_be32(p.bhs + 28), FX_CMDSN0);
	assert_int_equal(get_be32(p.bhs + 32), FX_CMDSN0 + 32 - 1);
	assert_int_equal(p.bhs[36], 0);
	assert_int_equal(p.bhs[37], 0);
	assert_true(has_key(c, "TargetPortalGroupTag=1"));
	assert_true(has_key(c, "HeaderDigest=None"));
	assert_true(has_key(c, "DataDigest=None"));
	assert_true(has_key(c, "MaxRecvDataSegmentLength=262144"));
	assert_true(has_key(c, "MaxBurstLength=262144"));
	assert_true(has_key(c, "FirstBurstLength=65536"));
	assert_true(has_key(c, "InitialR2T=No"));
	assert_true(has_key(c, "ImmediateData=Yes"));
	login_statsn = get_be32(p.bhs + 24);

	/* StatSN goes on from the login into full feature phase (RFC 7143 4.2.2.2). */
	itt = fx_nop_out(f, c, false, NULL, 0);
	fx_expect_nop_in(f, c, itt, &p);
	assert_int_equal(get_be32(p.bhs + 24), login_statsn + 1);
	assert_int_equal(get_be32(p.bhs + 28), FX_CMDSN0 + 1);
	assert_int_equal(get_be32(p.bhs + 32), FX_CMDSN0 + 1 + 32 - 1);
	itt = fx_nop_out(f, c, false, NULL, 0);
	fx_expect_nop_in(f, c, itt, &p);
	assert_int_equal(get_be32(p.bhs + 24), login_statsn + 2);
}

/* RFC 7143 6.3: security stage (AuthMethod=None), operational stage, full feature. */
static void test_login_two_stage(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *c;
	uint32_t first_statsn, itt;

	fx_start(f);
	c = fx_connect(f);
	fx_login_step(f, c, FX_LOGIN_SEC_TO_OP,
		      "InitiatorName=" FX_INIT "|TargetName=" FX_IQN "|SessionType=Normal|"
		      "AuthMethod=None|",
		      &p);
	assert_int_equal(p.bhs[1], FX_LOGIN_SEC_TO_OP);
	assert_int_equal(get_be16(p.bhs + 14), 0); /* TSIH only in the final response */
	assert_int_equal(get_be16(p.bhs + 36), 0);
	assert_int_equal(get_be32(p.bhs + 32), FX_CMDSN0 + 32 - 1);
	assert_true(has_key(c, "AuthMethod=None"));
	assert_true(has_key(c, "TargetPortalGroupTag=1"));
	first_statsn = get_be32(p.bhs + 24);

	fx_login_step(f, c, FX_LOGIN_OP_TO_FFP, FX_KEYS_DEFAULT, &p);
	assert_int_equal(get_be16(p.bhs + 36), 0);
	assert_int_equal(p.bhs[1], FX_LOGIN_OP_TO_FFP);
	assert_int_not_equal(get_be16(p.bhs + 14), 0);
	assert_int_equal(get_be32(p.bhs + 24), first_statsn + 1);
	assert_int_equal(get_be32(p.bhs + 28), FX_CMDSN0);
	assert_false(has_key(c, "TargetPortalGroupTag=1")); /* sent once, in the first */

	itt = fx_nop_out(f, c, true, NULL, 0);
	fx_expect_nop_in(f, c, itt, &p);
	assert_int_equal(get_be32(p.bhs + 24), first_statsn + 2);
	assert_int_equal(get_be32(p.bhs + 28), FX_CMDSN0); /* immediate: CmdSN not taken */
}

/* RFC 7143 6.3: only Login Requests before full feature phase; anything else ends it. */
static void test_login_phase_other_pdu_closes(void **state)
{
	struct fx *f = *state;
	struct fx_conn *c;

	fx_start(f);
	c = fx_connect(f);
	fx_nop_out(f, c, true, NULL, 0);
	fx_expect_eof(f, c);
}

/* The liveness tick closes a connection that does not finish its login in time. */
static void test_login_timeout(void **state)
{
	struct fx *f = *state;
	struct fx_conn *silent, *ok;

	f->cfg.iscsi.login_timeout_ms = 300;
	fx_start(f);
	silent = fx_connect(f);
	ok = fx_connect(f);
	fx_login(f, ok, NULL);
	fx_expect_eof(f, silent);
	/* The logged-in connection is not subject to the login timer. */
	fx_run_for(f, 600);
	fx_ping(f, ok, NULL, NULL);
}

/* Framing: a PDU arriving one byte per recv (BHS, data and padding split) is whole. */
static void test_rx_byte_by_byte(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN + 8] = {0};
	struct fx_conn *c;
	uint32_t itt;

	fx_start(f);
	c = fx_connect(f);
	fx_login(f, c, NULL);
	itt = c->itt++;
	b[0] = ISCSI_FLAG_IMMEDIATE | ISCSI_OP_NOP_OUT;
	b[1] = ISCSI_FLAG_FINAL;
	put_be24(b + 5, 5);
	put_be32(b + 16, itt);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	put_be32(b + 24, c->cmdsn);
	put_be32(b + 28, c->exp_statsn);
	memcpy(b + ISCSI_BHS_LEN, "abcde", 5); /* then 3 padding bytes */
	for (unsigned i = 0; i < sizeof(b); i++) {
		fx_send_raw(f, c, b + i, 1);
		fx_run_for(f, 1);
	}
	fx_expect_nop_in(f, c, itt, &p);
	assert_int_equal(p.dlen, 5);
	assert_memory_equal(p.data, "abcde", 5);
}

/*
 * Many PDUs in one send: more NOP-Outs than the connection has control PDUs
 * (32), so parsing pauses until answers are sent and resumes after. Every
 * one is answered, in order, with consecutive StatSNs.
 */
static void test_rx_many_pdus_flow_control(void **state)
{
	enum { N = 100, SZ = ISCSI_BHS_LEN + 12 };
	struct fx *f = *state;
	static struct fx_pdu p;
	static uint8_t buf[N * SZ];
	uint32_t first_itt, prev_exp = 0, exp, max;
	struct fx_conn *c;

	fx_start(f);
	c = fx_connect(f);
	fx_login(f, c, NULL);
	first_itt = c->itt;
	memset(buf, 0, sizeof(buf));
	for (unsigned i = 0; i < N; i++) {
		uint8_t *b = buf + i * SZ;

		b[0] = ISCSI_OP_NOP_OUT;
		b[1] = ISCSI_FLAG_FINAL;
		put_be24(b + 5, 10);
		put_be32(b + 16, c->itt++);
		put_be32(b + 20, ISCSI_RSVD_TAG);
		put_be32(b + 24, c->cmdsn++);
		put_be32(b + 28, c->exp_statsn);
		snprintf((char *)b + ISCSI_BHS_LEN, 12, "nop-%05u", i);
	}
	fx_send_raw(f, c, buf, sizeof(buf));
	for (unsigned i = 0; i < N; i++) {
		char want[12];

		fx_expect_nop_in(f, c, first_itt + i, &p);
		snprintf(want, sizeof(want), "nop-%05u", i);
		assert_int_equal(p.dlen, 10);
		assert_memory_equal(p.data, want, 10);
		/* Answered after its CmdSN was taken; never beyond what was sent. */
		exp = get_be32(p.bhs + 28);
		assert_true(exp >= FX_CMDSN0 + i + 1 && exp <= FX_CMDSN0 + N);
		assert_true(exp >= prev_exp);
		assert_int_equal(get_be32(p.bhs + 32), exp + 32 - 1);
		prev_exp = exp;
	}
	fx_ping(f, c, &exp, &max);
	assert_int_equal(exp, FX_CMDSN0 + N);
	assert_int_equal(max, FX_CMDSN0 + N + 31);
}

/*
 * A 1 MiB READ at MaxRecvDataSegmentLength 8192 is 128 Data-In PDUs: more
 * than one sendmsg batch holds (256 iovecs), and the client reads nothing
 * for a while, so the socket fills and a send may end partway through a
 * PDU. All bytes arrive, in order.
 */
static void test_tx_large_read_batches(void **state)
{
	enum { LEN = 1 << 20, CHUNK = 65536 };
	struct fx *f = *state;
	static struct fx_pdu p;
	static uint8_t data[LEN], back[LEN];
	uint8_t b[ISCSI_BHS_LEN], cdb[16];
	uint32_t itt, off = 0, sn = 0;
	struct fx_conn *c;

	fx_start(f);
	c = fx_session(f, NULL);
	fx_pattern(data, LEN, 99);
	for (uint32_t o = 0; o < LEN; o += CHUNK)
		fx_write_imm(f, c, 64 + o / FX_BLOCK, data + o, CHUNK);
	fx_cdb10(cdb, 0x28, 64, LEN / FX_BLOCK);
	itt = fx_cmd_bhs(c, b, ISCSI_FLAG_FINAL | ISCSI_CMD_F_READ, LEN, cdb, 10);
	fx_send(f, c, b, NULL, 0);
	fx_run_for(f, 50);
	while (off < LEN) {
		bool last;

		fx_recv(f, c, &p);
		assert_int_equal(p.bhs[0], ISCSI_OP_DATA_IN);
		assert_int_equal(get_be32(p.bhs + 16), itt);
		assert_int_equal(get_be32(p.bhs + 36), sn);
		assert_int_equal(get_be32(p.bhs + 40), off);
		assert_int_equal(p.dlen, 8192);
		off += p.dlen;
		last = off == LEN;
		/* F at each MaxBurstLength (262144) boundary; status only on the last. */
		assert_int_equal(p.bhs[1], (off % 262144 == 0 ? ISCSI_FLAG_FINAL : 0) |
						   (last ? ISCSI_FLAG_DATA_STATUS : 0));
		memcpy(back + off - p.dlen, p.data, p.dlen);
		sn++;
	}
	assert_int_equal(sn, LEN / 8192);
	assert_memory_equal(back, data, LEN);
	fx_ping(f, c, NULL, NULL);
}

/* RFC 7143 11.17: an undefined opcode in full feature phase is rejected, the connection stays. */
static void test_reject_unknown_opcode(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN] = {0};
	struct fx_conn *c;

	fx_start(f);
	c = fx_connect(f);
	fx_login(f, c, NULL);
	b[0] = 0x1c;
	b[1] = ISCSI_FLAG_FINAL;
	put_be32(b + 16, 0x4242);
	put_be32(b + 24, c->cmdsn);
	fx_send(f, c, b, NULL, 0);
	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_REJECT);
	assert_int_equal(p.bhs[1], ISCSI_FLAG_FINAL);
	assert_int_equal(p.bhs[2], ISCSI_REJECT_CMD_NOT_SUPPORTED);
	assert_int_equal(get_be32(p.bhs + 16), ISCSI_RSVD_TAG);
	assert_int_equal(get_be32(p.bhs + 28), FX_CMDSN0);
	assert_int_equal(get_be32(p.bhs + 36), 0);
	assert_int_equal(p.dlen, ISCSI_BHS_LEN);
	assert_memory_equal(p.data, b, ISCSI_BHS_LEN); /* the rejected header */
	fx_ping(f, c, NULL, NULL);
}

/* A data segment over our MaxRecvDataSegmentLength cannot be framed: Reject, then close. */
static void test_oversized_segment_closes(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	static uint8_t data[8196];
	uint8_t b[ISCSI_BHS_LEN] = {0};
	struct fx_conn *c;

	f->cfg.iscsi.max_recv_dsl = 8192;
	fx_start(f);
	c = fx_connect(f);
	fx_login(f, c, NULL);
	assert_non_null(strstr(c->keys, "MaxRecvDataSegmentLength=8192|"));
	b[0] = ISCSI_FLAG_IMMEDIATE | ISCSI_OP_NOP_OUT;
	b[1] = ISCSI_FLAG_FINAL;
	put_be32(b + 16, c->itt++);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	put_be32(b + 24, c->cmdsn);
	fx_send(f, c, b, data, sizeof(data));
	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_REJECT);
	assert_int_equal(p.bhs[2], ISCSI_REJECT_PROTOCOL_ERROR);
	assert_int_equal(p.dlen, ISCSI_BHS_LEN);
	assert_memory_equal(p.data, b, ISCSI_BHS_LEN);
	fx_expect_eof(f, c);
}

static void expect_ping(struct fx *f, struct fx_conn *c, struct fx_pdu *p)
{
	uint8_t zero[8] = {0};

	fx_recv(f, c, p);
	/* RFC 7143 11.19: target-initiated NOP-In, ITT reserved, a real TTT, no StatSN step. */
	assert_int_equal(p->bhs[0], ISCSI_OP_NOP_IN);
	assert_int_equal(p->bhs[1], ISCSI_FLAG_FINAL);
	assert_int_equal(p->dlen, 0);
	assert_memory_equal(p->bhs + 8, zero, 8);
	assert_int_equal(get_be32(p->bhs + 16), ISCSI_RSVD_TAG);
	assert_int_not_equal(get_be32(p->bhs + 20), ISCSI_RSVD_TAG);
	assert_int_equal(get_be32(p->bhs + 28), c->cmdsn);
}

/* RFC 7143 11.18: the initiator's answer to a ping echoes the TTT, immediate, ITT reserved. */
static void answer_ping(struct fx *f, struct fx_conn *c, const struct fx_pdu *ping)
{
	uint8_t b[ISCSI_BHS_LEN] = {0};

	b[0] = ISCSI_FLAG_IMMEDIATE | ISCSI_OP_NOP_OUT;
	b[1] = ISCSI_FLAG_FINAL;
	memcpy(b + 8, ping->bhs + 8, 8);
	put_be32(b + 16, ISCSI_RSVD_TAG);
	memcpy(b + 20, ping->bhs + 20, 4);
	put_be32(b + 24, c->cmdsn);
	put_be32(b + 28, c->exp_statsn);
	fx_send(f, c, b, NULL, 0);
}

/* An idle connection is pinged; an answered ping keeps it, and the next ping follows. */
static void test_nop_ping_answered(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *c;
	uint32_t ttt1, statsn;

	f->cfg.iscsi.nop_interval_ms = 600;
	f->cfg.iscsi.nop_timeout_ms = 1200;
	fx_start(f);
	c = fx_connect(f);
	fx_login(f, c, NULL);
	statsn = c->exp_statsn;
	expect_ping(f, c, &p);
	ttt1 = get_be32(p.bhs + 20);
	answer_ping(f, c, &p);
	/* Answered, so still open past nop_timeout: the next idle period brings a new ping. */
	expect_ping(f, c, &p);
	assert_int_not_equal(get_be32(p.bhs + 20), ttt1);
	answer_ping(f, c, &p);
	/* Neither the pings nor the answers took a StatSN or answered anything else. */
	fx_ping(f, c, NULL, NULL);
	assert_int_equal(c->exp_statsn, statsn + 1);
}

/* An unanswered ping: the connection is presumed dead and closed after nop_timeout. */
static void test_nop_ping_timeout_closes(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *c;

	f->cfg.iscsi.nop_interval_ms = 500;
	f->cfg.iscsi.nop_timeout_ms = 500;
	fx_start(f);
	c = fx_connect(f);
	fx_login(f, c, NULL);
	expect_ping(f, c, &p);
	fx_expect_eof(f, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_one_stage, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_two_stage, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_phase_other_pdu_closes, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_timeout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_byte_by_byte, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_many_pdus_flow_control, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_large_read_batches, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reject_unknown_opcode, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_oversized_segment_closes, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_nop_ping_answered, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_nop_ping_timeout_closes, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
