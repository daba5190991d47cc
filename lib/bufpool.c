// SPDX-License-Identifier: MIT
/*
 * Buffer pool: one anonymous mapping per size class, populated at creation,
 * and a stack of free buffer indexes per class, so get and put are O(1) and
 * touch neither the allocator nor the buffers themselves.
 *
 * Misuse on put (a pointer that is not the start of one of our buffers, or a
 * buffer that is already free) is logged, rate-limited, and ignored: keeping
 * the free stack consistent protects every other user of the pool, while a
 * crash would take the whole target down for one caller's bug.
 *
 * Under AddressSanitizer free buffers are poisoned, so a use after put fails
 * loudly in the tests.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "bufpool.h"
#include "log.h"
#include "reactor.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define BUFPOOL_POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define BUFPOOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define BUFPOOL_POISON(p, n)   ((void)(p), (void)(n))
#define BUFPOOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BUFPOOL_ALIGN 4096

/* One size class: a contiguous region of count buffers of size bytes. */
struct bufpool_region {
	uint8_t *base;
	size_t size;
	size_t len; /* size * count, the mapping length */
	unsigned count;
	unsigned nfree;	  /* free[0..nfree) are free buffer indexes */
	uint32_t *free;	  /* stack of free indexes */
	uint8_t *is_free; /* per buffer, for double-put detection */
};

struct bufpool {
	unsigned nregions;
	bool registered;
	struct bufpool_region regions[];
};

static int bufpool_classes_check(const struct bufpool_class *classes, unsigned n)
{
	unsigned i;

	if (!classes || n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		const struct bufpool_class *c = &classes[i];

		if (c->size == 0 || c->size % BUFPOOL_ALIGN || c->count == 0)
			return -EINVAL;
		if (i && c->size <= classes[i - 1].size)
			return -EINVAL;
		if (c->size > SIZE_MAX / c->count)
			return -EOVERFLOW;
	}
	return 0;
}

static void bufpool_region_release(struct bufpool_region *rg)
{
	if (rg->base) {
		BUFPOOL_UNPOISON(rg->base, rg->len);
		munmap(rg->base, rg->len);
	}
	free(rg->free);
	free(rg->is_free);
}

static int bufpool_region_init(struct bufpool_region *rg, const struct bufpool_class *c)
{
	void *p;
	unsigned i;

	rg->size = c->size;
	rg->count = c->count;
	rg->len = c->size * c->count;
	rg->free = calloc(c->count, sizeof(*rg->free));
	rg->is_free = calloc(c->count, 1);
	if (!rg->free || !rg->is_free)
		return -ENOMEM;
	/* Populate now: page faults belong to start-up, not to the first I/O. */
	p = mmap(NULL, rg->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		 -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	rg->base = p;
	/* Lowest index on top, so a fresh pool hands out buffers in address order. */
	for (i = 0; i < c->count; i++) {
		rg->free[i] = c->count - 1 - i;
		rg->is_free[i] = 1;
	}
	rg->nfree = c->count;
	BUFPOOL_POISON(rg->base, rg->len);
	return 0;
}

/* Start-up only (allocates). Returns 0 or -EINVAL/-EOVERFLOW/-ENOMEM/mmap's -errno. */
int bufpool_create(struct bufpool **out, const struct bufpool_class *classes, unsigned nclasses)
{
	struct bufpool *bp;
	unsigned i;
	int ret;

	ret = bufpool_classes_check(classes, nclasses);
	if (ret)
		return ret;
	bp = calloc(1, sizeof(*bp) + nclasses * sizeof(bp->regions[0]));
	if (!bp)
		return -ENOMEM;
	bp->nregions = nclasses;
	for (i = 0; i < nclasses; i++) {
		ret = bufpool_region_init(&bp->regions[i], &classes[i]);
		if (ret)
			goto err_regions;
	}
	*out = bp;
	return 0;

err_regions:
	bufpool_destroy(bp);
	return ret;
}

/*
 * Unmaps every region. Buffers registered with a reactor stay pinned by the
 * kernel until that reactor is destroyed, so destroy the reactor first.
 */
void bufpool_destroy(struct bufpool *bp)
{
	unsigned i;

	if (!bp)
		return;
	for (i = 0; i < bp->nregions; i++)
		bufpool_region_release(&bp->regions[i]);
	free(bp);
}

/* Index of the smallest class whose buffers hold len bytes, or -1. */
static int bufpool_class_for(const struct bufpool *bp, size_t len)
{
	unsigned i;

	for (i = 0; i < bp->nregions; i++)
		if (bp->regions[i].size >= len)
			return (int)i;
	return -1;
}

/* Region containing address p (anywhere inside a buffer), or -1. */
static int bufpool_region_of(const struct bufpool *bp, const void *p)
{
	uintptr_t a = (uintptr_t)p;
	unsigned i;

	for (i = 0; i < bp->nregions; i++) {
		uintptr_t base = (uintptr_t)bp->regions[i].base;

		if (a >= base && a - base < bp->regions[i].len)
			return (int)i;
	}
	return -1;
}

void *bufpool_get(struct bufpool *bp, size_t len, size_t *cap)
{
	int c = bufpool_class_for(bp, len);

	if (c < 0)
		return NULL;
	for (; (unsigned)c < bp->nregions; c++) {
		struct bufpool_region *rg = &bp->regions[c];
		uint32_t idx;
		uint8_t *buf;

		if (!rg->nfree)
			continue;
		idx = rg->free[--rg->nfree];
		rg->is_free[idx] = 0;
		buf = rg->base + (size_t)idx * rg->size;
		BUFPOOL_UNPOISON(buf, rg->size);
		if (cap)
			*cap = rg->size;
		return buf;
	}
	return NULL;
}

void bufpool_put(struct bufpool *bp, void *buf)
{
	struct bufpool_region *rg;
	size_t off;
	uint32_t idx;
	int c;

	if (!buf)
		return;
	c = bufpool_region_of(bp, buf);
	if (c < 0) {
		log_rl_warn("bufpool %p: put of foreign buffer %p ignored", (void *)bp, buf);
		return;
	}
	rg = &bp->regions[c];
	off = (size_t)((uint8_t *)buf - rg->base);
	idx = (uint32_t)(off / rg->size);
	if (off % rg->size) {
		log_rl_warn("bufpool %p: put of interior pointer %p (class %d) ignored", (void *)bp,
			    buf, c);
		return;
	}
	if (rg->is_free[idx]) {
		log_rl_warn("bufpool %p: double put of %p (class %d) ignored", (void *)bp, buf, c);
		return;
	}
	rg->is_free[idx] = 1;
	rg->free[rg->nfree++] = idx;
	BUFPOOL_POISON(buf, rg->size);
}

int bufpool_index(const struct bufpool *bp, const void *buf)
{
	if (!bp->registered)
		return -1;
	return bufpool_region_of(bp, buf);
}

/* Reactor thread, start-up. Returns 0, -EALREADY, -ENOMEM or the reactor's -errno. */
int bufpool_register(struct bufpool *bp, struct reactor *r)
{
	struct iovec *iov;
	unsigned i;
	int ret;

	if (bp->registered)
		return -EALREADY;
	iov = calloc(bp->nregions, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	for (i = 0; i < bp->nregions; i++) {
		iov[i].iov_base = bp->regions[i].base;
		iov[i].iov_len = bp->regions[i].len;
	}
	ret = reactor_register_buffers(r, iov, bp->nregions);
	free(iov);
	if (ret == 0)
		bp->registered = true;
	return ret;
}

size_t bufpool_max_size(const struct bufpool *bp)
{
	return bp->regions[bp->nregions - 1].size;
}

unsigned bufpool_free_count(const struct bufpool *bp, size_t len)
{
	int c = bufpool_class_for(bp, len);

	return c < 0 ? 0 : bp->regions[c].nfree;
}
