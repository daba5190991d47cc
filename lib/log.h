/* SPDX-License-Identifier: MIT */
/*
 * Logging: a thin layer over libqb's qb_log.
 *
 * log_*() lines name the object they are about first ("conn 127.0.0.1:5432: ..."),
 * carry no payload bytes, and on the data path go through log_rl_*(), which lets
 * at most LOG_RL_BURST lines per call site through every LOG_RL_INTERVAL_S
 * seconds and then reports how many it suppressed.
 */
#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>
#include <qb/qblog.h>

#define LOG_RL_BURST	  10
#define LOG_RL_INTERVAL_S 5

/*
 * Sets up qb_log: stderr target on (when to_stderr), syslog off, priority
 * threshold LOG_INFO or LOG_DEBUG. Call once from main before threads start.
 */
void log_init(const char *ident, bool to_stderr, bool debug);
void log_fini(void);

#define log_err(...)	qb_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	qb_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) qb_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	qb_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	qb_log(LOG_DEBUG, __VA_ARGS__)

struct log_rl {
	uint64_t window_start_s;
	uint32_t emitted;
	uint32_t suppressed;
};

/*
 * Returns true when the caller may log now. When a window with suppressed lines
 * ends, *suppressed receives their count so the caller can say so. Thread-safe
 * enough for logging: a race only lets one extra line through.
 */
bool log_rl_allow(struct log_rl *rl, uint32_t *suppressed);

#define log_rl(prio, fmt, ...)                                                                     \
	do {                                                                                       \
		static struct log_rl rl__;                                                         \
		uint32_t sup__ = 0;                                                                \
		if (log_rl_allow(&rl__, &sup__)) {                                                 \
			if (sup__)                                                                 \
				qb_log(prio, "(%u similar messages suppressed)", sup__);           \
			qb_log(prio, fmt, ##__VA_ARGS__);                                          \
		}                                                                                  \
	} while (0)

#define log_rl_warn(...)  log_rl(LOG_WARNING, __VA_ARGS__)
#define log_rl_info(...)  log_rl(LOG_INFO, __VA_ARGS__)
#define log_rl_debug(...) log_rl(LOG_DEBUG, __VA_ARGS__)

#endif
