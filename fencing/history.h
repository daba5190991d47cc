/* SPDX-License-Identifier: MIT */
/*
 * Fence history: who fenced whom, with which agent and action, when, how it
 * ended and why. A bounded ring of the last FENCE_HISTORY_MAX events (the
 * oldest is dropped), shown by `clusterctl status` (text and JSON) and kept
 * across daemon restarts in a small file written crash-safely.
 *
 * One event per fence request the cluster made (one call of fence_run(); its
 * internal retries are counted in .attempts and logged by the runner). An
 * event is added when the request starts (PENDING) and finished when the
 * runner's callback reports; peers' events (replicated over CPG by the
 * executor) may be added already finished.
 *
 * Times are wall-clock milliseconds since the Unix epoch, supplied by the
 * caller (the module reads no clock, so it is deterministic under test).
 *
 * File format (fence_history_save/load), one header line then a JSON body:
 *
 *   clusterd-fence-history 1 <body length> <crc32c of the body, 8 hex>\n
 *   {"next_id": N, "events": [ {event}, ... oldest first ]}
 *
 * Saved as path.tmp, fsync()ed, renamed over path, then the directory is
 * fsync()ed: after a crash at any point the file is the old or the new
 * history, never a mix. A torn or corrupted file (wrong length or CRC, bad
 * JSON) is refused with -EBADMSG rather than half-read.
 *
 * Thread: a struct fence_history belongs to one thread (the control thread);
 * the functions are not locked. save/load do blocking file I/O on a file of
 * at most ~40 KiB: call them at start-up and after a fence event ends, not on
 * the data path.
 */
#ifndef FENCING_HISTORY_H
#define FENCING_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "fencing/fence.h"

#define FENCE_HISTORY_MAX	   64
#define FENCE_NAME_MAX		   64 /* node and agent names, '\0' included */
#define FENCE_HISTORY_FILE_VERSION 1

enum fence_ev_status {
	FENCE_EV_PENDING,
	FENCE_EV_SUCCESS,
	FENCE_EV_FAILED,
};

struct fence_event {
	uint64_t id;		       /* assigned by fence_history_add(), from 1 */
	uint32_t executor_id;	       /* who: the node that ran the agent */
	uint32_t target_id;	       /* whom */
	char executor[FENCE_NAME_MAX]; /* node names */
	char target[FENCE_NAME_MAX];
	char agent[FENCE_NAME_MAX]; /* e.g. "fence_ipmilan" */
	enum fence_action action;
	enum fence_ev_status status;
	uint32_t attempts;
	int64_t start_ms;	       /* wall clock, ms since the epoch */
	int64_t end_ms;		       /* 0 while pending (or unknown) */
	char reason[FENCE_REASON_MAX]; /* why it failed; "" on success */
};

struct fence_history {
	struct fence_event ev[FENCE_HISTORY_MAX];
	uint32_t first; /* slot of the oldest event */
	uint32_t count;
	uint64_t next_id;
};

/* What a view shows (crm_mon --fence-history levels 1 and 2). */
enum fence_history_level {
	FENCE_HISTORY_NONE = 0,
	FENCE_HISTORY_FAILED = 1, /* failed and pending events */
	FENCE_HISTORY_ALL = 2,	  /* successes too */
};

void fence_history_init(struct fence_history *h);

/*
 * Appends a copy of *ev (strings cut to fit), dropping the oldest event when
 * full, and returns its new id (ev->id is ignored). Never fails.
 */
uint64_t fence_history_add(struct fence_history *h, const struct fence_event *ev);

/*
 * Ends a pending event: status SUCCESS or FAILED, end time, attempts, reason
 * (NULL or "" on success). Returns 0, -ENOENT when the id is not in the ring
 * (rotated out, or never there), -EALREADY when it was not pending, -EINVAL
 * for status PENDING.
 */
int fence_history_finish(struct fence_history *h, uint64_t id, enum fence_ev_status status,
			 int64_t end_ms, uint32_t attempts, const char *reason);

static inline uint32_t fence_history_count(const struct fence_history *h)
{
	return h->count;
}

/* The i-th event, 0 = oldest; NULL past the end. */
const struct fence_event *fence_history_at(const struct fence_history *h, uint32_t i);
/* The event with this id, or NULL. */
const struct fence_event *fence_history_find(const struct fence_history *h, uint64_t id);
/* The newest event targeting node target_id with this status, or NULL. */
const struct fence_event *fence_history_last(const struct fence_history *h, uint32_t target_id,
					     enum fence_ev_status status);

/* "pending", "success", "failed". */
const char *fence_ev_status_name(enum fence_ev_status s);

/*
 * One line of text (no '\n'), e.g.
 *   off of node1 by node2 with fence_netns: success after 1 attempt,
 *       2026-01-05T10:00:01Z, took 0.4 s
 *   off of node1 by node2 with fence_netns: FAILED after 3 attempts,
 *       2026-01-05T10:00:04Z, took 184.2 s: agent fence_netns off timed out ...
 *   off of node1 by node2 with fence_netns: pending since 2026-01-05T10:00:01Z
 * (each on one line). Returns the length snprintf() would have written.
 */
int fence_event_format(const struct fence_event *ev, char *buf, size_t len);

/*
 * The events `level` selects, newest first, one per line each ending in
 * '\n'. Returns the length needed (like snprintf(); buf holds a truncated
 * text when that is >= len).
 */
int fence_history_format(const struct fence_history *h, enum fence_history_level level, char *buf,
			 size_t len);

/*
 * JSON of one event: {"id", "action", "target", "target_id", "executor",
 * "executor_id", "agent", "status", "attempts", "start_ms", "end_ms" (null
 * while pending), "start", "end" (ISO 8601 UTC strings or null), "reason"}.
 * Returns a new object (caller puts it) or NULL on allocation failure.
 */
struct json_object *fence_event_to_json(const struct fence_event *ev);
/* An array of the events `level` selects, newest first; NULL on allocation failure. */
struct json_object *fence_history_to_json(const struct fence_history *h,
					  enum fence_history_level level);

/*
 * The file image described above into a malloc()ed buffer. Returns 0 or
 * -ENOMEM.
 */
int fence_history_serialize(const struct fence_history *h, char **out, size_t *out_len);
/*
 * Reads a file image. Returns 0 (h replaced), -EBADMSG when the header,
 * length, CRC, JSON or a field is wrong (h untouched). Events still pending in
 * the image become FAILED, "interrupted: clusterd stopped before the agent
 * finished", end 0: nobody is waiting for their agent any more.
 */
int fence_history_parse(struct fence_history *h, const char *buf, size_t len);

/* Writes h to path crash-safely (see above). Returns 0 or -errno. */
int fence_history_save(const struct fence_history *h, const char *path);
/*
 * Loads path into h. Returns 0; -ENOENT when there is no file (h is empty:
 * first start); -EBADMSG when it is torn or corrupt (h is empty; the caller
 * should say so; the next save replaces the file); another -errno when it
 * cannot be read (h is empty).
 */
int fence_history_load(struct fence_history *h, const char *path);

#endif
