/* SPDX-License-Identifier: MIT */
#include <time.h>
#include "log.h"

void log_init(const char *ident, bool to_stderr, bool debug)
{
	qb_log_init(ident, LOG_DAEMON, debug ? LOG_DEBUG : LOG_INFO);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	if (to_stderr) {
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*",
				  debug ? LOG_DEBUG : LOG_INFO);
		qb_log_format_set(QB_LOG_STDERR, "%t %N[%P] %p: %b");
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	}
}

void log_fini(void)
{
	qb_log_fini();
}

bool log_rl_allow(struct log_rl *rl, uint32_t *suppressed)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec;
	if (now - rl->window_start_s >= LOG_RL_INTERVAL_S) {
		*suppressed = rl->suppressed;
		rl->window_start_s = now;
		rl->emitted = 0;
		rl->suppressed = 0;
	}
	if (rl->emitted < LOG_RL_BURST) {
		rl->emitted++;
		return true;
	}
	rl->suppressed++;
	return false;
}
