/* SPDX-License-Identifier: MIT */
/*
 * cs-adapter-probe: drives clusterd's corosync adapter (clusterd/corosync.h)
 * against a real corosync and judges what it reports. Run it inside the
 * network namespace of a single-node corosync (tests/corosync/run-cs-adapter.sh
 * builds one).
 *
 * Phases, each with its own deadline:
 *   init     cs_open; our own confchg (JOIN, we are a member), a totem ring,
 *            quorum (quorate, same ring as the totem), votequorum details;
 *   burst    -n numbered 8-byte messages sent back to back with cs_send();
 *            every one must come back from us, in order, none missing;
 *   big      the same with -b messages of -s bytes (default 200 x 16 KiB):
 *            corosync's IPC fills up and answers "try again", so the send
 *            queue and its retry timer carry part of them (the count queued
 *            at most is printed); contents are checked too;
 *   peers    a child probe joins and leaves with cs_close (LEAVE), one is
 *            SIGKILLed (PROCDOWN), one calls cs_close() inside its deliver
 *            callback and must exit cleanly;
 *   kill     (-k PID) SIGKILL (or -S TERM: a graceful stop) of corosync;
 *            lost() must fire within -L ms, cs_send() must then say
 *            -ENOTCONN, and cs_close() runs inside lost().
 *
 * Every check prints "ok ..." or "FAIL ...", the run ends with
 * "N passed, N failed"; exit status 0 only when nothing failed.
 *
 * Usage: cs-adapter-probe [-c cluster] [-n count] [-b big-count] [-s big-size]
 *        [-k corosync-pid] [-S KILL|TERM] [-L ms]
 *        [-m main|idle|closecb] [-v (the adapter's log on stderr)]
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "clusterd/corosync.h"
#include "lib/byteorder.h"
#include "lib/log.h"

#define PROBE_MAGIC   0x43534150u /* "CSAP": a burst message */
#define CLOSECB_MAGIC 0x43534343u /* "CSCC": the closecb child's message */
#define PHASE_MS      20000

enum phase {
	PH_INIT,
	PH_BURST,
	PH_BIG,
	PH_PEER_TERM,
	PH_PEER_KILL,
	PH_PEER_CLOSECB,
	PH_KILL,
	PH_DONE,
};

static const char *const phase_names[] = {"init",	   "burst",	    "big",
					  "peer-leave",	   "peer-procdown", "peer-closecb",
					  "kill-corosync", "done"};

struct probe {
	qb_loop_t *loop;
	struct cs *cs;
	const char *exe;
	const char *cluster;
	uint32_t nodeid;
	pid_t pid;
	enum phase phase;
	qb_loop_timer_handle deadline;
	/* init facts */
	bool self_joined, totem_seen, quorum_seen, quorate;
	struct cs_ring totem_ring, quorum_ring;
	/* burst */
	uint32_t count, next_seq; /* of the current burst */
	uint32_t msg_size;	  /* of the current burst's messages */
	uint32_t small_count, big_count, big_size;
	uint8_t *msg_buf; /* big_size bytes */
	bool order_broken;
	/* peers */
	pid_t child;
	bool child_joined;
	/* kill */
	pid_t corosync_pid;
	int kill_sig;
	uint32_t lost_limit_ms;
	struct timespec kill_ts;
	int passed, failed;
	/* closecb / idle child modes */
	bool closed;
	uint32_t after_close;
};

static void check(struct probe *p, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(struct probe *p, bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		p->passed++;
	else
		p->failed++;
}

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - t0->tv_nsec) / 1000000);
}

static void finish(struct probe *p)
{
	p->phase = PH_DONE;
	qb_loop_stop(p->loop);
}

static void deadline_fire(void *data)
{
	struct probe *p = data;

	check(p, false, "phase %s did not complete within %d ms", phase_names[p->phase], PHASE_MS);
	finish(p);
}

static void phase_enter(struct probe *p, enum phase ph);

static bool has_member(const struct cs_member *m, size_t n, uint32_t nodeid, pid_t pid,
		       uint32_t reason)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].nodeid == nodeid && m[i].pid == (uint32_t)pid &&
		    (reason == CS_REASON_UNKNOWN || m[i].reason == reason))
			return true;
	return false;
}

static void init_maybe_done(struct probe *p)
{
	struct cs_vq_info vi;
	char flags[128];

	if (!p->self_joined || !p->totem_seen || !p->quorum_seen)
		return;
	check(p, p->quorate, "quorum reported: quorate=%d ring %" PRIu32 ".%" PRIu64, p->quorate,
	      p->quorum_ring.nodeid, p->quorum_ring.seq);
	check(p, p->quorum_ring.seq == p->totem_ring.seq,
	      "quorum ring seq %" PRIu64 " == CPG totem ring seq %" PRIu64, p->quorum_ring.seq,
	      p->totem_ring.seq);
	cs_vq_info(p->cs, &vi);
	cs_vq_flags_str(vi.flags, ",", flags, sizeof(flags));
	check(p,
	      vi.valid && vi.quorate && (vi.flags & CS_VQ_QUORATE) && vi.expected_votes == 1 &&
		      vi.total_votes == 1 && vi.quorum == 1,
	      "votequorum: valid=%d quorate=%d expected=%" PRIu32 " total=%" PRIu32
	      " quorum=%" PRIu32 " flags=%s ring %" PRIu32 ".%" PRIu64,
	      vi.valid, vi.quorate, vi.expected_votes, vi.total_votes, vi.quorum, flags,
	      vi.ring.nodeid, vi.ring.seq);
	phase_enter(p, PH_BURST);
}

static void burst_send(struct probe *p)
{
	uint8_t *msg = p->msg_buf;
	uint32_t i;
	int rc = 0;
	size_t max_queued = 0;

	for (i = 0; i < p->count && !rc; i++) {
		put_be32(msg, PROBE_MAGIC);
		put_be32(msg + 4, i);
		memset(msg + 8, (int)(i & 0xff), p->msg_size - 8);
		rc = cs_send(p->cs, msg, p->msg_size);
		if (cs_send_queued(p->cs) > max_queued)
			max_queued = cs_send_queued(p->cs);
	}
	check(p, rc == 0,
	      "cs_send of %" PRIu32 " messages of %" PRIu32 " bytes back to back: rc=%d "
	      "(%zu queued at most)",
	      i, p->msg_size, rc, max_queued);
	if (rc)
		finish(p);
}

static void spawn_child(struct probe *p, const char *mode)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(p->exe, p->exe, "-m", mode, "-c", p->cluster, (char *)NULL);
		_exit(127);
	}
	p->child = pid;
	p->child_joined = false;
	if (pid < 0) {
		check(p, false, "fork: %s", strerror(errno));
		finish(p);
	}
}

/* Reaps the child (it must be gone or about to go) and returns its wait status. */
static int reap_child(struct probe *p)
{
	int status = -1;
	int i;

	for (i = 0; i < 500; i++) {
		if (waitpid(p->child, &status, WNOHANG) == p->child)
			break;
		usleep(10000);
	}
	p->child = 0;
	return status;
}

static void phase_enter(struct probe *p, enum phase ph)
{
	qb_loop_timer_del(p->loop, p->deadline);
	p->phase = ph;
	switch (ph) {
	case PH_BURST:
		p->count = p->small_count;
		p->msg_size = 8;
		burst_send(p);
		break;
	case PH_BIG:
		p->count = p->big_count;
		p->msg_size = p->big_size;
		p->next_seq = 0;
		p->order_broken = false;
		burst_send(p);
		break;
	case PH_PEER_TERM:
		spawn_child(p, "idle");
		break;
	case PH_PEER_KILL:
		spawn_child(p, "idle");
		break;
	case PH_PEER_CLOSECB:
		spawn_child(p, "closecb");
		break;
	case PH_KILL:
		if (!p->corosync_pid) {
			finish(p);
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &p->kill_ts);
		if (kill(p->corosync_pid, p->kill_sig)) {
			check(p, false, "kill corosync %d: %s", (int)p->corosync_pid,
			      strerror(errno));
			finish(p);
			return;
		}
		break;
	default:
		finish(p);
		return;
	}
	if (p->phase != PH_DONE)
		qb_loop_timer_add(p->loop, QB_LOOP_LOW, PHASE_MS * 1000000ull, p, deadline_fire,
				  &p->deadline);
}

static void peer_confchg(struct probe *p, const struct cs_confchg *cc)
{
	static const uint32_t expect[] = {
		[PH_PEER_TERM] = CS_REASON_LEAVE,
		[PH_PEER_KILL] = CS_REASON_PROCDOWN,
		[PH_PEER_CLOSECB] = CS_REASON_LEAVE,
	};
	uint32_t want = expect[p->phase];

	if (!p->child_joined &&
	    has_member(cc->joined, cc->njoined, p->nodeid, p->child, CS_REASON_JOIN)) {
		p->child_joined = true;
		check(p,
		      has_member(cc->members, cc->nmembers, p->nodeid, p->child, 0) &&
			      cc->nmembers == 2,
		      "%s: child %d joined (JOIN), 2 members", phase_names[p->phase],
		      (int)p->child);
		if (p->phase == PH_PEER_TERM)
			kill(p->child, SIGTERM);
		else if (p->phase == PH_PEER_KILL)
			kill(p->child, SIGKILL);
		return;
	}
	if (!p->child_joined || !has_member(cc->left, cc->nleft, p->nodeid, p->child, 0))
		return;
	check(p, has_member(cc->left, cc->nleft, p->nodeid, p->child, want) && cc->nmembers == 1,
	      "%s: child %d left with reason %s (got %s)", phase_names[p->phase], (int)p->child,
	      cs_reason_name(want), cs_reason_name(cc->left[0].reason));
	if (p->phase == PH_PEER_CLOSECB) {
		int st = reap_child(p);

		check(p, WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "closecb child: cs_close() inside deliver, exit status 0 (got 0x%x)", st);
	} else {
		reap_child(p);
	}
	phase_enter(p, p->phase + 1);
}

static void on_confchg(void *arg, const struct cs_confchg *cc)
{
	struct probe *p = arg;

	if (p->phase == PH_INIT && !p->self_joined) {
		p->self_joined = true;
		check(p, has_member(cc->joined, cc->njoined, p->nodeid, p->pid, CS_REASON_JOIN),
		      "own confchg: joined contains %" PRIu32 ":%d(JOIN)", p->nodeid, (int)p->pid);
		check(p, has_member(cc->members, cc->nmembers, p->nodeid, p->pid, 0),
		      "own confchg: members contain us (%zu member(s))", cc->nmembers);
		init_maybe_done(p);
	} else if (p->phase >= PH_PEER_TERM && p->phase <= PH_PEER_CLOSECB) {
		peer_confchg(p, cc);
	}
}

static void on_deliver(void *arg, uint32_t nodeid, uint32_t pid, const void *msg, size_t len)
{
	struct probe *p = arg;
	uint32_t seq;

	if (nodeid != p->nodeid || pid != (uint32_t)p->pid)
		return; /* a child's */
	if (len != p->msg_size || get_be32(msg) != PROBE_MAGIC) {
		check(p, false, "deliver: unexpected message of %zu bytes from us", len);
		return;
	}
	seq = get_be32((const uint8_t *)msg + 4);
	if (len > 8 && ((const uint8_t *)msg)[len - 1] != (seq & 0xff) && !p->order_broken) {
		p->order_broken = true;
		check(p, false, "deliver: message %" PRIu32 " has wrong payload bytes", seq);
	}
	if (seq != p->next_seq && !p->order_broken) {
		p->order_broken = true;
		check(p, false, "deliver: message %" PRIu32 " arrived where %" PRIu32 " was due",
		      seq, p->next_seq);
	}
	p->next_seq = seq + 1;
	if ((p->phase == PH_BURST || p->phase == PH_BIG) && p->next_seq == p->count) {
		check(p, !p->order_broken,
		      "deliver: all %" PRIu32 " messages of %" PRIu32 " bytes back, in order",
		      p->count, p->msg_size);
		phase_enter(p, p->phase + 1);
	}
}

static void on_totem(void *arg, const struct cs_ring *ring, const uint32_t *members, size_t n)
{
	struct probe *p = arg;

	if (p->phase != PH_INIT || p->totem_seen)
		return;
	p->totem_seen = true;
	p->totem_ring = *ring;
	check(p, n == 1 && members[0] == p->nodeid,
	      "totem ring %" PRIu32 ".%" PRIu64 " with %zu member(s), first %" PRIu32, ring->nodeid,
	      ring->seq, n, n ? members[0] : 0);
	init_maybe_done(p);
}

static void on_quorum(void *arg, bool quorate, const struct cs_ring *ring, const uint32_t *nodes,
		      size_t n)
{
	struct probe *p = arg;

	p->quorate = quorate;
	p->quorum_ring = *ring;
	if (p->phase == PH_INIT && !p->quorum_seen) {
		p->quorum_seen = true;
		init_maybe_done(p);
	}
}

static void on_lost(void *arg, const char *why)
{
	struct probe *p = arg;
	uint64_t ms;
	int rc;

	if (p->phase != PH_KILL) {
		check(p, false, "lost() in phase %s: %s", phase_names[p->phase], why);
		cs_close(p->cs);
		p->cs = NULL;
		finish(p);
		return;
	}
	ms = ms_since(&p->kill_ts);
	check(p, ms <= p->lost_limit_ms,
	      "lost() %" PRIu64 " ms after SIG%s of corosync (limit %" PRIu32 " ms): %s", ms,
	      p->kill_sig == SIGKILL ? "KILL" : "TERM", p->lost_limit_ms, why);
	rc = cs_send(p->cs, "x", 1);
	check(p, rc == -ENOTCONN, "cs_send after lost(): %d (-ENOTCONN expected)", rc);
	cs_close(p->cs); /* inside lost(): must be safe */
	p->cs = NULL;
	finish(p);
}

static const struct cs_ops probe_ops = {
	.confchg = on_confchg,
	.deliver = on_deliver,
	.totem = on_totem,
	.quorum = on_quorum,
	.lost = on_lost,
};

/* ---- child modes ---- */

static void child_noop_confchg(void *arg, const struct cs_confchg *cc)
{
	struct probe *p = arg;

	p->after_close += p->closed;
}

static void child_closecb_deliver(void *arg, uint32_t nodeid, uint32_t pid, const void *msg,
				  size_t len)
{
	struct probe *p = arg;

	if (p->closed) {
		p->after_close++;
		return;
	}
	if (nodeid != p->nodeid || pid != (uint32_t)p->pid)
		return;
	cs_close(p->cs); /* inside a corosync dispatch: the teardown is deferred */
	p->closed = true;
	qb_loop_stop(p->loop);
}

static void child_noop_deliver(void *arg, uint32_t nodeid, uint32_t pid, const void *msg,
			       size_t len)
{
}

static void child_noop_totem(void *arg, const struct cs_ring *ring, const uint32_t *m, size_t n)
{
}

static void child_noop_quorum(void *arg, bool q, const struct cs_ring *r, const uint32_t *nodes,
			      size_t n)
{
}

static void child_lost(void *arg, const char *why)
{
	struct probe *p = arg;

	fprintf(stderr, "child %d: lost: %s\n", (int)p->pid, why);
	exit(3);
}

static int32_t child_sigterm(int32_t sig, void *data)
{
	struct probe *p = data;

	qb_loop_stop(p->loop);
	return 0;
}

static int run_child(struct probe *p, bool closecb)
{
	struct cs_ops ops = {
		.confchg = child_noop_confchg,
		.deliver = closecb ? child_closecb_deliver : child_noop_deliver,
		.totem = child_noop_totem,
		.quorum = child_noop_quorum,
		.lost = child_lost,
	};
	char err[256];
	uint8_t msg[8];
	qb_loop_signal_handle sh;

	if (cs_open(&p->cs, p->loop, p->cluster, &ops, p, err, sizeof(err))) {
		fprintf(stderr, "child: cs_open: %s\n", err);
		return 2;
	}
	p->nodeid = cs_local_nodeid(p->cs);
	qb_loop_signal_add(p->loop, QB_LOOP_HIGH, SIGTERM, p, child_sigterm, &sh);
	if (closecb) {
		put_be32(msg, CLOSECB_MAGIC);
		put_be32(msg + 4, 0);
		cs_send(p->cs, msg, sizeof(msg));
		cs_send(p->cs, msg, sizeof(msg)); /* a second one arrives after the close */
	}
	qb_loop_run(p->loop);
	if (!p->closed)
		cs_close(p->cs);
	qb_loop_destroy(p->loop);
	return p->after_close ? 4 : 0;
}

int main(int argc, char **argv)
{
	struct probe p = {
		.cluster = "csprobe",
		.small_count = 1000,
		.big_count = 200,
		.big_size = 16384,
		.lost_limit_ms = 5000,
		.kill_sig = SIGKILL,
	};
	const char *mode = "main";
	char err[256];
	int opt;

	while ((opt = getopt(argc, argv, "c:n:b:s:k:S:L:m:v")) != -1) {
		switch (opt) {
		case 'c':
			p.cluster = optarg;
			break;
		case 'n':
			p.small_count = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			p.big_count = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 's':
			p.big_size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			p.corosync_pid = (pid_t)strtol(optarg, NULL, 0);
			break;
		case 'S':
			p.kill_sig = strcmp(optarg, "TERM") ? SIGKILL : SIGTERM;
			break;
		case 'L':
			p.lost_limit_ms = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			mode = optarg;
			break;
		case 'v':
			log_init("cs-adapter-probe", true, false); /* info: libqb debug is noise */
			break;
		default:
			fprintf(stderr,
				"usage: %s [-c cluster] [-n count] [-b big-count] [-s big-size] "
				"[-k corosync-pid] [-S KILL|TERM] [-L ms] [-m main|idle|closecb] "
				"[-v]\n",
				argv[0]);
			return 2;
		}
	}
	p.exe = argv[0];
	p.pid = getpid();
	p.loop = qb_loop_create();
	if (!p.loop || !p.small_count || !p.big_count || p.big_size < 8 || p.big_size > CS_MSG_MAX)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "main"))
		return run_child(&p, !strcmp(mode, "closecb"));
	p.msg_buf = calloc(1, p.big_size);
	if (!p.msg_buf)
		return 2;

	if (cs_open(&p.cs, p.loop, p.cluster, &probe_ops, &p, err, sizeof(err))) {
		check(&p, false, "cs_open: %s", err);
		printf("%d passed, %d failed\n", p.passed, p.failed);
		free(p.msg_buf);
		return 1;
	}
	p.nodeid = cs_local_nodeid(p.cs);
	check(&p, p.nodeid != 0, "cs_open: local node id %" PRIu32, p.nodeid);
	qb_loop_timer_add(p.loop, QB_LOOP_LOW, PHASE_MS * 1000000ull, &p, deadline_fire,
			  &p.deadline);
	qb_loop_run(p.loop);
	if (p.child > 0) {
		kill(p.child, SIGKILL);
		waitpid(p.child, NULL, 0);
	}
	cs_close(p.cs);
	qb_loop_destroy(p.loop);
	free(p.msg_buf);
	printf("%d passed, %d failed\n", p.passed, p.failed);
	return p.failed ? 1 : 0;
}
