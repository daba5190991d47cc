/* SPDX-License-Identifier: MIT */
/*
 * The pure part of the corosync adapters: translation of corosync's lists,
 * reasons, flags and errors into ours, and the send queue's policy. Nothing
 * here talks to corosync (only its headers are used, for the constants), so
 * tests/unit/test_corosync.c runs it without one. The adapter itself is
 * cpg.c and quorum.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>

#include "clusterd/corosync.h"
#include "lib/compiler.h"

/* ---- pure helpers ---- */

const char *cs_reason_name(uint32_t reason)
{
	switch (reason) {
	case CS_REASON_JOIN:
		return "JOIN";
	case CS_REASON_LEAVE:
		return "LEAVE";
	case CS_REASON_NODEDOWN:
		return "NODEDOWN";
	case CS_REASON_NODEUP:
		return "NODEUP";
	case CS_REASON_PROCDOWN:
		return "PROCDOWN";
	default:
		return "UNKNOWN";
	}
}

/* Explicit, so that a value corosync adds later reads as UNKNOWN, not as a guess. */
uint32_t cs_reason_from_cpg(uint32_t cpg_reason)
{
	switch (cpg_reason) {
	case CPG_REASON_JOIN:
		return CS_REASON_JOIN;
	case CPG_REASON_LEAVE:
		return CS_REASON_LEAVE;
	case CPG_REASON_NODEDOWN:
		return CS_REASON_NODEDOWN;
	case CPG_REASON_NODEUP:
		return CS_REASON_NODEUP;
	case CPG_REASON_PROCDOWN:
		return CS_REASON_PROCDOWN;
	default:
		return CS_REASON_UNKNOWN;
	}
}

size_t cs_members_from_cpg(struct cs_member *dst, size_t cap, const struct cpg_address *src,
			   size_t n)
{
	size_t i, m = MIN(n, cap);

	for (i = 0; i < m; i++) {
		dst[i].nodeid = src[i].nodeid;
		dst[i].pid = src[i].pid;
		dst[i].reason = cs_reason_from_cpg(src[i].reason);
	}
	return m;
}

/* Appends to buf at *off like snprintf; false once it no longer fits. */
static bool cs_str_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off) {
		*off = len;
		return false;
	}
	*off += (size_t)n;
	return true;
}

int cs_members_str(char *buf, size_t len, const struct cs_member *m, size_t n, bool reasons)
{
	size_t i, off = 0;
	bool ok = true;

	buf[0] = '\0';
	for (i = 0; i < n && ok; i++) {
		ok = cs_str_append(buf, len, &off, "%s%" PRIu32 ":%" PRIu32, i ? "," : "",
				   m[i].nodeid, m[i].pid);
		if (ok && reasons)
			ok = cs_str_append(buf, len, &off, "(%s)", cs_reason_name(m[i].reason));
	}
	return ok ? 0 : -ENOSPC;
}

static const struct {
	uint32_t cs;
	unsigned int vq;
	const char *name;
} cs_vq_flags[CS_VQ_NFLAGS] = {
	{CS_VQ_TWONODE, VOTEQUORUM_INFO_TWONODE, "TWONODE"},
	{CS_VQ_QUORATE, VOTEQUORUM_INFO_QUORATE, "QUORATE"},
	{CS_VQ_WAIT_FOR_ALL, VOTEQUORUM_INFO_WAIT_FOR_ALL, "WAIT_FOR_ALL"},
	{CS_VQ_LAST_MAN_STANDING, VOTEQUORUM_INFO_LAST_MAN_STANDING, "LAST_MAN_STANDING"},
	{CS_VQ_AUTO_TIE_BREAKER, VOTEQUORUM_INFO_AUTO_TIE_BREAKER, "AUTO_TIE_BREAKER"},
	{CS_VQ_ALLOW_DOWNSCALE, VOTEQUORUM_INFO_ALLOW_DOWNSCALE, "ALLOW_DOWNSCALE"},
	{CS_VQ_QDEVICE_REGISTERED, VOTEQUORUM_INFO_QDEVICE_REGISTERED, "QDEVICE_REGISTERED"},
	{CS_VQ_QDEVICE_ALIVE, VOTEQUORUM_INFO_QDEVICE_ALIVE, "QDEVICE_ALIVE"},
	{CS_VQ_QDEVICE_CAST_VOTE, VOTEQUORUM_INFO_QDEVICE_CAST_VOTE, "QDEVICE_CAST_VOTE"},
	{CS_VQ_QDEVICE_MASTER_WINS, VOTEQUORUM_INFO_QDEVICE_MASTER_WINS, "QDEVICE_MASTER_WINS"},
};

uint32_t cs_vq_flags_from_votequorum(unsigned int vq_flags)
{
	uint32_t out = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cs_vq_flags); i++)
		if (vq_flags & cs_vq_flags[i].vq)
			out |= cs_vq_flags[i].cs;
	return out;
}

void cs_vq_info_from_votequorum(struct cs_vq_info *info, const struct votequorum_info *vi)
{
	info->node_votes = vi->node_votes;
	info->expected_votes = vi->node_expected_votes;
	info->highest_expected = vi->highest_expected;
	info->total_votes = vi->total_votes;
	info->quorum = vi->quorum;
	info->flags = cs_vq_flags_from_votequorum(vi->flags);
	info->quorate = info->flags & CS_VQ_QUORATE;
}

const char *cs_vq_flag_name(uint32_t bit)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cs_vq_flags); i++)
		if (cs_vq_flags[i].cs == bit)
			return cs_vq_flags[i].name;
	return NULL;
}

int cs_vq_flags_str(uint32_t flags, const char *sep, char *buf, size_t len)
{
	uint32_t known = 0;
	size_t i, off = 0;
	bool ok = true, first = true;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(cs_vq_flags) && ok; i++) {
		known |= cs_vq_flags[i].cs;
		if (!(flags & cs_vq_flags[i].cs))
			continue;
		ok = cs_str_append(buf, len, &off, "%s%s", first ? "" : sep, cs_vq_flags[i].name);
		first = false;
	}
	if (ok && (flags & ~known))
		ok = cs_str_append(buf, len, &off, "%s0x%" PRIx32, first ? "" : sep,
				   flags & ~known);
	return ok ? 0 : -ENOSPC;
}

int cs_err_to_errno(int cs_err)
{
	switch (cs_err) {
	case CS_OK:
		return 0;
	case CS_ERR_TRY_AGAIN:
	case CS_ERR_QUEUE_FULL:
	case CS_ERR_BUSY:
		return -EAGAIN;
	case CS_ERR_LIBRARY:
	case CS_ERR_BAD_HANDLE:
		return -ENOTCONN;
	case CS_ERR_INVALID_PARAM:
	case CS_ERR_BAD_FLAGS:
		return -EINVAL;
	case CS_ERR_NO_MEMORY:
	case CS_ERR_NO_RESOURCES:
		return -ENOMEM;
	case CS_ERR_TIMEOUT:
		return -ETIMEDOUT;
	case CS_ERR_ACCESS:
	case CS_ERR_SECURITY:
		return -EACCES;
	case CS_ERR_NOT_EXIST:
	case CS_ERR_NAME_NOT_FOUND:
		return -ENOENT;
	case CS_ERR_NAME_TOO_LONG:
		return -ENAMETOOLONG;
	case CS_ERR_EXIST:
		return -EEXIST;
	case CS_ERR_NO_SPACE:
		return -ENOSPC;
	case CS_ERR_INTERRUPT:
		return -EINTR;
	case CS_ERR_NOT_SUPPORTED:
		return -ENOTSUP;
	case CS_ERR_TOO_BIG:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

const char *cs_err_name(int cs_err)
{
	static const char *const names[] = {
		[CS_OK] = "CS_OK",
		[CS_ERR_LIBRARY] = "CS_ERR_LIBRARY",
		[CS_ERR_VERSION] = "CS_ERR_VERSION",
		[CS_ERR_INIT] = "CS_ERR_INIT",
		[CS_ERR_TIMEOUT] = "CS_ERR_TIMEOUT",
		[CS_ERR_TRY_AGAIN] = "CS_ERR_TRY_AGAIN",
		[CS_ERR_INVALID_PARAM] = "CS_ERR_INVALID_PARAM",
		[CS_ERR_NO_MEMORY] = "CS_ERR_NO_MEMORY",
		[CS_ERR_BAD_HANDLE] = "CS_ERR_BAD_HANDLE",
		[CS_ERR_BUSY] = "CS_ERR_BUSY",
		[CS_ERR_ACCESS] = "CS_ERR_ACCESS",
		[CS_ERR_NOT_EXIST] = "CS_ERR_NOT_EXIST",
		[CS_ERR_NAME_TOO_LONG] = "CS_ERR_NAME_TOO_LONG",
		[CS_ERR_EXIST] = "CS_ERR_EXIST",
		[CS_ERR_NO_SPACE] = "CS_ERR_NO_SPACE",
		[CS_ERR_INTERRUPT] = "CS_ERR_INTERRUPT",
		[CS_ERR_NAME_NOT_FOUND] = "CS_ERR_NAME_NOT_FOUND",
		[CS_ERR_NO_RESOURCES] = "CS_ERR_NO_RESOURCES",
		[CS_ERR_NOT_SUPPORTED] = "CS_ERR_NOT_SUPPORTED",
		[CS_ERR_BAD_OPERATION] = "CS_ERR_BAD_OPERATION",
		[CS_ERR_FAILED_OPERATION] = "CS_ERR_FAILED_OPERATION",
		[CS_ERR_MESSAGE_ERROR] = "CS_ERR_MESSAGE_ERROR",
		[CS_ERR_QUEUE_FULL] = "CS_ERR_QUEUE_FULL",
		[CS_ERR_QUEUE_NOT_AVAILABLE] = "CS_ERR_QUEUE_NOT_AVAILABLE",
		[CS_ERR_BAD_FLAGS] = "CS_ERR_BAD_FLAGS",
		[CS_ERR_TOO_BIG] = "CS_ERR_TOO_BIG",
		[CS_ERR_NO_SECTIONS] = "CS_ERR_NO_SECTIONS",
		[CS_ERR_CONTEXT_NOT_FOUND] = "CS_ERR_CONTEXT_NOT_FOUND",
		[CS_ERR_TOO_MANY_GROUPS] = "CS_ERR_TOO_MANY_GROUPS",
	};

	if (cs_err == CS_ERR_SECURITY)
		return "CS_ERR_SECURITY";
	if (cs_err < 0 || (size_t)cs_err >= ARRAY_SIZE(names) || !names[cs_err])
		return "CS_ERR_UNKNOWN";
	return names[cs_err];
}

int cs_group_name(char *buf, size_t len, const char *cluster)
{
	static const char prefix[] = "clusterd:";
	size_t n;

	if (!cluster || !cluster[0])
		return -EINVAL;
	n = sizeof(prefix) - 1 + strlen(cluster);
	if (n > CS_GROUP_NAME_MAX || n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, prefix, sizeof(prefix) - 1);
	memcpy(buf + sizeof(prefix) - 1, cluster, n - (sizeof(prefix) - 1) + 1);
	return (int)n;
}

/* ---- send queue ---- */

int cs_sendq_init(struct cs_sendq *q, uint32_t max_msgs, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	if (!max_msgs || !max_bytes)
		return -EINVAL;
	q->ring = calloc(max_msgs, sizeof(*q->ring));
	if (!q->ring)
		return -ENOMEM;
	q->cap = max_msgs;
	q->max_bytes = max_bytes;
	return 0;
}

void cs_sendq_release(struct cs_sendq *q)
{
	while (q->count) {
		free(q->ring[q->head].buf);
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	free(q->ring);
	memset(q, 0, sizeof(*q));
}

static int cs_sendq_append(struct cs_sendq *q, const void *msg, size_t len)
{
	struct cs_sendq_ent *e;
	void *copy;

	if (q->count == q->cap || len > q->max_bytes - q->bytes)
		return -ENOBUFS;
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, msg, len);
	e = &q->ring[(q->head + q->count) % q->cap];
	e->buf = copy;
	e->len = len;
	q->count++;
	q->bytes += len;
	return 0;
}

int cs_sendq_send(struct cs_sendq *q, const void *msg, size_t len, cs_xmit_fn xmit, void *ctx)
{
	int rc;

	if (!len || len > CS_MSG_MAX)
		return -EMSGSIZE;
	/* Behind queued messages a new one must wait its turn, or order breaks. */
	if (q->count) {
		rc = cs_sendq_append(q, msg, len);
		return rc ? rc : CS_SENDQ_QUEUED;
	}
	rc = xmit(ctx, msg, len);
	if (rc != -EAGAIN)
		return rc;
	rc = cs_sendq_append(q, msg, len);
	if (rc)
		return rc;
	q->stalls = 0; /* a fresh stall: first retry after 1 ms */
	return CS_SENDQ_QUEUED;
}

int cs_sendq_flush(struct cs_sendq *q, cs_xmit_fn xmit, void *ctx)
{
	uint32_t sent = 0;
	int rc = 0;

	while (q->count) {
		struct cs_sendq_ent *e = &q->ring[q->head];

		rc = xmit(ctx, e->buf, e->len);
		if (rc)
			break;
		q->bytes -= e->len;
		free(e->buf);
		e->buf = NULL;
		q->head = (q->head + 1) % q->cap;
		q->count--;
		sent++;
	}
	if (!q->count) {
		q->stalls = 0;
		return 0;
	}
	if (rc != -EAGAIN)
		return rc;
	q->stalls = sent ? 0 : q->stalls + (q->stalls < UINT32_MAX);
	return CS_SENDQ_QUEUED;
}

uint32_t cs_sendq_retry_ms(const struct cs_sendq *q)
{
	if (q->stalls >= 6) /* 1 << 6 = 64 > the cap */
		return CS_SENDQ_RETRY_MAX_MS;
	return MIN(1u << q->stalls, (uint32_t)CS_SENDQ_RETRY_MAX_MS);
}
