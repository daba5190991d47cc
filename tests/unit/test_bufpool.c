// SPDX-License-Identifier: MIT
/* Unit tests for lib/bufpool.c: classes, O(1) reuse, misuse on put, registration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "lib/bufpool.h"
#include "lib/compiler.h"
#include "lib/reactor.h"

static const struct bufpool_class classes[] = {
	{.size = 4096, .count = 4},
	{.size = 65536, .count = 2},
	{.size = 262144, .count = 1},
};

static struct bufpool *t_pool(void)
{
	struct bufpool *bp = NULL;

	assert_int_equal(bufpool_create(&bp, classes, ARRAY_SIZE(classes)), 0);
	return bp;
}

static void test_bufpool_create_rejects_bad_classes(void **state)
{
	static const struct bufpool_class unaligned[] = {{1000, 4}};
	static const struct bufpool_class decreasing[] = {{8192, 1}, {4096, 1}};
	static const struct bufpool_class equal[] = {{4096, 1}, {4096, 1}};
	static const struct bufpool_class empty[] = {{4096, 0}};
	static const struct bufpool_class overflow[] = {{SIZE_MAX & ~(size_t)4095, 2}};
	struct bufpool *bp = NULL;

	assert_int_equal(bufpool_create(&bp, classes, 0), -EINVAL);
	assert_int_equal(bufpool_create(&bp, unaligned, 1), -EINVAL);
	assert_int_equal(bufpool_create(&bp, decreasing, 2), -EINVAL);
	assert_int_equal(bufpool_create(&bp, equal, 2), -EINVAL);
	assert_int_equal(bufpool_create(&bp, empty, 1), -EINVAL);
	assert_int_equal(bufpool_create(&bp, overflow, 1), -EOVERFLOW);
	assert_null(bp);
}

static void test_bufpool_get_smallest_fitting_class(void **state)
{
	struct bufpool *bp = t_pool();
	size_t cap = 0;
	void *a, *b, *c, *d;

	assert_int_equal(bufpool_max_size(bp), 262144);
	a = bufpool_get(bp, 0, &cap);
	assert_non_null(a);
	assert_int_equal(cap, 4096);
	b = bufpool_get(bp, 4096, &cap);
	assert_int_equal(cap, 4096);
	c = bufpool_get(bp, 4097, &cap);
	assert_int_equal(cap, 65536);
	d = bufpool_get(bp, 262144, &cap);
	assert_int_equal(cap, 262144);
	assert_true(IS_ALIGNED((uintptr_t)a, 4096));
	assert_true(IS_ALIGNED((uintptr_t)c, 4096));
	assert_true(IS_ALIGNED((uintptr_t)d, 4096));
	assert_ptr_not_equal(a, b);
	assert_null(bufpool_get(bp, 262145, &cap));
	/* Buffers are writable end to end. */
	memset(d, 0xab, 262144);
	bufpool_put(bp, a);
	bufpool_put(bp, b);
	bufpool_put(bp, c);
	bufpool_put(bp, d);
	bufpool_destroy(bp);
}

static void test_bufpool_falls_back_to_larger_class(void **state)
{
	struct bufpool *bp = t_pool();
	void *small[4], *spill[3];
	size_t cap;
	int i;

	for (i = 0; i < 4; i++)
		assert_non_null(small[i] = bufpool_get(bp, 100, NULL));
	assert_int_equal(bufpool_free_count(bp, 100), 0);
	spill[0] = bufpool_get(bp, 100, &cap);
	assert_int_equal(cap, 65536);
	spill[1] = bufpool_get(bp, 100, &cap);
	assert_int_equal(cap, 65536);
	spill[2] = bufpool_get(bp, 100, &cap);
	assert_int_equal(cap, 262144);
	assert_null(bufpool_get(bp, 100, &cap));
	assert_null(bufpool_get(bp, 1, NULL));

	/* A freed small buffer serves small requests again before bigger ones. */
	bufpool_put(bp, small[2]);
	assert_ptr_equal(bufpool_get(bp, 100, &cap), small[2]);
	assert_int_equal(cap, 4096);
	for (i = 0; i < 4; i++)
		bufpool_put(bp, small[i]);
	for (i = 0; i < 3; i++)
		bufpool_put(bp, spill[i]);
	assert_int_equal(bufpool_free_count(bp, 1), 4);
	assert_int_equal(bufpool_free_count(bp, 5000), 2);
	assert_int_equal(bufpool_free_count(bp, 70000), 1);
	assert_int_equal(bufpool_free_count(bp, 300000), 0);
	bufpool_destroy(bp);
}

static void test_bufpool_buffers_distinct(void **state)
{
	static const struct bufpool_class one[] = {{8192, 64}};
	struct bufpool *bp = NULL;
	uint8_t *b[64];
	int i, j;

	assert_int_equal(bufpool_create(&bp, one, 1), 0);
	for (i = 0; i < 64; i++) {
		b[i] = bufpool_get(bp, 8192, NULL);
		assert_non_null(b[i]);
		memset(b[i], i, 8192);
	}
	assert_null(bufpool_get(bp, 1, NULL));
	for (i = 0; i < 64; i++) {
		for (j = 0; j < 8192; j++)
			if (b[i][j] != i)
				fail_msg("buffer %d overlaps another at byte %d", i, j);
	}
	for (i = 0; i < 64; i++)
		bufpool_put(bp, b[i]);
	assert_int_equal(bufpool_free_count(bp, 1), 64);
	bufpool_destroy(bp);
}

/* Misuse is logged and ignored: the free lists stay exact. */
static void test_bufpool_put_misuse_ignored(void **state)
{
	struct bufpool *bp = t_pool();
	uint8_t *a, *next;
	char local[16];
	void *heap = malloc(64);

	a = bufpool_get(bp, 1, NULL);
	assert_int_equal(bufpool_free_count(bp, 1), 3);
	bufpool_put(bp, local);
	bufpool_put(bp, heap);
	bufpool_put(bp, a + 8);
	bufpool_put(bp, NULL);
	assert_int_equal(bufpool_free_count(bp, 1), 3);

	bufpool_put(bp, a);
	bufpool_put(bp, a); /* double put */
	assert_int_equal(bufpool_free_count(bp, 1), 4);
	assert_ptr_equal(bufpool_get(bp, 1, NULL), a);
	next = bufpool_get(bp, 1, NULL);
	assert_ptr_not_equal(next, a);
	bufpool_put(bp, a);
	bufpool_put(bp, next);
#ifdef __SANITIZE_ADDRESS__
	/* A free buffer is poisoned, so a use after put is an ASan report. */
	assert_true(__asan_address_is_poisoned(a));
	assert_true(__asan_address_is_poisoned(a + 4095));
	assert_ptr_equal(bufpool_get(bp, 1, NULL), next);
	assert_false(__asan_address_is_poisoned(next));
	assert_false(__asan_address_is_poisoned(next + 4095));
	bufpool_put(bp, next);
#endif
	free(heap);
	bufpool_destroy(bp);
}

struct t_op {
	struct reactor_op op;
	int res, calls;
};

static void t_op_cb(struct reactor_op *op, int res)
{
	struct t_op *t = container_of(op, struct t_op, op);

	t->res = res;
	t->calls++;
}

/* The registered class regions work as fixed buffers with bufpool_index(). */
static void test_bufpool_register_and_fixed_io(void **state)
{
	struct t_op w = {.op.cb = t_op_cb}, rd = {.op.cb = t_op_cb};
	char path[] = "/tmp/test_bufpool.XXXXXX";
	struct bufpool *bp = t_pool();
	struct reactor *r = NULL;
	uint8_t *out, *in;
	int ret, fd, i;

	out = bufpool_get(bp, 65536, NULL);
	in = bufpool_get(bp, 4096, NULL);
	assert_int_equal(bufpool_index(bp, out), -1); /* not registered yet */

	ret = reactor_create(&r, 16);
	if (ret == -ENOSYS || ret == -EPERM) {
		bufpool_destroy(bp);
		skip();
	}
	assert_int_equal(ret, 0);
	assert_int_equal(bufpool_register(bp, r), 0);
	assert_int_equal(bufpool_register(bp, r), -EALREADY);
	assert_int_equal(bufpool_index(bp, in), 0);
	assert_int_equal(bufpool_index(bp, out), 1);
	assert_int_equal(bufpool_index(bp, out + 100), 1);
	assert_int_equal(bufpool_index(bp, path), -1);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	for (i = 0; i < 4096; i++)
		out[i] = (uint8_t)(i * 3);
	memset(in, 0, 4096);
	assert_int_equal(reactor_write(r, &w.op, fd, out, 4096, 0, bufpool_index(bp, out)), 0);
	while (!w.calls)
		assert_true(reactor_poll_once(r, true) >= 0);
	assert_int_equal(w.res, 4096);
	assert_int_equal(reactor_read(r, &rd.op, fd, in, 4096, 0, bufpool_index(bp, in)), 0);
	while (!rd.calls)
		assert_true(reactor_poll_once(r, true) >= 0);
	assert_int_equal(rd.res, 4096);
	assert_memory_equal(in, out, 4096);

	/* The wrong class's index is refused by the kernel: registration is per class. */
	rd.calls = 0;
	assert_int_equal(reactor_read(r, &rd.op, fd, in, 4096, 0, 1), 0);
	while (!rd.calls)
		assert_true(reactor_poll_once(r, true) >= 0);
	assert_int_equal(rd.res, -EFAULT);

	bufpool_put(bp, in);
	bufpool_put(bp, out);
	close(fd);
	reactor_destroy(r);
	bufpool_destroy(bp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bufpool_create_rejects_bad_classes),
		cmocka_unit_test(test_bufpool_get_smallest_fitting_class),
		cmocka_unit_test(test_bufpool_falls_back_to_larger_class),
		cmocka_unit_test(test_bufpool_buffers_distinct),
		cmocka_unit_test(test_bufpool_put_misuse_ignored),
		cmocka_unit_test(test_bufpool_register_and_fixed_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
