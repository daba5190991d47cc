/* SPDX-License-Identifier: MIT */
/*
 * The cluster model and the pure decision function (the replicated state
 * machine of clusterd).
 *
 * Every node runs the same decide() over the same ordered inputs: CPG
 * configuration changes and messages in agreed order (design-notes §5.1). The
 * few inputs that are local by nature (votequorum's verdict, timer expiries,
 * the local fence agent's exit) change only local fields directly; whatever
 * they mean for the cluster is multicast first (QUORUM, FENCE_REQUEST,
 * FENCE_RESULT) and applied by every member when it comes back in agreed
 * order. So every member reaches the same replicated state at the same point
 * of the stream. decide() takes data and returns data: no I/O, no clock, no
 * globals. The executor performs the actions; the adapters (CPG, quorum) and
 * the IPC server turn the outside world into events.
 *
 * Membership phase of the local node (dlm_controld's pattern, design-notes §5.2):
 *
 *   JOINING --confchg that lists us--> SYNCING --STATE of every member in,
 *      ^                                  ^          same config digest--> SYNCED
 *      |                                  |                                  |
 *      |                                  +------------ any confchg ---------+
 *      +-- CPG lost (corosync restart): not decide()'s business, the daemon exits
 *
 * On a confchg every member multicasts its STATE (its view as it was right after
 * the confchg). While SYNCING no decision is made: no election, no fencing, no
 * admin request (refused with -EAGAIN); only what the confchg itself says is
 * applied (who left, cleanly or not), so port groups of a lost AO go
 * TRANSITIONING at once. When the STATEs of all members are in, every member
 * merges them the same way (cl_sync below) and decides.
 *
 * Node states as the cluster sees them (replicated):
 *
 *   UNKNOWN --member, STATE in--> ONLINE <--member again, STATE in-- (any state)
 *   ONLINE  --CPG LEAVE (clean: it demoted itself first)--> OFFLINE
 *   ONLINE  --NODEDOWN / PROCDOWN--> UNCLEAN --FENCE_REQUEST delivered--> FENCING
 *   UNKNOWN --startup_wait over, FENCE_REQUEST(startup) delivered--> FENCING
 *   ONLINE  --FENCE_REQUEST(admin) delivered--> FENCING
 *   FENCING --FENCE_RESULT ok--> FENCED
 *   FENCING --FENCE_RESULT failed / timeout / error--> UNCLEAN (retried)
 *
 * A node "rejoining" from UNCLEAN or FENCING has restarted (fresh STATE) or comes
 * back from a partition in which, by the rules below, nobody took over anything
 * it held; a STATE merge that finds two different AO claims for one LUN is a
 * split brain and the node whose claim loses exits (CL_ACT_EXIT).
 *
 * AO election per LUN (SYNCED, every member quorate only; design-notes §3.1):
 *  - sticky: the AO keeps it while it is an ONLINE member;
 *  - an AO in standby hands its LUNs over with a planned move when another
 *    node is eligible (eligible: ONLINE member, quorate, not in standby);
 *  - otherwise the lowest-id eligible member, but only when every configured
 *    node is an ONLINE member or known safe (OFFLINE or FENCED): a node that is
 *    UNCLEAN, FENCING or UNKNOWN might still be serving (design-notes §3.3).
 *
 * Contract with the executor: push the tables of cl_state_init() before the
 * portals open; perform each call's actions in order before feeding the next
 * event (decide() never expects an answer inside one call); a clean stop
 * demotes this node first (its data plane stops serving: the peer will treat
 * the CPG LEAVE that follows as safe and take over without fencing) and only
 * then leaves the CPG group.
 *
 * Fencing (design-notes §3.4, §4): the fencer of a lost node is the lowest-id
 * ONLINE member; only with quorum. It fences at once when it wins the race
 * rule (it holds more AO LUNs than the victim, ties to the lower id; or the
 * victim was lost with PROCDOWN, so its corosync still talks to ours and no
 * partition exists), else it first waits its own fence_delay_ms. Retries wait
 * max(that delay, fence_retry_ms). The agent runs only after the
 * FENCE_REQUEST came back in agreed order; only FENCE_RESULT ok makes a node
 * FENCED.
 *
 * ALUA, one target port group per node, id = node id (design-notes §2.4,
 * §7.2). Port group of node n for one LUN, as this node reports it:
 *   n is this node and votequorum says inquorate      UNAVAILABLE
 *   n ONLINE member that reported itself inquorate    UNAVAILABLE
 *   n ONLINE member, planned move of this LUN touching n   TRANSITIONING
 *   n ONLINE member and the LUN's AO                  AO
 *   n ONLINE member in standby                        STANDBY
 *   n ONLINE member, the LUN has no live AO           TRANSITIONING
 *   n ONLINE member otherwise                         ANO
 *   n not an ONLINE member, state OFFLINE or FENCED   OFFLINE
 *   n not an ONLINE member, any other state           TRANSITIONING
 *     (lost and not yet fenced, never seen, joined but not yet synced, or a
 *      member whose fence is in flight)
 * Why these (SPC-4 5.9.2.4, Linux scsi_dh_alua, design-notes §2.5):
 *  - an absent node is OFFLINE, not UNAVAILABLE: SPC-4 describes offline ports
 *    as unable to receive commands at all, which is exactly a stopped or
 *    fenced node; only the surviving node ever reports it. scsi_dh_alua treats
 *    OFFLINE as unusable and fails I/O on those paths at once, and ESOS
 *    (remote_inact_state) reports the dead peer the same way.
 *  - our own port group while we lack quorum is UNAVAILABLE (04/0C): we still
 *    receive commands (RTPG, INQUIRY must work, which SPC-4 allows in
 *    unavailable), we may never get quorum back and the other side may take
 *    over after fencing us, so the initiator must move I/O off our paths now.
 *    TRANSITIONING would make Linux retry in place every second for up to its
 *    60 s transition timeout.
 *  - a node we cannot vouch for (lost, not yet fenced; never seen) is
 *    TRANSITIONING: scsi_dh_alua still sends I/O to transitioning groups and
 *    re-checks them, so we never make an initiator shun paths that may be the
 *    healthy ones; and while a lost AO is being fenced, 04/0A makes initiators
 *    retry in place instead of failing the path.
 *  - standby (administrative) is ALUA STANDBY: multipath keeps the paths as
 *    ghosts and sends no I/O, so the node can then be stopped for maintenance
 *    without a single path failure; `online` makes it ANO again.
 *  - PREF is never set: multipath-tools adds 80 to a preferred ANO path.
 */
#ifndef CLUSTERD_MODEL_H
#define CLUSTERD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CL_MAX_NODES	 4 /* tested with two (votequorum two_node); rules are generic */
#define CL_MAX_LUNS	 64
#define CL_MAX_PORTS	 16 /* relative target port ids per node (= ALUA_MAX_PORTS) */
#define CL_MAX_MEMBERS	 8  /* entries per list in one confchg we look at */
#define CL_NAME_MAX	 64
#define CL_AGENT_MAX	 32 /* fence agent name, NUL included */
#define CL_FENCE_HISTORY 8
#define CL_MAX_ACTIONS	 256
#define CL_ACT_BUF	 32768 /* text and encoded messages of one decide() call */

/* ---- configuration (static, identical on every node except local_id) ---- */

struct cl_node_config {
	uint32_t id; /* corosync node id = target port group id */
	char name[CL_NAME_MAX];
	/* How long this node waits before fencing a lost peer when it loses the race rule. */
	uint32_t fence_delay_ms;
	uint32_t nports;
	uint16_t rel_ports[CL_MAX_PORTS]; /* cluster-unique relative target port ids */
};

struct cl_lun_config {
	char name[CL_NAME_MAX];
	uint64_t lu_id; /* stable identity (NAA/serial derive from it) */
};

struct cl_config {
	uint32_t local_id;
	uint32_t nnodes;
	struct cl_node_config nodes[CL_MAX_NODES]; /* ascending id after finalize */
	uint32_t nluns;
	struct cl_lun_config luns[CL_MAX_LUNS];
	uint32_t startup_wait_ms; /* grace for never-seen nodes before startup fencing */
	uint32_t fence_retry_ms;  /* least wait before retrying a failed fence */
	uint32_t digest;	  /* cl_config_finalize(): crc32c of everything but local_id */
};

/* ---- state ---- */

/* Membership phase of this node (diagram at the top of this file). */
enum cl_phase {
	CL_JOINING = 0,
	CL_SYNCING = 1,
	CL_SYNCED = 2,
};

/* Node states (diagram at the top of this file); values travel in STATE: never renumber. */
enum cl_node_state {
	CL_NODE_UNKNOWN = 0,
	CL_NODE_ONLINE = 1,
	CL_NODE_OFFLINE = 2,
	CL_NODE_UNCLEAN = 3,
	CL_NODE_FENCING = 4,
	CL_NODE_FENCED = 5,
};

/* ALUA state of one port group (SPC-4 5.9.2.4 values, = enum alua_state). */
enum cl_alua {
	CL_ALUA_AO = 0x0,
	CL_ALUA_ANO = 0x1,
	CL_ALUA_STANDBY = 0x2,
	CL_ALUA_UNAVAILABLE = 0x3,
	CL_ALUA_OFFLINE = 0xe,
	CL_ALUA_TRANSITIONING = 0xf,
};

/* Values travel in FENCE_RESULT: never renumber. */
enum cl_fence_result {
	CL_FENCE_OK = 0,
	CL_FENCE_FAILED = 1,  /* agent exited non-zero */
	CL_FENCE_TIMEOUT = 2, /* agent hung and was killed */
	CL_FENCE_ERROR = 3,   /* agent could not be run */
};

/* Values travel in FENCE_REQUEST: never renumber. */
enum cl_fence_reason {
	CL_FENCE_LOST = 1,    /* lost without a clean leave */
	CL_FENCE_STARTUP = 2, /* never seen within startup_wait_ms */
	CL_FENCE_ADMIN = 3,   /* clusterctl fence NODE --yes */
};

/* One fence attempt, as FENCE_RESULT reports it (times from the runner's clock). */
struct cl_fence_record {
	uint32_t target;
	uint32_t fencer;
	uint32_t attempt;
	uint8_t result; /* enum cl_fence_result */
	char agent[CL_AGENT_MAX];
	uint64_t t_start_ms;
	uint64_t t_end_ms;
};

struct cl_node {
	uint32_t id;
	/* replicated */
	uint8_t state;	 /* enum cl_node_state */
	bool member;	 /* in the current CPG membership */
	bool standby;	 /* administratively not eligible for AO */
	bool procdown;	 /* lost with PROCDOWN: no fence race possible */
	bool quorate;	 /* its own last report (STATE or QUORUM) */
	uint32_t fencer; /* FENCING: the node running the agent */
	uint32_t fence_attempts;
	/* this change's sync round */
	bool state_received;
	bool stateful; /* its STATE said it had been SYNCED before */
	bool synced;   /* took part in our last completed sync and stayed: its
			  STATE must carry our change_seq (stale ones are dropped) */
	uint32_t pid;
	uint16_t proto_min, proto_max; /* from its HELLO, 0: none seen */
	bool result_pending;	       /* a FENCE_RESULT for it came while SYNCING */
	struct cl_fence_record pending;
	/* local only (never compared between nodes) */
	bool fence_timer;     /* our FENCE_DELAY timer for it is armed */
	bool fence_requested; /* our FENCE_REQUEST for it is in flight */
	bool agent_running;   /* our fence agent against it runs */
};

struct cl_lun {
	uint32_t ao_node; /* replicated; 0: none */
	uint32_t move_to; /* replicated; planned switchover in progress, 0: none */
	/* local: the table last pushed to the data plane */
	uint64_t alua_version;
	uint8_t alua[CL_MAX_NODES]; /* enum cl_alua, by node index */
};

/* What a STATE says about one node / the merge of those (see cl_sync). */
struct cl_node_view {
	uint8_t state;
	bool standby;
	bool procdown;
	uint32_t fencer;
	uint32_t fence_attempts;
	uint32_t from; /* node id whose STATE this came from, 0: none yet */
	bool stateful; /* ... and that STATE was stateful */
};

/*
 * Merge of the STATEs of one sync round, built as they arrive; the result
 * does not depend on their order, so every member computes the same:
 *  - AO per LUN: the claim of the lowest-id stateful member that claims one;
 *    two different claims are a split brain (the losers are in conflict).
 *  - a node's state: one view wins, ranked by: says UNCLEAN or FENCING (be
 *    safe), comes from a stateful member, says more than UNKNOWN, lower
 *    sender id. A fresh member's view only holds what its confchgs told it.
 *  - standby: set if any stateful view says so. epoch, change_seq: maximum.
 * Fresh members (never SYNCED) claim no AO and carry no standby or epoch.
 */
struct cl_sync {
	uint64_t seq_max;
	uint64_t epoch_max;
	uint32_t ao[CL_MAX_LUNS];
	uint32_t ao_from[CL_MAX_LUNS];
	struct cl_node_view nodes[CL_MAX_NODES];
	uint32_t conflict;	/* bitmask by node index: claims that lost */
	uint32_t mismatch_node; /* a member with another config digest, 0: none */
};

struct cl_state {
	const struct cl_config *cfg;	    /* must outlive the state */
	uint8_t phase;			    /* enum cl_phase */
	bool stateful;			    /* SYNCED at least once since start */
	bool local_quorate;		    /* votequorum, as last reported locally */
	bool startup_timer;		    /* local: STARTUP timer armed */
	uint64_t change_seq;		    /* confchgs; replicated after each sync (max) */
	uint64_t epoch;			    /* replicated: bumps whenever an AO changes */
	struct cl_node nodes[CL_MAX_NODES]; /* same order as cfg->nodes */
	struct cl_lun luns[CL_MAX_LUNS];
	struct cl_sync sync;
	uint32_t nhist; /* fence attempts recorded, the last CL_FENCE_HISTORY kept */
	struct cl_fence_record hist[CL_FENCE_HISTORY];
};

/* ---- events ---- */

enum cl_event_type {
	CL_EV_CONFCHG = 1, /* CPG configuration change */
	CL_EV_QUORUM,	   /* votequorum verdict changed (local) */
	CL_EV_MSG,	   /* a CPG message, in agreed order (admin requests included) */
	CL_EV_TIMER,	   /* a timer started by CL_ACT_TIMER_START expired (local) */
	CL_EV_FENCE_DONE,  /* the fence agent started by CL_ACT_FENCE finished (local) */
};

/* CPG confchg reasons (corosync cpg.h values). */
enum cl_reason {
	CL_REASON_JOIN = 1,
	CL_REASON_LEAVE = 2,
	CL_REASON_NODEDOWN = 3,
	CL_REASON_NODEUP = 4,
	CL_REASON_PROCDOWN = 5,
};

struct cl_member {
	uint32_t nodeid;
	uint32_t pid;
	uint32_t reason; /* enum cl_reason */
};

struct cl_ev_confchg {
	uint32_t nmembers, nleft, njoined;
	struct cl_member members[CL_MAX_MEMBERS];
	struct cl_member left[CL_MAX_MEMBERS];
	struct cl_member joined[CL_MAX_MEMBERS];
};

enum cl_timer {
	CL_TIMER_FENCE_DELAY = 1, /* per node: wait before fencing it */
	CL_TIMER_STARTUP = 2,	  /* node 0: grace for never-seen nodes */
};

struct cl_event {
	uint8_t type; /* enum cl_event_type */
	union {
		struct cl_ev_confchg confchg;
		struct {
			bool quorate;
		} quorum;
		struct {
			uint32_t nodeid; /* CPG sender */
			uint32_t pid;
			const void *buf; /* the message as delivered */
			size_t len;
		} msg;
		struct {
			uint8_t timer; /* enum cl_timer */
			uint32_t node;
		} timer;
		/* target, attempt (from CL_ACT_FENCE), result, agent, times; fencer ignored */
		struct cl_fence_record fence_done;
	};
};

/* ---- actions ---- */

enum cl_action_type {
	CL_ACT_MCAST = 1,    /* multicast bytes buf[off, off+len) with CPG_TYPE_AGREED */
	CL_ACT_ALUA,	     /* push this LUN's port-group table to the data plane */
	CL_ACT_FENCE,	     /* run the fence agent (action off) against node now */
	CL_ACT_TIMER_START,  /* (re)arm timer (timer, node) to expire after ms */
	CL_ACT_TIMER_CANCEL, /* disarm it; an expiry already queued is ignored by decide() */
	CL_ACT_LOG,	     /* one log line */
	CL_ACT_FAILED,	     /* record a failed action for status, with a hint */
	CL_ACT_FAILED_CLEAR, /* the failed action (kind, node) is resolved */
	CL_ACT_REPLY,	     /* outcome of the local admin request with this cookie */
	CL_ACT_EXIT,	     /* fatal inconsistency: stop serving, exit non-zero; always last */
};

enum cl_log_level {
	CL_LOG_DEBUG = 0,
	CL_LOG_INFO,
	CL_LOG_NOTICE,
	CL_LOG_WARN,
	CL_LOG_ERR,
};

enum cl_failed_kind {
	CL_FAILED_FENCE = 1,	   /* a fence attempt failed; I/O of its LUNs frozen */
	CL_FAILED_CONFIG = 2,	   /* a member has another configuration */
	CL_FAILED_PROTOCOL = 3,	   /* a member speaks no protocol version we speak */
	CL_FAILED_SPLIT_BRAIN = 4, /* two AO claims for one LUN met */
};

struct cl_act_mcast {
	uint16_t type; /* enum cl_msg_type, for logs */
	uint32_t off, len;
};

struct cl_act_alua {
	uint32_t lun; /* index into cfg->luns */
	uint64_t version;
	uint32_t ntpgs;
	struct {
		uint32_t id;   /* node id */
		uint8_t state; /* enum cl_alua */
	} tpg[CL_MAX_NODES];
};

struct cl_act_fence {
	uint32_t node;
	uint32_t attempt; /* to be echoed in CL_EV_FENCE_DONE */
	uint8_t reason;	  /* enum cl_fence_reason */
};

struct cl_act_timer {
	uint8_t timer; /* enum cl_timer */
	uint32_t node;
	uint32_t ms;
};

struct cl_act_log {
	uint8_t level; /* enum cl_log_level */
	uint32_t node; /* 0: none */
	int32_t lun;   /* -1: none */
	uint32_t text; /* offset of a NUL-terminated string in buf */
};

struct cl_act_failed {
	uint8_t kind; /* enum cl_failed_kind */
	uint32_t node;
	int32_t lun;
	uint32_t text, hint; /* offsets in buf; hint says what to do */
};

struct cl_act_reply {
	uint32_t cookie;
	int32_t err; /* 0 or -errno */
	uint32_t text;
};

struct cl_act_exit {
	uint32_t text;
};

struct cl_action {
	uint8_t type; /* enum cl_action_type */
	union {
		struct cl_act_mcast mcast;
		struct cl_act_alua alua;
		struct cl_act_fence fence;
		struct cl_act_timer timer;
		struct cl_act_log log;
		struct cl_act_failed failed;
		struct cl_act_reply reply;
		struct cl_act_exit exit;
	};
};

/* The actions of one decide() call, to be performed in order. */
struct cl_actions {
	uint32_t n;
	bool overflow;
	struct cl_action a[CL_MAX_ACTIONS];
	uint32_t used; /* bytes of buf in use */
	char buf[CL_ACT_BUF];
};

static inline const char *cl_act_text(const struct cl_actions *acts, uint32_t off)
{
	return acts->buf + off;
}

static inline const void *cl_act_bytes(const struct cl_actions *acts, const struct cl_action *a)
{
	return acts->buf + a->mcast.off;
}

/* ---- functions (all pure; any thread, as long as the arguments are its own) ---- */

struct alua_table;
struct cl_msg;

/*
 * Validates cfg, sorts its nodes by id and computes cfg->digest. Requires 1 to
 * CL_MAX_NODES nodes with distinct non-zero ids including local_id, 1 to
 * CL_MAX_LUNS LUNs, 1 to CL_MAX_PORTS ports per node, relative port ids
 * non-zero and unique over the cluster. Returns 0 or -EINVAL with a message.
 */
int cl_config_finalize(struct cl_config *cfg, char *err, size_t errlen);

/*
 * Initial state (JOINING, inquorate until told otherwise) and the initial
 * ALUA tables (version 1) as CL_ACT_ALUA actions for the executor to push
 * before the data plane accepts logins. cfg must be finalized.
 */
void cl_state_init(struct cl_state *s, const struct cl_config *cfg, struct cl_actions *acts);

/*
 * The replicated state machine. *out becomes the state after ev (out may not
 * alias in); acts receives the actions, to be performed in order.
 * Returns 0; -EINVAL for an unknown event type (out = in, no action); -ENOSPC
 * when acts overflowed (out is consistent but actions were lost: the caller
 * must treat it as fatal).
 */
int decide(const struct cl_state *in, const struct cl_event *ev, struct cl_state *out,
	   struct cl_actions *acts);

/*
 * Checks an admin request (MOVE, STANDBY, ONLINE, FENCE_REQUEST with reason
 * admin) against s the way decide() will when it is delivered, so the IPC
 * server can refuse at once. Returns 0 or the -errno decide() would reply with
 * (-EAGAIN syncing or inquorate, -EINVAL unknown LUN/node, -EHOSTDOWN target
 * not an online member, -EALREADY nothing to do, -EBUSY move in progress or no
 * other eligible node, -EPERM target in standby), with a reason in why.
 */
int cl_admin_check(const struct cl_state *s, const struct cl_msg *m, char *why, size_t whylen);

/* Builds the STATE message this node sends for the current change. */
void cl_state_msg(const struct cl_state *s, struct cl_msg *m);

/* True when every ONLINE member reported itself quorate (replicated view). */
bool cl_cluster_quorate(const struct cl_state *s);

/* Index of node id in cfg->nodes, or -1. */
int cl_node_index(const struct cl_config *cfg, uint32_t id);

/* Fills a data-plane table from an ALUA action (rel ports from cfg, no PREF). */
void cl_alua_table_fill(const struct cl_config *cfg, const struct cl_act_alua *a,
			struct alua_table *tab);

/* Names for logs, status and golden files; "?" for unknown values. */
const char *cl_node_state_name(uint8_t st);
const char *cl_alua_name(uint8_t st);
const char *cl_phase_name(uint8_t ph);
const char *cl_fence_result_name(uint8_t r);
const char *cl_fence_reason_name(uint8_t r);
const char *cl_failed_kind_name(uint8_t k);

#endif
