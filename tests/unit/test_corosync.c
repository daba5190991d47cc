// SPDX-License-Identifier: MIT
/*
 * Unit tests for clusterd/corosync.c, the pure part of the corosync adapter:
 * reason and list translation, votequorum flags and their strings, error
 * mapping, the group name, and the send queue's policy (order, back-off,
 * limits, fatal errors) with a fake transmit function. No corosync needed;
 * the adapter against a real one is tests/corosync/run-cs-adapter.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <corosync/cpg.h>
#include <corosync/votequorum.h>

#include "clusterd/corosync.h"
#include "lib/compiler.h"

/* ---- reasons and lists ---- */

static void test_reason_from_cpg_maps_every_reason(void **state)
{
	assert_int_equal(cs_reason_from_cpg(CPG_REASON_JOIN), CS_REASON_JOIN);
	assert_int_equal(cs_reason_from_cpg(CPG_REASON_LEAVE), CS_REASON_LEAVE);
	assert_int_equal(cs_reason_from_cpg(CPG_REASON_NODEDOWN), CS_REASON_NODEDOWN);
	assert_int_equal(cs_reason_from_cpg(CPG_REASON_NODEUP), CS_REASON_NODEUP);
	assert_int_equal(cs_reason_from_cpg(CPG_REASON_PROCDOWN), CS_REASON_PROCDOWN);
	assert_int_equal(cs_reason_from_cpg(CPG_REASON_UNDEFINED), CS_REASON_UNKNOWN);
	assert_int_equal(cs_reason_from_cpg(6), CS_REASON_UNKNOWN);
	assert_int_equal(cs_reason_from_cpg(UINT32_MAX), CS_REASON_UNKNOWN);
}

static void test_reason_name(void **state)
{
	assert_string_equal(cs_reason_name(CS_REASON_JOIN), "JOIN");
	assert_string_equal(cs_reason_name(CS_REASON_LEAVE), "LEAVE");
	assert_string_equal(cs_reason_name(CS_REASON_NODEDOWN), "NODEDOWN");
	assert_string_equal(cs_reason_name(CS_REASON_NODEUP), "NODEUP");
	assert_string_equal(cs_reason_name(CS_REASON_PROCDOWN), "PROCDOWN");
	assert_string_equal(cs_reason_name(CS_REASON_UNKNOWN), "UNKNOWN");
	assert_string_equal(cs_reason_name(42), "UNKNOWN");
}

static void test_members_from_cpg_copies_and_maps(void **state)
{
	const struct cpg_address src[3] = {
		{.nodeid = 1, .pid = 100, .reason = CPG_REASON_JOIN},
		{.nodeid = 2, .pid = 200, .reason = CPG_REASON_NODEDOWN},
		{.nodeid = 7, .pid = 700, .reason = 77},
	};
	struct cs_member dst[3];

	memset(dst, 0xa5, sizeof(dst));
	assert_int_equal(cs_members_from_cpg(dst, ARRAY_SIZE(dst), src, 3), 3);
	assert_int_equal(dst[0].nodeid, 1);
	assert_int_equal(dst[0].pid, 100);
	assert_int_equal(dst[0].reason, CS_REASON_JOIN);
	assert_int_equal(dst[1].nodeid, 2);
	assert_int_equal(dst[1].pid, 200);
	assert_int_equal(dst[1].reason, CS_REASON_NODEDOWN);
	assert_int_equal(dst[2].nodeid, 7);
	assert_int_equal(dst[2].pid, 700);
	assert_int_equal(dst[2].reason, CS_REASON_UNKNOWN);
}

static void test_members_from_cpg_truncates_to_cap(void **state)
{
	const struct cpg_address src[3] = {{1, 10, 1}, {2, 20, 1}, {3, 30, 1}};
	struct cs_member dst[3];

	memset(dst, 0xa5, sizeof(dst));
	assert_int_equal(cs_members_from_cpg(dst, 2, src, 3), 2);
	assert_int_equal(dst[1].nodeid, 2);
	/* nothing written past cap */
	assert_int_equal(dst[2].nodeid, 0xa5a5a5a5);
	assert_int_equal(cs_members_from_cpg(dst, 3, src, 0), 0);
}

static void test_members_str(void **state)
{
	const struct cs_member m[2] = {{1, 100, CS_REASON_JOIN}, {2, 200, CS_REASON_NODEDOWN}};
	char buf[64], small[8];

	assert_int_equal(cs_members_str(buf, sizeof(buf), m, 2, false), 0);
	assert_string_equal(buf, "1:100,2:200");
	assert_int_equal(cs_members_str(buf, sizeof(buf), m, 2, true), 0);
	assert_string_equal(buf, "1:100(JOIN),2:200(NODEDOWN)");
	assert_int_equal(cs_members_str(buf, sizeof(buf), m, 0, true), 0);
	assert_string_equal(buf, "");
	assert_int_equal(cs_members_str(small, sizeof(small), m, 2, false), -ENOSPC);
	assert_int_equal(strlen(small), sizeof(small) - 1); /* truncated, terminated */
	assert_memory_equal(small, "1:100,2", 8);
}

/* ---- votequorum ---- */

static void test_vq_flags_match_corosync_bits(void **state)
{
	static const struct {
		unsigned int vq;
		uint32_t cs;
	} pairs[] = {
		{VOTEQUORUM_INFO_TWONODE, CS_VQ_TWONODE},
		{VOTEQUORUM_INFO_QUORATE, CS_VQ_QUORATE},
		{VOTEQUORUM_INFO_WAIT_FOR_ALL, CS_VQ_WAIT_FOR_ALL},
		{VOTEQUORUM_INFO_LAST_MAN_STANDING, CS_VQ_LAST_MAN_STANDING},
		{VOTEQUORUM_INFO_AUTO_TIE_BREAKER, CS_VQ_AUTO_TIE_BREAKER},
		{VOTEQUORUM_INFO_ALLOW_DOWNSCALE, CS_VQ_ALLOW_DOWNSCALE},
		{VOTEQUORUM_INFO_QDEVICE_REGISTERED, CS_VQ_QDEVICE_REGISTERED},
		{VOTEQUORUM_INFO_QDEVICE_ALIVE, CS_VQ_QDEVICE_ALIVE},
		{VOTEQUORUM_INFO_QDEVICE_CAST_VOTE, CS_VQ_QDEVICE_CAST_VOTE},
		{VOTEQUORUM_INFO_QDEVICE_MASTER_WINS, CS_VQ_QDEVICE_MASTER_WINS},
	};
	size_t i;

	assert_int_equal(ARRAY_SIZE(pairs), CS_VQ_NFLAGS);
	for (i = 0; i < ARRAY_SIZE(pairs); i++)
		assert_int_equal(cs_vq_flags_from_votequorum(pairs[i].vq), pairs[i].cs);
	assert_int_equal(cs_vq_flags_from_votequorum(VOTEQUORUM_INFO_TWONODE |
						     VOTEQUORUM_INFO_QUORATE |
						     VOTEQUORUM_INFO_WAIT_FOR_ALL | (1u << 20)),
			 CS_VQ_TWONODE | CS_VQ_QUORATE | CS_VQ_WAIT_FOR_ALL);
	assert_int_equal(cs_vq_flags_from_votequorum(0), 0);
}

static void test_vq_flag_names(void **state)
{
	assert_string_equal(cs_vq_flag_name(CS_VQ_TWONODE), "TWONODE");
	assert_string_equal(cs_vq_flag_name(CS_VQ_QUORATE), "QUORATE");
	assert_string_equal(cs_vq_flag_name(CS_VQ_WAIT_FOR_ALL), "WAIT_FOR_ALL");
	assert_string_equal(cs_vq_flag_name(CS_VQ_QDEVICE_MASTER_WINS), "QDEVICE_MASTER_WINS");
	assert_null(cs_vq_flag_name(0));
	assert_null(cs_vq_flag_name(0x400));
	assert_null(cs_vq_flag_name(CS_VQ_TWONODE | CS_VQ_QUORATE)); /* one bit only */
}

static void test_vq_flags_str(void **state)
{
	char buf[256], small[12];

	/* the two_node cluster of the design, as clusterctl shows it */
	assert_int_equal(cs_vq_flags_str(CS_VQ_QUORATE | CS_VQ_TWONODE | CS_VQ_WAIT_FOR_ALL, ",",
					 buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "TWONODE,QUORATE,WAIT_FOR_ALL");
	assert_int_equal(cs_vq_flags_str(CS_VQ_TWONODE | CS_VQ_WAIT_FOR_ALL, " ", buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "TWONODE WAIT_FOR_ALL");
	assert_int_equal(cs_vq_flags_str(0, ",", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(cs_vq_flags_str(CS_VQ_QUORATE | 0x400 | 0x800, ",", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "QUORATE,0xc00");
	assert_int_equal(cs_vq_flags_str(0x1000, ",", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0x1000");
	assert_int_equal(cs_vq_flags_str(0x3ff, ",", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "TWONODE,QUORATE,WAIT_FOR_ALL,LAST_MAN_STANDING,AUTO_TIE_BREAKER,"
				 "ALLOW_DOWNSCALE,QDEVICE_REGISTERED,QDEVICE_ALIVE,"
				 "QDEVICE_CAST_VOTE,QDEVICE_MASTER_WINS");
	assert_int_equal(cs_vq_flags_str(CS_VQ_TWONODE | CS_VQ_QUORATE, ",", small, sizeof(small)),
			 -ENOSPC);
	assert_string_equal(small, "TWONODE,QUO");
}

static void test_vq_info_from_votequorum(void **state)
{
	struct votequorum_info vi = {
		.node_id = 1,
		.node_state = VOTEQUORUM_NODESTATE_MEMBER,
		.node_votes = 1,
		.node_expected_votes = 2,
		.highest_expected = 2,
		.total_votes = 1,
		.quorum = 1,
		.flags = VOTEQUORUM_INFO_TWONODE | VOTEQUORUM_INFO_QUORATE |
			 VOTEQUORUM_INFO_WAIT_FOR_ALL,
	};
	struct cs_vq_info info = {.ring = {.nodeid = 1, .seq = 13}};

	cs_vq_info_from_votequorum(&info, &vi);
	assert_false(info.valid); /* the adapter sets it, after a successful getinfo */
	assert_true(info.quorate);
	assert_int_equal(info.node_votes, 1);
	assert_int_equal(info.expected_votes, 2);
	assert_int_equal(info.highest_expected, 2);
	assert_int_equal(info.total_votes, 1);
	assert_int_equal(info.quorum, 1);
	assert_int_equal(info.flags, CS_VQ_TWONODE | CS_VQ_QUORATE | CS_VQ_WAIT_FOR_ALL);
	assert_int_equal(info.ring.nodeid, 1); /* untouched: it comes from another callback */
	assert_int_equal(info.ring.seq, 13);

	/* a lone node after a cold start: wait_for_all blocks it */
	vi.flags = VOTEQUORUM_INFO_TWONODE | VOTEQUORUM_INFO_WAIT_FOR_ALL;
	cs_vq_info_from_votequorum(&info, &vi);
	assert_false(info.quorate);
	assert_int_equal(info.flags, CS_VQ_TWONODE | CS_VQ_WAIT_FOR_ALL);
}

/* ---- errors and names ---- */

static void test_err_to_errno(void **state)
{
	assert_int_equal(cs_err_to_errno(CS_OK), 0);
	assert_int_equal(cs_err_to_errno(CS_ERR_TRY_AGAIN), -EAGAIN);
	assert_int_equal(cs_err_to_errno(CS_ERR_QUEUE_FULL), -EAGAIN);
	assert_int_equal(cs_err_to_errno(CS_ERR_BUSY), -EAGAIN);
	assert_int_equal(cs_err_to_errno(CS_ERR_LIBRARY), -ENOTCONN);
	assert_int_equal(cs_err_to_errno(CS_ERR_BAD_HANDLE), -ENOTCONN);
	assert_int_equal(cs_err_to_errno(CS_ERR_NAME_TOO_LONG), -ENAMETOOLONG);
	assert_int_equal(cs_err_to_errno(CS_ERR_NOT_EXIST), -ENOENT);
	assert_int_equal(cs_err_to_errno(CS_ERR_ACCESS), -EACCES);
	assert_int_equal(cs_err_to_errno(CS_ERR_TOO_BIG), -EMSGSIZE);
	assert_int_equal(cs_err_to_errno(CS_ERR_NOT_SUPPORTED), -ENOTSUP);
	assert_int_equal(cs_err_to_errno(CS_ERR_MESSAGE_ERROR), -EIO);
	assert_int_equal(cs_err_to_errno(9999), -EIO);
}

static void test_err_name(void **state)
{
	assert_string_equal(cs_err_name(CS_OK), "CS_OK");
	assert_string_equal(cs_err_name(CS_ERR_LIBRARY), "CS_ERR_LIBRARY");
	assert_string_equal(cs_err_name(CS_ERR_BAD_HANDLE), "CS_ERR_BAD_HANDLE");
	assert_string_equal(cs_err_name(CS_ERR_TRY_AGAIN), "CS_ERR_TRY_AGAIN");
	assert_string_equal(cs_err_name(CS_ERR_TOO_MANY_GROUPS), "CS_ERR_TOO_MANY_GROUPS");
	assert_string_equal(cs_err_name(CS_ERR_SECURITY), "CS_ERR_SECURITY");
	assert_string_equal(cs_err_name(0), "CS_ERR_UNKNOWN");
	assert_string_equal(cs_err_name(29), "CS_ERR_UNKNOWN"); /* a gap in corosync's enum */
	assert_string_equal(cs_err_name(-1), "CS_ERR_UNKNOWN");
	assert_string_equal(cs_err_name(1000), "CS_ERR_UNKNOWN");
}

static void test_group_name(void **state)
{
	char buf[CS_GROUP_NAME_MAX + 1], small[16], name[CS_GROUP_NAME_MAX + 2];

	assert_int_equal(cs_group_name(buf, sizeof(buf), "prod"), 13);
	assert_string_equal(buf, "clusterd:prod");
	assert_int_equal(cs_group_name(buf, sizeof(buf), ""), -EINVAL);
	assert_int_equal(cs_group_name(buf, sizeof(buf), NULL), -EINVAL);

	/* 9 bytes of prefix: a 119-byte cluster name is the longest that fits 128 */
	memset(name, 'c', 119);
	name[119] = '\0';
	assert_int_equal(cs_group_name(buf, sizeof(buf), name), CS_GROUP_NAME_MAX);
	assert_int_equal(strlen(buf), CS_GROUP_NAME_MAX);
	assert_memory_equal(buf, "clusterd:ccc", 12);
	name[119] = 'c';
	name[120] = '\0';
	assert_int_equal(cs_group_name(buf, sizeof(buf), name), -ENAMETOOLONG);

	/* the caller's buffer is a limit too */
	assert_int_equal(cs_group_name(small, sizeof(small), "abcdef"), 15);
	assert_string_equal(small, "clusterd:abcdef");
	assert_int_equal(cs_group_name(small, sizeof(small), "abcdefg"), -ENAMETOOLONG);
}

/* ---- send queue with a fake transmit ---- */

#define FAKE_MAX 64

struct fake_xmit {
	int script[FAKE_MAX]; /* result of call i; calls past nscript succeed */
	unsigned int nscript;
	unsigned int calls;
	unsigned int nsent;
	char sent[FAKE_MAX][32]; /* what "left", as strings */
};

static int fake_xmit(void *ctx, const void *msg, size_t len)
{
	struct fake_xmit *f = ctx;
	int rc = f->calls < f->nscript ? f->script[f->calls] : 0;

	f->calls++;
	if (rc)
		return rc;
	assert_true(f->nsent < FAKE_MAX && len < sizeof(f->sent[0]));
	memcpy(f->sent[f->nsent], msg, len);
	f->sent[f->nsent][len] = '\0';
	f->nsent++;
	return 0;
}

static void fake_script(struct fake_xmit *f, unsigned int n, ...)
{
	va_list ap;
	unsigned int i;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		f->script[f->calls + i] = va_arg(ap, int);
	va_end(ap);
	f->nscript = f->calls + n;
}

static int qsend(struct cs_sendq *q, struct fake_xmit *f, const char *s)
{
	return cs_sendq_send(q, s, strlen(s), fake_xmit, f);
}

static void test_sendq_init_limits(void **state)
{
	struct cs_sendq q;

	assert_int_equal(cs_sendq_init(&q, 0, 100), -EINVAL);
	assert_int_equal(cs_sendq_init(&q, 4, 0), -EINVAL);
	assert_int_equal(cs_sendq_init(&q, 4, 100), 0);
	assert_int_equal(cs_sendq_len(&q), 0);
	assert_int_equal(cs_sendq_retry_ms(&q), 1);
	cs_sendq_release(&q);
}

static void test_sendq_sends_at_once_when_idle(void **state)
{
	struct fake_xmit f = {0};
	struct cs_sendq q;

	assert_int_equal(cs_sendq_init(&q, 4, 1024), 0);
	assert_int_equal(qsend(&q, &f, "a"), 0);
	assert_int_equal(qsend(&q, &f, "b"), 0);
	assert_int_equal(f.nsent, 2);
	assert_string_equal(f.sent[0], "a");
	assert_string_equal(f.sent[1], "b");
	assert_int_equal(cs_sendq_len(&q), 0);
	assert_int_equal(q.bytes, 0);
	cs_sendq_release(&q);
}

static void test_sendq_try_again_queues_and_keeps_order(void **state)
{
	struct fake_xmit f = {0};
	struct cs_sendq q;

	assert_int_equal(cs_sendq_init(&q, 8, 1024), 0);
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(qsend(&q, &f, "m1"), CS_SENDQ_QUEUED);
	assert_int_equal(f.calls, 1);
	/* queued messages go first: m2 must not overtake m1, not even try */
	assert_int_equal(qsend(&q, &f, "m2"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "m3"), CS_SENDQ_QUEUED);
	assert_int_equal(f.calls, 1);
	assert_int_equal(cs_sendq_len(&q), 3);
	assert_int_equal(q.bytes, 6);
	assert_int_equal(cs_sendq_retry_ms(&q), 1);

	assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), 0);
	assert_int_equal(f.nsent, 3);
	assert_string_equal(f.sent[0], "m1");
	assert_string_equal(f.sent[1], "m2");
	assert_string_equal(f.sent[2], "m3");
	assert_int_equal(cs_sendq_len(&q), 0);
	assert_int_equal(q.bytes, 0);

	/* empty again: the next message goes straight out */
	assert_int_equal(qsend(&q, &f, "m4"), 0);
	assert_string_equal(f.sent[3], "m4");
	cs_sendq_release(&q);
}

static void test_sendq_queued_copy_is_independent(void **state)
{
	struct fake_xmit f = {0};
	struct cs_sendq q;
	char msg[] = "abc";

	assert_int_equal(cs_sendq_init(&q, 4, 1024), 0);
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(cs_sendq_send(&q, msg, 3, fake_xmit, &f), CS_SENDQ_QUEUED);
	msg[0] = 'X'; /* the caller reuses its buffer at once */
	assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), 0);
	assert_string_equal(f.sent[0], "abc");
	cs_sendq_release(&q);
}

static void test_sendq_partial_flush_and_backoff(void **state)
{
	static const uint32_t backoff[] = {2, 4, 8, 16, 32, 50, 50, 50};
	struct fake_xmit f = {0};
	struct cs_sendq q;
	size_t i;

	assert_int_equal(cs_sendq_init(&q, 8, 1024), 0);
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(qsend(&q, &f, "1"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "2"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "3"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "4"), CS_SENDQ_QUEUED);

	/* corosync takes two, then pushes back: progress keeps the retry at 1 ms */
	fake_script(&f, 3, 0, 0, -EAGAIN);
	assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), CS_SENDQ_QUEUED);
	assert_int_equal(f.nsent, 2);
	assert_int_equal(cs_sendq_len(&q), 2);
	assert_int_equal(cs_sendq_retry_ms(&q), 1);

	/* flushes that send nothing double the delay up to the cap */
	for (i = 0; i < ARRAY_SIZE(backoff); i++) {
		fake_script(&f, 1, -EAGAIN);
		assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), CS_SENDQ_QUEUED);
		assert_int_equal(cs_sendq_retry_ms(&q), backoff[i]);
	}
	assert_int_equal(f.nsent, 2);

	/* then it drains, in order, and the back-off resets */
	assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), 0);
	assert_int_equal(f.nsent, 4);
	assert_string_equal(f.sent[2], "3");
	assert_string_equal(f.sent[3], "4");
	assert_int_equal(cs_sendq_retry_ms(&q), 1);

	/* a new stall starts again at 1 ms */
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(qsend(&q, &f, "5"), CS_SENDQ_QUEUED);
	assert_int_equal(cs_sendq_retry_ms(&q), 1);
	cs_sendq_release(&q); /* frees "5" (ASan checks) */
}

static void test_sendq_fatal_error_on_send(void **state)
{
	struct fake_xmit f = {0};
	struct cs_sendq q;

	assert_int_equal(cs_sendq_init(&q, 4, 1024), 0);
	fake_script(&f, 1, -ENOTCONN);
	assert_int_equal(qsend(&q, &f, "x"), -ENOTCONN);
	assert_int_equal(cs_sendq_len(&q), 0); /* not taken */
	assert_int_equal(f.nsent, 0);
	cs_sendq_release(&q);
}

static void test_sendq_fatal_error_on_flush_keeps_head(void **state)
{
	struct fake_xmit f = {0};
	struct cs_sendq q;

	assert_int_equal(cs_sendq_init(&q, 4, 1024), 0);
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(qsend(&q, &f, "a"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "b"), CS_SENDQ_QUEUED);
	fake_script(&f, 2, 0, -ENOTCONN);
	assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), -ENOTCONN);
	assert_int_equal(f.nsent, 1);
	assert_string_equal(f.sent[0], "a");
	assert_int_equal(cs_sendq_len(&q), 1);
	assert_int_equal(q.bytes, 1);
	cs_sendq_release(&q);
}

static void test_sendq_limits(void **state)
{
	struct fake_xmit f = {0};
	struct cs_sendq q;
	static char big[CS_MSG_MAX + 1];

	/* by count */
	assert_int_equal(cs_sendq_init(&q, 2, 1024), 0);
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(qsend(&q, &f, "a"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "b"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "c"), -ENOBUFS);
	assert_int_equal(cs_sendq_len(&q), 2);
	cs_sendq_release(&q);

	/* by bytes */
	memset(&f, 0, sizeof(f));
	assert_int_equal(cs_sendq_init(&q, 8, 10), 0);
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(qsend(&q, &f, "123456"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "7890"), CS_SENDQ_QUEUED);
	assert_int_equal(qsend(&q, &f, "x"), -ENOBUFS);
	assert_int_equal(q.bytes, 10);
	/* a message too big for the byte limit fails even on an empty queue under stall */
	assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), 0);
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(qsend(&q, &f, "12345678901"), -ENOBUFS);
	assert_int_equal(cs_sendq_len(&q), 0);
	cs_sendq_release(&q);

	/* by message size */
	memset(&f, 0, sizeof(f));
	assert_int_equal(cs_sendq_init(&q, 8, 1u << 20), 0);
	assert_int_equal(cs_sendq_send(&q, big, 0, fake_xmit, &f), -EMSGSIZE);
	assert_int_equal(cs_sendq_send(&q, big, CS_MSG_MAX + 1, fake_xmit, &f), -EMSGSIZE);
	assert_int_equal(f.calls, 0);
	fake_script(&f, 1, -EAGAIN);
	assert_int_equal(cs_sendq_send(&q, big, CS_MSG_MAX, fake_xmit, &f), CS_SENDQ_QUEUED);
	assert_int_equal(q.bytes, CS_MSG_MAX);
	cs_sendq_release(&q);
}

static void test_sendq_ring_wraps_in_order(void **state)
{
	struct fake_xmit f = {0};
	struct cs_sendq q;
	char msg[8], want[8];
	unsigned int round, i, next = 0, expect = 0;

	assert_int_equal(cs_sendq_init(&q, 3, 1024), 0);
	for (round = 0; round < 10; round++) {
		f.nsent = 0;
		fake_script(&f, 1, -EAGAIN);
		for (i = 0; i < 3; i++) {
			snprintf(msg, sizeof(msg), "%u", next++);
			assert_int_equal(qsend(&q, &f, msg), CS_SENDQ_QUEUED);
		}
		/* take one per flush so head walks around the ring */
		fake_script(&f, 4, 0, -EAGAIN, 0, 0);
		assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), CS_SENDQ_QUEUED);
		assert_int_equal(cs_sendq_flush(&q, fake_xmit, &f), 0);
		assert_int_equal(f.nsent, 3);
		for (i = 0; i < 3; i++) {
			snprintf(want, sizeof(want), "%u", expect++);
			assert_string_equal(f.sent[i], want);
		}
	}
	cs_sendq_release(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_from_cpg_maps_every_reason),
		cmocka_unit_test(test_reason_name),
		cmocka_unit_test(test_members_from_cpg_copies_and_maps),
		cmocka_unit_test(test_members_from_cpg_truncates_to_cap),
		cmocka_unit_test(test_members_str),
		cmocka_unit_test(test_vq_flags_match_corosync_bits),
		cmocka_unit_test(test_vq_flag_names),
		cmocka_unit_test(test_vq_flags_str),
		cmocka_unit_test(test_vq_info_from_votequorum),
		cmocka_unit_test(test_err_to_errno),
		cmocka_unit_test(test_err_name),
		cmocka_unit_test(test_group_name),
		cmocka_unit_test(test_sendq_init_limits),
		cmocka_unit_test(test_sendq_sends_at_once_when_idle),
		cmocka_unit_test(test_sendq_try_again_queues_and_keeps_order),
		cmocka_unit_test(test_sendq_queued_copy_is_independent),
		cmocka_unit_test(test_sendq_partial_flush_and_backoff),
		cmocka_unit_test(test_sendq_fatal_error_on_send),
		cmocka_unit_test(test_sendq_fatal_error_on_flush_keeps_head),
		cmocka_unit_test(test_sendq_limits),
		cmocka_unit_test(test_sendq_ring_wraps_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
