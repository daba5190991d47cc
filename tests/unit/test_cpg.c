// SPDX-License-Identifier: MIT
/*
 * Unit tests for clusterd/cpg.c and clusterd/quorum.c, the corosync adapter,
 * against a fake corosync: this file defines the cpg_*, quorum_* and
 * votequorum_* functions the adapter calls, and the executable's definitions
 * win over libcpg's. Each service's fd is one end of a socketpair the test
 * holds the other end of: a byte makes it readable (the fake dispatch then
 * runs the scripted callbacks), closing it makes a hang-up. The loop is the
 * real libqb loop.
 *
 * Covered: open errors and their messages, the join and the tracking flags,
 * translation into the ops, lost() on dispatch errors, hang-ups and failed
 * sends (never inside cs_send), the send queue's retries in order, a join
 * that is retried, cs_close() inside callbacks (deferred, nothing after it)
 * and inside lost(), and the clean leave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>

#include "clusterd/corosync.h"
#include "lib/compiler.h"

/* ---- the fake corosync ---- */

enum { SVC_CPG, SVC_Q, SVC_VQ, NSVC };

#define SCRIPT_MAX 16
#define SENT_MAX   16

struct fake {
	int sock[NSVC][2]; /* [0] the adapter's fd, [1] ours */
	bool open[NSVC];
	cs_error_t init_rc[NSVC];
	uint32_t quorum_type;
	cpg_model_v1_data_t cpg_model;
	void *cpg_ctx;
	quorum_model_v1_data_t q_model;
	void *q_ctx;
	votequorum_callbacks_t vq_cb;
	uint64_t vq_ctx;
	unsigned int q_track, vq_track;
	cs_error_t dispatch_rc[NSVC];
	void (*on_dispatch[NSVC])(void);
	unsigned int in_dispatch;
	cs_error_t join_script[SCRIPT_MAX]; /* result of join i; then CS_OK */
	unsigned int njoin_script, joins;
	char joined_name[CPG_MAX_NAME_LENGTH + 1];
	unsigned int leaves;
	char left_name[CPG_MAX_NAME_LENGTH + 1];
	cs_error_t mcast_script[SCRIPT_MAX]; /* result of mcast i; then CS_OK */
	unsigned int nmcast_script, mcasts, nsent;
	char sent[SENT_MAX][16];
	unsigned int getinfo_calls;
	struct votequorum_info info;
	unsigned int finalized[NSVC];
};

static struct fake fk;

static void fake_reset(void)
{
	int i;

	for (i = 0; i < NSVC; i++) {
		if (fk.open[i])
			close(fk.sock[i][0]);
		if (fk.sock[i][1] > 0)
			close(fk.sock[i][1]);
	}
	memset(&fk, 0, sizeof(fk));
	for (i = 0; i < NSVC; i++) {
		fk.init_rc[i] = CS_OK;
		fk.dispatch_rc[i] = CS_OK;
		fk.sock[i][0] = fk.sock[i][1] = -1;
	}
	fk.quorum_type = QUORUM_SET;
	fk.info = (struct votequorum_info){
		.node_id = 7,
		.node_votes = 1,
		.node_expected_votes = 2,
		.highest_expected = 2,
		.total_votes = 2,
		.quorum = 1,
		.flags = VOTEQUORUM_INFO_TWONODE | VOTEQUORUM_INFO_QUORATE |
			 VOTEQUORUM_INFO_WAIT_FOR_ALL,
	};
}

static cs_error_t fake_connect(int svc)
{
	if (fk.init_rc[svc] != CS_OK)
		return fk.init_rc[svc];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fk.sock[svc]), 0);
	fk.open[svc] = true;
	return CS_OK;
}

static void fake_finalize(int svc)
{
	assert_true(fk.open[svc]);
	assert_int_equal(fk.in_dispatch, 0); /* never pull buffers from a running dispatch */
	close(fk.sock[svc][0]);
	fk.open[svc] = false;
	fk.finalized[svc]++;
}

static cs_error_t fake_dispatch(int svc)
{
	char buf[64];

	while (recv(fk.sock[svc][0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	fk.in_dispatch++;
	if (fk.on_dispatch[svc]) {
		void (*fn)(void) = fk.on_dispatch[svc];

		fk.on_dispatch[svc] = NULL; /* one shot */
		fn();
	}
	fk.in_dispatch--;
	return fk.dispatch_rc[svc];
}

/* Makes the adapter's fd for svc readable. */
static void kick(int svc)
{
	assert_int_equal(send(fk.sock[svc][1], "x", 1, 0), 1);
}

/* Closes our end: the adapter's fd hangs up. */
static void hang_up(int svc)
{
	close(fk.sock[svc][1]);
	fk.sock[svc][1] = -1;
}

cs_error_t cpg_model_initialize(cpg_handle_t *handle, cpg_model_t model,
				cpg_model_data_t *model_data, void *context)
{
	cs_error_t rc = fake_connect(SVC_CPG);

	if (rc != CS_OK)
		return rc;
	assert_int_equal(model, CPG_MODEL_V1);
	fk.cpg_model = *(cpg_model_v1_data_t *)model_data;
	fk.cpg_ctx = context;
	*handle = 0x1111;
	return CS_OK;
}

cs_error_t cpg_local_get(cpg_handle_t handle, unsigned int *local_nodeid)
{
	*local_nodeid = 7;
	return CS_OK;
}

cs_error_t cpg_fd_get(cpg_handle_t handle, int *fd)
{
	*fd = fk.sock[SVC_CPG][0];
	return CS_OK;
}

cs_error_t cpg_dispatch(cpg_handle_t handle, cs_dispatch_flags_t dispatch_types)
{
	assert_int_equal(dispatch_types, CS_DISPATCH_ALL);
	return fake_dispatch(SVC_CPG);
}

cs_error_t cpg_join(cpg_handle_t handle, const struct cpg_name *group)
{
	cs_error_t rc = fk.joins < fk.njoin_script ? fk.join_script[fk.joins] : CS_OK;

	fk.joins++;
	if (rc == CS_OK)
		snprintf(fk.joined_name, sizeof(fk.joined_name), "%.*s", (int)group->length,
			 group->value);
	return rc;
}

cs_error_t cpg_leave(cpg_handle_t handle, const struct cpg_name *group)
{
	fk.leaves++;
	snprintf(fk.left_name, sizeof(fk.left_name), "%.*s", (int)group->length, group->value);
	return CS_OK;
}

cs_error_t cpg_finalize(cpg_handle_t handle)
{
	fake_finalize(SVC_CPG);
	return CS_OK;
}

cs_error_t cpg_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee,
			    const struct iovec *iovec, unsigned int iov_len)
{
	cs_error_t rc = fk.mcasts < fk.nmcast_script ? fk.mcast_script[fk.mcasts] : CS_OK;

	fk.mcasts++;
	assert_int_equal(guarantee, CPG_TYPE_AGREED);
	assert_int_equal(iov_len, 1);
	if (rc != CS_OK)
		return rc;
	assert_true(fk.nsent < SENT_MAX && iovec[0].iov_len < sizeof(fk.sent[0]));
	memcpy(fk.sent[fk.nsent], iovec[0].iov_base, iovec[0].iov_len);
	fk.sent[fk.nsent][iovec[0].iov_len] = '\0';
	fk.nsent++;
	return CS_OK;
}

cs_error_t cpg_context_get(cpg_handle_t handle, void **context)
{
	*context = fk.cpg_ctx;
	return CS_OK;
}

cs_error_t quorum_model_initialize(quorum_handle_t *handle, quorum_model_t model,
				   quorum_model_data_t *model_data, uint32_t *quorum_type,
				   void *context)
{
	cs_error_t rc = fake_connect(SVC_Q);

	if (rc != CS_OK)
		return rc;
	assert_int_equal(model, QUORUM_MODEL_V1);
	fk.q_model = *(quorum_model_v1_data_t *)model_data;
	fk.q_ctx = context;
	*quorum_type = fk.quorum_type;
	*handle = 0x2222;
	return CS_OK;
}

cs_error_t quorum_fd_get(quorum_handle_t handle, int *fd)
{
	*fd = fk.sock[SVC_Q][0];
	return CS_OK;
}

cs_error_t quorum_dispatch(quorum_handle_t handle, cs_dispatch_flags_t dispatch_types)
{
	return fake_dispatch(SVC_Q);
}

cs_error_t quorum_trackstart(quorum_handle_t handle, unsigned int flags)
{
	fk.q_track = flags;
	return CS_OK;
}

cs_error_t quorum_finalize(quorum_handle_t handle)
{
	fake_finalize(SVC_Q);
	return CS_OK;
}

cs_error_t quorum_context_get(quorum_handle_t handle, const void **context)
{
	*context = fk.q_ctx;
	return CS_OK;
}

cs_error_t votequorum_initialize(votequorum_handle_t *handle, votequorum_callbacks_t *callbacks)
{
	cs_error_t rc = fake_connect(SVC_VQ);

	if (rc != CS_OK)
		return rc;
	fk.vq_cb = *callbacks;
	*handle = 0x3333;
	return CS_OK;
}

cs_error_t votequorum_fd_get(votequorum_handle_t handle, int *fd)
{
	*fd = fk.sock[SVC_VQ][0];
	return CS_OK;
}

cs_error_t votequorum_dispatch(votequorum_handle_t handle, cs_dispatch_flags_t dispatch_types)
{
	return fake_dispatch(SVC_VQ);
}

cs_error_t votequorum_trackstart(votequorum_handle_t handle, uint64_t context, unsigned int flags)
{
	fk.vq_ctx = context;
	fk.vq_track = flags;
	return CS_OK;
}

cs_error_t votequorum_getinfo(votequorum_handle_t handle, unsigned int nodeid,
			      struct votequorum_info *info)
{
	assert_int_equal(nodeid, 7);
	fk.getinfo_calls++;
	*info = fk.info;
	return CS_OK;
}

cs_error_t votequorum_finalize(votequorum_handle_t handle)
{
	fake_finalize(SVC_VQ);
	return CS_OK;
}

/* ---- what the adapter reported ---- */

struct seen {
	qb_loop_t *loop;
	struct cs *cs;
	unsigned int confchgs, delivers, totems, quorums, vqs, losts;
	struct cs_member members[4], left[4], joined[4];
	size_t nmembers, nleft, njoined;
	char msg[16];
	uint32_t msg_nodeid, msg_pid;
	struct cs_ring ring;
	uint32_t nodes[4];
	size_t nnodes;
	bool quorate;
	struct cs_vq_info vq;
	char why[192];
	bool close_in_deliver, close_in_lost, stop_on_event;
};

static struct seen sn;

static void seen_event(void)
{
	if (sn.stop_on_event)
		qb_loop_stop(sn.loop);
}

static void op_confchg(void *arg, const struct cs_confchg *cc)
{
	assert_ptr_equal(arg, &sn);
	sn.confchgs++;
	sn.nmembers = MIN(cc->nmembers, ARRAY_SIZE(sn.members));
	memcpy(sn.members, cc->members, sn.nmembers * sizeof(*cc->members));
	sn.nleft = MIN(cc->nleft, ARRAY_SIZE(sn.left));
	memcpy(sn.left, cc->left, sn.nleft * sizeof(*cc->left));
	sn.njoined = MIN(cc->njoined, ARRAY_SIZE(sn.joined));
	memcpy(sn.joined, cc->joined, sn.njoined * sizeof(*cc->joined));
	seen_event();
}

static void op_deliver(void *arg, uint32_t nodeid, uint32_t pid, const void *msg, size_t len)
{
	sn.delivers++;
	sn.msg_nodeid = nodeid;
	sn.msg_pid = pid;
	snprintf(sn.msg, sizeof(sn.msg), "%.*s", (int)len, (const char *)msg);
	if (sn.close_in_deliver) {
		cs_close(sn.cs);
		sn.cs = NULL;
	}
	seen_event();
}

static void op_totem(void *arg, const struct cs_ring *ring, const uint32_t *members, size_t n)
{
	sn.totems++;
	sn.ring = *ring;
	sn.nnodes = MIN(n, ARRAY_SIZE(sn.nodes));
	memcpy(sn.nodes, members, sn.nnodes * sizeof(*members));
	seen_event();
}

static void op_quorum(void *arg, bool quorate, const struct cs_ring *ring, const uint32_t *nodes,
		      size_t n)
{
	sn.quorums++;
	sn.quorate = quorate;
	sn.ring = *ring;
	sn.nnodes = MIN(n, ARRAY_SIZE(sn.nodes));
	memcpy(sn.nodes, nodes, sn.nnodes * sizeof(*nodes));
	seen_event();
}

static void op_vq(void *arg, const struct cs_vq_info *info)
{
	sn.vqs++;
	sn.vq = *info;
	seen_event();
}

static void op_lost(void *arg, const char *why)
{
	sn.losts++;
	snprintf(sn.why, sizeof(sn.why), "%s", why);
	if (sn.close_in_lost) {
		cs_close(sn.cs);
		sn.cs = NULL;
	}
	qb_loop_stop(sn.loop);
}

static const struct cs_ops ops = {
	.confchg = op_confchg,
	.deliver = op_deliver,
	.totem = op_totem,
	.quorum = op_quorum,
	.votequorum = op_vq,
	.lost = op_lost,
};

static void guard_fire(void *data)
{
	bool *fired = data;

	*fired = true;
	qb_loop_stop(sn.loop);
}

/*
 * Runs the loop until an op stops it. The guard only ends a test that would
 * otherwise hang; whether it fired is asserted, not how long anything took.
 */
static void run_until_event(void)
{
	qb_loop_timer_handle th;
	bool fired = false;

	sn.stop_on_event = true;
	assert_int_equal(
		qb_loop_timer_add(sn.loop, QB_LOOP_LOW, 5000000000ull, &fired, guard_fire, &th), 0);
	qb_loop_run(sn.loop);
	sn.stop_on_event = false;
	assert_false(fired);
	qb_loop_timer_del(sn.loop, th);
}

/* Runs the loop for a few passes (lets a timer or job run) without an event to wait for. */
static void run_briefly(unsigned int ms)
{
	qb_loop_timer_handle th;
	bool fired = false;

	assert_int_equal(
		qb_loop_timer_add(sn.loop, QB_LOOP_LOW, ms * 1000000ull, &fired, guard_fire, &th),
		0);
	qb_loop_run(sn.loop);
}

/* Runs the loop until the fake corosync took n messages (bounded). */
static void run_until_sent(unsigned int n)
{
	unsigned int passes;

	for (passes = 0; fk.nsent < n && passes < 250; passes++)
		run_briefly(20);
	assert_int_equal(fk.nsent, n);
}

static int setup(void **state)
{
	fake_reset();
	memset(&sn, 0, sizeof(sn));
	sn.loop = qb_loop_create();
	return sn.loop ? 0 : -1;
}

static int teardown(void **state)
{
	cs_close(sn.cs);
	qb_loop_destroy(sn.loop);
	fake_reset();
	return 0;
}

static void open_ok(void)
{
	char err[256] = "";

	assert_int_equal(cs_open(&sn.cs, sn.loop, "c1", &ops, &sn, err, sizeof(err)), 0);
	assert_non_null(sn.cs);
}

/* ---- tests ---- */

static void test_open_without_corosync(void **state)
{
	char err[256] = "";

	fk.init_rc[SVC_CPG] = CS_ERR_LIBRARY;
	assert_int_equal(cs_open(&sn.cs, sn.loop, "c1", &ops, &sn, err, sizeof(err)), -ENOTCONN);
	assert_null(sn.cs);
	assert_non_null(strstr(err, "is corosync running"));
	assert_false(fk.open[SVC_Q]);
}

static void test_open_refuses_no_quorum_provider(void **state)
{
	char err[256] = "";

	fk.quorum_type = QUORUM_FREE;
	assert_int_equal(cs_open(&sn.cs, sn.loop, "c1", &ops, &sn, err, sizeof(err)), -ENOTSUP);
	assert_null(sn.cs);
	assert_non_null(strstr(err, "corosync_votequorum"));
	/* what was opened is closed again */
	assert_int_equal(fk.finalized[SVC_CPG], 1);
	assert_int_equal(fk.finalized[SVC_Q], 1);
	assert_false(fk.open[SVC_CPG] || fk.open[SVC_Q] || fk.open[SVC_VQ]);
	assert_int_equal(fk.leaves, 0); /* never joined */
}

static void test_open_refuses_missing_votequorum(void **state)
{
	char err[256] = "";

	fk.init_rc[SVC_VQ] = CS_ERR_LIBRARY;
	assert_int_equal(cs_open(&sn.cs, sn.loop, "c1", &ops, &sn, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "votequorum"));
	assert_false(fk.open[SVC_CPG] || fk.open[SVC_Q]);
}

static void test_open_checks_arguments(void **state)
{
	struct cs_ops no_lost = ops;
	char err[256] = "", name[200];

	no_lost.lost = NULL;
	assert_int_equal(cs_open(&sn.cs, sn.loop, "c1", &no_lost, &sn, err, sizeof(err)), -EINVAL);
	assert_int_equal(cs_open(&sn.cs, sn.loop, "", &ops, &sn, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(cs_open(&sn.cs, sn.loop, name, &ops, &sn, err, sizeof(err)),
			 -ENAMETOOLONG);
	assert_false(fk.open[SVC_CPG]); /* refused before talking to corosync */
	assert_null(sn.cs);
}

static void test_open_joins_and_tracks(void **state)
{
	struct cs_vq_info vi;

	open_ok();
	assert_string_equal(fk.joined_name, "clusterd:c1");
	assert_int_equal(fk.q_track, CS_TRACK_CURRENT | CS_TRACK_CHANGES);
	assert_int_equal(fk.vq_track, CS_TRACK_CURRENT | CS_TRACK_CHANGES);
	assert_int_equal(fk.cpg_model.flags, CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF);
	assert_int_equal(cs_local_nodeid(sn.cs), 7);
	cs_vq_info(sn.cs, &vi);
	assert_true(vi.valid);
	assert_true(vi.quorate);
	assert_int_equal(vi.expected_votes, 2);
	assert_int_equal(vi.flags, CS_VQ_TWONODE | CS_VQ_QUORATE | CS_VQ_WAIT_FOR_ALL);
	/* no op runs inside cs_open, not even the votequorum one */
	assert_int_equal(sn.vqs + sn.confchgs + sn.quorums + sn.totems + sn.losts, 0);
}

static void cpg_confchg_script(void)
{
	const struct cpg_address members[] = {{7, 100, CPG_REASON_UNDEFINED}};
	const struct cpg_address left[] = {{8, 200, CPG_REASON_NODEDOWN}};
	const struct cpg_name g = {.length = 11, .value = "clusterd:c1"};

	fk.cpg_model.cpg_confchg_fn(0x1111, &g, members, 1, left, 1, NULL, 0);
}

static void test_confchg_is_translated(void **state)
{
	open_ok();
	fk.on_dispatch[SVC_CPG] = cpg_confchg_script;
	kick(SVC_CPG);
	run_until_event();
	assert_int_equal(sn.confchgs, 1);
	assert_int_equal(sn.nmembers, 1);
	assert_int_equal(sn.members[0].nodeid, 7);
	assert_int_equal(sn.members[0].pid, 100);
	assert_int_equal(sn.nleft, 1);
	assert_int_equal(sn.left[0].nodeid, 8);
	assert_int_equal(sn.left[0].pid, 200);
	assert_int_equal(sn.left[0].reason, CS_REASON_NODEDOWN);
	assert_int_equal(sn.njoined, 0);
}

static void cpg_deliver_script(void)
{
	const struct cpg_name g = {.length = 11, .value = "clusterd:c1"};

	fk.cpg_model.cpg_deliver_fn(0x1111, &g, 8, 200, "hello", 5);
}

static void test_deliver_is_passed(void **state)
{
	open_ok();
	fk.on_dispatch[SVC_CPG] = cpg_deliver_script;
	kick(SVC_CPG);
	run_until_event();
	assert_int_equal(sn.delivers, 1);
	assert_int_equal(sn.msg_nodeid, 8);
	assert_int_equal(sn.msg_pid, 200);
	assert_string_equal(sn.msg, "hello");
}

static void cpg_totem_script(void)
{
	const uint32_t m[] = {7, 8};

	fk.cpg_model.cpg_totem_confchg_fn(0x1111, (struct cpg_ring_id){.nodeid = 7, .seq = 42}, 2,
					  m);
}

static void test_totem_is_passed(void **state)
{
	open_ok();
	fk.on_dispatch[SVC_CPG] = cpg_totem_script;
	kick(SVC_CPG);
	run_until_event();
	assert_int_equal(sn.totems, 1);
	assert_int_equal(sn.ring.nodeid, 7);
	assert_int_equal(sn.ring.seq, 42);
	assert_int_equal(sn.nnodes, 2);
	assert_int_equal(sn.nodes[1], 8);
}

static void quorum_script(void)
{
	const uint32_t m[] = {7};

	fk.q_model.quorum_notify_fn(0x2222, 0, (struct quorum_ring_id){.nodeid = 7, .seq = 43}, 1,
				    m);
}

static void test_quorum_is_passed(void **state)
{
	open_ok();
	fk.on_dispatch[SVC_Q] = quorum_script;
	kick(SVC_Q);
	run_until_event();
	assert_int_equal(sn.quorums, 1);
	assert_false(sn.quorate);
	assert_int_equal(sn.ring.seq, 43);
	assert_int_equal(sn.nnodes, 1);
}

static void vq_nodelist_script(void)
{
	uint32_t nodes[] = {7};

	fk.info.flags = VOTEQUORUM_INFO_TWONODE | VOTEQUORUM_INFO_WAIT_FOR_ALL;
	fk.info.total_votes = 1;
	fk.vq_cb.votequorum_nodelist_notify_fn(
		0x3333, fk.vq_ctx, (votequorum_ring_id_t){.nodeid = 7, .seq = 44}, 1, nodes);
}

static void test_votequorum_refreshes_info(void **state)
{
	struct cs_vq_info vi;
	unsigned int calls;

	open_ok();
	calls = fk.getinfo_calls;
	fk.on_dispatch[SVC_VQ] = vq_nodelist_script;
	kick(SVC_VQ);
	run_until_event();
	assert_int_equal(fk.getinfo_calls, calls + 1);
	assert_int_equal(sn.vqs, 1);
	assert_false(sn.vq.quorate);
	assert_int_equal(sn.vq.total_votes, 1);
	assert_int_equal(sn.vq.ring.seq, 44);
	cs_vq_info(sn.cs, &vi);
	assert_memory_equal(&vi, &sn.vq, sizeof(vi));
}

static void test_lost_on_dispatch_error(void **state)
{
	open_ok();
	fk.dispatch_rc[SVC_CPG] = CS_ERR_LIBRARY;
	kick(SVC_CPG);
	run_until_event();
	assert_int_equal(sn.losts, 1);
	assert_string_equal(sn.why, "cpg dispatch: CS_ERR_LIBRARY (corosync went away)");
	assert_int_equal(cs_send(sn.cs, "x", 1), -ENOTCONN);
	/* every fd left the loop: more input reaches nobody, lost() stays single */
	kick(SVC_Q);
	run_briefly(20);
	assert_int_equal(sn.losts, 1);
	cs_close(sn.cs);
	sn.cs = NULL;
	assert_int_equal(fk.leaves, 0); /* corosync is gone: no leave attempted */
	assert_int_equal(fk.finalized[SVC_CPG] + fk.finalized[SVC_Q] + fk.finalized[SVC_VQ], 3);
}

static void test_lost_on_hangup(void **state)
{
	open_ok();
	sn.close_in_lost = true;
	hang_up(SVC_Q);
	run_until_event();
	assert_int_equal(sn.losts, 1);
	assert_string_equal(sn.why, "quorum connection: hang-up (corosync went away)");
	assert_null(sn.cs); /* closed inside lost() */
	assert_int_equal(fk.finalized[SVC_Q], 1);
}

static void test_send_failure_reports_lost_from_the_loop(void **state)
{
	open_ok();
	fk.mcast_script[0] = CS_ERR_BAD_HANDLE;
	fk.nmcast_script = 1;
	assert_int_equal(cs_send(sn.cs, "a", 1), -ENOTCONN);
	assert_int_equal(sn.losts, 0); /* never inside the call */
	assert_int_equal(cs_send(sn.cs, "b", 1), -ENOTCONN);
	run_until_event();
	assert_int_equal(sn.losts, 1);
	assert_string_equal(sn.why, "cpg_mcast_joined: CS_ERR_BAD_HANDLE");
}

static void test_close_before_lost_job_runs(void **state)
{
	open_ok();
	fk.mcast_script[0] = CS_ERR_LIBRARY;
	fk.nmcast_script = 1;
	assert_int_equal(cs_send(sn.cs, "a", 1), -ENOTCONN);
	cs_close(sn.cs); /* the queued lost() must be dropped with it */
	sn.cs = NULL;
	run_briefly(20);
	assert_int_equal(sn.losts, 0);
}

static void test_send_retries_in_order(void **state)
{
	open_ok();
	fk.mcast_script[0] = CS_ERR_TRY_AGAIN;
	fk.mcast_script[1] = CS_ERR_TRY_AGAIN;
	fk.mcast_script[2] = CS_ERR_QUEUE_FULL;
	fk.nmcast_script = 3;
	assert_int_equal(cs_send(sn.cs, "m1", 2), 0);
	assert_int_equal(cs_send(sn.cs, "m2", 2), 0);
	assert_int_equal(cs_send(sn.cs, "m3", 2), 0);
	assert_int_equal(cs_send_queued(sn.cs), 3);
	assert_int_equal(fk.mcasts, 1); /* m2 and m3 wait behind m1 */
	run_until_sent(3);
	assert_string_equal(fk.sent[0], "m1");
	assert_string_equal(fk.sent[1], "m2");
	assert_string_equal(fk.sent[2], "m3");
	assert_int_equal(cs_send_queued(sn.cs), 0);
	assert_int_equal(sn.losts, 0);
	assert_int_equal(cs_send(sn.cs, "m4", 2), 0); /* straight out again */
	assert_string_equal(fk.sent[3], "m4");
}

static void test_join_try_again_is_retried(void **state)
{
	fk.join_script[0] = CS_ERR_TRY_AGAIN;
	fk.join_script[1] = CS_ERR_TRY_AGAIN;
	fk.njoin_script = 2;
	open_ok();
	assert_int_equal(fk.joins, 1);
	assert_string_equal(fk.joined_name, "");
	/* a message before the join waits for it */
	assert_int_equal(cs_send(sn.cs, "early", 5), 0);
	assert_int_equal(fk.mcasts, 0);
	run_until_sent(1);
	assert_int_equal(fk.joins, 3);
	assert_string_equal(fk.joined_name, "clusterd:c1");
	assert_string_equal(fk.sent[0], "early");
	assert_int_equal(sn.losts, 0);
}

static void test_join_refused_fails_open(void **state)
{
	char err[256] = "";

	fk.join_script[0] = CS_ERR_ACCESS;
	fk.njoin_script = 1;
	assert_int_equal(cs_open(&sn.cs, sn.loop, "c1", &ops, &sn, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "cpg_join clusterd:c1"));
	assert_false(fk.open[SVC_CPG] || fk.open[SVC_Q] || fk.open[SVC_VQ]);
}

static void cpg_two_messages_script(void)
{
	const struct cpg_name g = {.length = 11, .value = "clusterd:c1"};
	const struct cpg_address members[] = {{7, 100, 0}};

	fk.cpg_model.cpg_deliver_fn(0x1111, &g, 7, 100, "first", 5);
	/* corosync's dispatch goes on with what it already read */
	fk.cpg_model.cpg_deliver_fn(0x1111, &g, 7, 100, "second", 6);
	fk.cpg_model.cpg_confchg_fn(0x1111, &g, members, 1, NULL, 0, NULL, 0);
}

static void test_close_inside_callback_is_deferred(void **state)
{
	open_ok();
	sn.close_in_deliver = true;
	fk.on_dispatch[SVC_CPG] = cpg_two_messages_script;
	kick(SVC_CPG);
	run_until_event();
	/* one deliver, then silence: the adapter closed inside it */
	assert_int_equal(sn.delivers, 1);
	assert_string_equal(sn.msg, "first");
	assert_int_equal(sn.confchgs, 0);
	/* finalized after the dispatch returned (fake_finalize asserts that), with a leave */
	assert_int_equal(fk.leaves, 1);
	assert_string_equal(fk.left_name, "clusterd:c1");
	assert_int_equal(fk.finalized[SVC_CPG] + fk.finalized[SVC_Q] + fk.finalized[SVC_VQ], 3);
	run_briefly(20);
	assert_int_equal(sn.losts, 0);
}

static void test_close_leaves_the_group(void **state)
{
	open_ok();
	cs_close(sn.cs);
	sn.cs = NULL;
	assert_int_equal(fk.leaves, 1);
	assert_string_equal(fk.left_name, "clusterd:c1");
	assert_int_equal(fk.finalized[SVC_CPG], 1);
	assert_int_equal(fk.finalized[SVC_Q], 1);
	assert_int_equal(fk.finalized[SVC_VQ], 1);
	cs_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_without_corosync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_no_quorum_provider, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_missing_votequorum, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_checks_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_joins_and_tracks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confchg_is_translated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_is_passed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totem_is_passed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quorum_is_passed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_votequorum_refreshes_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_on_dispatch_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_on_hangup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_failure_reports_lost_from_the_loop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_before_lost_job_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_retries_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_try_again_is_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_refused_fails_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_inside_callback_is_deferred, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_leaves_the_group, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
