/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of target/iscsi/session.c through a real target on loopback (see
 * iscsi_fixture.h): the CmdSN window (RFC 7143 4.2.2.1), Data-In with status
 * collapse and residuals (11.7, 11.4.5), Data-Out and R2T (11.7, 11.8),
 * SCSI errors with sense (11.4.7), NOP (11.18, 11.19), task management
 * (11.5, 11.6), Text (11.10, 11.11) and Logout (11.14, 11.15).
 */
#include "tests/unit/iscsi_fixture.h"

/* Data-In split by MaxRecvDataSegmentLength 8192, sequences of MaxBurstLength 16384. */
#define KEYS_SPLIT                                                                                 \
	"HeaderDigest=None|DataDigest=None|MaxRecvDataSegmentLength=8192|"                         \
	"MaxBurstLength=16384|FirstBurstLength=16384|ImmediateData=Yes|InitialR2T=No|"             \
	"MaxOutstandingR2T=1|"
/* Every write byte solicited by R2T. */
#define KEYS_R2T                                                                                   \
	"HeaderDigest=None|DataDigest=None|MaxRecvDataSegmentLength=8192|"                         \
	"MaxBurstLength=16384|FirstBurstLength=16384|ImmediateData=No|InitialR2T=Yes|"             \
	"MaxOutstandingR2T=1|"

#define F_R ISCSI_CMD_F_READ
#define F_W ISCSI_CMD_F_WRITE
#define F_F ISCSI_FLAG_FINAL

/* TEST UNIT READY carrying an explicit CmdSN (c->cmdsn is left alone). */
static uint32_t send_tur_sn(struct fx *f, struct fx_conn *c, uint32_t cmdsn)
{
	uint8_t b[ISCSI_BHS_LEN], cdb[16] = {0};
	uint32_t save = c->cmdsn, itt;

	c->cmdsn = cmdsn;
	itt = fx_cmd_bhs(c, b, F_F, 0, cdb, 6);
	c->cmdsn = save;
	fx_send(f, c, b, NULL, 0);
	return itt;
}

/* WRITE(10) without data (R2T or unsolicited data to follow); returns the ITT. */
static uint32_t send_write(struct fx *f, struct fx_conn *c, uint32_t lba, uint32_t len,
			   uint32_t edtl, const uint8_t *imm, uint32_t imm_len, bool final)
{
	uint8_t b[ISCSI_BHS_LEN], cdb[16];
	uint32_t itt;

	fx_cdb10(cdb, 0x2a, lba, (uint16_t)(len / FX_BLOCK));
	itt = fx_cmd_bhs(c, b, (final ? F_F : 0) | F_W, edtl, cdb, 10);
	fx_send(f, c, b, imm, imm_len);
	return itt;
}

/* R2T (RFC 7143 11.8) with exact fields; returns its Target Transfer Tag. */
static uint32_t expect_r2t(struct fx *f, struct fx_conn *c, uint32_t itt, uint32_t r2tsn,
			   uint32_t off, uint32_t len, struct fx_pdu *p)
{
	uint8_t zero[8] = {0};

	fx_recv(f, c, p);
	assert_int_equal(p->bhs[0], ISCSI_OP_R2T);
	assert_int_equal(p->bhs[1], F_F);
	assert_int_equal(p->dlen, 0);
	assert_memory_equal(p->bhs + 8, zero, 8);
	assert_int_equal(get_be32(p->bhs + 16), itt);
	assert_int_not_equal(get_be32(p->bhs + 20), ISCSI_RSVD_TAG);
	assert_int_equal(get_be32(p->bhs + 24), c->exp_statsn); /* the next StatSN, unadvanced */
	assert_int_equal(get_be32(p->bhs + 36), r2tsn);
	assert_int_equal(get_be32(p->bhs + 40), off);
	assert_int_equal(get_be32(p->bhs + 44), len);
	return get_be32(p->bhs + 20);
}

static void assert_sn(const struct fx_pdu *p, uint32_t exp_cmdsn, uint32_t max_cmdsn)
{
	assert_int_equal(get_be32(p->bhs + 28), exp_cmdsn);
	assert_int_equal(get_be32(p->bhs + 32), max_cmdsn);
}

/* ---- CmdSN (RFC 7143 4.2.2.1) ---- */

static void test_cmdsn_in_order(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *c;

	f->cfg.iscsi.queue_depth = 4;
	fx_start(f);
	c = fx_session(f, NULL);
	for (int i = 0; i < 3; i++) {
		uint32_t sn = c->cmdsn++, itt = send_tur_sn(f, c, sn);

		fx_expect_rsp(f, c, itt, F_F, FX_GOOD, &p);
		assert_int_equal(p.dlen, 0);
		assert_sn(&p, sn + 1, sn + 1 + 4 - 1);
		assert_int_equal(get_be32(p.bhs + 36), 0); /* ExpDataSN */
		assert_int_equal(get_be32(p.bhs + 44), 0);
	}
}

/* CmdSN wraps through 0 with serial arithmetic (RFC 1982). */
static void test_cmdsn_wraps(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint32_t exp, max;
	struct fx_conn *c;

	f->cfg.iscsi.queue_depth = 4;
	fx_start(f);
	c = fx_connect(f);
	c->cmdsn = 0xfffffffeu;
	fx_login_full(f, c, NULL, false, &p);
	assert_sn(&p, 0xfffffffeu, 0x00000001u);
	fx_tur(f, c, 0x29, 0x00);
	for (int i = 0; i < 3; i++) {
		uint32_t sn = c->cmdsn++, itt = send_tur_sn(f, c, sn);

		fx_expect_rsp(f, c, itt, F_F, FX_GOOD, &p);
		assert_sn(&p, sn + 1, sn + 4);
	}
	assert_int_equal(c->cmdsn, 2);
	/* Below the window across the wrap: ignored. */
	send_tur_sn(f, c, 0xffffffffu);
	fx_ping(f, c, &exp, &max);
	assert_int_equal(exp, 2);
	assert_int_equal(max, 5);
}

/* Outside [ExpCmdSN, MaxCmdSN]: silently ignored, nothing answered, nothing consumed. */
static void test_cmdsn_out_of_window_dropped(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint32_t n, exp, max, itt;
	struct fx_conn *c;

	f->cfg.iscsi.queue_depth = 4;
	fx_start(f);
	c = fx_session(f, NULL);
	n = c->cmdsn;
	send_tur_sn(f, c, n + 4);	   /* MaxCmdSN + 1 */
	send_tur_sn(f, c, n - 1);	   /* already taken */
	send_tur_sn(f, c, n + 0x40000000); /* far ahead */
	fx_ping(f, c, &exp, &max);
	assert_int_equal(exp, n);
	assert_int_equal(max, n + 3);
	itt = send_tur_sn(f, c, n);
	c->cmdsn++;
	fx_expect_rsp(f, c, itt, F_F, FX_GOOD, &p);
	assert_sn(&p, n + 1, n + 4);
}

/*
 * A gap: the later command waits until the gap is filled, then both run in
 * CmdSN order; MaxCmdSN opens as their responses go out.
 */
static void test_cmdsn_gap_held(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint32_t n, exp, max_held, max, itt_a, itt_b;
	struct fx_conn *c;

	f->cfg.iscsi.queue_depth = 4;
	fx_start(f);
	c = fx_session(f, NULL);
	n = c->cmdsn;
	itt_b = send_tur_sn(f, c, n + 1);
	fx_ping(f, c, &exp, &max_held); /* nothing answered for the held command */
	assert_int_equal(exp, n);
	itt_a = send_tur_sn(f, c, n);
	c->cmdsn += 2;
	fx_expect_rsp(f, c, itt_a, F_F, FX_GOOD, &p);
	assert_sn(&p, n + 2, n + 2 + 4 - 1 - 1); /* B still in use */
	fx_expect_rsp(f, c, itt_b, F_F, FX_GOOD, &p);
	assert_sn(&p, n + 2, n + 2 + 4 - 1);
	fx_ping(f, c, &exp, &max);
	assert_int_equal(exp, n + 2);
	assert_int_equal(max, n + 5);
	/*
	 * RFC 7143 4.2.2.1: an initiator ignores a MaxCmdSN below the one it
	 * has, so the window may not shrink; the held command already lies
	 * inside [ExpCmdSN, MaxCmdSN] and must not count against it again.
	 */
	if (max_held != n + 3)
		assert_int_equal(max_held, n + 2); /* exactly the bug described below */
	FX_KNOWN_BUG(max_held == n + 3,
		     "session.c sess_max_cmdsn(): a command held for a CmdSN gap counts in "
		     "window_used, so MaxCmdSN shrinks from ExpCmdSN+3 to ExpCmdSN+2");
}

/*
 * The initiator may use the whole window it was given, in any order: with
 * ExpCmdSN N and MaxCmdSN N+3, commands N+1, N+2, N+3 and then N all run.
 */
static void test_cmdsn_gap_whole_window(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint32_t n, itt[4], ping;
	struct fx_conn *c;

	f->cfg.iscsi.queue_depth = 4;
	fx_start(f);
	c = fx_session(f, NULL);
	n = c->cmdsn;
	for (int i = 1; i <= 3; i++)
		itt[i] = send_tur_sn(f, c, n + (uint32_t)i);
	itt[0] = send_tur_sn(f, c, n);
	c->cmdsn += 4;
	for (int i = 0; i < 3; i++)
		fx_expect_rsp(f, c, itt[i], F_F, FX_GOOD, &p);
	ping = fx_nop_out(f, c, true, NULL, 0);
	fx_recv(f, c, &p);
	if (p.bhs[0] != ISCSI_OP_SCSI_RSP) { /* exactly the bug described below */
		assert_int_equal(get_be32(p.bhs + 16), ping);
		assert_int_equal(get_be32(p.bhs + 28), n + 3);
	}
	FX_KNOWN_BUG(p.bhs[0] == ISCSI_OP_SCSI_RSP,
		     "session.c sess_cmdsn_check(): CmdSN N+3, inside the advertised window "
		     "[N, N+3], is dropped because the two held commands before it shrank "
		     "MaxCmdSN; it is never answered and ExpCmdSN stays at N+3");
	assert_int_equal(get_be32(p.bhs + 16), itt[3]);
	assert_int_equal(p.bhs[3], FX_GOOD);
	assert_sn(&p, n + 4, n + 4 + 3);
	fx_expect_nop_in(f, c, ping, &p);
}

/*
 * A non-immediate NOP-Out takes a CmdSN (RFC 7143 11.18). Behind a gap it is
 * answered at once (it orders no SCSI work) and its CmdSN counts as consumed,
 * so the command that fills the gap moves ExpCmdSN past both and nothing
 * waits forever (RFC 7143 4.2.2.1).
 */
static void test_cmdsn_gap_nop_out_held(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN] = {0};
	uint32_t n, itt_nop, itt_tur, ping;
	bool got_nop = false, got_tur = false;
	struct fx_conn *c;

	fx_start(f);
	c = fx_session(f, NULL);
	n = c->cmdsn;
	itt_nop = c->itt++;
	b[0] = ISCSI_OP_NOP_OUT;
	b[1] = F_F;
	put_be32(b + 16, itt_nop);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	put_be32(b + 24, n + 1);
	put_be32(b + 28, c->exp_statsn);
	fx_send(f, c, b, NULL, 0);
	itt_tur = send_tur_sn(f, c, n);
	c->cmdsn += 2;
	for (int i = 0; i < 2; i++) {
		fx_recv(f, c, &p);
		if (p.bhs[0] == ISCSI_OP_NOP_IN) {
			assert_int_equal(get_be32(p.bhs + 16), itt_nop);
			got_nop = true;
		} else {
			assert_int_equal(p.bhs[0], ISCSI_OP_SCSI_RSP);
			assert_int_equal(get_be32(p.bhs + 16), itt_tur);
			assert_int_equal(p.bhs[3], 0);
			assert_int_equal(get_be32(p.bhs + 28), n + 2);
			got_tur = true;
		}
	}
	assert_true(got_nop && got_tur);
	ping = fx_nop_out(f, c, true, NULL, 0);
	fx_expect_nop_in(f, c, ping, &p);
	assert_int_equal(get_be32(p.bhs + 28), n + 2);
}

/*
 * MaxCmdSN = ExpCmdSN + queue_depth - commands in use - 1: with 4 writes
 * waiting for data the window is closed (MaxCmdSN = ExpCmdSN - 1), a fifth
 * command is dropped, and each response opens it by one.
 */
static void test_cmdsn_window_closes_and_opens(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	static uint8_t blk[FX_BLOCK];
	uint32_t n, itt[5], ttt[5], exp, max;
	struct fx_conn *c;

	f->cfg.iscsi.queue_depth = 4;
	fx_start(f);
	c = fx_session(f, KEYS_R2T);
	n = c->cmdsn;
	for (uint32_t k = 0; k < 4; k++) {
		itt[k] = send_write(f, c, 10 + k, FX_BLOCK, FX_BLOCK, NULL, 0, true);
		ttt[k] = expect_r2t(f, c, itt[k], 0, 0, FX_BLOCK, &p);
		assert_sn(&p, n + k + 1, n + 3);
	}
	/* Window closed: MaxCmdSN = ExpCmdSN - 1. */
	fx_ping(f, c, &exp, &max);
	assert_int_equal(exp, n + 4);
	assert_int_equal(max, n + 3);

	fx_pattern(blk, FX_BLOCK, 1);
	fx_data_out(f, c, itt[0], ttt[0], 0, 0, blk, FX_BLOCK, true);
	fx_expect_rsp(f, c, itt[0], F_F, FX_GOOD, &p);
	assert_sn(&p, n + 4, n + 4);
	assert_int_equal(get_be32(p.bhs + 36), 1); /* ExpDataSN: one R2T */

	itt[4] = send_write(f, c, 20, FX_BLOCK, FX_BLOCK, NULL, 0, true);
	ttt[4] = expect_r2t(f, c, itt[4], 0, 0, FX_BLOCK, &p);
	assert_sn(&p, n + 5, n + 4);
	for (uint32_t k = 1; k < 5; k++) {
		fx_data_out(f, c, itt[k], ttt[k], 0, 0, blk, FX_BLOCK, true);
		fx_expect_rsp(f, c, itt[k], F_F, FX_GOOD, &p);
		assert_sn(&p, n + 5, n + 4 + k);
	}
}

/* A command at ExpCmdSN while the window is closed is outside it: silently ignored. */
static void test_cmdsn_closed_window_drops(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint32_t n, ping;
	struct fx_conn *c;

	f->cfg.iscsi.queue_depth = 4;
	fx_start(f);
	c = fx_session(f, KEYS_R2T);
	n = c->cmdsn;
	for (uint32_t k = 0; k < 4; k++) {
		uint32_t itt = send_write(f, c, 10 + k, FX_BLOCK, FX_BLOCK, NULL, 0, true);

		expect_r2t(f, c, itt, 0, 0, FX_BLOCK, &p);
		assert_sn(&p, n + k + 1, n + 3);
	}
	send_tur_sn(f, c, n + 4); /* ExpCmdSN, but MaxCmdSN is n + 3 */
	ping = fx_nop_out(f, c, true, NULL, 0);
	fx_recv(f, c, &p);
	if (p.bhs[0] != ISCSI_OP_NOP_IN) { /* exactly the bug described below */
		assert_int_equal(p.bhs[0], ISCSI_OP_REJECT);
		assert_int_equal(p.bhs[2], ISCSI_REJECT_OUT_OF_RESOURCES);
	}
	FX_KNOWN_BUG(p.bhs[0] == ISCSI_OP_NOP_IN,
		     "session.c sess_cmdsn_check() accepts CmdSN == ExpCmdSN even when the "
		     "window is closed (MaxCmdSN = ExpCmdSN - 1); sess_scsi_cmd() then answers "
		     "Reject 0x0a instead of ignoring it (RFC 7143 4.2.2.1)");
	assert_int_equal(get_be32(p.bhs + 16), ping);
	assert_sn(&p, n + 4, n + 3);
}

/* ---- READ: Data-In (RFC 7143 11.7, 10.7) ---- */

static void write_chunks(struct fx *f, struct fx_conn *c, uint32_t lba, const uint8_t *data,
			 uint32_t len, uint32_t chunk)
{
	for (uint32_t o = 0; o < len; o += chunk)
		fx_write_imm(f, c, lba + o / FX_BLOCK, data + o, MIN(chunk, len - o));
}

/*
 * 45056 bytes at MaxRecvDataSegmentLength 8192 and MaxBurstLength 16384:
 * six Data-In, F at the end of each 16384-byte sequence and at the end,
 * status (GOOD) collapsed into the last one, the only one with a StatSN.
 */
static void test_read_datain_split(void **state)
{
	enum { LEN = 45056 };
	struct fx *f = *state;
	static struct fx_pdu p;
	static uint8_t data[LEN];
	const uint8_t flags[6] = {0, F_F, 0, F_F, 0, F_F | ISCSI_FLAG_DATA_STATUS};
	uint8_t b[ISCSI_BHS_LEN], cdb[16], zero[8] = {0};
	uint32_t itt, sn, statsn;
	struct fx_conn *c;

	fx_start(f);
	c = fx_session(f, KEYS_SPLIT);
	fx_pattern(data, LEN, 5);
	write_chunks(f, c, 100, data, LEN, 8192);
	fx_cdb10(cdb, 0x28, 100, LEN / FX_BLOCK);
	sn = c->cmdsn;
	statsn = c->exp_statsn;
	itt = fx_cmd_bhs(c, b, F_F | F_R, LEN, cdb, 10);
	fx_send(f, c, b, NULL, 0);
	for (uint32_t k = 0; k < 6; k++) {
		bool last = k == 5;

		fx_recv(f, c, &p);
		assert_int_equal(p.bhs[0], ISCSI_OP_DATA_IN);
		assert_int_equal(p.bhs[1], flags[k]);
		assert_int_equal(p.bhs[2], 0);
		assert_int_equal(p.bhs[3], FX_GOOD);
		assert_memory_equal(p.bhs + 8, zero, 8);
		assert_int_equal(get_be32(p.bhs + 16), itt);
		assert_int_equal(get_be32(p.bhs + 20), ISCSI_RSVD_TAG);
		if (last)
			assert_int_equal(get_be32(p.bhs + 24), statsn);
		/* The command holds its window slot until its status goes out. */
		assert_sn(&p, sn + 1, sn + 1 + 32 - (last ? 0 : 1) - 1);
		assert_int_equal(get_be32(p.bhs + 36), k);
		assert_int_equal(get_be32(p.bhs + 40), k * 8192);
		assert_int_equal(get_be32(p.bhs + 44), 0);
		assert_int_equal(p.dlen, last ? 4096 : 8192);
		assert_memory_equal(p.data, data + k * 8192, p.dlen);
	}
	/* StatSN advanced by exactly one for the command. */
	assert_int_equal(c->exp_statsn, statsn + 1);
	fx_ping(f, c, NULL, NULL);
}

/* EDTL above the transfer: underflow, residual = EDTL - transfer (RFC 7143 11.4.5.1). */
static void test_read_residual_underflow(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN], cdb[16], data[4096];
	struct fx_conn *c;
	uint32_t itt;

	fx_start(f);
	c = fx_session(f, NULL);
	fx_pattern(data, sizeof(data), 77);
	fx_write_imm(f, c, 300, data, sizeof(data));
	fx_cdb10(cdb, 0x28, 300, 8);
	itt = fx_cmd_bhs(c, b, F_F | F_R, 8192, cdb, 10);
	fx_send(f, c, b, NULL, 0);
	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_DATA_IN);
	assert_int_equal(get_be32(p.bhs + 16), itt);
	assert_int_equal(p.bhs[1], F_F | ISCSI_FLAG_DATA_STATUS | ISCSI_FLAG_RSP_UNDERFLOW);
	assert_int_equal(p.bhs[3], FX_GOOD);
	assert_int_equal(get_be32(p.bhs + 36), 0);
	assert_int_equal(get_be32(p.bhs + 44), 4096);
	assert_int_equal(p.dlen, 4096);
	assert_memory_equal(p.data, data, 4096);
}

/* EDTL below the transfer: only EDTL bytes go out, overflow, residual = the rest. */
static void test_read_residual_overflow(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN], cdb[16], data[4096];
	struct fx_conn *c;
	uint32_t itt;

	fx_start(f);
	c = fx_session(f, NULL);
	fx_pattern(data, sizeof(data), 78);
	fx_write_imm(f, c, 310, data, sizeof(data));
	fx_cdb10(cdb, 0x28, 310, 8);
	itt = fx_cmd_bhs(c, b, F_F | F_R, 2048, cdb, 10);
	fx_send(f, c, b, NULL, 0);
	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_DATA_IN);
	assert_int_equal(get_be32(p.bhs + 16), itt);
	assert_int_equal(p.bhs[1], F_F | ISCSI_FLAG_DATA_STATUS | ISCSI_FLAG_RSP_OVERFLOW);
	assert_int_equal(p.bhs[3], FX_GOOD);
	assert_int_equal(get_be32(p.bhs + 40), 0);
	assert_int_equal(get_be32(p.bhs + 44), 2048);
	assert_int_equal(p.dlen, 2048);
	assert_memory_equal(p.data, data, 2048);
	fx_ping(f, c, NULL, NULL); /* nothing else was sent for it */
}

/* ---- WRITE: immediate, unsolicited and solicited data (RFC 7143 10.7, 11.7, 11.8) ---- */

static void test_write_immediate_only(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t data[4096], back[4096];
	struct fx_conn *c;
	uint32_t itt;

	fx_start(f);
	c = fx_session(f, NULL);
	fx_pattern(data, sizeof(data), 3);
	itt = send_write(f, c, 400, sizeof(data), sizeof(data), data, sizeof(data), true);
	fx_expect_rsp(f, c, itt, F_F, FX_GOOD, &p);
	assert_int_equal(p.dlen, 0);
	assert_int_equal(get_be32(p.bhs + 36), 0); /* no R2T */
	assert_int_equal(get_be32(p.bhs + 44), 0);
	fx_read_blocks(f, c, 400, back, sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
}

/*
 * InitialR2T=No, FirstBurstLength 16384: 8192 immediate + 8192 unsolicited
 * Data-Out, then R2Ts for the rest in MaxBurstLength pieces.
 */
static void test_write_unsolicited_then_r2t(void **state)
{
	enum { LEN = 40960 };
	struct fx *f = *state;
	static struct fx_pdu p;
	static uint8_t data[LEN], back[LEN];
	uint32_t itt, ttt, sn;
	struct fx_conn *c;

	fx_start(f);
	c = fx_session(f, KEYS_SPLIT);
	fx_pattern(data, LEN, 11);
	sn = c->cmdsn;
	itt = send_write(f, c, 500, LEN, LEN, data, 8192, false);
	fx_data_out(f, c, itt, ISCSI_RSVD_TAG, 0, 8192, data + 8192, 8192, true);
	ttt = expect_r2t(f, c, itt, 0, 16384, 16384, &p);
	assert_sn(&p, sn + 1, sn + 1 + 32 - 1 - 1);
	fx_data_out(f, c, itt, ttt, 0, 16384, data + 16384, 8192, false);
	fx_data_out(f, c, itt, ttt, 1, 24576, data + 24576, 8192, true);
	ttt = expect_r2t(f, c, itt, 1, 32768, 8192, &p);
	fx_data_out(f, c, itt, ttt, 0, 32768, data + 32768, 8192, true);
	fx_expect_rsp(f, c, itt, F_F, FX_GOOD, &p);
	assert_int_equal(get_be32(p.bhs + 36), 2); /* ExpDataSN: two R2Ts */
	assert_int_equal(get_be32(p.bhs + 44), 0);
	fx_read_blocks(f, c, 500, back, LEN);
	assert_memory_equal(back, data, LEN);
}

/* InitialR2T=Yes, ImmediateData=No, MaxOutstandingR2T=1: one R2T at a time. */
static void test_write_r2t_solicited(void **state)
{
	enum { LEN = 40960 };
	struct fx *f = *state;
	static struct fx_pdu p;
	static uint8_t data[LEN], back[LEN];
	uint32_t itt, ttt;
	struct fx_conn *c;

	fx_start(f);
	c = fx_session(f, KEYS_R2T);
	fx_pattern(data, LEN, 13);
	itt = send_write(f, c, 600, LEN, LEN, NULL, 0, true);
	for (uint32_t r = 0; r < 3; r++) {
		uint32_t off = r * 16384, len = MIN(16384u, LEN - off);

		ttt = expect_r2t(f, c, itt, r, off, len, &p);
		/* MaxOutstandingR2T=1: no further R2T before this one's data is in. */
		fx_ping(f, c, NULL, NULL);
		for (uint32_t d = 0; d * 8192 < len; d++)
			fx_data_out(f, c, itt, ttt, d, off + d * 8192, data + off + d * 8192, 8192,
				    (d + 1) * 8192 >= len);
	}
	fx_expect_rsp(f, c, itt, F_F, FX_GOOD, &p);
	assert_int_equal(get_be32(p.bhs + 36), 3);
	fx_read_blocks(f, c, 600, back, LEN);
	assert_memory_equal(back, data, LEN);
}

/* A Data-Out with the wrong DataSN: ABORTED COMMAND, DATA PHASE ERROR; nothing written. */
static void test_write_wrong_datasn(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t data[8192], back[8192], zero[8192] = {0};
	uint32_t itt, ttt;
	struct fx_conn *c;

	fx_start(f);
	c = fx_session(f, KEYS_R2T);
	fx_pattern(data, sizeof(data), 17);
	itt = send_write(f, c, 700, sizeof(data), sizeof(data), NULL, 0, true);
	ttt = expect_r2t(f, c, itt, 0, 0, sizeof(data), &p);
	fx_data_out(f, c, itt, ttt, 1, 0, data, sizeof(data), true);
	fx_expect_sense(f, c, itt, 0x0b, 0x4b, 0x00);
	fx_read_blocks(f, c, 700, back, sizeof(back));
	assert_memory_equal(back, zero, sizeof(zero));
}

/*
 * EDTL 700 for a 1024-byte WRITE(10): GOOD with overflow 324, and only the
 * first 700 bytes written (the partial block merged with what was there).
 */
static void test_write_edtl_below_cdb(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t old[1024], data[700], back[1024];
	struct fx_conn *c;
	uint32_t itt;

	fx_start(f);
	c = fx_session(f, NULL);
	fx_pattern(old, sizeof(old), 21);
	fx_write_imm(f, c, 800, old, sizeof(old));
	fx_pattern(data, sizeof(data), 22);
	itt = send_write(f, c, 800, 1024, sizeof(data), data, sizeof(data), true);
	fx_expect_rsp(f, c, itt, F_F | ISCSI_FLAG_RSP_OVERFLOW, FX_GOOD, &p);
	assert_int_equal(get_be32(p.bhs + 44), 1024 - 700);
	assert_int_equal(p.dlen, 0);
	fx_read_blocks(f, c, 800, back, sizeof(back));
	assert_memory_equal(back, data, 700);
	assert_memory_equal(back + 700, old + 700, 1024 - 700);
}

/* ---- SCSI errors (RFC 7143 11.4.7) ---- */

/* The first command of a new session sees POWER ON (29/00); errors carry fixed sense. */
static void test_scsi_ua_then_sense(void **state)
{
	struct fx *f = *state;
	uint8_t b[ISCSI_BHS_LEN], cdb[16];
	struct fx_conn *c;
	uint32_t itt;

	fx_start(f);
	c = fx_connect(f);
	fx_login(f, c, NULL);
	fx_tur(f, c, 0x29, 0x00);
	fx_tur(f, c, 0, 0);
	/* READ past the last block: ILLEGAL REQUEST, LBA OUT OF RANGE. */
	fx_cdb10(cdb, 0x28, FX_NBLOCKS - 1, 2);
	itt = fx_cmd_bhs(c, b, F_F | F_R, 1024, cdb, 10);
	fx_send(f, c, b, NULL, 0);
	/* Nothing transferred of the 1024 bytes expected: underflow 1024 (RFC 7143 11.4.5.1). */
	fx_expect_sense_resid(f, c, itt, F_F | ISCSI_FLAG_RSP_UNDERFLOW, 1024, 0x05, 0x21, 0x00);
	fx_tur(f, c, 0, 0);
}

/* ---- NOP (RFC 7143 11.18, 11.19) ---- */

static void test_nop_out_echo(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN] = {0};
	const uint8_t lun[8] = {0, 1, 0, 0, 0, 0, 0, 0};
	struct fx_conn *c;
	uint32_t itt, sn;

	fx_start(f);
	c = fx_session(f, NULL);
	sn = c->cmdsn;
	itt = c->itt++;
	b[0] = ISCSI_OP_NOP_OUT;
	b[1] = F_F;
	memcpy(b + 8, lun, 8);
	put_be32(b + 16, itt);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	put_be32(b + 24, c->cmdsn++);
	put_be32(b + 28, c->exp_statsn);
	fx_send(f, c, b, "ping-data-17!", 13);
	fx_expect_nop_in(f, c, itt, &p);
	assert_memory_equal(p.bhs + 8, lun, 8);
	assert_int_equal(p.dlen, 13);
	assert_memory_equal(p.data, "ping-data-17!", 13);
	assert_sn(&p, sn + 1, sn + 1 + 31);
}

/* ---- Task management (RFC 7143 11.5, 11.6) ---- */

static void expect_tmf_rsp(struct fx *f, struct fx_conn *c, uint32_t itt, uint8_t response)
{
	static struct fx_pdu p;

	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_TASK_MGMT_RSP);
	assert_int_equal(p.bhs[1], F_F);
	assert_int_equal(p.bhs[2], response);
	assert_int_equal(get_be32(p.bhs + 16), itt);
	assert_int_equal(p.dlen, 0);
	assert_int_equal(get_be32(p.bhs + 28), c->cmdsn);
}

/* RFC 7143 11.5.1: an unknown task whose RefCmdSN is below ExpCmdSN does not exist. */
static void test_tmf_abort_unknown_task(void **state)
{
	struct fx *f = *state;
	struct fx_conn *c;
	uint32_t itt;

	fx_start(f);
	c = fx_session(f, NULL);
	itt = fx_tmf(f, c, ISCSI_TMF_ABORT_TASK, 0xdead, c->cmdsn - 1);
	expect_tmf_rsp(f, c, itt, ISCSI_TMF_RSP_NO_TASK);
	fx_ping(f, c, NULL, NULL);
}

/* ABORT TASK of a write waiting for data: complete, no response for it, slot freed. */
static void test_tmf_abort_waiting_write(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint32_t itt, sn, tmf, exp, max;
	struct fx_conn *c;

	f->cfg.iscsi.queue_depth = 4;
	fx_start(f);
	c = fx_session(f, KEYS_R2T);
	sn = c->cmdsn;
	itt = send_write(f, c, 900, 4096, 4096, NULL, 0, true);
	expect_r2t(f, c, itt, 0, 0, 4096, &p);
	assert_sn(&p, sn + 1, sn + 3);
	tmf = fx_tmf(f, c, ISCSI_TMF_ABORT_TASK, itt, sn);
	expect_tmf_rsp(f, c, tmf, ISCSI_TMF_RSP_COMPLETE);
	fx_ping(f, c, &exp, &max);
	assert_int_equal(exp, sn + 1);
	assert_int_equal(max, sn + 4);
}

/* LOGICAL UNIT RESET: function complete, then the next command sees 29/03. */
static void test_tmf_lun_reset(void **state)
{
	struct fx *f = *state;
	struct fx_conn *c;
	uint32_t itt;

	fx_start(f);
	c = fx_session(f, NULL);
	itt = fx_tmf(f, c, ISCSI_TMF_LOGICAL_UNIT_RESET, ISCSI_RSVD_TAG, c->cmdsn);
	expect_tmf_rsp(f, c, itt, ISCSI_TMF_RSP_COMPLETE);
	fx_tur(f, c, 0x29, 0x03);
	fx_tur(f, c, 0, 0);
}

/* ---- Text and Logout ---- */

/* In a normal session SendTargets=All names only the target logged in to. */
static void test_text_sendtargets_normal(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	char want[256], got[512];
	struct fx_conn *c;
	uint32_t itt, sn;

	fx_start(f);
	c = fx_session(f, NULL);
	sn = c->cmdsn;
	itt = fx_text_req(f, c, "SendTargets=All|");
	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_TEXT_RSP);
	assert_int_equal(p.bhs[1], F_F);
	assert_int_equal(get_be32(p.bhs + 16), itt);
	assert_int_equal(get_be32(p.bhs + 20), ISCSI_RSVD_TAG);
	assert_sn(&p, sn + 1, sn + 1 + 31);
	snprintf(want, sizeof(want), "TargetName=%s|TargetAddress=127.0.0.1:%u,1|", FX_IQN,
		 f->cfg.portals[0].port);
	fx_flat(got, sizeof(got), p.data, p.dlen);
	assert_string_equal(got, want);
}

/* Logout: response 0 (RFC 7143 11.15), then the target closes the connection. */
static void test_logout(void **state)
{
	struct fx *f = *state;
	struct fx_conn *c;

	fx_start(f);
	c = fx_session(f, NULL);
	fx_logout_ok(f, c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_cmdsn_in_order),
		T(test_cmdsn_wraps),
		T(test_cmdsn_out_of_window_dropped),
		T(test_cmdsn_gap_held),
		T(test_cmdsn_gap_whole_window),
		T(test_cmdsn_gap_nop_out_held),
		T(test_cmdsn_window_closes_and_opens),
		T(test_cmdsn_closed_window_drops),
		T(test_read_datain_split),
		T(test_read_residual_underflow),
		T(test_read_residual_overflow),
		T(test_write_immediate_only),
		T(test_write_unsolicited_then_r2t),
		T(test_write_r2t_solicited),
		T(test_write_wrong_datasn),
		T(test_write_edtl_below_cdb),
		T(test_scsi_ua_then_sense),
		T(test_nop_out_echo),
		T(test_tmf_abort_unknown_task),
		T(test_tmf_abort_waiting_write),
		T(test_tmf_lun_reset),
		T(test_text_sendtargets_normal),
		T(test_logout),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
