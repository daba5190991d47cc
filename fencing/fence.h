/* SPDX-License-Identifier: MIT */
/*
 * The fence-agent protocol, sans-I/O: what clusterd writes to a stock fence
 * agent's stdin, how it reads the agent's exit status, and the retry and
 * verification policy around it. No fd, no process, no clock in here; the
 * process side lives in fence_run.c (fence_run.h) and only feeds these
 * functions with what it observed. Everything here is pure and may be called
 * from any thread.
 *
 * Calling convention (ClusterLabs fence-agents, doc/FenceAgentAPI.md):
 *   - the agent reads its options from stdin, one "name=value" per line, until
 *     EOF; the last value of a name wins; unknown names are ignored;
 *   - action=off|on|reboot|status|monitor|metadata (|list|validate-all);
 *   - exit status: off/on/reboot 0 = success, anything else = failure;
 *     status 0 = on, 2 = off, 1 = device unreachable (or failure);
 *     monitor 0 = device ok, 2 = ok and the plug is off, 1 = unreachable.
 *   - "Timeout is a failure, not success": an agent that does not exit in
 *     time is killed and the attempt fails.
 *
 * A request runs as a sequence of agent runs (struct fence_seq):
 *
 *   attempt k (1 .. 1 + retries):
 *     run ACTION --exit 0--> (ACTION == off && verify_off) ? run status : DONE ok
 *         |                                    |
 *         +-- failure --+        status exit 2 (off) --> DONE ok
 *                       |        status exit 0 (still on), 1, timeout, ... --+
 *                       v                                                    |
 *     k < 1 + retries ? wait retry_delay_ms, attempt k+1 : DONE failed  <----+
 *
 * So "off" counts only when the agent said so AND a status query then says the
 * target is off.
 */
#ifndef FENCING_FENCE_H
#define FENCING_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FENCE_STDIN_MAX	  4096 /* the whole option text; well below the pipe buffer */
#define FENCE_REASON_MAX  256  /* reason strings, '\0' included */
#define FENCE_LINE_MAX	  160  /* an agent output line quoted in a reason */
#define FENCE_CAPTURE_MIN 256  /* bounds for struct fence_policy.capture_max */
#define FENCE_CAPTURE_MAX (1u << 20)
#define FENCE_MAX_RETRIES 10

/* Defaults (Pacemaker: pcmk_<action>_timeout 60 s, pcmk_<action>_retries 2). */
#define FENCE_DEFAULT_TIMEOUT_MS     60000
#define FENCE_DEFAULT_RETRIES	     2
#define FENCE_DEFAULT_RETRY_DELAY_MS 1000
#define FENCE_DEFAULT_CAPTURE	     4096

enum fence_action {
	FENCE_ACTION_OFF,
	FENCE_ACTION_ON,
	FENCE_ACTION_REBOOT,
	FENCE_ACTION_STATUS,
	FENCE_ACTION_MONITOR,
	FENCE_ACTION_METADATA,
	FENCE_ACTION_COUNT,
};

/* Outcome of one agent run, and of a whole request (struct fence_result.rc). */
enum fence_rc {
	FENCE_RC_OK,	      /* exit 0: done; for status: the target is on */
	FENCE_RC_OFF,	      /* status/monitor exit 2: the target is off */
	FENCE_RC_FAILED,      /* any other exit status, or killed by a signal */
	FENCE_RC_UNREACHABLE, /* status/monitor exit 1: device unreachable */
	FENCE_RC_STILL_ON,    /* off exited 0 but the verifying status says on */
	FENCE_RC_TIMEOUT,     /* no exit within the timeout: process group killed */
	FENCE_RC_NOT_FOUND,   /* agent missing, not executable, bad interpreter */
	FENCE_RC_ERROR,	      /* local failure before the agent ran (fds, memory) */
	FENCE_RC_CANCELED,    /* fence_op_cancel() or shutdown */
	FENCE_RC_COUNT,
};

/* How an agent run ended, as the process side observed it. */
enum fence_end {
	FENCE_END_EXIT,	   /* value = exit status */
	FENCE_END_SIGNAL,  /* value = signal number (not sent by us) */
	FENCE_END_TIMEOUT, /* we killed it: value unused */
	FENCE_END_SPAWN,   /* never started: value = errno of lookup/exec */
	FENCE_END_CANCEL,  /* we killed it on request */
};

struct fence_exit {
	enum fence_end how;
	int value;
};

/* One agent option from the configuration, e.g. {"ipaddr", "10.0.0.9"}. */
struct fence_opt {
	const char *key;
	const char *value;
};

struct fence_policy {
	uint32_t timeout_ms;	 /* per agent run; 0 = FENCE_DEFAULT_TIMEOUT_MS */
	uint32_t retries;	 /* extra attempts after the first, <= FENCE_MAX_RETRIES */
	uint32_t retry_delay_ms; /* pause between attempts */
	uint32_t capture_max;	 /* bytes of stdout and of stderr kept (the tail) */
	bool verify_off;	 /* off counts only if status then says off */
};

/* The policy clusterd uses unless configured: 60 s, 2 retries, 1 s apart, verify. */
void fence_policy_default(struct fence_policy *p);

/* "off", "on", ... ; NULL for an out-of-range value. */
const char *fence_action_name(enum fence_action a);
/* Returns 0 and sets *out, or -EINVAL for an unknown name. */
int fence_action_parse(const char *name, enum fence_action *out);
/* "ok", "off", "failed", "unreachable", "still on", "timeout", ... */
const char *fence_rc_name(enum fence_rc rc);

/*
 * Checks one option the way fence_stdin_build() will: key of [A-Za-z0-9_-]
 * (1..63 bytes), not "action"/"option" (clusterd sets the action), value
 * without CR, LF or NUL (a line break would inject options). Returns 0 or
 * -EINVAL.
 */
int fence_opt_check(const char *key, const char *value);

/*
 * Builds the stdin text for one agent run into buf:
 *
 *   <key>=<value>\n          for every opts[i], in order
 *   <target_key>=<target>\n  when target_key is not NULL
 *   action=<action>\n        last, so nothing before it can override it
 *
 * Returns the length written ('\0' terminated, not counted), -EINVAL for a bad
 * option (see fence_opt_check(); also when opts contain target_key), -ENOSPC
 * when it does not fit in len (at most FENCE_STDIN_MAX is ever needed).
 */
int fence_stdin_build(char *buf, size_t len, enum fence_action action, const char *target_key,
		      const char *target, const struct fence_opt *opts, size_t nopts);

/*
 * Classifies one run of `action` (see the exit codes above). Pure.
 */
enum fence_rc fence_exit_classify(enum fence_action action, const struct fence_exit *e);

/*
 * The last non-empty line of an agent's output (the tail buffer), trimmed,
 * with bytes outside printable ASCII replaced by '?', cut to FENCE_LINE_MAX-1
 * bytes ("..." appended when cut). Returns its length (0: no line).
 */
size_t fence_output_last_line(const char *buf, size_t len, char *out, size_t outlen);

/*
 * Writes the reason for one failed run into buf (always '\0' terminated):
 *   "agent fence_x off exited 1: <last stderr line>" (stdout when stderr is empty)
 *   "agent fence_x off exited 1 (no output)"
 *   "agent fence_x status: device unreachable (exit 1): <line>"
 *   "agent fence_x off killed by signal 11 (Segmentation fault)"
 *   "agent fence_x off timed out after 60 s, killed"
 *   "agent fence_x not found or not executable: No such file or directory"
 *   "agent fence_x could not be started: Too many open files"
 *   "agent fence_x off canceled"
 *   "agent fence_x off exited 0 but status then said the target is still on"
 *     (rc FENCE_RC_STILL_ON, for the verifying status run)
 * For rc OK/OFF writes "". Returns the length.
 */
int fence_reason_format(char *buf, size_t len, const char *agent, enum fence_action action,
			const struct fence_exit *e, enum fence_rc rc, uint32_t timeout_ms,
			const char *err, size_t err_len, const char *out, size_t out_len);

/*
 * A bounded capture of a stream: keeps the LAST cap bytes (the end of an
 * agent's output is where the error is). buf is caller-owned (cap bytes).
 */
struct fence_tail {
	char *buf;
	size_t cap;
	size_t len;
	bool truncated; /* something was dropped from the front */
};

void fence_tail_init(struct fence_tail *t, char *buf, size_t cap);
void fence_tail_append(struct fence_tail *t, const void *data, size_t n);

/* ---- the retry / verification sequencer ---- */

enum fence_step_kind {
	FENCE_STEP_RUN,	 /* start an agent run of .action after .delay_ms */
	FENCE_STEP_DONE, /* the request is finished: .ok, .rc */
};

struct fence_step {
	enum fence_step_kind kind;
	enum fence_action action; /* RUN */
	uint32_t delay_ms;	  /* RUN */
	bool ok;		  /* DONE */
	enum fence_rc rc;	  /* DONE: what decided it (see struct fence_result) */
	enum fence_rc run_rc;	  /* the fed run as the request sees it (fence_seq_next) */
};

struct fence_seq {
	enum fence_action action; /* the request */
	uint32_t attempt;	  /* 1-based attempt in progress */
	uint32_t max_attempts;	  /* 1 + retries */
	bool verifying;		  /* the run in progress is the status after off */
	bool verify_off;
	uint32_t retry_delay_ms;
};

/*
 * Starts a request of `action` under policy p; returns the first step (RUN,
 * no delay). retries above FENCE_MAX_RETRIES are clamped.
 */
struct fence_step fence_seq_start(struct fence_seq *s, enum fence_action action,
				  const struct fence_policy *p);

/*
 * Feeds the classified result of the run the previous step asked for and
 * returns what to do next. A request is ok when:
 *   off:     off OK and (verify_off ? status OFF : true)  -> rc OK
 *   on, reboot, metadata: OK
 *   status:  OK (on) or OFF (off)        -> rc says which
 *   monitor: OK or OFF (device reachable)
 * A verifying status that says on turns into FENCE_RC_STILL_ON (also in
 * .run_rc, so the caller words the reason for it). CANCELED and NOT_FOUND end
 * the request at once (retrying cannot help); every other failure is retried
 * while attempts remain.
 */
struct fence_step fence_seq_next(struct fence_seq *s, enum fence_rc run_rc);

#endif
