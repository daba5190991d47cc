// SPDX-License-Identifier: MIT
/*
 * The fence-agent runner: child processes on the control loop (see
 * fence_run.h). The policy (what to run next, what counts) is fence.c's
 * sequencer; this file only starts, watches, times out and reaps processes.
 *
 * Life of one request (struct fence_op):
 *
 *   fence_run() --timer(0)--> SPAWN --posix_spawn ok--> RUNNING
 *                  ^            | lookup/spawn failed      | pidfd readable: reap
 *                  |            v                          v
 *   timer(retry_delay) <-RUN-- run finished: classify, fence_seq_next()
 *                                           |DONE (or canceled)
 *                                           v
 *                                  callback, free
 *
 *   RUNNING --timeout timer--> SIGKILL to the process group, stays RUNNING
 *   until the pidfd says the agent is gone (then it is reaped, no zombie).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fencing/fence_run.h"
#include "lib/compiler.h"
#include "lib/list.h"
#include "lib/log.h"

#define FENCE_READ_CHUNK 4096
#define FENCE_DRAIN_MAX	 (FENCE_CAPTURE_MAX * 2) /* bytes read from a pipe after exit */

struct fence_runner {
	qb_loop_t *loop;
	char *agent_path;
	struct list_node ops;
	unsigned nops;
};

enum fence_op_state {
	FENCE_OP_WAITING, /* timer armed: the next run starts when it fires */
	FENCE_OP_RUNNING, /* an agent process exists (maybe already killed) */
	FENCE_OP_DONE,	  /* callback running or about to */
};

struct fence_op {
	struct list_node node;
	struct fence_runner *r;
	fence_done_fn done;
	void *arg;
	enum fence_op_state state;
	char agent[PATH_MAX]; /* as configured: a name or a path */
	char name[64];	      /* its basename, for reasons and logs */
	char target[128];     /* for logs only */
	struct fence_policy policy;
	struct fence_seq seq;
	uint64_t start_ms;
	uint32_t runs;
	uint32_t attempts; /* attempts begun (a retry scheduled but not begun is not one) */

	char stdin_main[FENCE_STDIN_MAX];
	int stdin_main_len;
	char stdin_status[FENCE_STDIN_MAX]; /* for the status after off */
	int stdin_status_len;

	/* The current (or last) agent run. */
	enum fence_action cur;
	pid_t pid;
	int pidfd, outfd, errfd;
	bool timer_armed;
	qb_loop_timer_handle timer; /* start delay while WAITING, timeout while RUNNING */
	bool killed;		    /* we sent SIGKILL to its group */
	bool canceled;
	struct fence_exit exit;
	struct fence_tail out, err;
	char reason[FENCE_REASON_MAX];
	enum fence_rc last_rc;
	pid_t last_pid;
	char *capture; /* 2 * policy.capture_max: out then err */
};

static const char *const fence_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LC_ALL=C",
	NULL,
};

static void fence_op_start_run(void *data);
static void fence_op_timeout(void *data);

static uint64_t fence_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int fence_runner_create(struct fence_runner **out, qb_loop_t *loop, const char *agent_path)
{
	struct fence_runner *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->agent_path = strdup(agent_path ? agent_path : FENCE_AGENT_PATH_DEFAULT);
	if (!r->agent_path) {
		free(r);
		return -ENOMEM;
	}
	r->loop = loop;
	list_init(&r->ops);
	*out = r;
	return 0;
}

unsigned fence_runner_pending(const struct fence_runner *r)
{
	return r->nops;
}

/*
 * Finds the agent like execvp() would, in r->agent_path. Returns 0 with the
 * path in out, -ENOENT, -EACCES (found, not executable) or -ENAMETOOLONG.
 */
static int fence_agent_resolve(const struct fence_runner *r, const char *agent, char *out,
			       size_t len)
{
	const char *dir = r->agent_path;
	int ret = -ENOENT;

	if (strchr(agent, '/')) {
		if ((size_t)snprintf(out, len, "%s", agent) >= len)
			return -ENAMETOOLONG;
		return access(out, X_OK) ? -errno : 0;
	}
	while (*dir) {
		size_t n = strcspn(dir, ":");

		if (n > 0 && (size_t)snprintf(out, len, "%.*s/%s", (int)n, dir, agent) < len) {
			if (access(out, X_OK) == 0)
				return 0;
			if (errno == EACCES)
				ret = -EACCES;
		}
		dir += n;
		if (*dir == ':')
			dir++;
	}
	return ret;
}

static void fence_fd_close(struct fence_runner *r, int *fd, bool polled)
{
	if (*fd < 0)
		return;
	if (polled)
		qb_loop_poll_del(r->loop, *fd);
	close(*fd);
	*fd = -1;
}

static void fence_timer_stop(struct fence_op *op)
{
	if (op->timer_armed)
		qb_loop_timer_del(op->r->loop, op->timer);
	op->timer_armed = false;
}

static int fence_timer_start(struct fence_op *op, uint32_t ms, qb_loop_timer_dispatch_fn fn)
{
	int ret = qb_loop_timer_add(op->r->loop, QB_LOOP_MED, (uint64_t)ms * 1000000ULL, op, fn,
				    &op->timer);

	op->timer_armed = ret == 0;
	return ret;
}

/* Reads what the pipe holds now; returns false at EOF or on error. */
static bool fence_pipe_read(int fd, struct fence_tail *t, size_t budget)
{
	char buf[FENCE_READ_CHUNK];

	while (budget > 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			fence_tail_append(t, buf, (size_t)n);
			budget -= MIN(budget, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
	return true;
}

static int32_t fence_out_ready(int32_t fd, int32_t revents, void *data)
{
	struct fence_op *op = data;

	if (!fence_pipe_read(fd, &op->out, 16 * FENCE_READ_CHUNK))
		fence_fd_close(op->r, &op->outfd, true);
	return 0;
}

static int32_t fence_err_ready(int32_t fd, int32_t revents, void *data)
{
	struct fence_op *op = data;

	if (!fence_pipe_read(fd, &op->err, 16 * FENCE_READ_CHUNK))
		fence_fd_close(op->r, &op->errfd, true);
	return 0;
}

static void fence_op_free(struct fence_op *op)
{
	free(op->capture);
	free(op);
}

static void fence_op_complete(struct fence_op *op, const struct fence_step *st)
{
	struct fence_result res = {
		.action = op->seq.action,
		.ok = st->ok,
		.rc = st->rc,
		.attempts = op->attempts,
		.runs = op->runs,
		.last_action = op->cur,
		.last_exit = op->exit,
		.last_pid = op->last_pid,
		.start_ms = op->start_ms,
		.end_ms = fence_now_ms(),
		.out = op->out.buf,
		.out_len = op->out.len,
		.out_truncated = op->out.truncated,
		.err = op->err.buf,
		.err_len = op->err.len,
		.err_truncated = op->err.truncated,
	};

	if (!st->ok)
		memcpy(res.reason, op->reason, sizeof(res.reason));
	op->state = FENCE_OP_DONE;
	list_del(&op->node);
	op->r->nops--;
	if (st->ok)
		log_notice("fence %s: agent %s %s: %s after %u attempt(s)", op->target, op->agent,
			   fence_action_name(res.action), fence_rc_name(res.rc), res.attempts);
	else
		log_warn("fence %s: %s %s failed after %u attempt(s): %s", op->target, op->agent,
			 fence_action_name(res.action), res.attempts, res.reason);
	op->done(op, &res, op->arg);
	fence_op_free(op);
}

/* A run ended (exited, killed, or never started): decide what comes next. */
static void fence_op_run_finished(struct fence_op *op)
{
	enum fence_rc rc = fence_exit_classify(op->cur, &op->exit);
	uint32_t attempt = op->seq.attempt; /* the run that just ended (next() advances it) */
	struct fence_step st = fence_seq_next(&op->seq, rc);

	op->last_rc = st.run_rc;
	fence_reason_format(op->reason, sizeof(op->reason), op->name, op->cur, &op->exit, st.run_rc,
			    op->policy.timeout_ms, op->err.buf, op->err.len, op->out.buf,
			    op->out.len);
	if (op->reason[0])
		log_warn("fence %s: attempt %u/%u: %s", op->target, attempt, op->seq.max_attempts,
			 op->reason);
	if (st.kind == FENCE_STEP_RUN && op->canceled) {
		st.kind = FENCE_STEP_DONE;
		st.ok = false;
		st.rc = FENCE_RC_CANCELED;
		snprintf(op->reason, sizeof(op->reason), "agent %s %s canceled", op->name,
			 fence_action_name(op->seq.action));
	}
	if (st.kind == FENCE_STEP_DONE) {
		fence_op_complete(op, &st);
		return;
	}
	op->cur = st.action;
	op->state = FENCE_OP_WAITING;
	if (fence_timer_start(op, st.delay_ms, fence_op_start_run)) {
		/* The loop refused a timer: nothing else can restart us. */
		st.kind = FENCE_STEP_DONE;
		st.ok = false;
		st.rc = FENCE_RC_ERROR;
		snprintf(op->reason, sizeof(op->reason), "agent %s: cannot arm a loop timer",
			 op->name);
		fence_op_complete(op, &st);
	}
}

/* Translates waitid()'s view of the child into a struct fence_exit. */
static void fence_op_set_exit(struct fence_op *op, const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED) {
		op->exit.how = FENCE_END_EXIT;
		op->exit.value = si->si_status;
	} else if (op->killed && si->si_status == SIGKILL) {
		op->exit.how = op->canceled ? FENCE_END_CANCEL : FENCE_END_TIMEOUT;
		op->exit.value = SIGKILL;
	} else {
		op->exit.how = FENCE_END_SIGNAL;
		op->exit.value = si->si_status;
	}
}

/* Reaps the agent (blocking only when `block`), drains and closes its pipes. */
static bool fence_op_reap(struct fence_op *op, bool block)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)op->pidfd, &si, WEXITED | (block ? 0 : WNOHANG))) {
		if (errno == EINTR || errno == EAGAIN)
			return false;
		/* ECHILD: someone else reaped it (SIGCHLD ignored?): status lost. */
		log_err("fence %s: agent %s pid %d: waitid: %s", op->target, op->agent,
			(int)op->pid, strerror(errno));
		si.si_code = CLD_EXITED;
		si.si_status = -1;
	} else if (si.si_pid == 0) {
		return false; /* not exited yet */
	}
	fence_op_set_exit(op, &si);
	if (op->outfd >= 0)
		fence_pipe_read(op->outfd, &op->out, FENCE_DRAIN_MAX);
	if (op->errfd >= 0)
		fence_pipe_read(op->errfd, &op->err, FENCE_DRAIN_MAX);
	fence_fd_close(op->r, &op->outfd, true);
	fence_fd_close(op->r, &op->errfd, true);
	fence_fd_close(op->r, &op->pidfd, true);
	fence_timer_stop(op);
	op->last_pid = op->pid;
	op->pid = 0;
	return true;
}

static int32_t fence_pidfd_ready(int32_t fd, int32_t revents, void *data)
{
	struct fence_op *op = data;

	if (fence_op_reap(op, false))
		fence_op_run_finished(op);
	return 0;
}

static void fence_op_kill(struct fence_op *op)
{
	if (op->pid <= 0)
		return;
	/* The agent leads its own group: this reaches its ssh, ipmitool, sleep... */
	if (kill(-op->pid, SIGKILL) && errno == ESRCH)
		kill(op->pid, SIGKILL);
	op->killed = true;
}

static void fence_op_timeout(void *data)
{
	struct fence_op *op = data;

	op->timer_armed = false;
	log_warn("fence %s: agent %s %s pid %d: no exit after %u ms, killing its process group",
		 op->target, op->agent, fence_action_name(op->cur), (int)op->pid,
		 op->policy.timeout_ms);
	fence_op_kill(op);
}

static int fence_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * The stdin pipe is filled and its write end closed before the agent exists:
 * the text (<= FENCE_STDIN_MAX) fits in the empty pipe buffer at once.
 */
static int fence_stdin_pipe(const char *text, int len, int *rd)
{
	int p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	n = write(p[1], text, (size_t)len);
	close(p[1]);
	if (n != len) {
		close(p[0]);
		return n < 0 ? -errno : -EIO;
	}
	*rd = p[0];
	return 0;
}

static int fence_out_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	/* Only our end is non-blocking; the agent gets an ordinary pipe. */
	if (fcntl(p[0], F_SETFL, O_NONBLOCK)) {
		int ret = -errno;

		close(p[0]);
		close(p[1]);
		return ret;
	}
	return 0;
}

static int fence_spawn_attrs(posix_spawnattr_t *a, posix_spawn_file_actions_t *fa, int in, int out,
			     int err)
{
	sigset_t none, all;
	int ret;

	sigemptyset(&none);
	sigfillset(&all);
	ret = posix_spawnattr_init(a);
	if (ret)
		return -ret;
	ret = posix_spawn_file_actions_init(fa);
	if (ret) {
		posix_spawnattr_destroy(a);
		return -ret;
	}
	ret = posix_spawnattr_setflags(a, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						  POSIX_SPAWN_SETSIGDEF);
	ret = ret ?: posix_spawnattr_setpgroup(a, 0);
	ret = ret ?: posix_spawnattr_setsigmask(a, &none);
	ret = ret ?: posix_spawnattr_setsigdefault(a, &all);
	ret = ret ?: posix_spawn_file_actions_adddup2(fa, in, 0);
	ret = ret ?: posix_spawn_file_actions_adddup2(fa, out, 1);
	ret = ret ?: posix_spawn_file_actions_adddup2(fa, err, 2);
	/* Whatever a library opened without O_CLOEXEC stays with us. */
	ret = ret ?: posix_spawn_file_actions_addclosefrom_np(fa, 3);
	if (ret) {
		posix_spawn_file_actions_destroy(fa);
		posix_spawnattr_destroy(a);
	}
	return -ret;
}

/* Starts the agent process with stdin fd `in`; returns 0 or -errno. */
static int fence_spawn(struct fence_op *op, const char *path, int in)
{
	int out[2], err[2], ret;
	posix_spawnattr_t a;
	posix_spawn_file_actions_t fa;
	char *argv[2] = {op->name, NULL};

	ret = fence_out_pipe(out);
	if (ret)
		return ret;
	ret = fence_out_pipe(err);
	if (ret)
		goto err_out;
	ret = fence_spawn_attrs(&a, &fa, in, out[1], err[1]);
	if (ret)
		goto err_err;
	ret = -posix_spawn(&op->pid, path, &fa, &a, argv, (char *const *)fence_env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&a);
	if (ret)
		goto err_err;
	close(out[1]);
	close(err[1]);
	op->outfd = out[0];
	op->errfd = err[0];
	return 0;

err_err:
	close(err[0]);
	close(err[1]);
err_out:
	close(out[0]);
	close(out[1]);
	return ret;
}

/* Watches a started agent: pidfd, pipes, timeout. On failure kills and reaps it. */
static int fence_op_watch(struct fence_op *op)
{
	qb_loop_t *l = op->r->loop;
	int ret;

	op->pidfd = fence_pidfd_open(op->pid);
	if (op->pidfd < 0)
		ret = -errno;
	else
		ret = qb_loop_poll_add(l, QB_LOOP_MED, op->pidfd, POLLIN, op, fence_pidfd_ready);
	if (ret == 0)
		ret = qb_loop_poll_add(l, QB_LOOP_MED, op->outfd, POLLIN, op, fence_out_ready);
	if (ret == 0)
		ret = qb_loop_poll_add(l, QB_LOOP_MED, op->errfd, POLLIN, op, fence_err_ready);
	if (ret == 0)
		ret = fence_timer_start(op, op->policy.timeout_ms, fence_op_timeout);
	if (ret == 0)
		return 0;
	/* Cannot watch it: do not leave it running or unreaped. */
	kill(-op->pid, SIGKILL);
	if (op->pidfd >= 0)
		qb_loop_poll_del(l, op->pidfd);
	qb_loop_poll_del(l, op->outfd);
	qb_loop_poll_del(l, op->errfd);
	waitpid(op->pid, NULL, 0);
	fence_fd_close(op->r, &op->pidfd, false);
	fence_fd_close(op->r, &op->outfd, false);
	fence_fd_close(op->r, &op->errfd, false);
	fence_timer_stop(op);
	op->pid = 0;
	return ret;
}

static void fence_op_spawn_failed(struct fence_op *op, int err)
{
	op->exit.how = FENCE_END_SPAWN;
	op->exit.value = err;
	fence_op_run_finished(op);
}

/* Timer: start the run op->cur (from a timer, so never inside fence_run()). */
static void fence_op_start_run(void *data)
{
	struct fence_op *op = data;
	char path[PATH_MAX];
	bool status = op->seq.verifying;
	int in = -1, ret;

	op->timer_armed = false;
	op->killed = false;
	op->attempts = op->seq.attempt;
	fence_tail_init(&op->out, op->capture, op->policy.capture_max);
	fence_tail_init(&op->err, op->capture + op->policy.capture_max, op->policy.capture_max);
	ret = fence_agent_resolve(op->r, op->agent, path, sizeof(path));
	if (ret == 0) {
		ret = fence_stdin_pipe(status ? op->stdin_status : op->stdin_main,
				       status ? op->stdin_status_len : op->stdin_main_len, &in);
	}
	if (ret == 0) {
		ret = fence_spawn(op, path, in);
		close(in);
	}
	if (ret) {
		fence_op_spawn_failed(op, -ret);
		return;
	}
	op->runs++;
	op->state = FENCE_OP_RUNNING;
	log_info("fence %s: agent %s %s started, pid %d (attempt %u/%u)", op->target, op->agent,
		 fence_action_name(op->cur), (int)op->pid, op->seq.attempt, op->seq.max_attempts);
	ret = fence_op_watch(op);
	if (ret)
		fence_op_spawn_failed(op, -ret);
}

static int fence_op_prepare(struct fence_op *op, const struct fence_request *req)
{
	const char *base;

	op->policy = req->policy;
	if (op->policy.timeout_ms == 0)
		op->policy.timeout_ms = FENCE_DEFAULT_TIMEOUT_MS;
	if (op->policy.capture_max == 0)
		op->policy.capture_max = FENCE_DEFAULT_CAPTURE;
	if (op->policy.capture_max < FENCE_CAPTURE_MIN ||
	    op->policy.capture_max > FENCE_CAPTURE_MAX)
		return -EINVAL;
	if (!req->agent || !req->agent[0] ||
	    (size_t)snprintf(op->agent, sizeof(op->agent), "%s", req->agent) >= sizeof(op->agent))
		return -EINVAL;
	base = strrchr(op->agent, '/');
	base = base ? base + 1 : op->agent;
	if (!base[0] || strlen(base) >= sizeof(op->name))
		return -EINVAL; /* no file name, or one no agent has */
	memcpy(op->name, base, strlen(base) + 1);
	snprintf(op->target, sizeof(op->target), "%s", req->target ? req->target : "-");
	op->stdin_main_len = fence_stdin_build(op->stdin_main, sizeof(op->stdin_main), req->action,
					       req->target_key, req->target, req->opts, req->nopts);
	if (op->stdin_main_len < 0)
		return op->stdin_main_len;
	op->stdin_status_len =
		fence_stdin_build(op->stdin_status, sizeof(op->stdin_status), FENCE_ACTION_STATUS,
				  req->target_key, req->target, req->opts, req->nopts);
	if (op->stdin_status_len < 0)
		return op->stdin_status_len;
	op->capture = malloc(2 * (size_t)op->policy.capture_max);
	if (!op->capture)
		return -ENOMEM;
	fence_tail_init(&op->out, op->capture, op->policy.capture_max);
	fence_tail_init(&op->err, op->capture + op->policy.capture_max, op->policy.capture_max);
	return 0;
}

int fence_run(struct fence_runner *r, const struct fence_request *req, fence_done_fn done,
	      void *arg, struct fence_op **opp)
{
	struct fence_op *op = calloc(1, sizeof(*op));
	struct fence_step st;
	int ret;

	if (!op)
		return -ENOMEM;
	op->r = r;
	op->done = done;
	op->arg = arg;
	op->pidfd = op->outfd = op->errfd = -1;
	ret = fence_op_prepare(op, req);
	if (ret)
		goto err;
	op->start_ms = fence_now_ms();
	st = fence_seq_start(&op->seq, req->action, &op->policy);
	op->cur = st.action;
	op->state = FENCE_OP_WAITING;
	ret = fence_timer_start(op, 0, fence_op_start_run);
	if (ret)
		goto err;
	list_add_tail(&r->ops, &op->node);
	r->nops++;
	if (opp)
		*opp = op;
	return 0;
err:
	fence_op_free(op);
	return ret;
}

/* Timer: a request canceled while waiting for its next run. */
static void fence_op_cancel_fire(void *data)
{
	struct fence_op *op = data;

	op->timer_armed = false;
	op->exit.how = FENCE_END_CANCEL;
	op->exit.value = 0;
	fence_op_run_finished(op);
}

void fence_op_cancel(struct fence_op *op)
{
	if (op->canceled || op->state == FENCE_OP_DONE)
		return;
	op->canceled = true;
	if (op->state == FENCE_OP_RUNNING) {
		fence_op_kill(op);
		return;
	}
	fence_timer_stop(op);
	if (fence_timer_start(op, 0, fence_op_cancel_fire))
		log_err("fence %s: cannot arm a loop timer to cancel", op->target);
}

void fence_runner_destroy(struct fence_runner *r)
{
	struct list_node *pos, *tmp;

	if (!r)
		return;
	list_for_each_safe(pos, tmp, &r->ops)
	{
		struct fence_op *op = list_entry(pos, struct fence_op, node);
		struct fence_step st = {.kind = FENCE_STEP_DONE, .rc = FENCE_RC_CANCELED};

		op->canceled = true;
		fence_timer_stop(op);
		if (op->state == FENCE_OP_RUNNING) {
			fence_op_kill(op);
			while (!fence_op_reap(op, true))
				;
		} else {
			op->exit.how = FENCE_END_CANCEL;
		}
		snprintf(op->reason, sizeof(op->reason), "agent %s %s canceled: clusterd stops",
			 op->name, fence_action_name(op->seq.action));
		fence_op_complete(op, &st);
	}
	free(r->agent_path);
	free(r);
}
