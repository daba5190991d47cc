/* SPDX-License-Identifier: MIT */
/*
 * clusterd in cluster mode: the control thread. It wires the corosync
 * adapters, decide() and its executor, the fence runner, the clusterctl IPC
 * server and the data plane together.
 */
#ifndef CLUSTERD_CLUSTER_H
#define CLUSTERD_CLUSTER_H

#include "clusterd/cluster_config.h"

/*
 * Runs a node of the cluster described by cc until SIGTERM/SIGINT (clean
 * leave, exit 0) or a fatal condition (corosync lost, split brain, data plane
 * failure: exit 1 so systemd restarts us). Returns the exit status.
 * Main thread.
 */
int cluster_run(struct cluster_config *cc);

#endif
