/* SPDX-License-Identifier: MIT */
/*
 * The cluster node's control thread.
 *
 *   corosync (cs_*) --confchg/deliver/quorum--> cl_event --decide()--> cl_actions
 *   timers, fence agent results ---------------------^            |
 *   clusterctl (ipc_*) --admin request--> CPG message --^          v
 *                                             executor: CPG sends, ALUA pushes to the
 *                                             data plane, fence agents, timers, logs,
 *                                             failed actions, replies to clusterctl
 *
 * Everything here runs on the libqb main loop of the main thread; the data
 * plane (iSCSI target) runs on its own reactor thread (dataplane.c).
 * Fail-stop: losing corosync or a split brain ends the process with exit 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include <qb/qbloop.h>
#include "clusterd/cluster.h"
#include "clusterd/corosync.h"
#include "clusterd/dataplane.h"
#include "clusterd/ipc.h"
#include "clusterd/model.h"
#include "clusterd/msg.h"
#include "fencing/fence_run.h"
#include "fencing/watchdog.h"
#include "lib/log.h"
#include "target/scsi/scsi.h"

#define CLUSTER_MAX_FAILED    16
#define CLUSTER_MAX_PENDING   32
#define CLUSTER_STOP_GRACE_MS 3000

struct cluster;

struct cl_timer_slot {
	struct cluster *cl;
	uint8_t timer;
	uint32_t node;
	bool armed;
	qb_loop_timer_handle handle;
};

struct cl_failed_entry {
	bool used;
	uint8_t kind;
	uint32_t node;
	int32_t lun;
	char what[512];
	char hint[512];
};

struct cl_pending {
	bool used;
	uint32_t cookie;
	uint64_t ipc_id;
};

struct cl_fence_ctx {
	struct cluster *cl;
	uint32_t node;
	uint32_t attempt;
	bool test; /* fence-test: status only, answer clusterctl */
	uint64_t ipc_id;
	char agent[CL_AGENT_MAX];
};

struct cluster {
	struct cluster_config *cc;
	struct cl_config cfg;
	struct cl_state st[2];
	int cur;
	struct cl_actions acts;
	qb_loop_t *loop;
	struct cs *cs;
	struct fence_runner *fr;
	struct ipc_server *ipc;
	struct dataplane *dp;
	struct watchdog *wd; /* self-fencing, when this node has a watchdog device */
	struct tgt_config tgt;
	struct cs_vq_info vq;
	struct cl_timer_slot timers[3][CL_MAX_NODES + 1];
	struct cl_failed_entry failed[CLUSTER_MAX_FAILED];
	struct cl_pending pending[CLUSTER_MAX_PENDING];
	uint32_t next_cookie;
	int exit_code;
	bool stopping;
};

static void cluster_feed(struct cluster *cl, const struct cl_event *ev);
static void cluster_feed_later(struct cluster *cl, const struct cl_event *ev);

static struct cl_state *cl_now(struct cluster *cl)
{
	return &cl->st[cl->cur];
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void cluster_fatal(struct cluster *cl, const char *why)
{
	log_err("cluster: %s; exiting so that the node stops serving (fail-stop)", why);
	cl->exit_code = 1;
	cl->stopping = true;
	qb_loop_stop(cl->loop);
}

/* ---- configuration for decide() ---- */

static int cluster_build_cfg(struct cluster *cl, uint32_t local_id, char *err, size_t errlen)
{
	const struct cluster_config *cc = cl->cc;
	struct cl_config *cfg = &cl->cfg;

	memset(cfg, 0, sizeof(*cfg));
	cfg->local_id = local_id;
	cfg->nnodes = cc->nnodes;
	for (unsigned i = 0; i < cc->nnodes; i++) {
		const struct cc_node *n = &cc->nodes[i];
		const struct cc_node *peer = cluster_config_peer(cc, n->id);

		cfg->nodes[i].id = n->id;
		snprintf(cfg->nodes[i].name, sizeof(cfg->nodes[i].name), "%s", n->name);
		/* The cluster file gives each node the delay its PEER waits before
		 * fencing it; decide() wants the delay the fencer itself waits. */
		cfg->nodes[i].fence_delay_ms = peer ? peer->fence_delay_ms : 0;
		cfg->nodes[i].nports = n->nportals;
		for (unsigned p = 0; p < n->nportals && p < CL_MAX_PORTS; p++)
			cfg->nodes[i].rel_ports[p] = n->portals[p].rel_port_id;
	}
	cfg->nluns = cc->nluns;
	for (unsigned i = 0; i < cc->nluns; i++) {
		snprintf(cfg->luns[i].name, sizeof(cfg->luns[i].name), "%s", cc->luns[i].name);
		cfg->luns[i].lu_id = cc->luns[i].lun.lu_id;
	}
	cfg->startup_wait_ms = 30000;
	cfg->fence_retry_ms = 2000;
	return cl_config_finalize(cfg, err, errlen);
}

/* ---- executor ---- */

static void timer_fired(void *data)
{
	struct cl_timer_slot *t = data;
	struct cl_event ev = {.type = CL_EV_TIMER};

	t->armed = false;
	ev.timer.timer = t->timer;
	ev.timer.node = t->node;
	cluster_feed(t->cl, &ev);
}

static struct cl_timer_slot *timer_slot(struct cluster *cl, uint8_t timer, uint32_t node)
{
	int idx = node ? cl_node_index(&cl->cfg, node) + 1 : 0;

	if (timer >= ARRAY_SIZE(cl->timers) || idx < 0)
		return NULL;
	return &cl->timers[timer][idx];
}

static void exec_timer(struct cluster *cl, const struct cl_action *a, bool start)
{
	struct cl_timer_slot *t = timer_slot(cl, a->timer.timer, a->timer.node);

	if (!t)
		return;
	if (t->armed) {
		qb_loop_timer_del(cl->loop, t->handle);
		t->armed = false;
	}
	if (!start)
		return;
	t->cl = cl;
	t->timer = a->timer.timer;
	t->node = a->timer.node;
	if (qb_loop_timer_add(cl->loop, QB_LOOP_HIGH, (uint64_t)a->timer.ms * 1000000ull, t,
			      timer_fired, &t->handle) == 0)
		t->armed = true;
	else
		log_err("cluster: cannot arm a timer");
}

static uint8_t fence_result_of(const struct fence_result *res)
{
	if (res->ok)
		return CL_FENCE_OK;
	if (res->rc == FENCE_RC_TIMEOUT)
		return CL_FENCE_TIMEOUT;
	if (res->rc == FENCE_RC_NOT_FOUND || res->rc == FENCE_RC_ERROR)
		return CL_FENCE_ERROR;
	return CL_FENCE_FAILED;
}

static void fence_done(struct fence_op *op, const struct fence_result *res, void *arg)
{
	struct cl_fence_ctx *fc = arg;
	struct cluster *cl = fc->cl;
	struct cl_event ev = {.type = CL_EV_FENCE_DONE};
	uint64_t now = wall_ms();

	if (fc->test) {
		struct ipc_reply r = {0};

		ipc_reply_msg(&r, "agent %s: %s%s%s", fc->agent, fence_rc_name(res->rc),
			      res->reason[0] ? ": " : "", res->reason);
		if (cl->ipc)
			ipc_server_reply(cl->ipc, fc->ipc_id, res->ok ? 0 : -EIO, &r);
		free(fc);
		return;
	}
	log_notice("fence: node %u: agent %s finished: %s%s%s", fc->node, fc->agent,
		   res->ok ? "ok" : fence_rc_name(res->rc), res->reason[0] ? ": " : "",
		   res->reason);
	ev.fence_done.target = fc->node;
	ev.fence_done.attempt = fc->attempt;
	ev.fence_done.result = fence_result_of(res);
	snprintf(ev.fence_done.agent, sizeof(ev.fence_done.agent), "%s", fc->agent);
	ev.fence_done.t_end_ms = now;
	ev.fence_done.t_start_ms = now - (res->end_ms - res->start_ms);
	free(fc);
	if (!cl->stopping)
		cluster_feed(cl, &ev);
}

static int fence_start(struct cluster *cl, uint32_t node, uint32_t attempt, bool test,
		       uint64_t ipc_id)
{
	const struct cc_node *n = cluster_config_node(cl->cc, node);
	struct fence_opt opts[CC_MAX_FENCE_OPTIONS];
	struct fence_request req = {0};
	struct cl_fence_ctx *fc;
	const char *base;
	int rc;

	if (!n || !n->fence_agent[0])
		return -ENOENT;
	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->cl = cl;
	fc->node = node;
	fc->attempt = attempt;
	fc->test = test;
	fc->ipc_id = ipc_id;
	base = strrchr(n->fence_agent, '/');
	base = base ? base + 1 : n->fence_agent;
	memcpy(fc->agent, base, MIN(strlen(base), sizeof(fc->agent) - 1));
	for (unsigned i = 0; i < n->nfence_options; i++) {
		opts[i].key = n->fence_options[i].key;
		opts[i].value = n->fence_options[i].value;
	}
	req.agent = n->fence_agent;
	req.action = test ? FENCE_ACTION_STATUS : FENCE_ACTION_OFF;
	req.target_key = "plug";
	req.target = n->name;
	req.opts = opts;
	req.nopts = n->nfence_options;
	fence_policy_default(&req.policy);
	req.policy.timeout_ms = cl->cc->fence_timeout_ms;
	req.policy.retries = test ? 0 : cl->cc->fence_retries;
	rc = fence_run(cl->fr, &req, fence_done, fc, NULL);
	if (rc)
		free(fc);
	return rc;
}

static void exec_fence(struct cluster *cl, const struct cl_action *a)
{
	int rc;

	log_notice("fence: running the agent against node %u (attempt %u, reason %s)",
		   a->fence.node, a->fence.attempt, cl_fence_reason_name(a->fence.reason));
	if (cl->cc->fencing == CC_FENCING_NONE) {
		struct cl_event ev = {.type = CL_EV_FENCE_DONE};

		/* fencing = none (tests only, warned at start): count it as done. */
		ev.fence_done.target = a->fence.node;
		ev.fence_done.attempt = a->fence.attempt;
		ev.fence_done.result = CL_FENCE_OK;
		snprintf(ev.fence_done.agent, sizeof(ev.fence_done.agent), "none");
		ev.fence_done.t_start_ms = ev.fence_done.t_end_ms = wall_ms();
		cluster_feed_later(cl, &ev);
		return;
	}
	rc = fence_start(cl, a->fence.node, a->fence.attempt, false, 0);
	if (rc) {
		struct cl_event ev = {.type = CL_EV_FENCE_DONE};

		log_err("fence: cannot run the agent against node %u: %s", a->fence.node,
			strerror(-rc));
		ev.fence_done.target = a->fence.node;
		ev.fence_done.attempt = a->fence.attempt;
		ev.fence_done.result = CL_FENCE_ERROR;
		ev.fence_done.t_start_ms = ev.fence_done.t_end_ms = wall_ms();
		cluster_feed_later(cl, &ev);
	}
}

static void exec_alua(struct cluster *cl, const struct cl_action *a)
{
	struct alua_table tab;

	cl_alua_table_fill(&cl->cfg, &a->alua, &tab);
	if (cl->dp)
		dataplane_set_alua(cl->dp, a->alua.lun, &tab);
	if (cl->ipc && ipc_server_has_subscribers(cl->ipc)) {
		struct json_object *ev = json_object_new_object();

		json_object_object_add(ev, "type", json_object_new_string("alua"));
		json_object_object_add(ev, "lun",
				       json_object_new_string(cl->cfg.luns[a->alua.lun].name));
		json_object_object_add(ev, "alua_version",
				       json_object_new_int64((int64_t)a->alua.version));
		ipc_server_publish_event(cl->ipc, ev);
	}
}

static void exec_log(struct cluster *cl, const struct cl_action *a)
{
	static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR};
	const char *text = cl_act_text(&cl->acts, a->log.text);
	int p = a->log.level < ARRAY_SIZE(prio) ? prio[a->log.level] : LOG_INFO;

	qb_log(p, "cluster: %s", text);
	if (cl->ipc && ipc_server_has_subscribers(cl->ipc) && a->log.level >= CL_LOG_NOTICE) {
		struct json_object *ev = json_object_new_object();

		json_object_object_add(ev, "type", json_object_new_string("log"));
		json_object_object_add(ev, "message", json_object_new_string(text));
		ipc_server_publish_event(cl->ipc, ev);
	}
}

static void exec_failed(struct cluster *cl, const struct cl_action *a, bool clear)
{
	struct cl_failed_entry *free_slot = NULL;

	for (unsigned i = 0; i < CLUSTER_MAX_FAILED; i++) {
		struct cl_failed_entry *f = &cl->failed[i];

		if (!f->used) {
			if (!free_slot)
				free_slot = f;
			continue;
		}
		if (f->kind == a->failed.kind && f->node == a->failed.node) {
			if (clear) {
				f->used = false;
				return;
			}
			free_slot = f;
			break;
		}
	}
	if (clear || !free_slot)
		return;
	free_slot->used = true;
	free_slot->kind = a->failed.kind;
	free_slot->node = a->failed.node;
	free_slot->lun = a->failed.lun;
	snprintf(free_slot->what, sizeof(free_slot->what), "%s",
		 cl_act_text(&cl->acts, a->failed.text));
	snprintf(free_slot->hint, sizeof(free_slot->hint), "%s",
		 cl_act_text(&cl->acts, a->failed.hint));
	log_warn("cluster: failed action: %s (%s)", free_slot->what, free_slot->hint);
}

static void exec_reply(struct cluster *cl, const struct cl_action *a)
{
	for (unsigned i = 0; i < CLUSTER_MAX_PENDING; i++) {
		struct cl_pending *p = &cl->pending[i];
		struct ipc_reply r = {0};

		if (!p->used || p->cookie != a->reply.cookie)
			continue;
		p->used = false;
		if (a->reply.err)
			ipc_reply_fail(&r, a->reply.err, NULL, "%s",
				       cl_act_text(&cl->acts, a->reply.text));
		else
			ipc_reply_msg(&r, "%s", cl_act_text(&cl->acts, a->reply.text));
		if (cl->ipc)
			ipc_server_reply(cl->ipc, p->ipc_id, a->reply.err, &r);
		return;
	}
}

static void cluster_execute(struct cluster *cl)
{
	for (uint32_t i = 0; i < cl->acts.n && !cl->stopping; i++) {
		const struct cl_action *a = &cl->acts.a[i];
		int rc;

		switch (a->type) {
		case CL_ACT_MCAST:
			rc = cs_send(cl->cs, cl_act_bytes(&cl->acts, a), a->mcast.len);
			if (rc == -ENOTCONN)
				cluster_fatal(cl, "corosync is gone");
			else if (rc)
				log_err("cluster: cannot send %s: %s",
					cl_msg_type_name(a->mcast.type), strerror(-rc));
			break;
		case CL_ACT_ALUA:
			exec_alua(cl, a);
			break;
		case CL_ACT_FENCE:
			exec_fence(cl, a);
			break;
		case CL_ACT_TIMER_START:
		case CL_ACT_TIMER_CANCEL:
			exec_timer(cl, a, a->type == CL_ACT_TIMER_START);
			break;
		case CL_ACT_LOG:
			exec_log(cl, a);
			break;
		case CL_ACT_FAILED:
		case CL_ACT_FAILED_CLEAR:
			exec_failed(cl, a, a->type == CL_ACT_FAILED_CLEAR);
			break;
		case CL_ACT_REPLY:
			exec_reply(cl, a);
			break;
		case CL_ACT_EXIT:
			cluster_fatal(cl, cl_act_text(&cl->acts, a->exit.text));
			break;
		default:
			break;
		}
	}
}

/*
 * One input through the state machine: decide() into the other state buffer,
 * then the actions in order. Actions never feed an event back synchronously
 * (see cluster_feed_later()), so cl->acts stays valid while they run.
 */
static void cluster_feed(struct cluster *cl, const struct cl_event *ev)
{
	int next = 1 - cl->cur;
	int rc;

	if (cl->stopping)
		return;
	cl->acts.n = 0;
	cl->acts.used = 0;
	cl->acts.overflow = false;
	rc = decide(&cl->st[cl->cur], ev, &cl->st[next], &cl->acts);
	if (rc == -EINVAL)
		return;
	cl->cur = next;
	if (rc == -ENOSPC) {
		cluster_fatal(cl, "decide() produced more actions than fit");
		return;
	}
	cluster_execute(cl);
}

struct cl_later {
	struct cluster *cl;
	struct cl_event ev;
};

static void cluster_later_job(void *data)
{
	struct cl_later *l = data;

	cluster_feed(l->cl, &l->ev);
	free(l);
}

/* Feeds ev from the loop, after the current actions (never re-entrantly). */
static void cluster_feed_later(struct cluster *cl, const struct cl_event *ev)
{
	struct cl_later *l = malloc(sizeof(*l));

	if (!l || qb_loop_job_add(cl->loop, QB_LOOP_HIGH, l, cluster_later_job) != 0) {
		free(l);
		cluster_fatal(cl, "cannot queue an internal event");
		return;
	}
	l->cl = cl;
	l->ev = *ev;
}

/* ---- corosync ---- */

static void cs_on_confchg(void *arg, const struct cs_confchg *cc)
{
	struct cluster *cl = arg;
	struct cl_event ev = {.type = CL_EV_CONFCHG};
	struct cl_ev_confchg *c = &ev.confchg;

	c->nmembers = (uint32_t)MIN(cc->nmembers, (size_t)CL_MAX_MEMBERS);
	c->nleft = (uint32_t)MIN(cc->nleft, (size_t)CL_MAX_MEMBERS);
	c->njoined = (uint32_t)MIN(cc->njoined, (size_t)CL_MAX_MEMBERS);
	for (uint32_t i = 0; i < c->nmembers; i++)
		c->members[i] = (struct cl_member){cc->members[i].nodeid, cc->members[i].pid,
						   cc->members[i].reason};
	for (uint32_t i = 0; i < c->nleft; i++)
		c->left[i] =
			(struct cl_member){cc->left[i].nodeid, cc->left[i].pid, cc->left[i].reason};
	for (uint32_t i = 0; i < c->njoined; i++)
		c->joined[i] = (struct cl_member){cc->joined[i].nodeid, cc->joined[i].pid,
						  cc->joined[i].reason};
	cluster_feed(cl, &ev);
}

static void cs_on_deliver(void *arg, uint32_t nodeid, uint32_t pid, const void *msg, size_t len)
{
	struct cluster *cl = arg;
	struct cl_event ev = {.type = CL_EV_MSG};

	ev.msg.nodeid = nodeid;
	ev.msg.pid = pid;
	ev.msg.buf = msg;
	ev.msg.len = len;
	cluster_feed(cl, &ev);
}

static void cs_on_quorum(void *arg, bool quorate, const struct cs_ring *ring, const uint32_t *nodes,
			 size_t n)
{
	struct cluster *cl = arg;
	struct cl_event ev = {.type = CL_EV_QUORUM};

	log_notice("cluster: corosync says this partition is %s (ring %u/%llu, %zu node%s)",
		   quorate ? "quorate" : "NOT quorate", ring->nodeid, (unsigned long long)ring->seq,
		   n, n == 1 ? "" : "s");
	ev.quorum.quorate = quorate;
	if (cl->wd)
		watchdog_set_quorate(cl->wd, quorate);
	cluster_feed(cl, &ev);
}

static void cs_on_votequorum(void *arg, const struct cs_vq_info *info)
{
	struct cluster *cl = arg;

	cl->vq = *info;
}

static void cs_on_totem(void *arg, const struct cs_ring *ring, const uint32_t *members, size_t n)
{
	log_info("cluster: totem ring %u/%llu with %zu member%s", ring->nodeid,
		 (unsigned long long)ring->seq, n, n == 1 ? "" : "s");
}

static void cs_on_lost(void *arg, const char *why)
{
	cluster_fatal(arg, why);
}

static const struct cs_ops cluster_cs_ops = {
	.confchg = cs_on_confchg,
	.deliver = cs_on_deliver,
	.quorum = cs_on_quorum,
	.votequorum = cs_on_votequorum,
	.totem = cs_on_totem,
	.lost = cs_on_lost,
};

/* ---- clusterctl ---- */

static const char *lower_name(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	buf[i] = 0;
	return buf;
}

static char *iso_time(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), len - strlen(buf), ".%03uZ", (unsigned)(ms % 1000));
	return buf;
}

static struct json_object *status_quorum(struct cluster *cl)
{
	struct json_object *q = json_object_new_object(), *flags = json_object_new_array();
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {{CS_VQ_QUORATE, "Quorate"},
		     {CS_VQ_TWONODE, "TwoNode"},
		     {CS_VQ_WAIT_FOR_ALL, "WaitForAll"},
		     {CS_VQ_LAST_MAN_STANDING, "LastManStanding"},
		     {CS_VQ_AUTO_TIE_BREAKER, "AutoTieBreaker"}};

	json_object_object_add(q, "expected_votes",
			       json_object_new_int((int)cl->vq.expected_votes));
	json_object_object_add(q, "total_votes", json_object_new_int((int)cl->vq.total_votes));
	json_object_object_add(q, "quorum", json_object_new_int((int)cl->vq.quorum));
	for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
		if (cl->vq.flags & names[i].bit)
			json_object_array_add(flags, json_object_new_string(names[i].name));
	json_object_object_add(q, "flags", flags);
	return q;
}

static struct json_object *status_nodes(struct cluster *cl)
{
	const struct cl_state *s = cl_now(cl);
	struct json_object *arr = json_object_new_array();
	char buf[32];

	for (uint32_t i = 0; i < cl->cfg.nnodes; i++) {
		const struct cl_node *n = &s->nodes[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_int((int)n->id));
		json_object_object_add(o, "name", json_object_new_string(cl->cfg.nodes[i].name));
		json_object_object_add(o, "state",
				       json_object_new_string(lower_name(
					       cl_node_state_name(n->state), buf, sizeof(buf))));
		json_object_object_add(o, "online", json_object_new_boolean(n->member));
		json_object_object_add(o, "fenced",
				       json_object_new_boolean(n->state == CL_NODE_FENCED));
		json_object_object_add(o, "standby", json_object_new_boolean(n->standby));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *status_tpg(struct cluster *cl, uint32_t lun, uint32_t i)
{
	const struct cl_state *s = cl_now(cl);
	const struct cc_node *cn = cluster_config_node(cl->cc, cl->cfg.nodes[i].id);
	struct json_object *t = json_object_new_object(), *ports = json_object_new_array();
	char buf[32], portal[96];

	json_object_object_add(t, "id", json_object_new_int((int)cl->cfg.nodes[i].id));
	json_object_object_add(t, "node", json_object_new_int((int)cl->cfg.nodes[i].id));
	json_object_object_add(t, "state",
			       json_object_new_string(lower_name(cl_alua_name(s->luns[lun].alua[i]),
								 buf, sizeof(buf))));
	for (unsigned p = 0; cn && p < cn->nportals; p++) {
		struct json_object *po = json_object_new_object();

		snprintf(portal, sizeof(portal), "%s:%u", cn->portals[p].addr, cn->portals[p].port);
		json_object_object_add(po, "id", json_object_new_int(cn->portals[p].rel_port_id));
		json_object_object_add(po, "portal", json_object_new_string(portal));
		json_object_array_add(ports, po);
	}
	json_object_object_add(t, "ports", ports);
	return t;
}

/*
 * The node whose port group is AO for this LUN as this node reports it; 0
 * while there is none (the sticky owner may be lost and not yet fenced: its
 * group is then TRANSITIONING, and no one is AO until the fence succeeds).
 */
static uint32_t status_ao_node(const struct cluster *cl, uint32_t lun)
{
	const struct cl_state *s = &cl->st[cl->cur];

	for (uint32_t i = 0; i < cl->cfg.nnodes; i++)
		if (s->luns[lun].alua[i] == CL_ALUA_AO)
			return cl->cfg.nodes[i].id;
	return 0;
}

static const char *status_lun_reason(const struct cluster *cl, uint32_t lun, char *buf, size_t len)
{
	const struct cl_state *s = &cl->st[cl->cur];
	uint32_t owner = s->luns[lun].ao_node;
	int idx = owner ? cl_node_index(&cl->cfg, owner) : -1;

	if (s->luns[lun].move_to)
		return "planned switchover in progress";
	if (s->phase != CL_SYNCED)
		return "membership change being synchronized";
	if (idx >= 0 &&
	    (s->nodes[idx].state == CL_NODE_UNCLEAN || s->nodes[idx].state == CL_NODE_FENCING)) {
		snprintf(buf, len, "AO node %s was lost; I/O is frozen until it is fenced",
			 cl->cfg.nodes[idx].name);
		return buf;
	}
	return "no node may be AO yet (quorum or fencing)";
}

static struct json_object *status_luns(struct cluster *cl)
{
	const struct cl_state *s = cl_now(cl);
	struct json_object *arr = json_object_new_array();
	char buf[160];

	for (uint32_t l = 0; l < cl->cfg.nluns; l++) {
		struct json_object *o = json_object_new_object(), *tpgs = json_object_new_array();
		uint32_t ao = status_ao_node(cl, l);

		json_object_object_add(o, "name", json_object_new_string(cl->cfg.luns[l].name));
		json_object_object_add(o, "ao_node", ao ? json_object_new_int((int)ao) : NULL);
		json_object_object_add(o, "alua_version",
				       json_object_new_int64((int64_t)s->luns[l].alua_version));
		if (!ao || s->luns[l].move_to)
			json_object_object_add(
				o, "reason",
				json_object_new_string(status_lun_reason(cl, l, buf, sizeof(buf))));
		for (uint32_t i = 0; i < cl->cfg.nnodes; i++)
			json_object_array_add(tpgs, status_tpg(cl, l, i));
		json_object_object_add(o, "tpgs", tpgs);
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *status_fences(struct cluster *cl)
{
	const struct cl_state *s = cl_now(cl);
	struct json_object *arr = json_object_new_array();
	uint32_t n = MIN(s->nhist, (uint32_t)CL_FENCE_HISTORY);
	char buf[40];

	for (uint32_t k = 0; k < n; k++) {
		const struct cl_fence_record *r = &s->hist[(s->nhist - n + k) % CL_FENCE_HISTORY];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "target", json_object_new_int((int)r->target));
		json_object_object_add(o, "by", json_object_new_int((int)r->fencer));
		json_object_object_add(o, "agent", json_object_new_string(r->agent));
		json_object_object_add(o, "action", json_object_new_string("off"));
		json_object_object_add(o, "result",
				       json_object_new_string(lower_name(
					       cl_fence_result_name(r->result), buf, sizeof(buf))));
		json_object_object_add(
			o, "started",
			json_object_new_string(iso_time(r->t_start_ms, buf, sizeof(buf))));
		json_object_object_add(
			o, "finished",
			json_object_new_string(iso_time(r->t_end_ms, buf, sizeof(buf))));
		json_object_object_add(
			o, "duration_ms",
			json_object_new_int64((int64_t)(r->t_end_ms - r->t_start_ms)));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *status_failed(struct cluster *cl)
{
	struct json_object *arr = json_object_new_array();

	for (unsigned i = 0; i < CLUSTER_MAX_FAILED; i++) {
		const struct cl_failed_entry *f = &cl->failed[i];
		struct json_object *o;

		if (!f->used)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "what",
				       json_object_new_string(cl_failed_kind_name(f->kind)));
		json_object_object_add(o, "why", json_object_new_string(f->what));
		json_object_object_add(o, "hint", json_object_new_string(f->hint));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *status_sessions(struct cluster *cl)
{
	static struct iscsi_sess_info info[DATAPLANE_MAX_SESSIONS];
	struct json_object *arr = json_object_new_array();
	unsigned n = cl->dp ? dataplane_sessions(cl->dp, info, DATAPLANE_MAX_SESSIONS) : 0;

	for (unsigned i = 0; i < n; i++) {
		struct json_object *o;

		if (info[i].discovery)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "initiator", json_object_new_string(info[i].initiator));
		json_object_object_add(o, "isid", json_object_new_string(info[i].isid));
		json_object_object_add(o, "tsih", json_object_new_int(info[i].tsih));
		json_object_object_add(o, "node", json_object_new_int((int)cl->cfg.local_id));
		json_object_object_add(o, "portal", json_object_new_string(info[i].portal));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *ipc_status(void *arg)
{
	struct cluster *cl = arg;
	const struct cl_state *s = cl_now(cl);
	struct json_object *o = json_object_new_object();
	struct iscsi_tgt_stats st = {0};
	char buf[32];

	if (cl->dp)
		dataplane_stats(cl->dp, &st);
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "cluster", json_object_new_string(cl->cc->name));
	json_object_object_add(o, "local_node", json_object_new_int((int)cl->cfg.local_id));
	json_object_object_add(
		o, "phase",
		json_object_new_string(lower_name(cl_phase_name(s->phase), buf, sizeof(buf))));
	json_object_object_add(o, "epoch", json_object_new_int64((int64_t)s->epoch));
	json_object_object_add(o, "quorate", json_object_new_boolean(s->local_quorate));
	json_object_object_add(o, "quorum", status_quorum(cl));
	json_object_object_add(o, "nodes", status_nodes(cl));
	json_object_object_add(o, "luns", status_luns(cl));
	json_object_object_add(o, "sessions", status_sessions(cl));
	json_object_object_add(o, "session_count", json_object_new_int((int)st.sessions));
	json_object_object_add(o, "fence_history", status_fences(cl));
	json_object_object_add(o, "failed_actions", status_failed(cl));
	return o;
}

static int resolve_node(struct cluster *cl, const char *arg, uint32_t *id)
{
	const struct cc_node *n = cluster_config_node_by_name(cl->cc, arg);
	char *end;
	unsigned long v;

	if (n) {
		*id = n->id;
		return 0;
	}
	v = strtoul(arg, &end, 10);
	if (*arg && !*end && cluster_config_node(cl->cc, (uint32_t)v)) {
		*id = (uint32_t)v;
		return 0;
	}
	return -ENOENT;
}

/* Sends an admin request through CPG; the reply comes when it is delivered. */
static int admin_send(struct cluster *cl, struct cl_msg *m, uint32_t cookie, struct ipc_reply *r)
{
	uint8_t buf[CL_MSG_MAX];
	char why[160];
	int rc, len;

	m->sender = cl->cfg.local_id;
	m->change_seq = cl_now(cl)->change_seq;
	rc = cl_admin_check(cl_now(cl), m, why, sizeof(why));
	if (rc)
		return ipc_reply_fail(r, rc, rc == -EAGAIN ? "retry in a moment" : NULL, "%s", why);
	len = cl_msg_encode(m, buf, sizeof(buf));
	if (len < 0)
		return ipc_reply_fail(r, len, NULL, "cannot encode the request");
	for (unsigned i = 0; i < CLUSTER_MAX_PENDING; i++) {
		if (cl->pending[i].used)
			continue;
		rc = cs_send(cl->cs, buf, (size_t)len);
		if (rc)
			return ipc_reply_fail(r, rc, "check corosync", "cannot send the request");
		cl->pending[i] = (struct cl_pending){true, cookie, r->id};
		r->wait_ms = 5000;
		return -EINPROGRESS;
	}
	return ipc_reply_fail(r, -EBUSY, "retry when earlier requests have completed",
			      "too many requests in flight");
}

static int ipc_move(void *arg, const char *lun, const char *node, struct ipc_reply *r)
{
	struct cluster *cl = arg;
	struct cl_msg m = {.type = CL_MSG_MOVE};
	int idx = cluster_config_lun_index(cl->cc, lun);
	uint32_t id;

	if (idx < 0)
		return ipc_reply_fail(r, -ENOENT, "see clusterctl status for the LUN names",
				      "no LUN named '%s'", lun);
	if (resolve_node(cl, node, &id))
		return ipc_reply_fail(r, -ENOENT, NULL, "no node named '%s'", node);
	m.move.cookie = ++cl->next_cookie;
	m.move.lun = (uint32_t)idx;
	m.move.node = id;
	return admin_send(cl, &m, m.move.cookie, r);
}

static int ipc_standby(void *arg, const char *node, bool on, struct ipc_reply *r)
{
	struct cluster *cl = arg;
	struct cl_msg m = {.type = on ? CL_MSG_STANDBY : CL_MSG_ONLINE};
	uint32_t id;

	if (resolve_node(cl, node, &id))
		return ipc_reply_fail(r, -ENOENT, NULL, "no node named '%s'", node);
	m.node.cookie = ++cl->next_cookie;
	m.node.node = id;
	return admin_send(cl, &m, m.node.cookie, r);
}

static int ipc_fence(void *arg, const char *node, struct ipc_reply *r)
{
	struct cluster *cl = arg;
	struct cl_msg m = {.type = CL_MSG_FENCE_REQUEST};
	uint32_t id;

	if (resolve_node(cl, node, &id))
		return ipc_reply_fail(r, -ENOENT, NULL, "no node named '%s'", node);
	m.fence_req.cookie = ++cl->next_cookie;
	m.fence_req.target = id;
	m.fence_req.reason = CL_FENCE_ADMIN;
	return admin_send(cl, &m, m.fence_req.cookie, r);
}

static int ipc_fence_test(void *arg, const char *node, struct ipc_reply *r)
{
	struct cluster *cl = arg;
	uint32_t id;
	int rc;

	if (resolve_node(cl, node, &id))
		return ipc_reply_fail(r, -ENOENT, NULL, "no node named '%s'", node);
	if (cl->cc->fencing == CC_FENCING_NONE)
		return ipc_reply_fail(r, -ENOENT, "configure a fence agent per node",
				      "fencing = none: there is no agent to test");
	rc = fence_start(cl, id, 0, true, r->id);
	if (rc)
		return ipc_reply_fail(r, rc, "check fence_agent in the configuration",
				      "cannot run the agent");
	r->wait_ms = cl->cc->fence_timeout_ms + 1000;
	return -EINPROGRESS;
}

static const struct ipc_handlers cluster_ipc = {
	.status = ipc_status,
	.move = ipc_move,
	.standby = ipc_standby,
	.fence = ipc_fence,
	.fence_test = ipc_fence_test,
};

/* ---- start and stop ---- */

static int32_t cluster_on_signal(int32_t sig, void *data)
{
	struct cluster *cl = data;

	log_notice("cluster: received %s: leaving the cluster cleanly", strsignal(sig));
	cl->stopping = true;
	qb_loop_stop(cl->loop);
	return 0;
}

static int cluster_start_dataplane(struct cluster *cl, const struct cl_actions *init, char *err,
				   size_t errlen)
{
	static struct alua_table tables[CL_MAX_LUNS];
	const struct cc_node *peer;
	int rc;

	rc = cluster_config_node_tgt(cl->cc, cl->cfg.local_id, &cl->tgt, err, errlen);
	if (rc)
		return rc;
	peer = cluster_config_peer(cl->cc, cl->cfg.local_id);
	for (unsigned i = 0; peer && i < peer->nportals && i < TGT_MAX_PORTALS; i++)
		cl->tgt.peer_portals[cl->tgt.npeer_portals++] = peer->portals[i];
	cl->tgt.alua_external = true;
	for (uint32_t i = 0; i < init->n; i++)
		if (init->a[i].type == CL_ACT_ALUA && init->a[i].alua.lun < CL_MAX_LUNS)
			cl_alua_table_fill(&cl->cfg, &init->a[i].alua,
					   &tables[init->a[i].alua.lun]);
	return dataplane_start(&cl->dp, &cl->tgt, tables, cl->cfg.nluns, err, errlen);
}

/*
 * Watchdog self-fencing (fencing/watchdog.h): fed only while this node is
 * quorate and its control loop turns; a node cut off, or hung, resets itself.
 */
static int cluster_watchdog_start(struct cluster *cl, char *err, size_t errlen)
{
	const struct cc_node *me = cluster_config_node(cl->cc, cl->cfg.local_id);
	struct watchdog_config wc = {0};
	int rc;

	if (!me || !me->watchdog[0])
		return 0;
	wc.device = me->watchdog;
	wc.timeout_s = cl->cc->watchdog_timeout_ms / 1000;
	rc = watchdog_create(&cl->wd, &wc);
	if (!rc)
		rc = watchdog_loop_attach(cl->wd, cl->loop);
	if (rc) {
		snprintf(err, errlen, "watchdog %.200s: %s", me->watchdog, strerror(-rc));
		return rc;
	}
	log_notice("watchdog %s: self-fencing armed at the first quorum (timeout %u s)",
		   me->watchdog, wc.timeout_s);
	return 0;
}

static int cluster_setup(struct cluster *cl, char *err, size_t errlen)
{
	int rc;

	rc = cs_open(&cl->cs, cl->loop, cl->cc->name, &cluster_cs_ops, cl, err, errlen);
	if (rc)
		return rc;
	rc = cluster_build_cfg(cl, cs_local_nodeid(cl->cs), err, errlen);
	if (rc)
		return rc;
	cl_state_init(&cl->st[0], &cl->cfg, &cl->acts);
	rc = cluster_start_dataplane(cl, &cl->acts, err, errlen);
	if (rc)
		return rc;
	rc = fence_runner_create(&cl->fr, cl->loop,
				 cl->cc->fence_agent_dirs[0] ? cl->cc->fence_agent_dirs : NULL);
	if (rc) {
		snprintf(err, errlen, "cannot create the fence runner: %s", strerror(-rc));
		return rc;
	}
	rc = cluster_watchdog_start(cl, err, errlen);
	if (rc)
		return rc;
	rc = ipc_server_start(&cl->ipc, cl->loop, cl->cc->ipc_name[0] ? cl->cc->ipc_name : NULL,
			      &cluster_ipc, cl, err, errlen);
	if (rc)
		return rc;
	/* The initial tables are in the data plane already; run the rest. */
	for (uint32_t i = 0; i < cl->acts.n; i++)
		if (cl->acts.a[i].type == CL_ACT_ALUA)
			cl->acts.a[i].type = 0;
	cluster_execute(cl);
	return 0;
}

int cluster_run(struct cluster_config *cc)
{
	struct cluster *cl = calloc(1, sizeof(*cl));
	char err[512] = "";
	int rc;

	if (!cl) {
		fprintf(stderr, "clusterd: out of memory\n");
		return 1;
	}
	cl->cc = cc;
	for (unsigned i = 0; i < cc->nwarnings; i++)
		log_warn("configuration: %s", cc->warnings[i]);
	for (unsigned i = 0; i < cc->nluns; i++) {
		if (cc->luns[i].replication == CC_REPL_SYNC) {
			log_err("LUN %s: replication = sync needs the replicator, which this "
				"release does not have yet; use replication = shared",
				cc->luns[i].name);
			free(cl);
			return 1;
		}
	}
	cl->loop = qb_loop_create();
	qb_loop_signal_add(cl->loop, QB_LOOP_HIGH, SIGTERM, cl, cluster_on_signal, NULL);
	qb_loop_signal_add(cl->loop, QB_LOOP_HIGH, SIGINT, cl, cluster_on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = cluster_setup(cl, err, sizeof(err));
	if (rc) {
		log_err("clusterd: %s", err);
		cl->exit_code = 1;
	} else {
		log_notice("clusterd %s: node %u of cluster %s serving %s (%u LUN%s)", "cluster",
			   cl->cfg.local_id, cc->name, cc->iqn, cc->nluns,
			   cc->nluns == 1 ? "" : "s");
		qb_loop_run(cl->loop);
	}
	/* A clean stop first stops serving (initiators are asked to log out,
	 * in-flight commands finish), and only then leaves the CPG group: the
	 * peer takes a LEAVE as "safe, no fencing needed" and may become AO at
	 * once, so nothing may be served from here after it (model.h). */
	dataplane_stop(cl->dp, CLUSTER_STOP_GRACE_MS);
	cl->dp = NULL;
	if (cl->cs)
		cs_close(cl->cs);
	if (cl->ipc)
		ipc_server_stop(cl->ipc);
	if (cl->fr)
		fence_runner_destroy(cl->fr);
	/* A clean stop disarms the watchdog; a committed self-fence stays committed. */
	if (cl->wd)
		watchdog_destroy(cl->wd);
	qb_loop_destroy(cl->loop);
	rc = cl->exit_code;
	free(cl);
	return rc;
}
