/* SPDX-License-Identifier: MIT */
/*
 * clusterd/decide.c beyond the golden scenarios: configuration checks and
 * digest, initial state, bad events, that `in` is never written, the data
 * plane table built from an action, admin checks as the IPC server uses them,
 * capacity with 64 LUNs, and a two-node simulator that delivers every
 * multicast to both nodes in one agreed order and checks that both end with
 * the same roles and the very same port-group tables (what RTPG reports on
 * either node), over many seeded interleavings of local quorum events.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clusterd/model.h"
#include "clusterd/msg.h"
#include "target/scsi/scsi.h"

static void cfg_two(struct cl_config *c, uint32_t local, uint32_t nluns)
{
	memset(c, 0, sizeof(*c));
	c->local_id = local;
	c->nnodes = 2;
	/* given in reverse order: finalize sorts */
	c->nodes[0].id = 2;
	strcpy(c->nodes[0].name, "b");
	c->nodes[0].fence_delay_ms = 7000;
	c->nodes[0].nports = 2;
	c->nodes[0].rel_ports[0] = 3;
	c->nodes[0].rel_ports[1] = 4;
	c->nodes[1].id = 1;
	strcpy(c->nodes[1].name, "a");
	c->nodes[1].fence_delay_ms = 3000;
	c->nodes[1].nports = 2;
	c->nodes[1].rel_ports[0] = 1;
	c->nodes[1].rel_ports[1] = 2;
	c->nluns = nluns;
	for (uint32_t i = 0; i < nluns; i++) {
		snprintf(c->luns[i].name, sizeof(c->luns[i].name), "lun%u", i);
		c->luns[i].lu_id = 0x600 + i;
	}
	c->startup_wait_ms = 10000;
	c->fence_retry_ms = 2000;
}

static int finalize(struct cl_config *c, char *err)
{
	return cl_config_finalize(c, err, 128);
}

static void test_config_ok_sorted(void **state)
{
	struct cl_config c;
	char err[128];

	cfg_two(&c, 1, 1);
	assert_int_equal(finalize(&c, err), 0);
	assert_int_equal(c.nodes[0].id, 1);
	assert_string_equal(c.nodes[0].name, "a");
	assert_int_equal(c.nodes[0].fence_delay_ms, 3000);
	assert_int_equal(c.nodes[1].rel_ports[1], 4);
	assert_int_equal(cl_node_index(&c, 2), 1);
	assert_int_equal(cl_node_index(&c, 3), -1);
	assert_int_not_equal(c.digest, 0);
}

static void expect_bad(struct cl_config *c, const char *why)
{
	char err[128] = "";

	assert_int_equal(finalize(c, err), -EINVAL);
	if (!strstr(err, why))
		fail_msg("error '%s' does not say '%s'", err, why);
}

static void test_config_errors(void **state)
{
	struct cl_config c;

	cfg_two(&c, 1, 1);
	c.nnodes = 0;
	expect_bad(&c, "0 nodes");
	cfg_two(&c, 1, 1);
	c.nnodes = CL_MAX_NODES + 1;
	expect_bad(&c, "nodes (1 to");
	cfg_two(&c, 1, 1);
	c.nodes[0].id = 1;
	expect_bad(&c, "node id 1 used twice");
	cfg_two(&c, 1, 1);
	c.nodes[0].id = 0;
	expect_bad(&c, "node id 0");
	cfg_two(&c, 1, 1);
	c.nodes[0].id = 70000; /* a TPG id is 16 bits */
	expect_bad(&c, "node id 70000");
	cfg_two(&c, 3, 1);
	expect_bad(&c, "local node id 3");
	cfg_two(&c, 1, 1);
	c.nodes[0].nports = 0;
	expect_bad(&c, "0 ports");
	cfg_two(&c, 1, 1);
	c.nodes[0].nports = CL_MAX_PORTS + 1;
	expect_bad(&c, "17 ports");
	cfg_two(&c, 1, 1);
	c.nodes[0].rel_ports[1] = 0;
	expect_bad(&c, "relative port id 0");
	cfg_two(&c, 1, 1);
	c.nodes[0].rel_ports[0] = 2; /* node 1 has it */
	expect_bad(&c, "relative port id 2 used twice");
	cfg_two(&c, 1, 1);
	c.nodes[1].rel_ports[1] = 1; /* twice on one node */
	expect_bad(&c, "relative port id 1 used twice");
	cfg_two(&c, 1, 0);
	expect_bad(&c, "0 LUNs");
	cfg_two(&c, 1, 1);
	c.nluns = CL_MAX_LUNS + 1;
	expect_bad(&c, "65 LUNs");
}

/* The digest covers what every node must agree on, and not local_id. */
static void test_config_digest(void **state)
{
	struct cl_config a, b;
	char err[128];

	cfg_two(&a, 1, 2);
	assert_int_equal(finalize(&a, err), 0);
	cfg_two(&b, 2, 2);
	assert_int_equal(finalize(&b, err), 0);
	assert_int_equal(a.digest, b.digest);

#define DIFFERS(stmt)                                                                              \
	do {                                                                                       \
		cfg_two(&b, 1, 2);                                                                 \
		stmt;                                                                              \
		assert_int_equal(finalize(&b, err), 0);                                            \
		assert_int_not_equal(a.digest, b.digest);                                          \
	} while (0)
	DIFFERS(b.nodes[0].id = 5);
	DIFFERS(strcpy(b.nodes[0].name, "c"));
	DIFFERS(b.nodes[1].fence_delay_ms = 3001);
	DIFFERS(b.nodes[0].nports = 1);
	DIFFERS(b.nodes[0].rel_ports[1] = 9);
	DIFFERS(b.nluns = 1);
	DIFFERS(strcpy(b.luns[1].name, "x"));
	DIFFERS(b.luns[1].lu_id = 0x601ull << 32);
	DIFFERS(b.startup_wait_ms = 1);
	DIFFERS(b.fence_retry_ms = 1);
#undef DIFFERS
}

static struct cl_actions *acts_new(void)
{
	struct cl_actions *a = calloc(1, sizeof(*a));

	assert_non_null(a);
	return a;
}

static void test_state_init(void **state)
{
	struct cl_config c;
	struct cl_state s;
	struct cl_actions *acts = acts_new();
	char err[128];

	cfg_two(&c, 2, 3);
	assert_int_equal(finalize(&c, err), 0);
	cl_state_init(&s, &c, acts);
	assert_int_equal(s.phase, CL_JOINING);
	assert_false(s.local_quorate);
	assert_int_equal(acts->n, 3);
	for (uint32_t i = 0; i < 3; i++) {
		const struct cl_action *a = &acts->a[i];
		assert_int_equal(a->type, CL_ACT_ALUA);
		assert_int_equal(a->alua.lun, i);
		assert_int_equal(a->alua.version, 1);
		assert_int_equal(a->alua.ntpgs, 2);
		assert_int_equal(a->alua.tpg[0].id, 1);
		assert_int_equal(a->alua.tpg[0].state, CL_ALUA_TRANSITIONING);
		assert_int_equal(a->alua.tpg[1].id, 2);
		assert_int_equal(a->alua.tpg[1].state, CL_ALUA_UNAVAILABLE); /* us, inquorate */
	}
	free(acts);
}

static void test_bad_event_and_const_input(void **state)
{
	struct cl_config c;
	struct cl_state s, copy, out;
	struct cl_actions *acts = acts_new();
	struct cl_event ev = {.type = 99};
	char err[128];

	cfg_two(&c, 1, 1);
	assert_int_equal(finalize(&c, err), 0);
	cl_state_init(&s, &c, acts);
	memcpy(&copy, &s, sizeof(s));
	assert_int_equal(decide(&s, &ev, &out, acts), -EINVAL);
	assert_int_equal(acts->n, 0);
	ev.type = CL_EV_QUORUM;
	ev.quorum.quorate = true;
	assert_int_equal(decide(&s, &ev, &out, acts), 0);
	assert_true(out.local_quorate);
	assert_memory_equal(&s, &copy, sizeof(s)); /* in is never written */
	free(acts);
}

static void test_alua_table_fill(void **state)
{
	struct cl_config c;
	struct cl_act_alua a = {.lun = 0, .version = 42, .ntpgs = 2};
	struct alua_table tab;
	char err[128];

	cfg_two(&c, 1, 1);
	assert_int_equal(finalize(&c, err), 0);
	a.tpg[0].id = 1;
	a.tpg[0].state = CL_ALUA_AO;
	a.tpg[1].id = 2;
	a.tpg[1].state = CL_ALUA_OFFLINE;
	cl_alua_table_fill(&c, &a, &tab);
	assert_true(tab.version == 42);
	assert_int_equal(tab.ntpgs, 2);
	assert_int_equal(tab.tpg[0].id, 1);
	assert_int_equal(tab.tpg[0].state, ALUA_AO);
	assert_false(tab.tpg[0].pref);
	assert_int_equal(tab.tpg[0].nports, 2);
	assert_int_equal(tab.tpg[0].rel_port[0], 1);
	assert_int_equal(tab.tpg[0].rel_port[1], 2);
	assert_int_equal(tab.tpg[1].id, 2);
	assert_int_equal(tab.tpg[1].state, ALUA_OFFLINE);
	assert_int_equal(tab.tpg[1].rel_port[0], 3);
	assert_int_equal(tab.tpg[1].rel_port[1], 4);
	/* the model's values are SPC-4's, as the target's enum has them */
	assert_int_equal(CL_ALUA_TRANSITIONING, ALUA_TRANSITIONING);
	assert_int_equal(CL_ALUA_UNAVAILABLE, ALUA_UNAVAILABLE);
	assert_int_equal(CL_ALUA_STANDBY, ALUA_STANDBY);
	assert_int_equal(CL_ALUA_ANO, ALUA_ANO);
}

static void test_names(void **state)
{
	assert_string_equal(cl_node_state_name(CL_NODE_FENCED), "fenced");
	assert_string_equal(cl_node_state_name(6), "?");
	assert_string_equal(cl_alua_name(CL_ALUA_TRANSITIONING), "TRANSITIONING");
	assert_string_equal(cl_alua_name(4), "?");
	assert_string_equal(cl_phase_name(CL_SYNCED), "synced");
	assert_string_equal(cl_fence_result_name(CL_FENCE_TIMEOUT), "timeout");
	assert_string_equal(cl_fence_reason_name(CL_FENCE_STARTUP), "startup");
	assert_string_equal(cl_failed_kind_name(CL_FAILED_SPLIT_BRAIN), "split-brain");
	assert_string_equal(cl_failed_kind_name(9), "?");
}

/* ---- a two-node simulator: one agreed order for both ---- */

struct sim {
	struct cl_config cfg[2];
	struct cl_state s[2];
	struct cl_actions *acts;
	/* the agreed-order bus: encoded messages with their sender */
	uint32_t head, tail;
	struct {
		uint32_t from;
		uint32_t len;
		uint8_t buf[CL_MSG_MAX];
	} q[512];
	uint32_t replies, refused;
};

static void sim_collect(struct sim *x, int node)
{
	for (uint32_t i = 0; i < x->acts->n; i++) {
		const struct cl_action *a = &x->acts->a[i];
		if (a->type == CL_ACT_MCAST) {
			assert_true(x->tail - x->head < 512);
			x->q[x->tail % 512].from = (uint32_t)node + 1;
			x->q[x->tail % 512].len = a->mcast.len;
			memcpy(x->q[x->tail % 512].buf, cl_act_bytes(x->acts, a), a->mcast.len);
			x->tail++;
		}
		assert_int_not_equal(a->type, CL_ACT_EXIT);
		assert_int_not_equal(a->type, CL_ACT_FENCE);
		if (a->type == CL_ACT_REPLY) {
			x->replies++;
			x->refused += a->reply.err != 0;
		}
	}
}

static void sim_step(struct sim *x, int node, const struct cl_event *ev)
{
	struct cl_state out;

	assert_int_equal(decide(&x->s[node], ev, &out, x->acts), 0);
	x->s[node] = out;
	sim_collect(x, node);
}

static void sim_init(struct sim *x, uint32_t nluns)
{
	char err[128];

	memset(x, 0, sizeof(*x));
	x->acts = acts_new();
	for (int n = 0; n < 2; n++) {
		cfg_two(&x->cfg[n], (uint32_t)n + 1, nluns);
		assert_int_equal(finalize(&x->cfg[n], err), 0);
		cl_state_init(&x->s[n], &x->cfg[n], x->acts);
	}
}

static void sim_confchg_both(struct sim *x)
{
	struct cl_event ev = {.type = CL_EV_CONFCHG};

	ev.confchg.nmembers = 2;
	ev.confchg.njoined = 2;
	for (uint32_t i = 0; i < 2; i++) {
		ev.confchg.members[i] = (struct cl_member){.nodeid = i + 1, .pid = 10 + i};
		ev.confchg.joined[i] = (struct cl_member){i + 1, 10 + i, CL_REASON_JOIN};
	}
	sim_step(x, 0, &ev);
	sim_step(x, 1, &ev);
}

static void sim_quorum(struct sim *x, int node, bool q)
{
	struct cl_event ev = {.type = CL_EV_QUORUM};

	ev.quorum.quorate = q;
	sim_step(x, node, &ev);
}

/* Delivers the next queued message to both nodes, in the same (agreed) order. */
static bool sim_deliver_one(struct sim *x)
{
	struct cl_event ev = {.type = CL_EV_MSG};
	uint8_t buf[CL_MSG_MAX];

	if (x->head == x->tail)
		return false;
	memcpy(buf, x->q[x->head % 512].buf, x->q[x->head % 512].len);
	ev.msg.nodeid = x->q[x->head % 512].from;
	ev.msg.buf = buf;
	ev.msg.len = x->q[x->head % 512].len;
	x->head++;
	sim_step(x, 0, &ev);
	sim_step(x, 1, &ev);
	return true;
}

static void sim_drain(struct sim *x)
{
	while (sim_deliver_one(x))
		;
}

static void sim_admin(struct sim *x, int node, struct cl_msg *m)
{
	uint8_t buf[CL_MSG_MAX];
	int len;

	m->sender = (uint32_t)node + 1;
	len = cl_msg_encode(m, buf, sizeof(buf));
	assert_true(len > 0);
	x->q[x->tail % 512].from = (uint32_t)node + 1;
	x->q[x->tail % 512].len = (uint32_t)len;
	memcpy(x->q[x->tail % 512].buf, buf, (size_t)len);
	x->tail++;
}

/* Both nodes: same roles, same replicated facts, the very same tables. */
static void sim_assert_agree(const struct sim *x)
{
	const struct cl_state *a = &x->s[0], *b = &x->s[1];

	assert_int_equal(a->phase, CL_SYNCED);
	assert_int_equal(b->phase, CL_SYNCED);
	assert_true(a->change_seq == b->change_seq);
	assert_true(a->epoch == b->epoch);
	for (uint32_t i = 0; i < a->cfg->nluns; i++) {
		assert_int_equal(a->luns[i].ao_node, b->luns[i].ao_node);
		assert_int_equal(a->luns[i].move_to, b->luns[i].move_to);
		assert_memory_equal(a->luns[i].alua, b->luns[i].alua, CL_MAX_NODES);
	}
	for (uint32_t i = 0; i < a->cfg->nnodes; i++) {
		assert_int_equal(a->nodes[i].state, b->nodes[i].state);
		assert_int_equal(a->nodes[i].standby, b->nodes[i].standby);
	}
}

static void sim_cold_start(struct sim *x)
{
	sim_quorum(x, 0, true);
	sim_quorum(x, 1, true);
	sim_confchg_both(x);
	sim_drain(x);
}

static void test_sim_cold_start_and_admin(void **state)
{
	struct sim *x = calloc(1, sizeof(*x));
	struct cl_msg m = {.type = CL_MSG_MOVE};

	sim_init(x, 2);
	sim_cold_start(x);
	sim_assert_agree(x);
	assert_int_equal(x->s[0].luns[0].ao_node, 1);
	assert_int_equal(x->s[0].luns[0].alua[0], CL_ALUA_AO);
	assert_int_equal(x->s[0].luns[0].alua[1], CL_ALUA_ANO);

	m.move.lun = 1;
	m.move.node = 2;
	m.move.cookie = 1;
	sim_admin(x, 1, &m); /* asked on node 2 */
	sim_drain(x);
	sim_assert_agree(x);
	assert_int_equal(x->s[1].luns[1].ao_node, 2);
	assert_int_equal(x->s[1].luns[1].alua[1], CL_ALUA_AO);
	assert_int_equal(x->replies, 1);
	assert_int_equal(x->refused, 0);

	memset(&m, 0, sizeof(m));
	m.type = CL_MSG_STANDBY;
	m.node.node = 2;
	sim_admin(x, 0, &m);
	sim_drain(x);
	sim_assert_agree(x);
	assert_int_equal(x->s[0].luns[1].ao_node, 1);
	assert_int_equal(x->s[0].luns[1].alua[1], CL_ALUA_STANDBY);
	m.type = CL_MSG_ONLINE;
	sim_admin(x, 0, &m);
	sim_drain(x);
	sim_assert_agree(x);
	assert_int_equal(x->s[1].luns[1].ao_node, 1); /* no failback */
	assert_int_equal(x->s[1].luns[1].alua[1], CL_ALUA_ANO);
	free(x->acts);
	free(x);
}

/* A small deterministic PRNG (xorshift32), so failures reproduce. */
static uint32_t rnd(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

/*
 * Local quorum events arrive at each node at arbitrary points between CPG
 * deliveries (votequorum is not in agreed order), and admin requests race
 * with them. Whatever the interleaving, once everything is delivered and both
 * nodes are quorate, they agree on everything.
 */
static void test_sim_random_quorum_interleavings(void **state)
{
	struct sim *x = calloc(1, sizeof(*x));
	uint32_t accepted = 0, moved = 0;

	for (uint32_t seed = 1; seed <= 400; seed++) {
		uint32_t r = seed * 2654435761u;
		bool q[2] = {true, true};

		sim_init(x, 2);
		sim_cold_start(x);
		for (int step = 0; step < 60; step++) {
			uint32_t what = rnd(&r) % 8;
			int node = (int)(rnd(&r) % 2);
			if (what < 2) {
				q[node] = !q[node];
				sim_quorum(x, node, q[node]);
			} else if (what < 4) {
				/* a valid-looking request: the LUN to the node that is not its AO */
				struct cl_msg m = {.type = CL_MSG_MOVE};
				m.move.lun = rnd(&r) % 2;
				m.move.node = x->s[node].luns[m.move.lun].ao_node == 1 ? 2 : 1;
				sim_admin(x, node, &m);
			} else {
				sim_deliver_one(x);
			}
		}
		for (int n = 0; n < 2; n++)
			if (!q[n])
				sim_quorum(x, n, true);
		sim_drain(x);
		sim_assert_agree(x);
		for (uint32_t l = 0; l < 2; l++) {
			assert_int_not_equal(x->s[0].luns[l].ao_node, 0);
			moved += x->s[0].luns[l].ao_node != 1;
		}
		accepted += x->replies - x->refused;
		free(x->acts);
	}
	/* the races happened: many moves went through, many were refused */
	assert_true(accepted > 200);
	assert_true(moved > 100);
	free(x);
}

/* The IPC server's early answer is decide()'s. */
static void test_admin_check(void **state)
{
	struct sim *x = calloc(1, sizeof(*x));
	struct cl_msg m = {.type = CL_MSG_MOVE};
	char why[160];

	sim_init(x, 1);
	assert_int_equal(cl_admin_check(&x->s[0], &m, why, sizeof(why)), -EAGAIN);
	assert_non_null(strstr(why, "synchronizing"));
	sim_cold_start(x);
	m.move.lun = 0;
	m.move.node = 2;
	assert_int_equal(cl_admin_check(&x->s[0], &m, why, sizeof(why)), 0);
	m.move.node = 1;
	assert_int_equal(cl_admin_check(&x->s[1], &m, why, sizeof(why)), -EALREADY);
	m.type = CL_MSG_QUORUM;
	assert_int_equal(cl_admin_check(&x->s[1], &m, why, sizeof(why)), -EINVAL);
	m.type = CL_MSG_FENCE_REQUEST;
	m.fence_req.reason = CL_FENCE_LOST; /* not an admin request */
	m.fence_req.target = 2;
	assert_int_equal(cl_admin_check(&x->s[1], &m, why, sizeof(why)), -EINVAL);
	m.fence_req.reason = CL_FENCE_ADMIN;
	assert_int_equal(cl_admin_check(&x->s[1], &m, why, sizeof(why)), 0);
	sim_quorum(x, 0, false);
	sim_drain(x);
	m.type = CL_MSG_ONLINE;
	m.node.node = 1;
	assert_int_equal(cl_admin_check(&x->s[1], &m, why, sizeof(why)), -EAGAIN);
	assert_non_null(strstr(why, "not quorate"));
	free(x->acts);
	free(x);
}

/* 64 LUNs: the largest events (election of all, standby of the AO) fit in one cl_actions. */
static void test_capacity_64_luns(void **state)
{
	struct sim *x = calloc(1, sizeof(*x));
	struct cl_msg m = {.type = CL_MSG_STANDBY};

	sim_init(x, CL_MAX_LUNS);
	sim_cold_start(x);
	sim_assert_agree(x);
	for (uint32_t l = 0; l < CL_MAX_LUNS; l++)
		assert_int_equal(x->s[1].luns[l].ao_node, 1);
	m.node.node = 1;
	sim_admin(x, 0, &m);
	sim_drain(x);
	sim_assert_agree(x);
	for (uint32_t l = 0; l < CL_MAX_LUNS; l++) {
		assert_int_equal(x->s[0].luns[l].ao_node, 2);
		assert_int_equal(x->s[0].luns[l].alua[0], CL_ALUA_STANDBY);
	}
	free(x->acts);
	free(x);
}

static void test_state_msg(void **state)
{
	struct sim *x = calloc(1, sizeof(*x));
	struct cl_msg m;

	sim_init(x, 3);
	sim_cold_start(x);
	cl_state_msg(&x->s[1], &m);
	assert_int_equal(m.type, CL_MSG_STATE);
	assert_int_equal(m.sender, 2);
	assert_true(m.change_seq == x->s[1].change_seq);
	assert_int_equal(m.state.flags, CL_STATE_STATEFUL | CL_STATE_QUORATE);
	assert_int_equal(m.state.config_digest, x->cfg[1].digest);
	assert_int_equal(m.state.nmembers, 2);
	assert_int_equal(m.state.nnodes, 2);
	assert_int_equal(m.state.nodes[1].id, 2);
	assert_int_equal(m.state.nodes[1].state, CL_NODE_ONLINE);
	assert_int_equal(m.state.nluns, 3);
	assert_int_equal(m.state.ao[2], 1);
	assert_true(m.state.epoch == 3);
	free(x->acts);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_ok_sorted),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_digest),
		cmocka_unit_test(test_state_init),
		cmocka_unit_test(test_bad_event_and_const_input),
		cmocka_unit_test(test_alua_table_fill),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_sim_cold_start_and_admin),
		cmocka_unit_test(test_sim_random_quorum_interleavings),
		cmocka_unit_test(test_admin_check),
		cmocka_unit_test(test_capacity_64_luns),
		cmocka_unit_test(test_state_msg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
