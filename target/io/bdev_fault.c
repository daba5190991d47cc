// SPDX-License-Identifier: MIT
/*
 * bdev_fault: fault injection around another bdev (see bdev_fault.h).
 *
 * Each upper io borrows one fault_req from a pool sized at creation, which
 * carries the inner io. Its life:
 *
 *   submit --injected error--> (deferred) --> finish(err)
 *   submit --journaled op--> PREREAD (old data into the journal arena)
 *                        --> FORWARD (the op itself) --> finish(res)
 *   submit --other op--> FORWARD --> finish(res)
 *   finish: with a delay, a reactor timeout first; then the upper callback.
 *
 * Journal: records in submission order, data in an arena used as a bump
 * allocator that is rewound when no live record is left. A record is live
 * from its reservation until a FLUSH submitted after its write completed
 * itself completes (or an overflow evicts it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/compiler.h"
#include "target/io/bdev_fault.h"

#define FAULT_MAX_RECORDS 4096

enum fault_stage { FS_PREREAD, FS_FORWARD };

enum fault_rec_state { FR_DEAD = 0, FR_READING, FR_SAVED };

struct fault_rec {
	uint64_t offset;
	uint32_t len;
	uint32_t arena_off;
	uint64_t done_seq; /* when its write completed; 0 while in flight */
	uint8_t state;	   /* enum fault_rec_state */
};

struct fault_req {
	struct bdev_fault *f;
	struct bdev_io *upper;
	struct bdev_io inner;
	struct reactor_op timer;
	struct reactor_deferred defer;
	struct reactor *r;
	int res;
	int rec;	    /* journal record of this write, -1 none */
	uint64_t flush_seq; /* FLUSH: the sequence number at submission */
	struct list_node free_node;
};

struct bdev_fault {
	struct bdev bdev;
	struct bdev *inner;
	struct fault_req reqs[BDEV_FAULT_QUEUE_DEPTH];
	struct list_node free_reqs;
	/* injection */
	uint64_t fail_countdown;
	uint32_t fail_mask;
	int fail_err;
	bool fail_sticky;
	bool failing;
	uint64_t delay_ns;
	/* journal */
	uint8_t *arena;
	uint32_t arena_size;
	uint32_t arena_used;
	struct fault_rec *recs;
	unsigned nrecs;
	uint64_t seq;
	/* power cut */
	bool powered_off;
	bool cutting;
	struct bdev_io pc_io;
	struct reactor *pc_r;
	struct reactor_deferred pc_defer;
	int pc_next;
	int pc_res;
	void (*pc_done)(void *arg, int res);
	void *pc_arg;
	struct bdev_fault_stats stats;
};

static struct bdev_fault *bdev_fault_of(const struct bdev *b)
{
	return container_of(b, struct bdev_fault, bdev);
}

/* ---- journal ---- */

static void fault_journal_rewind_if_empty(struct bdev_fault *f)
{
	for (unsigned i = 0; i < f->nrecs; i++)
		if (f->recs[i].state != FR_DEAD)
			return;
	f->nrecs = 0;
	f->arena_used = 0;
}

/* Writes completed before `before` are durable: forget their undo data. */
static void fault_journal_drop_done(struct bdev_fault *f, uint64_t before)
{
	for (unsigned i = 0; i < f->nrecs; i++) {
		struct fault_rec *rec = &f->recs[i];

		if (rec->state == FR_SAVED && rec->done_seq && rec->done_seq < before)
			rec->state = FR_DEAD;
	}
	fault_journal_rewind_if_empty(f);
}

/* Reserves a record for len bytes at offset; -1 when it cannot be journaled. */
static int fault_journal_reserve(struct bdev_fault *f, uint64_t offset, uint32_t len)
{
	uint32_t align = f->inner->buf_align;
	uint32_t at = ALIGN_UP(f->arena_used, align);
	struct fault_rec *rec;

	if (at + (uint64_t)len > f->arena_size || f->nrecs == FAULT_MAX_RECORDS) {
		/* The cache "wrote back" what it held: completed writes become durable. */
		f->stats.journal_overflows++;
		fault_journal_drop_done(f, UINT64_MAX);
		at = ALIGN_UP(f->arena_used, align);
		if (at + (uint64_t)len > f->arena_size || f->nrecs == FAULT_MAX_RECORDS)
			return -1;
	}
	rec = &f->recs[f->nrecs];
	rec->offset = offset;
	rec->len = len;
	rec->arena_off = at;
	rec->done_seq = 0;
	rec->state = FR_READING;
	f->arena_used = at + len;
	return (int)f->nrecs++;
}

/* A FUA write is durable: undo records it overlaps must restore its data. */
static void fault_journal_patch(struct bdev_fault *f, const struct bdev_io *io)
{
	uint64_t end = io->offset + io->len;

	for (unsigned i = 0; i < f->nrecs; i++) {
		struct fault_rec *rec = &f->recs[i];
		uint64_t lo = MAX(rec->offset, io->offset);
		uint64_t hi = MIN(rec->offset + rec->len, end);

		if (rec->state == FR_DEAD || lo >= hi)
			continue;
		memcpy(f->arena + rec->arena_off + (lo - rec->offset),
		       (const uint8_t *)io->buf + (lo - io->offset), hi - lo);
	}
}

static bool fault_op_journaled(const struct bdev_fault *f, const struct bdev_io *io)
{
	if (!f->arena)
		return false;
	if (io->op == BDEV_WRITE)
		return !(io->flags & BDEV_F_FUA);
	return io->op == BDEV_DISCARD || io->op == BDEV_WRITE_ZEROES;
}

/* ---- request pool and completion ---- */

static struct fault_req *fault_req_get(struct bdev_fault *f)
{
	struct list_node *n = list_pop(&f->free_reqs);

	return n ? list_entry(n, struct fault_req, free_node) : NULL;
}

static void fault_req_put(struct bdev_fault *f, struct fault_req *req)
{
	list_add_head(&f->free_reqs, &req->free_node);
}

static void fault_finish(struct fault_req *req)
{
	struct bdev_io *upper = req->upper;
	int res = req->res;

	fault_req_put(req->f, req);
	upper->cb(upper, res);
}

static void fault_timer_cb(struct reactor_op *op, int res)
{
	fault_finish(container_of(op, struct fault_req, timer));
}

static void fault_defer_cb(struct reactor_deferred *d)
{
	struct fault_req *req = container_of(d, struct fault_req, defer);

	if (req->f->delay_ns && !reactor_timeout(req->r, &req->timer, req->f->delay_ns))
		return;
	fault_finish(req);
}

/* Completes req with res, later than now (never inside submit). */
static void fault_complete(struct fault_req *req, int res)
{
	req->res = res;
	reactor_defer(req->r, &req->defer);
}

static int fault_forward(struct fault_req *req)
{
	struct bdev_io *up = req->upper;
	struct bdev_io *in = &req->inner;

	in->op = up->op;
	in->flags = up->flags;
	in->buf_index = up->buf_index;
	in->len = up->len;
	in->offset = up->offset;
	in->buf = up->buf;
	in->stage = FS_FORWARD;
	if (up->op == BDEV_FLUSH)
		req->flush_seq = ++req->f->seq;
	return bdev_submit(req->f->inner, req->r, in);
}

static void fault_forward_done(struct fault_req *req, int res)
{
	struct bdev_fault *f = req->f;

	if (res == 0 && req->rec >= 0)
		f->recs[req->rec].done_seq = ++f->seq;
	if (res < 0 && req->rec >= 0)
		f->recs[req->rec].state = FR_DEAD; /* nothing written: nothing to undo */
	if (res == 0 && req->upper->op == BDEV_WRITE && (req->upper->flags & BDEV_F_FUA))
		fault_journal_patch(f, req->upper);
	if (res == 0 && req->upper->op == BDEV_FLUSH)
		fault_journal_drop_done(f, req->flush_seq);
	fault_complete(req, res);
}

static void fault_inner_cb(struct bdev_io *in, int res)
{
	struct fault_req *req = in->priv;
	int err;

	if (in->stage == FS_FORWARD) {
		fault_forward_done(req, res);
		return;
	}
	if (res < 0) {
		req->f->recs[req->rec].state = FR_DEAD;
		fault_complete(req, res);
		return;
	}
	req->f->recs[req->rec].state = FR_SAVED;
	err = fault_forward(req);
	if (err) {
		req->f->recs[req->rec].state = FR_DEAD;
		fault_complete(req, err);
	}
}

/* Reads the data the write will overwrite into its journal record. */
static int fault_preread(struct fault_req *req)
{
	struct bdev_fault *f = req->f;
	struct fault_rec *rec = &f->recs[req->rec];
	struct bdev_io *in = &req->inner;

	in->op = BDEV_READ;
	in->flags = 0;
	in->buf_index = -1;
	in->len = rec->len;
	in->offset = rec->offset;
	in->buf = f->arena + rec->arena_off;
	in->stage = FS_PREREAD;
	return bdev_submit(f->inner, req->r, in);
}

static bool fault_inject_now(struct bdev_fault *f, uint8_t op)
{
	if (f->fail_mask && !(f->fail_mask & (1u << op)))
		return false;
	if (f->failing)
		return true;
	if (!f->fail_countdown || --f->fail_countdown)
		return false;
	f->failing = f->fail_sticky;
	return true;
}

static void fault_count(struct bdev_fault *f, const struct bdev_io *io)
{
	static const size_t field[] = {
		[BDEV_READ] = offsetof(struct bdev_fault_stats, reads),
		[BDEV_WRITE] = offsetof(struct bdev_fault_stats, writes),
		[BDEV_FLUSH] = offsetof(struct bdev_fault_stats, flushes),
		[BDEV_DISCARD] = offsetof(struct bdev_fault_stats, discards),
		[BDEV_WRITE_ZEROES] = offsetof(struct bdev_fault_stats, write_zeroes),
	};

	(*(uint64_t *)((char *)&f->stats + field[io->op]))++;
	if (io->op == BDEV_WRITE && (io->flags & BDEV_F_FUA))
		f->stats.fua_writes++;
}

static int fault_start(struct bdev_fault *f, struct fault_req *req)
{
	int err;

	if (!fault_op_journaled(f, req->upper))
		return fault_forward(req);
	req->rec = fault_journal_reserve(f, req->upper->offset, req->upper->len);
	if (req->rec < 0)
		return fault_forward(req);
	err = fault_preread(req);
	if (err) {
		f->recs[req->rec].state = FR_DEAD;
		fault_journal_rewind_if_empty(f);
	}
	return err;
}

/* bdev_ops.submit: 0 (cb later, once) or -errno (-EIO powered off, -EBUSY pool empty). */
static int bdev_fault_submit(struct bdev *b, struct reactor *r, struct bdev_io *io)
{
	struct bdev_fault *f = bdev_fault_of(b);
	struct fault_req *req;
	int err;

	if (io->op > BDEV_WRITE_ZEROES)
		return -EOPNOTSUPP;
	if (f->powered_off)
		return -EIO;
	req = fault_req_get(f);
	if (!req)
		return -EBUSY;
	io->reactor = r;
	req->upper = io;
	req->r = r;
	req->rec = -1;
	fault_count(f, io);
	if (fault_inject_now(f, io->op)) {
		f->stats.failed++;
		fault_complete(req, f->fail_err);
		return 0;
	}
	err = fault_start(f, req);
	if (err)
		fault_req_put(f, req);
	return err;
}

static int bdev_fault_map_status(struct bdev *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	return bdev_map_status(bdev_fault_of(b)->inner, offset, len, run);
}

static void bdev_fault_close(struct bdev *b)
{
	struct bdev_fault *f = bdev_fault_of(b);

	bdev_close(f->inner);
	free(f->arena);
	free(f->recs);
	free(f);
}

static const struct bdev_ops bdev_fault_ops = {
	.name = "fault",
	.submit = bdev_fault_submit,
	.close = bdev_fault_close,
	.map_status = bdev_fault_map_status,
};

/* ---- power cut: undo newest first, then flush the inner bdev ---- */

static void fault_pc_cb(struct bdev_io *io, int res);

static void fault_pc_end(struct bdev_fault *f, int res)
{
	f->cutting = false;
	f->nrecs = 0;
	f->arena_used = 0;
	f->pc_done(f->pc_arg, res);
}

static void fault_pc_next(struct bdev_fault *f)
{
	struct bdev_io *io = &f->pc_io;
	int err;

	while (f->pc_next >= 0 && f->recs[f->pc_next].state != FR_SAVED)
		f->pc_next--;
	memset(io, 0, sizeof(*io));
	io->buf_index = -1;
	io->cb = fault_pc_cb;
	io->priv = f;
	if (f->pc_next >= 0) {
		struct fault_rec *rec = &f->recs[f->pc_next--];

		io->op = BDEV_WRITE;
		io->offset = rec->offset;
		io->len = rec->len;
		io->buf = f->arena + rec->arena_off;
		io->stage = 1;
	} else {
		io->op = BDEV_FLUSH;
		io->stage = 0;
	}
	err = bdev_submit(f->inner, f->pc_r, io);
	if (err)
		fault_pc_end(f, err);
}

static void fault_pc_cb(struct bdev_io *io, int res)
{
	struct bdev_fault *f = io->priv;
	bool was_write = io->stage == 1;

	if (res < 0 && !f->pc_res)
		f->pc_res = res;
	if (!was_write) {
		fault_pc_end(f, f->pc_res);
		return;
	}
	fault_pc_next(f);
}

static void fault_pc_start(struct reactor_deferred *d)
{
	fault_pc_next(container_of(d, struct bdev_fault, pc_defer));
}

int bdev_fault_power_cut(struct bdev *b, struct reactor *r, void (*done)(void *arg, int res),
			 void *arg)
{
	struct bdev_fault *f = bdev_fault_of(b);

	if (f->cutting)
		return -EBUSY;
	f->powered_off = true;
	f->cutting = true;
	f->pc_done = done;
	f->pc_arg = arg;
	f->pc_res = 0;
	f->pc_next = (int)f->nrecs - 1;
	f->pc_r = r;
	f->pc_defer.fn = fault_pc_start;
	reactor_defer(r, &f->pc_defer); /* done() must not run inside this call */
	return 0;
}

void bdev_fault_power_on(struct bdev *b)
{
	bdev_fault_of(b)->powered_off = false;
}

void bdev_fault_fail_at(struct bdev *b, uint64_t nth, uint32_t op_mask, int err, bool sticky)
{
	struct bdev_fault *f = bdev_fault_of(b);

	f->fail_countdown = nth;
	f->fail_mask = op_mask;
	f->fail_err = err;
	f->fail_sticky = sticky;
	f->failing = false;
}

void bdev_fault_set_delay(struct bdev *b, uint64_t ns)
{
	bdev_fault_of(b)->delay_ns = ns;
}

void bdev_fault_get_stats(const struct bdev *b, struct bdev_fault_stats *st)
{
	*st = bdev_fault_of(b)->stats;
}

int bdev_fault_create(struct bdev **out, struct bdev *inner, uint32_t journal_bytes)
{
	struct bdev_fault *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	if (journal_bytes) {
		void *arena;

		f->recs = calloc(FAULT_MAX_RECORDS, sizeof(*f->recs));
		if (!f->recs || posix_memalign(&arena, 4096, ALIGN_UP(journal_bytes, 4096u))) {
			free(f->recs);
			free(f);
			return -ENOMEM;
		}
		f->arena = arena;
		f->arena_size = journal_bytes;
	}
	f->inner = inner;
	f->bdev = *inner;
	f->bdev.ops = &bdev_fault_ops;
	if (journal_bytes)
		f->bdev.volatile_cache = true;
	list_init(&f->free_reqs);
	for (unsigned i = 0; i < BDEV_FAULT_QUEUE_DEPTH; i++) {
		struct fault_req *req = &f->reqs[i];

		req->f = f;
		req->inner.cb = fault_inner_cb;
		req->inner.priv = req;
		req->timer.cb = fault_timer_cb;
		req->defer.fn = fault_defer_cb;
		list_add_tail(&f->free_reqs, &req->free_node);
	}
	*out = &f->bdev;
	return 0;
}
