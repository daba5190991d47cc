/* SPDX-License-Identifier: MIT */
/*
 * The iSCSI target service: listening portals, sessions, connections, and the
 * glue between the PDU layer and the SCSI layer.
 *
 * One reactor thread runs the whole service (the data plane). The control
 * side (main, later clusterd) talks to it only through reactor messages.
 */
#ifndef TARGET_ISCSI_ISCSI_TGT_H
#define TARGET_ISCSI_ISCSI_TGT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/reactor.h"
#include "target/config.h"

struct iscsi_tgt;
struct scsi_tgt;

/*
 * Opens every LU's backing store, builds the SCSI target and binds the
 * portals (listening sockets are open when this returns, so a caller can
 * report a busy port at once). 0 or -errno with a sentence in err.
 * Reactor thread (before reactor_run).
 */
int iscsi_tgt_create(struct iscsi_tgt **out, const struct tgt_config *cfg, struct reactor *r,
		     char *err, size_t errlen);

/* Starts accepting connections. 0 or -errno. Reactor thread. */
int iscsi_tgt_start(struct iscsi_tgt *t);

/*
 * Graceful stop: closes the portals, asks every initiator to log out (Async
 * Message, event 1), lets in-flight commands complete, closes what remains
 * after grace_ms, then calls done(arg) on the reactor thread.
 */
void iscsi_tgt_shutdown(struct iscsi_tgt *t, uint32_t grace_ms, void (*done)(void *arg), void *arg);

/* Frees everything; only after shutdown's done() ran (or before start). */
void iscsi_tgt_destroy(struct iscsi_tgt *t);

struct scsi_tgt *iscsi_tgt_scsi(struct iscsi_tgt *t);

struct iscsi_tgt_stats {
	uint32_t sessions;
	uint32_t connections;
	uint64_t commands;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t rejects;
};
void iscsi_tgt_get_stats(const struct iscsi_tgt *t, struct iscsi_tgt_stats *st);

/* One logged-in session, for status displays. */
struct iscsi_sess_info {
	char initiator[TGT_NAME_MAX];
	char isid[13]; /* 12 hex digits */
	uint16_t tsih;
	bool discovery;
	char portal[72]; /* "addr:port" of the portal its connection came in on */
};

/* Copies up to max sessions into out; returns how many. Reactor thread. */
unsigned iscsi_tgt_sessions(const struct iscsi_tgt *t, struct iscsi_sess_info *out, unsigned max);

#endif
