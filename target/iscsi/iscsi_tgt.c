/* SPDX-License-Identifier: MIT */
/*
 * The iSCSI target service: backing stores, the SCSI target, listening
 * portals, the session table (TSIH, reinstatement, limits), the 500 ms
 * liveness tick and graceful shutdown.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/byteorder.h"
#include "lib/log.h"
#include "target/iscsi/iscsi_int.h"

#define ISCSI_TICK_NS (500ull * 1000000ull)

/* Buffers for one reactor: data buffers of every size a command can need. */
static const struct bufpool_class iscsi_buf_classes[] = {
	{4096, 1024},
	{65536, 256},
	{262144, 128},
	{1048576, 64},
};

static void tgt_stop_check(struct reactor_deferred *d);

static void tgt_abort_tasks(struct scsi_tgt *st, struct scsi_lu *lu, struct scsi_nexus *keep,
			    void *arg)
{
	struct iscsi_tgt *t = arg;
	struct list_node *n;

	list_for_each(n, &t->sessions)
	{
		struct iscsi_sess *s = list_entry(n, struct iscsi_sess, tgt_node);

		if (s->nexus && s->nexus != keep)
			iscsi_sess_abort_lu(s, lu, NULL);
	}
}

static const struct scsi_tgt_ops iscsi_scsi_ops = {
	.abort_tasks = tgt_abort_tasks,
};

static int tgt_open_luns(struct iscsi_tgt *t, char *err, size_t errlen)
{
	const struct tgt_config *cfg = t->cfg;
	struct alua_table tab = {.version = 1, .ntpgs = 1};

	for (unsigned i = 0; i < cfg->nluns; i++) {
		const struct tgt_lun *l = &cfg->luns[i];
		struct bdev_file_opts o = {
			.size = l->size,
			.block_size = l->block_size,
			.read_only = l->read_only,
			.no_direct = l->no_direct,
		};
		struct scsi_lu_config lc = {
			.lun = i,
			.lu_id = l->lu_id,
			.vendor = "CLUSTERD",
			.product = "VIRTUAL-DISK",
			.revision = "0001",
			.read_only = l->read_only,
		};
		struct bdev *b;
		int rc;

		rc = bdev_file_open(&b, l->path, &o, err, errlen);
		if (rc)
			return rc;
		lc.bdev = b;
		lc.thin = b->can_discard;
		rc = scsi_tgt_add_lu(t->scsi, &lc, NULL);
		if (rc) {
			bdev_close(b);
			snprintf(err, errlen, "LUN %u (%s): cannot add the logical unit: %s", i,
				 l->path, strerror(-rc));
			return rc;
		}
		log_info("LUN %u: %s, %llu bytes, %u-byte blocks, %s%s%s", i, l->path,
			 (unsigned long long)b->size, b->block_size,
			 b->direct ? "O_DIRECT" : "buffered", b->read_only ? ", read-only" : "",
			 b->can_discard ? ", thin (UNMAP)" : "");
	}
	/* Cluster mode: clusterd sets every table before the portals open. */
	if (cfg->alua_external)
		return 0;
	/* Standalone: one port group, active/optimized, holding every portal.
	 * This is the single place the initial states come from; the cluster
	 * replaces the table through scsi_tgt_set_alua(). */
	tab.tpg[0].id = 1;
	tab.tpg[0].state = ALUA_AO;
	for (unsigned i = 0; i < cfg->nportals && i < ALUA_MAX_PORTS; i++)
		tab.tpg[0].rel_port[tab.tpg[0].nports++] = cfg->portals[i].rel_port_id;
	scsi_tgt_set_alua(t->scsi, &tab);
	return 0;
}

static int tgt_listen(struct iscsi_tgt *t, struct iscsi_listener *l, char *err, size_t errlen)
{
	const struct tgt_portal *p = l->portal;
	struct sockaddr_in *in = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->addr;
	int one = 1, fd;

	memset(&l->addr, 0, sizeof(l->addr));
	if (inet_pton(AF_INET, p->addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(p->port);
		l->addrlen = sizeof(*in);
	} else if (inet_pton(AF_INET6, p->addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(p->port);
		l->addrlen = sizeof(*in6);
	} else {
		snprintf(err, errlen, "portal %s: not a numeric IPv4 or IPv6 address", p->addr);
		return -EINVAL;
	}
	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) < 0 || listen(fd, 128) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		goto fail;
	}
	l->fd = fd;
	l->tgt = t;
	return 0;
fail:
	snprintf(err, errlen, "portal %s:%u: cannot listen: %s%s", p->addr, p->port,
		 strerror(errno),
		 errno == EADDRINUSE	  ? " (another target is using this port; stop it or pick "
					    "another --portal)"
		 : errno == EADDRNOTAVAIL ? " (no interface has this address)"
					  : "");
	return -errno;
}

int iscsi_tgt_create(struct iscsi_tgt **out, const struct tgt_config *cfg, struct reactor *r,
		     char *err, size_t errlen)
{
	struct iscsi_tgt *t = calloc(1, sizeof(*t));
	int rc;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->cfg = cfg;
	t->reactor = r;
	list_init(&t->conns);
	list_init(&t->sessions);
	t->stop_check.fn = tgt_stop_check;
	t->next_tsih = 1;
	rc = bufpool_create(&t->bufpool, iscsi_buf_classes, ARRAY_SIZE(iscsi_buf_classes));
	if (rc) {
		snprintf(err, errlen, "cannot allocate I/O buffers: %s", strerror(-rc));
		goto fail;
	}
	rc = bufpool_register(t->bufpool, r);
	if (rc)
		log_warn("registering I/O buffers with io_uring failed (%s); using unregistered "
			 "buffers",
			 strerror(-rc));
	rc = scsi_tgt_create(&t->scsi, cfg->iqn, &iscsi_scsi_ops, t);
	if (rc) {
		snprintf(err, errlen, "cannot create the SCSI target: %s", strerror(-rc));
		goto fail;
	}
	rc = tgt_open_luns(t, err, errlen);
	if (rc)
		goto fail;
	for (unsigned i = 0; i < cfg->nportals; i++) {
		struct iscsi_listener *l = &t->listeners[i];

		l->portal = &cfg->portals[i];
		rc = tgt_listen(t, l, err, errlen);
		if (rc)
			goto fail;
		t->nlisteners++;
	}
	*out = t;
	return 0;
fail:
	iscsi_tgt_destroy(t);
	return rc;
}

/* ---- accepting ---- */

static void tgt_accept_arm(struct iscsi_listener *l);

static void tgt_accept_done(struct reactor_op *op, int res)
{
	struct iscsi_listener *l = container_of(op, struct iscsi_listener, op);
	struct iscsi_tgt *t = l->tgt;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int rc;

	l->active = false;
	if (t->stopping) {
		if (res >= 0)
			close(res);
		return;
	}
	if (res < 0) {
		log_rl_warn("portal %s:%u: accept failed: %s", l->portal->addr, l->portal->port,
			    strerror(-res));
		tgt_accept_arm(l);
		return;
	}
	fcntl(res, F_SETFD, FD_CLOEXEC);
	if (getpeername(res, (struct sockaddr *)&peer, &plen) < 0)
		memset(&peer, 0, sizeof(peer));
	rc = iscsi_conn_create(t, res, l->portal, &peer);
	if (rc) {
		log_rl_warn("portal %s:%u: cannot take a connection: %s", l->portal->addr,
			    l->portal->port, strerror(-rc));
		close(res);
	}
	tgt_accept_arm(l);
}

static void tgt_accept_arm(struct iscsi_listener *l)
{
	l->op.cb = tgt_accept_done;
	if (reactor_accept(l->tgt->reactor, &l->op, l->fd, NULL, NULL) == 0)
		l->active = true;
	else
		log_err("portal %s:%u: cannot queue accept", l->portal->addr, l->portal->port);
}

static void tgt_tick(struct reactor_op *op, int res)
{
	struct iscsi_tgt *t = container_of(op, struct iscsi_tgt, tick_op);
	uint64_t now = reactor_now_ns(t->reactor);
	struct list_node *n, *tmp;

	t->tick_armed = false;
	list_for_each_safe(n, tmp, &t->conns)
		iscsi_conn_tick(list_entry(n, struct iscsi_conn, tgt_node), now);
	if (t->stopping && now >= t->stop_deadline_ns) {
		list_for_each_safe(n, tmp, &t->conns)
		{
			struct iscsi_conn *c = list_entry(n, struct iscsi_conn, tgt_node);

			iscsi_conn_close(c, "shutdown grace period over");
		}
	}
	if (t->stopping && !t->nconns && !t->nsessions)
		return;
	if (reactor_timeout(t->reactor, &t->tick_op, ISCSI_TICK_NS) == 0)
		t->tick_armed = true;
}

int iscsi_tgt_start(struct iscsi_tgt *t)
{
	for (unsigned i = 0; i < t->nlisteners; i++) {
		tgt_accept_arm(&t->listeners[i]);
		log_notice("target %s: listening on %s:%u (tpgt %u, relative port %u)", t->cfg->iqn,
			   t->listeners[i].portal->addr, t->listeners[i].portal->port,
			   t->listeners[i].portal->tpgt, t->listeners[i].portal->rel_port_id);
	}
	t->tick_op.cb = tgt_tick;
	if (reactor_timeout(t->reactor, &t->tick_op, ISCSI_TICK_NS) == 0)
		t->tick_armed = true;
	return 0;
}

/* ---- sessions ---- */

static struct iscsi_sess *tgt_find_session(struct iscsi_tgt *t, const char *iname,
					   const uint8_t isid[6], uint16_t tsih)
{
	struct list_node *n;

	list_for_each(n, &t->sessions)
	{
		struct iscsi_sess *s = list_entry(n, struct iscsi_sess, tgt_node);

		if (s->type != ISCSI_SESSION_NORMAL || !s->conn)
			continue;
		if (tsih && s->tsih == tsih)
			return s;
		if (!tsih && !memcmp(s->isid, isid, 6) && !strcmp(s->initiator_name, iname))
			return s;
	}
	return NULL;
}

static uint16_t tgt_alloc_tsih(struct iscsi_tgt *t)
{
	for (;;) {
		uint16_t tsih = t->next_tsih++;
		struct list_node *n;
		bool used = false;

		if (!tsih)
			continue;
		list_for_each(n,
			      &t->sessions) if (list_entry(n, struct iscsi_sess, tgt_node)->tsih ==
						tsih) used = true;
		if (!used)
			return tsih;
	}
}

/* Login's bind hook (see login.h): a new session, or a refusal as -status. */
int iscsi_tgt_bind_session(struct iscsi_login *l, void *arg)
{
	struct iscsi_conn *c = arg;
	struct iscsi_tgt *t = c->tgt;
	struct iscsi_sess *s, *old;
	int rc;

	if (t->stopping)
		return -ISCSI_LOGIN_STATUS_SVC_UNAVAILABLE;
	if (l->session_type == ISCSI_SESSION_NORMAL && l->tsih) {
		/* Adding a connection to a session: we negotiate MaxConnections=1. */
		old = tgt_find_session(t, l->initiator_name, l->isid, l->tsih);
		snprintf(l->reason, sizeof(l->reason), "%s",
			 old ? "session already has its one connection (MaxConnections=1)"
			     : "no session with that TSIH");
		return old ? -ISCSI_LOGIN_STATUS_TOO_MANY_CONNS : -ISCSI_LOGIN_STATUS_NO_SESSION;
	}
	old = NULL;
	if (l->session_type == ISCSI_SESSION_NORMAL) {
		old = tgt_find_session(t, l->initiator_name, l->isid, 0);
		if (old) {
			/* RFC 7143 6.3.5: session reinstatement closes the old one. */
			log_notice("session tsih=%u %s: reinstated by a new login; closing the old "
				   "connection",
				   old->tsih, old->initiator_name);
			iscsi_conn_close(old->conn, "session reinstatement");
		}
	}
	/* A reinstated session is on its way out: it does not count (RFC 7143 6.3.5). */
	if (t->nsessions - (old ? 1 : 0) >= t->cfg->iscsi.max_sessions) {
		snprintf(l->reason, sizeof(l->reason), "session limit of %u reached",
			 t->cfg->iscsi.max_sessions);
		return -ISCSI_LOGIN_STATUS_NO_RESOURCES;
	}
	rc = iscsi_sess_create(t, c, l, &s);
	if (rc) {
		snprintf(l->reason, sizeof(l->reason), "cannot create session: %s", strerror(-rc));
		return -ISCSI_LOGIN_STATUS_NO_RESOURCES;
	}
	s->tsih = tgt_alloc_tsih(t);
	c->sess = s;
	log_info("conn %s: %s session tsih=%u for %s", c->peer,
		 s->type == ISCSI_SESSION_DISCOVERY ? "discovery" : "normal", s->tsih,
		 s->initiator_name);
	return s->tsih;
}

/* ---- shutdown ---- */

static void tgt_ask_logout(struct iscsi_conn *c)
{
	struct iscsi_ctrl *ctl;

	if (c->state != CONN_FULL_FEATURE || !c->sess) {
		iscsi_conn_close(c, "target shutting down");
		return;
	}
	ctl = iscsi_conn_ctrl_get(c, 0);
	if (!ctl)
		return;
	/* RFC 7143 11.9.1: AsyncEvent 1, the target requests a logout within
	 * Parameter3 seconds. */
	iscsi_bhs_init(&ctl->bhs, ISCSI_OP_ASYNC_MSG, ISCSI_FLAG_FINAL, ISCSI_RSVD_TAG);
	ctl->bhs.raw[36] = 1;		/* AsyncEvent */
	put_be16(ctl->bhs.raw + 42, 2); /* Parameter3: seconds to log out in */
	ctl->stat = true;
	iscsi_conn_ctrl_queue(c, ctl);
}

void iscsi_tgt_check_stopped(struct iscsi_tgt *t)
{
	if (!t->stopping || t->stop_reported || t->nconns || t->nsessions)
		return;
	t->stop_reported = true;
	log_notice("target %s: all sessions closed, every command completed", t->cfg->iqn);
	if (t->stop_done)
		t->stop_done(t->stop_arg);
}

void iscsi_tgt_shutdown(struct iscsi_tgt *t, uint32_t grace_ms, void (*done)(void *arg), void *arg)
{
	struct list_node *n, *tmp;

	if (t->stopping)
		return;
	t->stopping = true;
	t->stop_done = done;
	t->stop_arg = arg;
	t->stop_deadline_ns = reactor_now_ns(t->reactor) + grace_ms * 1000000ull;
	log_notice("target %s: shutting down: %u session(s), asking initiators to log out",
		   t->cfg->iqn, t->nsessions);
	for (unsigned i = 0; i < t->nlisteners; i++) {
		shutdown(t->listeners[i].fd, SHUT_RDWR);
	}
	list_for_each_safe(n, tmp, &t->conns)
		tgt_ask_logout(list_entry(n, struct iscsi_conn, tgt_node));
	if (!t->tick_armed) {
		t->tick_op.cb = tgt_tick;
		if (reactor_timeout(t->reactor, &t->tick_op, ISCSI_TICK_NS) == 0)
			t->tick_armed = true;
	}
	/* done() runs from the loop, never inside this call (STYLE rule 5). */
	reactor_defer(t->reactor, &t->stop_check);
}

static void tgt_stop_check(struct reactor_deferred *d)
{
	iscsi_tgt_check_stopped(container_of(d, struct iscsi_tgt, stop_check));
}

void iscsi_tgt_destroy(struct iscsi_tgt *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->nlisteners; i++)
		close(t->listeners[i].fd);
	if (t->scsi)
		scsi_tgt_destroy(t->scsi);
	if (t->bufpool)
		bufpool_destroy(t->bufpool);
	free(t);
}

struct scsi_tgt *iscsi_tgt_scsi(struct iscsi_tgt *t)
{
	return t->scsi;
}

unsigned iscsi_tgt_sessions(const struct iscsi_tgt *t, struct iscsi_sess_info *out, unsigned max)
{
	const struct list_node *n;
	unsigned k = 0;

	for (n = t->sessions.next; n != &t->sessions && k < max; n = n->next) {
		const struct iscsi_sess *s = list_entry(n, struct iscsi_sess, tgt_node);
		struct iscsi_sess_info *i = &out[k++];

		snprintf(i->initiator, sizeof(i->initiator), "%s", s->initiator_name);
		snprintf(i->isid, sizeof(i->isid), "%02x%02x%02x%02x%02x%02x", s->isid[0],
			 s->isid[1], s->isid[2], s->isid[3], s->isid[4], s->isid[5]);
		i->tsih = s->tsih;
		i->discovery = s->type == ISCSI_SESSION_DISCOVERY;
		i->portal[0] = 0;
		if (s->conn)
			snprintf(i->portal, sizeof(i->portal), "%s:%u", s->conn->portal->addr,
				 s->conn->portal->port);
	}
	return k;
}

void iscsi_tgt_get_stats(const struct iscsi_tgt *t, struct iscsi_tgt_stats *st)
{
	*st = t->stats;
}
