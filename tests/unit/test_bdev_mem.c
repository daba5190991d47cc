// SPDX-License-Identifier: MIT
/* Unit tests of target/io/bdev_mem.c: data, asynchronous completion, map status. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target/io/bdev.h"

struct t_io {
	struct bdev_io io;
	int res;
	int calls;
};

static void t_cb(struct bdev_io *io, int res)
{
	struct t_io *t = container_of(io, struct t_io, io);

	t->res = res;
	t->calls++;
}

static int t_submit(struct bdev *b, struct reactor *r, struct t_io *t, uint8_t op, uint64_t off,
		    uint32_t len, void *buf)
{
	memset(t, 0, sizeof(*t));
	t->io.op = op;
	t->io.offset = off;
	t->io.len = len;
	t->io.buf = buf;
	t->io.buf_index = -1;
	t->io.cb = t_cb;
	return bdev_submit(b, r, &t->io);
}

static void t_poll(struct reactor *r, int *calls, int want)
{
	for (int i = 0; i < 100 && *calls < want; i++)
		assert_true(reactor_poll_once(r, false) >= 0);
}

static void test_create_args(void **state)
{
	struct bdev *b;

	assert_int_equal(bdev_mem_create(&b, 0, 512), -EINVAL);
	assert_int_equal(bdev_mem_create(&b, 1000, 512), -EINVAL);
	assert_int_equal(bdev_mem_create(&b, 8192, 1024), -EINVAL);
	assert_int_equal(bdev_mem_create(&b, 8192, 4096), 0);
	assert_int_equal(b->size, 8192);
	assert_int_equal(b->block_size, 4096);
	assert_true(b->can_discard && b->discard_zeroes);
	bdev_close(b);
}

/* Write, read back, and the callback runs on the next pass, never inside submit. */
static void test_write_read_async(void **state)
{
	struct reactor *r;
	struct bdev *b;
	struct t_io w, rd;
	uint8_t data[1024], back[1024];

	assert_int_equal(reactor_create(&r, 64), 0);
	assert_int_equal(bdev_mem_create(&b, 64 * 512, 512), 0);
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(t_submit(b, r, &w, BDEV_WRITE, 512 * 3, sizeof(data), data), 0);
	assert_int_equal(w.calls, 0);
	t_poll(r, &w.calls, 1);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.res, 0);

	memset(back, 0xee, sizeof(back));
	assert_int_equal(t_submit(b, r, &rd, BDEV_READ, 512 * 3, sizeof(back), back), 0);
	assert_int_equal(rd.calls, 0);
	t_poll(r, &rd.calls, 1);
	assert_int_equal(rd.calls, 1);
	assert_memory_equal(back, data, sizeof(data));

	/* Untouched blocks read as zeroes. */
	assert_int_equal(t_submit(b, r, &rd, BDEV_READ, 0, 512, back), 0);
	t_poll(r, &rd.calls, 1);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(back[i], 0);
	bdev_close(b);
	reactor_destroy(r);
}

static void test_submit_errors(void **state)
{
	struct reactor *r;
	struct bdev *b;
	struct t_io t;
	uint8_t buf[512];

	assert_int_equal(reactor_create(&r, 64), 0);
	assert_int_equal(bdev_mem_create(&b, 8 * 512, 512), 0);
	assert_int_equal(t_submit(b, r, &t, BDEV_READ, 8 * 512, 512, buf), -ERANGE);
	assert_int_equal(t_submit(b, r, &t, BDEV_READ, 7 * 512, 1024, buf), -ERANGE);
	assert_int_equal(t_submit(b, r, &t, BDEV_READ, 100, 512, buf), -EINVAL);
	assert_int_equal(t_submit(b, r, &t, BDEV_WRITE, 0, 512, NULL), -EINVAL);
	assert_int_equal(t_submit(b, r, &t, 9, 0, 512, buf), -EOPNOTSUPP);
	b->read_only = true;
	assert_int_equal(t_submit(b, r, &t, BDEV_WRITE, 0, 512, buf), -EROFS);
	assert_int_equal(t_submit(b, r, &t, BDEV_READ, 0, 512, buf), 0);
	t_poll(r, &t.calls, 1);
	/* A rejected submit never calls back. */
	assert_int_equal(t.calls, 1);
	bdev_close(b);
	reactor_destroy(r);
}

static void test_map_status(void **state)
{
	struct reactor *r;
	struct bdev *b;
	struct t_io t;
	uint8_t buf[4 * 512];
	uint64_t run;

	assert_int_equal(reactor_create(&r, 64), 0);
	assert_int_equal(bdev_mem_create(&b, 16 * 512, 512), 0);
	assert_int_equal(bdev_map_status(b, 0, 16 * 512, &run), 0);
	assert_int_equal(run, 16 * 512);

	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(t_submit(b, r, &t, BDEV_WRITE, 4 * 512, 4 * 512, buf), 0);
	t_poll(r, &t.calls, 1);
	assert_int_equal(bdev_map_status(b, 0, 16 * 512, &run), 0);
	assert_int_equal(run, 4 * 512);
	assert_int_equal(bdev_map_status(b, 4 * 512, 12 * 512, &run), 1);
	assert_int_equal(run, 4 * 512);

	/* DISCARD deallocates and zeroes; WRITE_ZEROES too. */
	assert_int_equal(t_submit(b, r, &t, BDEV_DISCARD, 5 * 512, 512, NULL), 0);
	t_poll(r, &t.calls, 1);
	assert_int_equal(t.res, 0);
	assert_int_equal(bdev_map_status(b, 4 * 512, 12 * 512, &run), 1);
	assert_int_equal(run, 512);
	assert_int_equal(bdev_map_status(b, 5 * 512, 11 * 512, &run), 0);
	assert_int_equal(run, 512);
	assert_int_equal(t_submit(b, r, &t, BDEV_READ, 4 * 512, 4 * 512, buf), 0);
	t_poll(r, &t.calls, 1);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(buf[512], 0);
	assert_int_equal(buf[1023], 0);
	assert_int_equal(buf[1024], 0x5a);
	assert_int_equal(t_submit(b, r, &t, BDEV_WRITE_ZEROES, 6 * 512, 2 * 512, NULL), 0);
	t_poll(r, &t.calls, 1);
	assert_int_equal(bdev_map_status(b, 5 * 512, 11 * 512, &run), 0);
	assert_int_equal(run, 11 * 512);
	bdev_close(b);
	reactor_destroy(r);
}

struct t_chain {
	struct t_io a, b;
	struct bdev *bd;
	struct reactor *r;
	uint8_t buf[512];
	int second_submit;
};

static void t_chain_cb(struct bdev_io *io, int res)
{
	struct t_chain *ch = container_of(io, struct t_chain, a.io);

	ch->a.calls++;
	/* Submitting from a callback: completes on a later pass, not now. */
	ch->second_submit = t_submit(ch->bd, ch->r, &ch->b, BDEV_READ, 0, 512, ch->buf);
	assert_int_equal(ch->b.calls, 0);
}

static void test_submit_from_callback(void **state)
{
	struct t_chain ch = {0};

	assert_int_equal(reactor_create(&ch.r, 64), 0);
	assert_int_equal(bdev_mem_create(&ch.bd, 8 * 512, 512), 0);
	memset(&ch.a, 0, sizeof(ch.a));
	ch.a.io.op = BDEV_FLUSH;
	ch.a.io.buf_index = -1;
	ch.a.io.cb = t_chain_cb;
	assert_int_equal(bdev_submit(ch.bd, ch.r, &ch.a.io), 0);
	assert_int_equal(reactor_poll_once(ch.r, false) >= 0, 1);
	assert_int_equal(ch.a.calls, 1);
	assert_int_equal(ch.second_submit, 0);
	assert_int_equal(ch.b.calls, 0);
	t_poll(ch.r, &ch.b.calls, 1);
	assert_int_equal(ch.b.calls, 1);
	bdev_close(ch.bd);
	reactor_destroy(ch.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_write_read_async),
		cmocka_unit_test(test_submit_errors),
		cmocka_unit_test(test_map_status),
		cmocka_unit_test(test_submit_from_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
