/* SPDX-License-Identifier: MIT */
/*
 * Golden scenario runner for decide() (format: tests/golden/README.md).
 *
 * Each "event" line becomes one decide() call (or several for "deliver all");
 * its actions are rendered as text lines, logs kept apart. The "expect" lines
 * that follow are matched in order against the non-log lines: the first word
 * must be equal and every other word of the expectation must appear in the
 * rendered line, so "expect alua lun=0 tpg=1:AO" ignores the version. Every
 * non-log action must be expected: whatever is left when the next event or the
 * end of the file comes is a failure.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clusterd/golden.h"
#include "clusterd/model.h"
#include "clusterd/msg.h"

#define G_MAX_TOK   48
#define G_MAX_LINES 512
#define G_LINE	    512
#define G_QUEUE	    128

struct g_own {
	uint32_t len;
	uint8_t buf[CL_MSG_MAX];
};

struct golden {
	const char *name;
	int line;
	struct cl_config cfg;
	bool started;
	struct cl_state cur, next, check;
	struct cl_actions acts, acts2;
	uint64_t version[CL_MAX_LUNS];
	/* own multicasts not yet delivered back, oldest first */
	uint32_t qhead, qtail;
	struct g_own q[G_QUEUE];
	/* the current event's rendered actions */
	int ev_line;
	uint32_t nlines, nlogs, nhints, matched;
	char lines[G_MAX_LINES][G_LINE];
	char logs[G_MAX_LINES][G_LINE];
	char hints[G_MAX_LINES][G_LINE];
	char pre[16384], before[16384], after[16384];
	char *err;
	size_t errlen;
	bool trace;
};

static int g_fail(struct golden *g, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int g_fail(struct golden *g, int ret, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(g->err, g->errlen, "%s:%d: ", g->name, g->line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < g->errlen)
		vsnprintf(g->err + n, g->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

/* ---- small parsers ---- */

static const char *kv(int argc, char **argv, const char *key, int *from)
{
	size_t kl = strlen(key);

	for (int i = from ? *from : 0; i < argc; i++)
		if (!strncmp(argv[i], key, kl) && argv[i][kl] == '=') {
			if (from)
				*from = i + 1;
			return argv[i] + kl + 1;
		}
	return NULL;
}

static bool has_word(int argc, char **argv, const char *w)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], w))
			return true;
	return false;
}

static int num(struct golden *g, const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s)
		return g_fail(g, -EINVAL, "missing number");
	*out = strtoull(s, &end, 0);
	if (*end)
		return g_fail(g, -EINVAL, "bad number '%s'", s);
	return 0;
}

static uint32_t num32(struct golden *g, const char *s, uint32_t dflt, int *ret)
{
	uint64_t v = 0;

	if (!s)
		return dflt;
	if (num(g, s, &v)) {
		*ret = -EINVAL;
		return 0;
	}
	return (uint32_t)v;
}

/* "A:B" into two numbers. */
static int pair(struct golden *g, const char *s, uint32_t *a, const char **rest)
{
	char *end;

	*a = (uint32_t)strtoul(s, &end, 0);
	if (*end != ':')
		return g_fail(g, -EINVAL, "expected N:... in '%s'", s);
	*rest = end + 1;
	return 0;
}

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], s))
			return i;
	return -1;
}

static const char *const node_state_names[] = {"unknown", "online",  "offline",
					       "unclean", "fencing", "fenced"};
static const char *const reason_names[] = {NULL, "join", "leave", "nodedown", "nodeup", "procdown"};
static const char *const result_names[] = {"ok", "failed", "timeout", "error"};
static const char *const freason_names[] = {NULL, "lost", "startup", "admin"};
static const char *const msg_names[] = {
	NULL,	       "hello",	  "state",  "quorum",	     "move",
	"move_commit", "standby", "online", "fence_request", "fence_result"};

/* ---- rendering ---- */

static void cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

static void render_state_msg(char *b, size_t len, const struct cl_msg_state *st, uint64_t seq)
{
	bool any = false;

	cat(b, len, " seq=%llu stateful=%u quorate=%u epoch=%llu members=", (unsigned long long)seq,
	    !!(st->flags & CL_STATE_STATEFUL), !!(st->flags & CL_STATE_QUORATE),
	    (unsigned long long)st->epoch);
	for (unsigned i = 0; i < st->nmembers; i++)
		cat(b, len, "%s%u", i ? "," : "", st->members[i]);
	cat(b, len, " ao=");
	for (unsigned i = 0; i < st->nluns; i++)
		cat(b, len, "%s%u", i ? "," : "", st->ao[i]);
	cat(b, len, " nodes=");
	for (unsigned i = 0; i < st->nnodes; i++)
		cat(b, len, "%s%u:%s", i ? "," : "", st->nodes[i].id,
		    cl_node_state_name(st->nodes[i].state));
	cat(b, len, " standby=");
	for (unsigned i = 0; i < st->nnodes; i++)
		if (st->nodes[i].flags & CL_STATE_NODE_STANDBY) {
			cat(b, len, "%s%u", any ? "," : "", st->nodes[i].id);
			any = true;
		}
	if (!any)
		cat(b, len, "-");
}

static void render_msg(char *b, size_t len, const struct cl_msg *m)
{
	cat(b, len, "mcast %s", m->type < CL_MSG_TYPE_END ? msg_names[m->type] : "?");
	switch (m->type) {
	case CL_MSG_HELLO:
		cat(b, len, " min=%u max=%u stateful=%u", m->hello.proto_min, m->hello.proto_max,
		    !!(m->hello.flags & CL_HELLO_STATEFUL));
		break;
	case CL_MSG_STATE:
		render_state_msg(b, len, &m->state, m->change_seq);
		break;
	case CL_MSG_QUORUM:
		cat(b, len, " quorate=%u", m->quorum.quorate);
		break;
	case CL_MSG_MOVE:
		cat(b, len, " lun=%u to=%u cookie=%u", m->move.lun, m->move.node, m->move.cookie);
		break;
	case CL_MSG_MOVE_COMMIT:
		cat(b, len, " lun=%u from=%u to=%u", m->commit.lun, m->commit.from, m->commit.to);
		break;
	case CL_MSG_STANDBY:
	case CL_MSG_ONLINE:
		cat(b, len, " node=%u cookie=%u", m->node.node, m->node.cookie);
		break;
	case CL_MSG_FENCE_REQUEST:
		cat(b, len, " target=%u fencer=%u attempt=%u reason=%s", m->fence_req.target,
		    m->fence_req.fencer, m->fence_req.attempt,
		    cl_fence_reason_name(m->fence_req.reason));
		break;
	case CL_MSG_FENCE_RESULT:
		cat(b, len, " target=%u fencer=%u attempt=%u result=%s agent=%s",
		    m->fence_res.target, m->fence_res.fencer, m->fence_res.attempt,
		    cl_fence_result_name(m->fence_res.result), m->fence_res.agent);
		break;
	}
}

static const char *errno_name(int err)
{
	switch (-err) {
	case 0:
		return "0";
	case EAGAIN:
		return "EAGAIN";
	case EINVAL:
		return "EINVAL";
	case EHOSTDOWN:
		return "EHOSTDOWN";
	case EALREADY:
		return "EALREADY";
	case EBUSY:
		return "EBUSY";
	case EPERM:
		return "EPERM";
	}
	return "?";
}

static const char *timer_name(uint8_t t)
{
	return t == CL_TIMER_FENCE_DELAY ? "fence_delay" : t == CL_TIMER_STARTUP ? "startup" : "?";
}

static void render_timer(char *b, size_t len, const struct cl_action *a)
{
	cat(b, len, "timer %s %s", a->type == CL_ACT_TIMER_START ? "start" : "cancel",
	    timer_name(a->timer.timer));
	if (a->timer.timer == CL_TIMER_FENCE_DELAY)
		cat(b, len, " node=%u", a->timer.node);
	if (a->type == CL_ACT_TIMER_START)
		cat(b, len, " ms=%u", a->timer.ms);
}

static int render_mcast(struct golden *g, char *b, size_t len, const struct cl_actions *acts,
			const struct cl_action *a)
{
	struct cl_msg m;
	int ret = cl_msg_decode(cl_act_bytes(acts, a), a->mcast.len, &m);

	if (ret)
		return g_fail(g, 1, "decide() multicast a message that does not decode: %d", ret);
	render_msg(b, len, &m);
	return 0;
}

static void render_alua(char *b, size_t len, const struct cl_act_alua *al)
{
	cat(b, len, "alua lun=%u version=%llu", al->lun, (unsigned long long)al->version);
	for (unsigned i = 0; i < al->ntpgs; i++)
		cat(b, len, " tpg=%u:%s", al->tpg[i].id, cl_alua_name(al->tpg[i].state));
}

static int render_action(struct golden *g, char *b, size_t len, const struct cl_actions *acts,
			 const struct cl_action *a)
{
	b[0] = 0;
	switch (a->type) {
	case CL_ACT_MCAST:
		return render_mcast(g, b, len, acts, a);
	case CL_ACT_ALUA:
		render_alua(b, len, &a->alua);
		break;
	case CL_ACT_FENCE:
		cat(b, len, "fence node=%u attempt=%u reason=%s", a->fence.node, a->fence.attempt,
		    cl_fence_reason_name(a->fence.reason));
		break;
	case CL_ACT_TIMER_START:
	case CL_ACT_TIMER_CANCEL:
		render_timer(b, len, a);
		break;
	case CL_ACT_LOG:
		cat(b, len, "log %s", cl_act_text(acts, a->log.text));
		break;
	case CL_ACT_FAILED:
	case CL_ACT_FAILED_CLEAR:
		cat(b, len, "%s %s node=%u", a->type == CL_ACT_FAILED ? "failed" : "clear",
		    cl_failed_kind_name(a->failed.kind), a->failed.node);
		if (a->failed.lun >= 0)
			cat(b, len, " lun=%d", a->failed.lun);
		break;
	case CL_ACT_REPLY:
		cat(b, len, "reply cookie=%u err=%s", a->reply.cookie, errno_name(a->reply.err));
		break;
	case CL_ACT_EXIT:
		cat(b, len, "exit");
		break;
	default:
		cat(b, len, "? type=%u", a->type);
	}
	return 0;
}

static void render_global(char *b, size_t len, const struct cl_state *s)
{
	cat(b, len,
	    "phase=%s quorate=%u local_quorate=%u seq=%llu epoch=%llu stateful=%u "
	    "startup_timer=%u hist=%u",
	    cl_phase_name(s->phase), cl_cluster_quorate(s), s->local_quorate,
	    (unsigned long long)s->change_seq, (unsigned long long)s->epoch, s->stateful,
	    s->startup_timer, s->nhist);
}

static void render_node(char *b, size_t len, const struct cl_node *n)
{
	cat(b, len,
	    "state=%s member=%u standby=%u quorate=%u procdown=%u fencer=%u attempts=%u "
	    "timer=%u requested=%u agent=%u synced=%u received=%u pending=%u",
	    cl_node_state_name(n->state), n->member, n->standby, n->quorate, n->procdown, n->fencer,
	    n->fence_attempts, n->fence_timer, n->fence_requested, n->agent_running, n->synced,
	    n->state_received, n->result_pending);
}

static void render_lun(char *b, size_t len, const struct cl_state *s, uint32_t i)
{
	const struct cl_lun *l = &s->luns[i];

	cat(b, len, "ao=%u move=%u version=%llu alua=", l->ao_node, l->move_to,
	    (unsigned long long)l->alua_version);
	for (uint32_t k = 0; k < s->cfg->nnodes; k++)
		cat(b, len, "%s%u:%s", k ? "," : "", s->nodes[k].id, cl_alua_name(l->alua[k]));
}

static void render_sync(char *b, size_t len, const struct cl_sync *y, uint32_t nluns,
			uint32_t nnodes)
{
	cat(b, len, " sync=%llu,%llu,%u,%u", (unsigned long long)y->seq_max,
	    (unsigned long long)y->epoch_max, y->conflict, y->mismatch_node);
	for (uint32_t i = 0; i < nluns; i++)
		cat(b, len, ",%u/%u", y->ao[i], y->ao_from[i]);
	for (uint32_t i = 0; i < nnodes; i++)
		cat(b, len, ",%u/%u/%u/%u/%u/%u/%u", y->nodes[i].state, y->nodes[i].standby,
		    y->nodes[i].stateful, y->nodes[i].procdown, y->nodes[i].fencer,
		    y->nodes[i].fence_attempts, y->nodes[i].from);
}

/* Every field, for "expect unchanged" and the purity check. */
static void render_full(char *b, size_t len, const struct cl_state *s)
{
	b[0] = 0;
	render_global(b, len, s);
	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		cat(b, len, " | node %u ", s->nodes[i].id);
		render_node(b, len, &s->nodes[i]);
		cat(b, len, " pid=%u proto=%u-%u", s->nodes[i].pid, s->nodes[i].proto_min,
		    s->nodes[i].proto_max);
	}
	for (uint32_t i = 0; i < s->cfg->nluns; i++) {
		cat(b, len, " | lun %u ", i);
		render_lun(b, len, s, i);
	}
	render_sync(b, len, &s->sync, s->cfg->nluns, s->cfg->nnodes);
	for (uint32_t i = 0; i < CL_FENCE_HISTORY && i < s->nhist; i++)
		cat(b, len, " h%u=%u/%u/%u/%u", i, s->hist[i].target, s->hist[i].fencer,
		    s->hist[i].attempt, s->hist[i].result);
}

/* ---- config ---- */

static int parse_ports(struct golden *g, const char *v)
{
	uint32_t id;
	const char *rest = "";
	int k;

	if (pair(g, v, &id, &rest))
		return -EINVAL;
	k = cl_node_index(&g->cfg, id);
	if (k < 0)
		return g_fail(g, -EINVAL, "ports= names node %u before nodes=", id);
	g->cfg.nodes[k].nports = 0;
	while (*rest && g->cfg.nodes[k].nports < CL_MAX_PORTS) {
		char *end;
		g->cfg.nodes[k].rel_ports[g->cfg.nodes[k].nports++] =
			(uint16_t)strtoul(rest, &end, 0);
		rest = *end == ',' ? end + 1 : end;
		if (end == rest && *rest)
			return g_fail(g, -EINVAL, "bad port list '%s'", v);
	}
	return 0;
}

static int parse_nodes(struct golden *g, const char *v)
{
	char *end;

	g->cfg.nnodes = 0;
	while (*v && g->cfg.nnodes < CL_MAX_NODES) {
		struct cl_node_config *n = &g->cfg.nodes[g->cfg.nnodes];
		n->id = (uint32_t)strtoul(v, &end, 0);
		snprintf(n->name, sizeof(n->name), "node%u", n->id);
		n->fence_delay_ms = 5000;
		n->nports = 2;
		n->rel_ports[0] = (uint16_t)(2 * g->cfg.nnodes + 1);
		n->rel_ports[1] = (uint16_t)(2 * g->cfg.nnodes + 2);
		g->cfg.nnodes++;
		if (end == v)
			return g_fail(g, -EINVAL, "bad node list");
		v = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int parse_config(struct golden *g, int argc, char **argv)
{
	int ret = 0, it = 0;
	const char *v;
	uint32_t id;

	if (g->started)
		return g_fail(g, -EINVAL, "config after the first event");
	if ((v = kv(argc, argv, "nodes", NULL)) && parse_nodes(g, v))
		return -EINVAL;
	g->cfg.local_id = num32(g, kv(argc, argv, "local", NULL), g->cfg.local_id, &ret);
	g->cfg.nluns = num32(g, kv(argc, argv, "luns", NULL), g->cfg.nluns, &ret);
	g->cfg.startup_wait_ms =
		num32(g, kv(argc, argv, "startup_wait", NULL), g->cfg.startup_wait_ms, &ret);
	g->cfg.fence_retry_ms =
		num32(g, kv(argc, argv, "fence_retry", NULL), g->cfg.fence_retry_ms, &ret);
	while (!ret && (v = kv(argc, argv, "fence_delay", &it))) {
		const char *rest = "";
		int k;
		if (pair(g, v, &id, &rest) || (k = cl_node_index(&g->cfg, id)) < 0)
			return g_fail(g, -EINVAL, "bad fence_delay '%s'", v);
		g->cfg.nodes[k].fence_delay_ms = num32(g, rest, 0, &ret);
	}
	it = 0;
	while (!ret && (v = kv(argc, argv, "ports", &it)))
		ret = parse_ports(g, v);
	return ret;
}

static int start(struct golden *g)
{
	char why[128];

	for (uint32_t i = 0; i < g->cfg.nluns && i < CL_MAX_LUNS; i++) {
		snprintf(g->cfg.luns[i].name, sizeof(g->cfg.luns[i].name), "lun%u", i);
		g->cfg.luns[i].lu_id = 0x1000 + i;
	}
	if (cl_config_finalize(&g->cfg, why, sizeof(why)))
		return g_fail(g, -EINVAL, "config: %s", why);
	cl_state_init(&g->cur, &g->cfg, &g->acts);
	for (uint32_t i = 0; i < g->cfg.nluns; i++)
		g->version[i] = g->cur.luns[i].alua_version;
	g->started = true;
	return 0;
}

/* ---- events ---- */

static int parse_members(struct golden *g, const char *v, struct cl_member *list, uint32_t *n,
			 bool with_reason)
{
	*n = 0;
	while (v && *v && *n < CL_MAX_MEMBERS) {
		struct cl_member *m = &list[(*n)++];
		char *end, word[16] = "";
		size_t wl;
		int r;

		m->nodeid = (uint32_t)strtoul(v, &end, 0);
		m->pid = 1000 + m->nodeid;
		if (end == v)
			return g_fail(g, -EINVAL, "bad member list '%s'", v);
		v = end;
		if (with_reason) {
			if (*v != ':')
				return g_fail(g, -EINVAL, "member %u needs :reason", m->nodeid);
			wl = strcspn(++v, ",");
			snprintf(word, sizeof(word), "%.*s", (int)wl, v);
			r = name_index(reason_names, 6, word);
			if (r < 0)
				return g_fail(g, -EINVAL, "unknown reason '%s'", word);
			m->reason = (uint32_t)r;
			v += wl;
		}
		if (*v == ',')
			v++;
	}
	return 0;
}

static int ev_confchg(struct golden *g, int argc, char **argv, struct cl_event *ev)
{
	struct cl_ev_confchg *c = &ev->confchg;

	ev->type = CL_EV_CONFCHG;
	if (parse_members(g, kv(argc, argv, "members", NULL), c->members, &c->nmembers, false) ||
	    parse_members(g, kv(argc, argv, "joined", NULL), c->joined, &c->njoined, true) ||
	    parse_members(g, kv(argc, argv, "left", NULL), c->left, &c->nleft, true))
		return -EINVAL;
	return 0;
}

static int state_set_node(struct golden *g, struct cl_msg_state *st, const char *v, int what)
{
	uint32_t id, val = 0;
	const char *rest = "";
	int ret = 0, k;

	if (what == 's')
		id = num32(g, v, 0, &ret);
	else if (pair(g, v, &id, &rest))
		return -EINVAL;
	k = cl_node_index(&g->cfg, id);
	if (k < 0 || ret)
		return g_fail(g, -EINVAL, "unknown node in '%s'", v);
	if (what == 'n') {
		int s = name_index(node_state_names, 6, rest);
		if (s < 0)
			return g_fail(g, -EINVAL, "unknown node state '%s'", rest);
		st->nodes[k].state = (uint8_t)s;
		return 0;
	}
	if (what == 's') {
		st->nodes[k].flags |= CL_STATE_NODE_STANDBY;
		return 0;
	}
	val = num32(g, rest, 0, &ret);
	if (what == 'f')
		st->nodes[k].fencer = val;
	else
		st->nodes[k].fence_attempts = val;
	return ret;
}

static void state_fresh(struct golden *g, struct cl_msg *m)
{
	struct cl_msg_state *st = &m->state;

	memset(st, 0, sizeof(*st));
	st->config_digest = g->cfg.digest;
	st->nnodes = (uint16_t)g->cfg.nnodes;
	st->nluns = (uint16_t)g->cfg.nluns;
	for (uint32_t i = 0; i < g->cfg.nnodes; i++) {
		st->nodes[i].id = g->cfg.nodes[i].id;
		if (g->cur.nodes[i].member)
			st->members[st->nmembers++] = g->cfg.nodes[i].id;
	}
}

static int state_members(struct golden *g, struct cl_msg_state *st, const char *v)
{
	struct cl_member list[CL_MAX_MEMBERS];
	uint32_t n;

	if (parse_members(g, v, list, &n, false))
		return -EINVAL;
	st->nmembers = (uint16_t)(n > CL_WIRE_NODES ? CL_WIRE_NODES : n);
	for (uint32_t i = 0; i < st->nmembers; i++)
		st->members[i] = list[i].nodeid;
	return 0;
}

static int state_lists(struct golden *g, struct cl_msg_state *st, int argc, char **argv)
{
	const char *v;
	int it, ret = 0;
	uint32_t lun;

	for (it = 0; !ret && (v = kv(argc, argv, "node", &it));)
		ret = state_set_node(g, st, v, 'n');
	for (it = 0; !ret && (v = kv(argc, argv, "standby", &it));)
		ret = state_set_node(g, st, v, 's');
	for (it = 0; !ret && (v = kv(argc, argv, "fencer", &it));)
		ret = state_set_node(g, st, v, 'f');
	for (it = 0; !ret && (v = kv(argc, argv, "attempts", &it));)
		ret = state_set_node(g, st, v, 'a');
	for (it = 0; !ret && (v = kv(argc, argv, "ao", &it));) {
		const char *rest = "";
		if (pair(g, v, &lun, &rest) || lun >= st->nluns)
			return g_fail(g, -EINVAL, "bad ao '%s'", v);
		st->ao[lun] = num32(g, rest, 0, &ret);
	}
	return ret;
}

/* A peer's STATE: by default it agrees with our current view (or knows nothing: fresh). */
static int msg_state(struct golden *g, struct cl_msg *m, int argc, char **argv)
{
	struct cl_msg_state *st = &m->state;
	uint32_t sender = m->sender;
	int ret = 0;
	const char *v;

	if (has_word(argc, argv, "fresh")) {
		state_fresh(g, m);
	} else {
		cl_state_msg(&g->cur, m);
		st->flags |= CL_STATE_STATEFUL;
	}
	m->type = CL_MSG_STATE;
	m->sender = sender;
	m->change_seq = g->cur.change_seq;
	st->flags &= ~(uint32_t)CL_STATE_QUORATE;
	if (num32(g, kv(argc, argv, "quorate", NULL), 1, &ret))
		st->flags |= CL_STATE_QUORATE;
	m->change_seq = num32(g, kv(argc, argv, "seq", NULL), (uint32_t)m->change_seq, &ret);
	st->epoch = num32(g, kv(argc, argv, "epoch", NULL), (uint32_t)st->epoch, &ret);
	st->config_digest = num32(g, kv(argc, argv, "digest", NULL), st->config_digest, &ret);
	if (!ret && (v = kv(argc, argv, "members", NULL)))
		ret = state_members(g, st, v);
	return ret ? ret : state_lists(g, st, argc, argv);
}

static const struct cl_node *cur_node(struct golden *g, uint32_t id)
{
	int k = cl_node_index(&g->cfg, id);

	return k < 0 ? NULL : &g->cur.nodes[k];
}

static int msg_fence(struct golden *g, struct cl_msg *m, int argc, char **argv)
{
	uint32_t target;
	const struct cl_node *t;
	const char *v;
	int ret = 0, r;

	target = num32(g, kv(argc, argv, "target", NULL), 0, &ret);
	t = cur_node(g, target);
	if (m->type == CL_MSG_FENCE_REQUEST) {
		m->fence_req.target = target;
		m->fence_req.fencer = num32(g, kv(argc, argv, "fencer", NULL), m->sender, &ret);
		m->fence_req.attempt = num32(g, kv(argc, argv, "attempt", NULL),
					     t ? t->fence_attempts + 1 : 1, &ret);
		m->fence_req.cookie = num32(g, kv(argc, argv, "cookie", NULL), 0, &ret);
		v = kv(argc, argv, "reason", NULL);
		r = name_index(freason_names, 4, v ? v : "lost");
		m->fence_req.reason = (uint8_t)(r < 0 ? 0 : r);
		return r < 0 ? g_fail(g, -EINVAL, "bad reason") : ret;
	}
	m->fence_res.target = target;
	m->fence_res.fencer = num32(g, kv(argc, argv, "fencer", NULL), m->sender, &ret);
	m->fence_res.attempt =
		num32(g, kv(argc, argv, "attempt", NULL), t ? t->fence_attempts : 0, &ret);
	v = kv(argc, argv, "result", NULL);
	r = name_index(result_names, 4, v ? v : "");
	if (r < 0)
		return g_fail(g, -EINVAL, "bad or missing result=");
	m->fence_res.result = (uint8_t)r;
	v = kv(argc, argv, "agent", NULL);
	snprintf(m->fence_res.agent, sizeof(m->fence_res.agent), "%s", v ? v : "fence_test");
	m->fence_res.t_start_ms = num32(g, kv(argc, argv, "start", NULL), 1000, &ret);
	m->fence_res.t_end_ms = num32(g, kv(argc, argv, "end", NULL), 2000, &ret);
	return ret;
}

static int msg_build(struct golden *g, struct cl_msg *m, int argc, char **argv)
{
	int ret = 0;

	switch (m->type) {
	case CL_MSG_HELLO:
		m->hello.proto_min =
			(uint16_t)num32(g, kv(argc, argv, "min", NULL), CL_PROTO_MIN, &ret);
		m->hello.proto_max =
			(uint16_t)num32(g, kv(argc, argv, "max", NULL), CL_PROTO_VERSION, &ret);
		m->hello.flags = has_word(argc, argv, "stateful") ? CL_HELLO_STATEFUL : 0;
		return ret;
	case CL_MSG_STATE:
		return msg_state(g, m, argc, argv);
	case CL_MSG_QUORUM:
		m->quorum.quorate = num32(g, kv(argc, argv, "quorate", NULL), 1, &ret);
		return ret;
	case CL_MSG_MOVE:
		m->move.lun = num32(g, kv(argc, argv, "lun", NULL), 0, &ret);
		m->move.node = num32(g, kv(argc, argv, "to", NULL), 0, &ret);
		m->move.cookie = num32(g, kv(argc, argv, "cookie", NULL), 0, &ret);
		return ret;
	case CL_MSG_MOVE_COMMIT:
		m->commit.lun = num32(g, kv(argc, argv, "lun", NULL), 0, &ret);
		m->commit.from = num32(g, kv(argc, argv, "old", NULL), m->sender, &ret);
		m->commit.to = num32(g, kv(argc, argv, "to", NULL), 0, &ret);
		return ret;
	case CL_MSG_STANDBY:
	case CL_MSG_ONLINE:
		m->node.node = num32(g, kv(argc, argv, "node", NULL), 0, &ret);
		m->node.cookie = num32(g, kv(argc, argv, "cookie", NULL), 0, &ret);
		return ret;
	}
	return msg_fence(g, m, argc, argv);
}

/* Damage the encoded bytes as asked: version=, rawtype=, badcrc, truncate=. */
static int msg_mutate(struct golden *g, uint8_t *buf, size_t *len, int argc, char **argv)
{
	struct cl_wire_hdr *h = (void *)buf;
	int ret = 0;
	const char *v;

	if ((v = kv(argc, argv, "version", NULL))) {
		h->version[0] = 0;
		h->version[1] = (uint8_t)num32(g, v, 0, &ret);
		cl_msg_seal(buf, *len);
	}
	if ((v = kv(argc, argv, "rawtype", NULL))) {
		h->type[0] = 0;
		h->type[1] = (uint8_t)num32(g, v, 0, &ret);
		cl_msg_seal(buf, *len);
	}
	if (has_word(argc, argv, "badcrc"))
		h->crc[3] ^= 0x5a;
	if ((v = kv(argc, argv, "truncate", NULL)))
		*len = num32(g, v, 0, &ret);
	return ret;
}

static int ev_msg(struct golden *g, int argc, char **argv, struct cl_event *ev, uint8_t *buf)
{
	struct cl_msg m;
	int ret = 0, type, len;
	size_t n;

	memset(&m, 0, sizeof(m));
	type = argc > 2 ? name_index(msg_names, CL_MSG_TYPE_END, argv[2]) : -1;
	if (type < 0)
		return g_fail(g, -EINVAL, "unknown message type");
	m.type = (uint16_t)type;
	ev->type = CL_EV_MSG;
	ev->msg.nodeid = num32(g, kv(argc, argv, "from", NULL), 0, &ret);
	ev->msg.pid = 1000 + ev->msg.nodeid;
	m.sender = num32(g, kv(argc, argv, "sender", NULL), ev->msg.nodeid, &ret);
	m.change_seq = g->cur.change_seq;
	if (ret || msg_build(g, &m, argc, argv))
		return -EINVAL;
	len = cl_msg_encode(&m, buf, CL_MSG_MAX);
	if (len < 0)
		return g_fail(g, -EINVAL, "message does not encode: %d", len);
	n = (size_t)len;
	if (msg_mutate(g, buf, &n, argc, argv))
		return -EINVAL;
	ev->msg.buf = buf;
	ev->msg.len = n;
	return 0;
}

static int ev_timer(struct golden *g, int argc, char **argv, struct cl_event *ev)
{
	int ret = 0;

	ev->type = CL_EV_TIMER;
	if (argc > 2 && !strcmp(argv[2], "fence_delay"))
		ev->timer.timer = CL_TIMER_FENCE_DELAY;
	else if (argc > 2 && !strcmp(argv[2], "startup"))
		ev->timer.timer = CL_TIMER_STARTUP;
	else
		return g_fail(g, -EINVAL, "unknown timer");
	ev->timer.node = num32(g, kv(argc, argv, "node", NULL), 0, &ret);
	return ret;
}

static int ev_fence_done(struct golden *g, int argc, char **argv, struct cl_event *ev)
{
	struct cl_fence_record *r = &ev->fence_done;
	const struct cl_node *t;
	const char *v;
	int ret = 0, res;

	ev->type = CL_EV_FENCE_DONE;
	r->target = num32(g, kv(argc, argv, "target", NULL), 0, &ret);
	t = cur_node(g, r->target);
	r->attempt = num32(g, kv(argc, argv, "attempt", NULL), t ? t->fence_attempts : 0, &ret);
	v = kv(argc, argv, "result", NULL);
	res = name_index(result_names, 4, v ? v : "");
	if (res < 0)
		return g_fail(g, -EINVAL, "bad or missing result=");
	r->result = (uint8_t)res;
	v = kv(argc, argv, "agent", NULL);
	snprintf(r->agent, sizeof(r->agent), "%s", v ? v : "fence_test");
	r->t_start_ms = num32(g, kv(argc, argv, "start", NULL), 1000, &ret);
	r->t_end_ms = num32(g, kv(argc, argv, "end", NULL), 2000, &ret);
	return ret;
}

/* ---- running one decide() with the checks ---- */

static int check_invariants(struct golden *g, const struct cl_actions *acts)
{
	const struct cl_state *s = &g->next;

	for (uint32_t i = 0; i < acts->n; i++) {
		const struct cl_action *a = &acts->a[i];
		unsigned ao = 0;
		if (a->type != CL_ACT_ALUA)
			continue;
		for (uint32_t k = 0; k < a->alua.ntpgs; k++)
			ao += a->alua.tpg[k].state == CL_ALUA_AO;
		if (ao > 1)
			return g_fail(g, 1, "invariant: lun %u pushed with %u AO groups",
				      a->alua.lun, ao);
		if (a->alua.version <= g->version[a->alua.lun])
			return g_fail(g, 1, "invariant: lun %u version %llu not above %llu",
				      a->alua.lun, (unsigned long long)a->alua.version,
				      (unsigned long long)g->version[a->alua.lun]);
		g->version[a->alua.lun] = a->alua.version;
	}
	for (uint32_t i = 0; i < s->cfg->nluns; i++) {
		int me = cl_node_index(s->cfg, s->cfg->local_id);
		if (!s->local_quorate && s->luns[i].alua[me] == CL_ALUA_AO)
			return g_fail(g, 1, "invariant: lun %u AO here while inquorate", i);
	}
	return 0;
}

static int record(struct golden *g, const struct cl_actions *acts)
{
	for (uint32_t i = 0; i < acts->n; i++) {
		const struct cl_action *a = &acts->a[i];
		char line[G_LINE];

		if (render_action(g, line, sizeof(line), acts, a))
			return 1;
		if (g->trace) /* GOLDEN_TRACE=1: what each event did, for writing scenarios */
			fprintf(stderr, "%s:%d:   %s\n", g->name, g->line, line);
		if (a->type == CL_ACT_LOG && g->nlogs < G_MAX_LINES)
			snprintf(g->logs[g->nlogs++], G_LINE, "%s", line);
		else if (a->type != CL_ACT_LOG && g->nlines < G_MAX_LINES)
			snprintf(g->lines[g->nlines++], G_LINE, "%s", line);
		if (a->type == CL_ACT_FAILED && g->nhints < G_MAX_LINES)
			snprintf(g->hints[g->nhints++], G_LINE, "%s",
				 cl_act_text(acts, a->failed.hint));
		if (a->type == CL_ACT_MCAST && g->qtail - g->qhead < G_QUEUE) {
			struct g_own *o = &g->q[g->qtail++ % G_QUEUE];
			o->len = a->mcast.len;
			memcpy(o->buf, cl_act_bytes(acts, a), a->mcast.len);
		}
	}
	return 0;
}

static bool acts_equal(struct golden *g, const struct cl_actions *a, const struct cl_actions *b)
{
	char x[G_LINE], y[G_LINE];

	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++) {
		render_action(g, x, sizeof(x), a, &a->a[i]);
		render_action(g, y, sizeof(y), b, &b->a[i]);
		if (strcmp(x, y))
			return false;
	}
	return true;
}

static int run_one(struct golden *g, const struct cl_event *ev)
{
	int r1 = decide(&g->cur, ev, &g->next, &g->acts);
	int r2 = decide(&g->cur, ev, &g->check, &g->acts2);

	if (r1)
		return g_fail(g, 1, "decide() returned %d", r1);
	render_full(g->before, sizeof(g->before), &g->next);
	render_full(g->after, sizeof(g->after), &g->check);
	if (r1 != r2 || strcmp(g->before, g->after) || !acts_equal(g, &g->acts, &g->acts2))
		return g_fail(g, 1, "decide() is not pure: two runs differ");
	if (check_invariants(g, &g->acts) || record(g, &g->acts))
		return 1;
	g->cur = g->next;
	return 0;
}

static int deliver_own(struct golden *g, bool all)
{
	struct cl_event ev;
	uint8_t buf[CL_MSG_MAX];

	if (g->qhead == g->qtail)
		return g_fail(g, -EINVAL, "deliver: no own message pending");
	do {
		struct g_own *o = &g->q[g->qhead++ % G_QUEUE];
		memset(&ev, 0, sizeof(ev));
		memcpy(buf, o->buf, o->len);
		ev.type = CL_EV_MSG;
		ev.msg.nodeid = g->cfg.local_id;
		ev.msg.pid = 1000 + g->cfg.local_id;
		ev.msg.buf = buf;
		ev.msg.len = o->len;
		if (run_one(g, &ev))
			return 1;
	} while (all && g->qhead != g->qtail);
	return 0;
}

/* Everything the previous event did must have been expected. */
static int event_close(struct golden *g)
{
	if (g->matched < g->nlines)
		return g_fail(g, 1, "unexpected action '%s' after the event of line %d",
			      g->lines[g->matched], g->ev_line);
	return 0;
}

static int do_event(struct golden *g, int argc, char **argv)
{
	struct cl_event ev;
	uint8_t buf[CL_MSG_MAX];
	const char *what = argc > 1 ? argv[1] : "";
	int ret;

	if (event_close(g))
		return 1;
	if (!g->started && (ret = start(g)))
		return ret;
	g->ev_line = g->line;
	g->nlines = g->nlogs = g->nhints = g->matched = 0;
	render_full(g->pre, sizeof(g->pre), &g->cur);
	memset(&ev, 0, sizeof(ev));
	if (!strcmp(what, "deliver"))
		return deliver_own(g, has_word(argc, argv, "all"));
	if (!strcmp(what, "quorum")) {
		ev.type = CL_EV_QUORUM;
		ev.quorum.quorate = argc > 2 && !strcmp(argv[2], "1");
		ret = 0;
	} else if (!strcmp(what, "confchg")) {
		ret = ev_confchg(g, argc, argv, &ev);
	} else if (!strcmp(what, "msg")) {
		ret = ev_msg(g, argc, argv, &ev, buf);
	} else if (!strcmp(what, "timer")) {
		ret = ev_timer(g, argc, argv, &ev);
	} else if (!strcmp(what, "fence_done")) {
		ret = ev_fence_done(g, argc, argv, &ev);
	} else {
		return g_fail(g, -EINVAL, "unknown event '%s'", what);
	}
	return ret ? ret : run_one(g, &ev);
}

/* ---- expectations ---- */

static bool words_in(const char *line, int argc, char **argv, int from)
{
	char copy[G_LINE], *tok[G_MAX_TOK], *save = NULL;
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", line);
	for (char *t = strtok_r(copy, " ", &save); t && n < G_MAX_TOK;
	     t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	if (from == 1 && (!n || strcmp(tok[0], argv[1])))
		return false;
	for (int i = from; i < argc; i++) {
		bool found = false;
		for (int k = 0; k < n && !found; k++)
			found = !strcmp(tok[k], argv[i]);
		if (!found)
			return false;
	}
	return true;
}

static void join_words(char *out, size_t len, int argc, char **argv, int from)
{
	out[0] = 0;
	for (int i = from; i < argc; i++)
		cat(out, len, "%s%s", i > from ? " " : "", argv[i]);
}

static int expect_text(struct golden *g, int argc, char **argv, char (*list)[G_LINE], uint32_t n)
{
	char want[G_LINE];

	join_words(want, sizeof(want), argc, argv, 2);
	for (uint32_t i = 0; i < n; i++)
		if (strstr(list[i], want))
			return 0;
	return g_fail(g, 1, "expected %s containing '%s', got %s'%s'", argv[1], want,
		      n ? "e.g. " : "none ", n ? list[0] : "");
}

static int expect_state(struct golden *g, int argc, char **argv)
{
	char got[G_LINE * 2] = "", want[G_LINE];
	int from = 2;
	uint32_t id;

	if (argc > 2 && !strncmp(argv[2], "node=", 5)) {
		const struct cl_node *n = cur_node(g, (uint32_t)strtoul(argv[2] + 5, NULL, 0));
		if (!n)
			return g_fail(g, -EINVAL, "unknown node in '%s'", argv[2]);
		render_node(got, sizeof(got), n);
		from = 3;
	} else if (argc > 2 && !strncmp(argv[2], "lun=", 4)) {
		id = (uint32_t)strtoul(argv[2] + 4, NULL, 0);
		if (id >= g->cfg.nluns)
			return g_fail(g, -EINVAL, "unknown lun in '%s'", argv[2]);
		render_lun(got, sizeof(got), &g->cur, id);
		from = 3;
	} else {
		render_global(got, sizeof(got), &g->cur);
	}
	if (words_in(got, argc, argv, from))
		return 0;
	join_words(want, sizeof(want), argc, argv, 2);
	return g_fail(g, 1, "expected state '%s', got '%s'", want, got);
}

static int expect_history(struct golden *g, int argc, char **argv)
{
	const struct cl_fence_record *r;
	char got[G_LINE] = "";

	if (!g->cur.nhist)
		return g_fail(g, 1, "expected a fence history entry, got none");
	r = &g->cur.hist[(g->cur.nhist - 1) % CL_FENCE_HISTORY];
	cat(got, sizeof(got),
	    "target=%u fencer=%u attempt=%u result=%s agent=%s start=%llu end=%llu", r->target,
	    r->fencer, r->attempt, cl_fence_result_name(r->result), r->agent,
	    (unsigned long long)r->t_start_ms, (unsigned long long)r->t_end_ms);
	if (words_in(got, argc, argv, 2))
		return 0;
	return g_fail(g, 1, "expected history '%s...', got '%s'", argv[2], got);
}

static int expect_action(struct golden *g, int argc, char **argv)
{
	char want[G_LINE];

	join_words(want, sizeof(want), argc, argv, 1);
	if (!strcmp(argv[1], "none")) {
		if (g->matched < g->nlines)
			return g_fail(g, 1, "expected no more actions, got '%s'",
				      g->lines[g->matched]);
		return 0;
	}
	if (g->matched >= g->nlines)
		return g_fail(g, 1, "expected '%s', got no more actions", want);
	if (!words_in(g->lines[g->matched], argc, argv, 1))
		return g_fail(g, 1, "expected '%s', got '%s'", want, g->lines[g->matched]);
	g->matched++;
	return 0;
}

static int do_expect(struct golden *g, int argc, char **argv)
{
	int ret;

	if (argc < 2)
		return g_fail(g, -EINVAL, "expect needs a subject");
	if (!g->started && (ret = start(g)))
		return ret;
	if (!strcmp(argv[1], "log"))
		return expect_text(g, argc, argv, g->logs, g->nlogs);
	if (!strcmp(argv[1], "hint"))
		return expect_text(g, argc, argv, g->hints, g->nhints);
	if (!strcmp(argv[1], "state"))
		return expect_state(g, argc, argv);
	if (!strcmp(argv[1], "history"))
		return expect_history(g, argc, argv);
	if (!strcmp(argv[1], "unchanged")) {
		render_full(g->after, sizeof(g->after), &g->cur);
		if (strcmp(g->pre, g->after))
			return g_fail(g, 1, "expected the state unchanged, it changed");
		return 0;
	}
	return expect_action(g, argc, argv);
}

/* ---- driver ---- */

static int do_line(struct golden *g, char *line, char *desc, size_t desclen)
{
	char *argv[G_MAX_TOK], *save = NULL;
	int argc = 0;

	line[strcspn(line, "\r\n")] = 0;
	if (line[0] == '#') {
		if (desc && !desc[0])
			snprintf(desc, desclen, "%s", line + 1 + (line[1] == ' '));
		return 0;
	}
	for (char *t = strtok_r(line, " \t", &save); t && argc < G_MAX_TOK;
	     t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	if (!argc)
		return 0;
	if (!strcmp(argv[0], "config"))
		return parse_config(g, argc, argv);
	if (!strcmp(argv[0], "event"))
		return do_event(g, argc, argv);
	if (!strcmp(argv[0], "expect"))
		return do_expect(g, argc, argv);
	return g_fail(g, -EINVAL, "unknown directive '%s'", argv[0]);
}

static struct golden *g_new(const char *name, char *err, size_t errlen)
{
	struct golden *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	g->name = name;
	g->err = err;
	g->errlen = errlen;
	g->cfg.nluns = 1;
	g->cfg.startup_wait_ms = 10000;
	g->cfg.fence_retry_ms = 2000;
	g->trace = getenv("GOLDEN_TRACE") != NULL;
	return g;
}

static int g_finish(struct golden *g, int ret)
{
	if (!ret && !g->started)
		ret = g_fail(g, -EINVAL, "no event");
	if (!ret)
		ret = event_close(g);
	free(g);
	return ret;
}

int golden_run_text(const char *name, const char *text, char *desc, size_t desclen, char *err,
		    size_t errlen)
{
	struct golden *g = g_new(name, err, errlen);
	char line[1024];
	int ret = 0;

	if (!g)
		return -ENOMEM;
	if (desc && desclen)
		desc[0] = 0;
	while (!ret && *text) {
		size_t n = strcspn(text, "\n");
		snprintf(line, sizeof(line), "%.*s", (int)n, text);
		text += n + (text[n] == '\n');
		g->line++;
		ret = do_line(g, line, desc, desclen);
	}
	return g_finish(g, ret);
}

int golden_run_file(const char *path, char *desc, size_t desclen, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct golden *g;
	char line[1024];
	int ret = 0;

	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return ret;
	}
	g = g_new(path, err, errlen);
	if (desc && desclen)
		desc[0] = 0;
	while (g && !ret && fgets(line, sizeof(line), f)) {
		g->line++;
		ret = do_line(g, line, desc, desclen);
	}
	fclose(f);
	return g ? g_finish(g, ret) : -ENOMEM;
}
