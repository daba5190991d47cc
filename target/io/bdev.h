/* SPDX-License-Identifier: MIT */
/*
 * The asynchronous block device interface the SCSI layer calls.
 *
 * A bdev is a byte-addressed store with a logical block size. I/O is queued
 * with bdev_submit() on the caller's reactor and completes exactly once through
 * io->cb, never inside bdev_submit(). Implementations: bdev_file (io_uring on a
 * file or block device), bdev_mem (RAM, tests), later the replicated device.
 *
 * Request state machine (one bdev_io):
 *
 *     caller fills op/offset/len/buf/cb --bdev_submit()--> QUEUED
 *     QUEUED --(device completes, possibly in several pieces)--> cb(io, res)
 *
 * res is 0 when the whole range was done, or -errno (-EIO, -ENOSPC,
 * -ECANCELED at shutdown). Short transfers are retried inside the bdev.
 */
#ifndef TARGET_IO_BDEV_H
#define TARGET_IO_BDEV_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/reactor.h"

struct bdev;
struct bdev_io;

enum bdev_op {
	BDEV_READ,
	BDEV_WRITE,
	BDEV_FLUSH,	   /* make every completed write durable; offset/len ignored */
	BDEV_DISCARD,	   /* deallocate; later reads return zeroes (unmap) */
	BDEV_WRITE_ZEROES, /* make the range read as zeroes, allocation optional */
};

#define BDEV_F_FUA (1u << 0) /* the write is durable when it completes */

struct bdev_io {
	struct bdev *bdev;
	uint8_t op;	   /* enum bdev_op */
	uint8_t flags;	   /* BDEV_F_* */
	int16_t buf_index; /* registered buffer region of buf, or -1 */
	uint32_t len;	   /* bytes; multiple of the block size */
	uint64_t offset;   /* bytes; multiple of the block size */
	void *buf;	   /* READ/WRITE only; aligned to bdev->buf_align */
	void (*cb)(struct bdev_io *io, int res);
	void *priv; /* the caller's */

	/* Owned by the implementation while queued. */
	struct reactor *reactor;
	struct reactor_op rop;
	uint32_t done;
	uint8_t stage;
	struct list_node node; /* the implementation's queues (completions, waiters) */
};

struct bdev_ops {
	const char *name;
	/* Queues io on r; 0 or -errno (nothing queued, cb will not run). */
	int (*submit)(struct bdev *b, struct reactor *r, struct bdev_io *io);
	void (*close)(struct bdev *b);
	/*
	 * Optional (NULL: every block reads as mapped). Provisioning status of the
	 * blocks from offset (a multiple of the block size, < size): returns 1 when
	 * they are mapped, 0 when deallocated, or -errno, and stores in *run how
	 * many bytes from offset (a multiple of the block size, >= one block,
	 * <= len) share that status. Synchronous and may block briefly (bdev_file
	 * asks the file system with lseek SEEK_DATA/SEEK_HOLE): meant only for the
	 * rare GET LBA STATUS command. Reactor thread.
	 */
	int (*map_status)(struct bdev *b, uint64_t offset, uint64_t len, uint64_t *run);
};

struct bdev {
	const struct bdev_ops *ops;
	uint64_t size;	     /* bytes, a multiple of block_size */
	uint32_t block_size; /* logical block size: 512 or 4096 */
	uint32_t buf_align;  /* buffer and I/O alignment required (4096 with O_DIRECT) */
	bool read_only;
	bool direct;	     /* O_DIRECT in use */
	bool can_discard;    /* DISCARD really deallocates (thin provisioning) */
	bool discard_zeroes; /* reads after DISCARD return zeroes */
	bool volatile_cache; /* writes need FLUSH/FUA to be durable */
	char name[64];	     /* for logs: backing path or label */
};

static inline int bdev_submit(struct bdev *b, struct reactor *r, struct bdev_io *io)
{
	io->bdev = b;
	return b->ops->submit(b, r, io);
}

/* Provisioning status of [offset, offset + len): see bdev_ops.map_status. */
static inline int bdev_map_status(struct bdev *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	if (!b->ops->map_status) {
		*run = len;
		return 1;
	}
	return b->ops->map_status(b, offset, len, run);
}

static inline void bdev_close(struct bdev *b)
{
	if (b)
		b->ops->close(b);
}

struct bdev_file_opts {
	uint64_t size; /* create or extend to this size when the file is new (0: must exist) */
	uint32_t block_size; /* 512 or 4096 */
	bool read_only;
	bool no_direct; /* force buffered I/O */
};

/*
 * Opens (creating if missing and opts->size > 0) a regular file or block
 * device. Uses O_DIRECT when the file system accepts it, buffered I/O otherwise.
 * On error returns -errno and writes a sentence naming the path and the cause
 * into err (errlen bytes).
 */
int bdev_file_open(struct bdev **out, const char *path, const struct bdev_file_opts *opts,
		   char *err, size_t errlen);

/* A RAM-backed bdev of size bytes (zeroed), for tests. */
int bdev_mem_create(struct bdev **out, uint64_t size, uint32_t block_size);

#endif
