/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the SCSI layer unit tests (test_scsi.c, test_spc.c,
 * test_alua.c, test_pr.c): a fake bdev whose I/O the test completes by hand,
 * a target with LUs and nexuses, and a helper that runs one command through
 * scsi_cmd_prepare()/scsi_cmd_exec() the way the transport does.
 *
 * The SBC table is a stand-in (weak, so a real sbc.c pulled into the link
 * wins): a READ-like and a WRITE-like descriptor that carry the flags the
 * dispatcher acts on, so gating (write protect, reservations, ALUA, stopped
 * LU) is tested without depending on sbc.c.
 */
#ifndef TESTS_UNIT_SCSI_FIXTURE_H
#define TESTS_UNIT_SCSI_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "target/scsi/scsi_int.h"

static int fx_sbc_prepare_read(struct scsi_cmd *c)
{
	c->dir = SCSI_DIR_READ;
	c->xfer_len = get_be16(&c->cdb[7]) * c->lu->block_size;
	return SCSI_OK;
}

static int fx_sbc_prepare_write(struct scsi_cmd *c)
{
	c->dir = SCSI_DIR_WRITE;
	c->xfer_len = get_be16(&c->cdb[7]) * c->lu->block_size;
	return SCSI_OK;
}

static int fx_sbc_exec(struct scsi_cmd *c)
{
	return SCSI_DONE;
}

__attribute__((weak)) const struct scsi_op_desc sbc_ops[] = {
	{.opcode = 0x28,
	 .cdb_len = 10,
	 .flags = SOP_PR_READ | SOP_MEDIUM,
	 .usage = {0x28, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0},
	 .prepare = fx_sbc_prepare_read,
	 .exec = fx_sbc_exec,
	 .name = "READ(10)"},
	{.opcode = 0x2a,
	 .cdb_len = 10,
	 .flags = SOP_WRITES | SOP_MEDIUM,
	 .usage = {0x2a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0},
	 .prepare = fx_sbc_prepare_write,
	 .exec = fx_sbc_exec,
	 .name = "WRITE(10)"},
};
__attribute__((weak)) const unsigned sbc_ops_count = 2;

/* ---- fake bdev: submit parks the I/O, the test completes it ---- */

struct fx_bdev {
	struct bdev b;
	struct bdev_io *pending;
	unsigned submits;
	int submit_err;
};

static int fx_bdev_submit(struct bdev *b, struct reactor *r, struct bdev_io *io)
{
	struct fx_bdev *f = (struct fx_bdev *)b;

	if (f->submit_err)
		return f->submit_err;
	f->submits++;
	f->pending = io;
	return 0;
}

static void fx_bdev_close(struct bdev *b)
{
	free(b);
}

static const struct bdev_ops fx_bdev_ops = {
	.name = "fake",
	.submit = fx_bdev_submit,
	.close = fx_bdev_close,
};

static inline struct fx_bdev *fx_bdev_new(uint64_t size, uint32_t block_size)
{
	struct fx_bdev *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->b.ops = &fx_bdev_ops;
	f->b.size = size;
	f->b.block_size = block_size;
	f->b.buf_align = 512;
	snprintf(f->b.name, sizeof(f->b.name), "fake");
	return f;
}

/* Completes the parked I/O the way a bdev does: later, exactly once. */
static inline void fx_bdev_complete(struct fx_bdev *f, int res)
{
	struct bdev_io *io = f->pending;

	assert_non_null(io);
	f->pending = NULL;
	io->cb(io, res);
}

/* ---- target fixture ---- */

#define FX_INI1	    "iqn.1994-05.com.example:host1"
#define FX_INI2	    "iqn.1994-05.com.example:host2"
#define FX_INI3	    "iqn.1994-05.com.example:host3"
#define FX_PORT1    FX_INI1 ",i,0x23d000000001"
#define FX_PORT2    FX_INI2 ",i,0x23d000000002"
#define FX_PORT3    FX_INI3 ",i,0x23d000000003"
#define FX_TGT_NAME "iqn.2024-01.org.clusterd:t1"
#define FX_LU_ID    0x0123456789abcdefull

struct fx {
	struct scsi_tgt *t;
	struct scsi_lu *lu;
	struct fx_bdev *bdev;
	struct scsi_nexus *n[3];
	unsigned aborts;
	struct scsi_lu *abort_lu;
	struct scsi_nexus *abort_keep;
	struct scsi_exec_ctx ctx;
	unsigned done_calls;
};

static void fx_abort_tasks(struct scsi_tgt *t, struct scsi_lu *lu, struct scsi_nexus *keep,
			   void *arg)
{
	struct fx *fx = arg;

	fx->aborts++;
	fx->abort_lu = lu;
	fx->abort_keep = keep;
}

static const struct scsi_tgt_ops fx_tgt_ops = {.abort_tasks = fx_abort_tasks};

static inline struct scsi_lu *fx_add_lu(struct fx *fx, uint64_t lun, uint64_t size, uint32_t bs,
					bool thin, bool ro)
{
	struct fx_bdev *b = fx_bdev_new(size, bs);
	struct scsi_lu_config cfg = {
		.lun = lun,
		.bdev = &b->b,
		.lu_id = FX_LU_ID + lun,
		.vendor = "CLUSTERD",
		.product = "TEST-DISK",
		.revision = "0.1",
		.read_only = ro,
		.thin = thin,
	};
	struct scsi_lu *lu = NULL;

	b->b.can_discard = true;
	b->b.discard_zeroes = true;
	b->b.volatile_cache = true;
	assert_int_equal(scsi_tgt_add_lu(fx->t, &cfg, &lu), 0);
	if (lun == 0)
		fx->bdev = b;
	return lu;
}

/* A target with LU 0 (1 MiB of 512-byte blocks, thin) and three nexuses:
 * n[0] and n[1] on port 1, n[2] on port 2. No UA is left pending. */
static inline struct fx *fx_new(void)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(scsi_tgt_create(&fx->t, FX_TGT_NAME, &fx_tgt_ops, fx), 0);
	fx->lu = fx_add_lu(fx, 0, 1 << 20, 512, true, false);
	assert_int_equal(scsi_nexus_create(&fx->n[0], fx->t, FX_INI1, FX_PORT1, 1), 0);
	assert_int_equal(scsi_nexus_create(&fx->n[1], fx->t, FX_INI2, FX_PORT2, 1), 0);
	assert_int_equal(scsi_nexus_create(&fx->n[2], fx->t, FX_INI3, FX_PORT3, 2), 0);
	for (int i = 0; i < 3; i++)
		memset(fx->n[i]->ua, 0, sizeof(fx->n[i]->ua));
	return fx;
}

static inline void fx_free(struct fx *fx)
{
	scsi_tgt_destroy(fx->t);
	free(fx);
}

static void fx_done(struct scsi_cmd *c)
{
	struct fx *fx = (struct fx *)c->ctx->reactor;

	fx->done_calls++;
}

#define FX_BUF 8192

/*
 * Runs cdb from nexus n on lun like the transport: prepare, buffer of xfer_len
 * bytes (data_out copied in for data-out commands), exec. Returns the final rc
 * (SCSI_DONE or SCSI_PENDING); c holds status/sense/data (c->buf = buf).
 */
static inline int fx_run(struct fx *fx, struct scsi_nexus *n, uint64_t lun, const uint8_t *cdb,
			 size_t cdb_len, const void *data_out, uint32_t out_len, uint8_t *buf,
			 struct scsi_cmd *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->nexus = n;
	fx->ctx.reactor = (struct reactor *)fx; /* opaque to the SCSI layer */
	c->ctx = &fx->ctx;
	c->lun = lun;
	memcpy(c->cdb, cdb, cdb_len);
	c->buf_index = -1;
	c->done = fx_done;
	rc = scsi_cmd_prepare(c);
	if (rc != SCSI_OK)
		return rc;
	assert_true(c->xfer_len <= FX_BUF);
	memset(buf, 0xa5, FX_BUF);
	c->buf = c->xfer_len ? buf : NULL;
	c->buf_cap = c->xfer_len;
	if (c->dir == SCSI_DIR_WRITE && data_out) {
		memcpy(buf, data_out, out_len < c->xfer_len ? out_len : c->xfer_len);
		c->data_out_len = c->xfer_len;
	}
	return scsi_cmd_exec(c);
}

/* Same, for a command without data-out, on LU 0. */
static inline int fx_cmd(struct fx *fx, int nexus, const uint8_t *cdb, size_t len, uint8_t *buf,
			 struct scsi_cmd *c)
{
	return fx_run(fx, fx->n[nexus], 0, cdb, len, NULL, 0, buf, c);
}

static inline void fx_assert_good(const struct scsi_cmd *c)
{
	assert_int_equal(c->status, SAM_STAT_GOOD);
	assert_int_equal(c->sense_len, 0);
}

static inline void fx_assert_sense(const struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	assert_int_equal(c->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(c->sense_len, 18);
	assert_int_equal(c->sense[0], 0x70);
	assert_int_equal(c->sense[2], key);
	assert_int_equal(c->sense[12], asc);
	assert_int_equal(c->sense[13], ascq);
}

/* Sense with a CDB field pointer at byte (and bit, or -1). */
static inline void fx_assert_cdb_field(const struct scsi_cmd *c, uint8_t asc, uint16_t byte,
				       int bit)
{
	fx_assert_sense(c, SK_ILLEGAL_REQUEST, asc, 0);
	assert_int_equal(c->sense[15], 0xc0 | (bit >= 0 ? 0x08 | bit : 0));
	assert_int_equal(get_be16(&c->sense[16]), byte);
}

static inline void fx_assert_conflict(const struct scsi_cmd *c)
{
	assert_int_equal(c->status, SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(c->sense_len, 0);
}

/* Common CDBs (not every test file uses every one). */
#define FX_CDB static const uint8_t __attribute__((unused))
FX_CDB fx_tur[6] = {0x00};
FX_CDB fx_read10[10] = {0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0};
FX_CDB fx_write10[10] = {0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0};
FX_CDB fx_inquiry[6] = {0x12, 0, 0, 0, 0xff, 0};
FX_CDB fx_msense6[6] = {0x1a, 0, 0x3f, 0, 0xff, 0};
FX_CDB fx_rsense[6] = {0x03, 0, 0, 0, 18, 0};

#endif
