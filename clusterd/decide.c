/* SPDX-License-Identifier: MIT */
/*
 * decide(): clusterd's replicated state machine (model.h has the state
 * machines and the rules; design-notes §3-§5 the background). Pure: no I/O,
 * no clock, no globals; the only library calls are string formatting and
 * CRC32C.
 *
 * Shape of every call: out = in; one handler per event type changes out and
 * appends actions; then every LUN's port-group table is recomputed from out
 * and pushed when it changed (alua_sync). Decisions (fencing, election,
 * moves) are all made in reconcile(), which runs only when SYNCED, after
 * whatever changed the replicated state.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clusterd/model.h"
#include "clusterd/msg.h"
#include "lib/byteorder.h"
#include "lib/crc32c.h"
#include "target/scsi/scsi.h"

/* ---- names ---- */

const char *cl_node_state_name(uint8_t st)
{
	static const char *const n[] = {"unknown", "online",  "offline",
					"unclean", "fencing", "fenced"};
	return st < sizeof(n) / sizeof(n[0]) ? n[st] : "?";
}

const char *cl_alua_name(uint8_t st)
{
	switch (st) {
	case CL_ALUA_AO:
		return "AO";
	case CL_ALUA_ANO:
		return "ANO";
	case CL_ALUA_STANDBY:
		return "STANDBY";
	case CL_ALUA_UNAVAILABLE:
		return "UNAVAILABLE";
	case CL_ALUA_OFFLINE:
		return "OFFLINE";
	case CL_ALUA_TRANSITIONING:
		return "TRANSITIONING";
	}
	return "?";
}

const char *cl_phase_name(uint8_t ph)
{
	static const char *const n[] = {"joining", "syncing", "synced"};
	return ph < sizeof(n) / sizeof(n[0]) ? n[ph] : "?";
}

const char *cl_fence_result_name(uint8_t r)
{
	static const char *const n[] = {"ok", "failed", "timeout", "error"};
	return r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}

const char *cl_fence_reason_name(uint8_t r)
{
	static const char *const n[] = {"?", "lost", "startup", "admin"};
	return r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}

const char *cl_failed_kind_name(uint8_t k)
{
	static const char *const n[] = {"?", "fence", "config", "protocol", "split-brain"};
	return k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}

/* ---- actions ---- */

static void acts_reset(struct cl_actions *acts)
{
	acts->n = 0;
	acts->used = 0;
	acts->overflow = false;
}

static struct cl_action *act_new(struct cl_actions *acts, uint8_t type)
{
	struct cl_action *a;

	if (acts->n >= CL_MAX_ACTIONS) {
		acts->overflow = true;
		return NULL;
	}
	a = &acts->a[acts->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

/* Copies len bytes into the arena; returns their offset (0 and overflow when full). */
static uint32_t act_store(struct cl_actions *acts, const void *p, size_t len)
{
	uint32_t off = acts->used;

	if (len > CL_ACT_BUF - acts->used) {
		acts->overflow = true;
		return 0;
	}
	memcpy(acts->buf + off, p, len);
	acts->used += (uint32_t)len;
	return off;
}

static __attribute__((format(printf, 2, 0))) uint32_t act_vtext(struct cl_actions *acts,
								const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	return act_store(acts, line, strlen(line) + 1);
}

static __attribute__((format(printf, 2, 3))) uint32_t act_text(struct cl_actions *acts,
							       const char *fmt, ...)
{
	va_list ap;
	uint32_t off;

	va_start(ap, fmt);
	off = act_vtext(acts, fmt, ap);
	va_end(ap);
	return off;
}

static __attribute__((format(printf, 5, 6))) void
act_log(struct cl_actions *acts, uint8_t level, uint32_t node, int32_t lun, const char *fmt, ...)
{
	struct cl_action *a = act_new(acts, CL_ACT_LOG);
	va_list ap;

	if (!a)
		return;
	a->log.level = level;
	a->log.node = node;
	a->log.lun = lun;
	va_start(ap, fmt);
	a->log.text = act_vtext(acts, fmt, ap);
	va_end(ap);
}

static void act_failed(struct cl_actions *acts, uint8_t kind, uint32_t node, int32_t lun,
		       uint32_t text, uint32_t hint)
{
	struct cl_action *a = act_new(acts, CL_ACT_FAILED);

	if (!a)
		return;
	a->failed.kind = kind;
	a->failed.node = node;
	a->failed.lun = lun;
	a->failed.text = text;
	a->failed.hint = hint;
}

static void act_failed_clear(struct cl_actions *acts, uint8_t kind, uint32_t node)
{
	struct cl_action *a = act_new(acts, CL_ACT_FAILED_CLEAR);

	if (a) {
		a->failed.kind = kind;
		a->failed.node = node;
		a->failed.lun = -1;
	}
}

static void act_timer(struct cl_actions *acts, uint8_t type, uint8_t timer, uint32_t node,
		      uint32_t ms)
{
	struct cl_action *a = act_new(acts, type);

	if (a) {
		a->timer.timer = timer;
		a->timer.node = node;
		a->timer.ms = ms;
	}
}

static void act_exit(struct cl_actions *acts, uint32_t text)
{
	struct cl_action *a = act_new(acts, CL_ACT_EXIT);

	if (a)
		a->exit.text = text;
}

static bool acts_exiting(const struct cl_actions *acts)
{
	for (uint32_t i = 0; i < acts->n; i++)
		if (acts->a[i].type == CL_ACT_EXIT)
			return true;
	return false;
}

static void act_mcast(const struct cl_state *s, struct cl_actions *acts, struct cl_msg *m)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_action *a;
	int len;

	m->sender = s->cfg->local_id;
	m->change_seq = s->change_seq;
	len = cl_msg_encode(m, buf, sizeof(buf));
	if (len < 0) { /* a bug: our own message does not encode */
		act_log(acts, CL_LOG_ERR, 0, -1, "cannot encode %s: %s", cl_msg_type_name(m->type),
			strerror(-len));
		return;
	}
	a = act_new(acts, CL_ACT_MCAST);
	if (!a)
		return;
	a->mcast.type = m->type;
	a->mcast.len = (uint32_t)len;
	a->mcast.off = act_store(acts, buf, (size_t)len);
}

/* ---- lookups and predicates ---- */

int cl_node_index(const struct cl_config *cfg, uint32_t id)
{
	for (uint32_t i = 0; i < cfg->nnodes; i++)
		if (cfg->nodes[i].id == id)
			return (int)i;
	return -1;
}

static struct cl_node *node_get(struct cl_state *s, uint32_t id)
{
	int i = id ? cl_node_index(s->cfg, id) : -1;

	return i < 0 ? NULL : &s->nodes[i];
}

static const struct cl_node *node_cget(const struct cl_state *s, uint32_t id)
{
	int i = id ? cl_node_index(s->cfg, id) : -1;

	return i < 0 ? NULL : &s->nodes[i];
}

static uint32_t local_id(const struct cl_state *s)
{
	return s->cfg->local_id;
}

static bool node_online(const struct cl_node *n)
{
	return n->member && n->state == CL_NODE_ONLINE;
}

/* May become AO (model.h "AO election"). */
static bool node_eligible(const struct cl_node *n)
{
	return node_online(n) && n->quorate && !n->standby;
}

/* Known not to serve anything we do not know of. */
static bool node_safe(const struct cl_node *n)
{
	return node_online(n) || n->state == CL_NODE_OFFLINE || n->state == CL_NODE_FENCED;
}

static bool all_nodes_safe(const struct cl_state *s)
{
	for (uint32_t i = 0; i < s->cfg->nnodes; i++)
		if (!node_safe(&s->nodes[i]))
			return false;
	return true;
}

bool cl_cluster_quorate(const struct cl_state *s)
{
	bool any = false;

	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		const struct cl_node *n = &s->nodes[i];
		if (!node_online(n))
			continue;
		if (!n->quorate)
			return false;
		any = true;
	}
	return any;
}

/* Lowest-id eligible node other than `except` (0: none). nodes[] is sorted by id. */
static uint32_t pick_eligible(const struct cl_state *s, uint32_t except)
{
	for (uint32_t i = 0; i < s->cfg->nnodes; i++)
		if (s->nodes[i].id != except && node_eligible(&s->nodes[i]))
			return s->nodes[i].id;
	return 0;
}

/* Who runs the agent against target: the lowest-id ONLINE member (design-notes §5.2). */
static uint32_t fencer_of(const struct cl_state *s, uint32_t target)
{
	for (uint32_t i = 0; i < s->cfg->nnodes; i++)
		if (s->nodes[i].id != target && node_online(&s->nodes[i]))
			return s->nodes[i].id;
	return 0;
}

static bool lun_ao_live(const struct cl_state *s, const struct cl_lun *l)
{
	const struct cl_node *ao = node_cget(s, l->ao_node);

	return ao && node_online(ao);
}

static uint32_t ao_count(const struct cl_state *s, uint32_t id)
{
	uint32_t c = 0;

	for (uint32_t i = 0; i < s->cfg->nluns; i++)
		c += s->luns[i].ao_node == id;
	return c;
}

/* ---- configuration ---- */

static void node_cfg_swap(struct cl_node_config *a, struct cl_node_config *b)
{
	struct cl_node_config t = *a;

	*a = *b;
	*b = t;
}

static void cfg_sort(struct cl_config *cfg)
{
	for (uint32_t i = 1; i < cfg->nnodes; i++)
		for (uint32_t j = i; j > 0 && cfg->nodes[j - 1].id > cfg->nodes[j].id; j--)
			node_cfg_swap(&cfg->nodes[j - 1], &cfg->nodes[j]);
}

static int cfg_check_ports(const struct cl_config *cfg, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < cfg->nnodes; i++) {
		const struct cl_node_config *n = &cfg->nodes[i];
		if (n->nports < 1 || n->nports > CL_MAX_PORTS) {
			snprintf(err, errlen, "node %u: %u ports (1 to %u)", n->id, n->nports,
				 CL_MAX_PORTS);
			return -EINVAL;
		}
		for (uint32_t p = 0; p < n->nports; p++) {
			if (!n->rel_ports[p]) {
				snprintf(err, errlen, "node %u: relative port id 0", n->id);
				return -EINVAL;
			}
			for (uint32_t j = 0; j <= i; j++)
				for (uint32_t q = 0; q < (j == i ? p : cfg->nodes[j].nports); q++)
					if (cfg->nodes[j].rel_ports[q] == n->rel_ports[p]) {
						snprintf(err, errlen,
							 "relative port id %u used twice",
							 n->rel_ports[p]);
						return -EINVAL;
					}
		}
	}
	return 0;
}

static int cfg_check_nodes(const struct cl_config *cfg, char *err, size_t errlen)
{
	if (cfg->nnodes < 1 || cfg->nnodes > CL_MAX_NODES) {
		snprintf(err, errlen, "%u nodes (1 to %u)", cfg->nnodes, CL_MAX_NODES);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cfg->nnodes; i++) {
		/* the node id is the target port group id, 16 bits in RTPG (SPC-4 6.37) */
		if (!cfg->nodes[i].id || cfg->nodes[i].id > 0xffff) {
			snprintf(err, errlen, "node id %u (1 to 65535)", cfg->nodes[i].id);
			return -EINVAL;
		}
		if (i && cfg->nodes[i].id == cfg->nodes[i - 1].id) {
			snprintf(err, errlen, "node id %u used twice", cfg->nodes[i].id);
			return -EINVAL;
		}
	}
	if (cl_node_index(cfg, cfg->local_id) < 0) {
		snprintf(err, errlen, "local node id %u is not a configured node", cfg->local_id);
		return -EINVAL;
	}
	return 0;
}

static uint32_t crc_u32(uint32_t crc, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	return crc32c(crc, b, sizeof(b));
}

static uint32_t crc_str(uint32_t crc, const char *str)
{
	size_t n = strnlen(str, CL_NAME_MAX);

	crc = crc_u32(crc, (uint32_t)n);
	return crc32c(crc, str, n);
}

/* Everything every node must agree on, in a fixed order (not local_id). */
static uint32_t cfg_digest(const struct cl_config *cfg)
{
	uint32_t crc = crc_u32(0, cfg->nnodes);

	for (uint32_t i = 0; i < cfg->nnodes; i++) {
		const struct cl_node_config *n = &cfg->nodes[i];
		crc = crc_u32(crc, n->id);
		crc = crc_str(crc, n->name);
		crc = crc_u32(crc, n->fence_delay_ms);
		crc = crc_u32(crc, n->nports);
		for (uint32_t p = 0; p < n->nports; p++)
			crc = crc_u32(crc, n->rel_ports[p]);
	}
	crc = crc_u32(crc, cfg->nluns);
	for (uint32_t i = 0; i < cfg->nluns; i++) {
		crc = crc_str(crc, cfg->luns[i].name);
		crc = crc_u32(crc, (uint32_t)(cfg->luns[i].lu_id >> 32));
		crc = crc_u32(crc, (uint32_t)cfg->luns[i].lu_id);
	}
	crc = crc_u32(crc, cfg->startup_wait_ms);
	return crc_u32(crc, cfg->fence_retry_ms);
}

int cl_config_finalize(struct cl_config *cfg, char *err, size_t errlen)
{
	int ret;

	if (cfg->nnodes <= CL_MAX_NODES)
		cfg_sort(cfg);
	ret = cfg_check_nodes(cfg, err, errlen);
	if (!ret)
		ret = cfg_check_ports(cfg, err, errlen);
	if (ret)
		return ret;
	if (cfg->nluns < 1 || cfg->nluns > CL_MAX_LUNS) {
		snprintf(err, errlen, "%u LUNs (1 to %u)", cfg->nluns, CL_MAX_LUNS);
		return -EINVAL;
	}
	cfg->digest = cfg_digest(cfg);
	return 0;
}

/* ---- ALUA tables (model.h "ALUA") ---- */

static uint8_t tpg_state(const struct cl_state *s, uint32_t lun, uint32_t idx)
{
	const struct cl_node *n = &s->nodes[idx];
	const struct cl_lun *l = &s->luns[lun];

	if (n->id == local_id(s) && !s->local_quorate)
		return CL_ALUA_UNAVAILABLE;
	if (!node_online(n))
		return n->state == CL_NODE_OFFLINE || n->state == CL_NODE_FENCED
			       ? CL_ALUA_OFFLINE
			       : CL_ALUA_TRANSITIONING;
	if (!n->quorate)
		return CL_ALUA_UNAVAILABLE;
	if (l->move_to && (n->id == l->move_to || n->id == l->ao_node))
		return CL_ALUA_TRANSITIONING;
	if (l->ao_node == n->id)
		return CL_ALUA_AO;
	if (n->standby)
		return CL_ALUA_STANDBY;
	if (!lun_ao_live(s, l))
		return CL_ALUA_TRANSITIONING;
	return CL_ALUA_ANO;
}

static void alua_push(struct cl_state *s, struct cl_actions *acts, uint32_t lun)
{
	struct cl_lun *l = &s->luns[lun];
	struct cl_action *a = act_new(acts, CL_ACT_ALUA);

	if (!a)
		return;
	a->alua.lun = lun;
	a->alua.version = l->alua_version;
	a->alua.ntpgs = s->cfg->nnodes;
	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		a->alua.tpg[i].id = s->nodes[i].id;
		a->alua.tpg[i].state = l->alua[i];
	}
}

/* Recomputes one LUN's table; pushes it with a new version when it changed. */
static void alua_sync_lun(struct cl_state *s, struct cl_actions *acts, uint32_t lun)
{
	struct cl_lun *l = &s->luns[lun];
	bool changed = false;

	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		uint8_t st = tpg_state(s, lun, i);
		changed |= st != l->alua[i];
		l->alua[i] = st;
	}
	if (!changed)
		return;
	l->alua_version++;
	alua_push(s, acts, lun);
}

static void alua_sync(struct cl_state *s, struct cl_actions *acts)
{
	for (uint32_t i = 0; i < s->cfg->nluns; i++)
		alua_sync_lun(s, acts, i);
}

void cl_alua_table_fill(const struct cl_config *cfg, const struct cl_act_alua *a,
			struct alua_table *tab)
{
	memset(tab, 0, sizeof(*tab));
	tab->version = a->version;
	for (uint32_t i = 0; i < a->ntpgs && i < ALUA_MAX_TPGS; i++) {
		struct alua_tpg *t = &tab->tpg[tab->ntpgs++];
		int k = cl_node_index(cfg, a->tpg[i].id);

		t->id = (uint16_t)a->tpg[i].id;
		t->state = a->tpg[i].state;
		if (k < 0)
			continue;
		for (uint32_t p = 0; p < cfg->nodes[k].nports && p < ALUA_MAX_PORTS; p++)
			t->rel_port[t->nports++] = cfg->nodes[k].rel_ports[p];
	}
}

/* ---- init and the STATE message ---- */

void cl_state_init(struct cl_state *s, const struct cl_config *cfg, struct cl_actions *acts)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->phase = CL_JOINING;
	for (uint32_t i = 0; i < cfg->nnodes; i++)
		s->nodes[i].id = cfg->nodes[i].id;
	acts_reset(acts);
	for (uint32_t l = 0; l < cfg->nluns; l++) {
		for (uint32_t i = 0; i < cfg->nnodes; i++)
			s->luns[l].alua[i] = tpg_state(s, l, i);
		s->luns[l].alua_version = 1;
		alua_push(s, acts, l);
	}
}

void cl_state_msg(const struct cl_state *s, struct cl_msg *m)
{
	struct cl_msg_state *st = &m->state;

	memset(m, 0, sizeof(*m));
	m->version = CL_PROTO_VERSION;
	m->type = CL_MSG_STATE;
	m->sender = local_id(s);
	m->change_seq = s->change_seq;
	st->flags =
		(s->stateful ? CL_STATE_STATEFUL : 0) | (s->local_quorate ? CL_STATE_QUORATE : 0);
	st->config_digest = s->cfg->digest;
	st->epoch = s->epoch;
	st->nnodes = (uint16_t)s->cfg->nnodes;
	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		const struct cl_node *n = &s->nodes[i];
		if (n->member)
			st->members[st->nmembers++] = n->id;
		st->nodes[i].id = n->id;
		st->nodes[i].state = n->state;
		st->nodes[i].flags = (n->standby ? CL_STATE_NODE_STANDBY : 0) |
				     (n->procdown ? CL_STATE_NODE_PROCDOWN : 0);
		st->nodes[i].fencer = n->fencer;
		st->nodes[i].fence_attempts = n->fence_attempts;
	}
	st->nluns = (uint16_t)s->cfg->nluns;
	for (uint32_t l = 0; l < s->cfg->nluns; l++)
		st->ao[l] = s->luns[l].ao_node;
}

/* ---- fencing (model.h "Fencing") ---- */

/* Race rule, design-notes §3.4: the node holding more AO LUNs fences first. */
static bool fencer_wins(const struct cl_state *s, const struct cl_node *target)
{
	uint32_t me = local_id(s), mine, theirs;

	if (target->procdown || target->state == CL_NODE_UNKNOWN)
		return true; /* no partition, or startup_wait already waited */
	mine = ao_count(s, me);
	theirs = ao_count(s, target->id);
	return mine > theirs || (mine == theirs && me < target->id);
}

static uint32_t fence_delay(const struct cl_state *s, const struct cl_node *target)
{
	int me = cl_node_index(s->cfg, local_id(s));
	uint32_t d = fencer_wins(s, target) ? 0 : s->cfg->nodes[me].fence_delay_ms;

	if (target->fence_attempts && d < s->cfg->fence_retry_ms)
		d = s->cfg->fence_retry_ms;
	return d;
}

static void fence_request_send(struct cl_state *s, struct cl_actions *acts, struct cl_node *t,
			       uint8_t reason)
{
	struct cl_msg m = {.type = CL_MSG_FENCE_REQUEST};

	m.fence_req.target = t->id;
	m.fence_req.fencer = local_id(s);
	m.fence_req.attempt = t->fence_attempts + 1;
	m.fence_req.reason = reason;
	t->fence_requested = true;
	act_mcast(s, acts, &m);
}

static void fence_timer_cancel(struct cl_state *s, struct cl_actions *acts)
{
	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		struct cl_node *n = &s->nodes[i];
		if (!n->fence_timer)
			continue;
		act_timer(acts, CL_ACT_TIMER_CANCEL, CL_TIMER_FENCE_DELAY, n->id, 0);
		n->fence_timer = false;
	}
	if (s->startup_timer) {
		act_timer(acts, CL_ACT_TIMER_CANCEL, CL_TIMER_STARTUP, 0, 0);
		s->startup_timer = false;
	}
}

static void fence_schedule_one(struct cl_state *s, struct cl_actions *acts, struct cl_node *t)
{
	uint32_t delay;

	if (t->fence_timer || t->fence_requested || t->agent_running)
		return;
	delay = fence_delay(s, t);
	if (!delay) {
		act_log(acts, CL_LOG_NOTICE, t->id, -1, "node %u: %s, fencing it now", t->id,
			cl_node_state_name(t->state));
		fence_request_send(s, acts, t, CL_FENCE_LOST);
		return;
	}
	act_log(acts, CL_LOG_NOTICE, t->id, -1, "node %u: %s, fencing it in %u ms (%s)", t->id,
		cl_node_state_name(t->state), delay,
		t->fence_attempts ? "retry after a failed attempt"
				  : "fence race: it holds more AO LUNs or has the lower id, so it "
				    "may fence us first");
	act_timer(acts, CL_ACT_TIMER_START, CL_TIMER_FENCE_DELAY, t->id, delay);
	t->fence_timer = true;
}

/* Starts what this node must do about lost and never-seen nodes (quorate, SYNCED). */
static void fence_schedule(struct cl_state *s, struct cl_actions *acts)
{
	bool unknown = false;

	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		struct cl_node *n = &s->nodes[i];
		if (n->member || fencer_of(s, n->id) != local_id(s))
			continue;
		if (n->state == CL_NODE_UNCLEAN)
			fence_schedule_one(s, acts, n);
		else if (n->state == CL_NODE_UNKNOWN && !n->fence_requested)
			unknown = true;
	}
	if (unknown && !s->startup_timer) {
		/* design-notes §3.3: startup fencing of nodes not seen within a grace time */
		act_log(acts, CL_LOG_NOTICE, 0, -1,
			"some nodes were never seen: fencing them unless they join within %u ms",
			s->cfg->startup_wait_ms);
		act_timer(acts, CL_ACT_TIMER_START, CL_TIMER_STARTUP, 0, s->cfg->startup_wait_ms);
		s->startup_timer = true;
	} else if (!unknown && s->startup_timer) {
		act_timer(acts, CL_ACT_TIMER_CANCEL, CL_TIMER_STARTUP, 0, 0);
		s->startup_timer = false;
	}
}

static void fencing_begin(struct cl_state *s, struct cl_actions *acts, struct cl_node *t,
			  uint32_t fencer, uint8_t reason)
{
	struct cl_action *a;

	t->state = CL_NODE_FENCING;
	t->fencer = fencer;
	t->fence_attempts++;
	act_log(acts, CL_LOG_NOTICE, t->id, -1, "node %u: fencing by node %u (attempt %u, %s)",
		t->id, fencer, t->fence_attempts, cl_fence_reason_name(reason));
	if (fencer != local_id(s))
		return;
	if (t->fence_timer) { /* an admin fence overtook our delay */
		act_timer(acts, CL_ACT_TIMER_CANCEL, CL_TIMER_FENCE_DELAY, t->id, 0);
		t->fence_timer = false;
	}
	a = act_new(acts, CL_ACT_FENCE);
	if (!a)
		return;
	a->fence.node = t->id;
	a->fence.attempt = t->fence_attempts;
	a->fence.reason = reason;
	t->agent_running = true;
}

static void hist_add(struct cl_state *s, const struct cl_fence_record *r)
{
	s->hist[s->nhist % CL_FENCE_HISTORY] = *r;
	s->nhist++;
}

/* ---- election and moves (model.h "AO election") ---- */

static void lun_set_ao(struct cl_state *s, struct cl_actions *acts, uint32_t lun, uint32_t to,
		       const char *why)
{
	struct cl_lun *l = &s->luns[lun];

	act_log(acts, CL_LOG_NOTICE, to, (int32_t)lun, "lun %s: AO node %u -> %u (%s)",
		s->cfg->luns[lun].name, l->ao_node, to, why);
	l->ao_node = to;
	l->move_to = 0;
	s->epoch++;
}

/*
 * Planned switchover, step 1: both port groups TRANSITIONING on every node; the
 * old AO then multicasts MOVE_COMMIT, and step 2 (its delivery) switches roles.
 * The commit is multicast after the old AO pushed its TRANSITIONING table.
 */
static void lun_move_start(struct cl_state *s, struct cl_actions *acts, uint32_t lun, uint32_t to,
			   const char *why)
{
	struct cl_lun *l = &s->luns[lun];
	struct cl_msg m = {.type = CL_MSG_MOVE_COMMIT};

	l->move_to = to;
	act_log(acts, CL_LOG_NOTICE, to, (int32_t)lun, "lun %s: moving AO from node %u to %u (%s)",
		s->cfg->luns[lun].name, l->ao_node, to, why);
	alua_sync_lun(s, acts, lun);
	if (l->ao_node != local_id(s))
		return;
	m.commit.lun = lun;
	m.commit.from = l->ao_node;
	m.commit.to = to;
	act_mcast(s, acts, &m);
}

static void lun_elect(struct cl_state *s, struct cl_actions *acts, uint32_t lun)
{
	struct cl_lun *l = &s->luns[lun];
	const struct cl_node *ao = node_cget(s, l->ao_node);
	uint32_t to;

	if (l->move_to)
		return;
	if (ao && node_online(ao)) { /* sticky */
		to = ao->standby ? pick_eligible(s, ao->id) : 0;
		if (to)
			lun_move_start(s, acts, lun, to, "its AO is in standby");
		return;
	}
	if (!all_nodes_safe(s))
		return; /* never before a lost node is fenced (model.h) */
	to = pick_eligible(s, 0);
	if (to)
		lun_set_ao(s, acts, lun, to,
			   l->ao_node ? "the previous AO is gone" : "lowest eligible node id");
}

static void moves_abort(struct cl_state *s, struct cl_actions *acts, const char *why)
{
	for (uint32_t i = 0; i < s->cfg->nluns; i++) {
		if (!s->luns[i].move_to)
			continue;
		act_log(acts, CL_LOG_WARN, s->luns[i].move_to, (int32_t)i,
			"lun %s: move to node %u aborted (%s)", s->cfg->luns[i].name,
			s->luns[i].move_to, why);
		s->luns[i].move_to = 0;
	}
}

/* Every decision, made from replicated state only; called after anything changed it. */
static void reconcile(struct cl_state *s, struct cl_actions *acts)
{
	if (s->phase != CL_SYNCED)
		return;
	if (!cl_cluster_quorate(s)) { /* never without quorum (design-notes §3.3) */
		fence_timer_cancel(s, acts);
		moves_abort(s, acts, "quorum lost");
		return;
	}
	fence_schedule(s, acts);
	for (uint32_t i = 0; i < s->cfg->nluns; i++)
		lun_elect(s, acts, i);
}

/* ---- confchg (design-notes §5.1, §5.2) ---- */

static const struct cl_member *member_find(const struct cl_member *list, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n && i < CL_MAX_MEMBERS; i++)
		if (list[i].nodeid == id)
			return &list[i];
	return NULL;
}

static const char *reason_name(uint32_t r)
{
	static const char *const n[] = {"?", "JOIN", "LEAVE", "NODEDOWN", "NODEUP", "PROCDOWN"};
	return r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}

/* A member is gone; LEAVE is clean (it demoted itself before leaving), the rest is not. */
static void node_lost(struct cl_actions *acts, struct cl_node *n, uint32_t reason)
{
	n->member = false;
	n->synced = false;
	if (n->state == CL_NODE_FENCING || n->state == CL_NODE_FENCED)
		return; /* already being, or known, powered off */
	if (reason == CL_REASON_LEAVE) {
		n->state = CL_NODE_OFFLINE;
		act_log(acts, CL_LOG_NOTICE, n->id, -1, "node %u: left cleanly", n->id);
		return;
	}
	n->state = CL_NODE_UNCLEAN;
	n->procdown = reason == CL_REASON_PROCDOWN;
	act_log(acts, CL_LOG_WARN, n->id, -1,
		"node %u: lost (%s), UNCLEAN: it must be fenced before its LUNs move", n->id,
		reason_name(reason));
}

static void confchg_members(struct cl_state *s, struct cl_actions *acts,
			    const struct cl_ev_confchg *c)
{
	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		struct cl_node *n = &s->nodes[i];
		const struct cl_member *m = member_find(c->members, c->nmembers, n->id);
		const struct cl_member *left = member_find(c->left, c->nleft, n->id);

		if (m && !n->member) {
			n->member = true;
			n->synced = false;
			n->pid = m->pid;
		} else if (!m && n->member) {
			node_lost(acts, n, left ? left->reason : CL_REASON_NODEDOWN);
		}
		n->state_received = false;
		n->stateful = false;
	}
	for (uint32_t i = 0; i < c->nmembers && i < CL_MAX_MEMBERS; i++)
		if (cl_node_index(s->cfg, c->members[i].nodeid) < 0)
			act_log(acts, CL_LOG_WARN, 0, -1,
				"CPG member with node id %u is not in the configuration: ignored",
				c->members[i].nodeid);
}

static void on_confchg(struct cl_state *s, struct cl_actions *acts, const struct cl_ev_confchg *c)
{
	struct cl_msg m = {.type = CL_MSG_HELLO};

	if (!member_find(c->members, c->nmembers, local_id(s))) {
		if (s->phase == CL_JOINING)
			return; /* not ours yet */
		act_log(acts, CL_LOG_ERR, local_id(s), -1, "CPG membership no longer lists us");
		act_exit(acts, act_text(acts, "removed from the CPG group"));
		return;
	}
	s->change_seq++;
	fence_timer_cancel(s, acts);
	for (uint32_t i = 0; i < s->cfg->nnodes; i++)
		s->nodes[i].fence_requested = false;
	confchg_members(s, acts, c);
	moves_abort(s, acts, "membership changed");
	s->phase = CL_SYNCING;
	memset(&s->sync, 0, sizeof(s->sync));
	act_log(acts, CL_LOG_INFO, 0, -1, "change %llu: %u members, %u left, %u joined: syncing",
		(unsigned long long)s->change_seq, c->nmembers, c->nleft, c->njoined);
	if (c->njoined) {
		m.hello.proto_min = CL_PROTO_MIN;
		m.hello.proto_max = CL_PROTO_VERSION;
		m.hello.flags = s->stateful ? CL_HELLO_STATEFUL : 0;
		act_mcast(s, acts, &m);
	}
	cl_state_msg(s, &m);
	act_mcast(s, acts, &m);
}

/* ---- sync round: STATE merge (struct cl_sync) ---- */

static bool view_unsafe(uint8_t st)
{
	return st == CL_NODE_UNCLEAN || st == CL_NODE_FENCING;
}

/* Rank of a view in the merge (struct cl_sync): higher wins, ties to the lower sender id. */
static unsigned view_rank(uint8_t st, bool stateful)
{
	return (view_unsafe(st) ? 4u : 0u) + (stateful ? 2u : 0u) + (st != CL_NODE_UNKNOWN);
}

static void sync_merge_node(struct cl_node_view *cur, const struct cl_msg_state_node *c,
			    uint32_t from, bool stateful)
{
	unsigned rc = view_rank(c->state, stateful), rcur = view_rank(cur->state, cur->stateful);

	if (stateful && (c->flags & CL_STATE_NODE_STANDBY))
		cur->standby = true;
	if (cur->from && (rc < rcur || (rc == rcur && from > cur->from)))
		return;
	cur->state = c->state;
	cur->procdown = c->flags & CL_STATE_NODE_PROCDOWN;
	cur->fencer = c->fencer;
	cur->fence_attempts = c->fence_attempts;
	cur->from = from;
	cur->stateful = stateful;
}

static void sync_merge_lun(struct cl_state *s, uint32_t lun, uint32_t claim, uint32_t from)
{
	struct cl_sync *y = &s->sync;
	uint32_t loser;

	if (!claim || cl_node_index(s->cfg, claim) < 0 || claim == y->ao[lun])
		return;
	if (!y->ao[lun]) {
		y->ao[lun] = claim;
		y->ao_from[lun] = from;
		return;
	}
	/* two stateful members disagree on the AO: split brain; the lower id wins */
	loser = from < y->ao_from[lun] ? y->ao_from[lun] : from;
	if (from < y->ao_from[lun]) {
		y->ao[lun] = claim;
		y->ao_from[lun] = from;
	}
	y->conflict |= 1u << cl_node_index(s->cfg, loser);
}

static void sync_merge(struct cl_state *s, const struct cl_msg *m)
{
	const struct cl_msg_state *st = &m->state;

	bool stateful = st->flags & CL_STATE_STATEFUL;

	if (m->change_seq > s->sync.seq_max)
		s->sync.seq_max = m->change_seq;
	for (uint32_t i = 0; i < st->nnodes; i++) {
		int k = cl_node_index(s->cfg, st->nodes[i].id);
		if (k >= 0)
			sync_merge_node(&s->sync.nodes[k], &st->nodes[i], m->sender, stateful);
	}
	if (!stateful)
		return;
	if (st->epoch > s->sync.epoch_max)
		s->sync.epoch_max = st->epoch;
	for (uint32_t i = 0; i < st->nluns && i < s->cfg->nluns; i++)
		sync_merge_lun(s, i, st->ao[i], m->sender);
}

/* The STATE answers this change: same members, and our change_seq if it shares our history. */
static bool state_matches(const struct cl_state *s, const struct cl_node *n, const struct cl_msg *m)
{
	uint32_t nmembers = 0;

	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		if (!s->nodes[i].member)
			continue;
		nmembers++;
		bool found = false;
		for (uint32_t k = 0; k < m->state.nmembers; k++)
			found |= m->state.members[k] == s->nodes[i].id;
		if (!found)
			return false;
	}
	if (nmembers != m->state.nmembers)
		return false;
	if (n->id == local_id(s) || n->synced)
		return m->change_seq == s->change_seq;
	return true;
}

/* A member whose fence a member's agent is still running stays FENCING until the result. */
static bool sync_fence_in_flight(const struct cl_state *s, const struct cl_node *n,
				 const struct cl_node_view *v)
{
	const struct cl_node *f = node_cget(s, v->fencer);

	return v->from && v->state == CL_NODE_FENCING && f && f->member && f != n;
}

static void sync_apply_node(struct cl_state *s, struct cl_node *n, const struct cl_node_view *v)
{
	n->synced = n->member;
	if (n->member) {
		bool fencing = sync_fence_in_flight(s, n, v);
		n->state = fencing ? CL_NODE_FENCING : CL_NODE_ONLINE;
		n->standby = v->standby;
		n->procdown = false;
		n->fencer = fencing ? v->fencer : 0;
		n->fence_attempts = fencing ? v->fence_attempts : 0;
		return;
	}
	n->state = v->from ? v->state : CL_NODE_UNKNOWN;
	n->standby = v->standby;
	n->procdown = v->procdown;
	n->fencer = v->fencer;
	n->fence_attempts = v->fence_attempts;
	if (n->state == CL_NODE_ONLINE) /* a sender marks lost nodes first: be safe */
		n->state = CL_NODE_UNCLEAN;
	if (n->state == CL_NODE_FENCING) {
		const struct cl_node *f = node_cget(s, n->fencer);
		if (!f || !f->member) /* the agent's owner is gone: fence again */
			n->state = CL_NODE_UNCLEAN;
	}
}

static void sync_split_brain(struct cl_state *s, struct cl_actions *acts)
{
	int me = cl_node_index(s->cfg, local_id(s));

	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		uint32_t id = s->nodes[i].id;
		if (!(s->sync.conflict & (1u << i)))
			continue;
		act_log(acts, CL_LOG_ERR, id, -1,
			"split brain: node %u claimed AO for a LUN another node holds", id);
		act_failed(acts, CL_FAILED_SPLIT_BRAIN, id, -1,
			   act_text(acts, "node %u claimed AO for a LUN another node holds", id),
			   act_text(acts,
				    "data written through node %u during the partition may "
				    "conflict: check the LUNs, then 'clusterctl online %u'",
				    id, id));
	}
	if (s->sync.conflict & (1u << me))
		act_exit(acts,
			 act_text(acts, "split brain: our AO claim lost the merge; restarting "
					"empty so the cluster can fence and re-admit us"));
}

static void fence_result_apply(struct cl_state *s, struct cl_actions *acts,
			       const struct cl_fence_record *r);

static void sync_complete(struct cl_state *s, struct cl_actions *acts)
{
	if (s->sync.mismatch_node) {
		uint32_t id = s->sync.mismatch_node;
		act_log(acts, CL_LOG_ERR, id, -1,
			"node %u has another configuration: decisions stay frozen", id);
		act_failed(acts, CL_FAILED_CONFIG, id, -1,
			   act_text(acts, "node %u has another cluster configuration", id),
			   act_text(acts,
				    "make the node, LUN and timer settings identical on "
				    "every node, then restart clusterd on node %u",
				    id));
		return;
	}
	if (s->sync.conflict)
		sync_split_brain(s, acts);
	if (s->sync.seq_max > s->change_seq)
		s->change_seq = s->sync.seq_max;
	s->epoch = s->sync.epoch_max;
	for (uint32_t i = 0; i < s->cfg->nluns; i++)
		s->luns[i].ao_node = s->sync.ao[i];
	for (uint32_t i = 0; i < s->cfg->nnodes; i++)
		sync_apply_node(s, &s->nodes[i], &s->sync.nodes[i]);
	s->phase = CL_SYNCED;
	s->stateful = true;
	act_log(acts, CL_LOG_INFO, 0, -1, "change %llu: synced, epoch %llu",
		(unsigned long long)s->change_seq, (unsigned long long)s->epoch);
	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		struct cl_node *n = &s->nodes[i];
		if (!n->result_pending)
			continue;
		n->result_pending = false;
		fence_result_apply(s, acts, &n->pending);
	}
	reconcile(s, acts);
}

static bool sync_all_in(const struct cl_state *s)
{
	for (uint32_t i = 0; i < s->cfg->nnodes; i++)
		if (s->nodes[i].member && !s->nodes[i].state_received)
			return false;
	return true;
}

static void on_state(struct cl_state *s, struct cl_actions *acts, struct cl_node *n,
		     const struct cl_msg *m)
{
	if (s->phase != CL_SYNCING || !n->member || n->state_received) {
		act_log(acts, CL_LOG_DEBUG, n->id, -1, "node %u: STATE of change %llu ignored (%s)",
			n->id, (unsigned long long)m->change_seq,
			s->phase != CL_SYNCING ? "not syncing"
			: !n->member	       ? "not a member"
					       : "duplicate");
		return;
	}
	if (m->state.config_digest != s->cfg->digest) {
		if (!s->sync.mismatch_node || n->id < s->sync.mismatch_node)
			s->sync.mismatch_node = n->id;
	} else if (!state_matches(s, n, m)) {
		act_log(acts, CL_LOG_DEBUG, n->id, -1,
			"node %u: STATE of change %llu is for another change: ignored", n->id,
			(unsigned long long)m->change_seq);
		return;
	}
	n->state_received = true;
	n->stateful = m->state.flags & CL_STATE_STATEFUL;
	n->quorate = m->state.flags & CL_STATE_QUORATE;
	sync_merge(s, m);
	if (sync_all_in(s))
		sync_complete(s, acts);
}

/* ---- admin requests ---- */

static int why_err(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int why_err(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

static int check_move(const struct cl_state *s, const struct cl_msg_move *mv, char *why, size_t len)
{
	const struct cl_node *to = node_cget(s, mv->node);
	const struct cl_lun *l;

	if (mv->lun >= s->cfg->nluns)
		return why_err(why, len, -EINVAL, "no LUN with index %u", mv->lun);
	l = &s->luns[mv->lun];
	if (!to)
		return why_err(why, len, -EINVAL, "node %u is not configured", mv->node);
	if (l->move_to)
		return why_err(why, len, -EBUSY, "a move to node %u is in progress", l->move_to);
	if (!node_online(to))
		return why_err(why, len, -EHOSTDOWN, "node %u is not an online member", mv->node);
	if (to->standby)
		return why_err(why, len, -EPERM, "node %u is in standby", mv->node);
	if (l->ao_node == mv->node)
		return why_err(why, len, -EALREADY, "node %u is already AO", mv->node);
	if (!lun_ao_live(s, l))
		return why_err(why, len, -EAGAIN, "the LUN has no live AO to hand over from");
	return 0;
}

static int check_standby(const struct cl_state *s, const struct cl_node *n, char *why, size_t len)
{
	if (n->standby)
		return why_err(why, len, -EALREADY, "node %u is already in standby", n->id);
	for (uint32_t i = 0; i < s->cfg->nluns; i++)
		if (s->luns[i].ao_node == n->id && node_online(n) && !pick_eligible(s, n->id))
			return why_err(why, len, -EBUSY,
				       "no other node could take over lun %s from node %u",
				       s->cfg->luns[i].name, n->id);
	return 0;
}

static int check_fence(const struct cl_state *s, const struct cl_node *t, char *why, size_t len)
{
	if (t->state == CL_NODE_FENCED && !t->member)
		return why_err(why, len, -EALREADY, "node %u is already fenced", t->id);
	if (t->state == CL_NODE_FENCING)
		return why_err(why, len, -EBUSY, "node %u is being fenced", t->id);
	if (!fencer_of(s, t->id))
		return why_err(why, len, -EHOSTDOWN, "no other online node can run the agent");
	return 0;
}

static int check_node_req(const struct cl_state *s, const struct cl_msg *m, char *why, size_t len)
{
	uint32_t id = m->type == CL_MSG_FENCE_REQUEST ? m->fence_req.target : m->node.node;
	const struct cl_node *n = node_cget(s, id);

	if (!n)
		return why_err(why, len, -EINVAL, "node %u is not configured", id);
	if (m->type == CL_MSG_STANDBY)
		return check_standby(s, n, why, len);
	if (m->type == CL_MSG_ONLINE)
		return n->standby ? 0
				  : why_err(why, len, -EALREADY, "node %u is not in standby", id);
	return check_fence(s, n, why, len);
}

int cl_admin_check(const struct cl_state *s, const struct cl_msg *m, char *why, size_t whylen)
{
	bool admin_fence = m->type == CL_MSG_FENCE_REQUEST && m->fence_req.reason == CL_FENCE_ADMIN;

	if (m->type != CL_MSG_MOVE && m->type != CL_MSG_STANDBY && m->type != CL_MSG_ONLINE &&
	    !admin_fence)
		return why_err(why, whylen, -EINVAL, "not an admin request");
	if (s->phase != CL_SYNCED)
		return why_err(why, whylen, -EAGAIN,
			       "the cluster is synchronizing after a membership change; retry");
	if (!cl_cluster_quorate(s))
		return why_err(why, whylen, -EAGAIN, "the cluster is not quorate");
	if (m->type == CL_MSG_MOVE)
		return check_move(s, &m->move, why, whylen);
	return check_node_req(s, m, why, whylen);
}

static uint32_t admin_cookie(const struct cl_msg *m)
{
	if (m->type == CL_MSG_MOVE)
		return m->move.cookie;
	if (m->type == CL_MSG_FENCE_REQUEST)
		return m->fence_req.cookie;
	return m->node.cookie;
}

/* Checks a delivered request; replies on the requesting node. Returns true to apply it. */
static bool admin_accept(const struct cl_state *s, struct cl_actions *acts, const struct cl_msg *m)
{
	char why[160] = "accepted";
	int err = cl_admin_check(s, m, why, sizeof(why));
	struct cl_action *a;

	act_log(acts, err ? CL_LOG_WARN : CL_LOG_INFO, m->sender, -1, "node %u: %s request %s%s",
		m->sender, cl_msg_type_name(m->type), err ? "refused: " : "", why);
	if (m->sender == local_id(s)) {
		a = act_new(acts, CL_ACT_REPLY);
		if (a) {
			a->reply.cookie = admin_cookie(m);
			a->reply.err = err;
			a->reply.text = act_text(acts, "%s", why);
		}
	}
	return !err;
}

/* ---- message handlers ---- */

static void on_hello(struct cl_state *s, struct cl_actions *acts, struct cl_node *n,
		     const struct cl_msg *m)
{
	n->proto_min = m->hello.proto_min;
	n->proto_max = m->hello.proto_max;
	if (CL_PROTO_VERSION >= n->proto_min && CL_PROTO_VERSION <= n->proto_max)
		return;
	act_log(acts, CL_LOG_ERR, n->id, -1, "node %u speaks protocol %u..%u, we speak %u", n->id,
		n->proto_min, n->proto_max, CL_PROTO_VERSION);
	act_failed(acts, CL_FAILED_PROTOCOL, n->id, -1,
		   act_text(acts, "node %u speaks protocol versions %u..%u, this node %u", n->id,
			    n->proto_min, n->proto_max, CL_PROTO_VERSION),
		   act_text(acts, "run the same clusterd release on every node"));
}

static void on_quorum_msg(struct cl_state *s, struct cl_actions *acts, struct cl_node *n,
			  const struct cl_msg *m)
{
	if (n->quorate == m->quorum.quorate)
		return;
	n->quorate = m->quorum.quorate;
	act_log(acts, CL_LOG_NOTICE, n->id, -1, "node %u: %s", n->id,
		n->quorate ? "quorate" : "lost quorum");
	reconcile(s, acts);
}

static void on_move(struct cl_state *s, struct cl_actions *acts, const struct cl_msg *m)
{
	if (admin_accept(s, acts, m))
		lun_move_start(s, acts, m->move.lun, m->move.node, "admin request");
}

static void on_move_commit(struct cl_state *s, struct cl_actions *acts, const struct cl_msg *m)
{
	const struct cl_msg_move_commit *c = &m->commit;
	struct cl_lun *l = c->lun < s->cfg->nluns ? &s->luns[c->lun] : NULL;

	if (s->phase != CL_SYNCED || !l || !l->move_to || l->move_to != c->to ||
	    l->ao_node != c->from || m->sender != c->from) {
		act_log(acts, CL_LOG_INFO, m->sender, (int32_t)c->lun,
			"stale MOVE_COMMIT of lun %u to node %u ignored", c->lun, c->to);
		return;
	}
	lun_set_ao(s, acts, c->lun, c->to, "planned move");
}

static void on_node_req(struct cl_state *s, struct cl_actions *acts, const struct cl_msg *m)
{
	struct cl_node *n;

	if (!admin_accept(s, acts, m))
		return;
	n = node_get(s, m->node.node);
	n->standby = m->type == CL_MSG_STANDBY;
	reconcile(s, acts);
}

static void on_fence_request(struct cl_state *s, struct cl_actions *acts, const struct cl_msg *m)
{
	const struct cl_msg_fence_request *r = &m->fence_req;
	struct cl_node *t = node_get(s, r->target);
	bool ok;

	if (r->reason == CL_FENCE_ADMIN) {
		if (admin_accept(s, acts, m))
			fencing_begin(s, acts, t, fencer_of(s, t->id), r->reason);
		return;
	}
	if (t && m->sender == local_id(s))
		t->fence_requested = false;
	ok = t && s->phase == CL_SYNCED && cl_cluster_quorate(s) && !t->member &&
	     r->fencer == m->sender && fencer_of(s, t->id) == m->sender &&
	     t->state == (r->reason == CL_FENCE_LOST ? CL_NODE_UNCLEAN : CL_NODE_UNKNOWN);
	if (!ok) {
		act_log(acts, CL_LOG_INFO, r->target, -1,
			"stale FENCE_REQUEST of node %u by node %u ignored", r->target, m->sender);
		return;
	}
	fencing_begin(s, acts, t, m->sender, r->reason);
}

static void fence_failed(struct cl_state *s, struct cl_actions *acts, struct cl_node *t,
			 const struct cl_fence_record *r)
{
	t->state = t->member ? CL_NODE_ONLINE : CL_NODE_UNCLEAN;
	act_log(acts, CL_LOG_ERR, t->id, -1, "node %u: fence attempt %u by node %u %s (agent %s)",
		t->id, r->attempt, r->fencer, cl_fence_result_name(r->result), r->agent);
	act_failed(acts, CL_FAILED_FENCE, t->id, -1,
		   act_text(acts, "fencing node %u with %s: %s (attempt %u)", t->id, r->agent,
			    cl_fence_result_name(r->result), r->attempt),
		   act_text(acts,
			    "I/O of LUNs node %u held stays frozen until a fence succeeds; "
			    "retrying. Check the agent with 'clusterctl fence-test %u'; if node "
			    "%u is verifiably off, 'clusterctl fence %u --yes' after fixing it",
			    t->id, t->id, t->id, t->id));
	reconcile(s, acts);
}

static void fence_result_apply(struct cl_state *s, struct cl_actions *acts,
			       const struct cl_fence_record *r)
{
	struct cl_node *t = node_get(s, r->target);

	if (!t)
		return;
	if (r->result == CL_FENCE_OK) { /* a fact whatever we thought: it is off */
		if (t->id == local_id(s)) {
			act_log(acts, CL_LOG_ERR, t->id, -1, "node %u reports it fenced us",
				r->fencer);
			act_exit(acts, act_text(acts, "this node was reported fenced"));
			return;
		}
		t->state = CL_NODE_FENCED;
		t->fencer = 0;
		t->procdown = false;
		act_log(acts, CL_LOG_NOTICE, t->id, -1, "node %u: fenced by node %u with %s", t->id,
			r->fencer, r->agent);
		act_failed_clear(acts, CL_FAILED_FENCE, t->id);
		reconcile(s, acts);
		return;
	}
	if (t->state != CL_NODE_FENCING || r->attempt != t->fence_attempts) {
		act_log(acts, CL_LOG_INFO, t->id, -1, "stale fence result for node %u ignored",
			t->id);
		return;
	}
	fence_failed(s, acts, t, r);
}

static void on_fence_result(struct cl_state *s, struct cl_actions *acts, const struct cl_msg *m)
{
	const struct cl_fence_record *r = &m->fence_res;
	struct cl_node *t = node_get(s, r->target);

	if (!t || r->fencer != m->sender) {
		act_log(acts, CL_LOG_WARN, m->sender, -1, "bad FENCE_RESULT from node %u ignored",
			m->sender);
		return;
	}
	hist_add(s, r);
	if (s->phase == CL_SYNCED) {
		fence_result_apply(s, acts, r);
		return;
	}
	t->result_pending = true; /* applied once the merge is done (sync_complete) */
	t->pending = *r;
}

static const char *decode_err_name(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return "bad length";
	case -EBADMSG:
		return "corrupt (magic, crc32c or a field)";
	case -EPROTONOSUPPORT:
		return "unknown protocol version";
	case -ENOMSG:
		return "unknown type";
	}
	return "undecodable";
}

static void on_msg(struct cl_state *s, struct cl_actions *acts, uint32_t from, const void *buf,
		   size_t len)
{
	struct cl_msg m;
	struct cl_node *n;
	int err = cl_msg_decode(buf, len, &m);

	if (err) { /* refused, state untouched */
		act_log(acts, CL_LOG_WARN, from, -1,
			"node %u: message refused: %s (version %u, type %u, %zu bytes)", from,
			decode_err_name(err), m.version, m.type, len);
		return;
	}
	n = node_get(s, m.sender);
	if (!n || m.sender != from || s->phase == CL_JOINING) {
		act_log(acts, CL_LOG_WARN, from, -1, "node %u: %s claiming sender %u ignored", from,
			cl_msg_type_name(m.type), m.sender);
		return;
	}
	switch (m.type) {
	case CL_MSG_HELLO:
		on_hello(s, acts, n, &m);
		break;
	case CL_MSG_STATE:
		on_state(s, acts, n, &m);
		break;
	case CL_MSG_QUORUM:
		on_quorum_msg(s, acts, n, &m);
		break;
	case CL_MSG_MOVE:
		on_move(s, acts, &m);
		break;
	case CL_MSG_MOVE_COMMIT:
		on_move_commit(s, acts, &m);
		break;
	case CL_MSG_STANDBY:
	case CL_MSG_ONLINE:
		on_node_req(s, acts, &m);
		break;
	case CL_MSG_FENCE_REQUEST:
		on_fence_request(s, acts, &m);
		break;
	case CL_MSG_FENCE_RESULT:
		on_fence_result(s, acts, &m);
		break;
	}
}

/* ---- local events ---- */

static void on_quorum(struct cl_state *s, struct cl_actions *acts, bool quorate)
{
	struct cl_msg m = {.type = CL_MSG_QUORUM};

	if (s->local_quorate == quorate)
		return;
	s->local_quorate = quorate;
	act_log(acts, CL_LOG_NOTICE, local_id(s), -1, "votequorum: %s",
		quorate ? "quorate" : "NOT quorate, our port groups go UNAVAILABLE");
	if (s->phase == CL_JOINING)
		return; /* our STATE will carry it */
	m.quorum.quorate = quorate;
	act_mcast(s, acts, &m);
}

static bool timer_fire_ok(const struct cl_state *s, const struct cl_node *t)
{
	return s->phase == CL_SYNCED && cl_cluster_quorate(s) && !t->member &&
	       fencer_of(s, t->id) == local_id(s);
}

static void on_timer(struct cl_state *s, struct cl_actions *acts, uint8_t timer, uint32_t node)
{
	struct cl_node *t = node_get(s, node);

	if (timer == CL_TIMER_FENCE_DELAY && t && t->fence_timer) {
		t->fence_timer = false;
		if (timer_fire_ok(s, t) && t->state == CL_NODE_UNCLEAN)
			fence_request_send(s, acts, t, CL_FENCE_LOST);
		return;
	}
	if (timer != CL_TIMER_STARTUP || !s->startup_timer)
		return; /* cancelled, or not ours */
	s->startup_timer = false;
	for (uint32_t i = 0; i < s->cfg->nnodes; i++) {
		t = &s->nodes[i];
		if (t->state == CL_NODE_UNKNOWN && timer_fire_ok(s, t) && !t->fence_requested)
			fence_request_send(s, acts, t, CL_FENCE_STARTUP);
	}
}

static void on_fence_done(struct cl_state *s, struct cl_actions *acts,
			  const struct cl_fence_record *r)
{
	struct cl_node *t = node_get(s, r->target);
	struct cl_msg m = {.type = CL_MSG_FENCE_RESULT};

	if (!t || !t->agent_running) {
		act_log(acts, CL_LOG_WARN, r->target, -1,
			"fence agent result for node %u that we did not start: ignored", r->target);
		return;
	}
	t->agent_running = false;
	m.fence_res = *r;
	m.fence_res.fencer = local_id(s);
	m.fence_res.agent[CL_AGENT_MAX - 1] = 0;
	act_mcast(s, acts, &m);
}

int decide(const struct cl_state *in, const struct cl_event *ev, struct cl_state *out,
	   struct cl_actions *acts)
{
	*out = *in;
	acts_reset(acts);
	switch (ev->type) {
	case CL_EV_CONFCHG:
		on_confchg(out, acts, &ev->confchg);
		break;
	case CL_EV_QUORUM:
		on_quorum(out, acts, ev->quorum.quorate);
		break;
	case CL_EV_MSG:
		on_msg(out, acts, ev->msg.nodeid, ev->msg.buf, ev->msg.len);
		break;
	case CL_EV_TIMER:
		on_timer(out, acts, ev->timer.timer, ev->timer.node);
		break;
	case CL_EV_FENCE_DONE:
		on_fence_done(out, acts, &ev->fence_done);
		break;
	default:
		return -EINVAL;
	}
	if (!acts_exiting(acts)) /* an exiting daemon pushes nothing after CL_ACT_EXIT */
		alua_sync(out, acts);
	return acts->overflow ? -ENOSPC : 0;
}
