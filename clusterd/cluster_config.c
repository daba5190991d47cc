/* SPDX-License-Identifier: MIT */
/*
 * The cluster file: INI (inih) into struct cluster_config, validation,
 * derivation, and the per-node struct tgt_config.
 *
 * The iSCSI vocabulary ([iscsi] tuning, [chap], [acl], the [lun] keys) is the
 * standalone file's, through clusterd/config.c's exported setters, so both
 * files accept the same values with the same messages. Values are checked
 * where they are read, so that an error names the file, line, section and key;
 * what relates items to each other is checked in cluster_config_finalize(),
 * whose errors name the line of the section concerned.
 *
 * Everything both nodes must agree on is derived from the file alone, never
 * from anything node-local: the file is the same on both nodes, so they agree.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ini.h>

#include "config-host.h"
#include "lib/compiler.h"
#include "clusterd/config.h"
#include "clusterd/cluster_config.h"

#define WHY_MAX 320

/* ---- small helpers (config_fail, config_copy_str, config_str_has_ctrl: config.h) ---- */

/* Decimal digits only, at most max. */
static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *why, size_t n)
{
	uint64_t v = 0;
	const char *p = s;

	for (; isdigit((unsigned char)*p); p++)
		if (v <= UINT32_MAX) /* larger stays larger, without overflow */
			v = v * 10 + (uint64_t)(*p - '0');
	if (p == s || *p)
		return config_fail(why, n, "'%s' is not a decimal number", s);
	if (v < min || v > max)
		return config_fail(why, n, "'%s' is not in %" PRIu32 "..%" PRIu32, s, min, max);
	*out = (uint32_t)v;
	return 0;
}

static int parse_ms_range(const char *s, uint32_t min, uint32_t max, uint32_t *out, char *why,
			  size_t n)
{
	uint32_t v;
	int r = config_parse_ms(s, &v, why, n);

	if (r)
		return r;
	if (v < min || v > max)
		return config_fail(why, n, "%" PRIu32 " ms is not in %" PRIu32 "..%" PRIu32 " ms",
				   v, min, max);
	*out = v;
	return 0;
}

/* Cluster, node, LUN and IPC names: they appear in commands, logs and file names. */
static int check_ident(const char *s, char *why, size_t n)
{
	size_t len = strlen(s);

	if (!len || len >= CC_NAME_MAX)
		return config_fail(why, n, "'%s' is not 1 to %d bytes long", s, CC_NAME_MAX - 1);
	if (!isalnum((unsigned char)s[0]))
		return config_fail(why, n, "'%s' does not start with a letter or digit", s);
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return config_fail(
				why, n, "'%s': character '%c' is not allowed (A-Z a-z 0-9 . _ -)",
				s, *p);
	return 0;
}

static int set_abs_path(char *dst, size_t cap, const char *val, char *why, size_t n)
{
	if (val[0] != '/')
		return config_fail(why, n, "'%s' is not an absolute path", val);
	if (config_str_has_ctrl(val))
		return config_fail(why, n, "control characters are not allowed");
	return config_copy_str(dst, cap, val, why, n);
}

/* 0.0.0.0 and ::. */
static bool portal_is_wildcard(const struct tgt_portal *p)
{
	unsigned char bin[16] = {0}, zero[16] = {0};

	if (inet_pton(AF_INET, p->addr, bin) == 1)
		return !memcmp(bin, zero, 4);
	return inet_pton(AF_INET6, p->addr, bin) == 1 && !memcmp(bin, zero, 16);
}

static bool portal_equal(const struct tgt_portal *a, const struct tgt_portal *b)
{
	return a->port == b->port && !strcmp(a->addr, b->addr);
}

/* A specific address: initiators are sent it, and it names one SCSI target port. */
static int parse_cluster_portal(const char *val, struct tgt_portal *p, char *why, size_t n)
{
	int r = config_parse_portal(val, p, why, n);

	if (r)
		return r;
	if (portal_is_wildcard(p))
		return config_fail(why, n,
				   "'%s' is a wildcard; a cluster portal is a specific address "
				   "(initiators are sent it, and it is one SCSI target port)",
				   val);
	return 0;
}

static int parse_repl_address(const char *val, struct tgt_portal *p, char *why, size_t n)
{
	const char *port = val[0] == '[' ? strstr(val, "]:") : strchr(val, ':');
	int r = config_parse_portal(val, p, why, n);

	if (r)
		return r;
	if (!port)
		return config_fail(why, n, "'%s': give ADDR:PORT (there is no default port)", val);
	if (portal_is_wildcard(p))
		return config_fail(why, n, "'%s' is a wildcard; the peer connects to this address",
				   val);
	return 0;
}

static void node_label(const struct cc_node *nd, unsigned idx, char *buf, size_t cap)
{
	if (nd->name[0])
		snprintf(buf, cap, "node %s", nd->name);
	else
		snprintf(buf, cap, "node #%u", idx + 1);
}

/* ---- defaults ---- */

void cluster_config_defaults(struct cluster_config *cc)
{
	memset(cc, 0, sizeof(*cc));
	tgt_config_defaults(&cc->tgt);
	cc->fencing = CC_FENCING_AGENT;
	strcpy(cc->fence_agent_dirs, CC_DEFAULT_FENCE_AGENT_DIRS);
	cc->fence_timeout_ms = CC_DEFAULT_FENCE_TIMEOUT_MS;
	cc->fence_retries = CC_DEFAULT_FENCE_RETRIES;
	cc->transition_hold_ms = CC_DEFAULT_TRANSITION_HOLD;
	cc->watchdog_timeout_ms = CC_DEFAULT_WATCHDOG_TIMEOUT;
	strcpy(cc->state_dir, CC_DEFAULT_STATE_DIR);
	strcpy(cc->ipc_name, CC_DEFAULT_IPC_NAME);
}

static void node_init(struct cc_node *nd)
{
	memset(nd, 0, sizeof(*nd));
	nd->fence_delay_ms = CC_DEFAULT_FENCE_DELAY_MS;
}

static void lun_init(struct cc_lun *l)
{
	memset(l, 0, sizeof(*l));
	l->lun.block_size = 512;
}

/* ---- [cluster] ---- */

/* The [cluster] timers: X(key, field, milliseconds?, min, max) */
#define CC_TIMERS(X)                                                                               \
	X("fence_timeout", fence_timeout_ms, true, 1000, 600000)                                   \
	X("fence_retries", fence_retries, false, 0, 10)                                            \
	X("transition_hold", transition_hold_ms, true, 0, 5000)                                    \
	X("watchdog_timeout", watchdog_timeout_ms, true, 2000, 600000)

struct cc_timer {
	const char *key;
	size_t off;
	bool ms;
	uint32_t min, max;
};

#define X_TIMER(k, field, is_ms, lo, hi)                                                           \
	{.key = k,                                                                                 \
	 .off = offsetof(struct cluster_config, field),                                            \
	 .ms = is_ms,                                                                              \
	 .min = lo,                                                                                \
	 .max = hi},
static const struct cc_timer cc_timers[] = {CC_TIMERS(X_TIMER)};

static int timer_set(struct cluster_config *cc, const struct cc_timer *t, const char *val,
		     char *why, size_t n)
{
	uint32_t *field = (uint32_t *)((char *)cc + t->off);
	uint32_t v;
	int r;

	r = t->ms ? parse_ms_range(val, t->min, t->max, &v, why, n)
		  : parse_u32(val, t->min, t->max, &v, why, n);
	if (r)
		return r;
	/* WDIOC_SETTIMEOUT counts whole seconds */
	if (field == &cc->watchdog_timeout_ms && v % 1000)
		return config_fail(why, n, "%" PRIu32 " ms is not a whole number of seconds", v);
	*field = v;
	return 0;
}

static int check_agent_dirs(const char *val, char *why, size_t n)
{
	const char *p = val;

	do {
		if (*p != '/')
			return config_fail(why, n, "'%s': every directory must be an absolute path",
					   val);
		p = strchr(p, ':');
	} while (p && *++p);
	return p ? config_fail(why, n, "'%s' ends with ':'", val) : 0;
}

static int cluster_set_key(struct cluster_config *cc, const char *key, const char *val, char *why,
			   size_t n)
{
	int r;

	if (!strcmp(key, "name"))
		return check_ident(val, why, n)
			       ?: config_copy_str(cc->name, sizeof(cc->name), val, why, n);
	if (!strcmp(key, "iqn"))
		return config_check_name(val, why, n)
			       ?: config_copy_str(cc->iqn, sizeof(cc->iqn), val, why, n);
	if (!strcmp(key, "fencing")) {
		if (strcmp(val, "agent") && strcmp(val, "none"))
			return config_fail(why, n, "'%s' is not agent or none", val);
		cc->fencing = strcmp(val, "none") ? CC_FENCING_AGENT : CC_FENCING_NONE;
		return 0;
	}
	if (!strcmp(key, "fence_agent_dirs")) {
		r = check_agent_dirs(val, why, n);
		return r
			       ?: config_copy_str(cc->fence_agent_dirs,
						  sizeof(cc->fence_agent_dirs), val, why, n);
	}
	if (!strcmp(key, "state_dir"))
		return set_abs_path(cc->state_dir, sizeof(cc->state_dir), val, why, n);
	if (!strcmp(key, "ipc_name"))
		return check_ident(val, why, n)
			       ?: config_copy_str(cc->ipc_name, sizeof(cc->ipc_name), val, why, n);
	if (!strcmp(key, "debug"))
		return config_parse_bool(val, &cc->debug, why, n);
	for (unsigned i = 0; i < ARRAY_SIZE(cc_timers); i++)
		if (!strcmp(key, cc_timers[i].key))
			return timer_set(cc, &cc_timers[i], val, why, n);
	return -ENOENT;
}

/* ---- [node] ---- */

/* A name searched in fence_agent_dirs, or an absolute path. */
static int check_agent(const char *val, char *why, size_t n)
{
	if (val[0] == '/')
		return config_str_has_ctrl(val)
			       ? config_fail(why, n, "control characters are not allowed")
			       : 0;
	if (strchr(val, '/'))
		return config_fail(why, n, "'%s' is neither an agent name nor an absolute path",
				   val);
	if (val[0] == '.' || check_ident(val, why, n))
		return config_fail(why, n, "'%s' is not an agent name (A-Z a-z 0-9 . _ -)", val);
	return 0;
}

/* KEY=VALUE, a line of the agent's stdin (fence-agents API). */
static int fence_option_add(struct cc_node *nd, const char *val, char *why, size_t n)
{
	struct cc_fence_option *o;
	const char *eq = strchr(val, '=');
	size_t klen = eq ? (size_t)(eq - val) : 0;

	if (!eq || !klen)
		return config_fail(why, n, "'%s' is not KEY=VALUE", val);
	if (klen >= CC_FENCE_KEY_MAX)
		return config_fail(why, n, "the key is longer than %d bytes", CC_FENCE_KEY_MAX - 1);
	for (size_t i = 0; i < klen; i++)
		if (!isalnum((unsigned char)val[i]) && val[i] != '_' && val[i] != '-')
			return config_fail(why, n, "key '%.*s': only A-Z a-z 0-9 _ - are allowed",
					   (int)klen, val);
	/* the runner writes action= itself, per operation */
	if ((klen == 6 && !strncmp(val, "action", 6)) || (klen == 6 && !strncmp(val, "option", 6)))
		return config_fail(why, n, "'%.*s' is set by clusterd for each operation",
				   (int)klen, val);
	if (config_str_has_ctrl(eq + 1))
		return config_fail(why, n, "control characters are not allowed");
	for (unsigned i = 0; i < nd->nfence_options; i++)
		if (strlen(nd->fence_options[i].key) == klen &&
		    !strncmp(nd->fence_options[i].key, val, klen))
			return config_fail(why, n, "option '%.*s' is given twice", (int)klen, val);
	if (nd->nfence_options >= CC_MAX_FENCE_OPTIONS)
		return config_fail(why, n, "more than %d fence options", CC_MAX_FENCE_OPTIONS);
	o = &nd->fence_options[nd->nfence_options];
	if (config_copy_str(o->value, sizeof(o->value), eq + 1, why, n))
		return -EINVAL;
	memset(o->key, 0, sizeof(o->key));
	memcpy(o->key, val, klen);
	nd->nfence_options++;
	return 0;
}

/* The portal of any node equal to p, other than p itself; NULL if none. */
static const struct cc_node *portal_owner(const struct cluster_config *cc,
					  const struct tgt_portal *p, unsigned *index)
{
	for (unsigned i = 0; i < cc->nnodes; i++)
		for (unsigned j = 0; j < cc->nodes[i].nportals; j++)
			if (&cc->nodes[i].portals[j] != p &&
			    portal_equal(&cc->nodes[i].portals[j], p)) {
				*index = j;
				return &cc->nodes[i];
			}
	return NULL;
}

static int node_portal_add(struct cluster_config *cc, struct cc_node *nd, const char *val,
			   char *why, size_t n)
{
	struct tgt_portal *p;
	const struct cc_node *other;
	char label[CC_NAME_MAX + 16];
	unsigned j;
	int r;

	if (nd->nportals >= CC_MAX_NODE_PORTALS)
		return config_fail(why, n, "more than %d portals", CC_MAX_NODE_PORTALS);
	p = &nd->portals[nd->nportals];
	memset(p, 0, sizeof(*p));
	r = parse_cluster_portal(val, p, why, n);
	if (r)
		return r;
	other = portal_owner(cc, p, &j);
	if (other) {
		node_label(other, (unsigned)(other - cc->nodes), label, sizeof(label));
		return config_fail(why, n, "%s is already portal %u of %s", val, j + 1, label);
	}
	nd->nportals++;
	return 0;
}

static int node_set_key(struct cluster_config *cc, struct cc_node *nd, const char *key,
			const char *val, char *why, size_t n)
{
	if (!strcmp(key, "id"))
		return parse_u32(val, 1, CC_NODE_ID_MAX, &nd->id, why, n);
	if (!strcmp(key, "name"))
		return check_ident(val, why, n)
			       ?: config_copy_str(nd->name, sizeof(nd->name), val, why, n);
	if (!strcmp(key, "portal"))
		return node_portal_add(cc, nd, val, why, n);
	if (!strcmp(key, "replication_address"))
		return parse_repl_address(val, &nd->replication, why, n);
	if (!strcmp(key, "fence_agent"))
		return check_agent(val, why, n)
			       ?: config_copy_str(nd->fence_agent, sizeof(nd->fence_agent), val,
						  why, n);
	if (!strcmp(key, "fence_option"))
		return fence_option_add(nd, val, why, n);
	if (!strcmp(key, "fence_delay"))
		return parse_ms_range(val, 0, 600000, &nd->fence_delay_ms, why, n);
	if (!strcmp(key, "watchdog"))
		return set_abs_path(nd->watchdog, sizeof(nd->watchdog), val, why, n);
	if (!strcmp(key, "state_dir"))
		return set_abs_path(nd->state_dir, sizeof(nd->state_dir), val, why, n);
	return -ENOENT;
}

/* ---- [lun] ---- */

static int lun_set_key(struct cc_lun *l, const char *key, const char *val, char *why, size_t n)
{
	if (!strcmp(key, "name"))
		return check_ident(val, why, n)
			       ?: config_copy_str(l->name, sizeof(l->name), val, why, n);
	if (!strcmp(key, "replication")) {
		if (!strcmp(val, "sync"))
			l->replication = CC_REPL_SYNC;
		else if (!strcmp(val, "shared"))
			l->replication = CC_REPL_SHARED;
		else
			return config_fail(why, n, "'%s' is not sync or shared", val);
		return 0;
	}
	return config_lun_set_key(&l->lun, key, val, why, n);
}

/* ---- the INI reader ---- */

enum cc_sec { SEC_NONE, SEC_CLUSTER, SEC_NODE, SEC_LUN, SEC_ISCSI, SEC_CHAP, SEC_ACL, SEC_COUNT };

static const char *const sec_names[SEC_COUNT] = {"",	  "cluster", "node", "lun",
						 "iscsi", "chap",    "acl"};
static const char *const sec_keys[SEC_COUNT] = {
	"",
	"name, iqn, fencing, fence_agent_dirs, fence_timeout, fence_retries, transition_hold, "
	"watchdog_timeout, state_dir, ipc_name, debug",
	"id, name, portal, replication_address, fence_agent, fence_option, fence_delay, "
	"watchdog, state_dir",
	"name, path, size, blocksize, read_only, direct, id, replication",
	"alias, or a tuning key of clusterd --help",
	"user, secret, mutual_user, mutual_secret",
	"allow",
};

/* Keys that may be repeated in one section: each adds an item. */
static bool key_repeats(enum cc_sec s, const char *key)
{
	return (s == SEC_NODE && (!strcmp(key, "portal") || !strcmp(key, "fence_option"))) ||
	       s == SEC_ACL;
}

#define SEEN_MAX 64

struct reader {
	struct cluster_config *cc;
	const char *path;
	FILE *f;
	int line;
	enum cc_sec sec;
	int sec_line;
	int first_line[SEC_COUNT];
	struct {
		char key[32];
		int line;
	} seen[SEEN_MAX];
	unsigned nseen;
	bool failed;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int rd_fail(struct reader *rd, int line,
							 const char *fmt, ...)
{
	char msg[WHY_MAX + 128];
	va_list ap;

	if (rd->failed)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_fail(rd->err, rd->errlen, "%s:%d: %s", rd->path, line, msg);
	rd->failed = true;
	return -EINVAL;
}

/* A section ends: what needs all of its keys. */
static void rd_section_end(struct reader *rd)
{
	struct cluster_config *cc = rd->cc;
	char why[WHY_MAX];

	if (rd->sec == SEC_CHAP && config_section_check(&cc->tgt, "chap", why, sizeof(why)))
		rd_fail(rd, rd->sec_line, "[chap]: %s", why);
	if (rd->sec == SEC_LUN && config_lun_check(&cc->luns[cc->nluns - 1].lun, why, sizeof(why)))
		rd_fail(rd, rd->sec_line, "[lun] (LUN %u): %s", cc->nluns - 1, why);
}

static int rd_section_refuse(struct reader *rd, const char *name)
{
	if (!strcmp(name, "target"))
		return rd_fail(rd, rd->line,
			       "[target] is a standalone section: in a cluster file the target "
			       "name is 'iqn' in [cluster], and tuning keys go in [iscsi]");
	if (!strcmp(name, "portal"))
		return rd_fail(rd, rd->line,
			       "[portal] is a standalone section: in a cluster file each [node] "
			       "lists its portals with 'portal = ADDR[:PORT]'");
	return rd_fail(rd, rd->line,
		       "unknown section [%s] (known: cluster, node, lun, iscsi, chap, acl)", name);
}

static int rd_section_begin(struct reader *rd, const char *name)
{
	struct cluster_config *cc = rd->cc;
	enum cc_sec s;

	if (rd->sec != SEC_NONE)
		rd_section_end(rd);
	if (rd->failed)
		return -EINVAL;
	for (s = SEC_CLUSTER; s < SEC_COUNT; s++)
		if (!strcmp(name, sec_names[s]))
			break;
	if (s == SEC_COUNT)
		return rd_section_refuse(rd, name);
	if ((s == SEC_CLUSTER || s == SEC_ISCSI || s == SEC_CHAP) && rd->first_line[s])
		return rd_fail(rd, rd->line, "[%s] appears twice (first on line %d)", name,
			       rd->first_line[s]);
	if (s == SEC_NODE && cc->nnodes >= CC_MAX_NODES)
		return rd_fail(rd, rd->line,
			       "a third [node] section: clusterd runs two-node clusters");
	if (s == SEC_LUN && cc->nluns >= TGT_MAX_LUNS)
		return rd_fail(rd, rd->line, "more than %d [lun] sections", TGT_MAX_LUNS);
	if (s == SEC_NODE) {
		node_init(&cc->nodes[cc->nnodes]);
		cc->nodes[cc->nnodes++].line = rd->line;
	}
	if (s == SEC_LUN) {
		lun_init(&cc->luns[cc->nluns]);
		cc->luns[cc->nluns++].line = rd->line;
	}
	rd->first_line[s] = rd->first_line[s] ?: rd->line;
	rd->sec = s;
	rd->sec_line = rd->line;
	rd->nseen = 0;
	return 0;
}

/*
 * The name of the section a raw line opens, or "" when it opens none. inih
 * does not tell its handler where a section starts, and each [node] or [lun]
 * starts a new item even after one of the same name, so we look ourselves.
 * Returns -EINVAL for a '[' without ']'.
 */
static int line_section(const char *line, bool first, char *name, size_t cap)
{
	const char *p = line, *end;
	size_t len;

	name[0] = '\0';
	if (first && !strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3; /* a UTF-8 BOM, which inih skips too */
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[')
		return 0;
	end = strchr(p, ']');
	if (!end)
		return -EINVAL;
	for (p++; p < end && isspace((unsigned char)*p); p++)
		;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	len = MIN((size_t)(end - p), cap - 1);
	memcpy(name, p, len);
	name[len] = '\0';
	return 0;
}

/* inih's reader: counts lines, refuses over-long ones, and sees section headers. */
static char *rd_read_line(char *buf, int cap, void *stream)
{
	struct reader *rd = stream;
	char name[64];
	size_t len;

	if (rd->failed || !fgets(buf, cap, rd->f))
		return NULL;
	rd->line++;
	len = strlen(buf);
	if (len == (size_t)cap - 1 && buf[len - 1] != '\n' && !feof(rd->f)) {
		rd_fail(rd, rd->line, "line longer than %d bytes", cap - 2);
		return NULL;
	}
	if (line_section(buf, rd->line == 1, name, sizeof(name))) {
		rd_fail(rd, rd->line, "syntax error: missing ']'");
		return NULL;
	}
	if (name[0] && rd_section_begin(rd, name))
		return NULL;
	return buf;
}

static int rd_seen(struct reader *rd, const char *key)
{
	for (unsigned i = 0; i < rd->nseen; i++)
		if (!strcmp(rd->seen[i].key, key))
			return rd->seen[i].line;
	if (rd->nseen < SEEN_MAX && strlen(key) < sizeof(rd->seen[0].key)) {
		strcpy(rd->seen[rd->nseen].key, key);
		rd->seen[rd->nseen++].line = rd->line;
	}
	return 0;
}

static int iscsi_set_key(struct cluster_config *cc, const char *key, const char *val, char *why,
			 size_t n)
{
	if (!strcmp(key, "iqn"))
		return config_fail(why, n, "the target name is 'iqn' in [cluster]");
	if (!strcmp(key, "debug"))
		return config_fail(why, n, "'debug' belongs in [cluster]");
	return config_section_set_key(&cc->tgt, "target", key, val, why, n);
}

static int rd_set_key(struct reader *rd, const char *key, const char *val, char *why, size_t n)
{
	struct cluster_config *cc = rd->cc;

	switch (rd->sec) {
	case SEC_CLUSTER:
		return cluster_set_key(cc, key, val, why, n);
	case SEC_NODE:
		return node_set_key(cc, &cc->nodes[cc->nnodes - 1], key, val, why, n);
	case SEC_LUN:
		return lun_set_key(&cc->luns[cc->nluns - 1], key, val, why, n);
	case SEC_ISCSI:
		return iscsi_set_key(cc, key, val, why, n);
	case SEC_CHAP:
	case SEC_ACL:
		return config_section_set_key(&cc->tgt, sec_names[rd->sec], key, val, why, n);
	default:
		return -ENOENT;
	}
}

static int rd_key(struct reader *rd, const char *key, const char *val)
{
	const char *sec = sec_names[rd->sec];
	char why[WHY_MAX];
	int first, r;

	if (rd->sec == SEC_NONE)
		return rd_fail(rd, rd->line, "key '%s' outside any section (start with [cluster])",
			       key);
	first = rd_seen(rd, key);
	if (first && !key_repeats(rd->sec, key))
		return rd_fail(rd, rd->line, "key '%s' in [%s]: given twice (first on line %d)",
			       key, sec, first);
	if (!*val)
		return rd_fail(rd, rd->line, "key '%s' in [%s]: no value", key, sec);
	r = rd_set_key(rd, key, val, why, sizeof(why));
	if (r == -ENOENT)
		return rd_fail(rd, rd->line, "key '%s' in [%s]: unknown key (known: %s)", key, sec,
			       sec_keys[rd->sec]);
	if (r)
		return rd_fail(rd, rd->line, "key '%s' in [%s]: %s", key, sec, why);
	return 0;
}

/* inih's handler: nonzero to go on. */
static int rd_on_key(void *user, const char *section, const char *key, const char *val)
{
	struct reader *rd = user;

	return !rd->failed && !rd_key(rd, key, val);
}

/* inih's knobs are globals: set ours for one parse and put theirs back. */
static int rd_parse_tuned(struct reader *rd)
{
	bool multiline = ini_allow_multiline, stop = ini_stop_on_first_error;
	int max_line = ini_max_line, r;

	ini_allow_multiline = false; /* an indented line is a key of its own */
	ini_stop_on_first_error = true;
	ini_max_line = CONFIG_INI_LINE_MAX + 1;
	r = ini_parse_stream(rd_read_line, rd, rd_on_key, rd);
	ini_allow_multiline = multiline;
	ini_stop_on_first_error = stop;
	ini_max_line = max_line;
	return r;
}

int cluster_config_parse(struct cluster_config *cc, const char *path, char *err, size_t errlen)
{
	struct reader rd = {.cc = cc, .path = path, .err = err, .errlen = errlen};
	char why[WHY_MAX];
	int r;

	if (config_copy_str(cc->source, sizeof(cc->source), path, why, sizeof(why)))
		return config_fail(err, errlen, "%s: file name %s", path, why);
	rd.f = fopen(path, "r");
	if (!rd.f) {
		r = -errno;
		config_fail(err, errlen, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	r = rd_parse_tuned(&rd);
	if (!rd.failed && ferror(rd.f))
		rd_fail(&rd, rd.line, "read error");
	if (!rd.failed && r > 0)
		rd_fail(&rd, r, "syntax error: expected 'key = value', '[section]' or a comment");
	if (!rd.failed && rd.sec != SEC_NONE)
		rd_section_end(&rd);
	fclose(rd.f);
	if (rd.failed)
		return -EINVAL;
	if (!rd.first_line[SEC_CLUSTER])
		return config_fail(err, errlen, "%s: no [cluster] section: not a cluster file",
				   path);
	return 0;
}

bool config_file_is_cluster(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, name[64];
	size_t cap = 0;
	bool first = true, found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) >= 0) {
		found = !line_section(line, first, name, sizeof(name)) && !strcmp(name, "cluster");
		first = false;
	}
	free(line);
	fclose(f);
	return found;
}

/* ---- finalize ---- */

/* "FILE:LINE: " before a finalize message, as far as they are known. */
__attribute__((format(printf, 5, 6))) static int fail_at(const struct cluster_config *cc, char *err,
							 size_t n, int line, const char *fmt, ...)
{
	char msg[WHY_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cc->source[0] && line)
		return config_fail(err, n, "%s:%d: %s", cc->source, line, msg);
	if (cc->source[0])
		return config_fail(err, n, "%s: %s", cc->source, msg);
	return config_fail(err, n, "%s", msg);
}

__attribute__((format(printf, 2, 3))) static void warn(struct cluster_config *cc, const char *fmt,
						       ...)
{
	va_list ap;

	if (cc->nwarnings >= CC_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(cc->warnings[cc->nwarnings++], CC_WARNING_MAX, fmt, ap);
	va_end(ap);
}

static int finalize_cluster(struct cluster_config *cc, char *err, size_t n)
{
	char why[WHY_MAX];

	if (!cc->name[0])
		return fail_at(cc, err, n, 0, "[cluster]: no 'name'");
	if (!cc->iqn[0])
		return fail_at(cc, err, n, 0,
			       "[cluster]: no 'iqn' (the target name both nodes serve)");
	if (config_check_name(cc->iqn, why, sizeof(why)))
		return fail_at(cc, err, n, 0, "[cluster]: iqn '%s': %s", cc->iqn, why);
	if (cc->nnodes != CC_MAX_NODES)
		return fail_at(cc, err, n, 0, "%u [node] section%s: a cluster has exactly %d nodes",
			       cc->nnodes, cc->nnodes == 1 ? "" : "s", CC_MAX_NODES);
	return 0;
}

/* What one node must have on its own. */
static int finalize_node(struct cluster_config *cc, unsigned i, char *err, size_t n)
{
	struct cc_node *nd = &cc->nodes[i];
	char label[CC_NAME_MAX + 16];

	node_label(nd, i, label, sizeof(label));
	if (!nd->id)
		return fail_at(cc, err, n, nd->line, "[node] (%s): no 'id' (its corosync nodeid)",
			       label);
	if (nd->id > CC_NODE_ID_MAX)
		return fail_at(cc, err, n, nd->line, "[node] (%s): id %u is not in 1..%d", label,
			       nd->id, CC_NODE_ID_MAX);
	if (!nd->name[0])
		return fail_at(cc, err, n, nd->line, "[node] (%s): no 'name'", label);
	if (!nd->nportals)
		return fail_at(cc, err, n, nd->line,
			       "[node] (%s): no 'portal': initiators need at least one", label);
	if (cc->fencing == CC_FENCING_AGENT && !nd->fence_agent[0])
		return fail_at(cc, err, n, nd->line,
			       "[node] (%s): no 'fence_agent': the peer must be able to fence "
			       "this node (fencing = none only for tests)",
			       label);
	if (cc->fencing == CC_FENCING_NONE && (nd->fence_agent[0] || nd->nfence_options))
		return fail_at(cc, err, n, nd->line,
			       "[node] (%s): a fence agent or option is given but [cluster] says "
			       "fencing = none",
			       label);
	if (!nd->state_dir[0])
		memcpy(nd->state_dir, cc->state_dir, sizeof(nd->state_dir));
	return 0;
}

static void node_swap(struct cc_node *a, struct cc_node *b)
{
	unsigned char *x = (unsigned char *)a, *y = (unsigned char *)b;

	/* byte by byte: no 12 KiB temporary, and the padding moves along */
	for (size_t i = 0; i < sizeof(*a); i++) {
		unsigned char t = x[i];

		x[i] = y[i];
		y[i] = t;
	}
}

static int finalize_nodes(struct cluster_config *cc, char *err, size_t n)
{
	struct cc_node *a = &cc->nodes[0], *b = &cc->nodes[1];
	int r;

	for (unsigned i = 0; i < cc->nnodes; i++) {
		r = finalize_node(cc, i, err, n);
		if (r)
			return r;
	}
	if (a->id == b->id)
		return fail_at(cc, err, n, b->line, "[node] (node %s): id %u is already node %s's",
			       b->name, b->id, a->name);
	if (!strcmp(a->name, b->name))
		return fail_at(cc, err, n, b->line,
			       "[node]: name %s is already the [node] on line %d's", b->name,
			       a->line);
	/* ids order everything derived: rel port ids, the RTPG table, the model */
	if (a->id > b->id)
		node_swap(a, b);
	return 0;
}

/*
 * Relative target port ids, numbered through the nodes in id order and each
 * node's portals in file order: node 1's portals 1..k, node 2's k+1... Each
 * portal is its own SCSI target port, so each is its own iSCSI target portal
 * group (RFC 7143 4.4.2: a SCSI target port is a target portal group), and its
 * TPGT equals its rel_port_id, unique in the cluster.
 */
static int finalize_portals(struct cluster_config *cc, char *err, size_t n)
{
	uint16_t next = 1;
	unsigned j;

	for (unsigned i = 0; i < cc->nnodes; i++) {
		struct cc_node *nd = &cc->nodes[i];
		const struct cc_node *other;

		for (unsigned k = 0; k < nd->nportals; k++) {
			struct tgt_portal *p = &nd->portals[k];

			other = portal_owner(cc, p, &j);
			if (other || portal_is_wildcard(p) || !p->port)
				return fail_at(cc, err, n, nd->line,
					       "[node] (node %s): portal %u (%s:%u) is %s",
					       nd->name, k + 1, p->addr, p->port,
					       other ? "another portal's too" : "not usable");
			p->rel_port_id = next;
			p->tpgt = next++;
		}
	}
	return 0;
}

static bool any_sync_lun(const struct cluster_config *cc)
{
	for (unsigned i = 0; i < cc->nluns; i++)
		if (cc->luns[i].replication == CC_REPL_SYNC)
			return true;
	return false;
}

static int finalize_replication(struct cluster_config *cc, char *err, size_t n)
{
	const struct cc_node *a = &cc->nodes[0], *b = &cc->nodes[1];
	unsigned j;

	for (unsigned i = 0; i < cc->nnodes; i++) {
		const struct cc_node *nd = &cc->nodes[i];

		if (!nd->replication.addr[0] && any_sync_lun(cc))
			return fail_at(cc, err, n, nd->line,
				       "[node] (node %s): no 'replication_address', which LUNs "
				       "with replication = sync need",
				       nd->name);
		if (nd->replication.addr[0] && portal_owner(cc, &nd->replication, &j))
			return fail_at(cc, err, n, nd->line,
				       "[node] (node %s): replication_address %s:%u is also an "
				       "iSCSI portal",
				       nd->name, nd->replication.addr, nd->replication.port);
	}
	if (a->replication.addr[0] && portal_equal(&a->replication, &b->replication))
		return fail_at(cc, err, n, b->line,
			       "[node] (node %s): replication_address is node %s's too", b->name,
			       a->name);
	return 0;
}

static int finalize_lun(struct cluster_config *cc, unsigned i, char *err, size_t n)
{
	struct cc_lun *l = &cc->luns[i];
	char why[WHY_MAX];

	if (!l->name[0])
		return fail_at(cc, err, n, l->line, "[lun] (LUN %u): no 'name'", i);
	if (config_lun_check(&l->lun, why, sizeof(why)))
		return fail_at(cc, err, n, l->line, "[lun] (LUN %u %s): %s", i, l->name, why);
	if (l->replication == CC_REPL_UNSET)
		return fail_at(cc, err, n, l->line,
			       "[lun] (LUN %u %s): no 'replication' (sync: clusterd copies "
			       "writes to the peer; shared: both nodes open the same device)",
			       i, l->name);
	/* two copies must agree on the size; one shared device has one size */
	if (l->replication == CC_REPL_SYNC && !l->lun.size)
		return fail_at(cc, err, n, l->line,
			       "[lun] (LUN %u %s): replication = sync needs an explicit 'size'", i,
			       l->name);
	for (unsigned j = 0; j < i; j++) {
		const struct cc_lun *o = &cc->luns[j];

		if (!strcmp(l->name, o->name))
			return fail_at(cc, err, n, l->line,
				       "[lun] (LUN %u): name %s is already LUN %u's", i, l->name,
				       j);
		if (!strcmp(l->lun.path, o->lun.path))
			return fail_at(cc, err, n, l->line,
				       "[lun] (LUN %u %s): path %s is already LUN %u's", i, l->name,
				       l->lun.path, j);
	}
	return 0;
}

static int finalize_luns(struct cluster_config *cc, char *err, size_t n)
{
	int r;

	if (!cc->nluns)
		return fail_at(cc, err, n, 0, "no [lun] section: nothing to serve");
	for (unsigned i = 0; i < cc->nluns; i++) {
		r = finalize_lun(cc, i, err, n);
		if (r)
			return r;
	}
	/* From the cluster's name and the LUN number only: both nodes derive the same id. */
	for (unsigned i = 0; i < cc->nluns; i++)
		if (!cc->luns[i].lun.lu_id)
			cc->luns[i].lun.lu_id = config_lu_id_derive(cc->iqn, i);
	for (unsigned i = 0; i < cc->nluns; i++)
		for (unsigned j = 0; j < i; j++)
			if (cc->luns[i].lun.lu_id == cc->luns[j].lun.lu_id)
				return fail_at(cc, err, n, cc->luns[i].line,
					       "[lun] (LUN %u %s): id %016" PRIx64
					       " is already LUN %u's",
					       i, cc->luns[i].name, cc->luns[i].lun.lu_id, j);
	return 0;
}

static void finalize_warnings(struct cluster_config *cc)
{
	if (cc->fencing == CC_FENCING_NONE)
		warn(cc, "fencing = none: a lost node counts as fenced without being fenced; "
			 "after a partition both nodes may serve I/O and corrupt the data. "
			 "For tests only.");
	for (unsigned i = 0; i < cc->nnodes && cc->fencing == CC_FENCING_AGENT; i++)
		if (!cc->nodes[i].fence_delay_ms)
			warn(cc,
			     "node %s: fence_delay = 0: in a partition its peer fences it at once "
			     "even while it is the AO side, so both nodes may be fenced",
			     cc->nodes[i].name);
}

/* Every node's target must pass the standalone checks: the iSCSI settings and the rest. */
static int finalize_targets(struct cluster_config *cc, char *err, size_t n)
{
	struct tgt_config *t = malloc(sizeof(*t));
	char why[WHY_MAX];
	int r = 0;

	if (!t)
		return config_fail(err, n, "out of memory");
	for (unsigned i = 0; i < cc->nnodes && !r; i++) {
		r = cluster_config_node_tgt(cc, cc->nodes[i].id, t, why, sizeof(why));
		if (r)
			fail_at(cc, err, n, 0, "node %s: %s", cc->nodes[i].name, why);
	}
	free(t);
	return r;
}

int cluster_config_finalize(struct cluster_config *cc, char *err, size_t errlen)
{
	int r;

	cc->nwarnings = 0;
	memset(cc->warnings, 0, sizeof(cc->warnings));
	r = finalize_cluster(cc, err, errlen);
	if (!r)
		r = finalize_nodes(cc, err, errlen);
	if (!r)
		r = finalize_portals(cc, err, errlen);
	if (!r)
		r = finalize_luns(cc, err, errlen);
	if (!r)
		r = finalize_replication(cc, err, errlen);
	if (!r)
		r = finalize_targets(cc, err, errlen);
	if (!r)
		finalize_warnings(cc);
	return r;
}

int cluster_config_load(struct cluster_config *cc, const char *path, char *err, size_t errlen)
{
	int r;

	cluster_config_defaults(cc);
	r = cluster_config_parse(cc, path, err, errlen);
	return r ?: cluster_config_finalize(cc, err, errlen);
}

/* ---- per-node target and lookups ---- */

int cluster_config_node_tgt(const struct cluster_config *cc, uint32_t node_id,
			    struct tgt_config *out, char *err, size_t errlen)
{
	const struct cc_node *nd = cluster_config_node(cc, node_id);

	if (!nd) {
		config_fail(err, errlen, "node id %u is not in the cluster configuration", node_id);
		return -ENOENT;
	}
	memcpy(out, &cc->tgt, sizeof(*out));
	memcpy(out->iqn, cc->iqn, sizeof(out->iqn));
	out->debug = cc->debug;
	out->nportals = nd->nportals;
	memcpy(out->portals, nd->portals, sizeof(out->portals));
	out->nluns = cc->nluns;
	for (unsigned i = 0; i < cc->nluns; i++)
		memcpy(&out->luns[i], &cc->luns[i].lun, sizeof(out->luns[i]));
	return config_finalize(out, err, errlen);
}

const struct cc_node *cluster_config_node(const struct cluster_config *cc, uint32_t id)
{
	for (unsigned i = 0; i < cc->nnodes; i++)
		if (cc->nodes[i].id == id)
			return &cc->nodes[i];
	return NULL;
}

const struct cc_node *cluster_config_node_by_name(const struct cluster_config *cc, const char *name)
{
	for (unsigned i = 0; i < cc->nnodes; i++)
		if (!strcmp(cc->nodes[i].name, name))
			return &cc->nodes[i];
	return NULL;
}

const struct cc_node *cluster_config_peer(const struct cluster_config *cc, uint32_t id)
{
	if (cc->nnodes != 2 || !cluster_config_node(cc, id))
		return NULL;
	return cc->nodes[0].id == id ? &cc->nodes[1] : &cc->nodes[0];
}

int cluster_config_lun_index(const struct cluster_config *cc, const char *name)
{
	for (unsigned i = 0; i < cc->nluns; i++)
		if (!strcmp(cc->luns[i].name, name))
			return (int)i;
	return -ENOENT;
}

const struct cc_node *cluster_config_port_node(const struct cluster_config *cc,
					       uint16_t rel_port_id)
{
	for (unsigned i = 0; i < cc->nnodes; i++)
		for (unsigned j = 0; j < cc->nodes[i].nportals; j++)
			if (rel_port_id && cc->nodes[i].portals[j].rel_port_id == rel_port_id)
				return &cc->nodes[i];
	return NULL;
}

int cluster_config_agent_find(const char *agent, const char *dirs, char *out, size_t outlen)
{
	const char *d = dirs, *end;
	int len;

	if (agent[0] == '/') {
		if ((size_t)snprintf(out, outlen, "%s", agent) >= outlen)
			return -ENAMETOOLONG;
		return access(out, X_OK) ? -ENOENT : 0;
	}
	for (; d && *d; d = *end ? end + 1 : end) {
		end = strchrnul(d, ':');
		len = snprintf(out, outlen, "%.*s/%s", (int)(end - d), d, agent);
		if (len < 0 || (size_t)len >= outlen)
			return -ENAMETOOLONG;
		if (!access(out, X_OK))
			return 0;
	}
	return -ENOENT;
}

/* ---- output ---- */

static bool option_is_secret(const char *key)
{
	return strcasestr(key, "passw") || strcasestr(key, "secret");
}

static const char *repl_name(uint8_t r)
{
	return r == CC_REPL_SYNC ? "sync" : r == CC_REPL_SHARED ? "shared" : "?";
}

static void print_cluster(FILE *f, const struct cluster_config *cc)
{
	fprintf(f, "[cluster]\nname = %s\niqn = %s\n", cc->name, cc->iqn);
	fprintf(f, "fencing = %s\n", cc->fencing == CC_FENCING_NONE ? "none" : "agent");
	fprintf(f, "fence_agent_dirs = %s\n", cc->fence_agent_dirs);
	fprintf(f, "; one agent run at most, then it is killed and counts as failed\n");
	fprintf(f, "fence_timeout = %u\n", cc->fence_timeout_ms);
	fprintf(f, "; runs after a failed one: up to %u runs per fencing\n", cc->fence_retries + 1);
	fprintf(f, "fence_retries = %u\n", cc->fence_retries);
	fprintf(f, "transition_hold = %u\n", cc->transition_hold_ms);
	fprintf(f, "watchdog_timeout = %u\n", cc->watchdog_timeout_ms);
	fprintf(f, "state_dir = %s\nipc_name = %s\n", cc->state_dir, cc->ipc_name);
	fprintf(f, "debug = %s\n", cc->debug ? "yes" : "no");
	fprintf(f, "\n[iscsi]\n");
	if (cc->tgt.alias[0])
		fprintf(f, "alias = %s\n", cc->tgt.alias);
	config_print_tuning(f, &cc->tgt);
}

static void print_fencing(FILE *f, const struct cluster_config *cc, const struct cc_node *nd,
			  bool show_secrets)
{
	const struct cc_node *peer = cluster_config_peer(cc, nd->id);
	char path[TGT_PATH_MAX + 64];

	if (!nd->fence_agent[0])
		return;
	if (cluster_config_agent_find(nd->fence_agent, cc->fence_agent_dirs, path, sizeof(path)))
		fprintf(f, "; run by %s to fence %s; NOT FOUND on this machine (searched %s)\n",
			peer ? peer->name : "the peer", nd->name,
			nd->fence_agent[0] == '/' ? nd->fence_agent : cc->fence_agent_dirs);
	else
		fprintf(f, "; run by %s to fence %s: %s\n", peer ? peer->name : "the peer",
			nd->name, path);
	fprintf(f, "fence_agent = %s\n", nd->fence_agent);
	for (unsigned i = 0; i < nd->nfence_options; i++) {
		const struct cc_fence_option *o = &nd->fence_options[i];

		if (option_is_secret(o->key) && !show_secrets)
			fprintf(f, "; fence_option %s: %zu bytes, not shown\n", o->key,
				strlen(o->value));
		else
			fprintf(f, "fence_option = %s=%s\n", o->key, o->value);
	}
}

static void print_node(FILE *f, const struct cluster_config *cc, const struct cc_node *nd,
		       bool show_secrets)
{
	const struct cc_node *peer = cluster_config_peer(cc, nd->id);
	char buf[80];

	fprintf(f, "\n[node]\n; corosync nodeid %u = target port group %u\n", nd->id, nd->id);
	fprintf(f, "id = %u\nname = %s\n", nd->id, nd->name);
	for (unsigned i = 0; i < nd->nportals; i++) {
		config_format_portal(&nd->portals[i], buf, sizeof(buf));
		fprintf(f, "; relative target port %u, tpgt %u\nportal = %s\n",
			nd->portals[i].rel_port_id, nd->portals[i].tpgt, buf);
	}
	if (nd->replication.addr[0]) {
		config_format_portal(&nd->replication, buf, sizeof(buf));
		fprintf(f, "replication_address = %s\n", buf);
	}
	print_fencing(f, cc, nd, show_secrets);
	fprintf(f, "; %s waits this long before fencing %s when %s is not the AO side\n",
		peer ? peer->name : "the peer", nd->name, peer ? peer->name : "the peer");
	fprintf(f, "fence_delay = %u\n", nd->fence_delay_ms);
	if (nd->watchdog[0])
		fprintf(f, "watchdog = %s\n", nd->watchdog);
	fprintf(f, "state_dir = %s\n", nd->state_dir);
}

static void print_lun(FILE *f, const struct cluster_config *cc, unsigned i)
{
	const struct cc_lun *l = &cc->luns[i];
	char buf[32];

	config_format_size(l->lun.size, buf, sizeof(buf));
	fprintf(f, "\n[lun]\n; LUN %u%s\nname = %s\npath = %s\nsize = %s\nblocksize = %u\n", i,
		l->lun.size ? "" : " (size 0: the size of the device)", l->name, l->lun.path, buf,
		l->lun.block_size);
	fprintf(f, "read_only = %s\ndirect = %s\nreplication = %s\n",
		l->lun.read_only ? "yes" : "no", l->lun.no_direct ? "no" : "yes",
		repl_name(l->replication));
	if (l->lun.lu_id == config_lu_id_derive(cc->iqn, i))
		fprintf(f, "; id: FNV-1a 64 of \"%s/%u\"\n", cc->iqn, i);
	fprintf(f, "id = %016" PRIx64 "\n", l->lun.lu_id);
}

/* The RTPG table both nodes report, as comments. */
static void print_port_groups(FILE *f, const struct cluster_config *cc)
{
	char buf[80];

	fprintf(f, "\n; Target port groups, reported the same by both nodes for every LUN:\n");
	for (unsigned i = 0; i < cc->nnodes; i++) {
		const struct cc_node *nd = &cc->nodes[i];

		fprintf(f, ";   group %u = node %s:", nd->id, nd->name);
		for (unsigned j = 0; j < nd->nportals; j++) {
			config_format_portal(&nd->portals[j], buf, sizeof(buf));
			fprintf(f, "%s port %u (%s)", j ? "," : "", nd->portals[j].rel_port_id,
				buf);
		}
		fputc('\n', f);
	}
}

void cluster_config_print(FILE *f, const struct cluster_config *cc, bool show_secrets)
{
	fprintf(f, "; clusterd cluster configuration, derived values included\n");
	for (unsigned i = 0; i < cc->nwarnings; i++)
		fprintf(f, "; WARNING: %s\n", cc->warnings[i]);
	print_cluster(f, cc);
	for (unsigned i = 0; i < cc->nnodes; i++)
		print_node(f, cc, &cc->nodes[i], show_secrets);
	for (unsigned i = 0; i < cc->nluns; i++)
		print_lun(f, cc, i);
	config_print_access(f, &cc->tgt, show_secrets);
	print_port_groups(f, cc);
}
