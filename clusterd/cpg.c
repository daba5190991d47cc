/* SPDX-License-Identifier: MIT */
/*
 * The corosync adapter object and its CPG half: connections on the loop,
 * group join, configuration changes and messages, the send queue, and the
 * detection of a lost corosync (lifecycle drawn in corosync_int.h). The
 * quorum half is quorum.c. Control thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "clusterd/corosync_int.h"
#include "lib/log.h"

/* Our limits are corosync's: lists are never truncated, names never cut. */
_Static_assert(CS_MAX_MEMBERS >= CPG_MEMBERS_MAX, "confchg lists must fit");
_Static_assert(CS_GROUP_NAME_MAX == CPG_MAX_NAME_LENGTH, "group name limit");

static const char *const cs_svc_names[CS_NSVC] = {"cpg", "quorum", "votequorum"};

static void cs_lost_report(struct cs *c);

void cs_err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Takes everything off the loop; the handles stay until cs_destroy(). */
static void cs_unhook(struct cs *c)
{
	int i;

	for (i = 0; i < CS_NSVC; i++) {
		if (c->fds[i].fd < 0)
			continue;
		qb_loop_poll_del(c->loop, c->fds[i].fd);
		c->fds[i].fd = -1;
	}
	if (c->join_timer_armed)
		qb_loop_timer_del(c->loop, c->join_timer);
	if (c->send_timer_armed)
		qb_loop_timer_del(c->loop, c->send_timer);
	c->join_timer_armed = c->send_timer_armed = false;
}

static void cs_lost_job(void *data)
{
	struct cs *c = data;

	c->lost_job_queued = false;
	cs_lost_report(c);
}

/*
 * Marks the adapter failed and takes it off the loop. The caller reports it
 * with cs_lost_report() once it is back in loop context (never inside a
 * corosync dispatch or a submit call).
 */
void cs_fail(struct cs *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	log_err("corosync group %.*s: %s", (int)c->group.length, c->group.value, c->why);
	cs_unhook(c);
}

/* Last thing a loop callback does: ops->lost() may cs_close() and free c. */
static void cs_lost_report(struct cs *c)
{
	if (!c->failed || c->lost_reported || c->closing)
		return;
	c->lost_reported = true;
	c->ops.lost(c->arg, c->why);
}

static void cs_destroy(struct cs *c)
{
	cs_error_t rc = CS_OK;
	int tries;

	cs_unhook(c);
	if (c->lost_job_queued)
		qb_loop_job_del(c->loop, QB_LOOP_HIGH, c, cs_lost_job);
	if (c->joined && !c->failed) {
		/* Shutdown only: a short bounded wait so peers see LEAVE, not PROCDOWN. */
		for (tries = 0; tries < 10; tries++) {
			rc = cpg_leave(c->cpg, &c->group);
			if (rc != CS_ERR_TRY_AGAIN)
				break;
			usleep(10000);
		}
		if (rc != CS_OK)
			log_warn("corosync group %.*s: cpg_leave: %s", (int)c->group.length,
				 c->group.value, cs_err_name(rc));
	}
	if (c->connected[CS_SVC_CPG])
		cpg_finalize(c->cpg);
	if (c->connected[CS_SVC_QUORUM])
		quorum_finalize(c->quorum);
	if (c->connected[CS_SVC_VQ])
		votequorum_finalize(c->vq);
	cs_sendq_release(&c->sendq);
	free(c);
}

void cs_close(struct cs *c)
{
	if (!c)
		return;
	if (c->dispatching) {
		/* Inside a corosync callback: finalizing now would pull the
		 * dispatch's buffers away; the fd handler frees c when it returns. */
		cs_unhook(c);
		if (c->lost_job_queued)
			qb_loop_job_del(c->loop, QB_LOOP_HIGH, c, cs_lost_job);
		c->lost_job_queued = false;
		c->closing = true;
		return;
	}
	cs_destroy(c);
}

/* ---- corosync callbacks (inside *_dispatch) ---- */

static struct cs *cs_from_cpg(cpg_handle_t h)
{
	void *ctx = NULL;

	cpg_context_get(h, &ctx);
	return ctx;
}

static void cs_cpg_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid,
			   uint32_t pid, void *msg, size_t len)
{
	struct cs *c = cs_from_cpg(h);

	if (c && cs_live(c))
		c->ops.deliver(c->arg, nodeid, pid, msg, len);
}

static void cs_log_confchg(const struct cs *c, const struct cs_confchg *cc)
{
	char m[512], l[512], j[512];

	cs_members_str(m, sizeof(m), cc->members, cc->nmembers, false);
	cs_members_str(l, sizeof(l), cc->left, cc->nleft, true);
	cs_members_str(j, sizeof(j), cc->joined, cc->njoined, true);
	log_info("corosync group %.*s: members [%s] left [%s] joined [%s]", (int)c->group.length,
		 c->group.value, m, l, j);
}

static void cs_cpg_confchg(cpg_handle_t h, const struct cpg_name *group,
			   const struct cpg_address *members, size_t nmembers,
			   const struct cpg_address *left, size_t nleft,
			   const struct cpg_address *joined, size_t njoined)
{
	struct cs *c = cs_from_cpg(h);
	struct cs_confchg cc;

	if (!c || !cs_live(c))
		return;
	cc.members = c->lists[0];
	cc.nmembers = cs_members_from_cpg(c->lists[0], CS_MAX_MEMBERS, members, nmembers);
	cc.left = c->lists[1];
	cc.nleft = cs_members_from_cpg(c->lists[1], CS_MAX_MEMBERS, left, nleft);
	cc.joined = c->lists[2];
	cc.njoined = cs_members_from_cpg(c->lists[2], CS_MAX_MEMBERS, joined, njoined);
	cs_log_confchg(c, &cc);
	c->ops.confchg(c->arg, &cc);
}

static void cs_cpg_totem(cpg_handle_t h, struct cpg_ring_id ring_id, uint32_t n,
			 const uint32_t *members)
{
	struct cs *c = cs_from_cpg(h);
	struct cs_ring ring = {.nodeid = ring_id.nodeid, .seq = ring_id.seq};

	if (!c || !cs_live(c))
		return;
	log_info("corosync: totem ring %" PRIu32 ".%" PRIu64 " with %" PRIu32 " node(s)",
		 ring.nodeid, ring.seq, n);
	c->ops.totem(c->arg, &ring, members, n);
}

/* ---- loop side ---- */

static cs_error_t cs_svc_dispatch(struct cs *c, enum cs_svc svc)
{
	switch (svc) {
	case CS_SVC_CPG:
		return cpg_dispatch(c->cpg, CS_DISPATCH_ALL);
	case CS_SVC_QUORUM:
		return quorum_dispatch(c->quorum, CS_DISPATCH_ALL);
	default:
		return votequorum_dispatch(c->vq, CS_DISPATCH_ALL);
	}
}

/*
 * An fd is readable or hung up. A negative return tells libqb to forget the
 * entry, which it must whenever cs_unhook() already deleted it here.
 */
static int32_t cs_fd_ready(int32_t fd, int32_t revents, void *data)
{
	struct cs_fd *f = data;
	struct cs *c = f->c;
	cs_error_t rc;

	c->dispatching++;
	rc = cs_svc_dispatch(c, f->svc);
	c->dispatching--;
	if (c->closing) {
		cs_destroy(c);
		return -1;
	}
	if (rc != CS_OK)
		cs_fail(c, "%s dispatch: %s (corosync went away)", cs_svc_names[f->svc],
			cs_err_name(rc));
	else if (revents & (POLLHUP | POLLERR | POLLNVAL))
		cs_fail(c, "%s connection: %s (corosync went away)", cs_svc_names[f->svc],
			revents & POLLHUP ? "hang-up" : "error");
	if (c->failed) {
		cs_lost_report(c);
		return -1;
	}
	return 0;
}

static int cs_cpg_xmit(void *ctx, const void *msg, size_t len)
{
	struct cs *c = ctx;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	cs_error_t rc;

	if (!c->joined)
		return -EAGAIN; /* queued until the join went through */
	rc = cpg_mcast_joined(c->cpg, CPG_TYPE_AGREED, &iov, 1);
	if (rc == CS_OK)
		return 0;
	if (cs_err_to_errno(rc) == -EAGAIN)
		return -EAGAIN;
	c->send_err = rc;
	return -ENOTCONN;
}

static void cs_send_timer_fire(void *data);

static void cs_send_timer_arm(struct cs *c)
{
	uint64_t ns = (uint64_t)cs_sendq_retry_ms(&c->sendq) * 1000000u;
	int rc;

	if (c->send_timer_armed)
		return;
	rc = qb_loop_timer_add(c->loop, QB_LOOP_HIGH, ns, c, cs_send_timer_fire, &c->send_timer);
	if (rc)
		cs_fail(c, "send retry timer: %s", strerror(-rc));
	else
		c->send_timer_armed = true;
}

static void cs_send_timer_fire(void *data)
{
	struct cs *c = data;
	int rc;

	c->send_timer_armed = false;
	rc = cs_sendq_flush(&c->sendq, cs_cpg_xmit, c);
	if (rc == CS_SENDQ_QUEUED)
		cs_send_timer_arm(c);
	else if (rc < 0)
		cs_fail(c, "cpg_mcast_joined: %s", cs_err_name(c->send_err));
	cs_lost_report(c);
}

int cs_send(struct cs *c, const void *msg, size_t len)
{
	int rc;

	if (!cs_live(c))
		return -ENOTCONN;
	rc = cs_sendq_send(&c->sendq, msg, len, cs_cpg_xmit, c);
	if (rc == CS_SENDQ_QUEUED)
		cs_send_timer_arm(c);
	else if (rc == -ENOTCONN)
		cs_fail(c, "cpg_mcast_joined: %s", cs_err_name(c->send_err));
	else
		return rc;
	if (!c->failed)
		return 0;
	/* lost() must not run inside this call: report it from the loop. */
	if (!c->lost_job_queued && !qb_loop_job_add(c->loop, QB_LOOP_HIGH, c, cs_lost_job))
		c->lost_job_queued = true;
	return -ENOTCONN;
}

/* Returns 0 (joined), -EAGAIN (corosync is syncing: retry later) or -errno. */
static int cs_join(struct cs *c)
{
	cs_error_t rc = cpg_join(c->cpg, &c->group);

	if (rc != CS_OK)
		return cs_err_to_errno(rc);
	c->joined = true;
	log_notice("corosync: node %" PRIu32 " joined group %.*s", c->local_nodeid,
		   (int)c->group.length, c->group.value);
	if (cs_sendq_len(&c->sendq))
		cs_send_timer_arm(c);
	return 0;
}

static void cs_join_timer_fire(void *data);

static void cs_join_retry(struct cs *c)
{
	int rc;

	if (++c->join_tries > CS_JOIN_RETRIES) {
		cs_fail(c, "cpg_join: corosync kept answering \"try again\" for %u ms",
			CS_JOIN_RETRIES * CS_JOIN_RETRY_MS);
		return;
	}
	rc = qb_loop_timer_add(c->loop, QB_LOOP_HIGH, CS_JOIN_RETRY_MS * 1000000ull, c,
			       cs_join_timer_fire, &c->join_timer);
	if (rc)
		cs_fail(c, "join retry timer: %s", strerror(-rc));
	else
		c->join_timer_armed = true;
}

static void cs_join_timer_fire(void *data)
{
	struct cs *c = data;
	int rc;

	c->join_timer_armed = false;
	rc = cs_join(c);
	if (rc == -EAGAIN)
		cs_join_retry(c);
	else if (rc)
		cs_fail(c, "cpg_join: %s", strerror(-rc));
	cs_lost_report(c);
}

static int cs_connect_cpg(struct cs *c, char *err, size_t errlen)
{
	cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = cs_cpg_deliver,
		.cpg_confchg_fn = cs_cpg_confchg,
		.cpg_totem_confchg_fn = cs_cpg_totem,
		.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
	};
	cs_error_t rc;

	rc = cpg_model_initialize(&c->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, c);
	if (rc != CS_OK) {
		cs_err_set(err, errlen,
			   "cannot connect to corosync (cpg: %s); is corosync running in this "
			   "network namespace?",
			   cs_err_name(rc));
		return cs_err_to_errno(rc);
	}
	c->connected[CS_SVC_CPG] = true;
	rc = cpg_local_get(c->cpg, &c->local_nodeid);
	if (rc != CS_OK) {
		cs_err_set(err, errlen, "cpg_local_get: %s", cs_err_name(rc));
		return cs_err_to_errno(rc);
	}
	return 0;
}

static cs_error_t cs_svc_fd(struct cs *c, enum cs_svc svc, int *fd)
{
	switch (svc) {
	case CS_SVC_CPG:
		return cpg_fd_get(c->cpg, fd);
	case CS_SVC_QUORUM:
		return quorum_fd_get(c->quorum, fd);
	default:
		return votequorum_fd_get(c->vq, fd);
	}
}

/*
 * Puts the three fds on the loop (high priority: membership news decides how
 * fast a failover starts). Close-on-exec, so that a fence agent we fork does
 * not keep our corosync connections, and with them our group membership,
 * alive after we die.
 */
static int cs_hook(struct cs *c, char *err, size_t errlen)
{
	int i, fd, rc;
	cs_error_t crc;

	for (i = 0; i < CS_NSVC; i++) {
		crc = cs_svc_fd(c, (enum cs_svc)i, &fd);
		if (crc != CS_OK) {
			cs_err_set(err, errlen, "%s fd: %s", cs_svc_names[i], cs_err_name(crc));
			return cs_err_to_errno(crc);
		}
		fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
		c->fds[i].c = c;
		c->fds[i].svc = (enum cs_svc)i;
		rc = qb_loop_poll_add(c->loop, QB_LOOP_HIGH, fd, POLLIN, &c->fds[i], cs_fd_ready);
		if (rc) {
			cs_err_set(err, errlen, "%s fd on the loop: %s", cs_svc_names[i],
				   strerror(-rc));
			return rc;
		}
		c->fds[i].fd = fd;
	}
	return 0;
}

static int cs_alloc(struct cs **out, qb_loop_t *loop, const char *cluster, const struct cs_ops *ops,
		    void *arg, char *err, size_t errlen)
{
	char name[CS_GROUP_NAME_MAX + 1];
	struct cs *c;
	int i, rc;

	rc = cs_group_name(name, sizeof(name), cluster);
	if (rc < 0) {
		cs_err_set(err, errlen, "cluster name \"%s\": %s", cluster ? cluster : "",
			   rc == -EINVAL ? "empty" : "too long for a CPG group name");
		return rc;
	}
	c = calloc(1, sizeof(*c));
	if (!c || cs_sendq_init(&c->sendq, CS_SENDQ_MAX_MSGS, CS_SENDQ_MAX_BYTES)) {
		free(c);
		cs_err_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->loop = loop;
	c->ops = *ops;
	c->arg = arg;
	c->group.length = (uint32_t)rc;
	memcpy(c->group.value, name, (size_t)rc);
	for (i = 0; i < CS_NSVC; i++)
		c->fds[i].fd = -1;
	*out = c;
	return 0;
}

int cs_open(struct cs **out, qb_loop_t *loop, const char *cluster, const struct cs_ops *ops,
	    void *arg, char *err, size_t errlen)
{
	struct cs *c = NULL;
	int rc;

	*out = NULL;
	if (!loop || !ops || !ops->confchg || !ops->deliver || !ops->totem || !ops->quorum ||
	    !ops->lost) {
		cs_err_set(err, errlen, "cs_open: loop and every op but votequorum are required");
		return -EINVAL;
	}
	rc = cs_alloc(&c, loop, cluster, ops, arg, err, errlen);
	if (rc)
		return rc;
	rc = cs_connect_cpg(c, err, errlen);
	if (!rc)
		rc = cs_quorum_connect(c, err, errlen);
	if (!rc)
		rc = cs_vq_connect(c, err, errlen);
	if (!rc)
		rc = cs_hook(c, err, errlen);
	if (!rc)
		rc = cs_quorum_track(c, err, errlen);
	if (rc)
		goto fail;
	cs_vq_refresh(c, false);
	rc = cs_join(c);
	if (rc == -EAGAIN) {
		cs_join_retry(c);
		rc = c->failed ? -ENOMEM : 0;
		if (rc)
			cs_err_set(err, errlen, "%s", c->why);
	} else if (rc) {
		cs_err_set(err, errlen, "cpg_join %.*s: %s", (int)c->group.length, c->group.value,
			   strerror(-rc));
	}
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	cs_destroy(c);
	return rc;
}

uint32_t cs_local_nodeid(const struct cs *c)
{
	return c->local_nodeid;
}

size_t cs_send_queued(const struct cs *c)
{
	return cs_sendq_len(&c->sendq);
}
