/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of target/iscsi/iscsi_tgt.c through a real target on loopback
 * (see iscsi_fixture.h): the session table (TSIH, discovery, reinstatement
 * RFC 7143 6.3.5, the session limit) and graceful shutdown (Async Message
 * event 1, RFC 7143 11.9).
 */
#include "tests/unit/iscsi_fixture.h"

#define DISCOVERY_KEYS                                                                             \
	"InitiatorName=" FX_INIT "|SessionType=Discovery|HeaderDigest=None|DataDigest=None|"       \
	"MaxRecvDataSegmentLength=8192|"

static void discovery_login(struct fx *f, struct fx_conn *c)
{
	static struct fx_pdu p;

	fx_login_step(f, c, FX_LOGIN_OP_TO_FFP, DISCOVERY_KEYS, &p);
	assert_int_equal(get_be16(p.bhs + 36), 0);
	assert_int_equal(p.bhs[1], FX_LOGIN_OP_TO_FFP);
	c->tsih = get_be16(p.bhs + 14);
	assert_int_not_equal(c->tsih, 0);
}

/* Waits (stepping the reactor) until the target counts `n` sessions. */
static void wait_sessions(struct fx *f, uint32_t n)
{
	uint64_t end = fx_now_ms() + FX_WAIT_MS;
	struct iscsi_tgt_stats st;

	for (;;) {
		iscsi_tgt_get_stats(f->t, &st);
		if (st.sessions == n)
			return;
		assert_true(fx_now_ms() < end);
		fx_pump(f, -1, 1);
	}
}

static void wait_connections(struct fx *f, uint32_t n)
{
	uint64_t end = fx_now_ms() + FX_WAIT_MS;
	struct iscsi_tgt_stats st;

	for (;;) {
		iscsi_tgt_get_stats(f->t, &st);
		if (st.connections == n)
			return;
		assert_true(fx_now_ms() < end);
		fx_pump(f, -1, 1);
	}
}

/* RFC 7143 11.13.4: each new session gets its own non-zero TSIH. */
static void test_tsih_distinct(void **state)
{
	struct fx *f = *state;
	struct fx_conn *a, *b, *d;

	fx_start(f);
	a = fx_connect(f);
	b = fx_connect(f);
	d = fx_connect(f);
	assert_memory_not_equal(a->isid, b->isid, 6);
	fx_login(f, a, NULL);
	fx_login(f, b, NULL);
	discovery_login(f, d);
	assert_int_not_equal(a->tsih, b->tsih);
	assert_int_not_equal(a->tsih, d->tsih);
	assert_int_not_equal(b->tsih, d->tsih);
	wait_sessions(f, 3);
}

/* A discovery session: SendTargets=All lists the target and its portal; no SCSI. */
static void test_discovery_sendtargets(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	uint8_t b[ISCSI_BHS_LEN], cdb[16] = {0};
	char want[256], got[512];
	uint32_t itt, sn;
	struct fx_conn *c;

	fx_start(f);
	c = fx_connect(f);
	discovery_login(f, c);
	sn = c->cmdsn;
	itt = fx_text_req(f, c, "SendTargets=All|");
	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_TEXT_RSP);
	assert_int_equal(p.bhs[1], ISCSI_FLAG_FINAL);
	assert_int_equal(get_be32(p.bhs + 16), itt);
	assert_int_equal(get_be32(p.bhs + 20), ISCSI_RSVD_TAG);
	assert_int_equal(get_be32(p.bhs + 28), sn + 1);
	snprintf(want, sizeof(want), "TargetName=%s|TargetAddress=127.0.0.1:%u,1|", FX_IQN,
		 f->cfg.portals[0].port);
	fx_flat(got, sizeof(got), p.data, p.dlen);
	assert_string_equal(got, want);

	/* RFC 7143 4.3: a discovery session carries no SCSI commands. */
	fx_cmd_bhs(c, b, ISCSI_FLAG_FINAL, 0, cdb, 6);
	c->cmdsn--;
	fx_send(f, c, b, NULL, 0);
	fx_recv(f, c, &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_REJECT);
	assert_int_equal(p.bhs[2], ISCSI_REJECT_CMD_NOT_SUPPORTED);
	assert_memory_equal(p.data, b, ISCSI_BHS_LEN);
	fx_logout_ok(f, c);
}

/* RFC 7143 6.3.5: a login with the same InitiatorName and ISID (TSIH 0) replaces the session. */
static void test_reinstatement(void **state)
{
	struct fx *f = *state;
	struct fx_conn *old, *c;

	fx_start(f);
	old = fx_session(f, NULL);
	c = fx_connect(f);
	memcpy(c->isid, old->isid, 6);
	fx_login(f, c, NULL);
	assert_int_not_equal(c->tsih, old->tsih);
	fx_expect_eof(f, old);
	wait_sessions(f, 1);
	/* A new I_T nexus: its first command sees POWER ON OCCURRED. */
	fx_tur(f, c, 0x29, 0x00);
	fx_tur(f, c, 0, 0);
}

/* Reinstatement replaces a session: it needs no free slot under max_sessions. */
static void test_reinstatement_at_session_limit(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *old, *c;
	uint16_t status;

	f->cfg.iscsi.max_sessions = 1;
	fx_start(f);
	old = fx_session(f, NULL);
	c = fx_connect(f);
	memcpy(c->isid, old->isid, 6);
	fx_login_step(f, c, FX_LOGIN_OP_TO_FFP,
		      "InitiatorName=" FX_INIT "|TargetName=" FX_IQN
		      "|SessionType=Normal|" FX_KEYS_DEFAULT,
		      &p);
	status = get_be16(p.bhs + 36);
	fx_expect_eof(f, old);
	if (status) { /* exactly the bug described below */
		assert_int_equal(status, ISCSI_LOGIN_STATUS_NO_RESOURCES);
		fx_expect_eof(f, c);
	}
	FX_KNOWN_BUG(status == 0,
		     "iscsi_tgt.c iscsi_tgt_bind_session(): at max_sessions a reinstating login is "
		     "refused 0x0302 (the old session still counts) after the old connection was "
		     "already closed, so the initiator loses both");
	fx_tur(f, c, 0x29, 0x00);
}

/* Beyond max_sessions: Login Response 0x0302 (target error, out of resources), then close. */
static void test_max_sessions_refused(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *a, *b, *c;

	f->cfg.iscsi.max_sessions = 1;
	fx_start(f);
	a = fx_session(f, NULL);
	b = fx_connect(f);
	fx_login_step(f, b, FX_LOGIN_OP_TO_FFP,
		      "InitiatorName=" FX_INIT "|TargetName=" FX_IQN
		      "|SessionType=Normal|" FX_KEYS_DEFAULT,
		      &p);
	assert_int_equal(p.bhs[0], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(p.bhs[1], 0x04); /* T=0, CSG 1: a failure ends the login */
	assert_int_equal(p.bhs[36], 0x03);
	assert_int_equal(p.bhs[37], 0x02);
	assert_int_equal(get_be16(p.bhs + 14), 0); /* no TSIH */
	assert_int_equal(p.dlen, 0);
	fx_expect_eof(f, b);
	fx_ping(f, a, NULL, NULL); /* the existing session is untouched */

	/* Once that session ended, a new one fits again. */
	fx_logout_ok(f, a);
	wait_sessions(f, 0);
	c = fx_connect(f);
	fx_login(f, c, NULL);
}

static void assert_async_logout(const struct fx_pdu *p, const struct fx_conn *c)
{
	uint8_t zero[8] = {0};

	/* RFC 7143 11.9: AsyncEvent 1, the target requests a logout. */
	assert_int_equal(p->bhs[0], ISCSI_OP_ASYNC_MSG);
	assert_int_equal(p->bhs[1], ISCSI_FLAG_FINAL);
	assert_int_equal(p->dlen, 0);
	assert_memory_equal(p->bhs + 8, zero, 8);
	assert_int_equal(get_be32(p->bhs + 16), ISCSI_RSVD_TAG);
	assert_int_equal(get_be32(p->bhs + 28), c->cmdsn);
	assert_int_equal(p->bhs[36], 1); /* AsyncEvent */
	assert_int_equal(p->bhs[37], 0); /* AsyncVCode */
	assert_int_equal(get_be16(p->bhs + 38), 0);
	assert_int_equal(get_be16(p->bhs + 40), 0);
}

/*
 * Shutdown asks a logged-in initiator to log out, closes a connection still
 * in login, refuses new connections, and calls done() once the last
 * connection is gone.
 */
static void test_shutdown_async_logout(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *c, *login;
	int fd;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool fields_ok;

	fx_start(f);
	c = fx_session(f, NULL);
	login = fx_connect(f);
	wait_connections(f, 2);
	f->shut = true;
	iscsi_tgt_shutdown(f->t, 5000, fx_stop_done, f);
	fx_recv(f, c, &p);
	assert_async_logout(&p, c);
	fx_expect_eof(f, login);
	assert_int_equal(f->stop_calls, 0); /* c is still connected */

	/* The portal no longer takes connections. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons(f->cfg.portals[0].port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);

	fx_logout_ok(f, c);
	fx_shutdown_wait(f);
	fx_run_for(f, 20);
	assert_int_equal(f->stop_calls, 1);

	/* RFC 7143 11.9: Parameter3 (bytes 42-43) is the logout deadline in seconds;
	 * bytes 20-23 and 44-47 are reserved (zero, RFC 7143 11.2.1). */
	fields_ok =
		get_be16(p.bhs + 42) == 2 && get_be32(p.bhs + 20) == 0 && get_be32(p.bhs + 44) == 0;
	if (!fields_ok) { /* exactly the bug described below */
		assert_int_equal(get_be16(p.bhs + 44), 2);
		assert_int_equal(get_be32(p.bhs + 20), ISCSI_RSVD_TAG);
	}
	FX_KNOWN_BUG(fields_ok, "iscsi_tgt.c tgt_ask_logout(): Parameter3 (2 s) is written at "
				"bytes 44-45 (reserved) instead of 42-43, and reserved bytes 20-23 "
				"carry 0xffffffff");
}

/* An initiator that ignores the request is closed when the grace period ends. */
static void test_shutdown_grace_expires(void **state)
{
	struct fx *f = *state;
	static struct fx_pdu p;
	struct fx_conn *c;

	fx_start(f);
	c = fx_session(f, NULL);
	f->shut = true;
	iscsi_tgt_shutdown(f->t, 600, fx_stop_done, f);
	fx_recv(f, c, &p);
	assert_async_logout(&p, c);
	fx_expect_eof(f, c);
	fx_shutdown_wait(f);
}

/* With nothing connected, done() still comes from the reactor, not from inside the call. */
static void test_shutdown_idle(void **state)
{
	struct fx *f = *state;
	unsigned inside;

	fx_start(f);
	f->shut = true;
	iscsi_tgt_shutdown(f->t, 5000, fx_stop_done, f);
	inside = f->stop_calls;
	fx_shutdown_wait(f);
	FX_KNOWN_BUG(inside == 0,
		     "iscsi_tgt.c iscsi_tgt_shutdown(): with no connection, done() runs inside "
		     "the call (STYLE.md rule 5: never complete inside the submit call)");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_tsih_distinct),		T(test_discovery_sendtargets),
		T(test_reinstatement),		T(test_reinstatement_at_session_limit),
		T(test_max_sessions_refused),	T(test_shutdown_async_logout),
		T(test_shutdown_grace_expires), T(test_shutdown_idle),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
