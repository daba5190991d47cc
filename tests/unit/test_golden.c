/* SPDX-License-Identifier: MIT */
/*
 * Golden scenarios for decide() (every tests/golden/NAME.scn, format in
 * tests/golden/README.md), and tests of the runner itself: a runner that
 * cannot fail proves nothing, so wrong expectations must be caught.
 *
 * Runs from the repository root (make check does); GOLDEN_DIR overrides the
 * scenario directory.
 */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clusterd/golden.h"

#define MIN_SCENARIOS 40

static void test_golden_scenarios(void **state)
{
	const char *dir = getenv("GOLDEN_DIR") ? getenv("GOLDEN_DIR") : "tests/golden";
	char pattern[512], err[1024], desc[256];
	unsigned pass = 0, fail = 0;
	glob_t gl;

	snprintf(pattern, sizeof(pattern), "%s/*.scn", dir);
	assert_int_equal(glob(pattern, 0, NULL, &gl), 0);
	for (size_t i = 0; i < gl.gl_pathc; i++) {
		const char *name = strrchr(gl.gl_pathv[i], '/') + 1;
		int ret = golden_run_file(gl.gl_pathv[i], desc, sizeof(desc), err, sizeof(err));

		if (ret == 0) {
			printf("PASS %-40s %s\n", name, desc);
			pass++;
		} else {
			printf("FAIL %-40s %s\n     %s\n", name, desc, err);
			fail++;
		}
	}
	printf("golden: %u scenarios, %u passed, %u failed\n", pass + fail, pass, fail);
	globfree(&gl);
	assert_int_equal(fail, 0);
	assert_true(pass >= MIN_SCENARIOS);
}

/* Runs text; returns the runner's verdict and keeps the message in err. */
static int run(const char *text, char *err, size_t errlen)
{
	char desc[128];

	return golden_run_text("t", text, desc, sizeof(desc), err, errlen);
}

#define COLD_START                                                                                 \
	"config local=1 nodes=1,2\n"                                                               \
	"event quorum 1\n"                                                                         \
	"expect alua lun=0 version=2 tpg=1:TRANSITIONING tpg=2:TRANSITIONING\n"                    \
	"event confchg members=1,2 joined=1:join,2:join\n"                                         \
	"expect mcast hello\n"                                                                     \
	"expect mcast state\n"                                                                     \
	"event deliver\n"                                                                          \
	"event deliver\n"                                                                          \
	"event msg hello from=2\n"                                                                 \
	"event msg state from=2 fresh\n"

static void test_runner_accepts_good(void **state)
{
	char err[512];

	assert_int_equal(run(COLD_START "expect alua lun=0 tpg=1:AO tpg=2:ANO\n"
					"expect state lun=0 ao=1\n",
			     err, sizeof(err)),
			 0);
}

static void test_runner_catches_wrong_action(void **state)
{
	char err[512];

	assert_int_equal(run(COLD_START "expect alua lun=0 tpg=1:ANO tpg=2:AO\n", err, sizeof(err)),
			 1);
	assert_non_null(strstr(err, "t:11: expected 'alua lun=0 tpg=1:ANO tpg=2:AO', got 'alua"));
}

static void test_runner_catches_unexpected_action(void **state)
{
	char err[512];

	/* the AO push of the last event is not expected */
	assert_int_equal(run(COLD_START, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "unexpected action 'alua lun=0 version=3"));
	/* nor at the next event */
	assert_int_equal(run(COLD_START "event quorum 1\n", err, sizeof(err)), 1);
	assert_non_null(strstr(err, "t:11: unexpected action"));
}

static void test_runner_catches_missing_action(void **state)
{
	char err[512];

	assert_int_equal(
		run(COLD_START "expect alua lun=0\nexpect timer start startup\n", err, sizeof(err)),
		1);
	assert_non_null(strstr(err, "got no more actions"));
}

static void test_runner_catches_wrong_state(void **state)
{
	char err[512];

	assert_int_equal(
		run(COLD_START "expect alua lun=0\nexpect state lun=0 ao=2\n", err, sizeof(err)),
		1);
	assert_non_null(strstr(err, "t:12: expected state 'lun=0 ao=2', got 'ao=1 move=0"));
	assert_int_equal(run(COLD_START "expect alua lun=0\nexpect state node=2 state=unclean\n",
			     err, sizeof(err)),
			 1);
	assert_int_equal(run(COLD_START "expect alua lun=0\nexpect unchanged\n", err, sizeof(err)),
			 1);
	assert_non_null(strstr(err, "expected the state unchanged"));
}

static void test_runner_catches_log_and_syntax(void **state)
{
	char err[512];

	assert_int_equal(
		run(COLD_START "expect alua lun=0\nexpect log no such words\n", err, sizeof(err)),
		1);
	assert_int_equal(run("config local=1 nodes=1,2\nevent bogus\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown event 'bogus'"));
	assert_int_equal(run("config local=3 nodes=1,2\nevent quorum 1\n", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "local node id 3"));
	assert_int_equal(run("config local=1 nodes=1,2\nevent deliver\n", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(golden_run_file("/nonexistent/x.scn", NULL, 0, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runner_accepts_good),
		cmocka_unit_test(test_runner_catches_wrong_action),
		cmocka_unit_test(test_runner_catches_unexpected_action),
		cmocka_unit_test(test_runner_catches_missing_action),
		cmocka_unit_test(test_runner_catches_wrong_state),
		cmocka_unit_test(test_runner_catches_log_and_syntax),
		cmocka_unit_test(test_golden_scenarios),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
