// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/reactor.c against a real io_uring: sockets, files
 * (buffered, O_DIRECT, registered buffers), timers and cancellation, deferred
 * work, cross-thread messages and stop, and more ops than the SQ holds.
 * Skips when the kernel has no io_uring (ENOSYS) or forbids it (EPERM).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "lib/compiler.h"
#include "lib/reactor.h"

struct t_op {
	struct reactor_op op;
	int res;
	int calls;
};

static int t_done; /* completions seen by t_op_cb since the last reset */

static void t_op_cb(struct reactor_op *op, int res)
{
	struct t_op *t = container_of(op, struct t_op, op);

	t->res = res;
	t->calls++;
	t_done++;
}

static void t_op_init(struct t_op *t)
{
	memset(t, 0, sizeof(*t));
	t->op.cb = t_op_cb;
}

static struct reactor *t_reactor(unsigned entries)
{
	struct reactor *r = NULL;
	int ret = reactor_create(&r, entries);

	if (ret == -ENOSYS || ret == -EPERM) {
		print_message("io_uring unavailable (%s): skipping\n", strerror(-ret));
		skip();
	}
	assert_int_equal(ret, 0);
	t_done = 0;
	return r;
}

/* Runs blocking passes until `target` t_op completions have been seen. */
static void t_run_until(struct reactor *r, int target)
{
	while (t_done < target)
		assert_true(reactor_poll_once(r, true) >= 0);
}

static void t_socketpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static int t_tmpfile(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/test_reactor.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	return fd;
}

static void test_reactor_send_recv(void **state)
{
	struct reactor *r = t_reactor(64);
	struct t_op rx, tx;
	char in[16] = {0};
	int sv[2];

	t_socketpair(sv);
	t_op_init(&rx);
	t_op_init(&tx);
	assert_int_equal(reactor_recv(r, &rx.op, sv[1], in, sizeof(in), 0), 0);
	assert_int_equal(reactor_send(r, &tx.op, sv[0], "hello", 5, 0), 0);
	/* Never inside the queuing call. */
	assert_int_equal(rx.calls + tx.calls, 0);
	t_run_until(r, 2);
	assert_int_equal(tx.calls, 1);
	assert_int_equal(tx.res, 5);
	assert_int_equal(rx.calls, 1);
	assert_int_equal(rx.res, 5);
	assert_memory_equal(in, "hello", 5);

	/* MSG_NOSIGNAL is implied: a dead peer is -EPIPE, not SIGPIPE. */
	close(sv[1]);
	t_op_init(&tx);
	assert_int_equal(reactor_send(r, &tx.op, sv[0], "x", 1, 0), 0);
	t_run_until(r, 3);
	assert_int_equal(tx.res, -EPIPE);

	close(sv[0]);
	reactor_destroy(r);
}

static void test_reactor_sendmsg_recvmsg(void **state)
{
	struct reactor *r = t_reactor(64);
	char a[] = "abc", b[] = "defgh", c[] = "ij", in1[4], in2[16];
	struct iovec out_iov[3] = {{a, 3}, {b, 5}, {c, 2}};
	struct iovec in_iov[2] = {{in1, sizeof(in1)}, {in2, sizeof(in2)}};
	struct msghdr out = {.msg_iov = out_iov, .msg_iovlen = 3};
	struct msghdr in = {.msg_iov = in_iov, .msg_iovlen = 2};
	struct t_op rx, tx;
	int sv[2];

	t_socketpair(sv);
	t_op_init(&rx);
	t_op_init(&tx);
	assert_int_equal(reactor_sendmsg(r, &tx.op, sv[0], &out, 0), 0);
	t_run_until(r, 1);
	assert_int_equal(tx.res, 10);
	assert_int_equal(reactor_recvmsg(r, &rx.op, sv[1], &in, 0), 0);
	t_run_until(r, 2);
	assert_int_equal(rx.res, 10);
	assert_memory_equal(in1, "abcd", 4);
	assert_memory_equal(in2, "efghij", 6);

	close(sv[0]);
	close(sv[1]);
	reactor_destroy(r);
}

static void test_reactor_file_rw(void **state)
{
	struct reactor *r = t_reactor(64);
	uint8_t out[8192], in[8192], hole[4096], v1[100], v2[200];
	struct iovec wv[2] = {{out, 100}, {out + 100, 200}};
	struct iovec rv[2] = {{v1, sizeof(v1)}, {v2, sizeof(v2)}};
	struct t_op w, rd, rh, wvo, rvo;
	char path[64];
	unsigned i;
	int fd;

	fd = t_tmpfile(path, sizeof(path));
	unlink(path);
	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 31 + 7);
	memset(hole, 0xee, sizeof(hole));
	t_op_init(&w);
	t_op_init(&rd);
	t_op_init(&rh);
	assert_int_equal(reactor_write(r, &w.op, fd, out, sizeof(out), 4096, -1), 0);
	t_run_until(r, 1);
	assert_int_equal(w.res, (int)sizeof(out));
	assert_int_equal(reactor_read(r, &rd.op, fd, in, sizeof(in), 4096, -1), 0);
	assert_int_equal(reactor_read(r, &rh.op, fd, hole, sizeof(hole), 0, -1), 0);
	t_run_until(r, 3);
	assert_int_equal(rd.res, (int)sizeof(in));
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(rh.res, (int)sizeof(hole));
	for (i = 0; i < sizeof(hole); i++)
		assert_int_equal(hole[i], 0);

	/* Vectored, past the end of what exists: the file grows. */
	t_op_init(&wvo);
	t_op_init(&rvo);
	assert_int_equal(reactor_writev(r, &wvo.op, fd, wv, 2, 65536), 0);
	t_run_until(r, 4);
	assert_int_equal(wvo.res, 300);
	assert_int_equal(reactor_readv(r, &rvo.op, fd, rv, 2, 65536), 0);
	t_run_until(r, 5);
	assert_int_equal(rvo.res, 300);
	assert_memory_equal(v1, out, 100);
	assert_memory_equal(v2, out + 100, 200);

	close(fd);
	reactor_destroy(r);
}

static void test_reactor_fsync_fallocate(void **state)
{
	struct reactor *r = t_reactor(64);
	struct t_op w, fs, fds, bad, fa;
	char path[64];
	struct stat st;
	int fd;

	fd = t_tmpfile(path, sizeof(path));
	unlink(path);
	t_op_init(&w);
	t_op_init(&fs);
	t_op_init(&fds);
	t_op_init(&bad);
	t_op_init(&fa);
	assert_int_equal(reactor_write(r, &w.op, fd, "data", 4, 0, -1), 0);
	t_run_until(r, 1);
	assert_int_equal(reactor_fsync(r, &fs.op, fd, false), 0);
	assert_int_equal(reactor_fsync(r, &fds.op, fd, true), 0);
	assert_int_equal(reactor_fsync(r, &bad.op, -1, false), 0);
	t_run_until(r, 4);
	assert_int_equal(fs.res, 0);
	assert_int_equal(fds.res, 0);
	assert_int_equal(bad.res, -EBADF);

	assert_int_equal(reactor_fallocate(r, &fa.op, fd, 0, 0, 1 << 20), 0);
	t_run_until(r, 5);
	assert_int_equal(fa.res, 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 1 << 20);

	close(fd);
	reactor_destroy(r);
}

static void test_reactor_odirect(void **state)
{
	struct reactor *r = t_reactor(64);
	struct t_op w, rd;
	uint8_t *out, *in;
	char path[64];
	unsigned i;
	int fd, tfd;

	tfd = t_tmpfile(path, sizeof(path));
	fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	unlink(path);
	close(tfd);
	if (fd < 0 && errno == EINVAL) {
		print_message("O_DIRECT unsupported on /tmp: skipping\n");
		reactor_destroy(r);
		skip();
	}
	assert_true(fd >= 0);
	out = aligned_alloc(4096, 8192);
	in = aligned_alloc(4096, 8192);
	assert_non_null(out);
	assert_non_null(in);
	for (i = 0; i < 8192; i++)
		out[i] = (uint8_t)(i ^ 0x5a);
	memset(in, 0, 8192);
	t_op_init(&w);
	t_op_init(&rd);
	assert_int_equal(reactor_write(r, &w.op, fd, out, 8192, 4096, -1), 0);
	t_run_until(r, 1);
	assert_int_equal(w.res, 8192);
	assert_int_equal(reactor_read(r, &rd.op, fd, in, 8192, 4096, -1), 0);
	t_run_until(r, 2);
	assert_int_equal(rd.res, 8192);
	assert_memory_equal(in, out, 8192);

	/* (ext4 quietly falls back to buffered I/O when misaligned, so check the flag.) */
	assert_true(fcntl(fd, F_GETFL) & O_DIRECT);

	free(out);
	free(in);
	close(fd);
	reactor_destroy(r);
}

static void test_reactor_fixed_buffers(void **state)
{
	struct reactor *r = t_reactor(64);
	struct t_op w, rd, bad;
	struct iovec iov[2];
	uint8_t *region;
	char path[64];
	unsigned i;
	int fd, tfd;

	region = mmap(NULL, 2 * 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(region != MAP_FAILED);
	iov[0] = (struct iovec){region, 16384};
	iov[1] = (struct iovec){region + 16384, 16384};
	assert_int_equal(reactor_register_buffers(r, iov, 2), 0);

	tfd = t_tmpfile(path, sizeof(path));
	fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		fd = dup(tfd); /* no O_DIRECT here: fixed buffers still apply */
	unlink(path);
	close(tfd);
	assert_true(fd >= 0);

	for (i = 0; i < 16384; i++)
		region[i] = (uint8_t)(i * 13);
	t_op_init(&w);
	t_op_init(&rd);
	t_op_init(&bad);
	assert_int_equal(reactor_write(r, &w.op, fd, region + 4096, 8192, 0, 0), 0);
	t_run_until(r, 1);
	assert_int_equal(w.res, 8192);
	assert_int_equal(reactor_read(r, &rd.op, fd, region + 16384, 8192, 0, 1), 0);
	t_run_until(r, 2);
	assert_int_equal(rd.res, 8192);
	assert_memory_equal(region + 16384, region + 4096, 8192);

	/* A buffer outside the named region: only the fixed opcode refuses it. */
	assert_int_equal(reactor_read(r, &bad.op, fd, region, 4096, 0, 1), 0);
	t_run_until(r, 3);
	assert_int_equal(bad.res, -EFAULT);

	close(fd);
	reactor_destroy(r);
	munmap(region, 2 * 16384);
}

static void test_reactor_timeout_fires(void **state)
{
	struct reactor *r = t_reactor(64);
	uint64_t before = reactor_now_ns(r);
	struct t_op t;

	t_op_init(&t);
	assert_int_equal(reactor_timeout(r, &t.op, 1000000), 0);
	t_run_until(r, 1);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.res, -ETIME);
	assert_true(reactor_now_ns(r) > before);
	reactor_destroy(r);
}

static void test_reactor_cancel(void **state)
{
	struct reactor *r = t_reactor(64);
	struct t_op t, c, none, rx, cfd;
	char buf[4];
	int sv[2];

	t_op_init(&t);
	t_op_init(&c);
	t_op_init(&none);
	assert_int_equal(reactor_timeout(r, &t.op, 3600ull * 1000000000u), 0);
	assert_int_equal(reactor_cancel(r, &c.op, &t.op), 0);
	t_run_until(r, 2);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.res, -ECANCELED);
	assert_int_equal(c.res, 0);
	/* The target already completed: nothing to cancel. */
	assert_int_equal(reactor_cancel(r, &none.op, &t.op), 0);
	t_run_until(r, 3);
	assert_int_equal(none.res, -ENOENT);

	t_socketpair(sv);
	t_op_init(&rx);
	t_op_init(&cfd);
	assert_int_equal(reactor_recv(r, &rx.op, sv[1], buf, sizeof(buf), 0), 0);
	assert_true(reactor_poll_once(r, false) >= 0);
	assert_int_equal(rx.calls, 0);
	assert_int_equal(reactor_cancel_fd(r, &cfd.op, sv[1]), 0);
	t_run_until(r, 5);
	assert_int_equal(rx.res, -ECANCELED);
	assert_int_equal(cfd.res, 1);

	close(sv[0]);
	close(sv[1]);
	reactor_destroy(r);
}

static void test_reactor_poll_add(void **state)
{
	struct reactor *r = t_reactor(64);
	struct t_op p;
	int sv[2];

	t_socketpair(sv);
	t_op_init(&p);
	assert_int_equal(reactor_poll_add(r, &p.op, sv[1], POLLIN), 0);
	assert_true(reactor_poll_once(r, false) >= 0);
	assert_int_equal(p.calls, 0);
	assert_int_equal(write(sv[0], "z", 1), 1);
	t_run_until(r, 1);
	assert_true(p.res & POLLIN);
	close(sv[0]);
	close(sv[1]);
	reactor_destroy(r);
}

static void test_reactor_accept_connect_close(void **state)
{
	struct reactor *r = t_reactor(64);
	struct sockaddr_in sa = {.sin_family = AF_INET}, peer;
	socklen_t salen = sizeof(sa), peerlen = sizeof(peer);
	struct t_op acc, con, cl;
	int lfd, cfd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0 && cfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);

	t_op_init(&acc);
	t_op_init(&con);
	t_op_init(&cl);
	assert_int_equal(reactor_accept(r, &acc.op, lfd, (struct sockaddr *)&peer, &peerlen), 0);
	assert_int_equal(reactor_connect(r, &con.op, cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	t_run_until(r, 2);
	assert_int_equal(con.res, 0);
	assert_true(acc.res >= 0);
	assert_int_equal(peer.sin_family, AF_INET);
	assert_int_equal(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(fcntl(acc.res, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	assert_int_equal(reactor_close(r, &cl.op, acc.res), 0);
	t_run_until(r, 3);
	assert_int_equal(cl.res, 0);
	assert_int_equal(fcntl(acc.res, F_GETFD), -1);

	close(cfd);
	close(lfd);
	reactor_destroy(r);
}

/* ---- deferred work ---- */

struct t_defer {
	struct reactor_deferred d;
	int peer_fd;
	int runs;
	int saw_data; /* peer had data when the callback ran */
	int redefer;  /* re-queue itself this many more times */
	struct reactor *r;
};

static void t_defer_fn(struct reactor_deferred *d)
{
	struct t_defer *t = container_of(d, struct t_defer, d);
	char c;

	t->runs++;
	if (t->peer_fd >= 0 && recv(t->peer_fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 1)
		t->saw_data = 1;
	if (t->redefer > 0) {
		t->redefer--;
		reactor_defer(t->r, d);
	}
}

static void test_reactor_defer_once_before_submit(void **state)
{
	struct reactor *r = t_reactor(64);
	struct t_defer t = {.d.fn = t_defer_fn};
	struct t_op tx;
	int sv[2];

	t_socketpair(sv);
	t.peer_fd = sv[1];
	t_op_init(&tx);
	assert_int_equal(reactor_send(r, &tx.op, sv[0], "q", 1, 0), 0);
	reactor_defer(r, &t.d);
	reactor_defer(r, &t.d);
	assert_int_equal(t.runs, 0);
	t_run_until(r, 1);
	assert_int_equal(t.runs, 1);
	/* It ran before the pass submitted the send. */
	assert_int_equal(t.saw_data, 0);
	assert_int_equal(tx.res, 1);
	assert_false(t.d.queued);
	assert_true(reactor_poll_once(r, false) >= 0);
	assert_int_equal(t.runs, 1);

	close(sv[0]);
	close(sv[1]);
	reactor_destroy(r);
}

static void test_reactor_defer_from_deferred(void **state)
{
	struct reactor *r = t_reactor(64);
	struct t_defer t = {.d.fn = t_defer_fn, .peer_fd = -1, .redefer = 3};

	t.r = r;
	reactor_defer(r, &t.d);
	/*
	 * One run per pass, and a waiting pass must not sleep while work is
	 * deferred (nothing else would wake these passes: they would hang).
	 */
	assert_true(reactor_poll_once(r, true) >= 0);
	assert_int_equal(t.runs, 1);
	assert_true(reactor_poll_once(r, true) >= 0);
	assert_int_equal(t.runs, 2);
	assert_true(reactor_poll_once(r, true) >= 0);
	assert_int_equal(t.runs, 3);
	assert_true(t.d.queued);
	assert_true(reactor_poll_once(r, false) >= 0);
	assert_int_equal(t.runs, 4);
	assert_false(t.d.queued);
	reactor_destroy(r);
}

/* ---- cross-thread ---- */

#define T_PRODUCERS 2
#define T_MSGS_PER  1000

struct t_msg {
	struct reactor_msg m;
	int producer, seq;
};

static struct {
	struct reactor *r;
	struct t_msg msgs[T_PRODUCERS][T_MSGS_PER];
	int next_seq[T_PRODUCERS];
	int order_errors, ran, wrong_thread;
	pthread_t reactor_thread;
	sem_t running;
} tx;

static void t_msg_fn(struct reactor_msg *m)
{
	struct t_msg *t = container_of(m, struct t_msg, m);

	if (!pthread_equal(pthread_self(), tx.reactor_thread))
		tx.wrong_thread++;
	if (t->seq != tx.next_seq[t->producer]++)
		tx.order_errors++;
	if (++tx.ran == T_PRODUCERS * T_MSGS_PER)
		reactor_stop(tx.r);
}

static void *t_producer(void *arg)
{
	int p = (int)(intptr_t)arg, i;

	for (i = 0; i < T_MSGS_PER; i++) {
		tx.msgs[p][i].m.fn = t_msg_fn;
		tx.msgs[p][i].producer = p;
		tx.msgs[p][i].seq = i;
		reactor_post(tx.r, &tx.msgs[p][i].m);
	}
	return NULL;
}

static void test_reactor_post_from_threads(void **state)
{
	pthread_t th[T_PRODUCERS];
	int i;

	memset(&tx, 0, sizeof(tx));
	tx.r = t_reactor(64);
	tx.reactor_thread = pthread_self();
	for (i = 0; i < T_PRODUCERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, t_producer, (void *)(intptr_t)i), 0);
	assert_int_equal(reactor_run(tx.r), 0);
	for (i = 0; i < T_PRODUCERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(tx.ran, T_PRODUCERS * T_MSGS_PER);
	assert_int_equal(tx.wrong_thread, 0);
	assert_int_equal(tx.order_errors, 0);
	reactor_destroy(tx.r);
}

static void t_running_fn(struct reactor_msg *m)
{
	sem_post(&tx.running);
}

static void *t_stopper(void *arg)
{
	struct reactor_msg m = {.fn = t_running_fn};

	reactor_post(tx.r, &m);
	/* Wait until the loop is demonstrably running, then stop it from here. */
	sem_wait(&tx.running);
	reactor_stop(tx.r);
	return NULL;
}

static void test_reactor_stop_from_thread(void **state)
{
	struct reactor_stats st;
	pthread_t th;

	memset(&tx, 0, sizeof(tx));
	tx.r = t_reactor(64);
	assert_int_equal(sem_init(&tx.running, 0, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, t_stopper, NULL), 0);
	assert_int_equal(reactor_run(tx.r), 0);
	pthread_join(th, NULL);
	reactor_get_stats(tx.r, &st);
	assert_true(st.passes >= 1);
	sem_destroy(&tx.running);
	reactor_destroy(tx.r);
}

/* ---- volume, reentrancy, shutdown ---- */

#define T_MANY 5000

static void test_reactor_many_ops_early_flush(void **state)
{
	struct reactor *r = t_reactor(32);
	struct reactor_stats st;
	struct t_op *ops;
	int sv[2], i;

	ops = calloc(2 * T_MANY, sizeof(*ops));
	assert_non_null(ops);
	t_socketpair(sv);
	for (i = 0; i < T_MANY; i++) {
		t_op_init(&ops[i]);
		/* Varied expiries: each timespec must survive until its SQE is consumed. */
		assert_int_equal(reactor_timeout(r, &ops[i].op, 1000u * (uint64_t)(1 + i % 7)), 0);
		t_op_init(&ops[T_MANY + i]);
		assert_int_equal(reactor_poll_add(r, &ops[T_MANY + i].op, sv[0], POLLOUT), 0);
	}
	reactor_get_stats(r, &st);
	assert_true(st.enters > 0); /* the SQ filled and was flushed early */
	assert_int_equal(t_done, 0);
	t_run_until(r, 2 * T_MANY);
	for (i = 0; i < T_MANY; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, -ETIME);
		assert_int_equal(ops[T_MANY + i].calls, 1);
		assert_true(ops[T_MANY + i].res & POLLOUT);
	}
	reactor_get_stats(r, &st);
	assert_true(st.sqes >= 2 * T_MANY);
	assert_true(st.cqes >= 2 * T_MANY);
	close(sv[0]);
	close(sv[1]);
	reactor_destroy(r);
	free(ops);
}

static struct {
	struct reactor_op op;
	struct reactor *r;
	int nested;
} t_reent;

static void t_reent_cb(struct reactor_op *op, int res)
{
	t_reent.nested = reactor_poll_once(t_reent.r, false);
	t_done++;
}

static void test_reactor_no_reentry_from_callback(void **state)
{
	t_reent.r = t_reactor(64);
	t_reent.op.cb = t_reent_cb;
	assert_int_equal(reactor_timeout(t_reent.r, &t_reent.op, 1), 0);
	t_run_until(t_reent.r, 1);
	assert_int_equal(t_reent.nested, -EDEADLK);
	reactor_destroy(t_reent.r);
}

static int t_destroy_msg_runs;

static void t_destroy_msg_fn(struct reactor_msg *m)
{
	t_destroy_msg_runs++;
}

static void test_reactor_destroy_completes_pending(void **state)
{
	struct reactor *r = t_reactor(64);
	struct reactor_msg m = {.fn = t_destroy_msg_fn};
	struct t_op rx, t1, t2, late;
	char buf[4];
	int sv[2];

	t_socketpair(sv);
	t_op_init(&rx);
	t_op_init(&t1);
	t_op_init(&t2);
	t_op_init(&late);
	assert_int_equal(reactor_recv(r, &rx.op, sv[1], buf, sizeof(buf), 0), 0);
	assert_int_equal(reactor_timeout(r, &t1.op, 3600ull * 1000000000u), 0);
	assert_true(reactor_poll_once(r, false) >= 0);				/* submitted */
	assert_int_equal(reactor_timeout(r, &t2.op, 3600ull * 1000000000u), 0); /* not yet */
	reactor_post(r, &m);
	t_destroy_msg_runs = 0;
	reactor_destroy(r);
	assert_int_equal(rx.calls, 1);
	assert_int_equal(rx.res, -ECANCELED);
	assert_int_equal(t1.calls, 1);
	assert_int_equal(t1.res, -ECANCELED);
	assert_int_equal(t2.calls, 1);
	assert_int_equal(t2.res, -ECANCELED);
	assert_int_equal(t_destroy_msg_runs, 1);
	close(sv[0]);
	close(sv[1]);
}

/* Creating on one thread and running on another (the usual worker set-up). */
static void *t_run_elsewhere(void *arg)
{
	struct reactor *r = arg;
	struct t_op t;

	t_op_init(&t);
	if (reactor_timeout(r, &t.op, 1000) != 0)
		return (void *)1;
	while (t.calls == 0)
		if (reactor_poll_once(r, true) < 0)
			return (void *)2;
	return t.res == -ETIME ? NULL : (void *)3;
}

static void test_reactor_create_here_run_there(void **state)
{
	struct reactor *r = t_reactor(64);
	pthread_t th;
	void *ret;

	assert_int_equal(pthread_create(&th, NULL, t_run_elsewhere, r), 0);
	pthread_join(th, &ret);
	assert_null(ret);
	reactor_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reactor_send_recv),
		cmocka_unit_test(test_reactor_sendmsg_recvmsg),
		cmocka_unit_test(test_reactor_file_rw),
		cmocka_unit_test(test_reactor_fsync_fallocate),
		cmocka_unit_test(test_reactor_odirect),
		cmocka_unit_test(test_reactor_fixed_buffers),
		cmocka_unit_test(test_reactor_timeout_fires),
		cmocka_unit_test(test_reactor_cancel),
		cmocka_unit_test(test_reactor_poll_add),
		cmocka_unit_test(test_reactor_accept_connect_close),
		cmocka_unit_test(test_reactor_defer_once_before_submit),
		cmocka_unit_test(test_reactor_defer_from_deferred),
		cmocka_unit_test(test_reactor_post_from_threads),
		cmocka_unit_test(test_reactor_stop_from_thread),
		cmocka_unit_test(test_reactor_many_ops_early_flush),
		cmocka_unit_test(test_reactor_no_reentry_from_callback),
		cmocka_unit_test(test_reactor_destroy_completes_pending),
		cmocka_unit_test(test_reactor_create_here_run_there),
	};

	/* A hung io_uring op must fail the run, not stall it. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
