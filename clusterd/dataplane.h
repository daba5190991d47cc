/* SPDX-License-Identifier: MIT */
/*
 * The data plane of a cluster node: the iSCSI target on its own reactor
 * thread. The control thread talks to it only through reactor messages
 * (ALUA tables in, stop) and reads a statistics snapshot it publishes.
 */
#ifndef CLUSTERD_DATAPLANE_H
#define CLUSTERD_DATAPLANE_H

#include <stddef.h>
#include <stdint.h>
#include "target/config.h"
#include "target/iscsi/iscsi_tgt.h"

struct dataplane;
struct alua_table;

/*
 * Starts the reactor thread, opens the LUNs, applies the initial ALUA tables
 * (initial[i] for LUN i; every LUN must have one) and only then opens the
 * portals. Returns 0 once the target serves, or -errno with a sentence in
 * err. cfg must outlive the data plane. Control thread.
 */
int dataplane_start(struct dataplane **out, const struct tgt_config *cfg,
		    const struct alua_table *initial, unsigned ninitial, char *err, size_t errlen);

/* Queues an ALUA table for LUN index lun (applied in order on the reactor). Control thread. */
int dataplane_set_alua(struct dataplane *dp, unsigned lun, const struct alua_table *tab);

#define DATAPLANE_MAX_SESSIONS 64

/* Last snapshot (refreshed every 500 ms by the reactor thread). Any thread. */
void dataplane_stats(struct dataplane *dp, struct iscsi_tgt_stats *st);
/* Sessions of the last snapshot: copies up to max, returns how many. Any thread. */
unsigned dataplane_sessions(struct dataplane *dp, struct iscsi_sess_info *out, unsigned max);

/*
 * Graceful stop (initiators asked to log out, in-flight commands complete,
 * grace_ms at most), then joins the thread and frees everything.
 * Control thread.
 */
void dataplane_stop(struct dataplane *dp, uint32_t grace_ms);

#endif
