// SPDX-License-Identifier: MIT
/*
 * Unit tests of target/io/bdev_file.c on temporary files in /tmp (ext4 on the
 * project machines: O_DIRECT and hole punching work there).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/bufpool.h"
#include "target/io/bdev.h"

struct t_io {
	struct bdev_io io;
	int res;
	int calls;
};

struct fx {
	char path[64];
	struct reactor *r;
	struct bdev *b;
	uint8_t *buf; /* 1 MiB, 4096-aligned */
	char err[256];
};

static void t_cb(struct bdev_io *io, int res)
{
	struct t_io *t = container_of(io, struct t_io, io);

	t->res = res;
	t->calls++;
}

/* Submits and waits for the one completion; returns its result. */
static int t_run(struct fx *f, uint8_t op, uint8_t flags, uint64_t off, uint32_t len, void *buf,
		 int buf_index)
{
	struct t_io t;
	int ret;

	memset(&t, 0, sizeof(t));
	t.io.op = op;
	t.io.flags = flags;
	t.io.offset = off;
	t.io.len = len;
	t.io.buf = buf;
	t.io.buf_index = (int16_t)buf_index;
	t.io.cb = t_cb;
	ret = bdev_submit(f->b, f->r, &t.io);
	if (ret)
		return ret;
	assert_int_equal(t.calls, 0); /* never inside submit */
	while (!t.calls)
		assert_true(reactor_poll_once(f->r, true) >= 0);
	assert_int_equal(t.calls, 1);
	return t.res;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	void *p = NULL;

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "/tmp/test_bdev_file.%d", (int)getpid());
	unlink(f->path);
	assert_int_equal(reactor_create(&f->r, 64), 0);
	assert_int_equal(posix_memalign(&p, 4096, 1 << 20), 0);
	f->buf = p;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bdev_close(f->b);
	reactor_destroy(f->r);
	unlink(f->path);
	free(f->buf);
	free(f);
	return 0;
}

static int t_open(struct fx *f, uint64_t size, uint32_t bs, bool ro, bool no_direct)
{
	struct bdev_file_opts o = {
		.size = size, .block_size = bs, .read_only = ro, .no_direct = no_direct};

	bdev_close(f->b);
	f->b = NULL;
	f->err[0] = 0;
	return bdev_file_open(&f->b, f->path, &o, f->err, sizeof(f->err));
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	int fd;

	/* Missing and no size: a sentence with the path and what to do. */
	assert_int_equal(t_open(f, 0, 512, false, false), -ENOENT);
	assert_non_null(strstr(f->err, f->path));
	assert_non_null(strstr(f->err, "give a size"));
	assert_int_equal(t_open(f, 1 << 20, 1024, false, false), -EINVAL);
	assert_non_null(strstr(f->err, "block size"));
	/* Not a regular file or block device. */
	{
		struct bdev_file_opts o = {.block_size = 512};

		assert_int_equal(bdev_file_open(&f->b, "/dev/null", &o, f->err, sizeof(f->err)),
				 -EINVAL);
		assert_non_null(strstr(f->err, "not a regular file"));
	}
	/* An existing file is never shrunk, and must hold whole blocks. */
	fd = open(f->path, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * 4096 + 100), 0);
	close(fd);
	assert_int_equal(t_open(f, 8192, 512, false, false), -EINVAL);
	assert_non_null(strstr(f->err, "refusing to shrink"));
	assert_int_equal(t_open(f, 0, 512, false, false), -EINVAL);
	assert_non_null(strstr(f->err, "multiple of the block size"));
	/* A size that is not a multiple of the block size when creating. */
	unlink(f->path);
	assert_int_equal(t_open(f, 1000, 512, false, false), -EINVAL);
	assert_int_equal(access(f->path, F_OK), -1); /* a failed create leaves nothing */
}

static void test_create_direct(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(t_open(f, 4 << 20, 4096, false, false), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 4 << 20);
	assert_int_equal(f->b->size, 4 << 20);
	assert_int_equal(f->b->block_size, 4096);
	assert_true(f->b->direct);
	assert_int_equal(f->b->buf_align, 4096);
	assert_true(f->b->can_discard);
	assert_true(f->b->discard_zeroes);
	assert_true(f->b->volatile_cache);
	/* The discard probe changed nothing. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 4 << 20);
	/* Reopening a larger size grows the file; the same size keeps it. */
	assert_int_equal(t_open(f, 8 << 20, 4096, false, false), 0);
	assert_int_equal(f->b->size, 8 << 20);
	assert_int_equal(t_open(f, 0, 512, false, true), 0);
	assert_int_equal(f->b->size, 8 << 20);
	assert_false(f->b->direct);
	assert_int_equal(f->b->buf_align, 512);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 9));
}

static void test_read_write(void **state)
{
	struct fx *f = *state;
	uint8_t *want = malloc(1 << 20);
	int fd;

	assert_non_null(want);
	assert_int_equal(t_open(f, 4 << 20, 512, false, false), 0);
	assert_true(f->b->direct);
	fill(f->buf, 1 << 20, 3);
	memcpy(want, f->buf, 1 << 20);
	assert_int_equal(t_run(f, BDEV_WRITE, 0, 512 * 7, 1 << 20, f->buf, -1), 0);
	assert_int_equal(t_run(f, BDEV_WRITE, BDEV_F_FUA, 0, 512, f->buf, -1), 0);
	assert_int_equal(t_run(f, BDEV_FLUSH, 0, 0, 0, NULL, -1), 0);
	memset(f->buf, 0, 1 << 20);
	assert_int_equal(t_run(f, BDEV_READ, 0, 512 * 7, 1 << 20, f->buf, -1), 0);
	assert_memory_equal(f->buf, want, 1 << 20);

	/* The bytes are in the file where they belong. */
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, f->buf, 4096, 512 * 7), 4096);
	assert_memory_equal(f->buf, want, 4096);
	assert_int_equal(pread(fd, f->buf, 512, 0), 512);
	assert_memory_equal(f->buf, want, 512);
	close(fd);
	free(want);
}

static void test_submit_errors(void **state)
{
	struct fx *f = *state;

	assert_int_equal(t_open(f, 1 << 20, 512, false, false), 0);
	assert_int_equal(t_run(f, BDEV_READ, 0, 1 << 20, 512, f->buf, -1), -ERANGE);
	assert_int_equal(t_run(f, BDEV_READ, 0, 100, 512, f->buf, -1), -EINVAL);
	assert_int_equal(t_run(f, BDEV_READ, 0, 0, 512, f->buf + 512, -1), -EINVAL); /* O_DIRECT */
	assert_int_equal(t_run(f, BDEV_READ, 0, 0, 0, f->buf, -1), -EINVAL);
	assert_int_equal(t_run(f, 7, 0, 0, 512, f->buf, -1), -EOPNOTSUPP);
	assert_int_equal(t_open(f, 0, 512, true, false), 0);
	assert_true(f->b->read_only);
	assert_false(f->b->can_discard);
	assert_int_equal(t_run(f, BDEV_WRITE, 0, 0, 512, f->buf, -1), -EROFS);
	assert_int_equal(t_run(f, BDEV_FLUSH, 0, 0, 0, NULL, -1), -EROFS);
	assert_int_equal(t_run(f, BDEV_READ, 0, 0, 512, f->buf, -1), 0);
}

static void test_discard_and_zeroes(void **state)
{
	struct fx *f = *state;
	uint64_t run;
	struct stat a, b;

	assert_int_equal(t_open(f, 4 << 20, 4096, false, false), 0);
	/* A fresh file is one hole. */
	assert_int_equal(bdev_map_status(f->b, 0, 4 << 20, &run), 0);
	assert_int_equal(run, 4 << 20);
	memset(f->buf, 0xab, 1 << 20);
	assert_int_equal(t_run(f, BDEV_WRITE, 0, 0, 1 << 20, f->buf, -1), 0);
	assert_int_equal(t_run(f, BDEV_FLUSH, 0, 0, 0, NULL, -1), 0);
	assert_int_equal(bdev_map_status(f->b, 0, 4 << 20, &run), 1);
	assert_int_equal(run, 1 << 20);
	assert_int_equal(bdev_map_status(f->b, 1 << 20, 3 << 20, &run), 0);
	assert_int_equal(run, 3 << 20);
	assert_int_equal(stat(f->path, &a), 0);

	assert_int_equal(t_run(f, BDEV_DISCARD, 0, 8192, 16384, NULL, -1), 0);
	assert_int_equal(stat(f->path, &b), 0);
	assert_int_equal(b.st_blocks, a.st_blocks - 16384 / 512);
	assert_int_equal(bdev_map_status(f->b, 0, 4 << 20, &run), 1);
	assert_int_equal(run, 8192);
	assert_int_equal(bdev_map_status(f->b, 8192, 4 << 20, &run), 0);
	assert_int_equal(run, 16384);

	assert_int_equal(t_run(f, BDEV_WRITE_ZEROES, 0, 65536, 8192, NULL, -1), 0);
	assert_int_equal(t_run(f, BDEV_READ, 0, 0, 1 << 20, f->buf, -1), 0);
	for (uint32_t i = 0; i < 1 << 20; i++) {
		bool zero = (i >= 8192 && i < 8192 + 16384) || (i >= 65536 && i < 65536 + 8192);

		if (f->buf[i] != (zero ? 0 : 0xab))
			fail_msg("byte %u is %#x", i, f->buf[i]);
	}
}

/* Registered (fixed) buffers from a bufpool reach the file like plain ones. */
static void test_fixed_buffers(void **state)
{
	struct fx *f = *state;
	struct bufpool_class cls[] = {{65536, 4}};
	struct bufpool *bp;
	uint8_t *p;
	int idx;

	assert_int_equal(bufpool_create(&bp, cls, 1), 0);
	assert_int_equal(bufpool_register(bp, f->r), 0);
	p = bufpool_get(bp, 65536, NULL);
	assert_non_null(p);
	idx = bufpool_index(bp, p);
	assert_true(idx >= 0);
	assert_int_equal(t_open(f, 1 << 20, 512, false, false), 0);
	fill(p, 65536, 9);
	assert_int_equal(t_run(f, BDEV_WRITE, 0, 4096, 65536, p, idx), 0);
	memset(p, 0, 65536);
	assert_int_equal(t_run(f, BDEV_READ, 0, 4096, 65536, p, idx), 0);
	fill(f->buf, 65536, 9);
	assert_memory_equal(p, f->buf, 65536);
	bufpool_put(bp, p);
	bdev_close(f->b);
	f->b = NULL;
	reactor_destroy(f->r);
	bufpool_destroy(bp);
	assert_int_equal(reactor_create(&f->r, 64), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_and_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixed_buffers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
