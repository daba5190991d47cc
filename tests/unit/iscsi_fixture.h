/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the iSCSI transport tests (test_conn.c, test_session.c,
 * test_iscsi_tgt.c): a real iscsi_tgt on 127.0.0.1 with one 16 MiB file LUN
 * in a mkdtemp directory, driven by reactor_poll_once() from the test thread,
 * and raw initiator sockets with PDU builders (RFC 7143 11).
 *
 * Waiting never depends on timing: every read loops (stepping the reactor)
 * until its bytes arrive or a deadline of several seconds passes, which only
 * a broken target reaches.
 *
 * Every PDU received through fx_recv() has its StatSN checked against the
 * connection's ExpStatSN (RFC 7143 4.2.2.2: StatSN advances by one per
 * response and is carried, unadvanced, by R2T and by a target NOP-In ping);
 * so StatSN continuity is asserted in every test.
 */
#ifndef TESTS_UNIT_ISCSI_FIXTURE_H
#define TESTS_UNIT_ISCSI_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/byteorder.h"
#include "lib/log.h"
#include "lib/reactor.h"
#include "target/config.h"
#include "target/iscsi/iscsi_tgt.h"
#include "target/iscsi/pdu.h"

#define FX_API static __attribute__((unused))

#define FX_IQN	     "iqn.2024-01.test.clusterd:disk"
#define FX_INIT	     "iqn.2024-01.test.clusterd:init"
#define FX_LUN_BYTES (16u << 20)
#define FX_BLOCK     512u
#define FX_NBLOCKS   (FX_LUN_BYTES / FX_BLOCK)
#define FX_WAIT_MS   5000 /* a deadline, never a duration under test */
#define FX_DATA_MAX  (256u * 1024)
#define FX_MAX_CONNS 8
#define FX_CMDSN0    0x100u  /* first CmdSN of every login */
#define FX_STATSN0   0x5000u /* ExpStatSN of the first login request */

/* SAM status, sense keys. */
#define FX_GOOD		   0x00
#define FX_CHECK_CONDITION 0x02

/* Operational keys every normal login offers unless a test gives its own ('|' is NUL). */
#define FX_KEYS_DEFAULT                                                                            \
	"HeaderDigest=None|DataDigest=None|MaxRecvDataSegmentLength=8192|"                         \
	"MaxBurstLength=262144|FirstBurstLength=65536|ImmediateData=Yes|InitialR2T=No|"            \
	"MaxOutstandingR2T=1|ErrorRecoveryLevel=0|"

struct fx_pdu {
	uint8_t bhs[ISCSI_BHS_LEN];
	uint32_t dlen;
	uint8_t data[FX_DATA_MAX];
};

struct fx_conn {
	int fd;
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t cmdsn;	     /* CmdSN of the next non-immediate command */
	uint32_t exp_statsn; /* StatSN the next response must carry */
	uint32_t itt;	     /* next initiator task tag */
	bool stat_known;     /* exp_statsn is set (after the first login response) */
	char keys[8192];     /* text of the last login response, NULs as '|' */
};

struct fx {
	char dir[64];
	struct tgt_config cfg;
	struct reactor *r;
	struct iscsi_tgt *t;
	struct fx_conn conns[FX_MAX_CONNS];
	unsigned nconns;
	unsigned stop_calls;
	bool shut;
};

FX_API uint64_t fx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One reactor pass, then up to ms milliseconds waiting for fd to become readable. */
FX_API void fx_pump(struct fx *f, int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	assert_true(reactor_poll_once(f->r, false) >= 0);
	if (fd >= 0)
		poll(&pfd, 1, ms);
	else if (ms)
		usleep((useconds_t)ms * 1000);
}

/* Steps the reactor for about ms milliseconds (letting work happen, not timing it). */
FX_API void fx_run_for(struct fx *f, unsigned ms)
{
	uint64_t end = fx_now_ms() + ms;

	while (fx_now_ms() < end)
		fx_pump(f, -1, 1);
}

/* ---- fixture lifecycle ---- */

FX_API int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tgt_config *c;

	if (!f)
		return -1;
	if (getenv("FX_LOG"))
		log_init("fx", true, true);
	snprintf(f->dir, sizeof(f->dir), "/tmp/fx_iscsi.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	c = &f->cfg;
	tgt_config_defaults(c);
	snprintf(c->iqn, sizeof(c->iqn), "%s", FX_IQN);
	c->nportals = 1;
	snprintf(c->portals[0].addr, sizeof(c->portals[0].addr), "127.0.0.1");
	c->portals[0].tpgt = 1;
	c->portals[0].rel_port_id = 1;
	c->nluns = 1;
	snprintf(c->luns[0].path, sizeof(c->luns[0].path), "%s/lun0", f->dir);
	c->luns[0].size = FX_LUN_BYTES;
	c->luns[0].block_size = FX_BLOCK;
	c->luns[0].no_direct = true;
	c->luns[0].lu_id = 0x0123456789abcdefull;
	c->iscsi.max_recv_dsl = 262144;
	c->iscsi.max_burst = 262144;
	c->iscsi.first_burst = 65536;
	c->iscsi.queue_depth = 32;
	c->iscsi.nop_interval_ms = 0; /* tests that want pings turn them on */
	c->iscsi.login_timeout_ms = 15000;
	for (unsigned i = 0; i < FX_MAX_CONNS; i++)
		f->conns[i].fd = -1;
	if (reactor_create(&f->r, 256)) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

FX_API uint16_t fx_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Creates and starts the target with f->cfg as the test left it. */
FX_API void fx_start(struct fx *f)
{
	char err[512] = "";
	int rc = -EADDRINUSE;

	for (int i = 0; i < 10 && rc == -EADDRINUSE; i++) {
		f->cfg.portals[0].port = fx_free_port();
		rc = iscsi_tgt_create(&f->t, &f->cfg, f->r, err, sizeof(err));
	}
	if (rc)
		fail_msg("iscsi_tgt_create: %s", err);
	assert_int_equal(iscsi_tgt_start(f->t), 0);
}

FX_API void fx_stop_done(void *arg)
{
	struct fx *f = arg;

	f->stop_calls++;
}

/* Graceful shutdown with grace_ms; returns once done() ran (asserted within the deadline). */
FX_API void fx_shutdown_wait(struct fx *f)
{
	uint64_t end = fx_now_ms() + FX_WAIT_MS;

	while (!f->stop_calls && fx_now_ms() < end)
		fx_pump(f, -1, 1);
	assert_int_equal(f->stop_calls, 1);
}

FX_API int fx_teardown(void **state)
{
	struct fx *f = *state;
	char path[TGT_PATH_MAX];

	for (unsigned i = 0; i < FX_MAX_CONNS; i++)
		if (f->conns[i].fd >= 0)
			close(f->conns[i].fd);
	if (f->t && !f->shut) {
		uint64_t end = fx_now_ms() + FX_WAIT_MS;

		f->shut = true;
		iscsi_tgt_shutdown(f->t, 0, fx_stop_done, f);
		while (!f->stop_calls && fx_now_ms() < end)
			fx_pump(f, -1, 1);
	}
	reactor_destroy(f->r);
	if (f->t && f->stop_calls)
		iscsi_tgt_destroy(f->t);
	snprintf(path, sizeof(path), "%s/lun0", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- sockets ---- */

FX_API struct fx_conn *fx_connect(struct fx *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct fx_conn *c;
	int fd;

	assert_true(f->nconns < FX_MAX_CONNS);
	c = &f->conns[f->nconns];
	memset(c, 0, sizeof(*c));
	c->isid[0] = 0x80; /* random-qualifier ISID format (RFC 7143 11.12.5) */
	c->isid[1] = 0x12;
	c->isid[2] = 0x34;
	c->isid[3] = 0x56;
	c->isid[4] = 0x00;
	c->isid[5] = (uint8_t)f->nconns;
	c->cmdsn = FX_CMDSN0;
	c->exp_statsn = FX_STATSN0;
	c->itt = 0x1000u * (f->nconns + 1);
	f->nconns++;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	a.sin_port = htons(f->cfg.portals[0].port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	c->fd = fd;
	return c;
}

FX_API void fx_close(struct fx_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

FX_API void fx_send_raw(struct fx *f, struct fx_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t end = fx_now_ms() + FX_WAIT_MS;
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, p + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail_msg("send: %s", strerror(errno));
		assert_true(fx_now_ms() < end);
		fx_pump(f, -1, 1);
	}
}

/* Sends one PDU: the BHS (DataSegmentLength filled in here) and the padded data. */
FX_API void fx_send(struct fx *f, struct fx_conn *c, uint8_t *bhs, const void *data, uint32_t dlen)
{
	static uint8_t buf[ISCSI_BHS_LEN + FX_DATA_MAX + 4];
	uint32_t padded = (dlen + 3) & ~3u;

	assert_true(dlen <= FX_DATA_MAX);
	put_be24(bhs + 5, dlen);
	memcpy(buf, bhs, ISCSI_BHS_LEN);
	if (dlen)
		memcpy(buf + ISCSI_BHS_LEN, data, dlen);
	memset(buf + ISCSI_BHS_LEN + dlen, 0, padded - dlen);
	fx_send_raw(f, c, buf, ISCSI_BHS_LEN + padded);
}

/* Reads n bytes; 0, -ETIMEDOUT (nothing came), -EPIPE (EOF/reset before any byte). */
FX_API int fx_read(struct fx *f, struct fx_conn *c, uint8_t *buf, size_t n, unsigned first_ms)
{
	uint64_t end = fx_now_ms() + first_ms;
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(c->fd, buf + got, n - got, MSG_DONTWAIT);

		if (r > 0) {
			if (!got)
				end = fx_now_ms() + FX_WAIT_MS; /* the rest follows promptly */
			got += (size_t)r;
			continue;
		}
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			if (got)
				fail_msg("connection ended inside a PDU");
			return -EPIPE;
		}
		if (errno != EAGAIN && errno != EINTR)
			fail_msg("recv: %s", strerror(errno));
		if (fx_now_ms() >= end) {
			if (got)
				fail_msg("PDU incomplete after %u ms", FX_WAIT_MS);
			return -ETIMEDOUT;
		}
		fx_pump(f, c->fd, 1);
	}
	return 0;
}

/* Which target PDUs advance StatSN (RFC 7143 4.2.2.2, 11.7.3, 11.19). */
FX_API bool fx_pdu_advances(const uint8_t *b)
{
	switch (b[0] & ISCSI_OPCODE_MASK) {
	case ISCSI_OP_DATA_IN:
		return b[1] & ISCSI_FLAG_DATA_STATUS;
	case ISCSI_OP_R2T:
		return false;
	case ISCSI_OP_NOP_IN:
		return get_be32(b + 16) != ISCSI_RSVD_TAG;
	default:
		return true;
	}
}

FX_API bool fx_pdu_has_statsn(const uint8_t *b)
{
	/* A Data-In without status has no StatSN (RFC 7143 11.7.4: reserved then). */
	return (b[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_DATA_IN || (b[1] & ISCSI_FLAG_DATA_STATUS);
}

/*
 * Receives one PDU, waiting up to first_ms for it to start. Returns 0, or
 * -ETIMEDOUT / -EPIPE. Checks StatSN (see the file comment).
 */
FX_API int fx_recv_try(struct fx *f, struct fx_conn *c, struct fx_pdu *p, unsigned first_ms)
{
	uint32_t padded;
	uint8_t pad[4];
	int rc;

	rc = fx_read(f, c, p->bhs, ISCSI_BHS_LEN, first_ms);
	if (rc)
		return rc;
	assert_int_equal(p->bhs[4], 0); /* no AHS from this target */
	p->dlen = get_be24(p->bhs + 5);
	if (p->dlen > FX_DATA_MAX)
		fail_msg("data segment of %u bytes", p->dlen);
	padded = (p->dlen + 3) & ~3u;
	if (p->dlen)
		assert_int_equal(fx_read(f, c, p->data, p->dlen, FX_WAIT_MS), 0);
	if (padded > p->dlen) {
		assert_int_equal(fx_read(f, c, pad, padded - p->dlen, FX_WAIT_MS), 0);
		/* RFC 7143 11.2.3: padding bytes are zero. */
		for (uint32_t i = 0; i < padded - p->dlen; i++)
			assert_int_equal(pad[i], 0);
	}
	if (!fx_pdu_has_statsn(p->bhs))
		return 0;
	if (c->stat_known)
		assert_int_equal(get_be32(p->bhs + 24), c->exp_statsn);
	else
		c->exp_statsn = get_be32(p->bhs + 24);
	c->stat_known = true;
	if (fx_pdu_advances(p->bhs))
		c->exp_statsn++;
	return 0;
}

FX_API void fx_recv(struct fx *f, struct fx_conn *c, struct fx_pdu *p)
{
	int rc = fx_recv_try(f, c, p, FX_WAIT_MS);

	if (rc)
		fail_msg("no PDU from the target: %s", strerror(-rc));
}

/* The target closes the connection (no PDU may come first). */
FX_API void fx_expect_eof(struct fx *f, struct fx_conn *c)
{
	static struct fx_pdu p;
	int rc = fx_recv_try(f, c, &p, FX_WAIT_MS);

	if (rc == 0)
		fail_msg("expected the connection to close, got opcode 0x%02x", p.bhs[0]);
	assert_int_equal(rc, -EPIPE);
}

/* ---- text ---- */

/* "a=1|b=2|" -> "a=1\0b=2\0"; returns the length. */
FX_API uint32_t fx_text(char *out, size_t cap, const char *bars)
{
	size_t n = strlen(bars);

	assert_true(n < cap);
	for (size_t i = 0; i < n; i++)
		out[i] = bars[i] == '|' ? '\0' : bars[i];
	return (uint32_t)n;
}

/* A data segment as '|'-separated text (for assert_string_equal). */
FX_API void fx_flat(char *out, size_t cap, const uint8_t *data, uint32_t len)
{
	assert_true(len < cap);
	for (uint32_t i = 0; i < len; i++)
		out[i] = data[i] ? (char)data[i] : '|';
	out[len] = 0;
}

/* ---- login (RFC 7143 11.12, 11.13) ---- */

#define FX_LOGIN_SEC_TO_OP  0x81 /* T, CSG 0, NSG 1 */
#define FX_LOGIN_SEC_TO_FFP 0x83
#define FX_LOGIN_OP_TO_FFP  0x87

FX_API void fx_login_bhs(struct fx_conn *c, uint8_t *b, uint8_t flags)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[0] = ISCSI_FLAG_IMMEDIATE | ISCSI_OP_LOGIN_REQ;
	b[1] = flags;
	memcpy(b + 8, c->isid, 6);
	put_be16(b + 14, c->tsih);
	put_be32(b + 16, c->itt);
	put_be16(b + 20, 0); /* CID */
	put_be32(b + 24, c->cmdsn);
	put_be32(b + 28, c->exp_statsn);
}

/* One Login Request with the given text; the response lands in *p (and c->keys). */
FX_API void fx_login_step(struct fx *f, struct fx_conn *c, uint8_t flags, const char *bars,
			  struct fx_pdu *p)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	char text[8192];
	uint32_t n = fx_text(text, sizeof(text), bars);

	fx_login_bhs(c, bhs, flags);
	fx_send(f, c, bhs, text, n);
	fx_recv(f, c, p);
	fx_flat(c->keys, sizeof(c->keys), p->data, p->dlen);
	assert_int_equal(p->bhs[0], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(get_be32(p->bhs + 16), c->itt);
	assert_memory_equal(p->bhs + 8, c->isid, 6);
	/* ExpCmdSN is the login's CmdSN; the window opens with the queue depth. */
	assert_int_equal(get_be32(p->bhs + 28), c->cmdsn);
}

/*
 * A complete normal-session login with the operational keys `ops` (NULL: the
 * defaults), in one stage (operational only) or two (security, then
 * operational). Asserts success and returns the final response in *p.
 */
FX_API void fx_login_full(struct fx *f, struct fx_conn *c, const char *ops, bool two_stage,
			  struct fx_pdu *p)
{
	char text[8192];

	if (!ops)
		ops = FX_KEYS_DEFAULT;
	if (two_stage) {
		fx_login_step(f, c, FX_LOGIN_SEC_TO_OP,
			      "InitiatorName=" FX_INIT "|TargetName=" FX_IQN
			      "|SessionType=Normal|AuthMethod=None|",
			      p);
		assert_int_equal(p->bhs[1], FX_LOGIN_SEC_TO_OP);
		assert_int_equal(get_be16(p->bhs + 36), 0);
		snprintf(text, sizeof(text), "%s", ops);
	} else {
		snprintf(text, sizeof(text),
			 "InitiatorName=" FX_INIT "|TargetName=" FX_IQN "|SessionType=Normal|%s",
			 ops);
	}
	fx_login_step(f, c, FX_LOGIN_OP_TO_FFP, text, p);
	if (get_be16(p->bhs + 36))
		fail_msg("login refused: status 0x%04x", get_be16(p->bhs + 36));
	assert_int_equal(p->bhs[1], FX_LOGIN_OP_TO_FFP);
	c->tsih = get_be16(p->bhs + 14);
	assert_int_not_equal(c->tsih, 0);
}

FX_API void fx_login(struct fx *f, struct fx_conn *c, const char *ops)
{
	static struct fx_pdu p;

	fx_login_full(f, c, ops, false, &p);
}

/* ---- full feature PDUs ---- */

/* SCSI Command (RFC 7143 11.3); returns the ITT. CmdSN advances unless immediate. */
FX_API uint32_t fx_cmd_bhs(struct fx_conn *c, uint8_t *b, uint8_t flags, uint32_t edtl,
			   const uint8_t *cdb, unsigned cdb_len)
{
	uint32_t itt = c->itt++;

	memset(b, 0, ISCSI_BHS_LEN);
	b[0] = ISCSI_OP_SCSI_CMD;
	b[1] = flags;
	put_be32(b + 16, itt);
	put_be32(b + 20, edtl);
	put_be32(b + 24, c->cmdsn++);
	put_be32(b + 28, c->exp_statsn);
	memcpy(b + 32, cdb, cdb_len);
	return itt;
}

FX_API void fx_cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, blocks);
}

/* Data-Out (RFC 7143 11.7). */
FX_API void fx_data_out(struct fx *f, struct fx_conn *c, uint32_t itt, uint32_t ttt,
			uint32_t datasn, uint32_t off, const uint8_t *data, uint32_t len,
			bool final)
{
	uint8_t b[ISCSI_BHS_LEN] = {0};

	b[0] = ISCSI_OP_DATA_OUT;
	b[1] = final ? ISCSI_FLAG_FINAL : 0;
	put_be32(b + 16, itt);
	put_be32(b + 20, ttt);
	put_be32(b + 28, c->exp_statsn);
	put_be32(b + 36, datasn);
	put_be32(b + 40, off);
	fx_send(f, c, b, data, len);
}

/* NOP-Out asking for an answer (RFC 7143 11.18); immediate unless told otherwise. */
FX_API uint32_t fx_nop_out(struct fx *f, struct fx_conn *c, bool immediate, const void *data,
			   uint32_t len)
{
	uint8_t b[ISCSI_BHS_LEN] = {0};
	uint32_t itt = c->itt++;

	b[0] = ISCSI_OP_NOP_OUT | (immediate ? ISCSI_FLAG_IMMEDIATE : 0);
	b[1] = ISCSI_FLAG_FINAL;
	put_be32(b + 16, itt);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	put_be32(b + 24, immediate ? c->cmdsn : c->cmdsn++);
	put_be32(b + 28, c->exp_statsn);
	fx_send(f, c, b, data, len);
	return itt;
}

/* The answer to fx_nop_out(): a NOP-In with our ITT and no TTT (RFC 7143 11.19). */
FX_API void fx_expect_nop_in(struct fx *f, struct fx_conn *c, uint32_t itt, struct fx_pdu *p)
{
	fx_recv(f, c, p);
	assert_int_equal(p->bhs[0], ISCSI_OP_NOP_IN);
	assert_int_equal(p->bhs[1], ISCSI_FLAG_FINAL);
	assert_int_equal(get_be32(p->bhs + 16), itt);
	assert_int_equal(get_be32(p->bhs + 20), ISCSI_RSVD_TAG);
}

/*
 * Proves that nothing was sent since the last PDU read: an immediate ping
 * (which the target answers at once) comes back as the very next PDU. Returns
 * the NOP-In's ExpCmdSN and MaxCmdSN through the pointers (may be NULL).
 */
FX_API void fx_ping(struct fx *f, struct fx_conn *c, uint32_t *exp_cmdsn, uint32_t *max_cmdsn)
{
	static struct fx_pdu p;
	uint32_t itt = fx_nop_out(f, c, true, NULL, 0);

	fx_expect_nop_in(f, c, itt, &p);
	assert_int_equal(p.dlen, 0);
	if (exp_cmdsn)
		*exp_cmdsn = get_be32(p.bhs + 28);
	if (max_cmdsn)
		*max_cmdsn = get_be32(p.bhs + 32);
}

/* SCSI Response (RFC 7143 11.4) for itt with the given flags/status. */
FX_API void fx_expect_rsp(struct fx *f, struct fx_conn *c, uint32_t itt, uint8_t flags,
			  uint8_t status, struct fx_pdu *p)
{
	fx_recv(f, c, p);
	assert_int_equal(p->bhs[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(get_be32(p->bhs + 16), itt);
	assert_int_equal(p->bhs[1], flags);
	assert_int_equal(p->bhs[2], 0); /* Command Completed at Target */
	assert_int_equal(p->bhs[3], status);
}

/* CHECK CONDITION with fixed-format sense key/ASC/ASCQ (RFC 7143 11.4.7, SPC-4 4.5.3). */
FX_API void fx_expect_sense_resid(struct fx *f, struct fx_conn *c, uint32_t itt, uint8_t flags,
				  uint32_t resid, uint8_t key, uint8_t asc, uint8_t ascq)
{
	static struct fx_pdu p;
	uint8_t want[18] = {0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq};

	fx_expect_rsp(f, c, itt, flags, FX_CHECK_CONDITION, &p);
	assert_int_equal(p.dlen, 2 + 18);
	assert_int_equal(get_be16(p.data), 18); /* SenseLength */
	assert_memory_equal(p.data + 2, want, sizeof(want));
	assert_int_equal(get_be32(p.bhs + 44), resid);
}

/* The same, for commands whose residual is zero. */
FX_API void fx_expect_sense(struct fx *f, struct fx_conn *c, uint32_t itt, uint8_t key, uint8_t asc,
			    uint8_t ascq)
{
	fx_expect_sense_resid(f, c, itt, ISCSI_FLAG_FINAL, 0, key, asc, ascq);
}

/* TEST UNIT READY; the reply must be GOOD, or the given unit attention. */
FX_API void fx_tur(struct fx *f, struct fx_conn *c, uint8_t ua_asc, uint8_t ua_ascq)
{
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN], cdb[16] = {0};
	uint32_t itt = fx_cmd_bhs(c, b, ISCSI_FLAG_FINAL, 0, cdb, 6);

	fx_send(f, c, b, NULL, 0);
	if (ua_asc) {
		fx_expect_sense(f, c, itt, 0x06, ua_asc, ua_ascq);
		return;
	}
	fx_expect_rsp(f, c, itt, ISCSI_FLAG_FINAL, FX_GOOD, &p);
	assert_int_equal(p.dlen, 0);
}

/* A login plus the TEST UNIT READY that consumes the power-on unit attention. */
FX_API struct fx_conn *fx_session(struct fx *f, const char *ops)
{
	struct fx_conn *c = fx_connect(f);

	fx_login(f, c, ops);
	fx_tur(f, c, 0x29, 0x00);
	return c;
}

FX_API void fx_pattern(uint8_t *buf, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

/* WRITE(10) with all its data as immediate data; expects GOOD. */
FX_API void fx_write_imm(struct fx *f, struct fx_conn *c, uint32_t lba, const uint8_t *data,
			 uint32_t len)
{
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN], cdb[16];
	uint32_t itt;

	fx_cdb10(cdb, 0x2a, lba, (uint16_t)(len / FX_BLOCK));
	itt = fx_cmd_bhs(c, b, ISCSI_FLAG_FINAL | ISCSI_CMD_F_WRITE, len, cdb, 10);
	fx_send(f, c, b, data, len);
	fx_expect_rsp(f, c, itt, ISCSI_FLAG_FINAL, FX_GOOD, &p);
}

/* READ(10) of len bytes into out, any Data-In segmentation; expects GOOD status collapse. */
FX_API void fx_read_blocks(struct fx *f, struct fx_conn *c, uint32_t lba, uint8_t *out,
			   uint32_t len)
{
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN], cdb[16];
	uint32_t itt, got = 0, datasn = 0;

	fx_cdb10(cdb, 0x28, lba, (uint16_t)(len / FX_BLOCK));
	itt = fx_cmd_bhs(c, b, ISCSI_FLAG_FINAL | ISCSI_CMD_F_READ, len, cdb, 10);
	fx_send(f, c, b, NULL, 0);
	for (;;) {
		fx_recv(f, c, &p);
		assert_int_equal(p.bhs[0], ISCSI_OP_DATA_IN);
		assert_int_equal(get_be32(p.bhs + 16), itt);
		assert_int_equal(get_be32(p.bhs + 36), datasn++);
		assert_int_equal(get_be32(p.bhs + 40), got);
		assert_true(got + p.dlen <= len);
		memcpy(out + got, p.data, p.dlen);
		got += p.dlen;
		if (p.bhs[1] & ISCSI_FLAG_DATA_STATUS)
			break;
	}
	assert_int_equal(got, len);
	assert_int_equal(p.bhs[3], FX_GOOD);
}

/* Task Management Function Request (RFC 7143 11.5), immediate. */
FX_API uint32_t fx_tmf(struct fx *f, struct fx_conn *c, uint8_t fn, uint32_t rtt, uint32_t refcmdsn)
{
	uint8_t b[ISCSI_BHS_LEN] = {0};
	uint32_t itt = c->itt++;

	b[0] = ISCSI_FLAG_IMMEDIATE | ISCSI_OP_TASK_MGMT_REQ;
	b[1] = ISCSI_FLAG_FINAL | fn;
	put_be32(b + 16, itt);
	put_be32(b + 20, rtt);
	put_be32(b + 24, c->cmdsn);
	put_be32(b + 28, c->exp_statsn);
	put_be32(b + 32, refcmdsn);
	fx_send(f, c, b, NULL, 0);
	return itt;
}

/* Text Request (RFC 7143 11.10), one PDU, non-immediate. */
FX_API uint32_t fx_text_req(struct fx *f, struct fx_conn *c, const char *bars)
{
	uint8_t b[ISCSI_BHS_LEN] = {0};
	char text[1024];
	uint32_t n = fx_text(text, sizeof(text), bars), itt = c->itt++;

	b[0] = ISCSI_OP_TEXT_REQ;
	b[1] = ISCSI_FLAG_FINAL;
	put_be32(b + 16, itt);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	put_be32(b + 24, c->cmdsn++);
	put_be32(b + 28, c->exp_statsn);
	fx_send(f, c, b, text, n);
	return itt;
}

/* Logout Request (RFC 7143 11.14), immediate. */
FX_API uint32_t fx_logout(struct fx *f, struct fx_conn *c, uint8_t reason)
{
	uint8_t b[ISCSI_BHS_LEN] = {0};
	uint32_t itt = c->itt++;

	b[0] = ISCSI_FLAG_IMMEDIATE | ISCSI_OP_LOGOUT_REQ;
	b[1] = ISCSI_FLAG_FINAL | reason;
	put_be32(b + 16, itt);
	put_be32(b + 24, c->cmdsn);
	put_be32(b + 28, c->exp_statsn);
	fx_send(f, c, b, NULL, 0);
	return itt;
}

/* Logout, its response 0 (RFC 7143 11.15), then the connection closes. */
FX_API void fx_logout_ok(struct fx *f, struct fx_conn *c)
{
	static struct fx_pdu p;
	uint32_t itt = fx_logout(f, c, ISCSI_LOGOUT_CLOSE_SESSION);

	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_LOGOUT_RSP);
	assert_int_equal(p.bhs[1], ISCSI_FLAG_FINAL);
	assert_int_equal(p.bhs[2], ISCSI_LOGOUT_RSP_OK);
	assert_int_equal(get_be32(p.bhs + 16), itt);
	assert_int_equal(p.dlen, 0);
	fx_expect_eof(f, c);
}

/*
 * A transport bug these tests once found (now fixed): when `correct` is false
 * the old bug is back; say which one and fail.
 */
#define FX_KNOWN_BUG(correct, what)                                                                \
	do {                                                                                       \
		if (!(correct)) {                                                                  \
			print_message("TRANSPORT REGRESSION (%s:%d): %s\n", __FILE__, __LINE__,    \
				      what);                                                       \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

#endif
