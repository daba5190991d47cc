/* SPDX-License-Identifier: MIT */
/*
 * The io_uring reactor: one ring per thread drives sockets, files, timers and
 * cross-thread wake-ups.
 *
 * Model (after Redis' ae.c with io_uring underneath):
 *
 *   reactor_run():
 *     loop {
 *       run deferred callbacks (reactor_defer)      <- "before sleep": batch work
 *       submit every queued SQE and wait for >= 1 CQE (one io_uring_enter)
 *       update the cached clock
 *       for each CQE: op->cb(op, res)
 *       drain posted cross-thread messages
 *     }
 *
 * Every asynchronous call takes a caller-owned struct reactor_op (usually
 * embedded in the caller's object) and completes exactly once through op->cb,
 * never inside the call that queued it. The queuing calls return 0 or -errno
 * (-EBUSY when the submission queue is full even after an early flush,
 * -ESHUTDOWN while reactor_destroy() runs, -EINVAL for a length over UINT_MAX).
 * An op must not be reused until its callback has run. Callbacks may queue ops
 * and defer work (it runs next pass) but must not call reactor_run() or
 * reactor_poll_once() (-EDEADLK).
 *
 * Thread rules: everything here except reactor_post() and reactor_stop() must
 * be called from the reactor's own thread.
 */
#ifndef LIB_REACTOR_H
#define LIB_REACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "list.h"

struct reactor;
struct reactor_op;

/* res is the CQE result: >= 0 success (bytes, fd, ...), < 0 -errno. */
typedef void (*reactor_cb)(struct reactor_op *op, int res);

struct reactor_op {
	reactor_cb cb;
};

/* A callback run once at the start of the next loop pass, before submission. */
struct reactor_deferred {
	struct list_node node;
	void (*fn)(struct reactor_deferred *d);
	bool queued;
};

/* A message handed to a reactor from any thread (lock-free MPSC queue). */
struct reactor_msg {
	struct reactor_msg *next;
	void (*fn)(struct reactor_msg *m);
};

/*
 * Creates a reactor with an SQ of `entries` slots (power of two, e.g. 1024;
 * 1..32768). Returns 0 or -errno (-ENOSYS/-EPERM: no io_uring here). May be
 * called on any thread: when the kernel supports IORING_SETUP_SINGLE_ISSUER
 * the ring is bound to the thread that first runs or submits on it, which then
 * is the reactor thread.
 */
int reactor_create(struct reactor **out, unsigned entries);
/*
 * Reactor thread (or before the reactor ever ran). Completes every pending op
 * first: ops not yet submitted get -ECANCELED, submitted ones are cancelled
 * (-ECANCELED, or their real result if they finished first); posted messages
 * still queued are run; deferred callbacks still queued are dropped. Called
 * from another thread after the reactor thread submitted, the kernel refuses
 * the cancel, and pending callbacks are not run (logged).
 */
void reactor_destroy(struct reactor *r);

/* Runs the loop until reactor_stop(); returns 0 or -errno on a fatal ring error. */
int reactor_run(struct reactor *r);
/* Asks the loop to return after the current pass. Any thread. */
void reactor_stop(struct reactor *r);
/*
 * One pass (tests, or a caller with its own loop): runs deferred work,
 * submits, waits for one CQE if `wait` (and no deferred work is pending),
 * reaps the ready CQEs, drains messages. Returns the number of completions
 * processed, or -errno.
 */
int reactor_poll_once(struct reactor *r, bool wait);

/* Monotonic nanoseconds, cached at the start of each pass (cheap). */
uint64_t reactor_now_ns(const struct reactor *r);

/* Queues d to run before the next submission (idempotent while queued). */
void reactor_defer(struct reactor *r, struct reactor_deferred *d);

/* Any thread: queue m and wake the reactor through its eventfd. */
void reactor_post(struct reactor *r, struct reactor_msg *m);

/*
 * Registers buffer regions for *_fixed I/O. Index i of iov becomes buf_index i.
 * Call once, before any fixed I/O, on the reactor thread or before the reactor
 * first runs. Returns 0 or -errno.
 */
int reactor_register_buffers(struct reactor *r, const struct iovec *iov, unsigned n);

/*
 * Sockets. Accepted fds are SOCK_CLOEXEC. Sends always add MSG_NOSIGNAL (a
 * vanished peer is -EPIPE, never SIGPIPE). addr/addrlen and msg must stay
 * valid until the callback.
 */
int reactor_accept(struct reactor *r, struct reactor_op *op, int fd, struct sockaddr *addr,
		   socklen_t *addrlen);
int reactor_connect(struct reactor *r, struct reactor_op *op, int fd, const struct sockaddr *addr,
		    socklen_t addrlen);
int reactor_recv(struct reactor *r, struct reactor_op *op, int fd, void *buf, size_t len,
		 int flags);
int reactor_send(struct reactor *r, struct reactor_op *op, int fd, const void *buf, size_t len,
		 int flags);
/* msg (and what it points to) must stay valid until the callback. */
int reactor_sendmsg(struct reactor *r, struct reactor_op *op, int fd, const struct msghdr *msg,
		    int flags);
int reactor_recvmsg(struct reactor *r, struct reactor_op *op, int fd, struct msghdr *msg,
		    int flags);

/* Files. buf_index >= 0 selects the *_FIXED opcodes with that registered region. */
int reactor_read(struct reactor *r, struct reactor_op *op, int fd, void *buf, size_t len,
		 uint64_t off, int buf_index);
int reactor_write(struct reactor *r, struct reactor_op *op, int fd, const void *buf, size_t len,
		  uint64_t off, int buf_index);
int reactor_readv(struct reactor *r, struct reactor_op *op, int fd, const struct iovec *iov,
		  unsigned n, uint64_t off);
int reactor_writev(struct reactor *r, struct reactor_op *op, int fd, const struct iovec *iov,
		   unsigned n, uint64_t off);
/* datasync: fdatasync semantics. */
int reactor_fsync(struct reactor *r, struct reactor_op *op, int fd, bool datasync);
int reactor_fallocate(struct reactor *r, struct reactor_op *op, int fd, int mode, uint64_t off,
		      uint64_t len);
int reactor_close(struct reactor *r, struct reactor_op *op, int fd);

/* Polls fd once for `events` (POLLIN, ...); res is the revents mask. */
int reactor_poll_add(struct reactor *r, struct reactor_op *op, int fd, unsigned events);

/*
 * Timer: completes after ns nanoseconds with res -ETIME (or -ECANCELED).
 * The timespec the kernel reads is kept by the reactor: nothing to keep alive.
 */
int reactor_timeout(struct reactor *r, struct reactor_op *op, uint64_t ns);
/*
 * Cancels the op queued with `target`; the target completes with -ECANCELED.
 * op's res: 0, -ENOENT (target already done) or -EALREADY (running, will finish).
 */
int reactor_cancel(struct reactor *r, struct reactor_op *op, struct reactor_op *target);
/* Cancels every pending op on fd (sockets being torn down); res: count or -ENOENT. */
int reactor_cancel_fd(struct reactor *r, struct reactor_op *op, int fd);

/* Counters, for status and benchmarks. */
struct reactor_stats {
	uint64_t passes; /* loop iterations */
	uint64_t enters; /* io_uring_enter system calls (as liburing will make them) */
	uint64_t sqes;	 /* submissions */
	uint64_t cqes;	 /* completions */
};
void reactor_get_stats(const struct reactor *r, struct reactor_stats *st);

#endif
