/* SPDX-License-Identifier: MIT */
/*
 * Private to the corosync adapter (cpg.c, quorum.c): the adapter object and
 * the calls between its two halves. Everything here runs on the control
 * thread.
 *
 * Lifecycle of struct cs:
 *
 *   cs_open --> OPEN --cpg_join ok--> JOINED
 *                 |  (join "try again": a timer retries)  |
 *                 +----------- a connection fails ---------+--> FAILED --> lost() once
 *
 *   cs_close(), from anywhere: off the loop at once; the handles are
 *   finalized and c freed now, or when the corosync dispatch that is running
 *   the caller returns (finalizing inside it would pull its buffers away).
 *
 * lost() is reported only from loop context (an fd handler after its
 * dispatch, a timer, or a job queued by cs_send), as the last thing that
 * callback does, since lost() may free c.
 */
#ifndef CLUSTERD_COROSYNC_INT_H
#define CLUSTERD_COROSYNC_INT_H

#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>

#include "clusterd/corosync.h"

enum cs_svc {
	CS_SVC_CPG,
	CS_SVC_QUORUM,
	CS_SVC_VQ,
	CS_NSVC,
};

struct cs_fd {
	struct cs *c;
	enum cs_svc svc;
	int fd; /* -1 while not on the loop */
};

struct cs {
	qb_loop_t *loop;
	struct cs_ops ops;
	void *arg;
	cpg_handle_t cpg;
	quorum_handle_t quorum;
	votequorum_handle_t vq;
	bool connected[CS_NSVC];
	struct cs_fd fds[CS_NSVC];
	struct cpg_name group;
	uint32_t local_nodeid;
	bool joined;
	uint32_t join_tries;
	bool join_timer_armed;
	qb_loop_timer_handle join_timer;
	struct cs_sendq sendq;
	bool send_timer_armed;
	qb_loop_timer_handle send_timer;
	int send_err; /* cs_error_t of the last failed cpg_mcast_joined */
	bool lost_job_queued;
	bool failed; /* corosync is gone: no op runs any more but lost() */
	bool lost_reported;
	bool closing; /* cs_close() ran inside a dispatch; freed when it returns */
	uint32_t dispatching;
	char why[192];
	struct cs_vq_info vq_info;
	struct cs_member lists[3][CS_MAX_MEMBERS];
};

/* True while callbacks may still reach the ops (not failed, not closing). */
static inline bool cs_live(const struct cs *c)
{
	return !c->failed && !c->closing;
}

/* snprintf into a caller's error buffer (which may be NULL). */
void cs_err_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Marks the adapter failed (first reason wins), logs it and takes it off the
 * loop; the caller then reports it from loop context.
 */
void cs_fail(struct cs *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* quorum.c: connect the quorum API / votequorum; 0 or -errno with err set. */
int cs_quorum_connect(struct cs *c, char *err, size_t errlen);
int cs_vq_connect(struct cs *c, char *err, size_t errlen);
/* Starts tracking on both (current state first, then changes). */
int cs_quorum_track(struct cs *c, char *err, size_t errlen);
/* Re-reads votequorum_getinfo() into c->vq_info; notify: call ops->votequorum. */
void cs_vq_refresh(struct cs *c, bool notify);

#endif
