/* SPDX-License-Identifier: MIT */
/*
 * bdev_fault: a bdev that wraps another one and misbehaves on purpose, for
 * tests of everything above the block layer (SCSI, replication):
 *
 *   - fails the Nth I/O from now (optionally every one after it) with an
 *     errno, without passing it down;
 *   - delays every completion by a fixed time;
 *   - models a volatile write cache that loses power: every WRITE (without
 *     FUA), DISCARD and WRITE_ZEROES first saves what it overwrites in an
 *     undo journal; FLUSH makes the writes completed before it durable (drops
 *     their undo records); a FUA write is durable at once. A power cut writes
 *     the saved data back, newest first, so the inner bdev holds exactly what
 *     a power loss would have left, then fails all I/O until power_on.
 *   - counts what reaches it per kind (FUA writes and FLUSHes included).
 *
 * When a write does not fit the journal (journal_bytes), every completed
 * write is taken as written back by the cache (durable), as a real disk may
 * do at any time, and the journal starts over; a write larger than the whole
 * journal passes through as durable. stats.journal_overflows counts both.
 *
 * Reactor thread only, one reactor per bdev_fault.
 */
#ifndef TARGET_IO_BDEV_FAULT_H
#define TARGET_IO_BDEV_FAULT_H

#include <stdbool.h>
#include <stdint.h>
#include "target/io/bdev.h"

#define BDEV_FAULT_QUEUE_DEPTH 128 /* ios in flight at once; more get -EBUSY */

struct bdev_fault_stats {
	uint64_t reads;
	uint64_t writes;
	uint64_t fua_writes;
	uint64_t flushes;
	uint64_t discards;
	uint64_t write_zeroes;
	uint64_t failed;	    /* completed with an injected error */
	uint64_t journal_overflows; /* writes taken as durable for lack of journal space */
};

/*
 * Wraps inner (taken over: closed with the wrapper). journal_bytes sizes the
 * undo journal; 0 turns the power-cut model off (writes pass straight through).
 * 0 or -errno. Any thread.
 */
int bdev_fault_create(struct bdev **out, struct bdev *inner, uint32_t journal_bytes);

/* Fails the nth matching I/O from now (1: the next one) with err (< 0);
 * op_mask is a set of (1u << BDEV_x), 0 meaning every op; sticky keeps failing
 * every matching I/O after it. nth 0 turns injection off. */
void bdev_fault_fail_at(struct bdev *b, uint64_t nth, uint32_t op_mask, int err, bool sticky);

/* Delays every completion by ns (0: none). */
void bdev_fault_set_delay(struct bdev *b, uint64_t ns);

/*
 * Power cut: from now on every submit fails with -EIO; the writes not yet
 * durable are undone on the inner bdev, which is then flushed, and done(arg,
 * res) runs on r (res 0 or the first -errno). Quiesce I/O first: an io still
 * in flight is not undone. 0 or -errno (-EBUSY: a power cut is running).
 */
int bdev_fault_power_cut(struct bdev *b, struct reactor *r, void (*done)(void *arg, int res),
			 void *arg);
/* Power is back: I/O is accepted again. */
void bdev_fault_power_on(struct bdev *b);

void bdev_fault_get_stats(const struct bdev *b, struct bdev_fault_stats *st);

#endif
