/* SPDX-License-Identifier: MIT */
/*
 * Buffer pool: fixed-size, page-aligned buffers in a few size classes, carved
 * out of one mapping at start-up, so the I/O path never allocates.
 *
 * Each class is one contiguous region; bufpool_register() hands the regions to
 * a reactor as registered buffers, and bufpool_index() gives the buf_index to
 * use with reactor_read()/reactor_write() (buffer region = class).
 *
 * Single-threaded: one pool per reactor thread.
 */
#ifndef LIB_BUFPOOL_H
#define LIB_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

struct reactor;
struct bufpool;

struct bufpool_class {
	size_t size;	/* bytes per buffer; a multiple of 4096 */
	unsigned count; /* buffers in the class */
};

/*
 * Classes must be given in strictly increasing size. Start-up only: maps and
 * populates every class now. Returns 0, -EINVAL (bad classes), -EOVERFLOW,
 * -ENOMEM or mmap's -errno.
 */
int bufpool_create(struct bufpool **out, const struct bufpool_class *classes, unsigned nclasses);
void bufpool_destroy(struct bufpool *bp);

/*
 * Returns a buffer of at least len bytes from the smallest class that fits and
 * has one free, or NULL (pool exhausted or len larger than the biggest class).
 * *cap (if not NULL) receives the buffer's real size.
 */
void *bufpool_get(struct bufpool *bp, size_t len, size_t *cap);
/*
 * Returns buf to its class (O(1)); NULL is a no-op. A pointer that is not the
 * start of one of this pool's buffers, or a buffer already free, is logged
 * (rate-limited) and ignored, so the free lists stay exact. Under ASan, free
 * buffers are poisoned.
 */
void bufpool_put(struct bufpool *bp, void *buf);

/*
 * buf_index for fixed I/O of any address inside this pool's buffers: the class
 * number, or -1 if the pool is not registered or buf is not from it.
 */
int bufpool_index(const struct bufpool *bp, const void *buf);
/*
 * Registers the class regions with r; buf_index = class number. Once per pool,
 * on r's thread. Returns 0, -EALREADY, or the reactor's -errno. Destroy r
 * before the pool: the kernel keeps the pages pinned until then.
 */
int bufpool_register(struct bufpool *bp, struct reactor *r);

/* Largest buffer the pool can hand out. */
size_t bufpool_max_size(const struct bufpool *bp);
/* Free buffers in the class that would serve len (for tests and status). */
unsigned bufpool_free_count(const struct bufpool *bp, size_t len);

#endif
