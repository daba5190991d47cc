// SPDX-License-Identifier: MIT
/*
 * SBC-3 block commands of a direct-access logical unit.
 *
 * Each command has a descriptor in sbc_ops[]. scsi_cmd_prepare() has done
 * the checks common to every command; desc->prepare decodes the CDB (LBA,
 * length, flags), checks the LBA range and the limits of scsi_int.h, and sets
 * c->dir and c->xfer_len exactly as the CDB says (the transport computes
 * residuals from it). desc->exec then runs the command on the LU's bdev.
 *
 * Multi-step commands are small state machines driven by the one bdev_io in
 * c->priv (c->priv.step says what the completion means):
 *
 *   SBC_IO         one I/O, then GOOD (READ, SYNCHRONIZE CACHE)
 *   SBC_WR_FULL -> SBC_TAIL_READ -> SBC_TAIL_WRITE               (WRITE, WRITE
 *                  AND VERIFY): the whole blocks of Data-Out, then, when the
 *                  initiator sent a partial last block, that block read,
 *                  merged and written back; WRITE AND VERIFY goes on to
 *   SBC_CMP        read a chunk of the medium into scratch, compare it with
 *                  the Data-Out buffer, next chunk ... then GOOD, or go on to
 *                  SBC_CAW_WRITE (COMPARE AND WRITE)           (VERIFY, WRITE
 *                  AND VERIFY)
 *   SBC_OR_READ -> SBC_OR_WRITE -> SBC_OR_READ ...            (ORWRITE)
 *   SBC_LOOP       the same op over the next chunk            (WRITE SAME)
 *   SBC_UNMAP      the next chunk of the next descriptor      (UNMAP)
 *
 * Atomicity: COMPARE AND WRITE, ORWRITE and a WRITE (or WRITE AND VERIFY)
 * with a partial last block (short Data-Out) read, then write. While one
 * runs, it holds an LBA-range lock of this thread; a later command that would
 * write an overlapping range on the same LU (WRITE*, WRITE AND VERIFY, WRITE
 * SAME, COMPARE AND WRITE, ORWRITE) parks on the lock and is executed when
 * it is released. So they are atomic with respect to every command issued
 * after them on this reactor. Writes already in flight when they start are
 * concurrent with them, as SAM-5 allows for overlapping SIMPLE tasks, and
 * UNMAP does not wait (its ranges are scattered).
 *
 * Extra buffers (compare reads, ORWRITE, partial blocks, WRITE SAME patterns)
 * come from the reactor's bufpool; when it is empty the command ends BUSY.
 */
#include <errno.h>
#include <string.h>

#include "lib/bufpool.h"
#include "lib/compiler.h"
#include "target/scsi/scsi_int.h"

#define SBC_LOCK_SLOTS	   32
#define SBC_WS_PATTERN_MAX (1u << 20) /* WRITE SAME writes at most this per I/O */
#define SBC_ZERO_CHUNK	   (1u << 30) /* DISCARD / WRITE_ZEROES bytes per I/O */
#define SBC_LBA_STATUS_MAX 64	      /* descriptors per GET LBA STATUS */

enum sbc_step {
	SBC_IO = 0,
	SBC_CMP,
	SBC_WR_FULL,
	SBC_TAIL_READ,
	SBC_TAIL_WRITE,
	SBC_CAW_WRITE,
	SBC_OR_READ,
	SBC_OR_WRITE,
	SBC_LOOP,
	SBC_UNMAP,
};

/* How SBC_CMP compares what it reads. */
enum sbc_cmp {
	SBC_CMP_NONE,  /* VERIFY BYTCHK=0: the medium must only be readable */
	SBC_CMP_BUF,   /* byte by byte with the Data-Out buffer */
	SBC_CMP_BLOCK, /* VERIFY BYTCHK=11b: each block with the one Data-Out block */
};

/* ---- LBA-range locks (see the file comment) ---- */

struct sbc_lock {
	const struct scsi_lu *lu; /* NULL: free */
	uint64_t lba;
	uint64_t nblocks;
	struct list_node waiters; /* scsi_cmd.priv.wait_node, in arrival order */
};

static __thread struct sbc_lock sbc_locks[SBC_LOCK_SLOTS];
static __thread unsigned sbc_locks_held;

static struct sbc_lock *sbc_lock_find(const struct scsi_cmd *c, uint64_t lba, uint64_t n)
{
	if (!sbc_locks_held)
		return NULL;
	for (unsigned i = 0; i < SBC_LOCK_SLOTS; i++) {
		struct sbc_lock *l = &sbc_locks[i];

		if (l->lu == c->lu && lba < l->lba + l->nblocks && l->lba < lba + n)
			return l;
	}
	return NULL;
}

/*
 * Parks c behind a lock overlapping [lba, lba + n): true when parked (the
 * command will be executed again when the lock is released).
 */
static bool sbc_lock_wait(struct scsi_cmd *c, uint64_t lba, uint64_t n)
{
	struct sbc_lock *l = sbc_lock_find(c, lba, n);

	if (!l)
		return false;
	list_add_tail(&l->waiters, &c->priv.wait_node);
	return true;
}

/* Takes a free slot for [lba, lba + n); false when all are taken. */
static bool sbc_lock_take(struct scsi_cmd *c, uint64_t lba, uint64_t n)
{
	for (unsigned i = 0; i < SBC_LOCK_SLOTS; i++) {
		struct sbc_lock *l = &sbc_locks[i];

		if (l->lu)
			continue;
		l->lu = c->lu;
		l->lba = lba;
		l->nblocks = n;
		list_init(&l->waiters);
		sbc_locks_held++;
		c->priv.lock_slot = (uint8_t)(i + 1);
		return true;
	}
	return false;
}

/* Releases c's lock, moving its waiters to `out` (to run after c is done). */
static void sbc_lock_release(struct scsi_cmd *c, struct list_node *out)
{
	struct sbc_lock *l;

	list_init(out);
	if (!c->priv.lock_slot)
		return;
	l = &sbc_locks[c->priv.lock_slot - 1];
	c->priv.lock_slot = 0;
	if (!list_empty(&l->waiters)) {
		*out = l->waiters;
		out->next->prev = out;
		out->prev->next = out;
	}
	l->lu = NULL;
	sbc_locks_held--;
}

static const struct scsi_op_desc *sbc_desc_of(const struct scsi_cmd *c);

/* Executes the commands that waited for a released lock, in their order. */
static void sbc_resume(struct list_node *waiters)
{
	struct list_node *n;

	while ((n = list_pop(waiters))) {
		struct scsi_cmd *w = container_of(n, struct scsi_cmd, priv.wait_node);

		/* Its exec said PENDING long ago: a result now must go through done(). */
		if (sbc_desc_of(w)->exec(w) == SCSI_DONE)
			w->done(w);
	}
}

/* ---- completion helpers ---- */

static void sbc_good(struct scsi_cmd *c)
{
	c->status = SAM_STAT_GOOD;
	c->sense_len = 0;
}

static void sbc_busy(struct scsi_cmd *c)
{
	c->status = SAM_STAT_BUSY;
	c->sense_len = 0;
}

/* Gives back what the command holds; waiters of its lock go to `waiters`. */
static void sbc_release(struct scsi_cmd *c, struct list_node *waiters)
{
	if (c->priv.scratch) {
		bufpool_put(c->ctx->bufpool, c->priv.scratch);
		c->priv.scratch = NULL;
	}
	sbc_lock_release(c, waiters);
}

/* Ends a PENDING command: exactly one done(), then the lock's waiters run. */
static void sbc_finish(struct scsi_cmd *c)
{
	struct list_node waiters;

	sbc_release(c, &waiters);
	c->done(c);
	sbc_resume(&waiters);
}

/* Ends a command inside exec (SCSI_DONE): no done() for c itself. */
static int sbc_done_now(struct scsi_cmd *c)
{
	struct list_node waiters;

	sbc_release(c, &waiters);
	sbc_resume(&waiters);
	return SCSI_DONE;
}

static void sbc_fail_errno(struct scsi_cmd *c, int err)
{
	if (err == -EBUSY || err == -ENOMEM)
		sbc_busy(c); /* a full ring or pool: the initiator retries */
	else
		scsi_cmd_set_errno(c, err);
}

/* Adds the INFORMATION field (SPC-4 4.5.2.2 / 4.5.3) to the sense just set. */
static void sbc_sense_info(struct scsi_cmd *c, uint64_t info)
{
	uint8_t *s = c->sense;

	if ((s[0] & 0x7f) == 0x70 || (s[0] & 0x7f) == 0x71) {
		s[0] |= 0x80; /* VALID */
		put_be32(&s[3], (uint32_t)info);
		return;
	}
	if (c->sense_len + 12 > SCSI_SENSE_MAX)
		return;
	/* Descriptor format: append an Information descriptor. */
	memset(&s[c->sense_len], 0, 12);
	s[c->sense_len + 1] = 0x0a;
	s[c->sense_len + 2] = 0x80;
	put_be64(&s[c->sense_len + 4], info);
	c->sense_len += 12;
	s[7] = (uint8_t)(c->sense_len - 8);
}

/* SBC-3 5.2, 5.30: MISCOMPARE DURING VERIFY OPERATION at byte `off`. */
static void sbc_miscompare(struct scsi_cmd *c, uint64_t off)
{
	scsi_cmd_set_sense(c, SK_MISCOMPARE, SCSI_ASC_MISCOMPARE_VERIFY);
	sbc_sense_info(c, off);
}

static void sbc_invalid_cdb(struct scsi_cmd *c, uint16_t byte, int8_t bit)
{
	scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_CDB, true, byte,
				 bit);
}

/* ---- I/O helpers ---- */

static struct bdev *sbc_bdev(const struct scsi_cmd *c)
{
	return c->lu->bdev;
}

static uint64_t sbc_bytes(const struct scsi_cmd *c, uint64_t blocks)
{
	return blocks << c->lu->block_shift;
}

/* True when writes must be durable at completion (FUA bit, or WCE off). */
static bool sbc_want_fua(const struct scsi_cmd *c)
{
	return c->priv.fua || !c->lu->wce;
}

static void sbc_io_cb(struct bdev_io *io, int res);

/* Queues one bdev I/O for c; 0 or -errno. */
static int sbc_submit(struct scsi_cmd *c, uint8_t op, uint64_t off, uint32_t len, void *buf,
		      int buf_index, bool fua)
{
	struct bdev_io *io = &c->priv.io;

	memset(io, 0, sizeof(*io));
	io->op = op;
	io->flags = fua ? BDEV_F_FUA : 0;
	io->offset = off;
	io->len = len;
	io->buf = buf;
	io->buf_index = (int16_t)buf_index;
	io->cb = sbc_io_cb;
	io->priv = c;
	return bdev_submit(sbc_bdev(c), c->ctx->reactor, io);
}

/* In exec: the submit result becomes PENDING or an immediate error. */
static int sbc_exec_submitted(struct scsi_cmd *c, int err)
{
	if (!err)
		return SCSI_PENDING;
	sbc_fail_errno(c, err);
	return sbc_done_now(c);
}

/* In a completion: a failed submit ends the command. */
static void sbc_cb_submitted(struct scsi_cmd *c, int err)
{
	if (err) {
		sbc_fail_errno(c, err);
		sbc_finish(c);
	}
}

/* Gets a scratch buffer of up to `want` bytes (whole blocks); false: BUSY set. */
static bool sbc_scratch_get(struct scsi_cmd *c, uint64_t want)
{
	struct bufpool *bp = c->ctx->bufpool;
	size_t max = bufpool_max_size(bp);
	size_t cap = 0;
	void *p;

	if (want > max)
		want = max;
	/* A smaller buffer only means more chunks: halve until one is free. */
	p = bufpool_get(bp, (size_t)want, &cap);
	for (uint64_t sz = want / 2; !p && sz >= c->lu->block_size; sz /= 2)
		p = bufpool_get(bp, (size_t)sz, &cap);
	cap &= ~((size_t)c->lu->block_size - 1);
	if (!p || !cap) {
		if (p)
			bufpool_put(bp, p);
		sbc_busy(c);
		return false;
	}
	c->priv.scratch = p;
	c->priv.scratch_cap = MIN(cap, (size_t)want);
	c->priv.scratch_index = (int16_t)bufpool_index(bp, p);
	return true;
}

/* ---- CDB decoding and common checks ---- */

struct sbc_rw {
	uint64_t lba;
	uint32_t n;
	uint16_t len_byte; /* CDB offset of the length field, for sense */
};

/* Decodes LBA and length of the READ/WRITE/VERIFY/... CDB layouts. */
static struct sbc_rw sbc_decode(const uint8_t *cdb)
{
	struct sbc_rw rw = {0};

	switch (cdb[0] >> 5) {
	case 0: /* 6-byte: 21-bit LBA, 8-bit length */
		rw.lba = get_be24(&cdb[1]) & 0x1fffff;
		rw.n = cdb[4];
		rw.len_byte = 4;
		break;
	case 1: /* 10-byte */
	case 2:
		rw.lba = get_be32(&cdb[2]);
		rw.n = get_be16(&cdb[7]);
		rw.len_byte = 7;
		break;
	case 5: /* 12-byte */
		rw.lba = get_be32(&cdb[2]);
		rw.n = get_be32(&cdb[6]);
		rw.len_byte = 6;
		break;
	default: /* 4: 16-byte */
		rw.lba = get_be64(&cdb[2]);
		rw.n = get_be32(&cdb[10]);
		rw.len_byte = 10;
		break;
	}
	return rw;
}

/* Resets the private state; every prepare starts with it. */
static void sbc_priv_init(struct scsi_cmd *c)
{
	struct scsi_cmd_priv *p = &c->priv;

	p->scratch = NULL;
	p->scratch_cap = 0;
	p->scratch_index = -1;
	p->lock_slot = 0;
	p->pos = 0;
	p->step = SBC_IO;
	p->fua = 0;
	list_init(&p->wait_node);
}

static void sbc_set_xfer(struct scsi_cmd *c, uint8_t dir, uint32_t len)
{
	c->dir = dir;
	c->xfer_len = len;
}

/*
 * The range must lie within the capacity, without wrapping (SBC-3 4.5). (A
 * stopped LU was refused by the dispatcher: SOP_MEDIUM.)
 */
static int sbc_check_range(struct scsi_cmd *c, uint64_t lba, uint64_t n)
{
	const struct scsi_lu *lu = c->lu;

	if (lba > lu->nblocks || n > lu->nblocks - lba) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
		return SCSI_DONE;
	}
	c->priv.lba = lba;
	c->priv.nblocks = (uint32_t)n;
	return SCSI_OK;
}

/* Range and MAXIMUM TRANSFER LENGTH (SBC-3 6.5.3) of a data-moving command. */
static int sbc_check_xfer(struct scsi_cmd *c, const struct sbc_rw *rw)
{
	if (sbc_check_range(c, rw->lba, rw->n) != SCSI_OK)
		return SCSI_DONE;
	if (sbc_bytes(c, rw->n) > SCSI_MAX_XFER_BYTES) {
		sbc_invalid_cdb(c, rw->len_byte, -1);
		return SCSI_DONE;
	}
	return SCSI_OK;
}

/* ---- READ / WRITE (SBC-3 5.8-5.11, 5.32-5.35) ---- */

static int sbc_rw_prepare(struct scsi_cmd *c, uint8_t dir)
{
	struct sbc_rw rw = sbc_decode(c->cdb);

	sbc_priv_init(c);
	if (c->cdb[0] == 0x08 || c->cdb[0] == 0x0a) {
		if (!rw.n)
			rw.n = 256; /* SBC-3 5.8: READ(6)/WRITE(6) length 0 means 256 */
	} else {
		c->priv.fua = (c->cdb[1] >> 3) & 1; /* DPO and FUA_NV: no cache to steer */
	}
	if (sbc_check_xfer(c, &rw) != SCSI_OK)
		return SCSI_DONE;
	sbc_set_xfer(c, dir, (uint32_t)sbc_bytes(c, rw.n));
	return SCSI_OK;
}

static int sbc_read_prepare(struct scsi_cmd *c)
{
	return sbc_rw_prepare(c, SCSI_DIR_READ);
}

static int sbc_write_prepare(struct scsi_cmd *c)
{
	return sbc_rw_prepare(c, SCSI_DIR_WRITE);
}

static int sbc_read_exec(struct scsi_cmd *c)
{
	c->data_in_len = 0;
	if (!c->xfer_len) {
		sbc_good(c);
		return SCSI_DONE;
	}
	c->priv.step = SBC_IO;
	return sbc_exec_submitted(c, sbc_submit(c, BDEV_READ, sbc_bytes(c, c->priv.lba),
						c->xfer_len, c->buf, c->buf_index, false));
}

/*
 * Bytes of Data-Out the command acts on: what the initiator sent, less than
 * the CDB asks when iSCSI EDTL was smaller (RFC 7143 11.4.5.1: the transport
 * requests only EDTL bytes and reports the residual). Exactly those bytes are
 * written; the rest of the range keeps its contents.
 */
static uint32_t sbc_data_out_bytes(const struct scsi_cmd *c)
{
	return MIN(c->xfer_len, c->data_out_len);
}

/* Bytes of a short Data-Out that do not fill its last block. */
static uint32_t sbc_tail_bytes(const struct scsi_cmd *c)
{
	return sbc_data_out_bytes(c) & (c->lu->block_size - 1);
}

/* Takes the LBA-range lock or parks; SCSI_OK when taken. */
static int sbc_lock_or_park(struct scsi_cmd *c)
{
	if (sbc_lock_wait(c, c->priv.lba, c->priv.nblocks))
		return SCSI_PENDING;
	if (!sbc_lock_take(c, c->priv.lba, c->priv.nblocks)) {
		sbc_busy(c);
		return SCSI_DONE;
	}
	return SCSI_OK;
}

static bool sbc_is_wav(const struct scsi_cmd *c)
{
	return c->cdb[0] == 0x2e || c->cdb[0] == 0xae || c->cdb[0] == 0x8e;
}

static void sbc_wav_written(struct scsi_cmd *c);

/* Every Data-Out byte is on the medium: WRITE is done, WRITE AND VERIFY compares. */
static void sbc_wr_done(struct scsi_cmd *c)
{
	if (sbc_is_wav(c)) {
		sbc_wav_written(c);
		return;
	}
	sbc_good(c);
	sbc_finish(c);
}

/* Reads the block the partial tail falls in into scratch (one block). */
static int sbc_tail_read(struct scsi_cmd *c)
{
	uint32_t full = sbc_data_out_bytes(c) - sbc_tail_bytes(c);

	c->priv.step = SBC_TAIL_READ;
	return sbc_submit(c, BDEV_READ, sbc_bytes(c, c->priv.lba) + full, c->lu->block_size,
			  c->priv.scratch, c->priv.scratch_index, false);
}

/* Lays the received bytes over the start of that block and writes it back. */
static int sbc_tail_write(struct scsi_cmd *c)
{
	uint32_t tail = sbc_tail_bytes(c);
	uint32_t full = sbc_data_out_bytes(c) - tail;

	memcpy(c->priv.scratch, (const uint8_t *)c->buf + full, tail);
	c->priv.step = SBC_TAIL_WRITE;
	return sbc_submit(c, BDEV_WRITE, sbc_bytes(c, c->priv.lba) + full, c->lu->block_size,
			  c->priv.scratch, c->priv.scratch_index, sbc_want_fua(c));
}

static void sbc_tail_written(struct scsi_cmd *c)
{
	/* WRITE AND VERIFY's compare pass takes a scratch of its own size. */
	bufpool_put(c->ctx->bufpool, c->priv.scratch);
	c->priv.scratch = NULL;
	sbc_wr_done(c);
}

static void sbc_wr_full_done(struct scsi_cmd *c)
{
	if (sbc_tail_bytes(c)) {
		sbc_cb_submitted(c, sbc_tail_read(c));
		return;
	}
	sbc_wr_done(c);
}

/*
 * WRITE (SBC-3 5.32-5.35) and WRITE AND VERIFY: the whole blocks straight from
 * the Data-Out buffer, then a partial last block by read-modify-write. That
 * one holds the LBA lock (a later write of the block must not be lost between
 * the read and the write) and takes its scratch before anything is written,
 * so BUSY leaves the medium untouched.
 */
static int sbc_write_exec(struct scsi_cmd *c)
{
	uint32_t len = sbc_data_out_bytes(c);
	uint32_t full = len - sbc_tail_bytes(c);
	int rc;

	if (!len) {
		sbc_good(c);
		return SCSI_DONE;
	}
	if (full == len) {
		if (sbc_lock_wait(c, c->priv.lba, c->priv.nblocks))
			return SCSI_PENDING;
	} else {
		rc = sbc_lock_or_park(c);
		if (rc != SCSI_OK)
			return rc;
		if (!sbc_scratch_get(c, c->lu->block_size))
			return sbc_done_now(c);
	}
	if (!full)
		return sbc_exec_submitted(c, sbc_tail_read(c));
	c->priv.step = SBC_WR_FULL;
	return sbc_exec_submitted(c, sbc_submit(c, BDEV_WRITE, sbc_bytes(c, c->priv.lba), full,
						c->buf, c->buf_index, sbc_want_fua(c)));
}

/* ---- compare engine: VERIFY, WRITE AND VERIFY, COMPARE AND WRITE ---- */

static uint8_t sbc_verify_bytchk(const struct scsi_cmd *c)
{
	return (c->cdb[1] >> 1) & 3;
}

static uint8_t sbc_cmp_mode(const struct scsi_cmd *c)
{
	switch (c->cdb[0]) {
	case 0x2f: /* VERIFY(10/12/16) */
	case 0xaf:
	case 0x8f:
		if (sbc_verify_bytchk(c) == 3)
			return SBC_CMP_BLOCK;
		return sbc_verify_bytchk(c) ? SBC_CMP_BUF : SBC_CMP_NONE;
	default: /* WRITE AND VERIFY with BYTCHK, COMPARE AND WRITE */
		return SBC_CMP_BUF;
	}
}

/*
 * Bytes the compare pass covers: with a short Data-Out only the bytes
 * received (not a multiple of the block size then: reads are rounded up).
 */
static uint64_t sbc_cmp_total(const struct scsi_cmd *c)
{
	uint64_t total = sbc_bytes(c, c->priv.nblocks);

	if (sbc_cmp_mode(c) == SBC_CMP_BUF && c->cdb[0] != 0x89)
		total = MIN(total, sbc_data_out_bytes(c));
	return total;
}

/* Bytes of a read of `left` more bytes: whole blocks, at most a scratch buffer. */
static uint32_t sbc_chunk(const struct scsi_cmd *c, uint64_t left)
{
	return (uint32_t)MIN(ALIGN_UP(left, (uint64_t)c->lu->block_size),
			     (uint64_t)c->priv.scratch_cap);
}

static int sbc_cmp_next(struct scsi_cmd *c)
{
	uint32_t len = sbc_chunk(c, sbc_cmp_total(c) - c->priv.pos);

	c->priv.step = SBC_CMP;
	return sbc_submit(c, BDEV_READ, sbc_bytes(c, c->priv.lba) + c->priv.pos, len,
			  c->priv.scratch, c->priv.scratch_index, false);
}

/* Offset of the first byte that differs, or -1. */
static int64_t sbc_cmp_chunk(const struct scsi_cmd *c, uint32_t len)
{
	const uint8_t *got = c->priv.scratch;
	const uint8_t *want = (const uint8_t *)c->buf + c->priv.pos;
	uint32_t bs = c->lu->block_size;
	/* BYTCHK=11b with a short Data-Out: the part of the block received. */
	uint32_t n = MIN(bs, sbc_data_out_bytes(c));

	switch (sbc_cmp_mode(c)) {
	case SBC_CMP_NONE:
		return -1;
	case SBC_CMP_BLOCK:
		for (uint32_t b = 0; b < len; b += bs)
			if (memcmp(got + b, c->buf, n))
				for (uint32_t i = 0; i < n; i++)
					if (got[b + i] != ((const uint8_t *)c->buf)[i])
						return (int64_t)c->priv.pos + b + i;
		return -1;
	default:
		if (!memcmp(got, want, len))
			return -1;
		for (uint32_t i = 0; i < len; i++)
			if (got[i] != want[i])
				return (int64_t)c->priv.pos + i;
		return -1;
	}
}

static int sbc_caw_write(struct scsi_cmd *c);

/* A compare chunk of io_len bytes was read: compare it, then the next chunk or what follows. */
static void sbc_cmp_done(struct scsi_cmd *c, uint32_t io_len)
{
	uint32_t len = (uint32_t)MIN((uint64_t)io_len, sbc_cmp_total(c) - c->priv.pos);
	int64_t diff = sbc_cmp_chunk(c, len);

	if (diff >= 0) {
		sbc_miscompare(c, (uint64_t)diff);
		sbc_finish(c);
		return;
	}
	c->priv.pos += len;
	if (c->aborted) {
		c->status = SAM_STAT_TASK_ABORTED;
		sbc_finish(c);
		return;
	}
	if (c->priv.pos < sbc_cmp_total(c)) {
		sbc_cb_submitted(c, sbc_cmp_next(c));
		return;
	}
	if (c->cdb[0] == 0x89) {
		sbc_cb_submitted(c, sbc_caw_write(c));
		return;
	}
	sbc_good(c);
	sbc_finish(c);
}

/* Starts the compare pass (exec or completion context); 0 or -errno / BUSY. */
static int sbc_cmp_start(struct scsi_cmd *c, bool *busy)
{
	*busy = false;
	c->priv.pos = 0;
	if (!sbc_scratch_get(c, ALIGN_UP(sbc_cmp_total(c), (uint64_t)c->lu->block_size))) {
		*busy = true;
		return 0;
	}
	return sbc_cmp_next(c);
}

/* ---- VERIFY (SBC-3 5.29-5.31) ---- */

static int sbc_verify_prepare(struct scsi_cmd *c)
{
	struct sbc_rw rw = sbc_decode(c->cdb);
	uint8_t bytchk = sbc_verify_bytchk(c);
	uint32_t len;

	sbc_priv_init(c);
	if (bytchk == 2) {
		sbc_invalid_cdb(c, 1, 2);
		return SCSI_DONE;
	}
	if (sbc_check_xfer(c, &rw) != SCSI_OK)
		return SCSI_DONE;
	len = bytchk == 1 ? (uint32_t)sbc_bytes(c, rw.n) : 0;
	if (bytchk == 3 && rw.n)
		len = c->lu->block_size; /* one block, compared with each one */
	sbc_set_xfer(c, len ? SCSI_DIR_WRITE : SCSI_DIR_NONE, len);
	return SCSI_OK;
}

static int sbc_verify_exec(struct scsi_cmd *c)
{
	bool busy;
	int err;

	if (!c->priv.nblocks || (sbc_cmp_mode(c) != SBC_CMP_NONE && !sbc_data_out_bytes(c))) {
		sbc_good(c);
		return SCSI_DONE;
	}
	err = sbc_cmp_start(c, &busy);
	if (busy)
		return sbc_done_now(c);
	return sbc_exec_submitted(c, err);
}

/* ---- WRITE AND VERIFY (SBC-3 5.36-5.38): durable write, then compare ---- */

static int sbc_wav_prepare(struct scsi_cmd *c)
{
	int rc = sbc_rw_prepare(c, SCSI_DIR_WRITE);

	c->priv.fua = 1; /* verification is of the medium, not of a cache */
	return rc;
}

/* The Data-Out is on the medium (FUA): BYTCHK=1 compares it with what reads back. */
static void sbc_wav_written(struct scsi_cmd *c)
{
	bool busy;
	int err;

	if (!((c->cdb[1] >> 1) & 1)) { /* BYTCHK 0: the FUA write is the verification */
		sbc_good(c);
		sbc_finish(c);
		return;
	}
	err = sbc_cmp_start(c, &busy);
	if (busy) {
		sbc_finish(c);
		return;
	}
	sbc_cb_submitted(c, err);
}

/* ---- COMPARE AND WRITE (SBC-3 5.2) ---- */

static int sbc_caw_prepare(struct scsi_cmd *c)
{
	uint64_t lba = get_be64(&c->cdb[2]);
	uint32_t n = c->cdb[13];

	sbc_priv_init(c);
	c->priv.fua = (c->cdb[1] >> 3) & 1;
	if (sbc_check_range(c, lba, n) != SCSI_OK)
		return SCSI_DONE;
	if (n > SCSI_MAX_CAW_BLOCKS) {
		sbc_invalid_cdb(c, 13, -1);
		return SCSI_DONE;
	}
	sbc_set_xfer(c, SCSI_DIR_WRITE, (uint32_t)sbc_bytes(c, 2ull * n));
	/*
	 * Verify and write halves are defined by the CDB: any other size is wrong,
	 * also with 0 blocks (an initiator encoding 256 blocks as 0 sends data).
	 */
	if (c->edtl != c->xfer_len) {
		sbc_invalid_cdb(c, 13, -1);
		return SCSI_DONE;
	}
	return SCSI_OK;
}

/*
 * The write half starts `half` bytes into the buffer, which need not meet the
 * bdev's buffer alignment (512-byte blocks under O_DIRECT's 4096): the verify
 * half is no longer needed then, so the write half moves down over it.
 */
static int sbc_caw_write(struct scsi_cmd *c)
{
	uint32_t half = (uint32_t)sbc_bytes(c, c->priv.nblocks);
	uint8_t *data = (uint8_t *)c->buf + half;

	if ((uintptr_t)data % sbc_bdev(c)->buf_align) {
		memmove(c->buf, data, half);
		data = c->buf;
	}
	c->priv.step = SBC_CAW_WRITE;
	return sbc_submit(c, BDEV_WRITE, sbc_bytes(c, c->priv.lba), half, data, c->buf_index,
			  sbc_want_fua(c));
}

static int sbc_caw_exec(struct scsi_cmd *c)
{
	bool busy;
	int rc, err;

	if (!c->priv.nblocks) {
		sbc_good(c);
		return SCSI_DONE;
	}
	if (c->data_out_len < c->xfer_len) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH);
		return SCSI_DONE;
	}
	rc = sbc_lock_or_park(c);
	if (rc != SCSI_OK)
		return rc;
	err = sbc_cmp_start(c, &busy);
	if (busy)
		return sbc_done_now(c);
	return sbc_exec_submitted(c, err);
}

/* ---- ORWRITE (SBC-3 5.7): read, OR the Data-Out in, write, chunk by chunk ---- */

static int sbc_or_next(struct scsi_cmd *c)
{
	uint32_t len = sbc_chunk(c, sbc_data_out_bytes(c) - c->priv.pos);

	c->priv.step = SBC_OR_READ;
	return sbc_submit(c, BDEV_READ, sbc_bytes(c, c->priv.lba) + c->priv.pos, len,
			  c->priv.scratch, c->priv.scratch_index, false);
}

/* ORs the Data-Out bytes received (a short last block: only those) into what was read. */
static int sbc_or_write(struct scsi_cmd *c, uint32_t len)
{
	uint8_t *s = c->priv.scratch;
	const uint8_t *d = (const uint8_t *)c->buf + c->priv.pos;
	uint32_t n = MIN(len, sbc_data_out_bytes(c) - c->priv.pos);

	for (uint32_t i = 0; i < n; i++)
		s[i] |= d[i];
	c->priv.step = SBC_OR_WRITE;
	return sbc_submit(c, BDEV_WRITE, sbc_bytes(c, c->priv.lba) + c->priv.pos, len, s,
			  c->priv.scratch_index, sbc_want_fua(c));
}

static void sbc_or_written(struct scsi_cmd *c, uint32_t len)
{
	c->priv.pos += len;
	if (c->priv.pos >= sbc_data_out_bytes(c) || c->aborted) {
		if (c->aborted)
			c->status = SAM_STAT_TASK_ABORTED;
		else
			sbc_good(c);
		sbc_finish(c);
		return;
	}
	sbc_cb_submitted(c, sbc_or_next(c));
}

static int sbc_orwrite_exec(struct scsi_cmd *c)
{
	uint32_t len = sbc_data_out_bytes(c);
	int rc;

	if (!len) {
		sbc_good(c);
		return SCSI_DONE;
	}
	rc = sbc_lock_or_park(c);
	if (rc != SCSI_OK)
		return rc;
	if (!sbc_scratch_get(c, ALIGN_UP(len, c->lu->block_size)))
		return sbc_done_now(c);
	return sbc_exec_submitted(c, sbc_or_next(c));
}

/* ---- PRE-FETCH (SBC-3 5.3, 5.4) and SYNCHRONIZE CACHE (SBC-3 5.22, 5.23) ---- */

static int sbc_range_only_prepare(struct scsi_cmd *c)
{
	struct sbc_rw rw = sbc_decode(c->cdb);

	sbc_priv_init(c);
	if (sbc_check_range(c, rw.lba, rw.n) != SCSI_OK)
		return SCSI_DONE;
	sbc_set_xfer(c, SCSI_DIR_NONE, 0);
	return SCSI_OK;
}

/*
 * PRE-FETCH: we keep no cache that could promise to hold the blocks (O_DIRECT
 * has none, and the page cache makes no promise), so SBC-3 5.3 says GOOD:
 * "the cache does not have sufficient capacity". IMMED changes nothing.
 */
static int sbc_prefetch_exec(struct scsi_cmd *c)
{
	sbc_good(c);
	return SCSI_DONE;
}

/*
 * SYNCHRONIZE CACHE flushes the whole bdev (the range only narrows what must
 * be flushed). IMMED=1 is answered after the flush as well: later is allowed
 * to be safe, and no initiator we know of sets it.
 */
static int sbc_sync_exec(struct scsi_cmd *c)
{
	struct bdev *b = sbc_bdev(c);

	if (b->read_only || !b->volatile_cache) {
		sbc_good(c);
		return SCSI_DONE;
	}
	c->priv.step = SBC_IO;
	return sbc_exec_submitted(c, sbc_submit(c, BDEV_FLUSH, 0, 0, NULL, -1, false));
}

/* ---- WRITE SAME (SBC-3 5.41, 5.42) ---- */

static int sbc_ws_prepare(struct scsi_cmd *c)
{
	struct sbc_rw rw = sbc_decode(c->cdb);
	bool ndob = c->cdb[0] == 0x93 && (c->cdb[1] & 1);
	bool unmap = c->cdb[1] & 0x08;
	uint64_t n;

	sbc_priv_init(c);
	if (sbc_check_range(c, rw.lba, rw.n) != SCSI_OK)
		return SCSI_DONE;
	/* WSNZ=0: 0 blocks means from the LBA to the end of the medium (SBC-3
	 * 5.41), and MAXIMUM WRITE SAME LENGTH bounds that count as any other. */
	n = rw.n ? rw.n : c->lu->nblocks - rw.lba;
	if (n > (SCSI_MAX_WRITE_SAME_BYTES >> c->lu->block_shift)) {
		sbc_invalid_cdb(c, rw.len_byte, -1);
		return SCSI_DONE;
	}
	c->priv.nblocks = (uint32_t)n;
	if (unmap && !c->lu->thin) {
		sbc_invalid_cdb(c, 1, 3); /* LBPWS/LBPWS10 are 0 on a fully provisioned LU */
		return SCSI_DONE;
	}
	if (ndob) {
		sbc_set_xfer(c, SCSI_DIR_NONE, 0);
		return SCSI_OK;
	}
	sbc_set_xfer(c, SCSI_DIR_WRITE, c->lu->block_size);
	/* The Data-Out buffer is exactly one block. */
	if (c->edtl != c->xfer_len) {
		sbc_invalid_cdb(c, rw.len_byte, -1);
		return SCSI_DONE;
	}
	return SCSI_OK;
}

static bool sbc_all_zero(const uint8_t *p, uint32_t len)
{
	return !len || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

/* Queues the next chunk of the WRITE SAME loop (op kept in priv.io.op). */
static int sbc_loop_next(struct scsi_cmd *c, uint8_t op)
{
	uint64_t total = sbc_bytes(c, c->priv.nblocks);
	uint64_t left = total - c->priv.pos;
	uint64_t off = sbc_bytes(c, c->priv.lba) + c->priv.pos;

	c->priv.step = SBC_LOOP;
	if (op == BDEV_WRITE)
		return sbc_submit(c, op, off, (uint32_t)MIN(left, (uint64_t)c->priv.scratch_cap),
				  c->priv.scratch, c->priv.scratch_index, sbc_want_fua(c));
	return sbc_submit(c, op, off, (uint32_t)MIN(left, (uint64_t)SBC_ZERO_CHUNK), NULL, -1,
			  false);
}

/* How a thin LU deallocates: DISCARD when it reads back zeroes, else zeroing. */
static uint8_t sbc_unmap_op(const struct scsi_cmd *c)
{
	const struct bdev *b = sbc_bdev(c);

	return b->can_discard && b->discard_zeroes ? BDEV_DISCARD : BDEV_WRITE_ZEROES;
}

static int sbc_ws_exec(struct scsi_cmd *c)
{
	bool ndob = c->cdb[0] == 0x93 && (c->cdb[1] & 1);
	bool unmap = c->cdb[1] & 0x08;
	uint32_t bs = c->lu->block_size;
	uint8_t *s;

	if (!ndob && c->data_out_len < bs) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH);
		return SCSI_DONE;
	}
	if (!c->priv.nblocks) {
		sbc_good(c); /* 0 blocks at the capacity: to the end is nothing */
		return SCSI_DONE;
	}
	if (sbc_lock_wait(c, c->priv.lba, c->priv.nblocks))
		return SCSI_PENDING;
	c->priv.pos = 0;
	/*
	 * UNMAP=1: for each LBA the device server either writes the block or
	 * unmaps (SBC-3 5.42); we deallocate whatever the pattern, as Linux LIO
	 * does and libiscsi's WriteSame10.UnmapUntilEnd expects (reads give
	 * zeroes: LBPRZ=1). Zeroes need not be written out either; any other
	 * pattern is written.
	 */
	if (ndob || unmap || sbc_all_zero(c->buf, bs))
		return sbc_exec_submitted(
			c, sbc_loop_next(c, unmap ? sbc_unmap_op(c) : BDEV_WRITE_ZEROES));
	if (!sbc_scratch_get(c, MIN(sbc_bytes(c, c->priv.nblocks), (uint64_t)SBC_WS_PATTERN_MAX)))
		return sbc_done_now(c);
	s = c->priv.scratch;
	for (size_t off = 0; off < c->priv.scratch_cap; off += bs)
		memcpy(s + off, c->buf, bs);
	return sbc_exec_submitted(c, sbc_loop_next(c, BDEV_WRITE));
}

static void sbc_loop_done(struct scsi_cmd *c)
{
	c->priv.pos += c->priv.io.len;
	if (c->priv.pos >= sbc_bytes(c, c->priv.nblocks) || c->aborted) {
		if (c->aborted)
			c->status = SAM_STAT_TASK_ABORTED;
		else
			sbc_good(c);
		sbc_finish(c);
		return;
	}
	sbc_cb_submitted(c, sbc_loop_next(c, c->priv.io.op));
}

/* ---- UNMAP (SBC-3 5.28) ---- */

static int sbc_unmap_prepare(struct scsi_cmd *c)
{
	sbc_priv_init(c);
	if (!c->lu->thin) {
		/* LBPU=0: the command does not exist for a fully provisioned LU. */
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
		return SCSI_DONE;
	}
	sbc_set_xfer(c, SCSI_DIR_WRITE, get_be16(&c->cdb[7]));
	return SCSI_OK;
}

static const uint8_t *sbc_unmap_desc(const struct scsi_cmd *c, uint32_t i)
{
	return (const uint8_t *)c->buf + 8 + 16 * i;
}

/* Validates the parameter list; the descriptor count, or -1 with sense set. */
static int sbc_unmap_parse(struct scsi_cmd *c)
{
	uint32_t plen = MIN(c->xfer_len, c->data_out_len);
	const uint8_t *p = c->buf;
	uint64_t total = 0;
	uint32_t bdl, n;

	if (plen < 8) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH);
		return -1;
	}
	/* An incomplete last descriptor is ignored. */
	bdl = MIN((uint32_t)get_be16(&p[2]), plen - 8);
	n = bdl / 16;
	if (n > SCSI_MAX_UNMAP_DESCRIPTORS) {
		scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_PARAM, false,
					 2, -1);
		return -1;
	}
	/* MAXIMUM UNMAP LBA COUNT bounds the whole command. */
	for (uint32_t i = 0; i < n; i++) {
		total += get_be32(sbc_unmap_desc(c, i) + 8);
		if (total > SCSI_MAX_UNMAP_LBA_COUNT) {
			scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST,
						 SCSI_ASC_INVALID_FIELD_PARAM, false,
						 (uint16_t)(8 + 16 * i + 8), -1);
			return -1;
		}
	}
	/* Check every range before deallocating anything. */
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *d = sbc_unmap_desc(c, i);
		uint64_t lba = get_be64(d);
		uint32_t cnt = get_be32(d + 8);

		if (lba > c->lu->nblocks || cnt > c->lu->nblocks - lba) {
			scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
			return -1;
		}
	}
	return (int)n;
}

/*
 * Queues the next piece: priv.pos is the descriptor, priv.lba/nblocks what
 * is left of it. 0 with *all_done when nothing is left, or -errno.
 */
static int sbc_unmap_next(struct scsi_cmd *c, uint32_t ndesc, bool *all_done)
{
	uint64_t max_blocks = SBC_ZERO_CHUNK >> c->lu->block_shift;
	uint64_t n;

	*all_done = false;
	while (!c->priv.nblocks) {
		const uint8_t *d;

		if (++c->priv.pos >= ndesc) {
			*all_done = true;
			return 0;
		}
		d = sbc_unmap_desc(c, c->priv.pos);
		c->priv.lba = get_be64(d);
		c->priv.nblocks = get_be32(d + 8);
	}
	n = MIN((uint64_t)c->priv.nblocks, max_blocks);
	c->priv.step = SBC_UNMAP;
	return sbc_submit(c, sbc_unmap_op(c), sbc_bytes(c, c->priv.lba), (uint32_t)sbc_bytes(c, n),
			  NULL, -1, false);
}

static uint32_t sbc_unmap_count(const struct scsi_cmd *c)
{
	uint32_t plen = MIN(c->xfer_len, c->data_out_len);

	return MIN((uint32_t)get_be16(&((const uint8_t *)c->buf)[2]), plen - 8) / 16;
}

static int sbc_unmap_exec(struct scsi_cmd *c)
{
	bool all_done;
	int n, err;

	if (!c->xfer_len) {
		sbc_good(c); /* SBC-3 5.28: a zero PARAMETER LIST LENGTH is not an error */
		return SCSI_DONE;
	}
	n = sbc_unmap_parse(c);
	if (n < 0)
		return SCSI_DONE;
	/* Start "before" descriptor 0 so that sbc_unmap_next() loads it. */
	c->priv.pos = UINT32_MAX;
	c->priv.nblocks = 0;
	err = sbc_unmap_next(c, (uint32_t)n, &all_done);
	if (all_done) {
		sbc_good(c);
		return SCSI_DONE;
	}
	return sbc_exec_submitted(c, err);
}

static void sbc_unmap_done(struct scsi_cmd *c)
{
	uint32_t n = (uint32_t)(c->priv.io.len >> c->lu->block_shift);
	bool all_done;
	int err;

	c->priv.lba += n;
	c->priv.nblocks -= n;
	err = sbc_unmap_next(c, sbc_unmap_count(c), &all_done);
	if (all_done) {
		sbc_good(c);
		sbc_finish(c);
		return;
	}
	sbc_cb_submitted(c, err);
}

/* ---- the completion of every bdev I/O ---- */

static void sbc_io_cb(struct bdev_io *io, int res)
{
	struct scsi_cmd *c = io->priv;

	if (res < 0) {
		/* A failed read inside VERIFY, COMPARE AND WRITE or ORWRITE is still
		 * an unrecovered read error, whatever the command's direction. */
		if (res == -EIO && io->op == BDEV_READ)
			scsi_cmd_set_sense(c, SK_MEDIUM_ERROR, SCSI_ASC_READ_ERROR);
		else
			sbc_fail_errno(c, res);
		sbc_finish(c);
		return;
	}
	switch (c->priv.step) {
	case SBC_CMP:
		sbc_cmp_done(c, io->len);
		return;
	case SBC_WR_FULL:
		sbc_wr_full_done(c);
		return;
	case SBC_TAIL_READ:
		sbc_cb_submitted(c, sbc_tail_write(c));
		return;
	case SBC_TAIL_WRITE:
		sbc_tail_written(c);
		return;
	case SBC_OR_READ:
		sbc_cb_submitted(c, sbc_or_write(c, io->len));
		return;
	case SBC_OR_WRITE:
		sbc_or_written(c, io->len);
		return;
	case SBC_LOOP:
		sbc_loop_done(c);
		return;
	case SBC_UNMAP:
		sbc_unmap_done(c);
		return;
	default: /* SBC_IO, SBC_CAW_WRITE */
		if (io->op == BDEV_READ)
			c->data_in_len = io->len;
		sbc_good(c);
		sbc_finish(c);
	}
}

/* ---- READ CAPACITY (SBC-3 5.15, 5.16) and GET LBA STATUS (SBC-3 5.5) ---- */

static int sbc_rc10_prepare(struct scsi_cmd *c)
{
	sbc_priv_init(c);
	/* The obsolete LBA field must be 0 unless PMI is set (SBC-3 5.15). */
	if (!(c->cdb[8] & 1) && get_be32(&c->cdb[2])) {
		sbc_invalid_cdb(c, 2, -1);
		return SCSI_DONE;
	}
	sbc_set_xfer(c, SCSI_DIR_READ, 8);
	return SCSI_OK;
}

static int sbc_rc10_exec(struct scsi_cmd *c)
{
	uint64_t last = c->lu->nblocks - 1;
	uint8_t d[8];

	/* Too big for 32 bits: READ CAPACITY(16) is the way (SBC-3 5.15). */
	put_be32(&d[0], last > 0xfffffffeull ? 0xffffffffu : (uint32_t)last);
	put_be32(&d[4], c->lu->block_size);
	scsi_cmd_put_data(c, d, sizeof(d));
	sbc_good(c);
	return SCSI_DONE;
}

static int sbc_alloc_len_prepare(struct scsi_cmd *c)
{
	sbc_priv_init(c);
	sbc_set_xfer(c, SCSI_DIR_READ, get_be32(&c->cdb[10]));
	return SCSI_OK;
}

/*
 * The logical blocks per physical block exponent stays 0 (unknown: the
 * backing file system's allocation unit is not the disk's physical block).
 * Reporting 3 for 512-byte LUs would also break initiators' tests that read
 * one LBA past a physical block (libiscsi GetLBAStatus.UnmapSingle).
 */
static int sbc_rc16_exec(struct scsi_cmd *c)
{
	const struct scsi_lu *lu = c->lu;
	uint8_t d[32] = {0};

	put_be64(&d[0], lu->nblocks - 1);
	put_be32(&d[8], lu->block_size);
	d[14] = (uint8_t)((scsi_lu_lbpme(lu) ? 0x80 : 0) | (scsi_lu_lbprz(lu) ? 0x40 : 0));
	scsi_cmd_put_data(c, d, sizeof(d));
	sbc_good(c);
	return SCSI_DONE;
}

static int sbc_gls_prepare(struct scsi_cmd *c)
{
	uint64_t lba = get_be64(&c->cdb[2]);

	sbc_alloc_len_prepare(c);
	if (lba >= c->lu->nblocks) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
		return SCSI_DONE;
	}
	c->priv.lba = lba;
	return SCSI_OK;
}

/* One descriptor from lba on; the blocks it covers. */
static uint64_t sbc_gls_desc(struct scsi_cmd *c, uint64_t lba, uint8_t *d)
{
	const struct scsi_lu *lu = c->lu;
	uint64_t left = MIN(lu->nblocks - lba, 0xffffffffull);
	uint64_t run = sbc_bytes(c, left);
	int st = 1;

	/* A fully provisioned LU has every block mapped, holes in its file or not. */
	if (lu->thin)
		st = bdev_map_status(lu->bdev, sbc_bytes(c, lba), run, &run);
	if (st < 0)
		st = 1;
	run >>= lu->block_shift;
	if (!run || run > left)
		run = left;
	memset(d, 0, 16);
	put_be64(&d[0], lba);
	put_be32(&d[8], (uint32_t)run);
	d[12] = st ? 0x0 : 0x1; /* PROVISIONING STATUS: mapped / deallocated */
	return run;
}

/*
 * GET LBA STATUS asks the bdev synchronously (bdev_file: lseek SEEK_DATA /
 * SEEK_HOLE, see bdev.h): bounded to this rare command.
 */
static int sbc_gls_exec(struct scsi_cmd *c)
{
	uint8_t d[8 + 16 * SBC_LBA_STATUS_MAX];
	uint32_t max = c->xfer_len > 8 ? (c->xfer_len - 8) / 16 : 0;
	uint64_t lba = c->priv.lba;
	uint32_t n = 0;

	max = MAX(MIN(max, (uint32_t)SBC_LBA_STATUS_MAX), 1u);
	while (n < max && lba < c->lu->nblocks) {
		lba += sbc_gls_desc(c, lba, &d[8 + 16 * n]);
		n++;
	}
	put_be32(&d[0], 4 + 16 * n);
	memset(&d[4], 0, 4);
	scsi_cmd_put_data(c, d, 8 + 16 * n);
	sbc_good(c);
	return SCSI_DONE;
}

/* ---- FORMAT UNIT (SBC-3 5.3) ---- */

static int sbc_format_prepare(struct scsi_cmd *c)
{
	sbc_priv_init(c);
	sbc_set_xfer(c, SCSI_DIR_NONE, 0);
	return SCSI_OK;
}

/*
 * Without a parameter list (FMTDATA=0, the only form accepted) there is no
 * defect list and no protection to set up: the medium is already usable and
 * its contents after a format are unspecified, so there is nothing to do.
 */
static int sbc_format_exec(struct scsi_cmd *c)
{
	sbc_good(c);
	return SCSI_DONE;
}

/* ---- the descriptor table ---- */

/* Read class and write class for reservations (SPC-4 5.13.1); both need a started LU. */
#define F_RD (SOP_PR_READ | SOP_MEDIUM)
#define F_WR (SOP_WRITES | SOP_MEDIUM)

#define RW6(op)                                                                                    \
	{                                                                                          \
		op, 0x1f, 0xff, 0xff, 0xff, 0x00                                                   \
	}
#define RW10(op)                                                                                   \
	{                                                                                          \
		op, 0x1a, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00                           \
	}
#define RW12(op)                                                                                   \
	{                                                                                          \
		op, 0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00               \
	}
#define RW16(op)                                                                                   \
	{                                                                                          \
		op, 0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  \
			0x1f, 0x00                                                                 \
	}
#define B1_10(op, b1)                                                                              \
	{                                                                                          \
		op, b1, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00                             \
	}
#define B1_12(op, b1)                                                                              \
	{                                                                                          \
		op, b1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00                 \
	}
#define B1_16(op, b1)                                                                              \
	{                                                                                          \
		op, b1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,    \
			0x1f, 0x00                                                                 \
	}

const struct scsi_op_desc sbc_ops[] = {
	{0x04,
	 0,
	 false,
	 6,
	 F_WR,
	 {0x04, 0, 0, 0, 0, 0},
	 sbc_format_prepare,
	 sbc_format_exec,
	 "FORMAT UNIT"},
	{0x08, 0, false, 6, F_RD, RW6(0x08), sbc_read_prepare, sbc_read_exec, "READ(6)"},
	{0x0a, 0, false, 6, F_WR, RW6(0x0a), sbc_write_prepare, sbc_write_exec, "WRITE(6)"},
	{0x25,
	 0,
	 false,
	 10,
	 SOP_ALUA_STANDBY | SOP_CONFLICT_EXEMPT,
	 {0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0},
	 sbc_rc10_prepare,
	 sbc_rc10_exec,
	 "READ CAPACITY(10)"},
	{0x28, 0, false, 10, F_RD, RW10(0x28), sbc_read_prepare, sbc_read_exec, "READ(10)"},
	{0x2a, 0, false, 10, F_WR, RW10(0x2a), sbc_write_prepare, sbc_write_exec, "WRITE(10)"},
	{0x2e, 0, false, 10, F_WR, B1_10(0x2e, 0x12), sbc_wav_prepare, sbc_write_exec,
	 "WRITE AND VERIFY(10)"},
	{0x2f, 0, false, 10, F_RD, B1_10(0x2f, 0x16), sbc_verify_prepare, sbc_verify_exec,
	 "VERIFY(10)"},
	{0x34, 0, false, 10, F_RD, B1_10(0x34, 0x02), sbc_range_only_prepare, sbc_prefetch_exec,
	 "PRE-FETCH(10)"},
	{0x35, 0, false, 10, SOP_MEDIUM, B1_10(0x35, 0x06), sbc_range_only_prepare, sbc_sync_exec,
	 "SYNCHRONIZE CACHE(10)"},
	{0x41, 0, false, 10, F_WR, B1_10(0x41, 0x08), sbc_ws_prepare, sbc_ws_exec,
	 "WRITE SAME(10)"},
	{0x42,
	 0,
	 false,
	 10,
	 F_WR,
	 {0x42, 0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0},
	 sbc_unmap_prepare,
	 sbc_unmap_exec,
	 "UNMAP"},
	{0x88, 0, false, 16, F_RD, RW16(0x88), sbc_read_prepare, sbc_read_exec, "READ(16)"},
	{0x89,
	 0,
	 false,
	 16,
	 F_WR,
	 {0x89, 0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0x1f, 0},
	 sbc_caw_prepare,
	 sbc_caw_exec,
	 "COMPARE AND WRITE"},
	{0x8a, 0, false, 16, F_WR, RW16(0x8a), sbc_write_prepare, sbc_write_exec, "WRITE(16)"},
	{0x8b, 0, false, 16, F_WR, RW16(0x8b), sbc_write_prepare, sbc_orwrite_exec, "ORWRITE(16)"},
	{0x8e, 0, false, 16, F_WR, B1_16(0x8e, 0x12), sbc_wav_prepare, sbc_write_exec,
	 "WRITE AND VERIFY(16)"},
	{0x8f, 0, false, 16, F_RD, B1_16(0x8f, 0x16), sbc_verify_prepare, sbc_verify_exec,
	 "VERIFY(16)"},
	{0x90, 0, false, 16, F_RD, B1_16(0x90, 0x02), sbc_range_only_prepare, sbc_prefetch_exec,
	 "PRE-FETCH(16)"},
	{0x91, 0, false, 16, SOP_MEDIUM, B1_16(0x91, 0x06), sbc_range_only_prepare, sbc_sync_exec,
	 "SYNCHRONIZE CACHE(16)"},
	{0x93, 0, false, 16, F_WR, B1_16(0x93, 0x09), sbc_ws_prepare, sbc_ws_exec,
	 "WRITE SAME(16)"},
	{0x9e,
	 0x10,
	 true,
	 16,
	 SOP_ALUA_STANDBY | SOP_CONFLICT_EXEMPT,
	 {0x9e, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
	  0},
	 sbc_alloc_len_prepare,
	 sbc_rc16_exec,
	 "READ CAPACITY(16)"},
	{0x9e,
	 0x12,
	 true,
	 16,
	 F_RD,
	 {0x9e, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0},
	 sbc_gls_prepare,
	 sbc_gls_exec,
	 "GET LBA STATUS"},
	{0xa8, 0, false, 12, F_RD, RW12(0xa8), sbc_read_prepare, sbc_read_exec, "READ(12)"},
	{0xaa, 0, false, 12, F_WR, RW12(0xaa), sbc_write_prepare, sbc_write_exec, "WRITE(12)"},
	{0xae, 0, false, 12, F_WR, B1_12(0xae, 0x12), sbc_wav_prepare, sbc_write_exec,
	 "WRITE AND VERIFY(12)"},
	{0xaf, 0, false, 12, F_RD, B1_12(0xaf, 0x16), sbc_verify_prepare, sbc_verify_exec,
	 "VERIFY(12)"},
};

const unsigned sbc_ops_count = ARRAY_SIZE(sbc_ops);

static const struct scsi_op_desc *sbc_desc_of(const struct scsi_cmd *c)
{
	for (unsigned i = 0; i < sbc_ops_count; i++) {
		const struct scsi_op_desc *d = &sbc_ops[i];

		if (d->opcode == c->cdb[0] && (!d->has_sa || d->sa == (c->cdb[1] & 0x1f)))
			return d;
	}
	return NULL; /* not reached: only commands of this table park */
}
