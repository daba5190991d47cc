// SPDX-License-Identifier: MIT
/*
 * Process tests for fencing/fence_run.c: real fake agents (tests/fencing/)
 * run through a real libqb loop. Agents that succeed, fail, hang (with a
 * helper in their process group), print garbage, lie about off, are slow,
 * fail a few times then succeed, die from a signal, do not exist or cannot be
 * executed; cancel and shutdown while running. Checks exact stdin text,
 * results, reasons, bounded capture, that no zombie and no process of a
 * killed group is left, and that no fd leaks.
 *
 * Run from the repository root (make check does); the fakes are found in
 * tests/fencing. No timing assertions: timeouts only decide outcomes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "fencing/fence_run.h"
#include "lib/compiler.h"

#define T_GUARD_MS 60000 /* a test that hangs fails instead of blocking make check */

struct t_env {
	qb_loop_t *loop;
	struct fence_runner *r;
	char dir[64];
	char state[128], record[128], pidfile[128], counter[128];
	char agents[4096];
};

struct t_done {
	qb_loop_t *loop;
	int calls;
	struct fence_result res;
	char out[FENCE_CAPTURE_MAX], err[FENCE_CAPTURE_MAX];
	bool guard_fired;
};

static struct t_done t_d;

static int t_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int t_setup(void **state)
{
	struct t_env *e = calloc(1, sizeof(*e));
	char cwd[2048];

	assert_non_null(e);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(e->agents, sizeof(e->agents), "/nonexistent:%s/tests/fencing", cwd);
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_fence_run.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->state, sizeof(e->state), "%s/state", e->dir);
	snprintf(e->record, sizeof(e->record), "%s/record", e->dir);
	snprintf(e->pidfile, sizeof(e->pidfile), "%s/pids", e->dir);
	snprintf(e->counter, sizeof(e->counter), "%s/counter", e->dir);
	e->loop = qb_loop_create();
	assert_non_null(e->loop);
	assert_int_equal(fence_runner_create(&e->r, e->loop, e->agents), 0);
	memset(&t_d, 0, sizeof(t_d));
	t_d.loop = e->loop;
	*state = e;
	return 0;
}

static int t_teardown(void **state)
{
	struct t_env *e = *state;
	char cmd[256];

	fence_runner_destroy(e->r);
	qb_loop_destroy(e->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", e->dir);
	free(e);
	return 0;
}

static void t_cb(struct fence_op *op, const struct fence_result *res, void *arg)
{
	struct t_done *d = arg;

	d->calls++;
	d->res = *res;
	memcpy(d->out, res->out, res->out_len);
	memcpy(d->err, res->err, res->err_len);
	d->res.out = d->out;
	d->res.err = d->err;
	qb_loop_stop(d->loop);
}

static void t_guard(void *data)
{
	struct t_done *d = data;

	d->guard_fired = true;
	qb_loop_stop(d->loop);
}

/* Runs the loop until the callback stops it (or the guard does: a failure). */
static void t_loop(struct t_env *e)
{
	qb_loop_timer_handle g;

	assert_int_equal(
		qb_loop_timer_add(e->loop, QB_LOOP_LOW, T_GUARD_MS * 1000000ULL, &t_d, t_guard, &g),
		0);
	qb_loop_run(e->loop);
	qb_loop_timer_del(e->loop, g);
	assert_false(t_d.guard_fired);
}

static struct fence_request t_req(const char *agent, enum fence_action a,
				  const struct fence_opt *opts, size_t n)
{
	struct fence_request req = {
		.agent = agent,
		.action = a,
		.target_key = "plug",
		.target = "node2",
		.opts = opts,
		.nopts = n,
	};

	fence_policy_default(&req.policy);
	req.policy.retry_delay_ms = 0;
	req.policy.timeout_ms = 20000;
	return req;
}

/* Starts a request and runs it to completion; the callback must not run early. */
static void t_run(struct t_env *e, const struct fence_request *req)
{
	assert_int_equal(fence_run(e->r, req, t_cb, &t_d, NULL), 0);
	assert_int_equal(t_d.calls, 0); /* never inside the submit call */
	assert_int_equal(fence_runner_pending(e->r), 1);
	t_loop(e);
	assert_int_equal(t_d.calls, 1);
	assert_int_equal(fence_runner_pending(e->r), 0);
}

static void t_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The file's contents without the "--- <pid>" separators of fake-lib.sh. */
static char *t_read_record(const char *path, int *runs)
{
	static char buf[8192];
	char line[512];
	FILE *f = fopen(path, "r");
	size_t off = 0;

	*runs = 0;
	buf[0] = '\0';
	if (!f)
		return buf;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "--- ", 4)) {
			(*runs)++;
			continue;
		}
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s", line);
	}
	fclose(f);
	return buf;
}

/* Gone, or a zombie waiting for init (an orphaned helper of a killed agent). */
static bool t_pid_dead_now(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/*
 * A SIGKILLed process still needs the CPU once to die: wait for it (up to
 * 10 s, so a failure does not hang the suite). Outcome only, not timing.
 */
static bool t_pid_dead(pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		if (t_pid_dead_now(pid))
			return true;
		usleep(10000);
	}
	return false;
}

/* The agent was reaped by the runner: it is no child of ours any more. */
static void t_assert_reaped(pid_t pid)
{
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

struct t_wait {
	qb_loop_t *loop;
	const char *path;
};

static void t_wait_tick(void *data)
{
	struct t_wait *w = data;
	qb_loop_timer_handle th;

	if (access(w->path, F_OK) == 0)
		qb_loop_stop(w->loop);
	else
		qb_loop_timer_add(w->loop, QB_LOOP_HIGH, 20 * 1000000ULL, w, t_wait_tick, &th);
}

/* Runs the loop until `path` exists (e.g. a hanging agent wrote its pid file). */
static void t_loop_until_file(struct t_env *e, const char *path)
{
	struct t_wait w = {.loop = e->loop, .path = path};
	qb_loop_timer_handle th;

	qb_loop_timer_add(e->loop, QB_LOOP_HIGH, 20 * 1000000ULL, &w, t_wait_tick, &th);
	t_loop(e);
}

static void test_off_verified_exact_stdin(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"state", e->state}, {"record", e->record}};
	struct fence_request req = t_req("fence_fake_ok", FENCE_ACTION_OFF, opts, 2);
	char want[1024];
	int runs;

	t_write(e->state, "on\n");
	t_run(e, &req);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
	assert_int_equal(t_d.res.action, FENCE_ACTION_OFF);
	assert_int_equal(t_d.res.attempts, 1);
	assert_int_equal(t_d.res.runs, 2);
	/* The last run was the verifying status, which said off (exit 2). */
	assert_int_equal(t_d.res.last_action, FENCE_ACTION_STATUS);
	assert_int_equal(t_d.res.last_exit.how, FENCE_END_EXIT);
	assert_int_equal(t_d.res.last_exit.value, 2);
	assert_string_equal(t_d.res.reason, "");
	assert_int_equal(t_d.res.out_len, strlen("Status: OFF\n"));
	assert_memory_equal(t_d.res.out, "Status: OFF\n", t_d.res.out_len);
	assert_int_equal(t_d.res.err_len, 0);
	assert_true(t_d.res.end_ms >= t_d.res.start_ms);
	snprintf(want, sizeof(want),
		 "state=%s\nrecord=%s\nplug=node2\naction=off\n"
		 "state=%s\nrecord=%s\nplug=node2\naction=status\n",
		 e->state, e->record, e->state, e->record);
	assert_string_equal(t_read_record(e->record, &runs), want);
	assert_int_equal(runs, 2);
	t_assert_reaped(t_d.res.last_pid);
}

static void test_status_on_and_off(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"state", e->state}};
	struct fence_request req = t_req("fence_fake_ok", FENCE_ACTION_STATUS, opts, 1);

	t_write(e->state, "on\n");
	t_run(e, &req);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
	assert_int_equal(t_d.res.runs, 1);

	t_d.calls = 0;
	t_write(e->state, "off\n");
	t_run(e, &req);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OFF);
	assert_int_equal(t_d.res.last_exit.value, 2);
}

static void test_on_and_port_key(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"state", e->state}, {"record", e->record}};
	struct fence_request req = t_req("fence_fake_ok", FENCE_ACTION_ON, opts, 2);
	char want[1024];
	int runs;

	req.target_key = "port";
	req.target = "vm-node1";
	t_run(e, &req);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.runs, 1); /* "on" is not verified */
	snprintf(want, sizeof(want), "state=%s\nrecord=%s\nport=vm-node1\naction=on\n", e->state,
		 e->record);
	assert_string_equal(t_read_record(e->record, &runs), want);
}

static void test_fail_retried_then_fails(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"record", e->record}};
	struct fence_request req = t_req("fence_fake_fail", FENCE_ACTION_OFF, opts, 1);
	int runs;

	req.policy.retries = 2;
	t_run(e, &req);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_FAILED);
	assert_int_equal(t_d.res.attempts, 3);
	assert_int_equal(t_d.res.runs, 3);
	assert_string_equal(t_d.res.reason,
			    "agent fence_fake_fail off exited 1: Failed: Unable to connect/login "
			    "to fencing device");
	t_read_record(e->record, &runs);
	assert_int_equal(runs, 3);
	t_assert_reaped(t_d.res.last_pid);
}

static void test_status_unreachable(void **state)
{
	struct t_env *e = *state;
	struct fence_request req = t_req("fence_fake_fail", FENCE_ACTION_STATUS, NULL, 0);

	req.policy.retries = 0;
	t_run(e, &req);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_UNREACHABLE);
	assert_string_equal(t_d.res.reason,
			    "agent fence_fake_fail status: device unreachable (exit 1): Failed: "
			    "Unable to connect/login to fencing device");
	/* Both streams are captured. */
	assert_memory_equal(t_d.res.out, "Connecting to power switch...\n", t_d.res.out_len);
}

static void test_hang_killed_with_its_group(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"pidfile", e->pidfile}};
	struct fence_request req = t_req("fence_fake_hang", FENCE_ACTION_OFF, opts, 1);
	int agent = 0, helper = 0;
	FILE *f;

	req.policy.timeout_ms = 1500;
	req.policy.retries = 1;
	t_run(e, &req);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_TIMEOUT);
	assert_int_equal(t_d.res.attempts, 2);
	assert_int_equal(t_d.res.runs, 2);
	assert_int_equal(t_d.res.last_exit.how, FENCE_END_TIMEOUT);
	assert_string_equal(t_d.res.reason,
			    "agent fence_fake_hang off timed out after 1.5 s, killed");
	assert_memory_equal(t_d.res.out, "Connecting...\n", t_d.res.out_len);
	t_assert_reaped(t_d.res.last_pid);
	/* The second run's agent and the helper it forked into its group are dead. */
	f = fopen(e->pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d %d", &agent, &helper), 2);
	fclose(f);
	assert_int_equal(agent, t_d.res.last_pid);
	assert_true(t_pid_dead(agent));
	assert_true(t_pid_dead(helper));
}

static void test_garbage_bounded(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"bytes", "300000"}};
	struct fence_request req = t_req("fence_fake_garbage", FENCE_ACTION_OFF, opts, 1);

	req.policy.verify_off = false;
	req.policy.capture_max = 4096;
	t_run(e, &req);
	/* Garbage on the streams does not matter: off exited 0. */
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.out_len, 4096);
	assert_true(t_d.res.out_truncated);
	assert_int_equal(t_d.res.err_len, 4096);
	assert_true(t_d.res.err_truncated);
	/* The tail is the end of the stream. */
	assert_memory_equal(t_d.res.err + 4096 - 20, "\n\001\002\377 last \033[31mline\n", 20);
}

static void test_garbage_failure_reason_printable(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"bytes", "100000"}, {"rc", "3"}};
	struct fence_request req = t_req("fence_fake_garbage", FENCE_ACTION_REBOOT, opts, 2);

	req.policy.retries = 0;
	t_run(e, &req);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_FAILED);
	assert_string_equal(t_d.res.reason,
			    "agent fence_fake_garbage reboot exited 3: ??? last ?[31mline");
	assert_int_equal(t_d.res.out_len, FENCE_DEFAULT_CAPTURE);
}

static void test_slow_within_timeout(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"delay", "1"}, {"state", e->state}};
	struct fence_request req = t_req("fence_fake_slow", FENCE_ACTION_OFF, opts, 2);

	t_write(e->state, "on\n");
	req.policy.timeout_ms = 15000;
	req.policy.retries = 0;
	t_run(e, &req);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
	assert_int_equal(t_d.res.runs, 2);
}

static void test_off_still_on_does_not_count(void **state)
{
	struct t_env *e = *state;
	struct fence_request req = t_req("fence_fake_stillon", FENCE_ACTION_OFF, NULL, 0);

	req.policy.retries = 1;
	t_run(e, &req);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_STILL_ON);
	assert_int_equal(t_d.res.attempts, 2);
	assert_int_equal(t_d.res.runs, 4);
	assert_string_equal(t_d.res.reason, "agent fence_fake_stillon off exited 0 but status then "
					    "said the target is still on");
}

static void test_flaky_succeeds_on_retry(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"counter", e->counter}, {"fail_times", "2"}};
	struct fence_request req = t_req("fence_fake_flaky", FENCE_ACTION_OFF, opts, 2);

	req.policy.retries = 2;
	t_run(e, &req);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.attempts, 3);
	assert_int_equal(t_d.res.runs, 4); /* fail, fail, off, status */
	assert_string_equal(t_d.res.reason, "");
}

static void test_not_found_and_not_executable(void **state)
{
	struct t_env *e = *state;
	struct fence_request req = t_req("fence_does_not_exist", FENCE_ACTION_OFF, NULL, 0);

	t_run(e, &req);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_NOT_FOUND);
	assert_int_equal(t_d.res.attempts, 1); /* not retried */
	assert_int_equal(t_d.res.runs, 0);
	assert_int_equal(t_d.res.last_pid, 0);
	assert_string_equal(t_d.res.reason, "agent fence_does_not_exist not found or not "
					    "executable: No such file or directory");

	t_d.calls = 0;
	req.agent = "fence_fake_noexec";
	t_run(e, &req);
	assert_int_equal(t_d.res.rc, FENCE_RC_NOT_FOUND);
	assert_string_equal(
		t_d.res.reason,
		"agent fence_fake_noexec not found or not executable: Permission denied");

	/* Found and executable, but its interpreter is missing: exec fails. */
	t_d.calls = 0;
	req.agent = "fence_fake_badinterp";
	t_run(e, &req);
	assert_int_equal(t_d.res.rc, FENCE_RC_NOT_FOUND);
	assert_int_equal(t_d.res.runs, 0);
	assert_string_equal(t_d.res.reason, "agent fence_fake_badinterp not found or not "
					    "executable: No such file or directory");

	t_d.calls = 0;
	req.agent = "/nonexistent/fence_abs";
	t_run(e, &req);
	assert_int_equal(t_d.res.rc, FENCE_RC_NOT_FOUND);
	assert_string_equal(t_d.res.reason, "agent fence_abs not found or not executable: No "
					    "such file or directory");
}

static void test_absolute_path(void **state)
{
	struct t_env *e = *state;
	char path[4200];
	struct fence_request req;

	snprintf(path, sizeof(path), "%s/fence_fake_ok", strchr(e->agents, ':') + 1);
	req = t_req(path, FENCE_ACTION_MONITOR, NULL, 0);
	t_run(e, &req);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
}

static void test_killed_by_signal(void **state)
{
	struct t_env *e = *state;
	struct fence_request req = t_req("fence_fake_signal", FENCE_ACTION_OFF, NULL, 0);

	req.policy.retries = 0;
	t_run(e, &req);
	assert_int_equal(t_d.res.rc, FENCE_RC_FAILED);
	assert_int_equal(t_d.res.last_exit.how, FENCE_END_SIGNAL);
	assert_int_equal(t_d.res.last_exit.value, SIGUSR1);
	assert_string_equal(
		t_d.res.reason,
		"agent fence_fake_signal off killed by signal 10 (User defined signal 1)");
}

struct t_cancel {
	struct t_env *e;
	struct fence_op *op;
	qb_loop_timer_handle th;
	bool canceled;
};

/* Cancels as soon as the hanging agent wrote its pid file. */
static void t_cancel_when_started(void *data)
{
	struct t_cancel *c = data;

	if (access(c->e->pidfile, F_OK) == 0) {
		fence_op_cancel(c->op);
		fence_op_cancel(c->op); /* harmless twice */
		c->canceled = true;
		return;
	}
	qb_loop_timer_add(c->e->loop, QB_LOOP_HIGH, 20 * 1000000ULL, c, t_cancel_when_started,
			  &c->th);
}

static void test_cancel_running(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"pidfile", e->pidfile}};
	struct fence_request req = t_req("fence_fake_hang", FENCE_ACTION_OFF, opts, 1);
	struct t_cancel c = {.e = e};
	int agent = 0, helper = 0;
	FILE *f;

	req.policy.timeout_ms = 50000;
	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, &c.op), 0);
	qb_loop_timer_add(e->loop, QB_LOOP_HIGH, 20 * 1000000ULL, &c, t_cancel_when_started, &c.th);
	t_loop(e);
	assert_true(c.canceled);
	assert_int_equal(t_d.calls, 1);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_CANCELED);
	assert_int_equal(t_d.res.runs, 1);
	assert_string_equal(t_d.res.reason, "agent fence_fake_hang off canceled");
	t_assert_reaped(t_d.res.last_pid);
	f = fopen(e->pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d %d", &agent, &helper), 2);
	fclose(f);
	assert_true(t_pid_dead(agent));
	assert_true(t_pid_dead(helper));
}

static void test_cancel_before_first_run(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"record", e->record}};
	struct fence_request req = t_req("fence_fake_ok", FENCE_ACTION_OFF, opts, 1);
	struct fence_op *op = NULL;
	int runs;

	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, &op), 0);
	fence_op_cancel(op);
	assert_int_equal(t_d.calls, 0); /* not inside the cancel call either */
	t_loop(e);
	assert_int_equal(t_d.calls, 1);
	assert_int_equal(t_d.res.rc, FENCE_RC_CANCELED);
	assert_int_equal(t_d.res.runs, 0);
	assert_int_equal(t_d.res.attempts, 0);
	t_read_record(e->record, &runs);
	assert_int_equal(runs, 0);
}

/* Whether it lands while the first run still runs or during the retry pause,
 * a cancel ends the request after that one run. */
static void test_cancel_between_retries(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"counter", e->counter}, {"fail_times", "9"}};
	struct fence_request req = t_req("fence_fake_flaky", FENCE_ACTION_OFF, opts, 2);
	struct t_cancel c = {.e = e};

	req.policy.retries = 5;
	req.policy.retry_delay_ms = 50000;
	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, &c.op), 0);
	/* pidfile never appears with this agent: cancel on the counter file. */
	snprintf(e->pidfile, sizeof(e->pidfile), "%s", e->counter);
	qb_loop_timer_add(e->loop, QB_LOOP_HIGH, 20 * 1000000ULL, &c, t_cancel_when_started, &c.th);
	t_loop(e);
	assert_int_equal(t_d.res.rc, FENCE_RC_CANCELED);
	assert_int_equal(t_d.res.runs, 1);
	assert_int_equal(t_d.res.attempts, 1);
}

static void test_destroy_completes_in_flight(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt opts[] = {{"pidfile", e->pidfile}};
	struct fence_request req = t_req("fence_fake_hang", FENCE_ACTION_OFF, opts, 1);
	struct fence_request req2 = t_req("fence_fake_ok", FENCE_ACTION_OFF, NULL, 0);
	struct t_done d2 = {.loop = e->loop};
	int agent = 0, helper = 0;
	FILE *f;

	req.policy.timeout_ms = 50000;
	req2.policy.retry_delay_ms = 50000;
	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, NULL), 0);
	t_loop_until_file(e, e->pidfile);
	assert_int_equal(t_d.calls, 0);
	assert_int_equal(fence_run(e->r, &req2, t_cb, &d2, NULL), 0);
	fence_runner_destroy(e->r);
	e->r = NULL;
	assert_int_equal(t_d.calls, 1);
	assert_int_equal(t_d.res.rc, FENCE_RC_CANCELED);
	assert_string_equal(t_d.res.reason, "agent fence_fake_hang off canceled: clusterd stops");
	t_assert_reaped(t_d.res.last_pid);
	assert_int_equal(d2.calls, 1);
	assert_int_equal(d2.res.rc, FENCE_RC_CANCELED);
	f = fopen(e->pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d %d", &agent, &helper), 2);
	fclose(f);
	assert_true(t_pid_dead(agent));
	assert_true(t_pid_dead(helper));
	assert_int_equal(fence_runner_create(&e->r, e->loop, e->agents), 0);
}

static void test_two_requests_at_once(void **state)
{
	struct t_env *e = *state;
	struct fence_request a = t_req("fence_fake_slow", FENCE_ACTION_STATUS, NULL, 0);
	struct fence_request b = t_req("fence_fake_fail", FENCE_ACTION_OFF, NULL, 0);
	struct t_done da = {.loop = e->loop}, db = {.loop = e->loop};

	/* Each callback stops the loop: run it until both came. */
	b.policy.retries = 0;
	assert_int_equal(fence_run(e->r, &a, t_cb, &da, NULL), 0);
	assert_int_equal(fence_run(e->r, &b, t_cb, &db, NULL), 0);
	assert_int_equal(fence_runner_pending(e->r), 2);
	t_loop(e);
	if (da.calls == 0 || db.calls == 0)
		t_loop(e);
	assert_int_equal(da.calls, 1);
	assert_int_equal(db.calls, 1);
	assert_int_equal(da.res.rc, FENCE_RC_OFF);
	assert_int_equal(db.res.rc, FENCE_RC_FAILED);
}

static void test_bad_requests(void **state)
{
	struct t_env *e = *state;
	const struct fence_opt inject[] = {{"passwd", "x\naction=on"}};
	struct fence_request req = t_req("fence_fake_ok", FENCE_ACTION_OFF, inject, 1);
	char big[FENCE_STDIN_MAX];
	const struct fence_opt huge[] = {{"passwd", big}};

	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, NULL), -EINVAL);
	req = t_req("fence_fake_ok", FENCE_ACTION_OFF, NULL, 0);
	req.policy.capture_max = 10;
	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, NULL), -EINVAL);
	req = t_req("", FENCE_ACTION_OFF, NULL, 0);
	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, NULL), -EINVAL);
	req = t_req("dir/", FENCE_ACTION_OFF, NULL, 0);
	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, NULL), -EINVAL);
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	req = t_req("fence_fake_ok", FENCE_ACTION_OFF, huge, 1);
	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, NULL), -ENOSPC);
	assert_int_equal(fence_runner_pending(e->r), 0);
	assert_int_equal(t_d.calls, 0);
}

/* Many runs later, the runner holds no fd it opened (pipes, pidfds). */
static void test_no_fd_leak(void **state)
{
	struct t_env *e = *state;
	struct fence_request req = t_req("fence_fake_fail", FENCE_ACTION_OFF, NULL, 0);
	int before;

	req.policy.retries = 3;
	t_run(e, &req); /* warm up: libqb allocates its own fds lazily */
	before = t_count_fds();
	t_d.calls = 0;
	t_run(e, &req);
	assert_int_equal(t_d.res.runs, 4);
	assert_int_equal(t_count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_off_verified_exact_stdin, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_status_on_and_off, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_on_and_port_key, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_fail_retried_then_fails, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_status_unreachable, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_hang_killed_with_its_group, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_garbage_bounded, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_garbage_failure_reason_printable, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_slow_within_timeout, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_off_still_on_does_not_count, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_flaky_succeeds_on_retry, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_not_found_and_not_executable, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_absolute_path, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_killed_by_signal, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_running, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_before_first_run, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_between_retries, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_destroy_completes_in_flight, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_two_requests_at_once, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_no_fd_leak, t_setup, t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
