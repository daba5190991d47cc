// SPDX-License-Identifier: MIT
/*
 * Watchdog self-fencing (see watchdog.h): the pure decision, the device
 * (real or test double) and the feeder thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "fencing/watchdog.h"
#include "lib/log.h"

/* ---- pure core ---- */

void watchdog_core_init(struct watchdog_core *c, uint32_t stall_ms)
{
	memset(c, 0, sizeof(*c));
	c->state = WATCHDOG_IDLE;
	c->stall_ms = stall_ms;
}

static void watchdog_core_enter(struct watchdog_core *c, enum watchdog_state s,
				enum watchdog_why why, uint64_t now_ms)
{
	c->state = s;
	c->why = why;
	c->since_ms = now_ms;
}

enum watchdog_act watchdog_core_tick(struct watchdog_core *c, uint64_t now_ms, bool quorate,
				     uint64_t heartbeat_ms)
{
	/* A heartbeat stamped after now (another thread, same clock) is fresh. */
	bool healthy = heartbeat_ms >= now_ms || now_ms - heartbeat_ms <= c->stall_ms;

	switch (c->state) {
	case WATCHDOG_IDLE:
		return quorate && healthy ? WATCHDOG_ACT_OPEN : WATCHDOG_ACT_NONE;
	case WATCHDOG_ARMED:
		if (!quorate) {
			watchdog_core_enter(c, WATCHDOG_EXPIRING, WATCHDOG_WHY_QUORUM, now_ms);
			return WATCHDOG_ACT_STOP;
		}
		if (!healthy) {
			watchdog_core_enter(c, WATCHDOG_EXPIRING, WATCHDOG_WHY_STALL, now_ms);
			return WATCHDOG_ACT_STOP;
		}
		return WATCHDOG_ACT_FEED;
	case WATCHDOG_EXPIRING: /* latched: a committed self-fence is never undone */
	case WATCHDOG_CLOSED:
		break;
	}
	return WATCHDOG_ACT_NONE;
}

void watchdog_core_opened(struct watchdog_core *c, uint64_t now_ms)
{
	if (c->state == WATCHDOG_IDLE)
		watchdog_core_enter(c, WATCHDOG_ARMED, WATCHDOG_WHY_NONE, now_ms);
}

bool watchdog_core_close(struct watchdog_core *c, uint64_t now_ms)
{
	if (c->state != WATCHDOG_ARMED)
		return false;
	watchdog_core_enter(c, WATCHDOG_CLOSED, WATCHDOG_WHY_NONE, now_ms);
	return true;
}

const char *watchdog_state_name(enum watchdog_state s)
{
	switch (s) {
	case WATCHDOG_IDLE:
		return "idle";
	case WATCHDOG_ARMED:
		return "armed";
	case WATCHDOG_EXPIRING:
		return "expiring";
	case WATCHDOG_CLOSED:
		return "closed";
	}
	return "?";
}

const char *watchdog_why_name(enum watchdog_why w)
{
	switch (w) {
	case WATCHDOG_WHY_NONE:
		return "";
	case WATCHDOG_WHY_QUORUM:
		return "quorum lost";
	case WATCHDOG_WHY_STALL:
		return "control loop stalled";
	}
	return "?";
}

/* ---- device and feeder thread ---- */

struct watchdog {
	char *device;
	uint32_t timeout_s;
	uint32_t interval_ms;
	uint32_t stall_ms;
	bool is_double;

	_Atomic uint64_t heartbeat_ms;
	atomic_bool quorate;

	pthread_t thread;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	bool stop;
	struct watchdog_core core;
	int fd;
	uint32_t took_timeout_s;
	uint64_t feeds;
	int last_error;

	qb_loop_t *loop;
	qb_loop_timer_handle beat;
	bool beat_armed;
};

static uint64_t watchdog_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A write to the device; a FIFO without reader gives EPIPE, never SIGPIPE. */
static int watchdog_write(int fd, const char *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno == EPIPE) {
		/* SIGPIPE is blocked in the feeder thread: consume the pending one. */
		sigset_t pipe_set;
		struct timespec zero = {0, 0};

		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigtimedwait(&pipe_set, NULL, &zero);
		return -EPIPE;
	}
	return n < 0 ? -errno : -EIO;
}

static int watchdog_device_open(struct watchdog *w)
{
	int fd, t = (int)w->timeout_s, ret = 0;
	char msg[32];

	/* Non-blocking: a FIFO without a reader fails (ENXIO) instead of hanging. */
	fd = open(w->device, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (w->is_double) {
		snprintf(msg, sizeof(msg), "T%u\n", w->timeout_s);
		ret = watchdog_write(fd, msg, strlen(msg));
	} else if (ioctl(fd, WDIOC_SETTIMEOUT, &t)) {
		ret = -errno;
	}
	if (ret) {
		/* A device we could not configure is closed armed: no magic close. */
		close(fd);
		return ret;
	}
	w->took_timeout_s = w->is_double ? w->timeout_s : (uint32_t)t;
	if (w->took_timeout_s != w->timeout_s)
		log_warn("watchdog %s: the driver took a timeout of %u s instead of %u s",
			 w->device, w->took_timeout_s, w->timeout_s);
	w->fd = fd;
	return 0;
}

static int watchdog_device_feed(struct watchdog *w)
{
	int dummy = 0;

	if (w->is_double)
		return watchdog_write(w->fd, "k", 1);
	return ioctl(w->fd, WDIOC_KEEPALIVE, &dummy) ? -errno : 0;
}

/* Closes the device; with magic: "V" first, so the driver disarms. */
static void watchdog_device_close(struct watchdog *w, bool magic)
{
	if (w->fd < 0)
		return;
	if (magic && watchdog_write(w->fd, "V", 1))
		log_err("watchdog %s: magic close failed: the watchdog stays armed", w->device);
	close(w->fd);
	w->fd = -1;
}

static void watchdog_note_error(struct watchdog *w, int err, const char *what)
{
	if (err != w->last_error)
		log_err("watchdog %s: %s: %s", w->device, what, strerror(-err));
	w->last_error = err;
}

/* One tick of the feeder, under w->lock. */
static void watchdog_tick(struct watchdog *w)
{
	uint64_t now = watchdog_now_ms();
	enum watchdog_act act = watchdog_core_tick(&w->core, now, atomic_load(&w->quorate),
						   atomic_load(&w->heartbeat_ms));
	int ret;

	switch (act) {
	case WATCHDOG_ACT_NONE:
		break;
	case WATCHDOG_ACT_OPEN:
		ret = watchdog_device_open(w);
		if (ret) {
			watchdog_note_error(w, ret, "cannot open (arm)");
			break;
		}
		watchdog_core_opened(&w->core, now);
		log_notice("watchdog %s: armed, timeout %u s, fed every %u ms while quorate "
			   "and the control loop beats within %u ms",
			   w->device, w->took_timeout_s, w->interval_ms, w->stall_ms);
		/* fall through: the first keepalive right away */
	case WATCHDOG_ACT_FEED:
		ret = watchdog_device_feed(w);
		if (ret)
			watchdog_note_error(w, ret, "keepalive failed");
		else
			w->feeds++;
		break;
	case WATCHDOG_ACT_STOP:
		qb_log(LOG_CRIT,
		       "watchdog %s: %s: no more keepalives, this node resets within %u s "
		       "(self-fence)",
		       w->device, watchdog_why_name(w->core.why), w->took_timeout_s);
		break;
	}
}

static void *watchdog_thread(void *arg)
{
	struct watchdog *w = arg;
	sigset_t pipe_set;
	struct timespec ts;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		watchdog_tick(w);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += w->interval_ms / 1000;
		ts.tv_nsec += (long)(w->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int watchdog_check(const struct watchdog_config *cfg, bool *is_double)
{
	struct stat st;
	uint32_t interval, stall, t_ms;

	if (!cfg->device || !cfg->device[0] || cfg->timeout_s < WATCHDOG_TIMEOUT_MIN_S ||
	    cfg->timeout_s > WATCHDOG_TIMEOUT_MAX_S)
		return -EINVAL;
	t_ms = cfg->timeout_s * 1000;
	interval = cfg->interval_ms ? cfg->interval_ms : t_ms / 4;
	stall = cfg->stall_ms ? cfg->stall_ms : t_ms / 2;
	if (interval == 0 || interval >= t_ms || stall + interval > t_ms)
		return -EINVAL;
	if (stat(cfg->device, &st))
		return -errno;
	if (S_ISCHR(st.st_mode))
		*is_double = false;
	else if (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode))
		*is_double = true;
	else
		return -ENOTSUP;
	return 0;
}

static int watchdog_sync_init(struct watchdog *w)
{
	pthread_condattr_t ca;
	int ret;

	ret = pthread_condattr_init(&ca);
	if (ret)
		return -ret;
	ret = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!ret)
		ret = pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (ret)
		return -ret;
	ret = pthread_mutex_init(&w->lock, NULL);
	if (ret) {
		pthread_cond_destroy(&w->wake);
		return -ret;
	}
	return 0;
}

int watchdog_create(struct watchdog **out, const struct watchdog_config *cfg)
{
	struct watchdog *w;
	bool is_double = false;
	int ret = watchdog_check(cfg, &is_double);

	if (ret)
		return ret;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->device = strdup(cfg->device);
	if (!w->device) {
		ret = -ENOMEM;
		goto err_free;
	}
	w->timeout_s = cfg->timeout_s;
	w->took_timeout_s = cfg->timeout_s;
	w->interval_ms = cfg->interval_ms ? cfg->interval_ms : cfg->timeout_s * 1000 / 4;
	w->stall_ms = cfg->stall_ms ? cfg->stall_ms : cfg->timeout_s * 1000 / 2;
	w->is_double = is_double;
	w->fd = -1;
	atomic_store(&w->heartbeat_ms, watchdog_now_ms());
	atomic_store(&w->quorate, false);
	watchdog_core_init(&w->core, w->stall_ms);
	ret = watchdog_sync_init(w);
	if (ret)
		goto err_free;
	ret = -pthread_create(&w->thread, NULL, watchdog_thread, w);
	if (ret)
		goto err_sync;
	if (is_double)
		log_notice("watchdog %s: a %s, used as the watchdog TEST DOUBLE (no reset here)",
			   w->device, "FIFO or file");
	*out = w;
	return 0;

err_sync:
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
err_free:
	free(w->device);
	free(w);
	return ret;
}

void watchdog_heartbeat(struct watchdog *w)
{
	atomic_store(&w->heartbeat_ms, watchdog_now_ms());
}

void watchdog_set_quorate(struct watchdog *w, bool quorate)
{
	bool was = atomic_exchange(&w->quorate, quorate);

	if (was != quorate) {
		/* Act now rather than at the next tick: quorum loss is urgent. */
		pthread_mutex_lock(&w->lock);
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
	}
}

static void watchdog_beat(void *data)
{
	struct watchdog *w = data;

	watchdog_heartbeat(w);
	w->beat_armed = qb_loop_timer_add(w->loop, QB_LOOP_HIGH,
					  (uint64_t)(w->stall_ms / 4 ?: 1) * 1000000ULL, w,
					  watchdog_beat, &w->beat) == 0;
	if (!w->beat_armed)
		log_err("watchdog %s: cannot re-arm the heartbeat timer: the loop will look "
			"stalled",
			w->device);
}

int watchdog_loop_attach(struct watchdog *w, qb_loop_t *loop)
{
	int ret;

	w->loop = loop;
	watchdog_heartbeat(w);
	ret = qb_loop_timer_add(loop, QB_LOOP_HIGH, (uint64_t)(w->stall_ms / 4 ?: 1) * 1000000ULL,
				w, watchdog_beat, &w->beat);
	w->beat_armed = ret == 0;
	return ret;
}

void watchdog_get_status(struct watchdog *w, struct watchdog_status *st)
{
	pthread_mutex_lock(&w->lock);
	st->state = w->core.state;
	st->why = w->core.why;
	st->since_ms = w->core.since_ms;
	st->timeout_s = w->took_timeout_s;
	st->feeds = w->feeds;
	st->last_error = w->last_error;
	st->is_double = w->is_double;
	pthread_mutex_unlock(&w->lock);
}

void watchdog_destroy(struct watchdog *w)
{
	bool magic;

	if (!w)
		return;
	if (w->loop && w->beat_armed)
		qb_loop_timer_del(w->loop, w->beat);
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);

	magic = watchdog_core_close(&w->core, watchdog_now_ms());
	if (w->core.state == WATCHDOG_EXPIRING)
		qb_log(LOG_CRIT, "watchdog %s: closed while expiring (%s): the reset still comes",
		       w->device, watchdog_why_name(w->core.why));
	else if (magic)
		log_notice("watchdog %s: disarmed (magic close)", w->device);
	watchdog_device_close(w, magic);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->device);
	free(w);
}
