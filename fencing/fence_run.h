/* SPDX-License-Identifier: MIT */
/*
 * Runs stock fence agents as child processes on the control thread's libqb
 * loop, asynchronously: fence_run() returns at once and the request completes
 * exactly once, later, through its callback (never inside fence_run()).
 *
 * One request = the sequence fence.h describes (retries, off verified by
 * status). Each agent run:
 *   - the stdin text (fence_stdin_build()) is written into a pipe BEFORE the
 *     agent starts and the write end closed, so the agent reads options then
 *     EOF, and the loop never waits on (nor gets SIGPIPE from) the agent's
 *     stdin;
 *   - posix_spawn() in a new process group (pgid = pid), signal mask emptied,
 *     every signal disposition reset, fds >= 3 closed, a fixed environment
 *     (PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin,
 *     LC_ALL=C); a missing or unexecutable agent is reported by posix_spawn
 *     itself and completes as FENCE_RC_NOT_FOUND;
 *   - stdout and stderr are read through non-blocking pipes watched with
 *     qb_loop_poll_add(); the last policy.capture_max bytes of each are kept;
 *   - exit is detected with a pidfd (pidfd_open(), Linux >= 5.3) watched with
 *     qb_loop_poll_add(), and the child is reaped with waitid(P_PIDFD). No
 *     SIGCHLD handler and no signalfd: the runner touches no process-wide
 *     signal state and never reaps a child that is not its own;
 *   - a qb_loop_timer_add() timer enforces the timeout: on expiry the whole
 *     process group gets SIGKILL (agents fork ssh, ipmitool, ...), the run
 *     counts as FENCE_RC_TIMEOUT, and the request continues once the killed
 *     agent has been reaped. So no run ever leaves a zombie: a request
 *     completes only after its last child was reaped.
 *   - when the agent exits by itself, whatever it left running in its group
 *     is left alone (an "on" may legitimately start things), and our pipe ends
 *     are closed; we do not wait for EOF from such leftovers.
 *
 * Thread: everything here runs on the thread that runs the loop given to
 * fence_runner_create() (the control thread).
 */
#ifndef FENCING_FENCE_RUN_H
#define FENCING_FENCE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <qb/qbloop.h>

#include "fencing/fence.h"

/* Where agents named without a '/' are looked up (stock agents live in /usr/sbin). */
#define FENCE_AGENT_PATH_DEFAULT                                                                   \
	"/usr/sbin:/usr/local/sbin:/usr/local/libexec/clusterd:/usr/libexec/clusterd"

struct fence_runner;
struct fence_op;

struct fence_request {
	const char *agent; /* "fence_ipmilan" (searched in the agent path) or a path */
	enum fence_action action;
	const char *target_key;	      /* "plug" or "port"; NULL: no target option is passed */
	const char *target;	      /* its value: the node's plug (node name by default) */
	const struct fence_opt *opts; /* the agent's options from the configuration */
	size_t nopts;
	struct fence_policy policy;
};

struct fence_result {
	enum fence_action action; /* as requested */
	bool ok;		  /* see fence_seq_next() for what ok means per action */
	enum fence_rc rc;	  /* OK/OFF when ok; else what made the last attempt fail */
	uint32_t attempts;	  /* attempts begun (an off and its status are one) */
	uint32_t runs;		  /* agent processes started */
	/* The last agent run: */
	enum fence_action last_action;
	struct fence_exit last_exit;
	pid_t last_pid;		       /* 0 if it never started; already reaped */
	uint64_t start_ms, end_ms;     /* CLOCK_MONOTONIC, whole request */
	char reason[FENCE_REASON_MAX]; /* "" when ok; else why (see fence_reason_format()) */
	/* Output tails of the last run, valid only during the callback: */
	const char *out;
	size_t out_len;
	bool out_truncated;
	const char *err;
	size_t err_len;
	bool err_truncated;
};

/*
 * Called exactly once per started request, on the loop thread, never inside
 * fence_run(). op is freed when the callback returns. The callback may start
 * new requests; it must not call fence_runner_destroy().
 */
typedef void (*fence_done_fn)(struct fence_op *op, const struct fence_result *res, void *arg);

/*
 * Creates a runner on loop. agent_path: ':'-separated directories for agent
 * names without '/', NULL for FENCE_AGENT_PATH_DEFAULT (copied). Returns 0 or
 * -ENOMEM. Loop thread.
 */
int fence_runner_create(struct fence_runner **out, qb_loop_t *loop, const char *agent_path);

/*
 * Shutdown: every request still in flight is ended: its agent's process group
 * gets SIGKILL, the agent is reaped (a blocking wait; SIGKILL makes it short)
 * and its callback runs with FENCE_RC_CANCELED. Then frees the runner. Call
 * on the loop thread, not from a fence callback; the loop may already have
 * stopped.
 */
void fence_runner_destroy(struct fence_runner *r);

/*
 * Starts a request. The request's strings are copied (the stdin text is built
 * here), so req may be freed on return. Returns 0 (done will be called
 * exactly once), -EINVAL for a bad request (an option fence_opt_check()
 * refuses, an empty agent name or one whose file name is 64 bytes or more, a
 * policy capture_max outside
 * [FENCE_CAPTURE_MIN, FENCE_CAPTURE_MAX] — 0 picks the default), -ENOSPC when
 * the options exceed FENCE_STDIN_MAX, -ENOMEM, or a libqb error. A missing
 * agent is not an error here: the request completes with FENCE_RC_NOT_FOUND.
 * *opp (optional) receives a handle valid until the callback returns.
 * Loop thread.
 */
int fence_run(struct fence_runner *r, const struct fence_request *req, fence_done_fn done,
	      void *arg, struct fence_op **opp);

/*
 * Cancels a request: a running agent's process group gets SIGKILL, a pending
 * retry is dropped. The callback still runs exactly once, later, with
 * FENCE_RC_CANCELED (or with the real result if the agent had already
 * finished). Calling it twice is harmless. Loop thread.
 */
void fence_op_cancel(struct fence_op *op);

/* Requests in flight (for status and tests). Loop thread. */
unsigned fence_runner_pending(const struct fence_runner *r);

#endif
