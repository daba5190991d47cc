// SPDX-License-Identifier: MIT
/*
 * Unit tests for fencing/fence.c, the sans-I/O half of the fence-agent
 * runner: the stdin text, option checks, exit status classification, reason
 * strings, the bounded output tail and the retry / off-verification
 * sequencer. No process is started here (see test_fence_run.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fencing/fence.h"
#include "lib/compiler.h"

static void test_stdin_order_and_action_last(void **state)
{
	const struct fence_opt opts[] = {
		{"ipaddr", "10.0.0.9"},
		{"login", "admin"},
		{"passwd", "s3cr=t with spaces"},
	};
	char buf[FENCE_STDIN_MAX];
	int n = fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "plug", "node2", opts,
				  ARRAY_SIZE(opts));
	const char *want = "ipaddr=10.0.0.9\nlogin=admin\npasswd=s3cr=t with spaces\n"
			   "plug=node2\naction=off\n";

	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_stdin_no_target(void **state)
{
	const struct fence_opt opts[] = {{"ipaddr", "bmc2"}};
	char buf[64];
	int n = fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_STATUS, NULL, NULL, opts, 1);

	assert_int_equal(n, 26);
	assert_string_equal(buf, "ipaddr=bmc2\naction=status\n");
	n = fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_METADATA, NULL, NULL, NULL, 0);
	assert_string_equal(buf, "action=metadata\n");
	assert_int_equal(n, 16);
}

static void test_stdin_refuses_injection(void **state)
{
	char buf[FENCE_STDIN_MAX];
	const struct fence_opt lf[] = {{"passwd", "x\naction=on"}};
	const struct fence_opt cr[] = {{"passwd", "x\raction=on"}};
	const struct fence_opt act[] = {{"action", "on"}};
	const struct fence_opt opt[] = {{"option", "on"}};
	const struct fence_opt plug[] = {{"plug", "node1"}};
	const struct fence_opt key[] = {{"ip addr", "x"}};
	const struct fence_opt eq[] = {{"a=b", "x"}};
	const struct fence_opt empty[] = {{"", "x"}};

	assert_int_equal(fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "plug", "n", lf, 1),
			 -EINVAL);
	assert_int_equal(fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "plug", "n", cr, 1),
			 -EINVAL);
	assert_int_equal(fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "plug", "n", act, 1),
			 -EINVAL);
	assert_int_equal(fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "plug", "n", opt, 1),
			 -EINVAL);
	/* The target is the node's: an option may not override it... */
	assert_int_equal(
		fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "plug", "node2", plug, 1),
		-EINVAL);
	/* ...but with target_key "port", "plug" is just another option. */
	assert_int_equal(
		fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "port", "node2", plug, 1),
		(int)strlen("plug=node1\nport=node2\naction=off\n"));
	assert_int_equal(fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, NULL, NULL, key, 1),
			 -EINVAL);
	assert_int_equal(fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, NULL, NULL, eq, 1),
			 -EINVAL);
	assert_int_equal(
		fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, NULL, NULL, empty, 1),
		-EINVAL);
	/* A target with a line break would inject too. */
	assert_int_equal(fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "plug",
					   "n\naction=on", NULL, 0),
			 -EINVAL);
	assert_int_equal(
		fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_OFF, "plug", NULL, NULL, 0),
		-EINVAL);
	assert_int_equal(
		fence_stdin_build(buf, sizeof(buf), FENCE_ACTION_COUNT, NULL, NULL, NULL, 0),
		-EINVAL);
}

static void test_stdin_nospace(void **state)
{
	char buf[32];
	const struct fence_opt opts[] = {{"ipaddr", "10.0.0.9"}};

	/* "ipaddr=10.0.0.9\n" (16) + "action=off\n" (11) + NUL needs 28. */
	assert_int_equal(fence_stdin_build(buf, 27, FENCE_ACTION_OFF, NULL, NULL, opts, 1),
			 -ENOSPC);
	assert_int_equal(fence_stdin_build(buf, 10, FENCE_ACTION_OFF, NULL, NULL, opts, 1),
			 -ENOSPC);
	assert_int_equal(fence_stdin_build(buf, 28, FENCE_ACTION_OFF, NULL, NULL, opts, 1), 27);
	assert_int_equal(fence_stdin_build(buf, 0, FENCE_ACTION_OFF, NULL, NULL, opts, 1), -ENOSPC);
}

static void test_opt_check(void **state)
{
	char longkey[65];

	assert_int_equal(fence_opt_check("ipaddr", "10.0.0.1"), 0);
	assert_int_equal(fence_opt_check("pcmk-host_1", ""), 0);
	assert_int_equal(fence_opt_check("passwd", "a b=c#d"), 0);
	memset(longkey, 'k', 64);
	longkey[64] = '\0';
	assert_int_equal(fence_opt_check(longkey, "x"), -EINVAL);
	longkey[63] = '\0';
	assert_int_equal(fence_opt_check(longkey, "x"), 0);
	assert_int_equal(fence_opt_check(NULL, "x"), -EINVAL);
	assert_int_equal(fence_opt_check("k", NULL), -EINVAL);
}

static void test_action_names(void **state)
{
	enum fence_action a;

	for (int i = 0; i < FENCE_ACTION_COUNT; i++) {
		assert_non_null(fence_action_name((enum fence_action)i));
		assert_int_equal(fence_action_parse(fence_action_name((enum fence_action)i), &a),
				 0);
		assert_int_equal(a, i);
	}
	assert_string_equal(fence_action_name(FENCE_ACTION_REBOOT), "reboot");
	assert_null(fence_action_name(FENCE_ACTION_COUNT));
	assert_int_equal(fence_action_parse("list", &a), -EINVAL);
	assert_int_equal(fence_action_parse("OFF", &a), -EINVAL);
	assert_string_equal(fence_rc_name(FENCE_RC_STILL_ON), "still on");
	assert_string_equal(fence_rc_name(FENCE_RC_COUNT), "?");
}

static enum fence_rc classify(enum fence_action a, enum fence_end how, int value)
{
	struct fence_exit e = {.how = how, .value = value};

	return fence_exit_classify(a, &e);
}

/* FenceAgentAPI.md exit codes, action by action. */
static void test_classify_exit_codes(void **state)
{
	static const enum fence_action power[] = {FENCE_ACTION_OFF, FENCE_ACTION_ON,
						  FENCE_ACTION_REBOOT, FENCE_ACTION_METADATA};

	for (size_t i = 0; i < ARRAY_SIZE(power); i++) {
		assert_int_equal(classify(power[i], FENCE_END_EXIT, 0), FENCE_RC_OK);
		assert_int_equal(classify(power[i], FENCE_END_EXIT, 1), FENCE_RC_FAILED);
		/* 2 means "off" only for status: for off itself it is a failure. */
		assert_int_equal(classify(power[i], FENCE_END_EXIT, 2), FENCE_RC_FAILED);
		assert_int_equal(classify(power[i], FENCE_END_EXIT, 5), FENCE_RC_FAILED);
		assert_int_equal(classify(power[i], FENCE_END_EXIT, 255), FENCE_RC_FAILED);
	}
	assert_int_equal(classify(FENCE_ACTION_STATUS, FENCE_END_EXIT, 0), FENCE_RC_OK);
	assert_int_equal(classify(FENCE_ACTION_STATUS, FENCE_END_EXIT, 1), FENCE_RC_UNREACHABLE);
	assert_int_equal(classify(FENCE_ACTION_STATUS, FENCE_END_EXIT, 2), FENCE_RC_OFF);
	assert_int_equal(classify(FENCE_ACTION_STATUS, FENCE_END_EXIT, 3), FENCE_RC_FAILED);
	assert_int_equal(classify(FENCE_ACTION_MONITOR, FENCE_END_EXIT, 0), FENCE_RC_OK);
	assert_int_equal(classify(FENCE_ACTION_MONITOR, FENCE_END_EXIT, 1), FENCE_RC_UNREACHABLE);
	assert_int_equal(classify(FENCE_ACTION_MONITOR, FENCE_END_EXIT, 2), FENCE_RC_OFF);
}

static void test_classify_abnormal_ends(void **state)
{
	assert_int_equal(classify(FENCE_ACTION_OFF, FENCE_END_SIGNAL, SIGSEGV), FENCE_RC_FAILED);
	assert_int_equal(classify(FENCE_ACTION_STATUS, FENCE_END_SIGNAL, SIGKILL), FENCE_RC_FAILED);
	assert_int_equal(classify(FENCE_ACTION_OFF, FENCE_END_TIMEOUT, SIGKILL), FENCE_RC_TIMEOUT);
	assert_int_equal(classify(FENCE_ACTION_STATUS, FENCE_END_TIMEOUT, 0), FENCE_RC_TIMEOUT);
	assert_int_equal(classify(FENCE_ACTION_OFF, FENCE_END_SPAWN, ENOENT), FENCE_RC_NOT_FOUND);
	assert_int_equal(classify(FENCE_ACTION_OFF, FENCE_END_SPAWN, EACCES), FENCE_RC_NOT_FOUND);
	assert_int_equal(classify(FENCE_ACTION_OFF, FENCE_END_SPAWN, ENOEXEC), FENCE_RC_NOT_FOUND);
	assert_int_equal(classify(FENCE_ACTION_OFF, FENCE_END_SPAWN, EMFILE), FENCE_RC_ERROR);
	assert_int_equal(classify(FENCE_ACTION_OFF, FENCE_END_SPAWN, ENOMEM), FENCE_RC_ERROR);
	assert_int_equal(classify(FENCE_ACTION_ON, FENCE_END_CANCEL, 0), FENCE_RC_CANCELED);
}

static void test_last_line(void **state)
{
	char out[FENCE_LINE_MAX];
	const char *two = "Connecting...\nFailed: Unable to connect\n\n  \n";
	char big[400];

	assert_int_equal(fence_output_last_line(two, strlen(two), out, sizeof(out)), 25);
	assert_string_equal(out, "Failed: Unable to connect");
	assert_int_equal(fence_output_last_line("  one\t", 6, out, sizeof(out)), 3);
	assert_string_equal(out, "one");
	assert_int_equal(fence_output_last_line("\n\n \n", 4, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(fence_output_last_line("", 0, out, sizeof(out)), 0);
	/* Control and high bytes become '?' (they end up in logs and JSON). */
	assert_int_equal(fence_output_last_line("a\x01\x1b[31mb\xff", 9, out, sizeof(out)), 9);
	assert_string_equal(out, "a??[31mb?");
	/* Long lines are cut with "..." to FENCE_LINE_MAX - 1 bytes. */
	memset(big, 'x', sizeof(big));
	assert_int_equal(fence_output_last_line(big, sizeof(big), out, sizeof(out)),
			 FENCE_LINE_MAX - 1);
	assert_memory_equal(out + FENCE_LINE_MAX - 4, "...", 4);
	/* ...and to a smaller caller buffer. */
	assert_int_equal(fence_output_last_line(big, sizeof(big), out, 10), 9);
	assert_string_equal(out, "xxxxxx...");
}

static const char *reason(enum fence_action a, enum fence_end how, int value, enum fence_rc rc,
			  uint32_t timeout_ms, const char *err, const char *out)
{
	static char buf[FENCE_REASON_MAX];
	struct fence_exit e = {.how = how, .value = value};
	int n = fence_reason_format(buf, sizeof(buf), "fence_x", a, &e, rc, timeout_ms, err,
				    err ? strlen(err) : 0, out, out ? strlen(out) : 0);

	assert_int_equal(n, (int)strlen(buf));
	return buf;
}

static void test_reason_strings(void **state)
{
	assert_string_equal(reason(FENCE_ACTION_OFF, FENCE_END_EXIT, 1, FENCE_RC_FAILED, 60000,
				   "debug\nFailed: Unable to connect\n", "Connecting...\n"),
			    "agent fence_x off exited 1: Failed: Unable to connect");
	/* stdout is quoted only when stderr says nothing. */
	assert_string_equal(reason(FENCE_ACTION_OFF, FENCE_END_EXIT, 1, FENCE_RC_FAILED, 60000,
				   "  \n", "Connecting...\nbad login\n"),
			    "agent fence_x off exited 1: bad login");
	assert_string_equal(
		reason(FENCE_ACTION_ON, FENCE_END_EXIT, 4, FENCE_RC_FAILED, 60000, NULL, NULL),
		"agent fence_x on exited 4 (no output)");
	assert_string_equal(reason(FENCE_ACTION_STATUS, FENCE_END_EXIT, 1, FENCE_RC_UNREACHABLE,
				   60000, "no route to host\n", NULL),
			    "agent fence_x status: device unreachable (exit 1): no route to host");
	assert_string_equal(reason(FENCE_ACTION_OFF, FENCE_END_TIMEOUT, SIGKILL, FENCE_RC_TIMEOUT,
				   60000, "waiting\n", NULL),
			    "agent fence_x off timed out after 60 s, killed");
	assert_string_equal(reason(FENCE_ACTION_OFF, FENCE_END_TIMEOUT, SIGKILL, FENCE_RC_TIMEOUT,
				   1500, NULL, NULL),
			    "agent fence_x off timed out after 1.5 s, killed");
	assert_string_equal(reason(FENCE_ACTION_OFF, FENCE_END_TIMEOUT, SIGKILL, FENCE_RC_TIMEOUT,
				   250, NULL, NULL),
			    "agent fence_x off timed out after 0.250 s, killed");
	assert_string_equal(reason(FENCE_ACTION_OFF, FENCE_END_SIGNAL, SIGSEGV, FENCE_RC_FAILED,
				   60000, NULL, NULL),
			    "agent fence_x off killed by signal 11 (Segmentation fault)");
	assert_string_equal(reason(FENCE_ACTION_OFF, FENCE_END_SPAWN, ENOENT, FENCE_RC_NOT_FOUND,
				   60000, NULL, NULL),
			    "agent fence_x not found or not executable: No such file or directory");
	assert_string_equal(reason(FENCE_ACTION_OFF, FENCE_END_SPAWN, EMFILE, FENCE_RC_ERROR, 60000,
				   NULL, NULL),
			    "agent fence_x could not be started: Too many open files");
	assert_string_equal(
		reason(FENCE_ACTION_STATUS, FENCE_END_EXIT, 0, FENCE_RC_STILL_ON, 60000, NULL,
		       "Status: ON\n"),
		"agent fence_x off exited 0 but status then said the target is still on");
	assert_string_equal(
		reason(FENCE_ACTION_OFF, FENCE_END_CANCEL, 0, FENCE_RC_CANCELED, 60000, NULL, NULL),
		"agent fence_x off canceled");
	/* Success has no reason. */
	assert_string_equal(
		reason(FENCE_ACTION_OFF, FENCE_END_EXIT, 0, FENCE_RC_OK, 60000, "noise\n", NULL),
		"");
	assert_string_equal(
		reason(FENCE_ACTION_STATUS, FENCE_END_EXIT, 2, FENCE_RC_OFF, 60000, NULL, NULL),
		"");
}

static void test_reason_truncates(void **state)
{
	char buf[20], line[300];
	struct fence_exit e = {.how = FENCE_END_EXIT, .value = 1};

	memset(line, 'e', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(fence_reason_format(buf, sizeof(buf), "fence_x", FENCE_ACTION_OFF, &e,
					     FENCE_RC_FAILED, 1000, line, strlen(line), NULL, 0),
			 19);
	assert_string_equal(buf, "agent fence_x off e");
}

static void test_tail_keeps_the_end(void **state)
{
	char mem[8];
	struct fence_tail t;

	fence_tail_init(&t, mem, sizeof(mem));
	fence_tail_append(&t, "abc", 3);
	assert_int_equal(t.len, 3);
	assert_false(t.truncated);
	fence_tail_append(&t, "defgh", 5);
	assert_int_equal(t.len, 8);
	assert_false(t.truncated);
	assert_memory_equal(t.buf, "abcdefgh", 8);
	fence_tail_append(&t, "ij", 2);
	assert_true(t.truncated);
	assert_memory_equal(t.buf, "cdefghij", 8);
	fence_tail_append(&t, "0123456789", 10);
	assert_memory_equal(t.buf, "23456789", 8);
	fence_tail_append(&t, "", 0);
	assert_int_equal(t.len, 8);

	/* Exactly cap bytes into an empty tail is not a truncation. */
	fence_tail_init(&t, mem, sizeof(mem));
	fence_tail_append(&t, "ABCDEFGH", 8);
	assert_false(t.truncated);
	assert_memory_equal(t.buf, "ABCDEFGH", 8);
	fence_tail_init(&t, mem, sizeof(mem));
	fence_tail_append(&t, "ABCDEFGHI", 9);
	assert_true(t.truncated);
	assert_memory_equal(t.buf, "BCDEFGHI", 8);
}

static struct fence_policy policy(uint32_t retries, bool verify)
{
	struct fence_policy p;

	fence_policy_default(&p);
	p.retries = retries;
	p.retry_delay_ms = 700;
	p.verify_off = verify;
	return p;
}

static void assert_run(struct fence_step st, enum fence_action a, uint32_t delay)
{
	assert_int_equal(st.kind, FENCE_STEP_RUN);
	assert_int_equal(st.action, a);
	assert_int_equal(st.delay_ms, delay);
}

static void assert_done(struct fence_step st, bool ok, enum fence_rc rc)
{
	assert_int_equal(st.kind, FENCE_STEP_DONE);
	assert_int_equal(st.ok, ok);
	assert_int_equal(st.rc, rc);
}

static void test_policy_default(void **state)
{
	struct fence_policy p;

	fence_policy_default(&p);
	assert_int_equal(p.timeout_ms, 60000);
	assert_int_equal(p.retries, 2);
	assert_int_equal(p.retry_delay_ms, 1000);
	assert_int_equal(p.capture_max, FENCE_DEFAULT_CAPTURE);
	assert_true(p.verify_off);
}

static void test_seq_off_verified(void **state)
{
	struct fence_policy p = policy(2, true);
	struct fence_seq s;

	assert_run(fence_seq_start(&s, FENCE_ACTION_OFF, &p), FENCE_ACTION_OFF, 0);
	/* off exit 0 is not enough: status comes next, at once. */
	assert_run(fence_seq_next(&s, FENCE_RC_OK), FENCE_ACTION_STATUS, 0);
	assert_true(s.verifying);
	assert_done(fence_seq_next(&s, FENCE_RC_OFF), true, FENCE_RC_OK);
	assert_int_equal(s.attempt, 1);
}

static void test_seq_off_still_on_retries(void **state)
{
	struct fence_policy p = policy(1, true);
	struct fence_seq s;
	struct fence_step st;

	fence_seq_start(&s, FENCE_ACTION_OFF, &p);
	fence_seq_next(&s, FENCE_RC_OK);
	/* status 0 after off: the off did not happen; retry the off itself. */
	st = fence_seq_next(&s, FENCE_RC_OK);
	assert_run(st, FENCE_ACTION_OFF, 700);
	assert_int_equal(st.run_rc, FENCE_RC_STILL_ON);
	assert_int_equal(s.attempt, 2);
	assert_false(s.verifying);
	fence_seq_next(&s, FENCE_RC_OK);
	st = fence_seq_next(&s, FENCE_RC_OK);
	assert_done(st, false, FENCE_RC_STILL_ON);
	assert_int_equal(st.run_rc, FENCE_RC_STILL_ON);
	assert_int_equal(s.attempt, 2);
}

static void test_seq_off_verify_failures(void **state)
{
	struct fence_policy p = policy(2, true);
	struct fence_seq s;

	fence_seq_start(&s, FENCE_ACTION_OFF, &p);
	fence_seq_next(&s, FENCE_RC_OK);
	/* An unreachable or hung status does not prove anything either. */
	assert_run(fence_seq_next(&s, FENCE_RC_UNREACHABLE), FENCE_ACTION_OFF, 700);
	fence_seq_next(&s, FENCE_RC_OK);
	assert_run(fence_seq_next(&s, FENCE_RC_TIMEOUT), FENCE_ACTION_OFF, 700);
	fence_seq_next(&s, FENCE_RC_OK);
	assert_done(fence_seq_next(&s, FENCE_RC_FAILED), false, FENCE_RC_FAILED);
	assert_int_equal(s.attempt, 3);
}

static void test_seq_off_unverified(void **state)
{
	struct fence_policy p = policy(2, false);
	struct fence_seq s;

	fence_seq_start(&s, FENCE_ACTION_OFF, &p);
	assert_done(fence_seq_next(&s, FENCE_RC_OK), true, FENCE_RC_OK);
}

static void test_seq_retries_then_succeeds(void **state)
{
	struct fence_policy p = policy(2, true);
	struct fence_seq s;

	fence_seq_start(&s, FENCE_ACTION_OFF, &p);
	assert_run(fence_seq_next(&s, FENCE_RC_FAILED), FENCE_ACTION_OFF, 700);
	assert_run(fence_seq_next(&s, FENCE_RC_TIMEOUT), FENCE_ACTION_OFF, 700);
	assert_int_equal(s.attempt, 3);
	assert_run(fence_seq_next(&s, FENCE_RC_OK), FENCE_ACTION_STATUS, 0);
	assert_done(fence_seq_next(&s, FENCE_RC_OFF), true, FENCE_RC_OK);
}

static void test_seq_exhausts_retries(void **state)
{
	struct fence_policy p = policy(0, true);
	struct fence_seq s;

	fence_seq_start(&s, FENCE_ACTION_REBOOT, &p);
	assert_done(fence_seq_next(&s, FENCE_RC_TIMEOUT), false, FENCE_RC_TIMEOUT);

	p = policy(100, true); /* clamped */
	fence_seq_start(&s, FENCE_ACTION_ON, &p);
	assert_int_equal(s.max_attempts, 1 + FENCE_MAX_RETRIES);
	for (int i = 0; i < FENCE_MAX_RETRIES; i++)
		assert_run(fence_seq_next(&s, FENCE_RC_FAILED), FENCE_ACTION_ON, 700);
	assert_done(fence_seq_next(&s, FENCE_RC_FAILED), false, FENCE_RC_FAILED);
}

static void test_seq_no_retry_when_hopeless(void **state)
{
	struct fence_policy p = policy(2, true);
	struct fence_seq s;

	fence_seq_start(&s, FENCE_ACTION_OFF, &p);
	assert_done(fence_seq_next(&s, FENCE_RC_NOT_FOUND), false, FENCE_RC_NOT_FOUND);
	fence_seq_start(&s, FENCE_ACTION_OFF, &p);
	fence_seq_next(&s, FENCE_RC_OK);
	assert_done(fence_seq_next(&s, FENCE_RC_CANCELED), false, FENCE_RC_CANCELED);
	/* A local error (EMFILE...) may pass: it is retried. */
	fence_seq_start(&s, FENCE_ACTION_OFF, &p);
	assert_run(fence_seq_next(&s, FENCE_RC_ERROR), FENCE_ACTION_OFF, 700);
}

static void test_seq_queries(void **state)
{
	struct fence_policy p = policy(1, true);
	struct fence_seq s;

	fence_seq_start(&s, FENCE_ACTION_STATUS, &p);
	assert_done(fence_seq_next(&s, FENCE_RC_OK), true, FENCE_RC_OK);
	fence_seq_start(&s, FENCE_ACTION_STATUS, &p);
	assert_done(fence_seq_next(&s, FENCE_RC_OFF), true, FENCE_RC_OFF);
	fence_seq_start(&s, FENCE_ACTION_STATUS, &p);
	assert_run(fence_seq_next(&s, FENCE_RC_UNREACHABLE), FENCE_ACTION_STATUS, 700);
	assert_done(fence_seq_next(&s, FENCE_RC_UNREACHABLE), false, FENCE_RC_UNREACHABLE);
	fence_seq_start(&s, FENCE_ACTION_MONITOR, &p);
	assert_done(fence_seq_next(&s, FENCE_RC_OFF), true, FENCE_RC_OFF);
	fence_seq_start(&s, FENCE_ACTION_METADATA, &p);
	assert_done(fence_seq_next(&s, FENCE_RC_OK), true, FENCE_RC_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stdin_order_and_action_last),
		cmocka_unit_test(test_stdin_no_target),
		cmocka_unit_test(test_stdin_refuses_injection),
		cmocka_unit_test(test_stdin_nospace),
		cmocka_unit_test(test_opt_check),
		cmocka_unit_test(test_action_names),
		cmocka_unit_test(test_classify_exit_codes),
		cmocka_unit_test(test_classify_abnormal_ends),
		cmocka_unit_test(test_last_line),
		cmocka_unit_test(test_reason_strings),
		cmocka_unit_test(test_reason_truncates),
		cmocka_unit_test(test_tail_keeps_the_end),
		cmocka_unit_test(test_policy_default),
		cmocka_unit_test(test_seq_off_verified),
		cmocka_unit_test(test_seq_off_still_on_retries),
		cmocka_unit_test(test_seq_off_verify_failures),
		cmocka_unit_test(test_seq_off_unverified),
		cmocka_unit_test(test_seq_retries_then_succeeds),
		cmocka_unit_test(test_seq_exhausts_retries),
		cmocka_unit_test(test_seq_no_retry_when_hopeless),
		cmocka_unit_test(test_seq_queries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
