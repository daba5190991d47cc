/* SPDX-License-Identifier: MIT */
/*
 * The quorum half of the corosync adapter: the quorum API (quorate + ring id
 * + member view, reported through ops->quorum) and votequorum (the details
 * clusterctl status shows, cached in c->vq_info and reported through
 * ops->votequorum). Both are tracked with CS_TRACK_CURRENT | CS_TRACK_CHANGES,
 * so the current state arrives first, then every change. Control thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "clusterd/corosync_int.h"
#include "lib/log.h"

static void cs_quorum_notify(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring_id,
			     uint32_t n, const uint32_t *members)
{
	struct cs_ring ring = {.nodeid = ring_id.nodeid, .seq = ring_id.seq};
	const void *ctx = NULL;
	struct cs *c;

	quorum_context_get(h, &ctx);
	c = (struct cs *)ctx; /* ours, stored by quorum_model_initialize() */
	if (!c || !cs_live(c))
		return;
	log_info("corosync: %s, ring %" PRIu32 ".%" PRIu64 " with %" PRIu32 " node(s)",
		 quorate ? "quorate" : "NOT quorate", ring.nodeid, ring.seq, n);
	c->ops.quorum(c->arg, quorate != 0, &ring, members, n);
}

/*
 * votequorum_getinfo is a local IPC round trip; its answer is cached so that
 * status never waits on corosync.
 */
void cs_vq_refresh(struct cs *c, bool notify)
{
	struct votequorum_info vi;
	cs_error_t rc;

	rc = votequorum_getinfo(c->vq, c->local_nodeid, &vi);
	if (rc != CS_OK) {
		log_warn("corosync: votequorum_getinfo: %s", cs_err_name(rc));
		return;
	}
	cs_vq_info_from_votequorum(&c->vq_info, &vi);
	c->vq_info.valid = true;
	if (notify && c->ops.votequorum)
		c->ops.votequorum(c->arg, &c->vq_info);
}

static struct cs *cs_from_vq_ctx(uint64_t ctx)
{
	struct cs *c = (struct cs *)(uintptr_t)ctx; /* ours, given to votequorum_trackstart() */

	return c && cs_live(c) ? c : NULL;
}

static void cs_vq_quorum_notify(votequorum_handle_t h, uint64_t ctx, uint32_t quorate, uint32_t n,
				votequorum_node_t nodes[])
{
	struct cs *c = cs_from_vq_ctx(ctx);

	if (c)
		cs_vq_refresh(c, true);
}

static void cs_vq_nodelist_notify(votequorum_handle_t h, uint64_t ctx, votequorum_ring_id_t ring,
				  uint32_t n, uint32_t nodes[])
{
	struct cs *c = cs_from_vq_ctx(ctx);

	if (!c)
		return;
	c->vq_info.ring.nodeid = ring.nodeid;
	c->vq_info.ring.seq = ring.seq;
	cs_vq_refresh(c, true);
}

static void cs_vq_expected_notify(votequorum_handle_t h, uint64_t ctx, uint32_t expected)
{
	struct cs *c = cs_from_vq_ctx(ctx);

	if (c)
		cs_vq_refresh(c, true);
}

int cs_quorum_connect(struct cs *c, char *err, size_t errlen)
{
	quorum_model_v1_data_t model = {
		.model = QUORUM_MODEL_V1,
		.quorum_notify_fn = cs_quorum_notify,
	};
	uint32_t type = QUORUM_FREE;
	cs_error_t rc;

	rc = quorum_model_initialize(&c->quorum, QUORUM_MODEL_V1, (quorum_model_data_t *)&model,
				     &type, c);
	if (rc != CS_OK) {
		cs_err_set(err, errlen, "cannot connect to corosync (quorum: %s)", cs_err_name(rc));
		return cs_err_to_errno(rc);
	}
	c->connected[CS_SVC_QUORUM] = true;
	if (type != QUORUM_SET) {
		/* Without a provider every node counts as quorate: never safe for us. */
		cs_err_set(err, errlen,
			   "corosync has no quorum provider; set quorum { provider: "
			   "corosync_votequorum } in corosync.conf");
		return -ENOTSUP;
	}
	return 0;
}

int cs_vq_connect(struct cs *c, char *err, size_t errlen)
{
	votequorum_callbacks_t cb = {
		.votequorum_quorum_notify_fn = cs_vq_quorum_notify,
		.votequorum_expectedvotes_notify_fn = cs_vq_expected_notify,
		.votequorum_nodelist_notify_fn = cs_vq_nodelist_notify,
	};
	cs_error_t rc;

	rc = votequorum_initialize(&c->vq, &cb);
	if (rc != CS_OK) {
		cs_err_set(err, errlen,
			   "cannot connect to corosync votequorum (%s); set quorum { provider: "
			   "corosync_votequorum } in corosync.conf",
			   cs_err_name(rc));
		return rc == CS_ERR_LIBRARY ? -ENOTSUP : cs_err_to_errno(rc);
	}
	c->connected[CS_SVC_VQ] = true;
	return 0;
}

int cs_quorum_track(struct cs *c, char *err, size_t errlen)
{
	cs_error_t rc;

	rc = quorum_trackstart(c->quorum, CS_TRACK_CURRENT | CS_TRACK_CHANGES);
	if (rc == CS_OK)
		rc = votequorum_trackstart(c->vq, (uint64_t)(uintptr_t)c,
					   CS_TRACK_CURRENT | CS_TRACK_CHANGES);
	if (rc != CS_OK) {
		cs_err_set(err, errlen, "quorum tracking: %s", cs_err_name(rc));
		return cs_err_to_errno(rc);
	}
	return 0;
}

void cs_vq_info(const struct cs *c, struct cs_vq_info *info)
{
	*info = c->vq_info;
}
