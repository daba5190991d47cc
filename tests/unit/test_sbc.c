// SPDX-License-Identifier: MIT
/*
 * Unit tests of target/scsi/sbc.c: commands go through the real dispatcher
 * (scsi_cmd_prepare / scsi_cmd_exec) on a real reactor, to LUs backed by a
 * bdev_fault (counting FUA and FLUSH) over a bdev_mem, and by a bdev_file.
 *
 * LUN 0: thin, 8192 blocks of 512 bytes. LUN 1: fully provisioned, same size.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/bufpool.h"
#include "target/io/bdev_fault.h"
#include "target/scsi/scsi_int.h"

#define BS	 512u
#define NBLK	 8192u
#define LUN_THIN 0
#define LUN_FULL 1

struct tcmd {
	struct scsi_cmd c;
	int done;
	int rc;
};

struct fx {
	struct reactor *r;
	struct bufpool *bp;
	struct scsi_exec_ctx ctx;
	struct scsi_tgt *t;
	struct scsi_nexus *n;
	struct scsi_lu *lu[4];
	struct bdev *fb; /* LUN 0's bdev_fault */
	struct tcmd tc;
	uint8_t *in;  /* data-in of the last command */
	uint8_t *out; /* scratch for data-out */
	char path[64];
};

static void t_done(struct scsi_cmd *c)
{
	container_of(c, struct tcmd, c)->done++;
}

static void t_poll(struct fx *f, int *done)
{
	for (int i = 0; i < 1000 && !*done; i++)
		assert_true(reactor_poll_once(f->r, false) >= 0);
	while (!*done)
		assert_true(reactor_poll_once(f->r, true) >= 0);
}

/* Prepares c like the transport does and execs it; does not wait. */
static int t_start(struct fx *f, struct tcmd *t, uint64_t lun, const uint8_t *cdb, uint32_t edtl,
		   const void *out, uint32_t outlen)
{
	struct scsi_cmd *c = &t->c;
	size_t cap = 0;

	memset(t, 0, sizeof(*t));
	c->nexus = f->n;
	c->ctx = &f->ctx;
	c->lun = lun;
	memcpy(c->cdb, cdb, 16);
	c->edtl = edtl;
	c->xport_write = out != NULL;
	c->xport_read = out == NULL && edtl;
	c->buf_index = -1;
	c->done = t_done;
	t->rc = scsi_cmd_prepare(c);
	if (t->rc != SCSI_OK)
		return t->rc;
	if (c->xfer_len) {
		c->buf = bufpool_get(f->bp, c->xfer_len, &cap);
		assert_non_null(c->buf);
		c->buf_cap = cap;
		c->buf_index = bufpool_index(f->bp, c->buf);
	}
	if (c->dir == SCSI_DIR_WRITE && out) {
		/* The transport receives min(EDTL, transfer length) bytes. */
		c->data_out_len = MIN(MIN(outlen, edtl), c->xfer_len);
		if (c->data_out_len)
			memcpy(c->buf, out, c->data_out_len);
	}
	t->rc = scsi_cmd_exec(c);
	if (t->rc == SCSI_DONE)
		assert_int_equal(t->done, 0); /* done() is for PENDING commands only */
	else
		assert_int_equal(t->rc, SCSI_PENDING);
	return t->rc;
}

/* Waits for a started command and gives its buffer back; data-in lands in f->in. */
static void t_finish(struct fx *f, struct tcmd *t)
{
	struct scsi_cmd *c = &t->c;

	if (t->rc == SCSI_PENDING) {
		t_poll(f, &t->done);
		assert_int_equal(t->done, 1);
	}
	if (c->buf) {
		if (c->data_in_len)
			memcpy(f->in, c->buf, c->data_in_len);
		bufpool_put(f->bp, c->buf);
		c->buf = NULL;
	}
}

static struct scsi_cmd *run(struct fx *f, uint64_t lun, const uint8_t *cdb, uint32_t edtl,
			    const void *out, uint32_t outlen)
{
	t_start(f, &f->tc, lun, cdb, edtl, out, outlen);
	t_finish(f, &f->tc);
	/* Nothing more may complete afterwards. */
	assert_true(reactor_poll_once(f->r, false) >= 0);
	assert_true(f->tc.done <= 1);
	return &f->tc.c;
}

static void expect_good(const struct scsi_cmd *c)
{
	if (c->status != SAM_STAT_GOOD)
		fail_msg("status %#x sense %x/%02x/%02x", c->status, c->sense[2] & 0xf,
			 c->sense[12], c->sense[13]);
}

static void expect_sense(const struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	assert_int_equal(c->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(c->sense[0] & 0x7f, 0x70);
	assert_int_equal(c->sense[2] & 0x0f, key);
	assert_int_equal(c->sense[12], asc);
	assert_int_equal(c->sense[13], ascq);
}

/* INVALID FIELD IN CDB pointing at CDB byte `byte` (SPC-4 4.5.2.4.2). */
static void expect_bad_cdb(const struct scsi_cmd *c, uint16_t byte)
{
	expect_sense(c, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_int_equal(c->sense[15] & 0xc0, 0xc0); /* SKSV, C/D = CDB */
	assert_int_equal(get_be16(&c->sense[16]), byte);
}

/* ---- CDB builders ---- */

static void cdb10(uint8_t *cdb, uint8_t op, uint8_t b1, uint32_t lba, uint16_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = b1;
	put_be32(&cdb[2], lba);
	put_be16(&cdb[7], n);
}

static void cdb12(uint8_t *cdb, uint8_t op, uint8_t b1, uint32_t lba, uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = b1;
	put_be32(&cdb[2], lba);
	put_be32(&cdb[6], n);
}

static void cdb16(uint8_t *cdb, uint8_t op, uint8_t b1, uint64_t lba, uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = b1;
	put_be64(&cdb[2], lba);
	put_be32(&cdb[10], n);
}

static void cdb6(uint8_t *cdb, uint8_t op, uint32_t lba, uint8_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be24(&cdb[1], lba);
	cdb[4] = n;
}

/* ---- medium access behind the SCSI layer ---- */

struct t_bio {
	struct bdev_io io;
	int done;
	int res;
};

static void t_bio_cb(struct bdev_io *io, int res)
{
	struct t_bio *b = container_of(io, struct t_bio, io);

	b->done++;
	b->res = res;
}

static void medium_io(struct fx *f, uint64_t lun, uint8_t op, uint64_t lba, uint32_t n, void *buf)
{
	struct t_bio b;

	uint32_t bs = f->lu[lun]->block_size;

	memset(&b, 0, sizeof(b));
	b.io.op = op;
	b.io.offset = lba * bs;
	b.io.len = n * bs;
	b.io.buf = buf;
	b.io.buf_index = -1;
	b.io.cb = t_bio_cb;
	assert_int_equal(bdev_submit(f->lu[lun]->bdev, f->r, &b.io), 0);
	t_poll(f, &b.done);
	assert_int_equal(b.res, 0);
}

static void medium_fill(struct fx *f, uint64_t lun, uint64_t lba, uint32_t n, uint8_t v)
{
	memset(f->out, v, n * BS);
	medium_io(f, lun, BDEV_WRITE, lba, n, f->out);
}

/* Asserts every byte of the n blocks at lba is v. */
static void medium_expect(struct fx *f, uint64_t lun, uint64_t lba, uint32_t n, uint8_t v)
{
	uint8_t *b = NULL;

	/* Aligned for O_DIRECT files. */
	assert_int_equal(posix_memalign((void **)&b, 4096, n * BS), 0);
	medium_io(f, lun, BDEV_READ, lba, n, b);
	for (uint32_t i = 0; i < n * BS; i++)
		if (b[i] != v)
			fail_msg("lba %llu byte %u: %#x, want %#x",
				 (unsigned long long)(lba + i / BS), i % BS, b[i], v);
	free(b);
}

static struct bdev_fault_stats fstats(struct fx *f)
{
	struct bdev_fault_stats st;

	bdev_fault_get_stats(f->fb, &st);
	return st;
}

/* ---- fixture ---- */

static void t_add_lu(struct fx *f, uint64_t lun, struct bdev *b, bool thin)
{
	struct scsi_lu_config cfg = {.lun = lun, .bdev = b, .lu_id = 0x1000 + lun, .thin = thin};

	assert_int_equal(scsi_tgt_add_lu(f->t, &cfg, &f->lu[lun]), 0);
}

static int setup(void **state)
{
	static const struct bufpool_class cls[] = {{4096, 64}, {65536, 16}, {1 << 20, 6}};
	struct fx *f = calloc(1, sizeof(*f));
	struct bdev *mem, *mem2;
	uint8_t cdb[16] = {0};

	assert_non_null(f);
	/* Aligned: medium_io() hands them to O_DIRECT files too. */
	assert_int_equal(posix_memalign((void **)&f->in, 4096, 2 << 20), 0);
	assert_int_equal(posix_memalign((void **)&f->out, 4096, 2 << 20), 0);
	assert_int_equal(reactor_create(&f->r, 256), 0);
	assert_int_equal(bufpool_create(&f->bp, cls, 3), 0);
	assert_int_equal(bufpool_register(f->bp, f->r), 0);
	f->ctx.reactor = f->r;
	f->ctx.bufpool = f->bp;
	assert_int_equal(scsi_tgt_create(&f->t, "iqn.2024-01.test:sbc", NULL, NULL), 0);
	assert_int_equal(bdev_mem_create(&mem, (uint64_t)NBLK * BS, BS), 0);
	assert_int_equal(bdev_fault_create(&f->fb, mem, 4 << 20), 0);
	t_add_lu(f, LUN_THIN, f->fb, true);
	assert_int_equal(bdev_mem_create(&mem2, (uint64_t)NBLK * BS, BS), 0);
	t_add_lu(f, LUN_FULL, mem2, false);
	assert_int_equal(scsi_nexus_create(&f->n, f->t, "iqn.2024-01.test:init",
					   "iqn.2024-01.test:init,i,0x1", 1),
			 0);
	/* Consume the power-on unit attentions. */
	for (int lun = 0; lun < 2; lun++)
		for (int i = 0; i < 4 && run(f, lun, cdb, 0, NULL, 0)->status; i++)
			;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	scsi_tgt_destroy(f->t);
	bufpool_destroy(f->bp);
	reactor_destroy(f->r);
	if (f->path[0])
		unlink(f->path);
	free(f->in);
	free(f->out);
	free(f);
	return 0;
}

static void pattern(uint8_t *p, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed ^ (i * 31) ^ (i >> 9));
}

/* ---- READ / WRITE ---- */

static void test_write_read(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	pattern(f->out, 4 * BS, 1);
	cdb10(cdb, 0x2a, 0, 10, 4);
	c = run(f, LUN_THIN, cdb, 4 * BS, f->out, 4 * BS);
	expect_good(c);
	assert_int_equal(c->dir, SCSI_DIR_WRITE);
	assert_int_equal(c->xfer_len, 4 * BS);

	cdb16(cdb, 0x88, 0, 10, 4);
	c = run(f, LUN_THIN, cdb, 4 * BS, NULL, 0);
	expect_good(c);
	assert_int_equal(c->dir, SCSI_DIR_READ);
	assert_int_equal(c->data_in_len, 4 * BS);
	assert_memory_equal(f->in, f->out, 4 * BS);

	cdb12(cdb, 0xa8, 0, 11, 1);
	c = run(f, LUN_THIN, cdb, BS, NULL, 0);
	expect_good(c);
	assert_memory_equal(f->in, f->out + BS, BS);

	/* WRITE(12) and WRITE(16) land where they say. */
	memset(f->out, 0x12, BS);
	cdb12(cdb, 0xaa, 0, 100, 1);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	medium_expect(f, LUN_THIN, 100, 1, 0x12);
	memset(f->out, 0x16, 2 * BS);
	cdb16(cdb, 0x8a, 0, NBLK - 2, 2);
	expect_good(run(f, LUN_THIN, cdb, 2 * BS, f->out, 2 * BS));
	medium_expect(f, LUN_THIN, NBLK - 2, 2, 0x16);
}

/* SBC-3 5.8: READ(6)/WRITE(6) transfer length 0 means 256 blocks; 21-bit LBA. */
static void test_rw6(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	memset(f->out, 0x66, 256 * BS);
	cdb6(cdb, 0x0a, 0x1000, 0);
	c = run(f, LUN_THIN, cdb, 256 * BS, f->out, 256 * BS);
	expect_good(c);
	assert_int_equal(c->xfer_len, 256 * BS);
	medium_expect(f, LUN_THIN, 0x1000, 256, 0x66);
	cdb6(cdb, 0x08, 0x1000, 0);
	c = run(f, LUN_THIN, cdb, 256 * BS, NULL, 0);
	expect_good(c);
	assert_int_equal(c->data_in_len, 256 * BS);
	/* The top 3 bits of byte 1 are not LBA bits but reserved. */
	cdb6(cdb, 0x08, 0, 1);
	cdb[1] = 0x20;
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, NULL, 0), 1);
	cdb6(cdb, 0x08, NBLK - 1, 2);
	expect_sense(run(f, LUN_THIN, cdb, 2 * BS, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0);
}

static void test_lba_range(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	cdb10(cdb, 0x28, 0, NBLK - 1, 2);
	c = run(f, LUN_THIN, cdb, 2 * BS, NULL, 0);
	expect_sense(c, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(c->xfer_len, 0);
	/* lba + length wrapping around 2^64 is out of range, not a small range. */
	cdb16(cdb, 0x88, 0, UINT64_MAX, 2);
	expect_sense(run(f, LUN_THIN, cdb, 2 * BS, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	cdb16(cdb, 0x8a, 0, 0x8000000000000000ull, 1);
	expect_sense(run(f, LUN_THIN, cdb, BS, f->out, BS), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	/* Zero blocks: fine up to the capacity, out of range past it. */
	cdb10(cdb, 0x28, 0, NBLK, 0);
	c = run(f, LUN_THIN, cdb, 0, NULL, 0);
	expect_good(c);
	assert_int_equal(c->xfer_len, 0);
	assert_int_equal(c->data_in_len, 0);
	cdb10(cdb, 0x28, 0, NBLK + 1, 0);
	expect_sense(run(f, LUN_THIN, cdb, 0, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	cdb10(cdb, 0x2a, 0, NBLK + 1, 0);
	expect_sense(run(f, LUN_THIN, cdb, 0, f->out, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	cdb10(cdb, 0x2a, 0, 5, 0);
	expect_good(run(f, LUN_THIN, cdb, 0, f->out, 0));
}

static void test_limits_and_flags(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];

	/* MAXIMUM TRANSFER LENGTH + 1 block: field pointer at the length. */
	cdb16(cdb, 0x88, 0, 0, SCSI_MAX_XFER_BYTES / BS + 1);
	expect_bad_cdb(run(f, LUN_THIN, cdb, 0, NULL, 0), 10);
	cdb10(cdb, 0x28, 0, 0, SCSI_MAX_XFER_BYTES / BS + 1);
	expect_bad_cdb(run(f, LUN_THIN, cdb, 0, NULL, 0), 7);
	cdb16(cdb, 0x88, 0, 0, SCSI_MAX_XFER_BYTES / BS);
	expect_good(run(f, LUN_THIN, cdb, SCSI_MAX_XFER_BYTES, NULL, 0));
	/* No protection information: RDPROTECT/WRPROTECT are refused. */
	cdb10(cdb, 0x28, 0x20, 0, 1);
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, NULL, 0), 1);
	cdb10(cdb, 0x2a, 0x40, 0, 1);
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, f->out, BS), 1);
	/* DPO, FUA, FUA_NV and the group number are accepted. */
	cdb10(cdb, 0x28, 0x1a, 0, 1);
	cdb[6] = 0x1f;
	expect_good(run(f, LUN_THIN, cdb, BS, NULL, 0));
}

/* Asserts the bytes [from, to) of block lba are v. */
static void medium_expect_bytes(struct fx *f, uint64_t lun, uint64_t lba, uint32_t from,
				uint32_t to, uint8_t v)
{
	medium_io(f, lun, BDEV_READ, lba, 1, f->in);
	for (uint32_t i = from; i < to; i++)
		if (f->in[i] != v)
			fail_msg("lba %llu byte %u: %#x, want %#x", (unsigned long long)lba, i,
				 f->in[i], v);
}

/*
 * iSCSI EDTL smaller than the CDB's length: exactly the bytes received are
 * written, a partial last block by read-modify-write; the rest is untouched.
 */
static void test_write_short_data_out(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats a, b;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	medium_fill(f, LUN_THIN, 40, 3, 'a');
	memset(f->out, 'b', 3 * BS);
	cdb10(cdb, 0x2a, 0, 40, 2);
	c = run(f, LUN_THIN, cdb, BS, f->out, BS);
	expect_good(c);
	assert_int_equal(c->xfer_len, 2 * BS); /* the transport reports the overflow */
	medium_expect(f, LUN_THIN, 40, 1, 'b');
	medium_expect(f, LUN_THIN, 41, 1, 'a');
	/* Less than a block: that block is read, merged and written whole. */
	memset(f->out, 'c', 2 * BS);
	a = fstats(f);
	expect_good(run(f, LUN_THIN, cdb, 200, f->out, 200));
	b = fstats(f);
	assert_int_equal(b.reads, a.reads + 1);
	assert_int_equal(b.writes, a.writes + 1);
	medium_expect_bytes(f, LUN_THIN, 40, 0, 200, 'c');
	medium_expect_bytes(f, LUN_THIN, 40, 200, BS, 'b');
	medium_expect(f, LUN_THIN, 41, 1, 'a');
	/* A block and a part: the whole block directly, then the part; FUA on both. */
	memset(f->out, 'd', 3 * BS);
	cdb16(cdb, 0x8a, 0x08, 40, 3);
	a = fstats(f);
	expect_good(run(f, LUN_THIN, cdb, BS + 100, f->out, BS + 100));
	b = fstats(f);
	assert_int_equal(b.reads, a.reads + 1);
	assert_int_equal(b.fua_writes, a.fua_writes + 2);
	medium_expect(f, LUN_THIN, 40, 1, 'd');
	medium_expect_bytes(f, LUN_THIN, 41, 0, 100, 'd');
	medium_expect_bytes(f, LUN_THIN, 41, 100, BS, 'a');
	medium_expect(f, LUN_THIN, 42, 1, 'a');
	/* EDTL larger: xfer_len is still what the CDB says. */
	cdb10(cdb, 0x2a, 0, 40, 1);
	c = run(f, LUN_THIN, cdb, 10000, f->out, 10000);
	expect_good(c);
	assert_int_equal(c->xfer_len, BS);
	medium_expect(f, LUN_THIN, 40, 1, 'd');
	/* A failed read of the partial block ends the command, nothing of it written. */
	bdev_fault_fail_at(f->fb, 1, 1u << BDEV_READ, -EIO, false);
	memset(f->out, 'e', BS);
	cdb10(cdb, 0x2a, 0, 42, 1);
	expect_sense(run(f, LUN_THIN, cdb, 300, f->out, 300), SK_MEDIUM_ERROR, 0x11, 0x00);
	medium_expect(f, LUN_THIN, 42, 1, 'a');
}

/* Takes every buffer of the pool but one of 4 KiB; returns how many are in held[]. */
static int pool_drain(struct fx *f, void **held, int max)
{
	int n = 0;
	void *p;

	while (n < max && (p = bufpool_get(f->bp, 1 << 20, NULL)))
		held[n++] = p;
	while (n < max && (p = bufpool_get(f->bp, 4096, NULL)))
		held[n++] = p;
	assert_true(n > 0 && n < max);
	bufpool_put(f->bp, held[--n]);
	return n;
}

static void pool_refill(struct fx *f, void **held, int n)
{
	while (n)
		bufpool_put(f->bp, held[--n]);
}

/* No scratch for the partial block: BUSY before anything is written. */
static void test_write_short_busy(void **state)
{
	struct fx *f = *state;
	void *held[128];
	uint8_t cdb[16];
	int n;

	medium_fill(f, LUN_THIN, 50, 2, 'a');
	memset(f->out, 'b', 2 * BS);
	cdb10(cdb, 0x2a, 0, 50, 2);
	n = pool_drain(f, held, 128); /* the one left is the Data-Out buffer */
	assert_int_equal(run(f, LUN_THIN, cdb, BS + 1, f->out, BS + 1)->status, SAM_STAT_BUSY);
	pool_refill(f, held, n);
	medium_expect(f, LUN_THIN, 50, 2, 'a');
	expect_good(run(f, LUN_THIN, cdb, BS + 1, f->out, BS + 1));
	medium_expect(f, LUN_THIN, 50, 1, 'b');
	medium_expect_bytes(f, LUN_THIN, 51, 0, 1, 'b');
	medium_expect_bytes(f, LUN_THIN, 51, 1, BS, 'a');
}

/* A WRITE with a partial block read-modify-writes under the LBA lock: a later
 * WRITE of that block waits, so it is not lost under the merged block. */
static void test_write_short_atomic(void **state)
{
	struct fx *f = *state;
	struct tcmd *part = calloc(1, sizeof(*part)), *wr = calloc(1, sizeof(*wr));
	uint8_t cdb[16], cdb2[16];
	uint8_t *data = malloc(BS);

	medium_fill(f, LUN_THIN, 60, 1, 'a');
	memset(data, 'p', BS);
	cdb10(cdb, 0x2a, 0, 60, 1);
	assert_int_equal(t_start(f, part, LUN_THIN, cdb, 100, data, 100), SCSI_PENDING);
	memset(f->out, 'W', BS);
	cdb10(cdb2, 0x2a, 0, 60, 1);
	assert_int_equal(t_start(f, wr, LUN_THIN, cdb2, BS, f->out, BS), SCSI_PENDING);
	t_finish(f, part);
	t_finish(f, wr);
	expect_good(&part->c);
	expect_good(&wr->c);
	medium_expect(f, LUN_THIN, 60, 1, 'W');
	free(data);
	free(part);
	free(wr);
}

static void test_fua_and_sync_cache(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats a, b;
	uint8_t cdb[16];

	assert_true(f->lu[LUN_THIN]->wce);
	a = fstats(f);
	cdb10(cdb, 0x2a, 0, 0, 1);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	b = fstats(f);
	assert_int_equal(b.writes, a.writes + 1);
	assert_int_equal(b.fua_writes, a.fua_writes);
	cdb16(cdb, 0x8a, 0x08, 0, 1); /* FUA */
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	b = fstats(f);
	assert_int_equal(b.fua_writes, a.fua_writes + 1);
	/* With the write cache off (MODE SELECT WCE=0) every write is FUA. */
	f->lu[LUN_THIN]->wce = false;
	cdb10(cdb, 0x2a, 0, 0, 1);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	f->lu[LUN_THIN]->wce = true;
	b = fstats(f);
	assert_int_equal(b.fua_writes, a.fua_writes + 2);

	cdb10(cdb, 0x35, 0, 0, 0);
	expect_good(run(f, LUN_THIN, cdb, 0, NULL, 0));
	cdb16(cdb, 0x91, 0x02, 100, 10); /* IMMED */
	expect_good(run(f, LUN_THIN, cdb, 0, NULL, 0));
	b = fstats(f);
	assert_int_equal(b.flushes, a.flushes + 2);
	cdb10(cdb, 0x35, 0, NBLK - 1, 2);
	expect_sense(run(f, LUN_THIN, cdb, 0, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	b = fstats(f);
	assert_int_equal(b.flushes, a.flushes + 2);
	/* A flush error is a lost write. */
	bdev_fault_fail_at(f->fb, 1, 1u << BDEV_FLUSH, -EIO, false);
	cdb10(cdb, 0x35, 0, 0, 0);
	expect_sense(run(f, LUN_THIN, cdb, 0, NULL, 0), SK_MEDIUM_ERROR, 0x0c, 0x00);
}

static void test_bdev_errors(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];

	bdev_fault_fail_at(f->fb, 1, 1u << BDEV_READ, -EIO, false);
	cdb10(cdb, 0x28, 0, 0, 1);
	expect_sense(run(f, LUN_THIN, cdb, BS, NULL, 0), SK_MEDIUM_ERROR, 0x11, 0x00);
	bdev_fault_fail_at(f->fb, 1, 1u << BDEV_WRITE, -EIO, false);
	cdb10(cdb, 0x2a, 0, 0, 1);
	expect_sense(run(f, LUN_THIN, cdb, BS, f->out, BS), SK_MEDIUM_ERROR, 0x0c, 0x00);
	/* The read inside VERIFY is a read error although data flows out. */
	bdev_fault_fail_at(f->fb, 1, 1u << BDEV_READ, -EIO, false);
	cdb10(cdb, 0x2f, 0x02, 0, 1);
	expect_sense(run(f, LUN_THIN, cdb, BS, f->out, BS), SK_MEDIUM_ERROR, 0x11, 0x00);
	bdev_fault_fail_at(f->fb, 1, 1u << BDEV_WRITE, -ENOSPC, false);
	cdb10(cdb, 0x2a, 0, 0, 1);
	expect_sense(run(f, LUN_THIN, cdb, BS, f->out, BS), SK_DATA_PROTECT, 0x27, 0x07);
}

/* ---- VERIFY ---- */

static void test_verify(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	pattern(f->out, 8 * BS, 7);
	medium_io(f, LUN_THIN, BDEV_WRITE, 200, 8, f->out);
	/* BYTCHK=0: readable, no data out. */
	cdb10(cdb, 0x2f, 0, 200, 8);
	c = run(f, LUN_THIN, cdb, 0, NULL, 0);
	expect_good(c);
	assert_int_equal(c->dir, SCSI_DIR_NONE);
	assert_int_equal(c->xfer_len, 0);
	/* BYTCHK=1, equal. */
	cdb16(cdb, 0x8f, 0x02, 200, 8);
	c = run(f, LUN_THIN, cdb, 8 * BS, f->out, 8 * BS);
	expect_good(c);
	assert_int_equal(c->xfer_len, 8 * BS);
	/* BYTCHK=1, one byte differs: MISCOMPARE with its offset in INFORMATION. */
	f->out[3 * BS + 77] ^= 0x58;
	cdb12(cdb, 0xaf, 0x02, 200, 8);
	c = run(f, LUN_THIN, cdb, 8 * BS, f->out, 8 * BS);
	expect_sense(c, SK_MISCOMPARE, 0x1d, 0x00);
	assert_int_equal(c->sense[0] & 0x80, 0x80); /* VALID */
	assert_int_equal(get_be32(&c->sense[3]), 3 * BS + 77);
	/* BYTCHK=11b: one block against each block. */
	medium_fill(f, LUN_THIN, 300, 5, 0x3c);
	memset(f->out, 0x3c, BS);
	cdb10(cdb, 0x2f, 0x06, 300, 5);
	c = run(f, LUN_THIN, cdb, BS, f->out, BS);
	expect_good(c);
	assert_int_equal(c->xfer_len, BS);
	medium_io(f, LUN_THIN, BDEV_READ, 302, 1, f->in);
	f->in[100] = 0;
	medium_io(f, LUN_THIN, BDEV_WRITE, 302, 1, f->in);
	c = run(f, LUN_THIN, cdb, BS, f->out, BS);
	expect_sense(c, SK_MISCOMPARE, 0x1d, 0x00);
	assert_int_equal(get_be32(&c->sense[3]), 2 * BS + 100);
	/* BYTCHK=10b is reserved. */
	cdb10(cdb, 0x2f, 0x04, 300, 1);
	c = run(f, LUN_THIN, cdb, 0, NULL, 0);
	expect_bad_cdb(c, 1);
	assert_int_equal(c->sense[15], 0xc8 | 2); /* bit pointer: bit 2 */
	/* VRPROTECT without protection information. */
	cdb10(cdb, 0x2f, 0x20, 300, 1);
	expect_bad_cdb(run(f, LUN_THIN, cdb, 0, NULL, 0), 1);
	/* Zero blocks, and past the end. */
	cdb10(cdb, 0x2f, 0x02, 0, 0);
	c = run(f, LUN_THIN, cdb, 0, NULL, 0);
	expect_good(c);
	assert_int_equal(c->xfer_len, 0);
	cdb10(cdb, 0x2f, 0, NBLK, 1);
	expect_sense(run(f, LUN_THIN, cdb, 0, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	/* Short Data-Out (EDTL < 8 blocks): only the bytes received are compared. */
	pattern(f->out, 8 * BS, 7);
	f->out[3 * BS + 10] ^= 0xff; /* not received */
	cdb10(cdb, 0x2f, 0x02, 200, 8);
	c = run(f, LUN_THIN, cdb, 3 * BS + 10, f->out, 3 * BS + 10);
	expect_good(c);
	assert_int_equal(c->xfer_len, 8 * BS);
	c = run(f, LUN_THIN, cdb, 3 * BS + 11, f->out, 3 * BS + 11);
	expect_sense(c, SK_MISCOMPARE, 0x1d, 0x00);
	assert_int_equal(get_be32(&c->sense[3]), 3 * BS + 10);
	/* BYTCHK=11b with part of the block: that part against each block. */
	memset(f->out, 0x3c, BS);
	cdb10(cdb, 0x2f, 0x06, 300, 5);
	expect_good(run(f, LUN_THIN, cdb, 100, f->out, 100)); /* block 302 differs at 100 */
	c = run(f, LUN_THIN, cdb, 101, f->out, 101);
	expect_sense(c, SK_MISCOMPARE, 0x1d, 0x00);
	assert_int_equal(get_be32(&c->sense[3]), 2 * BS + 100);
}

/* A verify larger than the scratch buffers the pool hands out is done in chunks. */
static void test_verify_chunked(void **state)
{
	struct fx *f = *state;
	uint32_t n = SCSI_MAX_XFER_BYTES / BS;
	uint8_t cdb[16];
	struct scsi_cmd *c;
	void *held[6];

	pattern(f->out, n * BS, 9);
	medium_io(f, LUN_THIN, BDEV_WRITE, 0, n, f->out);
	/* Leave one 1 MiB buffer (for the data-out) and force 64 KiB scratch. */
	for (int i = 0; i < 5; i++)
		assert_non_null(held[i] = bufpool_get(f->bp, 1 << 20, NULL));
	f->out[n * BS - 1] ^= 1;
	cdb16(cdb, 0x8f, 0x02, 0, n);
	c = run(f, LUN_THIN, cdb, n * BS, f->out, n * BS);
	expect_sense(c, SK_MISCOMPARE, 0x1d, 0x00);
	assert_int_equal(get_be32(&c->sense[3]), n * BS - 1);
	/* No buffer left at all: BUSY, the initiator retries. */
	held[5] = bufpool_get(f->bp, 1 << 20, NULL);
	{
		void *small[80];
		int ns = 0;

		while (ns < 80 && (small[ns] = bufpool_get(f->bp, 4096, NULL)))
			ns++;
		cdb10(cdb, 0x2f, 0, 0, 8);
		c = run(f, LUN_THIN, cdb, 0, NULL, 0);
		assert_int_equal(c->status, SAM_STAT_BUSY);
		assert_int_equal(c->sense_len, 0);
		while (ns)
			bufpool_put(f->bp, small[--ns]);
	}
	for (int i = 0; i < 6; i++)
		bufpool_put(f->bp, held[i]);
}

/* ---- WRITE AND VERIFY ---- */

static void test_write_and_verify(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats a, b;
	uint8_t cdb[16];

	a = fstats(f);
	memset(f->out, 0x77, 3 * BS);
	cdb10(cdb, 0x2e, 0x02, 50, 3); /* BYTCHK=1 */
	expect_good(run(f, LUN_THIN, cdb, 3 * BS, f->out, 3 * BS));
	b = fstats(f);
	medium_expect(f, LUN_THIN, 50, 3, 0x77);
	assert_int_equal(b.fua_writes, a.fua_writes + 1); /* verification is of the medium */
	assert_int_equal(b.reads, a.reads + 1);		  /* the read-back compare */
	memset(f->out, 0x78, BS);
	cdb12(cdb, 0xae, 0x10, 60, 1); /* DPO, BYTCHK=0 */
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	medium_expect(f, LUN_THIN, 60, 1, 0x78);
	cdb16(cdb, 0x8e, 0, NBLK, 1);
	expect_sense(run(f, LUN_THIN, cdb, BS, f->out, BS), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	cdb16(cdb, 0x8e, 0x04, 0, 1); /* reserved bit */
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, f->out, BS), 1);
	/* Residual semantics as WRITE: EDTL of one block writes one block. */
	memset(f->out, 0x79, 2 * BS);
	cdb10(cdb, 0x2e, 0x02, 60, 2);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	medium_expect(f, LUN_THIN, 60, 1, 0x79);
	medium_expect(f, LUN_THIN, 61, 1, 0);
	/* ... and a partial block is merged, then the bytes received are compared:
	 * one full write, the partial block's read and write, one compare read. */
	memset(f->out, 0x7a, 2 * BS);
	a = fstats(f);
	expect_good(run(f, LUN_THIN, cdb, BS + 33, f->out, BS + 33));
	b = fstats(f);
	assert_int_equal(b.fua_writes, a.fua_writes + 2);
	assert_int_equal(b.reads, a.reads + 2);
	medium_expect(f, LUN_THIN, 60, 1, 0x7a);
	medium_expect_bytes(f, LUN_THIN, 61, 0, 33, 0x7a);
	medium_expect_bytes(f, LUN_THIN, 61, 33, BS, 0);
}

/* ---- COMPARE AND WRITE ---- */

static void caw_cdb(uint8_t *cdb, uint64_t lba, uint8_t n, uint8_t b1)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x89;
	cdb[1] = b1;
	put_be64(&cdb[2], lba);
	cdb[13] = n;
}

static void test_caw(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	for (uint8_t n = 1; n <= 3; n++) {
		medium_fill(f, LUN_THIN, NBLK - n, n, 'A');
		memset(f->out, 'A', n * BS);
		memset(f->out + n * BS, 'B', n * BS);
		caw_cdb(cdb, NBLK - n, n, 0);
		c = run(f, LUN_THIN, cdb, 2 * n * BS, f->out, 2 * n * BS);
		expect_good(c);
		assert_int_equal(c->xfer_len, 2 * n * BS);
		medium_expect(f, LUN_THIN, NBLK - n, n, 'B');
	}
	/* Miscompare 27 bytes before the end: nothing written, offset reported. */
	medium_fill(f, LUN_THIN, 0, 4, 'A');
	memset(f->out, 'A', 4 * BS);
	f->out[4 * BS - 27] = 'C';
	memset(f->out + 4 * BS, 'B', 4 * BS);
	caw_cdb(cdb, 0, 4, 0x08);
	c = run(f, LUN_THIN, cdb, 8 * BS, f->out, 8 * BS);
	expect_sense(c, SK_MISCOMPARE, 0x1d, 0x00);
	assert_int_equal(c->sense[0] & 0x80, 0x80);
	assert_int_equal(get_be32(&c->sense[3]), 4 * BS - 27);
	medium_expect(f, LUN_THIN, 0, 4, 'A');
	/* FUA reaches the bdev. */
	{
		struct bdev_fault_stats a = fstats(f), b;

		f->out[4 * BS - 27] = 'A';
		expect_good(run(f, LUN_THIN, cdb, 8 * BS, f->out, 8 * BS));
		b = fstats(f);
		assert_int_equal(b.fua_writes, a.fua_writes + 1);
		medium_expect(f, LUN_THIN, 0, 4, 'B');
	}
	/* Limits: MAXIMUM COMPARE AND WRITE LENGTH, data-out size, range, 0 blocks. */
	caw_cdb(cdb, 0, SCSI_MAX_CAW_BLOCKS + 1, 0);
	expect_bad_cdb(run(f, LUN_THIN, cdb, 2 * (SCSI_MAX_CAW_BLOCKS + 1) * BS, f->out, 0), 13);
	caw_cdb(cdb, 0, 1, 0);
	expect_bad_cdb(run(f, LUN_THIN, cdb, 4 * BS, f->out, 4 * BS), 13);
	caw_cdb(cdb, 0, 3, 0);
	expect_bad_cdb(run(f, LUN_THIN, cdb, 4 * BS, f->out, 4 * BS), 13);
	caw_cdb(cdb, NBLK, 1, 0);
	expect_sense(run(f, LUN_THIN, cdb, 2 * BS, f->out, 2 * BS), SK_ILLEGAL_REQUEST, 0x21, 0);
	caw_cdb(cdb, 5, 0, 0);
	expect_good(run(f, LUN_THIN, cdb, 0, f->out, 0));
	/* 0 blocks with data (256 blocks encoded in 8 bits): the sizes disagree. */
	expect_bad_cdb(run(f, LUN_THIN, cdb, 2 * BS, f->out, 2 * BS), 13);
}

/*
 * A WRITE to the same LBAs issued while a COMPARE AND WRITE runs waits for it:
 * the CAW compares the old data, the WRITE lands last. (bdev_mem copies at
 * submit, so without the lock the CAW's write would land last.)
 */
static void test_caw_atomic(void **state)
{
	struct fx *f = *state;
	struct tcmd *caw = calloc(1, sizeof(*caw)), *wr = calloc(1, sizeof(*wr));
	uint8_t cdb[16], cdb2[16];
	uint8_t *data = malloc(2 * BS);

	medium_fill(f, LUN_THIN, 900, 1, 'A');
	memset(data, 'A', BS);
	memset(data + BS, 'B', BS);
	caw_cdb(cdb, 900, 1, 0);
	assert_int_equal(t_start(f, caw, LUN_THIN, cdb, 2 * BS, data, 2 * BS), SCSI_PENDING);
	memset(f->out, 'W', BS);
	cdb10(cdb2, 0x2a, 0, 900, 1);
	assert_int_equal(t_start(f, wr, LUN_THIN, cdb2, BS, f->out, BS), SCSI_PENDING);
	t_finish(f, caw);
	t_finish(f, wr);
	expect_good(&caw->c);
	expect_good(&wr->c);
	medium_expect(f, LUN_THIN, 900, 1, 'W');
	/* A write elsewhere does not wait. */
	memset(data, 'W', BS);
	assert_int_equal(t_start(f, caw, LUN_THIN, cdb, 2 * BS, data, 2 * BS), SCSI_PENDING);
	cdb10(cdb2, 0x2a, 0, 901, 1);
	assert_int_equal(t_start(f, wr, LUN_THIN, cdb2, BS, f->out, BS), SCSI_PENDING);
	t_finish(f, wr);
	t_finish(f, caw);
	expect_good(&caw->c);
	medium_expect(f, LUN_THIN, 900, 1, 'B');
	free(data);
	free(caw);
	free(wr);
}

/* ---- ORWRITE ---- */

static void test_orwrite(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];

	medium_fill(f, LUN_THIN, 70, 4, 0);
	memset(f->out, 0xa5, 4 * BS);
	cdb16(cdb, 0x8b, 0, 70, 4);
	expect_good(run(f, LUN_THIN, cdb, 4 * BS, f->out, 4 * BS));
	medium_expect(f, LUN_THIN, 70, 4, 0xa5);
	memset(f->out, 0x5a, 4 * BS);
	cdb16(cdb, 0x8b, 0x18, 70, 4); /* DPO FUA */
	expect_good(run(f, LUN_THIN, cdb, 4 * BS, f->out, 4 * BS));
	medium_expect(f, LUN_THIN, 70, 4, 0xff);
	cdb16(cdb, 0x8b, 0, NBLK - 1, 2);
	expect_sense(run(f, LUN_THIN, cdb, 2 * BS, f->out, 2 * BS), SK_ILLEGAL_REQUEST, 0x21, 0);
	cdb16(cdb, 0x8b, 0x20, 70, 1); /* ORPROTECT */
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, f->out, BS), 1);
	cdb16(cdb, 0x8b, 0, 70, 0);
	expect_good(run(f, LUN_THIN, cdb, 0, f->out, 0));
	/* Short Data-Out: exactly the bytes received are ORed in. */
	medium_fill(f, LUN_THIN, 80, 3, 0x0f);
	memset(f->out, 0xf0, 3 * BS);
	cdb16(cdb, 0x8b, 0, 80, 3);
	expect_good(run(f, LUN_THIN, cdb, BS + 10, f->out, BS + 10));
	medium_expect(f, LUN_THIN, 80, 1, 0xff);
	medium_expect_bytes(f, LUN_THIN, 81, 0, 10, 0xff);
	medium_expect_bytes(f, LUN_THIN, 81, 10, BS, 0x0f);
	medium_expect(f, LUN_THIN, 82, 1, 0x0f);
}

/* ---- WRITE SAME, UNMAP, GET LBA STATUS ---- */

static void gls_cdb(uint8_t *cdb, uint64_t lba, uint32_t alloc)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x9e;
	cdb[1] = 0x12;
	put_be64(&cdb[2], lba);
	put_be32(&cdb[10], alloc);
}

/* Asserts the first GET LBA STATUS descriptor from lba. */
static void expect_status(struct fx *f, uint64_t lun, uint64_t lba, uint32_t nblk, uint8_t st)
{
	uint8_t cdb[16];
	struct scsi_cmd *c;

	gls_cdb(cdb, lba, 24);
	c = run(f, lun, cdb, 24, NULL, 0);
	expect_good(c);
	assert_int_equal(c->data_in_len, 24);
	assert_int_equal(get_be64(&f->in[8]), lba);
	assert_int_equal(get_be32(&f->in[16]), nblk);
	assert_int_equal(f->in[20] & 0x0f, st);
}

static void ws_cdb(uint8_t *cdb, bool ws16, uint8_t b1, uint64_t lba, uint32_t n)
{
	if (ws16)
		cdb16(cdb, 0x93, b1, lba, n);
	else
		cdb10(cdb, 0x41, b1, (uint32_t)lba, (uint16_t)n);
}

static void test_write_same(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	/* A pattern block, written to every block (more than one pattern buffer). */
	pattern(f->out, BS, 0x21);
	ws_cdb(cdb, false, 0, 1000, 3000);
	c = run(f, LUN_FULL, cdb, BS, f->out, BS);
	expect_good(c);
	assert_int_equal(c->xfer_len, BS);
	{
		uint8_t *blk = malloc(BS);

		memcpy(blk, f->out, BS);
		for (uint32_t b = 1000; b < 4000; b += 499) {
			medium_io(f, LUN_FULL, BDEV_READ, b, 1, f->in);
			assert_memory_equal(f->in, blk, BS);
		}
		free(blk);
	}
	medium_expect(f, LUN_FULL, 999, 1, 0);
	medium_expect(f, LUN_FULL, 4000, 1, 0);
	/* Zeroes without UNMAP read back as zeroes. */
	memset(f->out, 0, BS);
	ws_cdb(cdb, true, 0, 1000, 100);
	expect_good(run(f, LUN_FULL, cdb, BS, f->out, BS));
	medium_expect(f, LUN_FULL, 1000, 100, 0);
	/* 0 blocks at the capacity writes nothing; past the end is out of range. */
	ws_cdb(cdb, false, 0, NBLK, 0);
	expect_good(run(f, LUN_FULL, cdb, BS, f->out, BS));
	ws_cdb(cdb, true, 0, NBLK + 1, 0);
	expect_sense(run(f, LUN_FULL, cdb, BS, f->out, BS), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	ws_cdb(cdb, true, 0, NBLK - 1, 2);
	expect_sense(run(f, LUN_FULL, cdb, BS, f->out, BS), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	ws_cdb(cdb, false, 0, UINT32_MAX, 1);
	expect_sense(run(f, LUN_FULL, cdb, BS, f->out, BS), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	/* Data-Out other than one block. */
	ws_cdb(cdb, false, 0, 0, 1);
	expect_bad_cdb(run(f, LUN_FULL, cdb, BS / 2, f->out, BS / 2), 7);
	expect_bad_cdb(run(f, LUN_FULL, cdb, 2 * BS, f->out, 2 * BS), 7);
	/* UNMAP on a fully provisioned LU; ANCHOR; PBDATA/LBDATA. */
	ws_cdb(cdb, false, 0x08, 0, 1);
	c = run(f, LUN_FULL, cdb, BS, f->out, BS);
	expect_bad_cdb(c, 1);
	assert_int_equal(c->sense[15], 0xc8 | 3);
	ws_cdb(cdb, false, 0x18, 0, 1);
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, f->out, BS), 1);
	ws_cdb(cdb, true, 0x10, 0, 1);
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, f->out, BS), 1);
	ws_cdb(cdb, false, 0x02, 0, 1);
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, f->out, BS), 1);
}

/*
 * WSNZ=0: NUMBER OF LOGICAL BLOCKS 0 writes from the LBA to the end of the LU
 * (SBC-3 5.41), a pattern in 1 MiB writes, zeroes as one WRITE ZEROES, UNMAP as
 * one DISCARD; never a write per block.
 */
static void test_write_same_to_end(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats a, b;
	uint8_t cdb[16];

	medium_fill(f, LUN_THIN, 4095, 1, 0x11);
	pattern(f->out, BS, 0x42);
	memcpy(f->out + BS, f->out, BS);
	ws_cdb(cdb, true, 0, 4096, 0);
	a = fstats(f);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	b = fstats(f);
	/* 4096 blocks = 2 MiB: two pattern writes. */
	assert_int_equal(b.writes, a.writes + 2);
	medium_io(f, LUN_THIN, BDEV_READ, 4096, 1, f->in);
	assert_memory_equal(f->in, f->out, BS);
	medium_io(f, LUN_THIN, BDEV_READ, NBLK - 1, 1, f->in);
	assert_memory_equal(f->in, f->out + BS, BS);
	medium_expect(f, LUN_THIN, 4095, 1, 0x11);
	/* Zeroes: one WRITE ZEROES from LBA 1 on (WRITE SAME(10)). */
	memset(f->out, 0, BS);
	ws_cdb(cdb, false, 0, 1, 0);
	a = fstats(f);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	b = fstats(f);
	assert_int_equal(b.write_zeroes, a.write_zeroes + 1);
	assert_int_equal(b.writes, a.writes);
	medium_expect(f, LUN_THIN, NBLK - 1, 1, 0);
	/* UNMAP to the end: deallocated (libiscsi WriteSame10.UnmapUntilEnd). */
	medium_fill(f, LUN_THIN, NBLK - 9, 9, 0xff);
	memset(f->out, 0, BS);
	ws_cdb(cdb, false, 0x08, NBLK - 8, 0);
	a = fstats(f);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	b = fstats(f);
	assert_int_equal(b.discards, a.discards + 1);
	medium_expect(f, LUN_THIN, NBLK - 8, 8, 0);
	expect_status(f, LUN_THIN, NBLK - 8, 8, 1);
	medium_expect(f, LUN_THIN, NBLK - 9, 1, 0xff);
}

static void test_write_same_unmap(void **state)
{
	struct fx *f = *state;
	struct bdev_fault_stats a, b;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	memset(f->out, 0xff, 64 * BS);
	cdb10(cdb, 0x2a, 0, 2000, 64);
	expect_good(run(f, LUN_THIN, cdb, 64 * BS, f->out, 64 * BS));
	expect_status(f, LUN_THIN, 2000, 64, 0);

	a = fstats(f);
	memset(f->out, 0, BS);
	ws_cdb(cdb, false, 0x08, 2010, 20);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	b = fstats(f);
	assert_int_equal(b.discards, a.discards + 1);
	medium_expect(f, LUN_THIN, 2010, 20, 0);
	medium_expect(f, LUN_THIN, 2009, 1, 0xff);
	medium_expect(f, LUN_THIN, 2030, 1, 0xff);
	expect_status(f, LUN_THIN, 2000, 10, 0);
	expect_status(f, LUN_THIN, 2010, 20, 1);
	expect_status(f, LUN_THIN, 2030, 34, 0);

	/* UNMAP with a non-zero pattern deallocates too (SBC-3 5.42: write or
	 * unmap); the blocks read back as zeroes (LBPRZ=1). */
	medium_fill(f, LUN_THIN, 2010, 2, 0x33);
	memset(f->out, 0x44, BS);
	ws_cdb(cdb, true, 0x08, 2010, 2);
	a = fstats(f);
	expect_good(run(f, LUN_THIN, cdb, BS, f->out, BS));
	b = fstats(f);
	assert_int_equal(b.discards, a.discards + 1);
	assert_int_equal(b.writes, a.writes);
	medium_expect(f, LUN_THIN, 2010, 2, 0);
	expect_status(f, LUN_THIN, 2010, 20, 1);
	medium_fill(f, LUN_THIN, 2010, 2, 0x44);
	/* NDOB: no data-out, zeroes, deallocated with UNMAP. */
	ws_cdb(cdb, true, 0x09, 2010, 2);
	c = run(f, LUN_THIN, cdb, 0, NULL, 0);
	expect_good(c);
	assert_int_equal(c->dir, SCSI_DIR_NONE);
	assert_int_equal(c->xfer_len, 0);
	medium_expect(f, LUN_THIN, 2010, 2, 0);
	expect_status(f, LUN_THIN, 2010, 20, 1);
	/* NDOB is not a WRITE SAME(10) bit. */
	ws_cdb(cdb, false, 0x01, 2010, 2);
	expect_bad_cdb(run(f, LUN_THIN, cdb, BS, f->out, BS), 1);
}

static uint32_t unmap_list(uint8_t *p, const uint64_t *lba, const uint32_t *n, unsigned cnt)
{
	memset(p, 0, 8 + 16 * cnt);
	put_be16(&p[0], (uint16_t)(6 + 16 * cnt));
	put_be16(&p[2], (uint16_t)(16 * cnt));
	for (unsigned i = 0; i < cnt; i++) {
		put_be64(&p[8 + 16 * i], lba[i]);
		put_be32(&p[8 + 16 * i + 8], n[i]);
	}
	return 8 + 16 * cnt;
}

static void unmap_cdb(uint8_t *cdb, uint16_t plen)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x42;
	put_be16(&cdb[7], plen);
}

static void test_unmap(void **state)
{
	struct fx *f = *state;
	uint64_t lba[3] = {3000, 3010, 3020};
	uint32_t n[3] = {2, 0, 5};
	uint8_t cdb[16];
	uint32_t len;
	struct scsi_cmd *c;

	medium_fill(f, LUN_THIN, 3000, 30, 0xee);
	len = unmap_list(f->out, lba, n, 3);
	unmap_cdb(cdb, (uint16_t)len);
	c = run(f, LUN_THIN, cdb, len, f->out, len);
	expect_good(c);
	assert_int_equal(c->xfer_len, len);
	medium_expect(f, LUN_THIN, 3000, 2, 0);
	medium_expect(f, LUN_THIN, 3002, 18, 0xee);
	medium_expect(f, LUN_THIN, 3020, 5, 0);
	medium_expect(f, LUN_THIN, 3025, 5, 0xee);
	expect_status(f, LUN_THIN, 3000, 2, 1);
	expect_status(f, LUN_THIN, 3020, 5, 1);

	/* One descriptor out of range: nothing is unmapped. */
	medium_fill(f, LUN_THIN, 3000, 2, 0xee);
	lba[1] = NBLK - 1;
	n[1] = 2;
	len = unmap_list(f->out, lba, n, 3);
	unmap_cdb(cdb, (uint16_t)len);
	expect_sense(run(f, LUN_THIN, cdb, len, f->out, len), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	medium_expect(f, LUN_THIN, 3000, 2, 0xee);
	/* An empty list, a zero PARAMETER LIST LENGTH, a short header. */
	len = unmap_list(f->out, lba, n, 0);
	unmap_cdb(cdb, (uint16_t)len);
	expect_good(run(f, LUN_THIN, cdb, len, f->out, len));
	unmap_cdb(cdb, 0);
	expect_good(run(f, LUN_THIN, cdb, 0, NULL, 0));
	unmap_cdb(cdb, 6);
	expect_sense(run(f, LUN_THIN, cdb, 6, f->out, 6), SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	/* An incomplete trailing descriptor is ignored. */
	lba[0] = 3000;
	n[0] = 1;
	len = unmap_list(f->out, lba, n, 1);
	put_be16(&f->out[2], 16 + 8);
	unmap_cdb(cdb, (uint16_t)(len + 8));
	expect_good(run(f, LUN_THIN, cdb, len + 8, f->out, len + 8));
	medium_expect(f, LUN_THIN, 3000, 1, 0);
	/* Too many descriptors, too many LBAs: INVALID FIELD IN PARAMETER LIST. */
	{
		uint64_t l[SCSI_MAX_UNMAP_DESCRIPTORS + 1];
		uint32_t k[SCSI_MAX_UNMAP_DESCRIPTORS + 1];

		for (unsigned i = 0; i <= SCSI_MAX_UNMAP_DESCRIPTORS; i++) {
			l[i] = i;
			k[i] = 0;
		}
		len = unmap_list(f->out, l, k, SCSI_MAX_UNMAP_DESCRIPTORS + 1);
		unmap_cdb(cdb, (uint16_t)len);
		c = run(f, LUN_THIN, cdb, len, f->out, len);
		expect_sense(c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
		assert_int_equal(c->sense[15] & 0xc0, 0x80); /* SKSV, in the parameter list */
		assert_int_equal(get_be16(&c->sense[16]), 2);
		len = unmap_list(f->out, l, k, SCSI_MAX_UNMAP_DESCRIPTORS);
		unmap_cdb(cdb, (uint16_t)len);
		expect_good(run(f, LUN_THIN, cdb, len, f->out, len));
	}
	{
		uint64_t l[2] = {0, 0};
		uint32_t k[2] = {SCSI_MAX_UNMAP_LBA_COUNT, 1};

		len = unmap_list(f->out, l, k, 2);
		unmap_cdb(cdb, (uint16_t)len);
		c = run(f, LUN_THIN, cdb, len, f->out, len);
		expect_sense(c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
		assert_int_equal(get_be16(&c->sense[16]), 8 + 16 + 8);
	}
	/* ANCHOR is not supported; a fully provisioned LU has no UNMAP. */
	len = unmap_list(f->out, lba, n, 1);
	unmap_cdb(cdb, (uint16_t)len);
	cdb[1] = 0x01;
	expect_bad_cdb(run(f, LUN_THIN, cdb, len, f->out, len), 1);
	unmap_cdb(cdb, (uint16_t)len);
	expect_sense(run(f, LUN_FULL, cdb, len, f->out, len), SK_ILLEGAL_REQUEST, 0x20, 0x00);
}

static void test_get_lba_status(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];
	struct scsi_cmd *c;

	/* A fresh thin LU: one deallocated extent to the end. */
	expect_status(f, LUN_THIN, 5000, NBLK - 5000, 1);
	medium_fill(f, LUN_THIN, 5010, 5, 1);
	gls_cdb(cdb, 5000, 1024);
	c = run(f, LUN_THIN, cdb, 1024, NULL, 0);
	expect_good(c);
	assert_int_equal(c->data_in_len, 8 + 3 * 16);
	assert_int_equal(get_be32(&f->in[0]), 4 + 3 * 16);
	assert_int_equal(get_be64(&f->in[8 + 16]), 5010);
	assert_int_equal(get_be32(&f->in[8 + 16 + 8]), 5);
	assert_int_equal(f->in[8 + 16 + 12], 0);
	assert_int_equal(get_be64(&f->in[8 + 32]), 5015);
	assert_int_equal(f->in[8 + 32 + 12], 1);
	/* A short allocation length truncates; the length field stays exact. */
	c = run(f, LUN_THIN, cdb, 20, NULL, 0);
	gls_cdb(cdb, 5000, 20);
	c = run(f, LUN_THIN, cdb, 20, NULL, 0);
	expect_good(c);
	assert_int_equal(c->data_in_len, 20);
	assert_int_equal(get_be32(&f->in[0]), 4 + 16);
	gls_cdb(cdb, 5000, 0);
	c = run(f, LUN_THIN, cdb, 0, NULL, 0);
	expect_good(c);
	assert_int_equal(c->data_in_len, 0);
	/* Fully provisioned: everything mapped, holes in the bdev or not. */
	expect_status(f, LUN_FULL, 100, NBLK - 100, 0);
	/* The last LBA is fine; past it is out of range. */
	expect_status(f, LUN_THIN, NBLK - 1, 1, 1);
	gls_cdb(cdb, NBLK, 24);
	expect_sense(run(f, LUN_THIN, cdb, 24, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	gls_cdb(cdb, UINT64_MAX, 24);
	expect_sense(run(f, LUN_THIN, cdb, 24, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
}

/* ---- READ CAPACITY, PRE-FETCH, FORMAT UNIT ---- */

static void test_read_capacity(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16] = {0x25};
	struct scsi_cmd *c;

	c = run(f, LUN_THIN, cdb, 8, NULL, 0);
	expect_good(c);
	assert_int_equal(c->xfer_len, 8);
	assert_int_equal(c->data_in_len, 8);
	assert_int_equal(get_be32(&f->in[0]), NBLK - 1);
	assert_int_equal(get_be32(&f->in[4]), BS);
	put_be32(&cdb[2], 5); /* LBA without PMI */
	expect_bad_cdb(run(f, LUN_THIN, cdb, 8, NULL, 0), 2);
	cdb[8] = 1;
	expect_good(run(f, LUN_THIN, cdb, 8, NULL, 0));

	memset(cdb, 0, 16);
	cdb[0] = 0x9e;
	cdb[1] = 0x10;
	put_be32(&cdb[10], 32);
	c = run(f, LUN_THIN, cdb, 32, NULL, 0);
	expect_good(c);
	assert_int_equal(c->data_in_len, 32);
	assert_int_equal(get_be64(&f->in[0]), NBLK - 1);
	assert_int_equal(get_be32(&f->in[8]), BS);
	assert_int_equal(f->in[12], 0);	   /* no protection */
	assert_int_equal(f->in[13], 0);	   /* LBPPBE */
	assert_int_equal(f->in[14], 0xc0); /* LBPME, LBPRZ */
	assert_int_equal(f->in[15], 0);
	c = run(f, LUN_FULL, cdb, 32, NULL, 0);
	expect_good(c);
	assert_int_equal(f->in[14], 0);
	for (uint32_t alloc = 0; alloc < 16; alloc += 5) {
		put_be32(&cdb[10], alloc);
		c = run(f, LUN_THIN, cdb, alloc, NULL, 0);
		expect_good(c);
		assert_int_equal(c->data_in_len, alloc);
	}
}

static void test_prefetch_format(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16];

	cdb10(cdb, 0x34, 0x02, 0, 10);
	cdb[6] = 3;
	expect_good(run(f, LUN_THIN, cdb, 0, NULL, 0));
	cdb16(cdb, 0x90, 0, NBLK - 10, 10);
	expect_good(run(f, LUN_THIN, cdb, 0, NULL, 0));
	cdb10(cdb, 0x34, 0, NBLK + 1, 0);
	expect_sense(run(f, LUN_THIN, cdb, 0, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	cdb16(cdb, 0x90, 0, UINT64_MAX, 1);
	expect_sense(run(f, LUN_THIN, cdb, 0, NULL, 0), SK_ILLEGAL_REQUEST, 0x21, 0x00);
	memset(cdb, 0, 16);
	cdb[0] = 0x04;
	expect_good(run(f, LUN_THIN, cdb, 0, NULL, 0));
	cdb[1] = 0x10; /* FMTDATA: no parameter list support */
	expect_bad_cdb(run(f, LUN_THIN, cdb, 0, NULL, 0), 1);
}

/* ---- on a real file with O_DIRECT ---- */

static void test_file_backed(void **state)
{
	struct fx *f = *state;
	struct bdev_file_opts o = {.size = 8 << 20, .block_size = 4096};
	struct bdev *b;
	char err[256];
	uint8_t cdb[16];
	struct scsi_cmd *c;
	uint64_t lba[1] = {10};
	uint32_t n[1] = {4};
	uint32_t len;

	snprintf(f->path, sizeof(f->path), "/tmp/test_sbc.%d", (int)getpid());
	unlink(f->path);
	assert_int_equal(bdev_file_open(&b, f->path, &o, err, sizeof(err)), 0);
	assert_true(b->direct);
	t_add_lu(f, 2, b, true);
	for (int i = 0; i < 4 && run(f, 2, (uint8_t[16]){0}, 0, NULL, 0)->status; i++)
		;
	pattern(f->out, 16 * 4096, 5);
	cdb10(cdb, 0x2a, 0x08, 8, 16);
	expect_good(run(f, 2, cdb, 16 * 4096, f->out, 16 * 4096));
	cdb10(cdb, 0x28, 0, 8, 16);
	c = run(f, 2, cdb, 16 * 4096, NULL, 0);
	expect_good(c);
	assert_memory_equal(f->in, f->out, 16 * 4096);
	cdb10(cdb, 0x2f, 0x02, 8, 16);
	expect_good(run(f, 2, cdb, 16 * 4096, f->out, 16 * 4096));
	cdb10(cdb, 0x35, 0, 0, 0);
	expect_good(run(f, 2, cdb, 0, NULL, 0));
	/* UNMAP punches a hole that GET LBA STATUS then reports. */
	len = unmap_list(f->out + (1 << 20), lba, n, 1);
	unmap_cdb(cdb, (uint16_t)len);
	expect_good(run(f, 2, cdb, len, f->out + (1 << 20), len));
	expect_status(f, 2, 8, 2, 0);
	expect_status(f, 2, 10, 4, 1);
	expect_status(f, 2, 14, 10, 0);
	cdb10(cdb, 0x28, 0, 8, 16);
	c = run(f, 2, cdb, 16 * 4096, NULL, 0);
	expect_good(c);
	assert_memory_equal(f->in, f->out, 2 * 4096);
	for (uint32_t i = 2 * 4096; i < 6 * 4096; i++)
		assert_int_equal(f->in[i], 0);
	assert_memory_equal(f->in + 6 * 4096, f->out + 6 * 4096, 10 * 4096);
	/* WRITE SAME of a pattern over more than one pattern buffer (1 MiB). */
	pattern(f->out, 4096, 0x77);
	cdb16(cdb, 0x93, 0, 1024, 600);
	expect_good(run(f, 2, cdb, 4096, f->out, 4096));
	medium_io(f, 2, BDEV_READ, 1024 + 599, 1, f->in);
	assert_memory_equal(f->in, f->out, 4096);
}

/*
 * 512-byte blocks on an O_DIRECT file: buffers must be 4096-aligned, so the
 * write half of a 1-block COMPARE AND WRITE (512 bytes into the Data-Out
 * buffer) cannot be handed to the bdev as it is (it was HARDWARE ERROR 44/00).
 */
static void test_file_512_direct(void **state)
{
	struct fx *f = *state;
	struct bdev_file_opts o = {.size = 4 << 20, .block_size = 512};
	struct bdev *b;
	char err[256];
	uint8_t cdb[16];

	snprintf(f->path, sizeof(f->path), "/tmp/test_sbc512.%d", (int)getpid());
	unlink(f->path);
	assert_int_equal(bdev_file_open(&b, f->path, &o, err, sizeof(err)), 0);
	assert_true(b->direct);
	assert_int_equal(b->buf_align, 4096);
	t_add_lu(f, 2, b, true);
	for (int i = 0; i < 4 && run(f, 2, (uint8_t[16]){0}, 0, NULL, 0)->status; i++)
		;
	medium_fill(f, 2, 0, 10, 'A');
	for (uint8_t n = 1; n <= 3; n++) {
		memset(f->out, 'A', n * BS);
		memset(f->out + n * BS, 'B', n * BS);
		caw_cdb(cdb, 1u + n * (n - 1u) / 2, n, n == 2 ? 0x08 : 0); /* LBA 1, 2, 4 */
		expect_good(run(f, 2, cdb, 2 * n * BS, f->out, 2 * n * BS));
	}
	medium_expect(f, 2, 0, 1, 'A');
	medium_expect(f, 2, 1, 6, 'B');
	medium_expect(f, 2, 7, 1, 'A');
	/* A miscompare writes nothing. */
	memset(f->out, 'A', BS);
	memset(f->out + BS, 'C', BS);
	caw_cdb(cdb, 1, 1, 0);
	expect_sense(run(f, 2, cdb, 2 * BS, f->out, 2 * BS), SK_MISCOMPARE, 0x1d, 0x00);
	medium_expect(f, 2, 1, 1, 'B');
	/* A partial block through the aligned scratch. */
	memset(f->out, 'D', 2 * BS);
	cdb10(cdb, 0x2a, 0, 8, 2);
	expect_good(run(f, 2, cdb, BS + 7, f->out, BS + 7));
	medium_expect(f, 2, 8, 1, 'D');
	medium_expect_bytes(f, 2, 9, 0, 7, 'D');
	medium_expect_bytes(f, 2, 9, 7, BS, 'A');
}

/* READ CAPACITY(10) of an LU with more than 2^32 blocks (a sparse file). */
static void test_read_capacity_big(void **state)
{
	struct fx *f = *state;
	struct bdev_file_opts o = {
		.size = (1ull << 32) * 512 + 4096, .block_size = 512, .no_direct = true};
	struct bdev *b;
	char err[256];
	uint8_t cdb[16] = {0x25};
	struct scsi_cmd *c;

	snprintf(f->path, sizeof(f->path), "/tmp/test_sbc_big.%d", (int)getpid());
	unlink(f->path);
	assert_int_equal(bdev_file_open(&b, f->path, &o, err, sizeof(err)), 0);
	t_add_lu(f, 3, b, false);
	for (int i = 0; i < 4 && run(f, 3, (uint8_t[16]){0}, 0, NULL, 0)->status; i++)
		;
	c = run(f, 3, cdb, 8, NULL, 0);
	expect_good(c);
	assert_int_equal(get_be32(&f->in[0]), 0xffffffffu);
	memset(cdb, 0, 16);
	cdb[0] = 0x9e;
	cdb[1] = 0x10;
	put_be32(&cdb[10], 32);
	c = run(f, 3, cdb, 32, NULL, 0);
	expect_good(c);
	assert_int_equal(get_be64(&f->in[0]), (1ull << 32) + 7);
	/* READ(16) at an LBA beyond 32 bits. */
	cdb16(cdb, 0x88, 0, (1ull << 32) + 7, 1);
	expect_good(run(f, 3, cdb, 512, NULL, 0));
	/* MAXIMUM WRITE SAME LENGTH (checked after the range, so a big LU). */
	memset(f->out, 0, 512);
	cdb16(cdb, 0x93, 0, 0, SCSI_MAX_WRITE_SAME_BYTES / 512 + 1);
	expect_bad_cdb(run(f, 3, cdb, 512, f->out, 512), 10);
	/* It bounds 0 blocks ("to the end") as well (libiscsi WriteSame16.ZeroBlocks). */
	{
		uint64_t end = (1ull << 32) + 8, max = SCSI_MAX_WRITE_SAME_BYTES / 512;

		cdb16(cdb, 0x93, 0, 0, 0);
		expect_bad_cdb(run(f, 3, cdb, 512, f->out, 512), 10);
		cdb16(cdb, 0x93, 0, end - max - 1, 0);
		expect_bad_cdb(run(f, 3, cdb, 512, f->out, 512), 10);
		memset(f->out, 0x5e, 512);
		cdb16(cdb, 0x93, 0, end - max, 0);
		expect_good(run(f, 3, cdb, 512, f->out, 512));
		medium_io(f, 3, BDEV_READ, end - max, 1, f->in);
		assert_memory_equal(f->in, f->out, 512);
		medium_io(f, 3, BDEV_READ, end - 1, 1, f->in);
		assert_memory_equal(f->in, f->out, 512);
		medium_io(f, 3, BDEV_READ, end - max - 1, 1, f->in);
		assert_int_equal(f->in[0], 0);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_write_read),
		T(test_rw6),
		T(test_lba_range),
		T(test_limits_and_flags),
		T(test_write_short_data_out),
		T(test_write_short_busy),
		T(test_write_short_atomic),
		T(test_fua_and_sync_cache),
		T(test_bdev_errors),
		T(test_verify),
		T(test_verify_chunked),
		T(test_write_and_verify),
		T(test_caw),
		T(test_caw_atomic),
		T(test_orwrite),
		T(test_write_same),
		T(test_write_same_to_end),
		T(test_write_same_unmap),
		T(test_unmap),
		T(test_get_lba_status),
		T(test_read_capacity),
		T(test_prefetch_format),
		T(test_file_backed),
		T(test_file_512_direct),
		T(test_read_capacity_big),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
