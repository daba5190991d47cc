// SPDX-License-Identifier: MIT
/*
 * The fence-agent protocol, sans-I/O (see fence.h): stdin text, exit status
 * classification, reason strings, output capture and the retry sequencer.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fencing/fence.h"
#include "lib/compiler.h"

static const char *const fence_action_names[FENCE_ACTION_COUNT] = {
	[FENCE_ACTION_OFF] = "off",	    [FENCE_ACTION_ON] = "on",
	[FENCE_ACTION_REBOOT] = "reboot",   [FENCE_ACTION_STATUS] = "status",
	[FENCE_ACTION_MONITOR] = "monitor", [FENCE_ACTION_METADATA] = "metadata",
};

static const char *const fence_rc_names[FENCE_RC_COUNT] = {
	[FENCE_RC_OK] = "ok",
	[FENCE_RC_OFF] = "off",
	[FENCE_RC_FAILED] = "failed",
	[FENCE_RC_UNREACHABLE] = "unreachable",
	[FENCE_RC_STILL_ON] = "still on",
	[FENCE_RC_TIMEOUT] = "timeout",
	[FENCE_RC_NOT_FOUND] = "not found",
	[FENCE_RC_ERROR] = "error",
	[FENCE_RC_CANCELED] = "canceled",
};

void fence_policy_default(struct fence_policy *p)
{
	p->timeout_ms = FENCE_DEFAULT_TIMEOUT_MS;
	p->retries = FENCE_DEFAULT_RETRIES;
	p->retry_delay_ms = FENCE_DEFAULT_RETRY_DELAY_MS;
	p->capture_max = FENCE_DEFAULT_CAPTURE;
	p->verify_off = true;
}

const char *fence_action_name(enum fence_action a)
{
	if ((unsigned)a >= FENCE_ACTION_COUNT)
		return NULL;
	return fence_action_names[a];
}

int fence_action_parse(const char *name, enum fence_action *out)
{
	for (unsigned i = 0; i < FENCE_ACTION_COUNT; i++) {
		if (!strcmp(name, fence_action_names[i])) {
			*out = (enum fence_action)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *fence_rc_name(enum fence_rc rc)
{
	if ((unsigned)rc >= FENCE_RC_COUNT)
		return "?";
	return fence_rc_names[rc];
}

static bool fence_key_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

int fence_opt_check(const char *key, const char *value)
{
	size_t n;

	if (!key || !value)
		return -EINVAL;
	n = strlen(key);
	if (n == 0 || n > 63)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!fence_key_char_ok(key[i]))
			return -EINVAL;
	}
	/* "option" is the deprecated alias of "action" (FenceAgentAPI.md). */
	if (!strcmp(key, "action") || !strcmp(key, "option"))
		return -EINVAL;
	if (strpbrk(value, "\r\n"))
		return -EINVAL;
	return 0;
}

/* Appends "key=value\n"; returns the new offset or -ENOSPC. */
static int fence_stdin_line(char *buf, size_t len, size_t off, const char *key, const char *value)
{
	int n = snprintf(buf + off, len - off, "%s=%s\n", key, value);

	if (n < 0 || (size_t)n >= len - off)
		return -ENOSPC;
	return (int)off + n;
}

int fence_stdin_build(char *buf, size_t len, enum fence_action action, const char *target_key,
		      const char *target, const struct fence_opt *opts, size_t nopts)
{
	int off = 0;

	if (!fence_action_name(action) || (target_key && !target))
		return -EINVAL;
	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (size_t i = 0; i < nopts; i++) {
		if (fence_opt_check(opts[i].key, opts[i].value))
			return -EINVAL;
		/* The target comes from the node, never from a stray option. */
		if (target_key && !strcmp(opts[i].key, target_key))
			return -EINVAL;
		off = fence_stdin_line(buf, len, (size_t)off, opts[i].key, opts[i].value);
		if (off < 0)
			return off;
	}
	if (target_key) {
		if (fence_opt_check(target_key, target))
			return -EINVAL;
		off = fence_stdin_line(buf, len, (size_t)off, target_key, target);
		if (off < 0)
			return off;
	}
	return fence_stdin_line(buf, len, (size_t)off, "action", fence_action_name(action));
}

/* FenceAgentAPI.md: status 0 on, 1 unreachable, 2 off; monitor alike. */
static enum fence_rc fence_query_classify(int code)
{
	switch (code) {
	case 0:
		return FENCE_RC_OK;
	case 1:
		return FENCE_RC_UNREACHABLE;
	case 2:
		return FENCE_RC_OFF;
	default:
		return FENCE_RC_FAILED;
	}
}

enum fence_rc fence_exit_classify(enum fence_action action, const struct fence_exit *e)
{
	switch (e->how) {
	case FENCE_END_EXIT:
		if (action == FENCE_ACTION_STATUS || action == FENCE_ACTION_MONITOR)
			return fence_query_classify(e->value);
		/* off/on/reboot/metadata: 0 success, everything else failure. */
		return e->value == 0 ? FENCE_RC_OK : FENCE_RC_FAILED;
	case FENCE_END_SIGNAL:
		return FENCE_RC_FAILED;
	case FENCE_END_TIMEOUT:
		return FENCE_RC_TIMEOUT;
	case FENCE_END_SPAWN:
		/* Missing file, no permission, bad interpreter: a configuration fault. */
		if (e->value == ENOENT || e->value == EACCES || e->value == ENOEXEC ||
		    e->value == ENOTDIR || e->value == ELOOP || e->value == ENAMETOOLONG)
			return FENCE_RC_NOT_FOUND;
		return FENCE_RC_ERROR;
	case FENCE_END_CANCEL:
		return FENCE_RC_CANCELED;
	}
	return FENCE_RC_ERROR;
}

static bool fence_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

size_t fence_output_last_line(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t end = len, start, n, cap;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	while (end > 0 && fence_is_space(buf[end - 1]))
		end--;
	if (end == 0)
		return 0;
	start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	while (start < end && fence_is_space(buf[start]))
		start++;
	n = end - start;
	cap = MIN(outlen, (size_t)FENCE_LINE_MAX) - 1;
	if (n > cap)
		n = cap >= 3 ? cap - 3 : cap;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[start + i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (n < end - start && cap >= 3) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return n;
}

/* "60 s", "1.5 s", "0.25 s": whole seconds when exact. */
static void fence_format_secs(char *buf, size_t len, uint32_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%u s", ms / 1000);
	else if (ms % 100 == 0)
		snprintf(buf, len, "%u.%u s", ms / 1000, (ms % 1000) / 100);
	else
		snprintf(buf, len, "%u.%03u s", ms / 1000, ms % 1000);
}

static int fence_reason_exit(char *buf, size_t len, const char *agent, enum fence_action action,
			     int code, enum fence_rc rc, const char *line)
{
	const char *sep = line[0] ? ": " : " (no output)";

	if (rc == FENCE_RC_UNREACHABLE)
		return snprintf(buf, len, "agent %s %s: device unreachable (exit %d)%s%s", agent,
				fence_action_name(action), code, sep, line);
	return snprintf(buf, len, "agent %s %s exited %d%s%s", agent, fence_action_name(action),
			code, sep, line);
}

/* The reason for a run that failed on its own (not a verification mismatch). */
static int fence_reason_run(char *buf, size_t len, const char *agent, enum fence_action action,
			    const struct fence_exit *e, enum fence_rc rc, uint32_t timeout_ms,
			    const char *line)
{
	char secs[32];

	switch (e->how) {
	case FENCE_END_EXIT:
		return fence_reason_exit(buf, len, agent, action, e->value, rc, line);
	case FENCE_END_SIGNAL:
		return snprintf(buf, len, "agent %s %s killed by signal %d (%s)", agent,
				fence_action_name(action), e->value, strsignal(e->value));
	case FENCE_END_TIMEOUT:
		fence_format_secs(secs, sizeof(secs), timeout_ms);
		return snprintf(buf, len, "agent %s %s timed out after %s, killed", agent,
				fence_action_name(action), secs);
	case FENCE_END_SPAWN:
		return snprintf(buf, len, "agent %s %s: %s", agent,
				rc == FENCE_RC_NOT_FOUND ? "not found or not executable"
							 : "could not be started",
				strerror(e->value));
	case FENCE_END_CANCEL:
		return snprintf(buf, len, "agent %s %s canceled", agent, fence_action_name(action));
	}
	return snprintf(buf, len, "agent %s %s failed", agent, fence_action_name(action));
}

int fence_reason_format(char *buf, size_t len, const char *agent, enum fence_action action,
			const struct fence_exit *e, enum fence_rc rc, uint32_t timeout_ms,
			const char *err, size_t err_len, const char *out, size_t out_len)
{
	char line[FENCE_LINE_MAX];
	int n;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (rc == FENCE_RC_OK || rc == FENCE_RC_OFF)
		return 0;
	if (!fence_output_last_line(err, err_len, line, sizeof(line)))
		fence_output_last_line(out, out_len, line, sizeof(line));

	if (rc == FENCE_RC_STILL_ON)
		n = snprintf(buf, len,
			     "agent %s off exited 0 but status then said the target is still on",
			     agent);
	else
		n = fence_reason_run(buf, len, agent, action, e, rc, timeout_ms, line);
	if (n < 0)
		return 0;
	return (size_t)n >= len ? (int)len - 1 : n;
}

void fence_tail_init(struct fence_tail *t, char *buf, size_t cap)
{
	t->buf = buf;
	t->cap = cap;
	t->len = 0;
	t->truncated = false;
}

void fence_tail_append(struct fence_tail *t, const void *data, size_t n)
{
	const char *p = data;

	if (n == 0 || t->cap == 0)
		return;
	if (n >= t->cap) {
		t->truncated = t->truncated || t->len > 0 || n > t->cap;
		memcpy(t->buf, p + (n - t->cap), t->cap);
		t->len = t->cap;
		return;
	}
	if (t->len + n > t->cap) {
		size_t drop = t->len + n - t->cap;

		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
		t->truncated = true;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

struct fence_step fence_seq_start(struct fence_seq *s, enum fence_action action,
				  const struct fence_policy *p)
{
	struct fence_step st = {.kind = FENCE_STEP_RUN, .action = action};

	s->action = action;
	s->attempt = 1;
	s->max_attempts = 1 + MIN(p->retries, (uint32_t)FENCE_MAX_RETRIES);
	s->verifying = false;
	s->verify_off = p->verify_off;
	s->retry_delay_ms = p->retry_delay_ms;
	return st;
}

static struct fence_step fence_seq_done(bool ok, enum fence_rc rc)
{
	struct fence_step st = {.kind = FENCE_STEP_DONE, .ok = ok, .rc = rc};

	return st;
}

/* Was this run, taken alone, what the request wanted? */
static bool fence_seq_run_ok(const struct fence_seq *s, enum fence_rc rc)
{
	if (s->verifying)
		return rc == FENCE_RC_OFF;
	switch (s->action) {
	case FENCE_ACTION_STATUS:
	case FENCE_ACTION_MONITOR:
		return rc == FENCE_RC_OK || rc == FENCE_RC_OFF;
	default:
		return rc == FENCE_RC_OK;
	}
}

struct fence_step fence_seq_next(struct fence_seq *s, enum fence_rc rc)
{
	struct fence_step st = {.kind = FENCE_STEP_RUN};

	if (s->verifying && rc == FENCE_RC_OK)
		rc = FENCE_RC_STILL_ON;
	st.run_rc = rc;
	if (fence_seq_run_ok(s, rc)) {
		if (s->action == FENCE_ACTION_OFF && s->verify_off && !s->verifying) {
			s->verifying = true;
			st.action = FENCE_ACTION_STATUS;
			return st;
		}
		/* A verified off is reported as OK: the request succeeded. */
		st = fence_seq_done(true, s->verifying ? FENCE_RC_OK : rc);
		st.run_rc = rc;
		return st;
	}
	if (rc == FENCE_RC_CANCELED || rc == FENCE_RC_NOT_FOUND || s->attempt >= s->max_attempts) {
		st = fence_seq_done(false, rc);
		st.run_rc = rc;
		return st;
	}
	s->attempt++;
	s->verifying = false;
	st.action = s->action;
	st.delay_ms = s->retry_delay_ms;
	return st;
}
