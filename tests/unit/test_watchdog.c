// SPDX-License-Identifier: MIT
/*
 * Tests for fencing/watchdog.c. This machine has no watchdog device, so the
 * device is the documented test double: a FIFO read by a double that plays
 * the hardware (an in-process reader thread here, and once the shell double
 * tests/fencing/watchdog-double), and reports "would reset" when keepalives
 * stop or the device is closed without the magic 'V'.
 *
 * Covered: the pure decision (every transition, latching, boundaries),
 * configuration checks, and for real with the feeder thread and a libqb loop
 * heartbeat: fed only while quorate and the loop beats; quorum loss and a
 * stalled loop stop the feeding for good; a clean stop disarms, a stop while
 * expiring does not; a FIFO without a reader is retried.
 *
 * Waits are bounded loops on outcomes (no timing assertions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "fencing/watchdog.h"

extern char **environ;

/* ---- the pure decision ---- */

static void test_core_arm_feed_close(void **state)
{
	struct watchdog_core c;

	watchdog_core_init(&c, 500);
	assert_int_equal(c.state, WATCHDOG_IDLE);
	/* Never armed before the first quorum, nor by a stalled loop. */
	assert_int_equal(watchdog_core_tick(&c, 1000, false, 1000), WATCHDOG_ACT_NONE);
	assert_int_equal(watchdog_core_tick(&c, 1000, true, 499), WATCHDOG_ACT_NONE);
	assert_int_equal(c.state, WATCHDOG_IDLE);
	assert_int_equal(watchdog_core_tick(&c, 1000, true, 500), WATCHDOG_ACT_OPEN);
	assert_int_equal(c.state, WATCHDOG_IDLE); /* until the open succeeded */
	watchdog_core_opened(&c, 1001);
	assert_int_equal(c.state, WATCHDOG_ARMED);
	assert_int_equal(c.since_ms, 1001);
	assert_int_equal(watchdog_core_tick(&c, 1100, true, 1050), WATCHDOG_ACT_FEED);
	/* Exactly stall_ms old is still healthy; a heartbeat after now too. */
	assert_int_equal(watchdog_core_tick(&c, 1550, true, 1050), WATCHDOG_ACT_FEED);
	assert_int_equal(watchdog_core_tick(&c, 1550, true, 1600), WATCHDOG_ACT_FEED);
	assert_true(watchdog_core_close(&c, 1600));
	assert_int_equal(c.state, WATCHDOG_CLOSED);
	assert_int_equal(watchdog_core_tick(&c, 1700, true, 1700), WATCHDOG_ACT_NONE);
	assert_false(watchdog_core_close(&c, 1700));
}

static void test_core_quorum_loss_latches(void **state)
{
	struct watchdog_core c;

	watchdog_core_init(&c, 500);
	watchdog_core_tick(&c, 0, true, 0);
	watchdog_core_opened(&c, 0);
	assert_int_equal(watchdog_core_tick(&c, 100, false, 100), WATCHDOG_ACT_STOP);
	assert_int_equal(c.state, WATCHDOG_EXPIRING);
	assert_int_equal(c.why, WATCHDOG_WHY_QUORUM);
	assert_int_equal(c.since_ms, 100);
	/* Quorum back and a healthy loop: still never fed again. */
	assert_int_equal(watchdog_core_tick(&c, 200, true, 200), WATCHDOG_ACT_NONE);
	assert_int_equal(c.state, WATCHDOG_EXPIRING);
	/* And a clean stop does not disarm it. */
	assert_false(watchdog_core_close(&c, 300));
	assert_int_equal(c.state, WATCHDOG_EXPIRING);
}

static void test_core_stall_latches(void **state)
{
	struct watchdog_core c;

	watchdog_core_init(&c, 500);
	watchdog_core_tick(&c, 0, true, 0);
	watchdog_core_opened(&c, 0);
	assert_int_equal(watchdog_core_tick(&c, 501, true, 0), WATCHDOG_ACT_STOP);
	assert_int_equal(c.why, WATCHDOG_WHY_STALL);
	assert_int_equal(watchdog_core_tick(&c, 600, true, 600), WATCHDOG_ACT_NONE);
	/* Quorum loss wins when both happen in the same tick. */
	watchdog_core_init(&c, 500);
	watchdog_core_tick(&c, 0, true, 0);
	watchdog_core_opened(&c, 0);
	assert_int_equal(watchdog_core_tick(&c, 9000, false, 0), WATCHDOG_ACT_STOP);
	assert_int_equal(c.why, WATCHDOG_WHY_QUORUM);
	/* opened() outside IDLE changes nothing. */
	watchdog_core_opened(&c, 9999);
	assert_int_equal(c.state, WATCHDOG_EXPIRING);
}

static void test_names(void **state)
{
	assert_string_equal(watchdog_state_name(WATCHDOG_EXPIRING), "expiring");
	assert_string_equal(watchdog_state_name(WATCHDOG_ARMED), "armed");
	assert_string_equal(watchdog_why_name(WATCHDOG_WHY_STALL), "control loop stalled");
	assert_string_equal(watchdog_why_name(WATCHDOG_WHY_QUORUM), "quorum lost");
}

/* ---- the in-process double ---- */

struct t_double {
	char path[96];
	pthread_t th;
	atomic_bool started, done;
	/* written by the double thread, read after `done` (or atomically) */
	atomic_int keepalives;
	atomic_bool armed;
	bool would_reset, disarmed, closed_without_magic, open_failed;
	atomic_uint timeout_s;
};

struct t_env {
	char dir[64];
	char fifo[96];
	struct t_double dbl;
	qb_loop_t *loop;
	struct watchdog *w;
};

static uint64_t t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Plays a Linux watchdog: reset when nothing arrives within the timeout. */
static void *t_double_thread(void *arg)
{
	struct t_double *d = arg;
	int fd = open(d->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	uint64_t last = 0;
	bool magic = false;
	char c;

	atomic_store(&d->started, true);
	if (fd < 0) { /* no cmocka assert off the main thread: report instead */
		d->open_failed = true;
		atomic_store(&d->done, true);
		return NULL;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		poll(&p, 1, 20);
		if (atomic_load(&d->armed) &&
		    t_now_ms() - last > atomic_load(&d->timeout_s) * 1000ULL) {
			d->would_reset = true;
			break;
		}
		n = read(fd, &c, 1);
		if (n == 0) { /* the writer closed (POLLHUP) */
			if (!atomic_load(&d->armed))
				continue;
			d->disarmed = magic;
			d->closed_without_magic = !magic;
			break;
		}
		if (n < 0)
			continue;
		if (!atomic_load(&d->armed)) {
			atomic_store(&d->armed, true); /* opened: first byte is "T" */
		}
		last = t_now_ms();
		magic = false;
		if (c == 'k') {
			atomic_fetch_add(&d->keepalives, 1);
		} else if (c == 'V') {
			magic = true;
		} else if (c == 'T') {
			unsigned t = 0;

			while (read(fd, &c, 1) == 1 && c != '\n')
				t = t * 10 + (unsigned)(c - '0');
			atomic_store(&d->timeout_s, t);
		}
	}
	close(fd);
	atomic_store(&d->done, true);
	return NULL;
}

static void t_double_start(struct t_env *e)
{
	memset(&e->dbl, 0, sizeof(e->dbl));
	snprintf(e->dbl.path, sizeof(e->dbl.path), "%s", e->fifo);
	atomic_store(&e->dbl.timeout_s, 60); /* until clusterd says */
	assert_int_equal(pthread_create(&e->dbl.th, NULL, t_double_thread, &e->dbl), 0);
	while (!atomic_load(&e->dbl.started))
		usleep(1000);
	assert_false(e->dbl.open_failed);
}

static void t_double_join(struct t_env *e)
{
	pthread_join(e->dbl.th, NULL);
}

static int t_setup(void **state)
{
	struct t_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_watchdog.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->fifo, sizeof(e->fifo), "%s/watchdog", e->dir);
	assert_int_equal(mkfifo(e->fifo, 0600), 0);
	e->loop = qb_loop_create();
	assert_non_null(e->loop);
	*state = e;
	return 0;
}

static int t_teardown(void **state)
{
	struct t_env *e = *state;
	char out[128];

	if (e->w)
		watchdog_destroy(e->w);
	qb_loop_destroy(e->loop);
	unlink(e->fifo);
	snprintf(out, sizeof(out), "%s/double.out", e->dir);
	unlink(out);
	rmdir(e->dir);
	free(e);
	return 0;
}

static void t_stop_loop(void *data)
{
	qb_loop_stop(data);
}

/* Runs the control loop for ms (the watchdog's heartbeat timer runs in it). */
static void t_run_loop(struct t_env *e, uint32_t ms)
{
	qb_loop_timer_handle th;

	assert_int_equal(
		qb_loop_timer_add(e->loop, QB_LOOP_LOW, ms * 1000000ULL, e->loop, t_stop_loop, &th),
		0);
	qb_loop_run(e->loop);
}

static struct watchdog *t_create(struct t_env *e, uint32_t timeout_s, uint32_t interval_ms,
				 uint32_t stall_ms)
{
	struct watchdog_config cfg = {
		.device = e->fifo,
		.timeout_s = timeout_s,
		.interval_ms = interval_ms,
		.stall_ms = stall_ms,
	};

	assert_int_equal(watchdog_create(&e->w, &cfg), 0);
	assert_int_equal(watchdog_loop_attach(e->w, e->loop), 0);
	return e->w;
}

static struct watchdog_status t_status(struct t_env *e)
{
	struct watchdog_status st;

	watchdog_get_status(e->w, &st);
	return st;
}

/* Runs the loop in slices until the state is reached (or 10 s passed). */
static void t_loop_until_state(struct t_env *e, enum watchdog_state s)
{
	for (int i = 0; i < 200 && t_status(e).state != s; i++)
		t_run_loop(e, 50);
	assert_int_equal(t_status(e).state, s);
}

static void t_loop_until_keepalives(struct t_env *e, int n)
{
	for (int i = 0; i < 200 && atomic_load(&e->dbl.keepalives) < n; i++)
		t_run_loop(e, 50);
	assert_true(atomic_load(&e->dbl.keepalives) >= n);
}

static void test_config_checks(void **state)
{
	struct t_env *e = *state;
	struct watchdog *w = NULL;
	struct watchdog_config cfg = {.device = e->fifo, .timeout_s = 0};

	assert_int_equal(watchdog_create(&w, &cfg), -EINVAL);
	cfg.timeout_s = 3601;
	assert_int_equal(watchdog_create(&w, &cfg), -EINVAL);
	cfg.timeout_s = 2;
	cfg.interval_ms = 2000;
	assert_int_equal(watchdog_create(&w, &cfg), -EINVAL);
	cfg.interval_ms = 500;
	cfg.stall_ms = 1600; /* a stall must be seen before the device fires */
	assert_int_equal(watchdog_create(&w, &cfg), -EINVAL);
	cfg.stall_ms = 0;
	cfg.device = "/nonexistent/watchdog";
	assert_int_equal(watchdog_create(&w, &cfg), -ENOENT);
	cfg.device = e->dir;
	assert_int_equal(watchdog_create(&w, &cfg), -ENOTSUP);
	cfg.device = "";
	assert_int_equal(watchdog_create(&w, &cfg), -EINVAL);
	assert_null(w);
}

static void test_fed_only_while_quorate_then_disarmed(void **state)
{
	struct t_env *e = *state;
	struct watchdog_status st;

	t_double_start(e);
	t_create(e, 2, 100, 500);
	/* Not quorate yet: the device is not even opened. */
	t_run_loop(e, 300);
	st = t_status(e);
	assert_int_equal(st.state, WATCHDOG_IDLE);
	assert_true(st.is_double);
	assert_false(atomic_load(&e->dbl.armed));

	watchdog_set_quorate(e->w, true);
	t_loop_until_keepalives(e, 5);
	st = t_status(e);
	assert_int_equal(st.state, WATCHDOG_ARMED);
	assert_int_equal(st.timeout_s, 2);
	assert_true(st.feeds >= 5);
	assert_int_equal(st.last_error, 0);
	assert_int_equal(atomic_load(&e->dbl.timeout_s), 2); /* "SETTIMEOUT" reached the device */

	/* Clean stop while armed: magic close, the double disarms. */
	watchdog_destroy(e->w);
	e->w = NULL;
	t_double_join(e);
	assert_true(e->dbl.disarmed);
	assert_false(e->dbl.would_reset);
	assert_false(e->dbl.closed_without_magic);
}

static void test_quorum_loss_stops_feeding(void **state)
{
	struct t_env *e = *state;
	struct watchdog_status st;
	uint64_t feeds;

	t_double_start(e);
	t_create(e, 1, 100, 400);
	watchdog_set_quorate(e->w, true);
	t_loop_until_keepalives(e, 3);
	watchdog_set_quorate(e->w, false);
	t_loop_until_state(e, WATCHDOG_EXPIRING);
	st = t_status(e);
	assert_int_equal(st.why, WATCHDOG_WHY_QUORUM);
	feeds = st.feeds;
	/* The double times out: this node would be reset. */
	for (int i = 0; i < 200 && !atomic_load(&e->dbl.done); i++)
		t_run_loop(e, 50);
	t_double_join(e);
	assert_true(e->dbl.would_reset);
	assert_false(e->dbl.disarmed);
	/* Quorum coming back changes nothing: latched. */
	watchdog_set_quorate(e->w, true);
	t_run_loop(e, 300);
	st = t_status(e);
	assert_int_equal(st.state, WATCHDOG_EXPIRING);
	assert_int_equal(st.feeds, feeds);
}

static void test_loop_stall_stops_feeding(void **state)
{
	struct t_env *e = *state;
	struct watchdog_status st;

	t_double_start(e);
	t_create(e, 1, 100, 400);
	watchdog_set_quorate(e->w, true);
	t_loop_until_keepalives(e, 3);
	/* The control loop stops running (a stuck callback): no heartbeats. */
	for (int i = 0; i < 500 && t_status(e).state != WATCHDOG_EXPIRING; i++)
		usleep(20000);
	st = t_status(e);
	assert_int_equal(st.state, WATCHDOG_EXPIRING);
	assert_int_equal(st.why, WATCHDOG_WHY_STALL);
	for (int i = 0; i < 500 && !atomic_load(&e->dbl.done); i++)
		usleep(20000);
	t_double_join(e);
	assert_true(e->dbl.would_reset);
	/* The loop recovering does not resume feeding. */
	t_run_loop(e, 300);
	assert_int_equal(t_status(e).state, WATCHDOG_EXPIRING);
}

static void test_stop_while_expiring_keeps_reset(void **state)
{
	struct t_env *e = *state;

	t_double_start(e);
	t_create(e, 5, 100, 400);
	watchdog_set_quorate(e->w, true);
	t_loop_until_keepalives(e, 2);
	watchdog_set_quorate(e->w, false);
	t_loop_until_state(e, WATCHDOG_EXPIRING);
	/* Daemon stops before the device fires: closed WITHOUT 'V'. */
	watchdog_destroy(e->w);
	e->w = NULL;
	t_double_join(e);
	assert_true(e->dbl.closed_without_magic);
	assert_false(e->dbl.disarmed);
}

static void test_no_reader_is_retried(void **state)
{
	struct t_env *e = *state;
	struct watchdog_status st;

	t_create(e, 2, 100, 500);
	watchdog_set_quorate(e->w, true);
	t_run_loop(e, 300);
	st = t_status(e);
	assert_int_equal(st.state, WATCHDOG_IDLE);
	assert_int_equal(st.last_error, -ENXIO);
	t_double_start(e);
	t_loop_until_state(e, WATCHDOG_ARMED);
	t_loop_until_keepalives(e, 2);
	watchdog_destroy(e->w);
	e->w = NULL;
	t_double_join(e);
	assert_true(e->dbl.disarmed);
}

/* The shell double that tests/cluster can use, driven the same way. */
static pid_t t_shell_double(struct t_env *e, char *out)
{
	char *argv[] = {"tests/fencing/watchdog-double", e->fifo, "30", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;

	snprintf(out, 128, "%s/double.out", e->dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static char *t_slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int t_wait_child(struct t_env *e, pid_t pid)
{
	int st = 0;

	for (int i = 0; i < 400 && waitpid(pid, &st, WNOHANG) == 0; i++)
		t_run_loop(e, 50);
	if (!WIFEXITED(st)) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
	return WEXITSTATUS(st);
}

static void test_shell_double(void **state)
{
	struct t_env *e = *state;
	char out[128];
	const char *text;
	pid_t pid;

	/* Quorum lost: the shell double reports the reset. */
	pid = t_shell_double(e, out);
	t_create(e, 1, 100, 400);
	watchdog_set_quorate(e->w, true);
	t_loop_until_state(e, WATCHDOG_ARMED);
	t_run_loop(e, 300);
	watchdog_set_quorate(e->w, false);
	assert_int_equal(t_wait_child(e, pid), 1);
	text = t_slurp(out);
	assert_non_null(strstr(text, "watchdog-double: timeout set to 1 s\n"));
	assert_non_null(strstr(text, "watchdog-double: WOULD RESET: no keepalive for 1 s"));
	watchdog_destroy(e->w);
	e->w = NULL;

	/* A clean stop: disarmed. */
	pid = t_shell_double(e, out);
	t_create(e, 1, 100, 400);
	watchdog_set_quorate(e->w, true);
	t_loop_until_state(e, WATCHDOG_ARMED);
	t_run_loop(e, 300);
	watchdog_destroy(e->w);
	e->w = NULL;
	assert_int_equal(t_wait_child(e, pid), 0);
	assert_non_null(strstr(t_slurp(out), "watchdog-double: disarmed (magic close)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_arm_feed_close),
		cmocka_unit_test(test_core_quorum_loss_latches),
		cmocka_unit_test(test_core_stall_latches),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_config_checks, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_fed_only_while_quorate_then_disarmed, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_quorum_loss_stops_feeding, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_loop_stall_stops_feeding, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_stop_while_expiring_keeps_reset, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_no_reader_is_retried, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_shell_double, t_setup, t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
