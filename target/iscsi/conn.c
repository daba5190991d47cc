/* SPDX-License-Identifier: MIT */
/*
 * One iSCSI connection on the reactor: receive and frame PDUs, run the login
 * phase, and send batched PDUs (one sendmsg in flight, many PDUs per call).
 *
 * Receive: recv() into one linear buffer; every complete PDU in it is handled
 * in place (the handlers copy what they keep), a partial PDU at the end is
 * moved to the front only when the tail has no room for a whole PDU.
 *
 * Transmit: responses become descriptors (struct iscsi_tx_slot) in a ring;
 * once per reactor pass (deferred flush) the unsent descriptors are gathered
 * into one sendmsg. StatSN/ExpCmdSN/MaxCmdSN are stamped when a descriptor is
 * built, so they are always current and in send order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include "lib/byteorder.h"
#include "lib/crc32c.h"
#include "lib/log.h"
#include "target/iscsi/iscsi_int.h"

static void conn_rx_arm(struct iscsi_conn *c);
static void conn_flush(struct reactor_deferred *d);
static void conn_maybe_free(struct iscsi_conn *c);
static void conn_rx_resume(struct iscsi_conn *c);

static void conn_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n <= 0)
			continue;
		p += n;
		len -= (size_t)n;
	}
}

static uint32_t conn_rx_capacity(const struct tgt_config *cfg)
{
	uint32_t dsl = MAX(cfg->iscsi.max_recv_dsl, (uint32_t)ISCSI_LOGIN_DATA_MAX);

	/* One maximal PDU plus room to batch many small ones per recv. */
	return ISCSI_BHS_LEN + ISCSI_AHS_MAX + 2 * ISCSI_DIGEST_LEN + dsl + 4 + 65536;
}

static void conn_format_peer(char *out, size_t len, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%u", host, port);
	} else {
		snprintf(out, len, "unknown");
	}
}

int iscsi_conn_create(struct iscsi_tgt *t, int fd, const struct tgt_portal *portal,
		      const struct sockaddr_storage *peer)
{
	struct iscsi_conn *c;
	int one = 1;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rx_cap = conn_rx_capacity(t->cfg);
	c->rx_buf = malloc(c->rx_cap);
	c->slots = calloc(ISCSI_TX_SLOTS, sizeof(*c->slots));
	if (!c->rx_buf || !c->slots) {
		free(c->rx_buf);
		free(c->slots);
		free(c);
		return -ENOMEM;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->tgt = t;
	c->fd = fd;
	c->state = CONN_LOGIN;
	c->portal = portal;
	c->portal_tpgt = portal->tpgt;
	c->rel_port_id = portal->rel_port_id;
	conn_format_peer(c->peer, sizeof(c->peer), peer);
	list_init(&c->txq);
	list_init(&c->txq_ctrl);
	list_init(&c->ctrl_free);
	for (unsigned i = 0; i < ISCSI_CTRL_ITEMS; i++)
		list_add_tail(&c->ctrl_free, &c->ctrl[i].node);
	c->ctrl_nfree = ISCSI_CTRL_ITEMS;
	c->flush.fn = conn_flush;
	c->login_env.cfg = t->cfg;
	c->login_env.portal_tpgt = portal->tpgt;
	c->login_env.bind = iscsi_tgt_bind_session;
	c->login_env.bind_arg = c;
	c->login_env.random = conn_random;
	iscsi_login_init(&c->login, &c->login_env);
	iscsi_params_defaults(&c->params);
	c->lim.max_data_len = ISCSI_LOGIN_DATA_MAX;
	c->login_start_ns = reactor_now_ns(t->reactor);
	c->last_rx_ns = c->login_start_ns;
	list_add_tail(&t->conns, &c->tgt_node);
	t->nconns++;
	t->stats.connections = t->nconns;
	log_rl_info("conn %s: connected to portal %s:%u", c->peer, portal->addr, portal->port);
	conn_rx_arm(c);
	return 0;
}

/* ---- control PDUs ---- */

struct iscsi_ctrl *iscsi_conn_ctrl_get(struct iscsi_conn *c, uint32_t dlen)
{
	struct list_node *n = list_pop(&c->ctrl_free);
	struct iscsi_ctrl *ctl;

	if (!n)
		return NULL;
	c->ctrl_nfree--;
	ctl = list_entry(n, struct iscsi_ctrl, node);
	memset(&ctl->bhs, 0, sizeof(ctl->bhs));
	ctl->stat = false;
	ctl->stat_no_advance = false;
	ctl->close_after = false;
	ctl->full_feature_after = false;
	ctl->dlen = dlen;
	ctl->data_pooled = false;
	ctl->data = ctl->inline_data;
	if (dlen > ISCSI_CTRL_INLINE) {
		ctl->data = bufpool_get(c->tgt->bufpool, dlen, NULL);
		if (!ctl->data) {
			list_add_head(&c->ctrl_free, &ctl->node);
			c->ctrl_nfree++;
			return NULL;
		}
		ctl->data_pooled = true;
	}
	return ctl;
}

void iscsi_conn_ctrl_put(struct iscsi_conn *c, struct iscsi_ctrl *ctl)
{
	if (ctl->data_pooled)
		bufpool_put(c->tgt->bufpool, ctl->data);
	ctl->data_pooled = false;
	list_add_tail(&c->ctrl_free, &ctl->node);
	c->ctrl_nfree++;
}

void iscsi_conn_ctrl_queue(struct iscsi_conn *c, struct iscsi_ctrl *ctl)
{
	list_add_tail(&c->txq_ctrl, &ctl->node);
	iscsi_conn_kick(c);
}

void iscsi_conn_task_queue(struct iscsi_conn *c, struct iscsi_task *task)
{
	if (list_empty(&task->tx_node))
		list_add_tail(&c->txq, &task->tx_node);
	iscsi_conn_kick(c);
}

void iscsi_conn_kick(struct iscsi_conn *c)
{
	if (!c->closing)
		reactor_defer(c->tgt->reactor, &c->flush);
}

/* RFC 7143 11.17: the rejected PDU's header goes back as the data segment. */
static void conn_reject(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason, bool close)
{
	struct iscsi_ctrl *ctl = iscsi_conn_ctrl_get(c, ISCSI_BHS_LEN);

	c->tgt->stats.rejects++;
	if (!ctl) {
		iscsi_conn_close(c, "no room to send a Reject");
		return;
	}
	iscsi_bhs_init(&ctl->bhs, ISCSI_OP_REJECT, ISCSI_FLAG_FINAL, ISCSI_RSVD_TAG);
	ctl->bhs.raw[2] = reason;
	memcpy(ctl->data, bhs, ISCSI_BHS_LEN);
	iscsi_bhs_set_dlen(&ctl->bhs, ISCSI_BHS_LEN);
	ctl->stat = true;
	ctl->close_after = close;
	iscsi_conn_ctrl_queue(c, ctl);
}

void iscsi_conn_reject(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason)
{
	conn_reject(c, bhs, reason, false);
}

/* Rejects, then closes once the Reject is sent; nothing more is read. */
void iscsi_conn_reject_close(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason)
{
	conn_reject(c, bhs, reason, true);
	c->rx_stopped = true;
}

/* ---- transmit ---- */

static uint32_t conn_slots_free(const struct iscsi_conn *c)
{
	return ISCSI_TX_SLOTS - (c->slot_tail - c->slot_head);
}

static bool conn_tx_hdig(const struct iscsi_conn *c)
{
	return c->state != CONN_LOGIN && c->params.header_digest;
}

static bool conn_tx_ddig(const struct iscsi_conn *c)
{
	return c->state != CONN_LOGIN && c->params.data_digest;
}

/*
 * Claims the next slot and fills header digest, padding and data digest for a
 * PDU whose BHS is already in slot->hdr. The caller must have checked room.
 */
struct iscsi_tx_slot *iscsi_conn_slot_fill(struct iscsi_conn *c, const uint8_t *data, uint32_t dlen)
{
	struct iscsi_tx_slot *s = &c->slots[c->slot_tail % ISCSI_TX_SLOTS];
	uint32_t pad = (4 - (dlen & 3)) & 3;

	/* DataSegmentLength always matches what is sent (RFC 7143 11.2.1.5). */
	put_be24(s->hdr + 5, dlen);
	s->hdr_len = ISCSI_BHS_LEN;
	if (conn_tx_hdig(c)) {
		crc32c_put_wire(s->hdr + ISCSI_BHS_LEN, crc32c(0, s->hdr, ISCSI_BHS_LEN));
		s->hdr_len += ISCSI_DIGEST_LEN;
	}
	s->data = data;
	s->dlen = dlen;
	s->trailer_len = 0;
	if (dlen) {
		memset(s->trailer, 0, sizeof(s->trailer));
		s->trailer_len = pad;
		if (conn_tx_ddig(c)) {
			uint32_t crc = crc32c(0, data, dlen);

			crc = crc32c(crc, s->trailer, pad);
			crc32c_put_wire(s->trailer + pad, crc);
			s->trailer_len += ISCSI_DIGEST_LEN;
		}
	}
	s->task = NULL;
	s->ctrl = NULL;
	s->last_of_task = false;
	c->slot_tail++;
	c->tgt->stats.bytes_out += s->hdr_len + dlen + s->trailer_len;
	return s;
}

/* The slot the next PDU's header is built in (not yet claimed), or NULL. */
struct iscsi_tx_slot *iscsi_conn_slot_next(struct iscsi_conn *c)
{
	if (!conn_slots_free(c))
		return NULL;
	return &c->slots[c->slot_tail % ISCSI_TX_SLOTS];
}

static void conn_stamp_login(struct iscsi_conn *c, uint8_t *bhs)
{
	/* Before a session exists the connection numbers its own responses. */
	put_be32(bhs + 24, c->login.exp_statsn);
	put_be32(bhs + 28, c->login.cmdsn);
	put_be32(bhs + 32, c->login.cmdsn + c->tgt->cfg->iscsi.queue_depth - 1);
}

static bool conn_emit_ctrl(struct iscsi_conn *c, struct iscsi_ctrl *ctl)
{
	struct iscsi_tx_slot *s = iscsi_conn_slot_next(c);

	if (!s)
		return false;
	memcpy(s->hdr, ctl->bhs.raw, ISCSI_BHS_LEN);
	if (c->sess && c->state != CONN_LOGIN)
		iscsi_sess_stamp(c->sess, s->hdr, ctl->stat && !ctl->stat_no_advance);
	else if (c->sess)
		iscsi_sess_stamp(c->sess, s->hdr, true);
	else
		conn_stamp_login(c, s->hdr);
	s = iscsi_conn_slot_fill(c, ctl->dlen ? ctl->data : NULL, ctl->dlen);
	s->ctrl = ctl;
	if (ctl->full_feature_after) {
		/* Digests and the initiator's MaxRecvDataSegmentLength apply from the
		 * next PDU on (RFC 7143 6.3: the final Login Response is plain). */
		c->state = CONN_FULL_FEATURE;
		c->params = c->sess->params;
		log_info("conn %s: session tsih=%u with %s in full feature phase "
			 "(HeaderDigest=%s DataDigest=%s MaxRecvDSL=%u MaxXmitDSL=%u MaxBurst=%u "
			 "FirstBurst=%u ImmediateData=%s InitialR2T=%s)",
			 c->peer, c->sess->tsih, c->sess->initiator_name,
			 c->params.header_digest ? "CRC32C" : "None",
			 c->params.data_digest ? "CRC32C" : "None", c->params.max_recv_dsl,
			 c->params.max_xmit_dsl, c->params.max_burst, c->params.first_burst,
			 c->params.immediate_data ? "Yes" : "No",
			 c->params.initial_r2t ? "Yes" : "No");
	}
	return true;
}

static void conn_fill(struct iscsi_conn *c)
{
	struct list_node *n, *tmp;

	while (!list_empty(&c->txq_ctrl)) {
		struct iscsi_ctrl *ctl = list_entry(c->txq_ctrl.next, struct iscsi_ctrl, node);

		if (!conn_slots_free(c))
			return;
		list_del(&ctl->node);
		conn_emit_ctrl(c, ctl);
	}
	list_for_each_safe(n, tmp, &c->txq)
	{
		struct iscsi_task *task = list_entry(n, struct iscsi_task, tx_node);

		if (!conn_slots_free(c))
			return;
		if (iscsi_task_emit(c, task))
			list_del(&task->tx_node);
		else
			return;
	}
}

static void conn_tx_done(struct reactor_op *op, int res);

static void conn_send(struct iscsi_conn *c)
{
	uint32_t niov = 0, nslots = 0, skip = c->tx_skip;
	int rc;

	for (uint32_t i = c->slot_head; i != c->slot_tail && niov + 3 <= ISCSI_TX_IOV; i++) {
		struct iscsi_tx_slot *s = &c->slots[i % ISCSI_TX_SLOTS];
		const uint8_t *parts[3] = {s->hdr, s->data, s->trailer};
		uint32_t lens[3] = {s->hdr_len, s->dlen, s->trailer_len};

		for (int p = 0; p < 3; p++) {
			if (skip >= lens[p]) {
				skip -= lens[p];
				continue;
			}
			c->iov[niov].iov_base = (void *)(parts[p] + skip);
			c->iov[niov].iov_len = lens[p] - skip;
			skip = 0;
			niov++;
		}
		nslots++;
	}
	if (!niov)
		return;
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = niov;
	c->tx_op.cb = conn_tx_done;
	rc = reactor_sendmsg(c->tgt->reactor, &c->tx_op, c->fd, &c->msg, MSG_NOSIGNAL);
	if (rc) {
		iscsi_conn_close(c, "cannot queue a send");
		return;
	}
	c->tx_busy = true;
	c->tx_inflight = nslots;
}

static void conn_slot_release(struct iscsi_conn *c, struct iscsi_tx_slot *s)
{
	if (s->ctrl) {
		struct iscsi_ctrl *ctl = s->ctrl;

		s->ctrl = NULL;
		if (ctl->close_after)
			c->close_after_tx = true;
		iscsi_conn_ctrl_put(c, ctl);
	}
	if (s->task) {
		struct iscsi_task *task = s->task;

		s->task = NULL;
		task->tx_refs--;
		if (s->last_of_task)
			iscsi_task_tx_done(task);
	}
}

static void conn_tx_done(struct reactor_op *op, int res)
{
	struct iscsi_conn *c = container_of(op, struct iscsi_conn, tx_op);
	uint32_t bytes;

	c->tx_busy = false;
	if (res < 0 || c->closing) {
		if (!c->closing)
			log_rl_info("conn %s: send failed: %s", c->peer, strerror(-res));
		iscsi_conn_close(c, "send failed");
		conn_maybe_free(c);
		return;
	}
	bytes = (uint32_t)res;
	while (c->slot_head != c->slot_tail) {
		struct iscsi_tx_slot *s = &c->slots[c->slot_head % ISCSI_TX_SLOTS];
		uint32_t left = s->hdr_len + s->dlen + s->trailer_len - c->tx_skip;

		if (bytes < left) {
			c->tx_skip += bytes;
			break;
		}
		bytes -= left;
		c->tx_skip = 0;
		c->slot_head++;
		conn_slot_release(c, s);
	}
	if (c->close_after_tx && c->slot_head == c->slot_tail) {
		iscsi_conn_close(c, "closed after the last response");
		conn_maybe_free(c);
		return;
	}
	conn_rx_resume(c);
	conn_flush(&c->flush);
}

static void conn_flush(struct reactor_deferred *d)
{
	struct iscsi_conn *c = container_of(d, struct iscsi_conn, flush);

	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	conn_fill(c);
	if (!c->tx_busy && c->slot_head != c->slot_tail)
		conn_send(c);
}

/* ---- receive ---- */

static void conn_rx_done(struct reactor_op *op, int res);

static void conn_rx_arm(struct iscsi_conn *c)
{
	int rc;

	if (c->closing)
		return;
	if (c->rx_end == c->rx_cap) {
		iscsi_conn_close(c, "receive buffer full (PDU larger than negotiated)");
		return;
	}
	c->rx_op.cb = conn_rx_done;
	rc = reactor_recv(c->tgt->reactor, &c->rx_op, c->fd, c->rx_buf + c->rx_end,
			  c->rx_cap - c->rx_end, 0);
	if (rc) {
		iscsi_conn_close(c, "cannot queue a receive");
		return;
	}
	c->rx_busy = true;
}

static void conn_login_pdu(struct iscsi_conn *c, const struct iscsi_bhs *bhs,
			   const struct iscsi_pdu_hdr *h, const uint8_t *data)
{
	static struct iscsi_login_rsp rsp; /* one reactor thread: no sharing */
	struct iscsi_ctrl *ctl;

	if (h->opcode != ISCSI_OP_LOGIN_REQ) {
		/* RFC 7143 6.3: only Login Requests are valid before full feature phase. */
		log_rl_warn("conn %s: opcode 0x%02x during login; closing", c->peer, h->opcode);
		iscsi_conn_close(c, "non-login PDU in login phase");
		return;
	}
	memset(&rsp.bhs, 0, sizeof(rsp.bhs));
	rsp.data_len = 0;
	rsp.close_after = false;
	rsp.full_feature = false;
	if (iscsi_login_handle(&c->login, bhs, h, data, h->data_len, &rsp) < 0) {
		log_rl_warn("conn %s: unanswerable login request: %s", c->peer, c->login.reason);
		iscsi_conn_close(c, "login protocol error");
		return;
	}
	ctl = iscsi_conn_ctrl_get(c, rsp.data_len);
	if (!ctl) {
		iscsi_conn_close(c, "no room for a login response");
		return;
	}
	ctl->bhs = rsp.bhs;
	memcpy(ctl->data, rsp.data, rsp.data_len);
	ctl->stat = true;
	ctl->close_after = rsp.close_after;
	ctl->full_feature_after = rsp.full_feature;
	if (rsp.close_after) {
		uint16_t st = get_be16(rsp.bhs.raw + 36);

		log_rl_warn("conn %s: login of '%s' to '%s' refused (status 0x%04x): %s", c->peer,
			    c->login.initiator_name[0] ? c->login.initiator_name : "?",
			    c->login.target_name[0] ? c->login.target_name : "-", st,
			    c->login.reason[0] ? c->login.reason : "see status");
	}
	if (rsp.full_feature) {
		/* From the next received PDU on, the negotiated limits apply. */
		c->lim.max_data_len = c->sess->params.max_recv_dsl;
		c->lim.header_digest = c->sess->params.header_digest;
		c->lim.data_digest = c->sess->params.data_digest;
	}
	iscsi_conn_ctrl_queue(c, ctl);
}

/* Length of the PDU whose BHS is at p, from the raw fields (for skipping bad PDUs). */
static uint32_t conn_raw_pdu_len(const struct iscsi_conn *c, const uint8_t *p)
{
	uint32_t dlen = get_be24(p + 5);
	uint32_t len = ISCSI_BHS_LEN + p[4] * 4u + ((dlen + 3) & ~3u);

	if (c->lim.header_digest)
		len += ISCSI_DIGEST_LEN;
	if (dlen && c->lim.data_digest)
		len += ISCSI_DIGEST_LEN;
	return len;
}

/* Handles one complete PDU at p; returns its length, 0 for "need more", < 0 to close. */
static int conn_rx_one(struct iscsi_conn *c, const uint8_t *p, uint32_t avail)
{
	struct iscsi_pdu_hdr h;
	uint32_t total;
	int rc;

	rc = iscsi_pdu_parse_bhs(p, avail, &c->lim, &h);
	if (rc == -EAGAIN)
		return 0;
	if (rc == -EMSGSIZE) {
		log_rl_warn(
			"conn %s: PDU data segment of %u bytes exceeds MaxRecvDataSegmentLength %u",
			c->peer, get_be24(p + 5), c->lim.max_data_len);
		if (c->state != CONN_FULL_FEATURE)
			return -EMSGSIZE;
		/* The stream cannot be re-framed safely: answer, then close. */
		iscsi_conn_reject_close(c, p, ISCSI_REJECT_PROTOCOL_ERROR);
		return 0;
	}
	if (rc < 0) {
		total = conn_raw_pdu_len(c, p);
		if (c->state != CONN_FULL_FEATURE || total > c->rx_cap)
			return -EPROTO;
		if (avail < total)
			return 0;
		log_rl_warn("conn %s: rejecting malformed PDU (opcode 0x%02x)", c->peer,
			    p[0] & ISCSI_OPCODE_MASK);
		iscsi_conn_reject(c, p,
				  (p[0] & ISCSI_OPCODE_MASK) == ISCSI_OP_SNACK_REQ
					  ? ISCSI_REJECT_SNACK
					  : ISCSI_REJECT_CMD_NOT_SUPPORTED);
		return (int)total;
	}
	total = h.total_len;
	if (total > c->rx_cap)
		return -EMSGSIZE;
	if (avail < total)
		return 0;
	rc = iscsi_pdu_check_digests(p, &h, &c->lim);
	if (rc == -EBADMSG) {
		/* RFC 7143 7.8: a header digest error leaves framing untrustworthy. */
		log_rl_warn("conn %s: header digest error; closing", c->peer);
		return -EBADMSG;
	}
	if (rc == -EILSEQ) {
		log_rl_warn("conn %s: data digest error on opcode 0x%02x; PDU discarded", c->peer,
			    h.opcode);
		iscsi_conn_reject(c, p, ISCSI_REJECT_DATA_DIGEST);
		if (c->state == CONN_FULL_FEATURE && c->sess)
			iscsi_sess_data_digest_error(c->sess, p, &h);
		return (int)total;
	}
	c->tgt->stats.bytes_in += total;
	if (c->state == CONN_LOGIN) {
		conn_login_pdu(c, (const struct iscsi_bhs *)p, &h,
			       p + iscsi_pdu_data_offset(&h, c->lim.header_digest));
	} else if (c->state == CONN_FULL_FEATURE || c->state == CONN_LOGGING_OUT) {
		rc = iscsi_sess_rx_pdu(c->sess, p, &h,
				       p + iscsi_pdu_data_offset(&h, c->lim.header_digest),
				       h.data_len);
		if (rc < 0)
			return rc;
	}
	return (int)total;
}

static void conn_rx_process(struct iscsi_conn *c)
{
	while (!c->closing && !c->rx_stopped && c->rx_end - c->rx_start >= ISCSI_BHS_LEN) {
		int n;

		if (c->ctrl_nfree < 2) {
			/* Every answer needs a control PDU (NOP-In, Reject, ...): stop
			 * reading until sends give some back (conn_tx_done resumes). */
			c->rx_paused = true;
			break;
		}
		n = conn_rx_one(c, c->rx_buf + c->rx_start, c->rx_end - c->rx_start);

		if (n < 0) {
			iscsi_conn_close(c, "protocol error");
			return;
		}
		if (n == 0)
			break;
		c->rx_start += (uint32_t)n;
	}
	if (c->rx_start == c->rx_end) {
		c->rx_start = c->rx_end = 0;
	} else if (c->rx_cap - c->rx_start < conn_rx_capacity(c->tgt->cfg) - 65536 ||
		   c->rx_end == c->rx_cap) {
		/* Not enough tail room for a whole PDU: move the partial one to the front. */
		memmove(c->rx_buf, c->rx_buf + c->rx_start, c->rx_end - c->rx_start);
		c->rx_end -= c->rx_start;
		c->rx_start = 0;
	}
}

static void conn_rx_done(struct reactor_op *op, int res)
{
	struct iscsi_conn *c = container_of(op, struct iscsi_conn, rx_op);

	c->rx_busy = false;
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	if (res <= 0) {
		if (res == 0)
			iscsi_conn_close(c, "peer closed the connection");
		else
			iscsi_conn_close(c, strerror(-res));
		conn_maybe_free(c);
		return;
	}
	c->last_rx_ns = reactor_now_ns(c->tgt->reactor);
	c->ping_sent_ns = 0;
	c->rx_end += (uint32_t)res;
	conn_rx_process(c);
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	if (!c->rx_paused && !c->rx_stopped)
		conn_rx_arm(c);
}

/* Resumes parsing held back for lack of control PDUs (called after sends). */
static void conn_rx_resume(struct iscsi_conn *c)
{
	if (!c->rx_paused || c->rx_busy || c->closing || c->ctrl_nfree < 2)
		return;
	c->rx_paused = false;
	conn_rx_process(c);
	if (!c->closing && !c->rx_paused && !c->rx_stopped)
		conn_rx_arm(c);
}

/* ---- liveness (called from the target's tick) ---- */

static void conn_ping(struct iscsi_conn *c, uint64_t now)
{
	struct iscsi_ctrl *ctl = iscsi_conn_ctrl_get(c, 0);

	if (!ctl)
		return;
	/* RFC 7143 11.19: target-initiated NOP-In, ITT reserved, TTT != reserved. */
	c->ping_ttt = (c->ping_ttt + 1) & 0x7fffffff;
	iscsi_bhs_init(&ctl->bhs, ISCSI_OP_NOP_IN, ISCSI_FLAG_FINAL, ISCSI_RSVD_TAG);
	put_be32(ctl->bhs.raw + 20, c->ping_ttt);
	ctl->stat = true;
	ctl->stat_no_advance = true;
	c->ping_sent_ns = now;
	iscsi_conn_ctrl_queue(c, ctl);
}

void iscsi_conn_tick(struct iscsi_conn *c, uint64_t now)
{
	const struct tgt_iscsi_opts *o = &c->tgt->cfg->iscsi;

	if (c->closing)
		return;
	if (c->state == CONN_LOGIN) {
		if (o->login_timeout_ms &&
		    now - c->login_start_ns > o->login_timeout_ms * 1000000ull) {
			log_warn("conn %s: login not finished within %u ms; closing", c->peer,
				 o->login_timeout_ms);
			iscsi_conn_close(c, "login timeout");
		}
		return;
	}
	if (c->state != CONN_FULL_FEATURE || !o->nop_interval_ms)
		return;
	if (c->ping_sent_ns) {
		if (o->nop_timeout_ms && now - c->ping_sent_ns > o->nop_timeout_ms * 1000000ull) {
			log_warn("conn %s: no answer to NOP-In ping within %u ms; connection "
				 "presumed dead, closing",
				 c->peer, o->nop_timeout_ms);
			iscsi_conn_close(c, "ping timeout");
		}
		return;
	}
	if (now - c->last_rx_ns > o->nop_interval_ms * 1000000ull)
		conn_ping(c, now);
}

/* ---- teardown ---- */

void iscsi_conn_close(struct iscsi_conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = true;
	c->state = CONN_CLOSING;
	log_rl_info("conn %s: closing (%s)", c->peer, why);
	/* Makes the pending recv/send complete; the fd is closed once they have.
	 * Freeing happens only from the deferred flush or a completion, never
	 * inside this call: callers keep using c until they return. */
	shutdown(c->fd, SHUT_RDWR);
	reactor_defer(c->tgt->reactor, &c->flush);
}

static void conn_maybe_free(struct iscsi_conn *c)
{
	struct iscsi_tgt *t = c->tgt;

	if (!c->closing || c->rx_busy || c->tx_busy)
		return;
	/* Release every queued descriptor so tasks and control PDUs go back. */
	while (c->slot_head != c->slot_tail) {
		struct iscsi_tx_slot *s = &c->slots[c->slot_head % ISCSI_TX_SLOTS];

		c->slot_head++;
		conn_slot_release(c, s);
	}
	while (!list_empty(&c->txq_ctrl)) {
		struct iscsi_ctrl *ctl = list_entry(c->txq_ctrl.next, struct iscsi_ctrl, node);

		list_del(&ctl->node);
		iscsi_conn_ctrl_put(c, ctl);
	}
	while (!list_empty(&c->txq))
		list_del(c->txq.next);
	if (c->flush.queued)
		return; /* the deferred flush still references c; it returns early and we come back */
	if (c->sess) {
		struct iscsi_sess *s = c->sess;

		c->sess = NULL;
		s->conn = NULL;
		iscsi_sess_conn_gone(s);
	}
	close(c->fd);
	list_del(&c->tgt_node);
	t->nconns--;
	t->stats.connections = t->nconns;
	free(c->rx_buf);
	free(c->slots);
	free(c);
	iscsi_tgt_check_stopped(t);
}
