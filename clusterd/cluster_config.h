/* SPDX-License-Identifier: MIT */
/*
 * The cluster configuration: one INI file, identical on both nodes, that
 * describes the cluster (name, the one target name both nodes serve, timers),
 * its two nodes (corosync node id, iSCSI portals, replication address, how to
 * fence the node) and its LUNs. From it each node derives, identically, the
 * SCSI identities initiators compare across paths: target port group id =
 * node id, relative target port ids numbered through both nodes' portals, LU
 * ids from the target name and LUN number. clusterd(8), "CLUSTER
 * CONFIGURATION", is the reference for every key.
 *
 * cc_ is short for cluster_config in the names of types and constants.
 *
 *	struct cluster_config *cc = calloc(1, sizeof(*cc));   (about 600 KiB)
 *	if (config_file_is_cluster(path)) {
 *		r = cluster_config_load(cc, path, err, sizeof(err));
 *		(or cluster_config_parse(): exit 2 on error, then
 *		    cluster_config_finalize(): exit 1 on error, like the standalone file)
 *		for each cc->warnings[i]: log it loudly / print it
 *		cluster_config_node_tgt(cc, my_nodeid, tgt, err, sizeof(err));
 *		-> iscsi_tgt as in standalone mode, then set the cluster's ALUA table
 *	}
 *
 * Everything here runs on the main thread at start-up (inih's globals are
 * tuned during a parse), except the lookups and cluster_config_node_tgt(),
 * which only read *cc. None of it is on the I/O path.
 */
#ifndef CLUSTERD_CLUSTER_CONFIG_H
#define CLUSTERD_CLUSTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "target/config.h"

#define CC_MAX_NODES	     2	/* two-node clusters (votequorum two_node) */
#define CC_NAME_MAX	     64 /* cluster, node, LUN and IPC names: 1..63 bytes */
#define CC_MAX_NODE_PORTALS  TGT_MAX_PORTALS
#define CC_MAX_FENCE_OPTIONS 32
#define CC_FENCE_KEY_MAX     64
#define CC_FENCE_VALUE_MAX   256
#define CC_MAX_WARNINGS	     8
#define CC_WARNING_MAX	     320
/* corosync node ids become SCSI target port group ids, a 16-bit field (SPC-4 6.37) */
#define CC_NODE_ID_MAX 65535

/* Defaults, documented in clusterd(8). */
#define CC_DEFAULT_STATE_DIR	    "/var/lib/clusterd"
#define CC_DEFAULT_IPC_NAME	    "clusterd"
#define CC_DEFAULT_FENCE_TIMEOUT_MS 60000
#define CC_DEFAULT_FENCE_RETRIES    2
#define CC_DEFAULT_FENCE_DELAY_MS   5000
#define CC_DEFAULT_TRANSITION_HOLD  500
#define CC_DEFAULT_WATCHDOG_TIMEOUT 10000
#define CC_DEFAULT_FENCE_AGENT_DIRS "/usr/sbin:/usr/local/sbin"

enum cc_fencing {
	CC_FENCING_AGENT, /* fencing = agent: every node has a fence_agent (the default) */
	CC_FENCING_NONE,  /* fencing = none: a lost node counts as fenced; tests only */
};

enum cc_replication {
	CC_REPL_UNSET,	/* only while parsing: the key is required */
	CC_REPL_SYNC,	/* clusterd replicates writes to the peer's own copy */
	CC_REPL_SHARED, /* both nodes open the same device (a shared disk) */
};

struct cc_fence_option {
	char key[CC_FENCE_KEY_MAX];
	char value[CC_FENCE_VALUE_MAX];
};

/*
 * One [node] section. fence_agent, fence_options and fence_delay_ms describe
 * how this node is fenced: the PEER runs the agent against this node.
 */
struct cc_node {
	uint32_t id; /* corosync nodeid, 1..65535; also its target port group id */
	char name[CC_NAME_MAX];
	/* addr and port from the file; tpgt and rel_port_id derived (= each other) */
	struct tgt_portal portals[CC_MAX_NODE_PORTALS];
	unsigned nportals;
	struct tgt_portal replication;	/* replication_address; addr[0] == '\0': none */
	char fence_agent[TGT_PATH_MAX]; /* a name (searched) or an absolute path; "" with none */
	struct cc_fence_option fence_options[CC_MAX_FENCE_OPTIONS]; /* in file order */
	unsigned nfence_options;
	/* The peer, when it is not the AO side, waits this long before fencing this node. */
	uint32_t fence_delay_ms;
	char watchdog[TGT_PATH_MAX];  /* device this node feeds; "" none */
	char state_dir[TGT_PATH_MAX]; /* [node] state_dir, else [cluster]'s */
	int line;		      /* of the [node] header, for messages; 0 if not from a file */
};

/* One [lun] section; LUN numbers are the order of the sections, from 0. */
struct cc_lun {
	char name[CC_NAME_MAX];
	struct tgt_lun lun;  /* path, size, block size, read_only, direct; lu_id derived */
	uint8_t replication; /* enum cc_replication */
	int line;
};

struct cluster_config {
	char source[TGT_PATH_MAX]; /* file it was read from, for messages; may be "" */
	/* [cluster] */
	char name[CC_NAME_MAX];
	char iqn[TGT_NAME_MAX];		     /* the one target name both nodes serve */
	uint8_t fencing;		     /* enum cc_fencing */
	char fence_agent_dirs[TGT_PATH_MAX]; /* where agent names are searched, ':'-separated */
	uint32_t fence_timeout_ms;	     /* one agent run; a hung agent is killed then */
	uint32_t fence_retries;		     /* further runs after a failed one */
	uint32_t transition_hold_ms;  /* hold a command this long while transitioning, then 04/0A */
	uint32_t watchdog_timeout_ms; /* whole seconds; used by nodes that have a watchdog */
	char state_dir[TGT_PATH_MAX];
	char ipc_name[CC_NAME_MAX]; /* libqb IPC service clusterctl connects to */
	bool debug;
	/*
	 * The iSCSI settings both nodes share: [iscsi] (alias and tuning), [chap],
	 * [acl]. Its iqn is the cluster's; it holds no portals and no LUNs.
	 */
	struct tgt_config tgt;
	struct cc_node nodes[CC_MAX_NODES]; /* sorted by id once finalized */
	unsigned nnodes;
	struct cc_lun luns[TGT_MAX_LUNS];
	unsigned nluns;
	/* Settings that are valid but dangerous (fencing = none, ...): say them loudly. */
	char warnings[CC_MAX_WARNINGS][CC_WARNING_MAX];
	unsigned nwarnings;
};

/* Fills *cc with the defaults (no nodes, no LUNs). Any thread. */
void cluster_config_defaults(struct cluster_config *cc);

/*
 * Whether the INI file at path is a cluster file: it has a [cluster] section.
 * Otherwise (or when it cannot be read) the standalone parser applies, which
 * then reports the problem. Main thread only.
 */
bool config_file_is_cluster(const char *path);

/*
 * Reads a cluster file into *cc (after cluster_config_defaults()), checking
 * every value where it is read. Returns 0; -EINVAL with
 * "FILE:LINE: key 'x' in [section]: problem" or "FILE:LINE: [section]: ...";
 * -ENOENT or another -errno with "FILE: cannot open: reason". *cc may be
 * partly filled on error. Main thread only (tunes inih's globals).
 */
int cluster_config_parse(struct cluster_config *cc, const char *path, char *err, size_t errlen);

/*
 * Checks the whole configuration (two nodes with distinct ids and names,
 * portals, fencing, LUNs, the iSCSI settings) and derives what is left open:
 * nodes sorted by id, relative port ids and TPGTs, block sizes, LU ids, state
 * directories; adds warnings. Returns 0 or -EINVAL with a one-line message
 * naming the file and the line of the section concerned. Any thread.
 */
int cluster_config_finalize(struct cluster_config *cc, char *err, size_t errlen);

/*
 * cluster_config_defaults() + cluster_config_parse() + cluster_config_finalize().
 * Returns 0, -EINVAL or -errno as those do. Main thread only.
 */
int cluster_config_load(struct cluster_config *cc, const char *path, char *err, size_t errlen);

/*
 * Fills *out with the target node node_id serves: the cluster's iqn and
 * iSCSI settings, this node's portals (with their cluster-wide rel_port_id
 * and tpgt) and every LUN (with its LU id), finalized with config_finalize(),
 * so the standalone target code runs it unchanged. *out is large (see
 * target/config.h). Returns 0, -ENOENT when node_id is not a node of *cc, or
 * -EINVAL from config_finalize(), each with a message. Any thread.
 */
int cluster_config_node_tgt(const struct cluster_config *cc, uint32_t node_id,
			    struct tgt_config *out, char *err, size_t errlen);

/* Lookups on a finalized config; NULL or -ENOENT when there is no such thing. Any thread. */
const struct cc_node *cluster_config_node(const struct cluster_config *cc, uint32_t id);
const struct cc_node *cluster_config_node_by_name(const struct cluster_config *cc,
						  const char *name);
/* The other node of a two-node cluster. */
const struct cc_node *cluster_config_peer(const struct cluster_config *cc, uint32_t id);
/* The LUN number of the LUN called name, or -ENOENT. */
int cluster_config_lun_index(const struct cluster_config *cc, const char *name);
/* The node that owns relative target port rel_port_id. */
const struct cc_node *cluster_config_port_node(const struct cluster_config *cc,
					       uint16_t rel_port_id);

/*
 * Finds the executable of a fence agent: an absolute path is taken as it is,
 * a name is searched in the ':'-separated dirs in order. Writes the path to
 * out. Returns 0, -ENOENT (not found or not executable), -ENAMETOOLONG.
 * Any thread (it only calls access(2)).
 */
int cluster_config_agent_find(const char *agent, const char *dirs, char *out, size_t outlen);

/*
 * Writes *cc as a cluster file that cluster_config_parse() reads back to the
 * same configuration, with every derived value explained in comments (target
 * port groups, relative port ids, TPGTs, LU ids, where each fence agent is
 * found on this machine) and the warnings. Fence options whose key contains
 * "passw" or "secret", and CHAP secrets, are written only when show_secrets.
 * Any thread (it calls cluster_config_agent_find()).
 */
void cluster_config_print(FILE *f, const struct cluster_config *cc, bool show_secrets);

#endif
