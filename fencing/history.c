// SPDX-License-Identifier: MIT
/*
 * Fence history ring, its text and JSON views, and its crash-safe file (see
 * history.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fencing/history.h"
#include "lib/compiler.h"
#include "lib/crc32c.h"

#define FENCE_HISTORY_MAGIC    "clusterd-fence-history"
#define FENCE_HISTORY_FILE_MAX (1u << 20) /* a full ring is ~40 KiB */

static const char *const fence_ev_status_names[] = {
	[FENCE_EV_PENDING] = "pending",
	[FENCE_EV_SUCCESS] = "success",
	[FENCE_EV_FAILED] = "failed",
};

const char *fence_ev_status_name(enum fence_ev_status s)
{
	if ((unsigned)s >= ARRAY_SIZE(fence_ev_status_names))
		return "?";
	return fence_ev_status_names[s];
}

void fence_history_init(struct fence_history *h)
{
	memset(h, 0, sizeof(*h));
	h->next_id = 1;
}

/* Copies a string, cut to fit, always terminated. */
static void fence_strlcpy(char *dst, const char *src, size_t len)
{
	size_t n = src ? strnlen(src, len - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static struct fence_event *fence_history_slot(struct fence_history *h, uint32_t i)
{
	return &h->ev[(h->first + i) % FENCE_HISTORY_MAX];
}

uint64_t fence_history_add(struct fence_history *h, const struct fence_event *ev)
{
	struct fence_event *e;

	if (h->count == FENCE_HISTORY_MAX) {
		h->first = (h->first + 1) % FENCE_HISTORY_MAX;
		h->count--;
	}
	e = fence_history_slot(h, h->count++);
	*e = *ev;
	e->id = h->next_id++;
	fence_strlcpy(e->executor, ev->executor, sizeof(e->executor));
	fence_strlcpy(e->target, ev->target, sizeof(e->target));
	fence_strlcpy(e->agent, ev->agent, sizeof(e->agent));
	fence_strlcpy(e->reason, ev->reason, sizeof(e->reason));
	return e->id;
}

const struct fence_event *fence_history_at(const struct fence_history *h, uint32_t i)
{
	if (i >= h->count)
		return NULL;
	return &h->ev[(h->first + i) % FENCE_HISTORY_MAX];
}

const struct fence_event *fence_history_find(const struct fence_history *h, uint64_t id)
{
	for (uint32_t i = 0; i < h->count; i++) {
		const struct fence_event *e = fence_history_at(h, i);

		if (e->id == id)
			return e;
	}
	return NULL;
}

const struct fence_event *fence_history_last(const struct fence_history *h, uint32_t target_id,
					     enum fence_ev_status status)
{
	for (uint32_t i = h->count; i-- > 0;) {
		const struct fence_event *e = fence_history_at(h, i);

		if (e->target_id == target_id && e->status == status)
			return e;
	}
	return NULL;
}

int fence_history_finish(struct fence_history *h, uint64_t id, enum fence_ev_status status,
			 int64_t end_ms, uint32_t attempts, const char *reason)
{
	struct fence_event *e = (struct fence_event *)fence_history_find(h, id);

	if (status != FENCE_EV_SUCCESS && status != FENCE_EV_FAILED)
		return -EINVAL;
	if (!e)
		return -ENOENT;
	if (e->status != FENCE_EV_PENDING)
		return -EALREADY;
	e->status = status;
	e->end_ms = end_ms;
	e->attempts = attempts;
	fence_strlcpy(e->reason, reason, sizeof(e->reason));
	return 0;
}

/* ISO 8601 UTC with seconds: "2026-01-05T10:00:01Z". */
static void fence_time_format(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%" PRId64, ms);
}

static bool fence_history_selected(const struct fence_event *e, enum fence_history_level level)
{
	if (level >= FENCE_HISTORY_ALL)
		return true;
	return level == FENCE_HISTORY_FAILED && e->status != FENCE_EV_SUCCESS;
}

int fence_event_format(const struct fence_event *ev, char *buf, size_t len)
{
	char start[40], end[40];
	int64_t took = ev->end_ms - ev->start_ms;
	const char *act = fence_action_name(ev->action);

	fence_time_format(start, sizeof(start), ev->start_ms);
	if (!act)
		act = "?";
	if (ev->status == FENCE_EV_PENDING)
		return snprintf(buf, len, "%s of %s by %s with %s: pending since %s", act,
				ev->target, ev->executor, ev->agent, start);
	if (ev->end_ms == 0) {
		snprintf(end, sizeof(end), "end unknown");
	} else {
		if (took < 0)
			took = 0;
		snprintf(end, sizeof(end), "took %" PRId64 ".%" PRId64 " s", took / 1000,
			 (took % 1000) / 100);
	}
	return snprintf(buf, len, "%s of %s by %s with %s: %s after %u attempt%s, %s, %s%s%s", act,
			ev->target, ev->executor, ev->agent,
			ev->status == FENCE_EV_SUCCESS ? "success" : "FAILED", ev->attempts,
			ev->attempts == 1 ? "" : "s", start, end, ev->reason[0] ? ": " : "",
			ev->reason);
}

int fence_history_format(const struct fence_history *h, enum fence_history_level level, char *buf,
			 size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	for (uint32_t i = h->count; i-- > 0;) {
		const struct fence_event *e = fence_history_at(h, i);
		char line[FENCE_REASON_MAX + 4 * FENCE_NAME_MAX + 128];
		int n;

		if (!fence_history_selected(e, level))
			continue;
		n = fence_event_format(e, line, sizeof(line) - 1);
		if (n < 0)
			continue;
		n = MIN(n, (int)sizeof(line) - 2);
		line[n++] = '\n';
		line[n] = '\0';
		if (off < len)
			snprintf(buf + off, len - off, "%s", line);
		off += (size_t)n;
	}
	return off > INT_MAX ? INT_MAX : (int)off;
}

/* ---- JSON ---- */

static int fence_json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v && strcmp(key, "end_ms") && strcmp(key, "end"))
		return -ENOMEM; /* only the end fields may be null */
	return json_object_object_add(o, key, v) ? -ENOMEM : 0;
}

static struct json_object *fence_json_time(int64_t ms)
{
	char buf[40];

	if (ms == 0)
		return NULL;
	fence_time_format(buf, sizeof(buf), ms);
	return json_object_new_string(buf);
}

struct json_object *fence_event_to_json(const struct fence_event *ev)
{
	struct json_object *o = json_object_new_object();
	const char *act = fence_action_name(ev->action);
	int ret = 0;

	if (!o)
		return NULL;
	ret |= fence_json_add(o, "id", json_object_new_int64((int64_t)ev->id));
	ret |= fence_json_add(o, "action", json_object_new_string(act ? act : "?"));
	ret |= fence_json_add(o, "target", json_object_new_string(ev->target));
	ret |= fence_json_add(o, "target_id", json_object_new_int64(ev->target_id));
	ret |= fence_json_add(o, "executor", json_object_new_string(ev->executor));
	ret |= fence_json_add(o, "executor_id", json_object_new_int64(ev->executor_id));
	ret |= fence_json_add(o, "agent", json_object_new_string(ev->agent));
	ret |= fence_json_add(o, "status",
			      json_object_new_string(fence_ev_status_name(ev->status)));
	ret |= fence_json_add(o, "attempts", json_object_new_int64(ev->attempts));
	ret |= fence_json_add(o, "start_ms", json_object_new_int64(ev->start_ms));
	ret |= fence_json_add(o, "end_ms", ev->end_ms ? json_object_new_int64(ev->end_ms) : NULL);
	ret |= fence_json_add(o, "start", fence_json_time(ev->start_ms));
	ret |= fence_json_add(o, "end", fence_json_time(ev->end_ms));
	ret |= fence_json_add(o, "reason", json_object_new_string(ev->reason));
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *fence_history_to_json(const struct fence_history *h,
					  enum fence_history_level level)
{
	struct json_object *a = json_object_new_array();

	if (!a)
		return NULL;
	for (uint32_t i = h->count; i-- > 0;) {
		const struct fence_event *e = fence_history_at(h, i);
		struct json_object *o;

		if (!fence_history_selected(e, level))
			continue;
		o = fence_event_to_json(e);
		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* ---- file image ---- */

int fence_history_serialize(const struct fence_history *h, char **out, size_t *out_len)
{
	struct json_object *root = json_object_new_object(), *events = json_object_new_array();
	const char *body;
	size_t blen;
	char head[96];
	int hlen, ret = -ENOMEM;

	if (!root || !events)
		goto out;
	for (uint32_t i = 0; i < h->count; i++) {
		struct json_object *o = fence_event_to_json(fence_history_at(h, i));

		if (!o || json_object_array_add(events, o)) {
			json_object_put(o);
			goto out;
		}
	}
	if (json_object_object_add(root, "next_id", json_object_new_int64((int64_t)h->next_id)))
		goto out;
	if (json_object_object_add(root, "events", events))
		goto out;
	events = NULL; /* owned by root now */
	body = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &blen);
	if (!body)
		goto out;
	hlen = snprintf(head, sizeof(head), "%s %d %zu %08x\n", FENCE_HISTORY_MAGIC,
			FENCE_HISTORY_FILE_VERSION, blen, crc32c(0, body, blen));
	*out = malloc((size_t)hlen + blen + 1);
	if (!*out)
		goto out;
	memcpy(*out, head, (size_t)hlen);
	memcpy(*out + hlen, body, blen);
	(*out)[hlen + blen] = '\0';
	*out_len = (size_t)hlen + blen;
	ret = 0;
out:
	json_object_put(events);
	json_object_put(root);
	return ret;
}

/* Field readers: false when missing or of the wrong type/range. */
static bool fence_json_int(struct json_object *o, const char *key, int64_t min, int64_t max,
			   int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	*out = json_object_get_int64(v);
	return errno == 0 && *out >= min && *out <= max;
}

static bool fence_json_str(struct json_object *o, const char *key, char *dst, size_t len)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	if (strlen(s) >= len)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

static bool fence_json_status(struct json_object *o, enum fence_ev_status *out)
{
	char s[16];

	if (!fence_json_str(o, "status", s, sizeof(s)))
		return false;
	for (unsigned i = 0; i < ARRAY_SIZE(fence_ev_status_names); i++) {
		if (!strcmp(s, fence_ev_status_names[i])) {
			*out = (enum fence_ev_status)i;
			return true;
		}
	}
	return false;
}

static bool fence_event_from_json(struct json_object *o, struct fence_event *e)
{
	struct json_object *end;
	int64_t id, exe, tgt, att, start, endv = 0;
	char act[16];

	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(o, json_type_object) ||
	    !fence_json_int(o, "id", 1, INT64_MAX, &id) ||
	    !fence_json_int(o, "executor_id", 0, UINT32_MAX, &exe) ||
	    !fence_json_int(o, "target_id", 0, UINT32_MAX, &tgt) ||
	    !fence_json_int(o, "attempts", 0, UINT32_MAX, &att) ||
	    !fence_json_int(o, "start_ms", 0, INT64_MAX, &start) ||
	    !fence_json_str(o, "executor", e->executor, sizeof(e->executor)) ||
	    !fence_json_str(o, "target", e->target, sizeof(e->target)) ||
	    !fence_json_str(o, "agent", e->agent, sizeof(e->agent)) ||
	    !fence_json_str(o, "reason", e->reason, sizeof(e->reason)) ||
	    !fence_json_str(o, "action", act, sizeof(act)) || fence_action_parse(act, &e->action) ||
	    !fence_json_status(o, &e->status) || !json_object_object_get_ex(o, "end_ms", &end))
		return false;
	if (end && !fence_json_int(o, "end_ms", 1, INT64_MAX, &endv))
		return false;
	e->id = (uint64_t)id;
	e->executor_id = (uint32_t)exe;
	e->target_id = (uint32_t)tgt;
	e->attempts = (uint32_t)att;
	e->start_ms = start;
	e->end_ms = endv;
	if (e->status == FENCE_EV_PENDING) {
		e->status = FENCE_EV_FAILED;
		e->end_ms = 0;
		snprintf(e->reason, sizeof(e->reason),
			 "interrupted: clusterd stopped before the agent finished");
	}
	return true;
}

/* Checks the header line; returns the body offset, or -EBADMSG. */
static int fence_history_header(const char *buf, size_t len, size_t *blen)
{
	const char *nl = memchr(buf, '\n', MIN(len, (size_t)96));
	char line[96], magic[32];
	unsigned ver, crc;
	size_t n, hlen;
	int crc_at = 0, used = 0;

	if (!nl)
		return -EBADMSG;
	hlen = (size_t)(nl - buf);
	memcpy(line, buf, hlen); /* sscanf needs a terminated string */
	line[hlen] = '\0';
	/* Exactly 8 hex digits of CRC ending the line: a flipped bit never parses. */
	if (sscanf(line, "%31s %u %zu %n%8x%n", magic, &ver, &n, &crc_at, &crc, &used) != 4 ||
	    (size_t)used != hlen || used - crc_at != 8 || strcmp(magic, FENCE_HISTORY_MAGIC) ||
	    ver != FENCE_HISTORY_FILE_VERSION ||
	    strspn(line + crc_at, "0123456789abcdef") != 8) /* as written: lower case */
		return -EBADMSG;
	if (n != len - hlen - 1 || crc32c(0, nl + 1, n) != crc)
		return -EBADMSG;
	*blen = n;
	return (int)hlen + 1;
}

static int fence_history_from_json(struct fence_history *h, struct json_object *root)
{
	struct json_object *events;
	int64_t next;
	size_t n, skip;

	if (!json_object_is_type(root, json_type_object) ||
	    !fence_json_int(root, "next_id", 1, INT64_MAX, &next) ||
	    !json_object_object_get_ex(root, "events", &events) ||
	    !json_object_is_type(events, json_type_array))
		return -EBADMSG;
	fence_history_init(h);
	h->next_id = (uint64_t)next;
	n = json_object_array_length(events);
	skip = n > FENCE_HISTORY_MAX ? n - FENCE_HISTORY_MAX : 0;
	for (size_t i = skip; i < n; i++) {
		struct fence_event *e = &h->ev[h->count];

		if (!fence_event_from_json(json_object_array_get_idx(events, i), e))
			return -EBADMSG;
		if (e->id >= h->next_id)
			return -EBADMSG; /* ids are never reused */
		h->count++;
	}
	return 0;
}

int fence_history_parse(struct fence_history *h, const char *buf, size_t len)
{
	struct fence_history *tmp;
	struct json_tokener *tok;
	struct json_object *root;
	size_t blen;
	int off, ret;

	off = fence_history_header(buf, len, &blen);
	if (off < 0)
		return off;
	tmp = malloc(sizeof(*tmp));
	tok = json_tokener_new();
	if (!tmp || !tok) {
		free(tmp);
		if (tok)
			json_tokener_free(tok);
		return -ENOMEM;
	}
	root = json_tokener_parse_ex(tok, buf + off, (int)blen);
	ret = -EBADMSG;
	if (root && json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == blen)
		ret = fence_history_from_json(tmp, root);
	if (ret == 0)
		*h = *tmp;
	json_object_put(root);
	json_tokener_free(tok);
	free(tmp);
	return ret;
}

/* ---- files ---- */

static int fence_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync() of the directory holding path, so that the rename is durable. */
static int fence_fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int fence_history_save(const struct fence_history *h, const char *path)
{
	char tmp[PATH_MAX], *img = NULL;
	size_t len;
	int fd, ret;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	ret = fence_history_serialize(h, &img, &len);
	if (ret)
		return ret;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = fence_write_all(fd, img, len);
	if (ret == 0 && fsync(fd))
		ret = -errno;
	if (close(fd) && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	else
		ret = fence_fsync_dir(path);
out:
	free(img);
	return ret;
}

static int fence_read_file(const char *path, char **out, size_t *out_len)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > FENCE_HISTORY_FILE_MAX) {
		ret = -EBADMSG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	*out = buf;
	*out_len = off;
out:
	close(fd);
	return ret;
}

int fence_history_load(struct fence_history *h, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	fence_history_init(h);
	ret = fence_read_file(path, &buf, &len);
	if (ret)
		return ret;
	ret = fence_history_parse(h, buf, len);
	free(buf);
	return ret;
}
