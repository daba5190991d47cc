// SPDX-License-Identifier: MIT
/*
 * bdev_mem: a RAM-backed block device for tests and demos.
 *
 * The data lives in one anonymous mapping (zero pages until written). The
 * copy happens inside submit, but the completion is still asynchronous, as
 * the bdev contract demands: each io is queued on a per-bdev list and a
 * deferred callback on the submitting reactor completes the batch before the
 * reactor's next submission.
 *
 * A bitmap of mapped blocks (set by WRITE, cleared by DISCARD and
 * WRITE_ZEROES) answers map_status, so GET LBA STATUS reports real holes.
 *
 * Single reactor: every submit of one bdev_mem must come from one thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/compiler.h"
#include "target/io/bdev.h"

struct bdev_mem {
	struct bdev bdev;
	uint8_t *data;
	uint64_t *map; /* one bit per block: 1 mapped */
	uint64_t nblocks;
	struct list_node done_q; /* bdev_io.node of ios waiting for their callback */
	struct reactor_deferred defer;
};

static struct bdev_mem *bdev_mem_of(struct bdev *b)
{
	return container_of(b, struct bdev_mem, bdev);
}

static bool bdev_mem_block_mapped(const struct bdev_mem *m, uint64_t blk)
{
	return m->map[blk / 64] >> (blk % 64) & 1;
}

static void bdev_mem_map_range(struct bdev_mem *m, uint64_t blk, uint64_t n, bool mapped)
{
	for (uint64_t i = blk; i < blk + n; i++) {
		if (mapped)
			m->map[i / 64] |= 1ull << (i % 64);
		else
			m->map[i / 64] &= ~(1ull << (i % 64));
	}
}

/* Runs on the reactor before its next submission: completes the queued ios. */
static void bdev_mem_complete(struct reactor_deferred *d)
{
	struct bdev_mem *m = container_of(d, struct bdev_mem, defer);
	struct list_node batch, *n;

	/* Callbacks may submit again; what they queue completes on a later pass. */
	list_init(&batch);
	if (!list_empty(&m->done_q)) {
		batch = m->done_q;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_init(&m->done_q);
	}
	while ((n = list_pop(&batch))) {
		struct bdev_io *io = list_entry(n, struct bdev_io, node);

		io->cb(io, 0);
	}
}

static int bdev_mem_check(const struct bdev_mem *m, const struct bdev_io *io)
{
	const struct bdev *b = &m->bdev;

	if (io->op > BDEV_WRITE_ZEROES)
		return -EOPNOTSUPP;
	if (io->op == BDEV_FLUSH)
		return 0;
	if (io->op != BDEV_READ && b->read_only)
		return -EROFS;
	if (io->offset % b->block_size || io->len % b->block_size)
		return -EINVAL;
	if (io->offset > b->size || io->len > b->size - io->offset)
		return -ERANGE;
	if ((io->op == BDEV_READ || io->op == BDEV_WRITE) && io->len && !io->buf)
		return -EINVAL;
	return 0;
}

/* bdev_ops.submit: performs the copy now, completes on r's next pass. */
static int bdev_mem_submit(struct bdev *b, struct reactor *r, struct bdev_io *io)
{
	struct bdev_mem *m = bdev_mem_of(b);
	uint64_t blk = io->offset / b->block_size;
	uint64_t n = io->len / b->block_size;
	int err = bdev_mem_check(m, io);

	if (err)
		return err;
	switch (io->op) {
	case BDEV_READ:
		memcpy(io->buf, m->data + io->offset, io->len);
		break;
	case BDEV_WRITE:
		memcpy(m->data + io->offset, io->buf, io->len);
		bdev_mem_map_range(m, blk, n, true);
		break;
	case BDEV_DISCARD:
	case BDEV_WRITE_ZEROES:
		memset(m->data + io->offset, 0, io->len);
		bdev_mem_map_range(m, blk, n, false);
		break;
	default: /* FLUSH: RAM has nothing volatile beyond itself */
		break;
	}
	io->reactor = r;
	io->done = io->len;
	list_add_tail(&m->done_q, &io->node);
	reactor_defer(r, &m->defer);
	return 0;
}

/* bdev_ops.map_status: from the block bitmap. */
static int bdev_mem_map_status(struct bdev *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	struct bdev_mem *m = bdev_mem_of(b);
	uint64_t blk = offset / b->block_size;
	uint64_t end = blk + MAX(len / b->block_size, 1);
	bool mapped = bdev_mem_block_mapped(m, blk);
	uint64_t i = blk + 1;

	if (end > m->nblocks)
		end = m->nblocks;
	while (i < end && bdev_mem_block_mapped(m, i) == mapped)
		i++;
	*run = (i - blk) * b->block_size;
	return mapped;
}

static void bdev_mem_close(struct bdev *b)
{
	struct bdev_mem *m = bdev_mem_of(b);

	munmap(m->data, b->size);
	free(m->map);
	free(m);
}

static const struct bdev_ops bdev_mem_ops = {
	.name = "mem",
	.submit = bdev_mem_submit,
	.close = bdev_mem_close,
	.map_status = bdev_mem_map_status,
};

/*
 * Creates a zeroed RAM bdev of size bytes (a non-zero multiple of block_size,
 * 512 or 4096). 0 or -errno. Any thread; the bdev is then used from one reactor.
 */
int bdev_mem_create(struct bdev **out, uint64_t size, uint32_t block_size)
{
	struct bdev_mem *m;

	if ((block_size != 512 && block_size != 4096) || !size || size % block_size)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->nblocks = size / block_size;
	m->map = calloc((m->nblocks + 63) / 64, sizeof(uint64_t));
	m->data = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!m->map || m->data == MAP_FAILED) {
		if (m->data != MAP_FAILED)
			munmap(m->data, size);
		free(m->map);
		free(m);
		return -ENOMEM;
	}
	m->bdev.ops = &bdev_mem_ops;
	m->bdev.size = size;
	m->bdev.block_size = block_size;
	m->bdev.buf_align = 512; /* no real requirement; a valid posix_memalign value */
	m->bdev.can_discard = true;
	m->bdev.discard_zeroes = true;
	m->bdev.volatile_cache = false;
	strcpy(m->bdev.name, "mem");
	list_init(&m->done_q);
	m->defer.fn = bdev_mem_complete;
	*out = &m->bdev;
	return 0;
}
