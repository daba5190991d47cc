// SPDX-License-Identifier: MIT
/*
 * The io_uring reactor (see reactor.h for the loop and the contract).
 *
 * Ownership of memory the kernel reads:
 *   - SQEs are only prepared by the queuing calls; one io_uring_enter per pass
 *     submits them all. A full SQ is flushed early from inside the queuing call
 *     (submission only: completions are still reaped by the loop, so callbacks
 *     never run inside the call that queued them).
 *   - A timeout's __kernel_timespec is read when the kernel consumes the SQE,
 *     not when we prepare it. It lives in ts[] at the index of the SQE slot it
 *     was prepared in: liburing does not hand that slot out again until the
 *     kernel has consumed the SQE, so the slot's timespec is ours until then.
 *   - The eventfd read target (wake_val) is inside the reactor.
 *
 * Cross-thread wake-ups: reactor_post() pushes onto a Treiber stack and writes
 * the eventfd only when it made the stack non-empty; whoever does that always
 * writes after pushing, and the loop drains the whole stack after every pass,
 * so no message can be left behind without a pending eventfd count. The
 * eventfd is blocking on purpose: io_uring returns -EAGAIN for reads of an
 * O_NONBLOCK file instead of waiting for it.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <liburing.h>

#include "compiler.h"
#include "log.h"
#include "reactor.h"

struct reactor {
	struct io_uring ring;
	/*
	 * With IORING_SETUP_SINGLE_ISSUER the ring belongs to the first task that
	 * submits. It is created disabled and enabled by the first submission,
	 * which is made by the reactor thread even when another thread created it.
	 */
	bool ring_disabled;
	bool in_pass;	      /* reentrancy guard for run/poll_once */
	bool closing;	      /* reactor_destroy() under way: no new ops */
	bool wake_armed;      /* the eventfd read is queued or in flight */
	bool shutdown_failed; /* the kernel refused the destroy-time cancel */
	unsigned inflight;    /* ops prepared and not yet completed, incl. internal */
	int wake_fd;
	uint64_t wake_val;
	struct reactor_op wake_op;
	struct reactor_op cancel_op; /* destroy-time cancel of everything */
	struct list_node deferred;
	_Atomic(struct reactor_msg *) msgs;
	atomic_bool stop;
	uint64_t now_ns;
	struct __kernel_timespec *ts; /* one per SQ slot, see the file comment */
	unsigned ts_entries;
	struct reactor_stats st;
};

/* Errors of io_uring_enter after which the loop just reaps and goes on. */
static bool reactor_err_transient(int err)
{
	return err == -EINTR || err == -EAGAIN || err == -EBUSY || err == -ETIME;
}

static uint64_t reactor_clock_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int reactor_ring_enable(struct reactor *r)
{
	int ret;

	if (likely(!r->ring_disabled))
		return 0;
	/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
	ret = io_uring_register(r->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret)
		return ret;
	r->ring_disabled = false;
	return 0;
}

/* Submits what is queued; waits for wait_nr CQEs; getevents runs deferred task work. */
static int reactor_submit(struct reactor *r, unsigned wait_nr, bool getevents)
{
	bool enters = wait_nr || getevents || io_uring_sq_ready(&r->ring);
	int ret;

	ret = reactor_ring_enable(r);
	if (ret)
		return ret;
	if (wait_nr)
		ret = io_uring_submit_and_wait(&r->ring, wait_nr);
	else if (getevents)
		ret = io_uring_submit_and_get_events(&r->ring);
	else
		ret = io_uring_submit(&r->ring);
	r->st.enters += enters;
	if (ret > 0)
		r->st.sqes += (unsigned)ret;
	return ret;
}

/* Returns a free SQE, flushing the SQ to the kernel once if it is full. */
static int reactor_sqe_get(struct reactor *r, struct io_uring_sqe **out)
{
	struct io_uring_sqe *sqe;

	if (unlikely(r->closing))
		return -ESHUTDOWN;
	sqe = io_uring_get_sqe(&r->ring);
	if (unlikely(!sqe)) {
		int ret = reactor_submit(r, 0, false);

		if (ret < 0 && !reactor_err_transient(ret))
			return ret;
		sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			return -EBUSY;
	}
	*out = sqe;
	return 0;
}

static inline void reactor_sqe_commit(struct reactor *r, struct io_uring_sqe *sqe,
				      struct reactor_op *op)
{
	io_uring_sqe_set_data(sqe, op);
	r->inflight++;
}

static void reactor_wake(struct reactor *r)
{
	uint64_t one = 1;
	ssize_t n;

	do {
		n = write(r->wake_fd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

static void reactor_wake_arm(struct reactor *r)
{
	struct io_uring_sqe *sqe;

	if (reactor_sqe_get(r, &sqe)) {
		/* Retried at the start of the next pass. */
		r->wake_armed = false;
		return;
	}
	io_uring_prep_read(sqe, r->wake_fd, &r->wake_val, sizeof(r->wake_val), 0);
	reactor_sqe_commit(r, sqe, &r->wake_op);
	r->wake_armed = true;
}

/* The messages themselves are drained at the end of every pass, not here. */
static void reactor_wake_cb(struct reactor_op *op, int res)
{
	struct reactor *r = container_of(op, struct reactor, wake_op);

	r->wake_armed = false;
	if (r->closing)
		return;
	if (res < 0 && res != -EINTR && res != -ECANCELED)
		log_rl_warn("reactor %p: eventfd read failed: %s", (void *)r, strerror(-res));
	reactor_wake_arm(r);
}

static void reactor_cancel_all_cb(struct reactor_op *op, int res)
{
	struct reactor *r = container_of(op, struct reactor, cancel_op);

	/* -ENOENT only means nothing was left to cancel. */
	if (res < 0 && res != -ENOENT) {
		log_warn("reactor %p: cancel of pending ops failed: %s", (void *)r, strerror(-res));
		r->shutdown_failed = true;
	}
}

static int reactor_ring_init(struct reactor *r, unsigned entries)
{
	/* Best first; each later set is what an older kernel accepts. */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_R_DISABLED,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	unsigned i;
	int ret = -EINVAL;

	for (i = 0; i < ARRAY_SIZE(flag_sets); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		/* A deeper CQ keeps bursts of completions out of the overflow list. */
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, &r->ring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret)
		return ret;
	r->ring_disabled = flag_sets[i] & IORING_SETUP_R_DISABLED;
	return 0;
}

/* Start-up, on any thread (the first submission binds the ring to the reactor thread). */
int reactor_create(struct reactor **out, unsigned entries)
{
	struct reactor *r;
	int ret;

	if (entries == 0 || entries > 32768)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	list_init(&r->deferred);
	atomic_init(&r->msgs, NULL);
	atomic_init(&r->stop, false);
	r->wake_op.cb = reactor_wake_cb;
	r->cancel_op.cb = reactor_cancel_all_cb;
	r->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (r->wake_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = reactor_ring_init(r, entries);
	if (ret)
		goto err_eventfd;
	r->ts_entries = r->ring.sq.ring_entries;
	r->ts = calloc(r->ts_entries, sizeof(*r->ts));
	if (!r->ts) {
		ret = -ENOMEM;
		goto err_ring;
	}
	r->now_ns = reactor_clock_ns();
	reactor_wake_arm(r);
	*out = r;
	return 0;

err_ring:
	io_uring_queue_exit(&r->ring);
err_eventfd:
	close(r->wake_fd);
err_free:
	free(r);
	return ret;
}

static void reactor_complete(struct reactor *r, struct reactor_op *op, int res)
{
	r->inflight--;
	op->cb(op, res);
}

/*
 * Reaps the CQEs that are ready now, no more: completions that callbacks
 * cause (their own early flushes) wait for the next pass, so a pass is
 * bounded and deferred work and messages are not starved. Each CQE is read
 * and its slot released before its callback runs, so a callback's early
 * flush never finds the CQ full of entries we are still holding.
 */
static unsigned reactor_reap(struct reactor *r)
{
	unsigned head, n = 0, budget = io_uring_cq_ready(&r->ring);
	struct io_uring_cqe *cqe;

	if (!budget)
		return 0;
	io_uring_for_each_cqe(&r->ring, head, cqe)
	{
		struct reactor_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cq_advance(&r->ring, 1);
		reactor_complete(r, op, res);
		if (++n == budget)
			break;
	}
	r->st.cqes += n;
	return n;
}

/* Runs what is deferred now; what those callbacks defer runs next pass. */
static void reactor_deferred_run(struct reactor *r)
{
	struct list_node batch, *n;

	if (list_empty(&r->deferred))
		return;
	batch = r->deferred;
	batch.next->prev = &batch;
	batch.prev->next = &batch;
	list_init(&r->deferred);
	while ((n = list_pop(&batch))) {
		struct reactor_deferred *d = list_entry(n, struct reactor_deferred, node);

		d->queued = false;
		d->fn(d);
	}
}

/* The stack is LIFO; reverse it so messages run in the order they were posted. */
static void reactor_msgs_drain(struct reactor *r)
{
	struct reactor_msg *m, *fifo = NULL, *next;

	if (!atomic_load_explicit(&r->msgs, memory_order_relaxed))
		return;
	m = atomic_exchange_explicit(&r->msgs, NULL, memory_order_acquire);
	for (; m; m = next) {
		next = m->next;
		m->next = fifo;
		fifo = m;
	}
	for (m = fifo; m; m = next) {
		next = m->next;
		m->fn(m);
	}
}

static int reactor_pass(struct reactor *r, bool wait)
{
	unsigned n;
	int ret;

	reactor_deferred_run(r);
	if (unlikely(!r->wake_armed))
		reactor_wake_arm(r);
	/* Work deferred by deferred callbacks must not sleep until the next CQE. */
	if (!list_empty(&r->deferred))
		wait = false;
	ret = reactor_submit(r, wait ? 1 : 0, true);
	if (ret < 0 && !reactor_err_transient(ret))
		return ret;
	r->now_ns = reactor_clock_ns();
	n = reactor_reap(r);
	reactor_msgs_drain(r);
	r->st.passes++;
	return (int)MIN(n, (unsigned)INT_MAX);
}

/* Reactor thread. Returns 0 after reactor_stop(), or -errno on a fatal ring error. */
int reactor_run(struct reactor *r)
{
	int ret;

	if (r->in_pass)
		return -EDEADLK;
	r->in_pass = true;
	for (;;) {
		ret = reactor_pass(r, !atomic_load_explicit(&r->stop, memory_order_acquire));
		if (ret < 0) {
			log_err("reactor %p: io_uring_enter failed: %s", (void *)r, strerror(-ret));
			break;
		}
		if (atomic_exchange_explicit(&r->stop, false, memory_order_acq_rel)) {
			ret = 0;
			break;
		}
	}
	r->in_pass = false;
	return ret;
}

/* Reactor thread. Returns the number of completions processed, or -errno. */
int reactor_poll_once(struct reactor *r, bool wait)
{
	int ret;

	if (r->in_pass)
		return -EDEADLK;
	r->in_pass = true;
	ret = reactor_pass(r, wait);
	r->in_pass = false;
	return ret;
}

void reactor_stop(struct reactor *r)
{
	atomic_store_explicit(&r->stop, true, memory_order_release);
	reactor_wake(r);
}

uint64_t reactor_now_ns(const struct reactor *r)
{
	return r->now_ns;
}

void reactor_defer(struct reactor *r, struct reactor_deferred *d)
{
	if (d->queued)
		return;
	d->queued = true;
	list_add_tail(&r->deferred, &d->node);
}

void reactor_post(struct reactor *r, struct reactor_msg *m)
{
	struct reactor_msg *old = atomic_load_explicit(&r->msgs, memory_order_relaxed);

	do {
		m->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&r->msgs, &old, m, memory_order_release,
							memory_order_relaxed));
	if (!old)
		reactor_wake(r);
}

int reactor_register_buffers(struct reactor *r, const struct iovec *iov, unsigned n)
{
	return io_uring_register_buffers(&r->ring, iov, n);
}

/* Completes SQEs the kernel never saw with -ECANCELED and takes them back. */
static void reactor_sq_drop(struct reactor *r)
{
	struct io_uring_sq *sq = &r->ring.sq;
	unsigned i, head = sq->sqe_head, tail = sq->sqe_tail;

	sq->sqe_tail = head;
	for (i = head; i != tail; i++) {
		struct io_uring_sqe *sqe = &sq->sqes[i & sq->ring_mask];

		reactor_complete(r, (struct reactor_op *)(uintptr_t)sqe->user_data, -ECANCELED);
	}
}

/*
 * Completes every pending op before the ring goes away (STYLE.md rule 5):
 * unsubmitted ones directly, submitted ones through one cancel-everything
 * request, then waits until the in-flight count drains to zero.
 */
static void reactor_shutdown(struct reactor *r)
{
	struct io_uring_sqe *sqe;
	int ret;

	r->closing = true;
	reactor_sq_drop(r);
	reactor_msgs_drain(r);
	if (!r->inflight)
		return;
	sqe = io_uring_get_sqe(&r->ring); /* the SQ is empty after the drop */
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	reactor_sqe_commit(r, sqe, &r->cancel_op);
	/* An eventfd read blocked in an io-wq worker ends with a count, not a cancel. */
	reactor_wake(r);
	while (r->inflight && !r->shutdown_failed) {
		ret = reactor_submit(r, 1, false);
		if (ret < 0 && !reactor_err_transient(ret)) {
			/* -EEXIST: not the thread that ran the ring. */
			if (r->inflight > 1u + (unsigned)r->wake_armed)
				log_warn("reactor %p: %u ops dropped at destroy: %s", (void *)r,
					 r->inflight, strerror(-ret));
			break;
		}
		reactor_reap(r);
	}
}

void reactor_destroy(struct reactor *r)
{
	struct list_node *n;

	if (!r)
		return;
	reactor_shutdown(r);
	while ((n = list_pop(&r->deferred)))
		list_entry(n, struct reactor_deferred, node)->queued = false;
	io_uring_queue_exit(&r->ring);
	close(r->wake_fd);
	free(r->ts);
	free(r);
}

void reactor_get_stats(const struct reactor *r, struct reactor_stats *st)
{
	*st = r->st;
}

/* ---- queuing calls: reactor thread; 0 or -errno; the op completes later ---- */

int reactor_accept(struct reactor *r, struct reactor_op *op, int fd, struct sockaddr *addr,
		   socklen_t *addrlen)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_accept(sqe, fd, addr, addrlen, SOCK_CLOEXEC);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_connect(struct reactor *r, struct reactor_op *op, int fd, const struct sockaddr *addr,
		    socklen_t addrlen)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_connect(sqe, fd, addr, addrlen);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_recv(struct reactor *r, struct reactor_op *op, int fd, void *buf, size_t len, int flags)
{
	struct io_uring_sqe *sqe;
	int ret;

	if (len > UINT_MAX)
		return -EINVAL;
	ret = reactor_sqe_get(r, &sqe);
	if (ret)
		return ret;
	io_uring_prep_recv(sqe, fd, buf, len, flags);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_send(struct reactor *r, struct reactor_op *op, int fd, const void *buf, size_t len,
		 int flags)
{
	struct io_uring_sqe *sqe;
	int ret;

	if (len > UINT_MAX)
		return -EINVAL;
	ret = reactor_sqe_get(r, &sqe);
	if (ret)
		return ret;
	/* A peer that went away must show up as -EPIPE, not kill the daemon. */
	io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_sendmsg(struct reactor *r, struct reactor_op *op, int fd, const struct msghdr *msg,
		    int flags)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)(flags | MSG_NOSIGNAL));
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_recvmsg(struct reactor *r, struct reactor_op *op, int fd, struct msghdr *msg, int flags)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_recvmsg(sqe, fd, msg, (unsigned)flags);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

/* READ/WRITE and their _FIXED forms (buf_index >= 0: registered region). */
static int reactor_rw(struct reactor *r, struct reactor_op *op, bool write, int fd, void *buf,
		      size_t len, uint64_t off, int buf_index)
{
	struct io_uring_sqe *sqe;
	int ret;

	if (len > UINT_MAX)
		return -EINVAL;
	ret = reactor_sqe_get(r, &sqe);
	if (ret)
		return ret;
	if (buf_index >= 0 && write)
		io_uring_prep_write_fixed(sqe, fd, buf, (unsigned)len, off, buf_index);
	else if (buf_index >= 0)
		io_uring_prep_read_fixed(sqe, fd, buf, (unsigned)len, off, buf_index);
	else if (write)
		io_uring_prep_write(sqe, fd, buf, (unsigned)len, off);
	else
		io_uring_prep_read(sqe, fd, buf, (unsigned)len, off);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_read(struct reactor *r, struct reactor_op *op, int fd, void *buf, size_t len,
		 uint64_t off, int buf_index)
{
	return reactor_rw(r, op, false, fd, buf, len, off, buf_index);
}

int reactor_write(struct reactor *r, struct reactor_op *op, int fd, const void *buf, size_t len,
		  uint64_t off, int buf_index)
{
	return reactor_rw(r, op, true, fd, (void *)buf, len, off, buf_index);
}

int reactor_readv(struct reactor *r, struct reactor_op *op, int fd, const struct iovec *iov,
		  unsigned n, uint64_t off)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_readv(sqe, fd, iov, n, off);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_writev(struct reactor *r, struct reactor_op *op, int fd, const struct iovec *iov,
		   unsigned n, uint64_t off)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_writev(sqe, fd, iov, n, off);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_fsync(struct reactor *r, struct reactor_op *op, int fd, bool datasync)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_fallocate(struct reactor *r, struct reactor_op *op, int fd, int mode, uint64_t off,
		      uint64_t len)
{
	struct io_uring_sqe *sqe;
	int ret;

	if (off > INT64_MAX || len > INT64_MAX)
		return -EINVAL;
	ret = reactor_sqe_get(r, &sqe);
	if (ret)
		return ret;
	io_uring_prep_fallocate(sqe, fd, mode, (off_t)off, (off_t)len);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_close(struct reactor *r, struct reactor_op *op, int fd)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_close(sqe, fd);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_poll_add(struct reactor *r, struct reactor_op *op, int fd, unsigned events)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_poll_add(sqe, fd, events);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_timeout(struct reactor *r, struct reactor_op *op, uint64_t ns)
{
	struct __kernel_timespec *ts;
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	ts = &r->ts[sqe - r->ring.sq.sqes];
	ts->tv_sec = (long long)(ns / 1000000000u);
	ts->tv_nsec = (long long)(ns % 1000000000u);
	io_uring_prep_timeout(sqe, ts, 0, 0);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_cancel(struct reactor *r, struct reactor_op *op, struct reactor_op *target)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_cancel(sqe, target, 0);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}

int reactor_cancel_fd(struct reactor *r, struct reactor_op *op, int fd)
{
	struct io_uring_sqe *sqe;
	int ret = reactor_sqe_get(r, &sqe);

	if (ret)
		return ret;
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	reactor_sqe_commit(r, sqe, op);
	return 0;
}
