// SPDX-License-Identifier: MIT
/*
 * Unit tests for clusterd/cluster_config.c: every key and every error (with
 * its line), the derived values (relative port ids, TPGTs, target port groups,
 * LU ids the same for both nodes), the shipped example file, file-kind
 * detection, the per-node struct tgt_config, and the printed file reading back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/compiler.h"
#include "clusterd/config.h"
#include "clusterd/cluster_config.h"

#define IQN "iqn.2026-01.org.example:storage"

/* A valid file in pieces, with their line numbers. */
#define CLUSTER "[cluster]\nname = c1\niqn = " IQN "\n" /* lines 1-3 */
#define NODE1                                                                                      \
	"[node]\nid = 1\nname = n1\nportal = 127.0.0.1:3260\nfence_agent = /bin/true\n" /* 4-8 */
#define NODE2                                                                                      \
	"[node]\nid = 2\nname = n2\nportal = 127.0.0.2:3260\nfence_agent = /bin/true\n" /* 9-13 */
#define LUN0  "[lun]\nname = l0\npath = /srv/l0.img\nreplication = shared\n"		/* 14-17 */
#define VALID CLUSTER NODE1 NODE2 LUN0

struct fixture {
	struct cluster_config *cc;
	struct tgt_config *tgt;
	char dir[64];
	char path[128];
	char path2[128];
	char err[1024];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->cc = calloc(1, sizeof(*fx->cc));
	fx->tgt = calloc(1, sizeof(*fx->tgt));
	assert_non_null(fx->cc);
	assert_non_null(fx->tgt);
	strcpy(fx->dir, "/tmp/test_cluster_config.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/c.conf", fx->dir);
	snprintf(fx->path2, sizeof(fx->path2), "%s/d.conf", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	unlink(fx->path);
	unlink(fx->path2);
	rmdir(fx->dir);
	free(fx->tgt);
	free(fx->cc);
	free(fx);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Writes text to the fixture's file and loads it. */
static int load_text(struct fixture *fx, const char *text)
{
	write_file(fx->path, text);
	fx->err[0] = '\0';
	return cluster_config_load(fx->cc, fx->path, fx->err, sizeof(fx->err));
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, hay);
}

/* err must be "<the fixture's file><rest>" exactly. */
static void assert_err(const struct fixture *fx, const char *rest)
{
	size_t n = strlen(fx->path);

	if (strncmp(fx->err, fx->path, n) || strcmp(fx->err + n, rest))
		fail_msg("expected \"%s%s\"\n     got \"%s\"", fx->path, rest, fx->err);
}

/* ---- defaults and a minimal file ---- */

static void test_defaults(void **state)
{
	struct cluster_config *cc = ((struct fixture *)*state)->cc;

	memset(cc, 0xa5, sizeof(*cc));
	cluster_config_defaults(cc);
	assert_int_equal(cc->fencing, CC_FENCING_AGENT);
	assert_string_equal(cc->fence_agent_dirs, "/usr/sbin:/usr/local/sbin");
	assert_int_equal(cc->fence_timeout_ms, 60000);
	assert_int_equal(cc->fence_retries, 2);
	assert_int_equal(cc->transition_hold_ms, 500);
	assert_int_equal(cc->watchdog_timeout_ms, 10000);
	assert_string_equal(cc->state_dir, "/var/lib/clusterd");
	assert_string_equal(cc->ipc_name, "clusterd");
	assert_false(cc->debug);
	assert_int_equal(cc->nnodes, 0);
	assert_int_equal(cc->nluns, 0);
	assert_int_equal(cc->nwarnings, 0);
	assert_string_equal(cc->name, "");
	assert_string_equal(cc->iqn, "");
	/* the iSCSI template is the standalone default */
	assert_int_equal(cc->tgt.iscsi.queue_depth, 128);
	assert_int_equal(cc->tgt.iscsi.nop_interval_ms, 5000);
}

static void test_minimal_file(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *cc = fx->cc;

	assert_int_equal(load_text(fx, VALID), 0);
	assert_string_equal(cc->source, fx->path);
	assert_string_equal(cc->name, "c1");
	assert_string_equal(cc->iqn, IQN);
	assert_int_equal(cc->nnodes, 2);
	assert_int_equal(cc->nodes[0].id, 1);
	assert_int_equal(cc->nodes[0].line, 4);
	assert_int_equal(cc->nodes[1].line, 9);
	assert_int_equal(cc->nodes[0].fence_delay_ms, 5000);
	assert_string_equal(cc->nodes[0].state_dir, "/var/lib/clusterd");
	assert_string_equal(cc->nodes[1].fence_agent, "/bin/true");
	assert_string_equal(cc->nodes[0].replication.addr, "");
	assert_string_equal(cc->nodes[0].watchdog, "");
	assert_int_equal(cc->nluns, 1);
	assert_int_equal(cc->luns[0].line, 14);
	assert_int_equal(cc->luns[0].replication, CC_REPL_SHARED);
	assert_int_equal(cc->luns[0].lun.block_size, 512);
	assert_true(cc->luns[0].lun.size == 0);
	assert_int_equal(cc->nwarnings, 0);
	assert_false(cc->tgt.chap.enabled);
	assert_int_equal(cc->tgt.nallow, 0);
}

/* ---- every key ---- */

static const char all_keys[] = "; every key\n"
			       "[cluster]\n"
			       "name = prod-1.a_b\n"
			       "iqn = " IQN "\n"
			       "fencing = agent\n"
			       "fence_agent_dirs = /opt/fence:/usr/sbin\n"
			       "fence_timeout = 30s\n"
			       "fence_retries = 0\n"
			       "transition_hold = 0\n"
			       "watchdog_timeout = 15s\n"
			       "state_dir = /var/lib/cd\n"
			       "ipc_name = cd-ipc\n"
			       "debug = yes\n"
			       "\n"
			       "[iscsi]\n"
			       "alias = my target\n"
			       "queue_depth = 32\n"
			       "nop_interval = 0\n"
			       "nop_timeout = 3s\n"
			       "max_burst = 2M\n"
			       "\n"
			       "[node]\n"
			       "id = 7\n"
			       "name = beta\n"
			       "portal = 10.1.0.7\n"
			       "portal = [fd00::7]:3261\n"
			       "portal = 10.2.0.7:3262\n"
			       "replication_address = 10.3.0.7:7789\n"
			       "fence_agent = fence_ipmilan\n"
			       "fence_option = ip=10.9.0.7\n"
			       "fence_option = password=s3cret word\n"
			       "fence_option = lanplus=\n"
			       "fence_delay = 1500\n"
			       "watchdog = /dev/watchdog1\n"
			       "state_dir = /srv/state/beta\n"
			       "\n"
			       "[node]\n"
			       "id = 3\n"
			       "name = alpha\n"
			       "portal = 10.1.0.3\n"
			       "portal = [fd00::3]:3261\n"
			       "replication_address = [fd00:1::3]:7789\n"
			       "fence_agent = /usr/local/sbin/fence_x\n"
			       "fence_delay = 0\n"
			       "\n"
			       "[lun]\n"
			       "name = db\n"
			       "path = /dev/vg0/db\n"
			       "size = 10G\n"
			       "blocksize = 4096\n"
			       "read_only = yes\n"
			       "direct = no\n"
			       "replication = sync\n"
			       "\n"
			       "[lun]\n"
			       "name = logs\n"
			       "path = /dev/vg0/logs\n"
			       "id = 0xabcdef\n"
			       "replication = shared\n"
			       "\n"
			       "[chap]\n"
			       "user = iqn.1994-05.com.redhat:client1\n"
			       "secret = 0123456789abcdef\n"
			       "\n"
			       "[acl]\n"
			       "allow = iqn.1994-05.com.redhat:client1\n"
			       "allow = iqn.1994-05.com.redhat:client2\n";

static void test_every_key(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *cc = fx->cc;
	const struct cc_node *a, *b;

	assert_int_equal(load_text(fx, all_keys), 0);
	assert_string_equal(cc->name, "prod-1.a_b");
	assert_int_equal(cc->fencing, CC_FENCING_AGENT);
	assert_string_equal(cc->fence_agent_dirs, "/opt/fence:/usr/sbin");
	assert_int_equal(cc->fence_timeout_ms, 30000);
	assert_int_equal(cc->fence_retries, 0);
	assert_int_equal(cc->transition_hold_ms, 0);
	assert_int_equal(cc->watchdog_timeout_ms, 15000);
	assert_string_equal(cc->state_dir, "/var/lib/cd");
	assert_string_equal(cc->ipc_name, "cd-ipc");
	assert_true(cc->debug);
	assert_string_equal(cc->tgt.alias, "my target");
	assert_int_equal(cc->tgt.iscsi.queue_depth, 32);
	assert_int_equal(cc->tgt.iscsi.nop_interval_ms, 0);
	assert_int_equal(cc->tgt.iscsi.nop_timeout_ms, 3000);
	assert_int_equal(cc->tgt.iscsi.max_burst, 2 << 20);

	/* sorted by id: alpha (3) first although it comes second in the file */
	a = &cc->nodes[0];
	b = &cc->nodes[1];
	assert_int_equal(a->id, 3);
	assert_string_equal(a->name, "alpha");
	assert_int_equal(a->line, 37);
	assert_int_equal(a->nportals, 2);
	assert_string_equal(a->portals[1].addr, "fd00::3");
	assert_int_equal(a->portals[1].port, 3261);
	assert_string_equal(a->replication.addr, "fd00:1::3");
	assert_int_equal(a->replication.port, 7789);
	assert_string_equal(a->fence_agent, "/usr/local/sbin/fence_x");
	assert_int_equal(a->nfence_options, 0);
	assert_int_equal(a->fence_delay_ms, 0);
	assert_string_equal(a->state_dir, "/var/lib/cd"); /* the cluster's */

	assert_int_equal(b->id, 7);
	assert_string_equal(b->name, "beta");
	assert_int_equal(b->line, 22);
	assert_int_equal(b->nportals, 3);
	assert_string_equal(b->portals[0].addr, "10.1.0.7");
	assert_int_equal(b->portals[0].port, 3260);
	assert_string_equal(b->replication.addr, "10.3.0.7");
	assert_string_equal(b->fence_agent, "fence_ipmilan");
	assert_int_equal(b->nfence_options, 3);
	assert_string_equal(b->fence_options[0].key, "ip");
	assert_string_equal(b->fence_options[0].value, "10.9.0.7");
	assert_string_equal(b->fence_options[1].key, "password");
	assert_string_equal(b->fence_options[1].value, "s3cret word");
	assert_string_equal(b->fence_options[2].key, "lanplus");
	assert_string_equal(b->fence_options[2].value, "");
	assert_int_equal(b->fence_delay_ms, 1500);
	assert_string_equal(b->watchdog, "/dev/watchdog1");
	assert_string_equal(b->state_dir, "/srv/state/beta");

	assert_int_equal(cc->nluns, 2);
	assert_string_equal(cc->luns[0].name, "db");
	assert_string_equal(cc->luns[0].lun.path, "/dev/vg0/db");
	assert_true(cc->luns[0].lun.size == 10ULL << 30);
	assert_int_equal(cc->luns[0].lun.block_size, 4096);
	assert_true(cc->luns[0].lun.read_only);
	assert_true(cc->luns[0].lun.no_direct);
	assert_int_equal(cc->luns[0].replication, CC_REPL_SYNC);
	assert_true(cc->luns[1].lun.lu_id == 0xabcdef);
	assert_int_equal(cc->luns[1].replication, CC_REPL_SHARED);
	assert_false(cc->luns[1].lun.read_only);

	assert_true(cc->tgt.chap.enabled);
	assert_string_equal(cc->tgt.chap.user, "iqn.1994-05.com.redhat:client1");
	assert_int_equal(cc->tgt.nallow, 2);
	assert_string_equal(cc->tgt.allow[1], "iqn.1994-05.com.redhat:client2");

	/* fence_delay = 0 under agent fencing is allowed, and said */
	assert_int_equal(cc->nwarnings, 1);
	assert_string_equal(cc->warnings[0],
			    "node alpha: fence_delay = 0: in a partition its peer fences it at "
			    "once even while it is the AO side, so both nodes may be fenced");
}

static void test_fencing_none(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = "[cluster]\nname = t\niqn = " IQN "\nfencing = none\n"
				   "[node]\nid = 1\nname = a\nportal = 127.0.0.1\n"
				   "[node]\nid = 2\nname = b\nportal = 127.0.0.1:3261\n" LUN0;

	assert_int_equal(load_text(fx, text), 0);
	assert_int_equal(fx->cc->fencing, CC_FENCING_NONE);
	assert_int_equal(fx->cc->nwarnings, 1);
	assert_string_equal(fx->cc->warnings[0],
			    "fencing = none: a lost node counts as fenced without being fenced; "
			    "after a partition both nodes may serve I/O and corrupt the data. For "
			    "tests only.");
}

/* ---- errors found while reading, with their line ---- */

static const struct {
	const char *text;
	const char *err; /* after the file name */
} read_errors[] = {
	/* structure */
	{"name = x\n[cluster]\n", ":1: key 'name' outside any section (start with [cluster])"},
	{"[cluster]\n[foo]\n",
	 ":2: unknown section [foo] (known: cluster, node, lun, iscsi, chap, acl)"},
	{"[cluster]\n\n[target]\niqn = " IQN "\n",
	 ":3: [target] is a standalone section: in a cluster file the target name is 'iqn' in "
	 "[cluster], and tuning keys go in [iscsi]"},
	{"[cluster]\n[portal]\n",
	 ":2: [portal] is a standalone section: in a cluster file each [node] lists its portals "
	 "with 'portal = ADDR[:PORT]'"},
	{"[cluster]\nname = a\n[cluster]\n", ":3: [cluster] appears twice (first on line 1)"},
	{"[cluster]\n[iscsi]\n[iscsi]\n", ":3: [iscsi] appears twice (first on line 2)"},
	{VALID "[node]\n", ":18: a third [node] section: clusterd runs two-node clusters"},
	{"[cluster\n", ":1: syntax error: missing ']'"},
	{"[cluster]\nname\n", ":2: syntax error: expected 'key = value', '[section]' or a comment"},
	{"[cluster]\nname =\n", ":2: key 'name' in [cluster]: no value"},
	{"[cluster]\nname = a\nname = b\n",
	 ":3: key 'name' in [cluster]: given twice (first on line 2)"},
	{"[iscsi]\n", ": no [cluster] section: not a cluster file"},
	/* [cluster] */
	{"[cluster]\ncolour = red\n",
	 ":2: key 'colour' in [cluster]: unknown key (known: name, iqn, fencing, "
	 "fence_agent_dirs, fence_timeout, fence_retries, transition_hold, watchdog_timeout, "
	 "state_dir, ipc_name, debug)"},
	{"[cluster]\nname = a b\n",
	 ":2: key 'name' in [cluster]: 'a b': character ' ' is not allowed (A-Z a-z 0-9 . _ -)"},
	{"[cluster]\nname = -a\n",
	 ":2: key 'name' in [cluster]: '-a' does not start with a letter or digit"},
	{"[cluster]\nname = "
	 "a123456789012345678901234567890123456789012345678901234567890123\n",
	 ":2: key 'name' in [cluster]: "
	 "'a123456789012345678901234567890123456789012345678901234567890123' is not 1 to 63 bytes "
	 "long"},
	{"[cluster]\niqn = iqn.2026-01.org.Example:x\n",
	 ":2: key 'iqn' in [cluster]: iSCSI names are lowercase ('E' is not)"},
	{"[cluster]\nfencing = maybe\n",
	 ":2: key 'fencing' in [cluster]: 'maybe' is not agent or none"},
	{"[cluster]\nfence_agent_dirs = usr/sbin\n",
	 ":2: key 'fence_agent_dirs' in [cluster]: 'usr/sbin': every directory must be an "
	 "absolute path"},
	{"[cluster]\nfence_agent_dirs = /a::/b\n",
	 ":2: key 'fence_agent_dirs' in [cluster]: '/a::/b': every directory must be an absolute "
	 "path"},
	{"[cluster]\nfence_agent_dirs = /a:\n",
	 ":2: key 'fence_agent_dirs' in [cluster]: '/a:' ends with ':'"},
	{"[cluster]\nfence_timeout = 999\n",
	 ":2: key 'fence_timeout' in [cluster]: 999 ms is not in 1000..600000 ms"},
	{"[cluster]\nfence_timeout = 11m\n",
	 ":2: key 'fence_timeout' in [cluster]: '11m' is not a time (milliseconds: N, Nms or Ns)"},
	{"[cluster]\nfence_retries = 11\n",
	 ":2: key 'fence_retries' in [cluster]: '11' is not in 0..10"},
	{"[cluster]\nfence_retries = -1\n",
	 ":2: key 'fence_retries' in [cluster]: '-1' is not a decimal number"},
	{"[cluster]\nfence_retries = 99999999999999999999\n",
	 ":2: key 'fence_retries' in [cluster]: '99999999999999999999' is not in 0..10"},
	{"[cluster]\ntransition_hold = 6s\n",
	 ":2: key 'transition_hold' in [cluster]: 6000 ms is not in 0..5000 ms"},
	{"[cluster]\nwatchdog_timeout = 2500\n",
	 ":2: key 'watchdog_timeout' in [cluster]: 2500 ms is not a whole number of seconds"},
	{"[cluster]\nwatchdog_timeout = 1s\n",
	 ":2: key 'watchdog_timeout' in [cluster]: 1000 ms is not in 2000..600000 ms"},
	{"[cluster]\nstate_dir = var/lib\n",
	 ":2: key 'state_dir' in [cluster]: 'var/lib' is not an absolute path"},
	{"[cluster]\nipc_name = a/b\n",
	 ":2: key 'ipc_name' in [cluster]: 'a/b': character '/' is not allowed (A-Z a-z 0-9 . _ "
	 "-)"},
	{"[cluster]\ndebug = maybe\n",
	 ":2: key 'debug' in [cluster]: 'maybe' is not a boolean (yes/no, true/false, on/off, "
	 "1/0)"},
	/* [node] */
	{"[cluster]\n[node]\nport = 1\n",
	 ":3: key 'port' in [node]: unknown key (known: id, name, portal, replication_address, "
	 "fence_agent, fence_option, fence_delay, watchdog, state_dir)"},
	{"[cluster]\n[node]\nid = 0\n", ":3: key 'id' in [node]: '0' is not in 1..65535"},
	{"[cluster]\n[node]\nid = 65536\n", ":3: key 'id' in [node]: '65536' is not in 1..65535"},
	{"[cluster]\n[node]\nid = 0x1\n", ":3: key 'id' in [node]: '0x1' is not a decimal number"},
	{"[cluster]\n[node]\nid = 1\nid = 2\n",
	 ":4: key 'id' in [node]: given twice (first on line 3)"},
	{"[cluster]\n[node]\nname = n_1!\n",
	 ":3: key 'name' in [node]: 'n_1!': character '!' is not allowed (A-Z a-z 0-9 . _ -)"},
	{"[cluster]\n[node]\nportal = host.example:3260\n",
	 ":3: key 'portal' in [node]: 'host.example' is not a numeric IPv4 address (names are not "
	 "resolved)"},
	{"[cluster]\n[node]\nportal = 10.0.0.1:0\n",
	 ":3: key 'portal' in [node]: port '0' is not a number in 1..65535"},
	{"[cluster]\n[node]\nportal = 0.0.0.0:3260\n",
	 ":3: key 'portal' in [node]: '0.0.0.0:3260' is a wildcard; a cluster portal is a specific "
	 "address (initiators are sent it, and it is one SCSI target port)"},
	{"[cluster]\n[node]\nportal = [::]\n",
	 ":3: key 'portal' in [node]: '[::]' is a wildcard; a cluster portal is a specific address "
	 "(initiators are sent it, and it is one SCSI target port)"},
	{"[cluster]\n[node]\nportal = 10.0.0.1\nportal = 10.0.0.1:3260\n",
	 ":4: key 'portal' in [node]: 10.0.0.1:3260 is already portal 1 of node #1"},
	{"[cluster]\n[node]\nname = a\nportal = 10.0.0.1\n[node]\nportal = 10.0.0.2\n"
	 "portal = 10.0.0.1\n",
	 ":7: key 'portal' in [node]: 10.0.0.1 is already portal 1 of node a"},
	{"[cluster]\n[node]\nreplication_address = 10.0.0.1\n",
	 ":3: key 'replication_address' in [node]: '10.0.0.1': give ADDR:PORT (there is no "
	 "default port)"},
	{"[cluster]\n[node]\nreplication_address = [fd00::1]\n",
	 ":3: key 'replication_address' in [node]: '[fd00::1]': give ADDR:PORT (there is no "
	 "default port)"},
	{"[cluster]\n[node]\nreplication_address = 0.0.0.0:7789\n",
	 ":3: key 'replication_address' in [node]: '0.0.0.0:7789' is a wildcard; the peer "
	 "connects to this address"},
	{"[cluster]\n[node]\nfence_agent = agents/fence_x\n",
	 ":3: key 'fence_agent' in [node]: 'agents/fence_x' is neither an agent name nor an "
	 "absolute path"},
	{"[cluster]\n[node]\nfence_agent = .fence\n",
	 ":3: key 'fence_agent' in [node]: '.fence' is not an agent name (A-Z a-z 0-9 . _ -)"},
	{"[cluster]\n[node]\nfence_agent = fence x\n",
	 ":3: key 'fence_agent' in [node]: 'fence x' is not an agent name (A-Z a-z 0-9 . _ -)"},
	{"[cluster]\n[node]\nfence_option = lanplus\n",
	 ":3: key 'fence_option' in [node]: 'lanplus' is not KEY=VALUE"},
	{"[cluster]\n[node]\nfence_option = =1\n",
	 ":3: key 'fence_option' in [node]: '=1' is not KEY=VALUE"},
	{"[cluster]\n[node]\nfence_option = ip addr=1\n",
	 ":3: key 'fence_option' in [node]: key 'ip addr': only A-Z a-z 0-9 _ - are allowed"},
	{"[cluster]\n[node]\nfence_option = action=reboot\n",
	 ":3: key 'fence_option' in [node]: 'action' is set by clusterd for each operation"},
	{"[cluster]\n[node]\nfence_option = option=reboot\n",
	 ":3: key 'fence_option' in [node]: 'option' is set by clusterd for each operation"},
	{"[cluster]\n[node]\nfence_option = ip=1\nfence_option = ip=2\n",
	 ":4: key 'fence_option' in [node]: option 'ip' is given twice"},
	{"[cluster]\n[node]\nfence_delay = 601s\n",
	 ":3: key 'fence_delay' in [node]: 601000 ms is not in 0..600000 ms"},
	{"[cluster]\n[node]\nwatchdog = watchdog\n",
	 ":3: key 'watchdog' in [node]: 'watchdog' is not an absolute path"},
	{"[cluster]\n[node]\nstate_dir = ./s\n",
	 ":3: key 'state_dir' in [node]: './s' is not an absolute path"},
	/* [lun] */
	{"[cluster]\n[lun]\nmode = x\n",
	 ":3: key 'mode' in [lun]: unknown key (known: name, path, size, blocksize, read_only, "
	 "direct, id, replication)"},
	{"[cluster]\n[lun]\nname = l 0\n",
	 ":3: key 'name' in [lun]: 'l 0': character ' ' is not allowed (A-Z a-z 0-9 . _ -)"},
	{"[cluster]\n[lun]\nreplication = async\n",
	 ":3: key 'replication' in [lun]: 'async' is not sync or shared"},
	{"[cluster]\n[lun]\nblocksize = 520\n",
	 ":3: key 'blocksize' in [lun]: '520' is not 512 or 4096"},
	{"[cluster]\n[lun]\npath = lun.img\n",
	 ":3: key 'path' in [lun]: 'lun.img' is not an absolute path"},
	{"[cluster]\n[lun]\nid = 0\n",
	 ":3: key 'id' in [lun]: id 0 is reserved (leave the id out to have one derived)"},
	{"[cluster]\n\n[lun]\npath = /a\nsize = 1000\n",
	 ":3: [lun] (LUN 0): size 1000 is not a multiple of the block size 512"},
	{"[cluster]\n[lun]\nname = a\n[lun]\npath = /a\n", ":2: [lun] (LUN 0): no path"},
	/* [iscsi], [chap], [acl] */
	{"[cluster]\n[iscsi]\niqn = " IQN "\n",
	 ":3: key 'iqn' in [iscsi]: the target name is 'iqn' in [cluster]"},
	{"[cluster]\n[iscsi]\ndebug = yes\n",
	 ":3: key 'debug' in [iscsi]: 'debug' belongs in [cluster]"},
	{"[cluster]\n[iscsi]\nqueue_depth = 0\n",
	 ":3: key 'queue_depth' in [iscsi]: 0 is not in 1..1024"},
	{"[cluster]\n[iscsi]\nportal = 10.0.0.1\n",
	 ":3: key 'portal' in [iscsi]: unknown key (known: alias, or a tuning key of clusterd "
	 "--help)"},
	{"[cluster]\n[chap]\nuser = u\n[acl]\n", ":2: [chap]: CHAP needs both a user and a secret"},
	{"[cluster]\n[chap]\nsecret = short\n",
	 ":3: key 'secret' in [chap]: secret is 5 bytes; RFC 7143 9.2.1 requires at least 12 (96 "
	 "bits)"},
	{"[cluster]\n[acl]\nallow = bob\n",
	 ":3: key 'allow' in [acl]: an iSCSI name starts with iqn., eui. or naa. (RFC 7143 4.2.7)"},
	{"[cluster]\n[acl]\nuser = x\n", ":3: key 'user' in [acl]: unknown key (known: allow)"},
};

static void test_read_errors(void **state)
{
	struct fixture *fx = *state;

	for (unsigned i = 0; i < ARRAY_SIZE(read_errors); i++) {
		int r = load_text(fx, read_errors[i].text);

		if (r != -EINVAL)
			fail_msg("case %u: returned %d (%s)", i, r, fx->err);
		assert_err(fx, read_errors[i].err);
	}
}

static void test_open_error(void **state)
{
	struct fixture *fx = *state;

	fx->err[0] = '\0';
	assert_int_equal(
		cluster_config_load(fx->cc, "/nonexistent/x.conf", fx->err, sizeof(fx->err)),
		-ENOENT);
	assert_string_equal(fx->err, "/nonexistent/x.conf: cannot open: No such file or directory");
}

static void test_long_line(void **state)
{
	struct fixture *fx = *state;
	char *text = malloc(CONFIG_INI_LINE_MAX + 64);

	assert_non_null(text);
	strcpy(text, "[cluster]\nstate_dir = /");
	memset(text + strlen(text), 'a', CONFIG_INI_LINE_MAX);
	strcpy(text + strlen("[cluster]\nstate_dir = /") + CONFIG_INI_LINE_MAX, "\n");
	assert_int_equal(load_text(fx, text), -EINVAL);
	assert_contains(fx->err, ":2: line longer than");
	free(text);
}

/* ---- errors found when the whole file is checked, with the section's line ---- */

static const struct {
	const char *text;
	const char *err;
} final_errors[] = {
	{"[cluster]\niqn = " IQN "\n" NODE1 NODE2 LUN0, ": [cluster]: no 'name'"},
	{"[cluster]\nname = c\n" NODE1 NODE2 LUN0,
	 ": [cluster]: no 'iqn' (the target name both nodes serve)"},
	{CLUSTER NODE1 LUN0, ": 1 [node] section: a cluster has exactly 2 nodes"},
	{CLUSTER LUN0, ": 0 [node] sections: a cluster has exactly 2 nodes"},
	{CLUSTER NODE1 "[node]\nname = n2\nportal = 127.0.0.2\nfence_agent = x\n" LUN0,
	 ":9: [node] (node n2): no 'id' (its corosync nodeid)"},
	{CLUSTER NODE1 "[node]\nid = 2\nportal = 127.0.0.2\nfence_agent = x\n" LUN0,
	 ":9: [node] (node #2): no 'name'"},
	{CLUSTER NODE1 "[node]\nid = 2\nname = n2\nfence_agent = x\n" LUN0,
	 ":9: [node] (node n2): no 'portal': initiators need at least one"},
	{CLUSTER NODE1 "[node]\nid = 2\nname = n2\nportal = 127.0.0.2\n" LUN0,
	 ":9: [node] (node n2): no 'fence_agent': the peer must be able to fence this node "
	 "(fencing = none only for tests)"},
	{"[cluster]\nname = c1\niqn = " IQN "\nfencing = none\n" NODE1 NODE2 LUN0,
	 ":5: [node] (node n1): a fence agent or option is given but [cluster] says fencing = "
	 "none"},
	{CLUSTER NODE1 "[node]\nid = 1\nname = n2\nportal = 127.0.0.2\nfence_agent = x\n" LUN0,
	 ":9: [node] (node n2): id 1 is already node n1's"},
	{CLUSTER NODE1 "[node]\nid = 2\nname = n1\nportal = 127.0.0.2\nfence_agent = x\n" LUN0,
	 ":9: [node]: name n1 is already the [node] on line 4's"},
	{CLUSTER NODE1 NODE2, ": no [lun] section: nothing to serve"},
	{VALID "[lun]\npath = /srv/l1.img\nreplication = shared\n",
	 ":18: [lun] (LUN 1): no 'name'"},
	{VALID "[lun]\nname = l1\npath = /srv/l1.img\n",
	 ":18: [lun] (LUN 1 l1): no 'replication' (sync: clusterd copies writes to the peer; "
	 "shared: both nodes open the same device)"},
	{VALID "[lun]\nname = l0\npath = /srv/l1.img\nreplication = shared\n",
	 ":18: [lun] (LUN 1): name l0 is already LUN 0's"},
	{VALID "[lun]\nname = l1\npath = /srv/l0.img\nreplication = shared\n",
	 ":18: [lun] (LUN 1 l1): path /srv/l0.img is already LUN 0's"},
	{CLUSTER NODE1 NODE2 "[lun]\nname = a\npath = /a\nid = 5\nreplication = shared\n"
			     "[lun]\nname = b\npath = /b\nid = 5\nreplication = shared\n",
	 ":19: [lun] (LUN 1 b): id 0000000000000005 is already LUN 0's"},
	{CLUSTER NODE1 NODE2 "[lun]\nname = a\npath = /a\nreplication = sync\n",
	 ":14: [lun] (LUN 0 a): replication = sync needs an explicit 'size'"},
	{CLUSTER NODE1 NODE2 "[lun]\nname = a\npath = /a\nsize = 1G\nreplication = sync\n",
	 ":4: [node] (node n1): no 'replication_address', which LUNs with replication = sync need"},
	{CLUSTER NODE1 "replication_address = 127.0.0.2:3260\n" NODE2 LUN0,
	 ":4: [node] (node n1): replication_address 127.0.0.2:3260 is also an iSCSI portal"},
	{CLUSTER NODE1 "replication_address = 10.0.0.1:7789\n" NODE2
		       "replication_address = 10.0.0.1:7789\n" LUN0,
	 ":10: [node] (node n2): replication_address is node n1's too"},
	{CLUSTER "[iscsi]\nfirst_burst = 2M\n" NODE1 NODE2 LUN0,
	 ": node n1: first_burst 2097152 exceeds max_burst 1048576 (RFC 7143 13.14)"},
};

static void test_final_errors(void **state)
{
	struct fixture *fx = *state;

	for (unsigned i = 0; i < ARRAY_SIZE(final_errors); i++) {
		int r = load_text(fx, final_errors[i].text);

		if (r != -EINVAL)
			fail_msg("case %u: returned %d (%s)", i, r, fx->err);
		assert_err(fx, final_errors[i].err);
	}
}

/* A config built in code, not from a file: messages without a file name. */
static void test_finalize_without_file(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *cc = fx->cc;

	cluster_config_defaults(cc);
	strcpy(cc->name, "c");
	assert_int_equal(cluster_config_finalize(cc, fx->err, sizeof(fx->err)), -EINVAL);
	assert_string_equal(fx->err, "[cluster]: no 'iqn' (the target name both nodes serve)");
}

/* ---- derived values ---- */

static const char derive_text[] =
	"[cluster]\nname = c\niqn = " IQN "\nfencing = none\n"
	"[node]\nid = 20\nname = second\nportal = 10.1.0.20\nportal = 10.2.0.20\n"
	"[node]\nid = 10\nname = first\nportal = 10.1.0.10\nportal = 10.2.0.10\n"
	"portal = 10.3.0.10\n"
	"[lun]\nname = a\npath = /a\nreplication = shared\n"
	"[lun]\nname = b\npath = /b\nreplication = shared\nid = 1234\n"
	"[lun]\nname = c\npath = /c\nreplication = shared\n";

static void test_derived_ports(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *cc = fx->cc;
	static const struct {
		unsigned node, portal;
		const char *addr;
		uint16_t rel;
	} want[] = {
		{0, 0, "10.1.0.10", 1}, {0, 1, "10.2.0.10", 2}, {0, 2, "10.3.0.10", 3},
		{1, 0, "10.1.0.20", 4}, {1, 1, "10.2.0.20", 5},
	};

	assert_int_equal(load_text(fx, derive_text), 0);
	assert_int_equal(cc->nodes[0].id, 10);
	assert_int_equal(cc->nodes[1].id, 20);
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++) {
		const struct tgt_portal *p = &cc->nodes[want[i].node].portals[want[i].portal];

		assert_string_equal(p->addr, want[i].addr);
		assert_int_equal(p->port, 3260);
		assert_int_equal(p->rel_port_id, want[i].rel);
		assert_int_equal(p->tpgt, want[i].rel);
		assert_ptr_equal(cluster_config_port_node(cc, want[i].rel),
				 &cc->nodes[want[i].node]);
	}
	assert_null(cluster_config_port_node(cc, 0));
	assert_null(cluster_config_port_node(cc, 6));
}

static void test_derived_lu_ids(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *cc = fx->cc;

	assert_int_equal(load_text(fx, derive_text), 0);
	/* FNV-1a 64 of "IQN/0" (clusterd(8) gives the value) and of "IQN/2" */
	assert_true(cc->luns[0].lun.lu_id == 0xea4adf37ab6be197ULL);
	assert_true(cc->luns[0].lun.lu_id == config_lu_id_derive(IQN, 0));
	assert_true(cc->luns[1].lun.lu_id == 0x1234);
	assert_true(cc->luns[2].lun.lu_id == config_lu_id_derive(IQN, 2));
}

/* Finalizing again changes nothing (derived values are recomputed the same). */
static void test_finalize_idempotent(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *copy = malloc(sizeof(*copy));

	assert_non_null(copy);
	assert_int_equal(load_text(fx, derive_text), 0);
	memcpy(copy, fx->cc, sizeof(*copy));
	assert_int_equal(cluster_config_finalize(fx->cc, fx->err, sizeof(fx->err)), 0);
	assert_memory_equal(copy, fx->cc, sizeof(*copy));
	free(copy);
}

/* ---- the per-node target ---- */

static void test_node_tgt(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *cc = fx->cc;
	struct tgt_config *t = fx->tgt;
	struct tgt_config *t2 = malloc(sizeof(*t2));

	assert_non_null(t2);
	assert_int_equal(load_text(fx, all_keys), 0);
	assert_int_equal(cluster_config_node_tgt(cc, 7, t, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(cluster_config_node_tgt(cc, 3, t2, fx->err, sizeof(fx->err)), 0);

	/* node 7 (beta) sorts second: its rel port ids follow alpha's two */
	assert_string_equal(t->iqn, IQN);
	assert_true(t->debug);
	assert_int_equal(t->nportals, 3);
	assert_string_equal(t->portals[0].addr, "10.1.0.7");
	assert_int_equal(t->portals[0].rel_port_id, 3);
	assert_int_equal(t->portals[0].tpgt, 3);
	assert_string_equal(t->portals[1].addr, "fd00::7");
	assert_int_equal(t->portals[1].port, 3261);
	assert_int_equal(t->portals[2].rel_port_id, 5);
	assert_int_equal(t2->nportals, 2);
	assert_int_equal(t2->portals[0].rel_port_id, 1);
	assert_int_equal(t2->portals[1].rel_port_id, 2);
	assert_int_equal(t2->portals[1].tpgt, 2);

	/* the same target, LUNs and settings on both nodes */
	assert_string_equal(t2->iqn, t->iqn);
	assert_string_equal(t->alias, "my target");
	assert_int_equal(t->iscsi.queue_depth, 32);
	assert_int_equal(t->iscsi.max_burst, 2 << 20);
	assert_true(t->chap.enabled);
	assert_int_equal(t->nallow, 2);
	assert_int_equal(t->nluns, 2);
	assert_int_equal(t2->nluns, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_memory_equal(&t->luns[i], &cc->luns[i].lun, sizeof(t->luns[i]));
		assert_memory_equal(&t->luns[i], &t2->luns[i], sizeof(t->luns[i]));
	}
	assert_true(t->luns[0].lu_id == config_lu_id_derive(IQN, 0));
	assert_int_equal(t->luns[0].block_size, 4096);
	assert_memory_equal(&t->iscsi, &t2->iscsi, sizeof(t->iscsi));

	assert_int_equal(cluster_config_node_tgt(cc, 5, t, fx->err, sizeof(fx->err)), -ENOENT);
	assert_string_equal(fx->err, "node id 5 is not in the cluster configuration");
	free(t2);
}

/* What a node serves passes the standalone checks on its own. */
static void test_node_tgt_finalizes(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *t = fx->tgt;

	assert_int_equal(load_text(fx, VALID), 0);
	assert_int_equal(cluster_config_node_tgt(fx->cc, 2, t, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(config_finalize(t, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(t->nportals, 1);
	assert_string_equal(t->portals[0].addr, "127.0.0.2");
	assert_int_equal(t->portals[0].rel_port_id, 2);
	assert_int_equal(t->portals[0].tpgt, 2);
}

/* ---- lookups ---- */

static void test_lookups(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *cc = fx->cc;

	assert_int_equal(load_text(fx, derive_text), 0);
	assert_ptr_equal(cluster_config_node(cc, 10), &cc->nodes[0]);
	assert_ptr_equal(cluster_config_node(cc, 20), &cc->nodes[1]);
	assert_null(cluster_config_node(cc, 0));
	assert_null(cluster_config_node(cc, 15));
	assert_ptr_equal(cluster_config_node_by_name(cc, "second"), &cc->nodes[1]);
	assert_null(cluster_config_node_by_name(cc, "third"));
	assert_ptr_equal(cluster_config_peer(cc, 10), &cc->nodes[1]);
	assert_ptr_equal(cluster_config_peer(cc, 20), &cc->nodes[0]);
	assert_null(cluster_config_peer(cc, 30));
	assert_int_equal(cluster_config_lun_index(cc, "a"), 0);
	assert_int_equal(cluster_config_lun_index(cc, "c"), 2);
	assert_int_equal(cluster_config_lun_index(cc, "d"), -ENOENT);
}

/* ---- file kind ---- */

static void test_file_kind(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *text;
		bool cluster;
	} cases[] = {
		{VALID, true},
		{"; comment\n\n  [ cluster ]  \nname = x\n", true},
		{"\xEF\xBB\xBF[cluster]\n", true},
		{"[target]\niqn = " IQN "\n[portal]\naddress = 127.0.0.1\n", false},
		{"; [cluster]\n[target]\n", false},
		{"[target]\ncluster = yes\n", false},
		{"[clusters]\n", false},
		{"[Cluster]\n", false},
		{"", false},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		write_file(fx->path, cases[i].text);
		if (config_file_is_cluster(fx->path) != cases[i].cluster)
			fail_msg("case %u: expected %d", i, cases[i].cluster);
	}
	assert_false(config_file_is_cluster("/nonexistent/x.conf"));
}

/* A standalone file given to the cluster parser says what it is. */
static void test_standalone_file_refused(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load_text(fx, "[target]\niqn = " IQN "\n"), -EINVAL);
	assert_err(fx, ":1: [target] is a standalone section: in a cluster file the target name is "
		       "'iqn' in [cluster], and tuning keys go in [iscsi]");
}

/* CRLF line ends and a BOM, as in the standalone file. */
static void test_crlf_bom(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load_text(fx, "\xEF\xBB\xBF[cluster]\r\nname = c1\r\niqn = " IQN
				       "\r\n" NODE1 NODE2 LUN0),
			 0);
	assert_string_equal(fx->cc->name, "c1");
}

/* ---- the example file ---- */

static const char *example_path(char *buf, size_t cap)
{
	const char *self = __FILE__;
	const char *cut = strstr(self, "tests/unit/");

	if (!access("conf/clusterd.conf.example", R_OK))
		return "conf/clusterd.conf.example";
	snprintf(buf, cap, "%.*sconf/clusterd.conf.example", cut ? (int)(cut - self) : 0, self);
	return buf;
}

static void test_example_file(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *cc = fx->cc;
	char buf[512];
	const char *path = example_path(buf, sizeof(buf));

	assert_true(config_file_is_cluster(path));
	if (cluster_config_load(cc, path, fx->err, sizeof(fx->err)))
		fail_msg("%s", fx->err);
	assert_string_equal(cc->name, "storage1");
	assert_int_equal(cc->nnodes, 2);
	assert_int_equal(cc->nwarnings, 0);
	assert_int_equal(cc->fencing, CC_FENCING_AGENT);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(cc->nodes[i].id, i + 1);
		assert_int_equal(cc->nodes[i].nportals, 2);
		assert_int_equal(cc->nodes[i].portals[0].rel_port_id, 2 * i + 1);
		assert_int_equal(cc->nodes[i].portals[1].rel_port_id, 2 * i + 2);
		assert_string_equal(cc->nodes[i].fence_agent, "fence_ipmilan");
		assert_int_equal(cc->nodes[i].nfence_options, 4);
		assert_int_equal(cc->nodes[i].fence_delay_ms, 5000);
	}
	assert_int_equal(cc->nluns, 1);
	assert_int_equal(cc->luns[0].replication, CC_REPL_SHARED);
	assert_true(cc->luns[0].lun.lu_id == config_lu_id_derive(cc->iqn, 0));
	assert_true(cc->tgt.chap.enabled);
	assert_int_equal(cluster_config_node_tgt(cc, 1, fx->tgt, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->tgt->nportals, 2);
}

/* ---- output ---- */

/* Prints *cc into a string (caller frees). */
static char *print_to_string(const struct cluster_config *cc, bool secrets)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cluster_config_print(f, cc, secrets);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* The fields that say where a config came from, not what it is. */
static void forget_origin(struct cluster_config *cc)
{
	memset(cc->source, 0, sizeof(cc->source));
	for (unsigned i = 0; i < cc->nnodes; i++)
		cc->nodes[i].line = 0;
	for (unsigned i = 0; i < cc->nluns; i++)
		cc->luns[i].line = 0;
}

static void test_print_reads_back(void **state)
{
	struct fixture *fx = *state;
	struct cluster_config *second = calloc(1, sizeof(*second));
	const char *texts[] = {all_keys, derive_text, VALID};
	char *out;

	assert_non_null(second);
	for (unsigned i = 0; i < ARRAY_SIZE(texts); i++) {
		assert_int_equal(load_text(fx, texts[i]), 0);
		out = print_to_string(fx->cc, true);
		write_file(fx->path2, out);
		free(out);
		if (cluster_config_load(second, fx->path2, fx->err, sizeof(fx->err)))
			fail_msg("case %u: %s", i, fx->err);
		forget_origin(fx->cc);
		forget_origin(second);
		assert_memory_equal(fx->cc, second, sizeof(*second));
	}
	free(second);
}

static void test_print_explains(void **state)
{
	struct fixture *fx = *state;
	char *out;

	assert_int_equal(load_text(fx, all_keys), 0);
	out = print_to_string(fx->cc, false);
	assert_contains(out, "; WARNING: node alpha: fence_delay = 0:");
	assert_contains(out,
			"[node]\n; corosync nodeid 3 = target port group 3\nid = 3\n"
			"name = alpha\n; relative target port 1, tpgt 1\nportal = 10.1.0.3:3260\n"
			"; relative target port 2, tpgt 2\nportal = [fd00::3]:3261\n"
			"replication_address = [fd00:1::3]:7789\n");
	assert_contains(out, "; relative target port 5, tpgt 5\nportal = 10.2.0.7:3262\n");
	/* the agent of an absolute path that is not there */
	assert_contains(out, "; run by beta to fence alpha; NOT FOUND on this machine (searched "
			     "/usr/local/sbin/fence_x)\nfence_agent = /usr/local/sbin/fence_x\n");
	assert_contains(out, "fence_option = ip=10.9.0.7\n"
			     "; fence_option password: 11 bytes, not shown\n"
			     "fence_option = lanplus=\n");
	assert_true(strstr(out, "s3cret") == NULL);
	assert_true(strstr(out, "0123456789abcdef") == NULL);
	assert_contains(out, "; beta waits this long before fencing alpha when beta is not the "
			     "AO side\nfence_delay = 0\n");
	assert_contains(out, "; LUN 1 (size 0: the size of the device)\nname = logs\n");
	assert_contains(out, "; id: FNV-1a 64 of \"" IQN "/0\"\nid = ea4adf37ab6be197\n");
	assert_contains(out, "replication = shared\nid = 0000000000abcdef\n");
	assert_contains(out,
			"; Target port groups, reported the same by both nodes for every LUN:\n"
			";   group 3 = node alpha: port 1 (10.1.0.3:3260), port 2 "
			"([fd00::3]:3261)\n"
			";   group 7 = node beta: port 3 (10.1.0.7:3260), port 4 "
			"([fd00::7]:3261), port 5 (10.2.0.7:3262)\n");
	free(out);

	assert_int_equal(load_text(fx, VALID), 0);
	out = print_to_string(fx->cc, false);
	assert_contains(out, "; run by n2 to fence n1: /bin/true\nfence_agent = /bin/true\n");
	free(out);
}

/* ---- fence agent lookup ---- */

static void test_agent_find(void **state)
{
	char out[64], small[8];

	assert_int_equal(cluster_config_agent_find("/bin/true", "", out, sizeof(out)), 0);
	assert_string_equal(out, "/bin/true");
	assert_int_equal(cluster_config_agent_find("true", "/nonexistent:/bin", out, sizeof(out)),
			 0);
	assert_string_equal(out, "/bin/true");
	assert_int_equal(cluster_config_agent_find("true", "/nonexistent", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(cluster_config_agent_find("/nonexistent/x", "/bin", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(cluster_config_agent_find("true", "", out, sizeof(out)), -ENOENT);
	assert_int_equal(cluster_config_agent_find("true", "/bin", small, sizeof(small)),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minimal_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fencing_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_final_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_without_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derived_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derived_lu_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_tgt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_tgt_finalizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standalone_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_bom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_reads_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_explains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_find, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
