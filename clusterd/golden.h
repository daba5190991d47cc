/* SPDX-License-Identifier: MIT */
/*
 * Golden scenarios for decide(): a runner for the line format documented in
 * tests/golden/README.md (Pacemaker's cts/scheduler idea: many small
 * input/expected pairs for one pure function).
 *
 * A scenario plays events into decide() from one node's point of view and
 * checks, after each event, the exact list of actions (logs aside) and any
 * state fields it names. The runner also checks, on every step, that decide()
 * is pure (two runs on the same input give the same output), that no table
 * has two AO port groups, that ALUA versions only grow, and that the local
 * port group is never AO while votequorum says inquorate.
 *
 * Test support: reads files; not for the daemon. Not thread-safe per runner.
 */
#ifndef CLUSTERD_GOLDEN_H
#define CLUSTERD_GOLDEN_H

#include <stddef.h>

/*
 * Runs one scenario file. Returns 0 when every expectation held, 1 on the
 * first mismatch (err: "FILE:LINE: expected '...', got '...'"), -errno when
 * the file cannot be read or a line cannot be parsed (err says which). desc
 * (may be NULL) receives the first comment line. Any thread.
 */
int golden_run_file(const char *path, char *desc, size_t desclen, char *err, size_t errlen);

/* The same for a scenario in memory; name is used in messages. */
int golden_run_text(const char *name, const char *text, char *desc, size_t desclen, char *err,
		    size_t errlen);

#endif
