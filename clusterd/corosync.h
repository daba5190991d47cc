/* SPDX-License-Identifier: MIT */
/*
 * The corosync adapters of the control thread: one CPG group, the quorum API
 * and votequorum, driven by the control thread's libqb main loop.
 *
 * The adapter reports facts, never decisions: configuration changes and
 * messages of the group "clusterd:<cluster>", totem ring changes, quorum
 * changes and the votequorum details. Every list is copied out of corosync's
 * buffers into the plain structs below, so no corosync type leaks out of here;
 * what the facts mean is for the pure core (model.h) to decide.
 *
 * Ordering, as corosync guarantees it and passed through unchanged:
 *  - confchg() and deliver() come in CPG agreed order: every member sees the
 *    same sequence of configuration changes and messages (CPG_TYPE_AGREED);
 *  - quorum() and votequorum() come over other connections and may overtake or
 *    trail the CPG events (votequorum_overview(3)); compare ring ids (struct
 *    cs_ring) to know that two facts describe the same membership;
 *  - CPG keeps delivering while the node is inquorate: check quorum before
 *    acting;
 *  - a peer whose corosync restarts fast (or was frozen) shows as NODEDOWN
 *    then NODEUP, possibly with no quorum dip at all: tell membership
 *    generations apart by ring id, not by quorum changes.
 *
 * Losing corosync: when any of the three connections fails (a dispatch returns
 * an error such as CS_ERR_LIBRARY or CS_ERR_BAD_HANDLE, an fd reports
 * POLLHUP/POLLERR, a send fails with anything but "try again", or the group
 * cannot be joined), the adapter takes its fds off the loop and calls
 * ops->lost() once; no other op is called after it. It never reconnects: the
 * daemon exits and systemd restarts it (docs/ARCHITECTURE.md, "Corosync
 * restarts", says why).
 *
 * Callbacks run on the control thread from the loop, never inside cs_open(),
 * cs_send() or cs_close(). Lists and message bytes they receive are valid only
 * during the call. A callback may call cs_send() and cs_close(); after
 * cs_close() no further callback runs.
 *
 * Threads: every function that takes a struct cs must be called on the thread
 * that runs the loop given to cs_open() (the control thread). The pure helpers
 * further down touch no shared state and may be called anywhere.
 */
#ifndef CLUSTERD_COROSYNC_H
#define CLUSTERD_COROSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <qb/qbloop.h>

#define CS_MAX_MEMBERS	      128	 /* CPG_MEMBERS_MAX */
#define CS_GROUP_NAME_MAX     128	 /* CPG_MAX_NAME_LENGTH, no terminating NUL on the wire */
#define CS_MSG_MAX	      65536	 /* largest message cs_send() accepts */
#define CS_SENDQ_MAX_MSGS     4096	 /* messages cs_send() holds while corosync says "later" */
#define CS_SENDQ_MAX_BYTES    (4u << 20) /* ... and their bytes */
#define CS_SENDQ_RETRY_MAX_MS 50	 /* longest back-off between two retries */
#define CS_JOIN_RETRY_MS      100	 /* cpg_join said "try again": retry after this ... */
#define CS_JOIN_RETRIES	      100	 /* ... this many times (10 s), then lost() */

/* Why a process appears in a confchg list (values of corosync's CPG_REASON_*). */
enum cs_reason {
	CS_REASON_UNKNOWN = 0,
	CS_REASON_JOIN = 1,	/* cpg_join in an existing membership */
	CS_REASON_LEAVE = 2,	/* cpg_leave: a clean departure */
	CS_REASON_NODEDOWN = 3, /* its node left the totem ring (crash, partition) */
	CS_REASON_NODEUP = 4,	/* its node joined the ring (restart, merge) */
	CS_REASON_PROCDOWN = 5, /* the process died or its corosync stopped */
};

struct cs_member {
	uint32_t nodeid;
	uint32_t pid;
	uint32_t reason; /* enum cs_reason; CS_REASON_UNKNOWN in the members list */
};

/* A totem ring id: the representative's node id and the ring sequence. */
struct cs_ring {
	uint32_t nodeid;
	uint64_t seq;
};

struct cs_confchg {
	const struct cs_member *members; /* the group after the change */
	size_t nmembers;
	const struct cs_member *left;
	size_t nleft;
	const struct cs_member *joined;
	size_t njoined;
};

/* votequorum flags (values of corosync's VOTEQUORUM_INFO_*). */
#define CS_VQ_TWONODE		  0x001u
#define CS_VQ_QUORATE		  0x002u
#define CS_VQ_WAIT_FOR_ALL	  0x004u
#define CS_VQ_LAST_MAN_STANDING	  0x008u
#define CS_VQ_AUTO_TIE_BREAKER	  0x010u
#define CS_VQ_ALLOW_DOWNSCALE	  0x020u
#define CS_VQ_QDEVICE_REGISTERED  0x040u
#define CS_VQ_QDEVICE_ALIVE	  0x080u
#define CS_VQ_QDEVICE_CAST_VOTE	  0x100u
#define CS_VQ_QDEVICE_MASTER_WINS 0x200u
#define CS_VQ_NFLAGS		  10

/* What `corosync-quorumtool -s` shows, for clusterctl status. */
struct cs_vq_info {
	bool valid; /* false until votequorum answered once */
	bool quorate;
	uint32_t node_votes;
	uint32_t expected_votes;
	uint32_t highest_expected;
	uint32_t total_votes;
	uint32_t quorum;     /* votes needed */
	uint32_t flags;	     /* CS_VQ_* */
	struct cs_ring ring; /* from votequorum's last node list notification; 0 before */
};

struct cs_ops {
	/* A configuration change of our group, ours included (we are in members). */
	void (*confchg)(void *arg, const struct cs_confchg *cc);
	/* A message of the group, in agreed order; ours come back too. */
	void (*deliver)(void *arg, uint32_t nodeid, uint32_t pid, const void *msg, size_t len);
	/* A new totem ring (CPG totem confchg; also the initial one). */
	void (*totem)(void *arg, const struct cs_ring *ring, const uint32_t *members, size_t n);
	/* Quorum API: quorate or not, for ring `ring` whose members are nodes[]. */
	void (*quorum)(void *arg, bool quorate, const struct cs_ring *ring, const uint32_t *nodes,
		       size_t n);
	/* votequorum details changed (cs_vq_info() returns the same). May be NULL. */
	void (*votequorum)(void *arg, const struct cs_vq_info *info);
	/* The connection to corosync is gone; `why` names the service and the error. */
	void (*lost)(void *arg, const char *why);
};

struct cs;

/*
 * Connects to corosync's cpg, quorum and votequorum services, puts their fds
 * on `loop`, starts quorum tracking (current state, then changes) and joins
 * the group "clusterd:<cluster>". Returns 0 or -errno with a sentence in err:
 * -ENOTCONN (corosync not running in this network namespace), -ENOTSUP (no
 * votequorum provider), -ENAMETOOLONG / -EINVAL (cluster name; -EINVAL also
 * for a missing loop or op), -ENOMEM, or another mapped corosync error. If the join is refused for now (corosync
 * syncing), it is retried from the loop and lost() reports a final failure.
 * Every op except votequorum must be set. Control thread; blocks only for the
 * local IPC round trips of the setup.
 */
int cs_open(struct cs **out, qb_loop_t *loop, const char *cluster, const struct cs_ops *ops,
	    void *arg, char *err, size_t errlen);

/*
 * Leaves the group (peers see LEAVE, a clean departure) unless corosync is
 * already gone, disconnects, frees queued messages and `c`. Called from a
 * callback, the teardown finishes when corosync's dispatch running that
 * callback returns; either way no callback runs after this call, not even a
 * lost() that was pending. NULL is ignored. Control thread.
 */
void cs_close(struct cs *c);

/*
 * Multicasts msg to the group with CPG_TYPE_AGREED (total order, delivered to
 * us too). Never blocks: when corosync answers "try again" (flow control, IPC
 * full) the message is copied and queued behind any earlier ones, and the
 * loop retries with a back-off of 1 ms doubling to CS_SENDQ_RETRY_MAX_MS, so
 * messages leave in call order. Returns 0 (sent or queued), -EMSGSIZE (len 0
 * or above CS_MSG_MAX), -ENOBUFS (queue full), -ENOMEM, or -ENOTCONN (corosync
 * gone or closing; lost() follows from the loop if it has not run yet).
 * Control thread.
 */
int cs_send(struct cs *c, const void *msg, size_t len);

/* Our corosync node id (cpg_local_get at open). Control thread. */
uint32_t cs_local_nodeid(const struct cs *c);

/* The last votequorum details; info->valid is false before the first answer. Control thread. */
void cs_vq_info(const struct cs *c, struct cs_vq_info *info);

/* Messages waiting in the send queue (0 when corosync took everything). Control thread. */
size_t cs_send_queued(const struct cs *c);

/* ---- pure helpers (any thread; used by the adapter and its unit tests) ---- */

struct cpg_address;
struct votequorum_info;

/* "JOIN", "LEAVE", "NODEDOWN", "NODEUP", "PROCDOWN", else "UNKNOWN". */
const char *cs_reason_name(uint32_t reason);

/* Maps a CPG_REASON_* value to enum cs_reason; anything else is CS_REASON_UNKNOWN. */
uint32_t cs_reason_from_cpg(uint32_t cpg_reason);

/*
 * Copies min(n, cap) corosync addresses into dst, mapping reasons. Returns the
 * number copied; less than n means dst was too small.
 */
size_t cs_members_from_cpg(struct cs_member *dst, size_t cap, const struct cpg_address *src,
			   size_t n);

/*
 * Writes "nodeid:pid" entries separated by ",", each followed by "(REASON)"
 * when `reasons`, into buf ("" for none). Returns 0 or -ENOSPC (truncated,
 * terminated). len must be >= 1.
 */
int cs_members_str(char *buf, size_t len, const struct cs_member *m, size_t n, bool reasons);

/* Maps VOTEQUORUM_INFO_* bits to CS_VQ_*; unknown bits are dropped. */
uint32_t cs_vq_flags_from_votequorum(unsigned int vq_flags);

/* Fills the votequorum part of info from a votequorum_getinfo() answer (ring untouched). */
void cs_vq_info_from_votequorum(struct cs_vq_info *info, const struct votequorum_info *vi);

/* Name of one CS_VQ_* bit ("TWONODE", "QUORATE", "WAIT_FOR_ALL", ...), NULL if unknown. */
const char *cs_vq_flag_name(uint32_t bit);

/*
 * Writes the names of the set CS_VQ_* flags, in bit order, separated by `sep`
 * (e.g. "," for status text); unknown bits as one "0x..." entry; "" for none.
 * Returns 0, or -ENOSPC when it did not fit (buf then holds a truncated,
 * terminated string). len must be >= 1.
 */
int cs_vq_flags_str(uint32_t flags, const char *sep, char *buf, size_t len);

/* A corosync cs_error_t as -errno (CS_OK -> 0; "try again" kinds -> -EAGAIN). */
int cs_err_to_errno(int cs_err);

/* "CS_OK", "CS_ERR_LIBRARY", ... for logs; "CS_ERR_UNKNOWN" for a value corosync does not define. */
const char *cs_err_name(int cs_err);

/*
 * Builds the CPG group name "clusterd:<cluster>" into buf (NUL-terminated).
 * Returns its length (without the NUL, at most CS_GROUP_NAME_MAX), -EINVAL for
 * an empty cluster name, -ENAMETOOLONG when it would exceed CS_GROUP_NAME_MAX
 * or len - 1.
 */
int cs_group_name(char *buf, size_t len, const char *cluster);

/*
 * The send queue behind cs_send(), separated from corosync so its policy can
 * be tested with a fake transmit function.
 *
 * xmit returns 0 (the message left), -EAGAIN (not now, try again later) or
 * another -errno (the connection is broken).
 */
typedef int (*cs_xmit_fn)(void *ctx, const void *msg, size_t len);

struct cs_sendq_ent {
	void *buf;
	size_t len;
};

struct cs_sendq {
	struct cs_sendq_ent *ring; /* cap slots, allocated at init */
	uint32_t cap;
	uint32_t head;
	uint32_t count;
	size_t bytes;
	size_t max_bytes;
	uint32_t stalls; /* consecutive flushes that sent nothing; drives the back-off */
};

#define CS_SENDQ_QUEUED 1 /* positive status: the message waits in the queue */

/* Returns 0, -EINVAL (a zero limit) or -ENOMEM. Any thread (the queue is not shared). */
int cs_sendq_init(struct cs_sendq *q, uint32_t max_msgs, size_t max_bytes);

/* Frees every queued message and the ring. */
void cs_sendq_release(struct cs_sendq *q);

/*
 * Sends msg now if nothing is queued and xmit takes it (returns 0); otherwise
 * copies it behind the queue and tries to flush (returns CS_SENDQ_QUEUED while
 * anything is still queued, 0 once everything left). Returns -EMSGSIZE (len 0
 * or > CS_MSG_MAX), -ENOBUFS (queue full by count or bytes, msg not taken),
 * -ENOMEM, or xmit's fatal error (msg not taken; the queue is kept).
 */
int cs_sendq_send(struct cs_sendq *q, const void *msg, size_t len, cs_xmit_fn xmit, void *ctx);

/*
 * Transmits queued messages in order until the queue is empty (0), xmit says
 * -EAGAIN (CS_SENDQ_QUEUED: call again after cs_sendq_retry_ms()), or xmit
 * fails (its -errno; the failed message stays at the head).
 */
int cs_sendq_flush(struct cs_sendq *q, cs_xmit_fn xmit, void *ctx);

/* Delay before the next flush: 1 ms, doubling per flush that sent nothing, capped. */
uint32_t cs_sendq_retry_ms(const struct cs_sendq *q);

static inline uint32_t cs_sendq_len(const struct cs_sendq *q)
{
	return q->count;
}

#endif
