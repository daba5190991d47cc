// SPDX-License-Identifier: MIT
/* Unit tests of target/io/bdev_fault.c over a bdev_mem. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target/io/bdev_fault.h"

#define BS 512

struct t_io {
	struct bdev_io io;
	int res;
	int calls;
};

struct fx {
	struct reactor *r;
	struct bdev *mem; /* owned by fault */
	struct bdev *fault;
	uint8_t buf[8 * BS];
	int pc_calls;
	int pc_res;
};

static void t_cb(struct bdev_io *io, int res)
{
	struct t_io *t = container_of(io, struct t_io, io);

	t->res = res;
	t->calls++;
}

static void t_wait(struct fx *f, int *calls)
{
	for (int i = 0; i < 1000 && !*calls; i++)
		assert_true(reactor_poll_once(f->r, false) >= 0);
	while (!*calls)
		assert_true(reactor_poll_once(f->r, true) >= 0);
}

/* Submits to b and waits: the completion result, or the submit error. */
static int t_run(struct fx *f, struct bdev *b, uint8_t op, uint8_t flags, uint64_t blk,
		 uint32_t nblk, void *buf)
{
	struct t_io t;
	int ret;

	memset(&t, 0, sizeof(t));
	t.io.op = op;
	t.io.flags = flags;
	t.io.offset = blk * BS;
	t.io.len = nblk * BS;
	t.io.buf = buf;
	t.io.buf_index = -1;
	t.io.cb = t_cb;
	ret = bdev_submit(b, f->r, &t.io);
	if (ret)
		return ret;
	assert_int_equal(t.calls, 0);
	t_wait(f, &t.calls);
	assert_int_equal(t.calls, 1);
	return t.res;
}

static int t_write(struct fx *f, uint64_t blk, uint8_t val, bool fua)
{
	memset(f->buf, val, BS);
	return t_run(f, f->fault, BDEV_WRITE, fua ? BDEV_F_FUA : 0, blk, 1, f->buf);
}

/* The first byte of block blk as the inner bdev holds it. */
static uint8_t t_inner(struct fx *f, uint64_t blk)
{
	uint8_t b[BS];

	assert_int_equal(t_run(f, f->mem, BDEV_READ, 0, blk, 1, b), 0);
	for (int i = 1; i < BS; i++)
		assert_int_equal(b[i], b[0]);
	return b[0];
}

static int setup_journal(void **state, uint32_t journal)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(reactor_create(&f->r, 64), 0);
	assert_int_equal(bdev_mem_create(&f->mem, 64 * BS, BS), 0);
	assert_int_equal(bdev_fault_create(&f->fault, f->mem, journal), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_journal(state, 64 * BS);
}

static int setup_small(void **state)
{
	return setup_journal(state, BS);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bdev_close(f->fault);
	reactor_destroy(f->r);
	free(f);
	return 0;
}

static void test_counts(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats st;
	uint64_t run;

	assert_int_equal(f->fault->size, 64 * BS);
	assert_true(f->fault->volatile_cache); /* the journal models a write cache */
	assert_int_equal(t_write(f, 0, 1, false), 0);
	assert_int_equal(t_write(f, 1, 2, true), 0);
	assert_int_equal(t_run(f, f->fault, BDEV_READ, 0, 0, 2, f->buf), 0);
	assert_int_equal(f->buf[0], 1);
	assert_int_equal(f->buf[BS], 2);
	assert_int_equal(t_run(f, f->fault, BDEV_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(t_run(f, f->fault, BDEV_DISCARD, 0, 4, 2, NULL), 0);
	assert_int_equal(t_run(f, f->fault, BDEV_WRITE_ZEROES, 0, 6, 2, NULL), 0);
	bdev_fault_get_stats(f->fault, &st);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.writes, 2);
	assert_int_equal(st.fua_writes, 1);
	assert_int_equal(st.flushes, 1);
	assert_int_equal(st.discards, 1);
	assert_int_equal(st.write_zeroes, 1);
	assert_int_equal(st.failed, 0);
	/* Provisioning status is the inner bdev's. */
	assert_int_equal(bdev_map_status(f->fault, 0, 64 * BS, &run), 1);
	assert_int_equal(run, 2 * BS);
}

static void test_fail_nth(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats st;

	/* The 2nd READ fails; writes do not count; then it stops. */
	bdev_fault_fail_at(f->fault, 2, 1u << BDEV_READ, -EIO, false);
	assert_int_equal(t_run(f, f->fault, BDEV_READ, 0, 0, 1, f->buf), 0);
	assert_int_equal(t_write(f, 0, 7, false), 0);
	assert_int_equal(t_run(f, f->fault, BDEV_READ, 0, 0, 1, f->buf), -EIO);
	assert_int_equal(t_run(f, f->fault, BDEV_READ, 0, 0, 1, f->buf), 0);
	/* A failed write never reaches the inner bdev. */
	bdev_fault_fail_at(f->fault, 1, 0, -ENOSPC, true);
	assert_int_equal(t_write(f, 3, 9, false), -ENOSPC);
	assert_int_equal(t_run(f, f->fault, BDEV_FLUSH, 0, 0, 0, NULL), -ENOSPC);
	bdev_fault_fail_at(f->fault, 0, 0, 0, false);
	assert_int_equal(t_inner(f, 3), 0);
	bdev_fault_get_stats(f->fault, &st);
	assert_int_equal(st.failed, 3);
}

static void test_delay(void **state)
{
	struct fx *f = *state;

	bdev_fault_set_delay(f->fault, 2000000);
	assert_int_equal(t_write(f, 5, 0x55, false), 0);
	assert_int_equal(t_inner(f, 5), 0x55);
	bdev_fault_fail_at(f->fault, 1, 0, -EIO, false);
	assert_int_equal(t_write(f, 5, 0x66, false), -EIO);
	bdev_fault_set_delay(f->fault, 0);
	assert_int_equal(t_inner(f, 5), 0x55);
}

static void t_pc_done(void *arg, int res)
{
	struct fx *f = arg;

	f->pc_calls++;
	f->pc_res = res;
}

static void t_power_cut(struct fx *f)
{
	f->pc_calls = 0;
	assert_int_equal(bdev_fault_power_cut(f->fault, f->r, t_pc_done, f), 0);
	assert_int_equal(f->pc_calls, 0);
	t_wait(f, &f->pc_calls);
	assert_int_equal(f->pc_calls, 1);
	assert_int_equal(f->pc_res, 0);
}

static void test_power_cut(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats st;

	assert_int_equal(t_write(f, 0, 0xa0, false), 0);
	assert_int_equal(t_run(f, f->fault, BDEV_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(t_write(f, 0, 0xb0, false), 0); /* lost */
	assert_int_equal(t_write(f, 1, 0xc1, true), 0);	 /* FUA: kept */
	assert_int_equal(t_write(f, 2, 0xd2, false), 0); /* overwritten by FUA below */
	assert_int_equal(t_write(f, 2, 0xe2, true), 0);
	assert_int_equal(t_write(f, 3, 0xf3, false), 0); /* lost, FUA after, then lost again */
	assert_int_equal(t_write(f, 3, 0x13, true), 0);
	assert_int_equal(t_write(f, 3, 0x23, false), 0);
	assert_int_equal(t_run(f, f->fault, BDEV_WRITE_ZEROES, 0, 1, 1, NULL), 0); /* lost */
	assert_int_equal(t_inner(f, 0), 0xb0);
	assert_int_equal(t_inner(f, 1), 0);

	t_power_cut(f);
	assert_int_equal(t_inner(f, 0), 0xa0);
	assert_int_equal(t_inner(f, 1), 0xc1);
	assert_int_equal(t_inner(f, 2), 0xe2);
	assert_int_equal(t_inner(f, 3), 0x13);
	/* Power is off until power_on. */
	assert_int_equal(t_write(f, 4, 1, false), -EIO);
	assert_int_equal(t_run(f, f->fault, BDEV_READ, 0, 0, 1, f->buf), -EIO);
	bdev_fault_power_on(f->fault);
	assert_int_equal(t_run(f, f->fault, BDEV_READ, 0, 0, 4, f->buf), 0);
	assert_int_equal(f->buf[0], 0xa0);
	assert_int_equal(f->buf[3 * BS], 0x13);
	/* After a cut the journal starts empty: a second cut undoes nothing more. */
	assert_int_equal(t_write(f, 5, 0x55, true), 0);
	t_power_cut(f);
	assert_int_equal(t_inner(f, 5), 0x55);
	assert_int_equal(t_inner(f, 0), 0xa0);
	bdev_fault_get_stats(f->fault, &st);
	assert_int_equal(st.journal_overflows, 0);
}

/* A FLUSH makes only writes completed before it durable. */
static void test_flush_scope(void **state)
{
	struct fx *f = *state;

	assert_int_equal(t_write(f, 0, 1, false), 0);
	assert_int_equal(t_write(f, 1, 2, false), 0);
	assert_int_equal(t_run(f, f->fault, BDEV_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(t_write(f, 1, 3, false), 0);
	t_power_cut(f);
	assert_int_equal(t_inner(f, 0), 1);
	assert_int_equal(t_inner(f, 1), 2);
}

/* A journal too small: the older completed write is taken as written back. */
static void test_journal_overflow(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats st;

	assert_int_equal(t_write(f, 0, 0x11, false), 0);
	assert_int_equal(t_write(f, 1, 0x22, false), 0);
	bdev_fault_get_stats(f->fault, &st);
	assert_int_equal(st.journal_overflows, 1);
	t_power_cut(f);
	assert_int_equal(t_inner(f, 0), 0x11);
	assert_int_equal(t_inner(f, 1), 0);
	bdev_fault_power_on(f->fault);
	/* Larger than the whole journal: passes through as durable. */
	memset(f->buf, 0x33, 2 * BS);
	assert_int_equal(t_run(f, f->fault, BDEV_WRITE, 0, 4, 2, f->buf), 0);
	bdev_fault_get_stats(f->fault, &st);
	assert_int_equal(st.journal_overflows, 2);
	t_power_cut(f);
	assert_int_equal(t_inner(f, 4), 0x33);
	assert_int_equal(t_inner(f, 5), 0x33);
}

static void test_no_journal(void **state)
{
	struct reactor *r;
	struct bdev *mem, *fb;

	assert_int_equal(reactor_create(&r, 64), 0);
	assert_int_equal(bdev_mem_create(&mem, 8 * BS, BS), 0);
	assert_int_equal(bdev_fault_create(&fb, mem, 0), 0);
	assert_false(fb->volatile_cache); /* the inner bdev's */
	bdev_close(fb);
	reactor_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_nth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_overflow, setup_small, teardown),
		cmocka_unit_test(test_no_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
