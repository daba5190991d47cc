/* SPDX-License-Identifier: MIT */
/*
 * Watchdog self-fencing: a node that loses quorum, or whose control loop
 * stalls, stops feeding a watchdog device and is reset by it within the
 * watchdog timeout. Peers can then count on "silent for timeout + margin
 * means reset" (sbd's diskless mode, Pacemaker's fencing-watchdog-timeout).
 *
 * Who feeds: a small feeder thread wakes every interval_ms and feeds the
 * device only while BOTH
 *   - the node is quorate (watchdog_set_quorate(), from the quorum callback),
 *   - the control loop is alive: its heartbeat (watchdog_heartbeat(), from a
 *     recurring timer on the control loop, see watchdog_loop_attach()) is at
 *     most stall_ms old.
 * A thread instead of a loop timer so that the keepalive cadence does not
 * depend on loop latency below stall_ms, and so that a stall is judged by its
 * own threshold rather than by the hardware timeout alone.
 *
 * States (the decision is the pure watchdog_core_tick()):
 *
 *   IDLE --quorate && heartbeat fresh: open the device (arms it)--> ARMED
 *   ARMED --every interval: keepalive
 *   ARMED --quorum lost, or heartbeat older than stall_ms--> EXPIRING
 *   ARMED --watchdog_destroy(): magic close ('V', then close)--> CLOSED
 *   EXPIRING: never fed again (latched): the reset follows within timeout_s.
 *             watchdog_destroy() closes WITHOUT the magic character, so a
 *             stopping daemon cannot cancel a committed self-fence.
 *
 * The device is opened only at the first quorum: Linux arms a watchdog on
 * open, and a node that never had quorum never held a role to protect (and
 * would otherwise reset while waiting for its peer at cluster start).
 *
 * Devices:
 *   - a character device (/dev/watchdog, /dev/watchdogN): WDIOC_SETTIMEOUT
 *     at open (the driver may round it; the value it took is reported),
 *     WDIOC_KEEPALIVE to feed, "V" then close to disarm (magic close; a
 *     driver built with nowayout never disarms);
 *   - the test double: a FIFO (or a regular file) given as the device, since
 *     this machine has no watchdog. Same life cycle, bytes instead of ioctls:
 *     "T<seconds>\n" once at open (SETTIMEOUT), "k" per keepalive, "V" before
 *     a magic close. A FIFO is opened non-blocking: -ENXIO while no double
 *     reads it. tests/fencing/watchdog-double is such a reader: it prints
 *     "WOULD RESET" when no keepalive arrives within the timeout or the
 *     device is closed without "V". docs/fencing.md describes it.
 *
 * Thread rules: watchdog_heartbeat() and watchdog_set_quorate() may be called
 * from any thread; create/destroy/loop_attach on the control thread.
 */
#ifndef FENCING_WATCHDOG_H
#define FENCING_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>
#include <qb/qbloop.h>

#define WATCHDOG_TIMEOUT_MIN_S 1
#define WATCHDOG_TIMEOUT_MAX_S 3600

enum watchdog_state {
	WATCHDOG_IDLE,	   /* device not open yet: waiting for the first quorum */
	WATCHDOG_ARMED,	   /* open and fed */
	WATCHDOG_EXPIRING, /* open and no longer fed: reset within the timeout */
	WATCHDOG_CLOSED,   /* disarmed by a clean stop */
};

enum watchdog_why {
	WATCHDOG_WHY_NONE,
	WATCHDOG_WHY_QUORUM, /* quorum lost */
	WATCHDOG_WHY_STALL,  /* control loop heartbeat too old */
};

/* ---- the pure decision (no clock, no device; any thread) ---- */

enum watchdog_act {
	WATCHDOG_ACT_NONE,
	WATCHDOG_ACT_OPEN, /* open (arm) the device, then report watchdog_core_opened() */
	WATCHDOG_ACT_FEED, /* send a keepalive */
	WATCHDOG_ACT_STOP, /* feeding just stopped: log loudly, never feed again */
};

struct watchdog_core {
	enum watchdog_state state;
	enum watchdog_why why;
	uint32_t stall_ms;
	uint64_t since_ms; /* when state was entered */
};

void watchdog_core_init(struct watchdog_core *c, uint32_t stall_ms);
/*
 * One feeder tick at now_ms: quorate as last reported, heartbeat_ms the
 * control loop's last heartbeat (same clock). Returns what to do.
 */
enum watchdog_act watchdog_core_tick(struct watchdog_core *c, uint64_t now_ms, bool quorate,
				     uint64_t heartbeat_ms);
/* The device opened after WATCHDOG_ACT_OPEN: IDLE -> ARMED. */
void watchdog_core_opened(struct watchdog_core *c, uint64_t now_ms);
/* A clean stop: returns true (and goes CLOSED) only from ARMED; magic close then. */
bool watchdog_core_close(struct watchdog_core *c, uint64_t now_ms);

const char *watchdog_state_name(enum watchdog_state s);
const char *watchdog_why_name(enum watchdog_why w);

/* ---- the device and its feeder thread ---- */

struct watchdog;

struct watchdog_config {
	const char *device;   /* "/dev/watchdog", or a FIFO / regular file (test double) */
	uint32_t timeout_s;   /* reset this long after the last keepalive */
	uint32_t interval_ms; /* keepalive period; 0: timeout/4 */
	uint32_t stall_ms;    /* loop stalled when its heartbeat is older; 0: timeout/2 */
};

struct watchdog_status {
	enum watchdog_state state;
	enum watchdog_why why;
	uint64_t since_ms;  /* CLOCK_MONOTONIC ms when the state was entered */
	uint32_t timeout_s; /* as the device took it */
	uint64_t feeds;	    /* keepalives sent */
	int last_error;	    /* -errno of the last failed open/keepalive, or 0 */
	bool is_double;	    /* the device is a FIFO or a file, not a watchdog */
};

/*
 * Checks the configuration (timeout in [1, 3600] s, interval below the
 * timeout, stall_ms at most the timeout minus one interval, the device path
 * exists and is a character device, a FIFO or a regular file) and starts the
 * feeder thread in state IDLE. Returns 0, -EINVAL, -ENOENT (no such device),
 * -ENOTSUP (some other kind of file), -ENOMEM or a pthread error.
 */
int watchdog_create(struct watchdog **out, const struct watchdog_config *cfg);

/*
 * Stops the feeder thread and closes the device: with the magic close when
 * ARMED (a clean stop disarms), without it when EXPIRING (the reset still
 * comes). Detaches from the loop if attached. Control thread.
 */
void watchdog_destroy(struct watchdog *w);

/* The control loop is alive (stamps CLOCK_MONOTONIC now). Any thread. */
void watchdog_heartbeat(struct watchdog *w);
/* Quorum as votequorum last said. Any thread. */
void watchdog_set_quorate(struct watchdog *w, bool quorate);

/*
 * Adds a recurring timer to the control loop that calls watchdog_heartbeat()
 * every stall_ms/4: the loop's own liveness is what is measured. Returns 0 or
 * a libqb -errno. Control thread.
 */
int watchdog_loop_attach(struct watchdog *w, qb_loop_t *loop);

void watchdog_get_status(struct watchdog *w, struct watchdog_status *st);

#endif
