/* SPDX-License-Identifier: MIT */
/*
 * Data plane thread: reactor + iSCSI target. Everything that touches the ring
 * (creating the target, queuing accepts, applying ALUA tables) happens on this
 * thread; the control thread only posts messages (reactor_post).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clusterd/dataplane.h"
#include "lib/compiler.h"
#include "lib/log.h"
#include "lib/reactor.h"
#include "target/scsi/scsi.h"

#define DP_SNAPSHOT_NS (500ull * 1000000ull)

struct dataplane {
	const struct tgt_config *cfg;
	const struct alua_table *initial;
	unsigned ninitial;
	pthread_t thread;
	sem_t ready;
	int start_rc;
	char *err;
	size_t errlen;
	struct reactor *reactor;
	struct iscsi_tgt *tgt;
	struct reactor_op snap_op;
	pthread_mutex_t snap_lock;
	struct iscsi_tgt_stats snap;
	struct iscsi_sess_info sess[DATAPLANE_MAX_SESSIONS];
	unsigned nsess;
	bool stopping;
	uint32_t grace_ms;
	struct reactor_msg stop_msg;
};

struct dp_alua_msg {
	struct reactor_msg m;
	struct dataplane *dp;
	unsigned lun;
	struct alua_table tab;
};

static void dp_snapshot(struct reactor_op *op, int res)
{
	struct dataplane *dp = container_of(op, struct dataplane, snap_op);
	struct iscsi_tgt_stats st;

	static struct iscsi_sess_info sess[DATAPLANE_MAX_SESSIONS]; /* reactor thread only */
	unsigned n;

	iscsi_tgt_get_stats(dp->tgt, &st);
	n = iscsi_tgt_sessions(dp->tgt, sess, DATAPLANE_MAX_SESSIONS);
	pthread_mutex_lock(&dp->snap_lock);
	dp->snap = st;
	memcpy(dp->sess, sess, n * sizeof(sess[0]));
	dp->nsess = n;
	pthread_mutex_unlock(&dp->snap_lock);
	if (!dp->stopping)
		reactor_timeout(dp->reactor, &dp->snap_op, DP_SNAPSHOT_NS);
}

static void dp_apply_alua(struct reactor_msg *m)
{
	struct dp_alua_msg *am = container_of(m, struct dp_alua_msg, m);
	struct scsi_lu *lu = scsi_tgt_lu_at(iscsi_tgt_scsi(am->dp->tgt), am->lun);

	if (lu)
		scsi_lu_set_alua(lu, &am->tab);
	free(am);
}

static void dp_stopped(void *arg)
{
	struct dataplane *dp = arg;

	reactor_stop(dp->reactor);
}

static void dp_stop_msg(struct reactor_msg *m)
{
	struct dataplane *dp = container_of(m, struct dataplane, stop_msg);

	dp->stopping = true;
	iscsi_tgt_shutdown(dp->tgt, dp->grace_ms, dp_stopped, dp);
}

static int dp_setup(struct dataplane *dp)
{
	struct scsi_tgt *st;
	int rc;

	rc = reactor_create(&dp->reactor, 1024);
	if (rc) {
		snprintf(dp->err, dp->errlen, "cannot set up io_uring: %s", strerror(-rc));
		return rc;
	}
	rc = iscsi_tgt_create(&dp->tgt, dp->cfg, dp->reactor, dp->err, dp->errlen);
	if (rc)
		return rc;
	st = iscsi_tgt_scsi(dp->tgt);
	for (unsigned i = 0; i < dp->ninitial; i++) {
		struct scsi_lu *lu = scsi_tgt_lu_at(st, i);

		if (lu)
			scsi_lu_set_alua(lu, &dp->initial[i]);
	}
	rc = iscsi_tgt_start(dp->tgt);
	if (rc) {
		snprintf(dp->err, dp->errlen, "cannot start the portals: %s", strerror(-rc));
		return rc;
	}
	dp->snap_op.cb = dp_snapshot;
	reactor_timeout(dp->reactor, &dp->snap_op, DP_SNAPSHOT_NS);
	return 0;
}

static void *dp_thread(void *arg)
{
	struct dataplane *dp = arg;
	int rc;

	dp->start_rc = dp_setup(dp);
	sem_post(&dp->ready);
	if (dp->start_rc)
		return NULL;
	rc = reactor_run(dp->reactor);
	if (rc)
		log_err("data plane: reactor failed: %s", strerror(-rc));
	return NULL;
}

int dataplane_start(struct dataplane **out, const struct tgt_config *cfg,
		    const struct alua_table *initial, unsigned ninitial, char *err, size_t errlen)
{
	struct dataplane *dp = calloc(1, sizeof(*dp));
	int rc;

	if (!dp)
		return -ENOMEM;
	dp->cfg = cfg;
	dp->initial = initial;
	dp->ninitial = ninitial;
	dp->err = err;
	dp->errlen = errlen;
	dp->stop_msg.fn = dp_stop_msg;
	pthread_mutex_init(&dp->snap_lock, NULL);
	sem_init(&dp->ready, 0, 0);
	rc = pthread_create(&dp->thread, NULL, dp_thread, dp);
	if (rc) {
		snprintf(err, errlen, "cannot start the data plane thread: %s", strerror(rc));
		free(dp);
		return -rc;
	}
	while (sem_wait(&dp->ready) < 0 && errno == EINTR)
		;
	if (dp->start_rc) {
		rc = dp->start_rc;
		pthread_join(dp->thread, NULL);
		if (dp->tgt)
			iscsi_tgt_destroy(dp->tgt);
		if (dp->reactor)
			reactor_destroy(dp->reactor);
		free(dp);
		return rc;
	}
	*out = dp;
	return 0;
}

int dataplane_set_alua(struct dataplane *dp, unsigned lun, const struct alua_table *tab)
{
	struct dp_alua_msg *am = calloc(1, sizeof(*am));

	if (!am)
		return -ENOMEM;
	am->m.fn = dp_apply_alua;
	am->dp = dp;
	am->lun = lun;
	am->tab = *tab;
	reactor_post(dp->reactor, &am->m);
	return 0;
}

void dataplane_stats(struct dataplane *dp, struct iscsi_tgt_stats *st)
{
	pthread_mutex_lock(&dp->snap_lock);
	*st = dp->snap;
	pthread_mutex_unlock(&dp->snap_lock);
}

unsigned dataplane_sessions(struct dataplane *dp, struct iscsi_sess_info *out, unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&dp->snap_lock);
	n = MIN(dp->nsess, max);
	memcpy(out, dp->sess, n * sizeof(out[0]));
	pthread_mutex_unlock(&dp->snap_lock);
	return n;
}

void dataplane_stop(struct dataplane *dp, uint32_t grace_ms)
{
	if (!dp)
		return;
	dp->grace_ms = grace_ms;
	reactor_post(dp->reactor, &dp->stop_msg);
	pthread_join(dp->thread, NULL);
	reactor_destroy(dp->reactor);
	iscsi_tgt_destroy(dp->tgt);
	pthread_mutex_destroy(&dp->snap_lock);
	sem_destroy(&dp->ready);
	free(dp);
}
