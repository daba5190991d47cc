// SPDX-License-Identifier: MIT
/*
 * Unit tests for fencing/history.c: the ring (ids, wrap, finish), the text
 * and JSON views, the file image (round trip, strict parsing) and crash
 * safety of save (torn temporary file, every truncation of the file, a
 * flipped bit, a failed save leaving the old file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "fencing/history.h"
#include "lib/compiler.h"
#include "lib/crc32c.h"

#define T0 1767607201000LL /* 2026-01-05T10:00:01Z */

static struct fence_event t_ev(uint32_t target, const char *reason)
{
	struct fence_event e = {
		.executor_id = target == 1 ? 2 : 1,
		.target_id = target,
		.action = FENCE_ACTION_OFF,
		.status = FENCE_EV_PENDING,
		.start_ms = T0,
	};

	snprintf(e.executor, sizeof(e.executor), "node%u", e.executor_id);
	snprintf(e.target, sizeof(e.target), "node%u", target);
	snprintf(e.agent, sizeof(e.agent), "fence_netns");
	snprintf(e.reason, sizeof(e.reason), "%s", reason ? reason : "");
	return e;
}

static void test_add_finish_find(void **state)
{
	struct fence_history h;
	struct fence_event e = t_ev(1, NULL);
	const struct fence_event *p;
	uint64_t a, b;

	fence_history_init(&h);
	assert_int_equal(fence_history_count(&h), 0);
	assert_null(fence_history_at(&h, 0));
	e.id = 999; /* ignored */
	a = fence_history_add(&h, &e);
	b = fence_history_add(&h, &e);
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	assert_int_equal(fence_history_count(&h), 2);
	assert_int_equal(fence_history_finish(&h, a, FENCE_EV_SUCCESS, T0 + 400, 1, NULL), 0);
	assert_int_equal(fence_history_finish(&h, a, FENCE_EV_FAILED, T0 + 500, 1, "x"), -EALREADY);
	assert_int_equal(fence_history_finish(&h, b, FENCE_EV_PENDING, T0, 1, NULL), -EINVAL);
	assert_int_equal(fence_history_finish(&h, 77, FENCE_EV_FAILED, T0, 1, NULL), -ENOENT);
	assert_int_equal(
		fence_history_finish(&h, b, FENCE_EV_FAILED, T0 + 9000, 3, "agent timed out"), 0);
	p = fence_history_find(&h, a);
	assert_non_null(p);
	assert_int_equal(p->status, FENCE_EV_SUCCESS);
	assert_int_equal(p->end_ms, T0 + 400);
	assert_string_equal(p->reason, "");
	p = fence_history_at(&h, 1);
	assert_int_equal(p->id, b);
	assert_int_equal(p->attempts, 3);
	assert_string_equal(p->reason, "agent timed out");
	assert_ptr_equal(fence_history_last(&h, 1, FENCE_EV_SUCCESS), fence_history_find(&h, a));
	assert_ptr_equal(fence_history_last(&h, 1, FENCE_EV_FAILED), fence_history_find(&h, b));
	assert_null(fence_history_last(&h, 2, FENCE_EV_SUCCESS));
}

static void test_ring_wraps(void **state)
{
	struct fence_history h;

	fence_history_init(&h);
	for (int i = 1; i <= 70; i++) {
		struct fence_event e = t_ev((uint32_t)(i % 2 + 1), NULL);

		e.start_ms = T0 + i;
		assert_int_equal(fence_history_add(&h, &e), (uint64_t)i);
	}
	assert_int_equal(fence_history_count(&h), FENCE_HISTORY_MAX);
	assert_int_equal(fence_history_at(&h, 0)->id, 7);
	assert_int_equal(fence_history_at(&h, 0)->start_ms, T0 + 7);
	assert_int_equal(fence_history_at(&h, 63)->id, 70);
	assert_null(fence_history_at(&h, 64));
	assert_null(fence_history_find(&h, 6));
	assert_int_equal(fence_history_finish(&h, 6, FENCE_EV_SUCCESS, T0, 1, NULL), -ENOENT);
	assert_int_equal(fence_history_finish(&h, 7, FENCE_EV_SUCCESS, T0, 1, NULL), 0);
	assert_int_equal(h.next_id, 71);
}

static void test_strings_cut_to_fit(void **state)
{
	struct fence_history h;
	struct fence_event e = t_ev(1, NULL);
	char long_reason[600];
	const struct fence_event *p;
	uint64_t id;

	memset(long_reason, 'r', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	/* struct fields are fixed arrays: fill them completely, no terminator */
	memset(e.agent, 'a', sizeof(e.agent));
	fence_history_init(&h);
	id = fence_history_add(&h, &e);
	p = fence_history_find(&h, id);
	assert_int_equal(strlen(p->agent), FENCE_NAME_MAX - 1);
	assert_int_equal(fence_history_finish(&h, id, FENCE_EV_FAILED, T0, 1, long_reason), 0);
	assert_int_equal(strlen(p->reason), FENCE_REASON_MAX - 1);
}

static struct fence_history t_three(void)
{
	struct fence_history h;
	struct fence_event e;
	uint64_t id;

	fence_history_init(&h);
	e = t_ev(1, NULL);
	id = fence_history_add(&h, &e);
	fence_history_finish(&h, id, FENCE_EV_SUCCESS, T0 + 400, 1, NULL);
	e = t_ev(2, NULL);
	e.start_ms = T0 + 60000;
	id = fence_history_add(&h, &e);
	fence_history_finish(&h, id, FENCE_EV_FAILED, T0 + 60000 + 184250, 3,
			     "agent fence_netns off timed out after 60 s, killed");
	e = t_ev(2, NULL);
	e.action = FENCE_ACTION_REBOOT;
	e.start_ms = T0 + 300000;
	fence_history_add(&h, &e);
	return h;
}

/* t_three() with its pending event finished, so it survives a reload as is. */
static struct fence_history t_three_done(void)
{
	struct fence_history h = t_three();

	assert_int_equal(fence_history_finish(&h, 3, FENCE_EV_SUCCESS, T0 + 301000, 2, NULL), 0);
	return h;
}

static void test_text_lines(void **state)
{
	struct fence_history h = t_three();
	char buf[2048];
	const char *all =
		"reboot of node2 by node1 with fence_netns: pending since 2026-01-05T10:05:01Z\n"
		"off of node2 by node1 with fence_netns: FAILED after 3 attempts, "
		"2026-01-05T10:01:01Z, took 184.2 s: agent fence_netns off timed out after 60 s, "
		"killed\n"
		"off of node1 by node2 with fence_netns: success after 1 attempt, "
		"2026-01-05T10:00:01Z, took 0.4 s\n";
	int n;

	n = fence_history_format(&h, FENCE_HISTORY_ALL, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(all));
	assert_string_equal(buf, all);
	/* Level 1: failed and pending only. */
	n = fence_history_format(&h, FENCE_HISTORY_FAILED, buf, sizeof(buf));
	assert_int_equal(n, (int)(strstr(all, "off of node1") - all));
	assert_memory_equal(buf, all, (size_t)n);
	assert_int_equal(buf[n], '\0');
	assert_int_equal(fence_history_format(&h, FENCE_HISTORY_NONE, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* Too small: the needed length is returned, the text is cut. */
	n = fence_history_format(&h, FENCE_HISTORY_ALL, buf, 10);
	assert_int_equal(n, (int)strlen(all));
	assert_int_equal(strlen(buf), 9);
}

static void test_event_line_unknown_end(void **state)
{
	struct fence_event e = t_ev(1, "interrupted: clusterd stopped before the agent finished");
	char buf[512];

	e.status = FENCE_EV_FAILED;
	e.attempts = 1;
	fence_event_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "off of node1 by node2 with fence_netns: FAILED after 1 attempt, "
				 "2026-01-05T10:00:01Z, end unknown: interrupted: clusterd "
				 "stopped before the agent finished");
}

static const char *t_get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v ? json_object_get_string(v) : NULL;
}

static int64_t t_get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static void test_json(void **state)
{
	struct fence_history h = t_three();
	struct json_object *a = fence_history_to_json(&h, FENCE_HISTORY_ALL), *o, *v;
	/* Round-trip through text, as clusterctl sees it. */
	struct json_object *p = json_tokener_parse(json_object_to_json_string(a));

	assert_non_null(p);
	assert_int_equal(json_object_array_length(p), 3);
	o = json_object_array_get_idx(p, 0); /* newest first */
	assert_int_equal(t_get_int(o, "id"), 3);
	assert_string_equal(t_get_str(o, "action"), "reboot");
	assert_string_equal(t_get_str(o, "status"), "pending");
	assert_true(json_object_object_get_ex(o, "end_ms", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "end", &v));
	assert_null(v);
	o = json_object_array_get_idx(p, 1);
	assert_int_equal(t_get_int(o, "id"), 2);
	assert_string_equal(t_get_str(o, "status"), "failed");
	assert_string_equal(t_get_str(o, "target"), "node2");
	assert_int_equal(t_get_int(o, "target_id"), 2);
	assert_string_equal(t_get_str(o, "executor"), "node1");
	assert_int_equal(t_get_int(o, "executor_id"), 1);
	assert_string_equal(t_get_str(o, "agent"), "fence_netns");
	assert_int_equal(t_get_int(o, "attempts"), 3);
	assert_int_equal(t_get_int(o, "start_ms"), T0 + 60000);
	assert_int_equal(t_get_int(o, "end_ms"), T0 + 244250);
	assert_string_equal(t_get_str(o, "start"), "2026-01-05T10:01:01Z");
	assert_string_equal(t_get_str(o, "end"), "2026-01-05T10:04:05Z");
	assert_string_equal(t_get_str(o, "reason"),
			    "agent fence_netns off timed out after 60 s, killed");
	o = json_object_array_get_idx(p, 2);
	assert_string_equal(t_get_str(o, "status"), "success");
	assert_string_equal(t_get_str(o, "reason"), "");
	json_object_put(p);
	json_object_put(a);

	a = fence_history_to_json(&h, FENCE_HISTORY_FAILED);
	assert_int_equal(json_object_array_length(a), 2);
	json_object_put(a);
	a = fence_history_to_json(&h, FENCE_HISTORY_NONE);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
}

/* A quote or backslash in a reason stays valid JSON (json-c escapes it). */
static void test_json_escapes(void **state)
{
	struct fence_event e = t_ev(1, "agent said \"no\" \\ bye");
	struct json_object *o = fence_event_to_json(&e);
	struct json_object *p = json_tokener_parse(json_object_to_json_string(o));

	assert_non_null(p);
	assert_string_equal(t_get_str(p, "reason"), "agent said \"no\" \\ bye");
	json_object_put(p);
	json_object_put(o);
}

static void assert_same_history(const struct fence_history *a, const struct fence_history *b)
{
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->next_id, b->next_id);
	for (uint32_t i = 0; i < a->count; i++) {
		const struct fence_event *x = fence_history_at(a, i), *y = fence_history_at(b, i);

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->executor_id, y->executor_id);
		assert_int_equal(x->target_id, y->target_id);
		assert_string_equal(x->executor, y->executor);
		assert_string_equal(x->target, y->target);
		assert_string_equal(x->agent, y->agent);
		assert_int_equal(x->action, y->action);
		assert_int_equal(x->status, y->status);
		assert_int_equal(x->attempts, y->attempts);
		assert_int_equal(x->start_ms, y->start_ms);
		assert_int_equal(x->end_ms, y->end_ms);
		assert_string_equal(x->reason, y->reason);
	}
}

static struct fence_history t_full(void)
{
	struct fence_history h;

	fence_history_init(&h);
	for (int i = 1; i <= 70; i++) {
		struct fence_event e = t_ev((uint32_t)(i % 2 + 1), i % 3 ? NULL : "boom \"x\"");
		uint64_t id;

		e.action = (enum fence_action)(i % FENCE_ACTION_COUNT);
		e.start_ms = T0 + i * 1000;
		id = fence_history_add(&h, &e);
		fence_history_finish(&h, id, i % 3 ? FENCE_EV_SUCCESS : FENCE_EV_FAILED,
				     T0 + i * 1000 + 500, (uint32_t)(i % 4 + 1),
				     i % 3 ? NULL : "boom \"x\"");
	}
	return h;
}

static void test_image_round_trip(void **state)
{
	struct fence_history h = t_full(), back;
	char *img;
	size_t len;

	assert_int_equal(fence_history_serialize(&h, &img, &len), 0);
	assert_int_equal(strncmp(img, "clusterd-fence-history 1 ", 25), 0);
	fence_history_init(&back);
	assert_int_equal(fence_history_parse(&back, img, len), 0);
	assert_same_history(&h, &back);
	free(img);
}

static void test_image_pending_becomes_interrupted(void **state)
{
	struct fence_history h = t_three(), back;
	const struct fence_event *e;
	char *img;
	size_t len;

	assert_int_equal(fence_history_serialize(&h, &img, &len), 0);
	assert_int_equal(fence_history_parse(&back, img, len), 0);
	e = fence_history_find(&back, 3);
	assert_int_equal(e->status, FENCE_EV_FAILED);
	assert_int_equal(e->end_ms, 0);
	assert_string_equal(e->reason, "interrupted: clusterd stopped before the agent finished");
	assert_int_equal(fence_history_find(&back, 2)->status, FENCE_EV_FAILED);
	assert_int_equal(fence_history_find(&back, 1)->status, FENCE_EV_SUCCESS);
	free(img);
}

/* Every truncation of a valid image, and every single flipped bit of it, is
 * refused and leaves h untouched. */
static void test_image_torn_and_corrupt(void **state)
{
	struct fence_history h = t_three(), back = t_full(), keep = back;
	char *img;
	size_t len;

	assert_int_equal(fence_history_serialize(&h, &img, &len), 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(fence_history_parse(&back, img, cut), -EBADMSG);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			img[i] ^= (char)(1 << bit);
			assert_int_equal(fence_history_parse(&back, img, len), -EBADMSG);
			img[i] ^= (char)(1 << bit);
		}
	}
	assert_same_history(&back, &keep);
	/* Trailing garbage after a valid image is refused too. */
	img = realloc(img, len + 2);
	img[len] = '\n';
	assert_int_equal(fence_history_parse(&back, img, len + 1), -EBADMSG);
	assert_int_equal(fence_history_parse(&back, img, len), 0);
	free(img);
}

/* An image with a correct header around a hand-written body. */
static int t_parse_body(struct fence_history *h, const char *body)
{
	char img[4096];
	int n = snprintf(img, sizeof(img), "clusterd-fence-history 1 %zu %08x\n%s", strlen(body),
			 crc32c(0, body, strlen(body)), body);

	return fence_history_parse(h, img, (size_t)n);
}

#define T_EV_OK                                                                                    \
	"\"id\":1,\"action\":\"off\",\"target\":\"node1\",\"target_id\":1,\"executor\":\"node2\"," \
	"\"executor_id\":2,\"agent\":\"fence_netns\",\"status\":\"success\",\"attempts\":1,"       \
	"\"start_ms\":1,\"end_ms\":2,\"reason\":\"\""

static void test_image_strict_fields(void **state)
{
	struct fence_history h;

	fence_history_init(&h);
	assert_int_equal(t_parse_body(&h, "{\"next_id\":2,\"events\":[{" T_EV_OK "}]}"), 0);
	assert_int_equal(h.count, 1);
	/* Unknown fields are ignored (a newer clusterd may add some). */
	assert_int_equal(t_parse_body(&h, "{\"next_id\":2,\"x\":1,\"events\":[{" T_EV_OK
					  ",\"extra\":true}]}"),
			 0);
	assert_int_equal(t_parse_body(&h, "{\"next_id\":1,\"events\":[{" T_EV_OK "}]}"), -EBADMSG);
	assert_int_equal(t_parse_body(&h, "{\"events\":[]}"), -EBADMSG);
	assert_int_equal(t_parse_body(&h, "{\"next_id\":\"2\",\"events\":[]}"), -EBADMSG);
	assert_int_equal(t_parse_body(&h, "{\"next_id\":2,\"events\":{}}"), -EBADMSG);
	assert_int_equal(t_parse_body(&h, "[]"), -EBADMSG);
	assert_int_equal(t_parse_body(&h, "{\"next_id\":2,\"events\":[{" T_EV_OK "}]} x"),
			 -EBADMSG);
	assert_int_equal(t_parse_body(&h, "{\"next_id\":2,\"events\":[{\"id\":1}]}"), -EBADMSG);
	assert_int_equal(t_parse_body(&h,
				      "{\"next_id\":9,\"events\":[{\"id\":1,\"action\":\"zap\","
				      "\"target\":\"a\",\"target_id\":1,\"executor\":\"b\","
				      "\"executor_id\":2,\"agent\":\"f\",\"status\":\"success\","
				      "\"attempts\":1,\"start_ms\":1,\"end_ms\":2,"
				      "\"reason\":\"\"}]}"),
			 -EBADMSG);
	assert_int_equal(t_parse_body(&h,
				      "{\"next_id\":9,\"events\":[{\"id\":1,\"action\":\"off\","
				      "\"target\":\"a\",\"target_id\":-1,\"executor\":\"b\","
				      "\"executor_id\":2,\"agent\":\"f\",\"status\":\"success\","
				      "\"attempts\":1,\"start_ms\":1,\"end_ms\":2,"
				      "\"reason\":\"\"}]}"),
			 -EBADMSG);
	assert_int_equal(t_parse_body(&h, "{\"next_id\":9,\"events\":[{\"id\":1,\"action\":\"off\","
					  "\"target\":\"a\",\"target_id\":1,\"executor\":\"b\","
					  "\"executor_id\":2,\"agent\":\"f\",\"status\":\"won\","
					  "\"attempts\":1,\"start_ms\":1,\"end_ms\":2,"
					  "\"reason\":\"\"}]}"),
			 -EBADMSG);
	/* A name longer than the field is refused, not cut. */
	assert_int_equal(
		t_parse_body(&h, "{\"next_id\":9,\"events\":[{\"id\":1,\"action\":\"off\","
				 "\"target\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaaaaa\",\"target_id\":1,\"executor\":\"b\","
				 "\"executor_id\":2,\"agent\":\"f\",\"status\":\"success\","
				 "\"attempts\":1,\"start_ms\":1,\"end_ms\":2,"
				 "\"reason\":\"\"}]}"),
		-EBADMSG);
	/* The last good parse is still there. */
	assert_int_equal(h.count, 1);
	assert_int_equal(h.next_id, 2);
}

struct t_dir {
	char dir[64], path[128], tmp[160];
};

static int t_dir_setup(void **state)
{
	struct t_dir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	snprintf(d->dir, sizeof(d->dir), "/tmp/test_fence_history.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->path, sizeof(d->path), "%s/fence-history", d->dir);
	snprintf(d->tmp, sizeof(d->tmp), "%s.tmp", d->path);
	*state = d;
	return 0;
}

static int t_dir_teardown(void **state)
{
	struct t_dir *d = *state;

	unlink(d->tmp);
	unlink(d->path);
	rmdir(d->dir);
	free(d);
	return 0;
}

static void t_write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void test_save_load(void **state)
{
	struct t_dir *d = *state;
	struct fence_history h = t_full(), back;
	struct stat st;

	assert_int_equal(fence_history_load(&back, d->path), -ENOENT);
	assert_int_equal(fence_history_count(&back), 0);
	assert_int_equal(back.next_id, 1);
	assert_int_equal(fence_history_save(&h, d->path), 0);
	assert_int_equal(stat(d->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(d->tmp, F_OK), -1); /* renamed away */
	assert_int_equal(fence_history_load(&back, d->path), 0);
	assert_same_history(&h, &back);
}

/*
 * A crash in the middle of a save leaves a torn path.tmp and the previous
 * file: load returns the previous history, and the next save still works.
 */
static void test_crash_during_save(void **state)
{
	struct t_dir *d = *state;
	struct fence_history old = t_three_done(), new = t_full(), back;
	char *img;
	size_t len;

	assert_int_equal(fence_history_save(&old, d->path), 0);
	assert_int_equal(fence_history_serialize(&new, &img, &len), 0);
	for (size_t cut = 0; cut < len; cut += len / 13 + 1) {
		t_write_file(d->tmp, img, cut);
		assert_int_equal(fence_history_load(&back, d->path), 0);
		assert_same_history(&old, &back);
	}
	assert_int_equal(fence_history_save(&new, d->path), 0);
	assert_int_equal(fence_history_load(&back, d->path), 0);
	assert_same_history(&new, &back);
	free(img);
}

/* Without rename atomicity (or a bad disk) the file itself is torn: refused. */
static void test_torn_file_refused(void **state)
{
	struct t_dir *d = *state;
	struct fence_history h = t_full(), back;
	char *img;
	size_t len;

	assert_int_equal(fence_history_serialize(&h, &img, &len), 0);
	for (size_t cut = 0; cut < len; cut += len / 17 + 1) {
		t_write_file(d->path, img, cut);
		assert_int_equal(fence_history_load(&back, d->path), -EBADMSG);
		assert_int_equal(fence_history_count(&back), 0);
	}
	img[len / 2] ^= 1;
	t_write_file(d->path, img, len);
	assert_int_equal(fence_history_load(&back, d->path), -EBADMSG);
	free(img);
}

static void test_save_failure_keeps_old(void **state)
{
	struct t_dir *d = *state;
	struct fence_history old = t_three_done(), new = t_full(), back;
	char bad[200];

	snprintf(bad, sizeof(bad), "%s/missing-dir/fence-history", d->dir);
	assert_int_equal(fence_history_save(&new, bad), -ENOENT);
	assert_int_equal(fence_history_save(&old, d->path), 0);
	/* A directory where the temporary file should go: the save fails. */
	assert_int_equal(mkdir(d->tmp, 0700), 0);
	assert_int_equal(fence_history_save(&new, d->path), -EISDIR);
	assert_int_equal(rmdir(d->tmp), 0);
	assert_int_equal(fence_history_load(&back, d->path), 0);
	assert_same_history(&old, &back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_finish_find),
		cmocka_unit_test(test_ring_wraps),
		cmocka_unit_test(test_strings_cut_to_fit),
		cmocka_unit_test(test_text_lines),
		cmocka_unit_test(test_event_line_unknown_end),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_image_round_trip),
		cmocka_unit_test(test_image_pending_becomes_interrupted),
		cmocka_unit_test(test_image_torn_and_corrupt),
		cmocka_unit_test(test_image_strict_fields),
		cmocka_unit_test_setup_teardown(test_save_load, t_dir_setup, t_dir_teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_save, t_dir_setup,
						t_dir_teardown),
		cmocka_unit_test_setup_teardown(test_torn_file_refused, t_dir_setup,
						t_dir_teardown),
		cmocka_unit_test_setup_teardown(test_save_failure_keeps_old, t_dir_setup,
						t_dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
