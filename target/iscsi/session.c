/* SPDX-License-Identifier: MIT */
/*
 * iSCSI sessions in full feature phase: the CmdSN window, SCSI command tasks
 * with their Data-Out/R2T exchange, Data-In with status collapse, NOP, task
 * management, text and logout (RFC 7143, ErrorRecoveryLevel 0).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/byteorder.h"
#include "lib/log.h"
#include "target/iscsi/iscsi_int.h"

static void task_exec(struct iscsi_task *task);
static void task_release(struct iscsi_task *task);
static void task_finish(struct iscsi_task *task);

/* ---- sequence numbers ---- */

static uint32_t sess_max_cmdsn(const struct iscsi_sess *s)
{
	/* RFC 7143 4.2.2.1: MaxCmdSN - ExpCmdSN + 1 = commands we can still take.
	 * Commands held behind a CmdSN gap are already inside that window: they
	 * must not shrink it (an initiator ignores a MaxCmdSN that goes down). */
	return s->exp_cmdsn + (s->queue_depth - (s->window_used - s->held)) - 1;
}

/*
 * ExpCmdSN moves past one command, then past every later CmdSN that was
 * already consumed out of order (s->ooo bit i: CmdSN ExpCmdSN + i).
 */
static void sess_cmdsn_consume(struct iscsi_sess *s)
{
	do {
		s->exp_cmdsn++;
		s->ooo >>= 1;
	} while (s->ooo & 1);
}

void iscsi_sess_stamp(struct iscsi_sess *s, uint8_t *bhs, bool advance_statsn)
{
	put_be32(bhs + 24, s->stat_sn);
	if (advance_statsn)
		s->stat_sn++;
	put_be32(bhs + 28, s->exp_cmdsn);
	put_be32(bhs + 32, sess_max_cmdsn(s));
}

enum cmdsn_verdict { CMDSN_ACCEPT, CMDSN_HOLD, CMDSN_DROP };

static enum cmdsn_verdict sess_cmdsn_check(struct iscsi_sess *s, uint32_t cmdsn, bool immediate)
{
	if (immediate)
		return CMDSN_ACCEPT;
	/* RFC 7143 4.2.2.1: outside [ExpCmdSN, MaxCmdSN] is silently ignored
	 * (a closed window, MaxCmdSN = ExpCmdSN - 1, ignores even ExpCmdSN). */
	if (sna_lt(cmdsn, s->exp_cmdsn) || sna_lt(sess_max_cmdsn(s), cmdsn))
		return CMDSN_DROP;
	if (cmdsn == s->exp_cmdsn)
		return CMDSN_ACCEPT;
	return CMDSN_HOLD;
}

/*
 * Non-task PDUs (NOP-Out, TMF, Text, Logout) ahead of a gap are carried out at
 * once (nothing waits on their order) and their CmdSN is marked consumed, so
 * ExpCmdSN steps over it when the gap closes. Returns false to drop the PDU.
 */
static bool sess_cmdsn_take(struct iscsi_sess *s, uint32_t cmdsn, bool immediate)
{
	uint32_t ahead;

	switch (sess_cmdsn_check(s, cmdsn, immediate)) {
	case CMDSN_ACCEPT:
		if (!immediate)
			sess_cmdsn_consume(s);
		return true;
	case CMDSN_HOLD:
		ahead = cmdsn - s->exp_cmdsn;
		if (ahead >= 64)
			return false;
		s->ooo |= 1ull << ahead;
		return true;
	case CMDSN_DROP:
	default:
		return false;
	}
}

/* ---- task allocation ---- */

static struct iscsi_task *sess_task_get(struct iscsi_sess *s, bool immediate)
{
	struct list_node *n;
	struct iscsi_task *t;

	if (!immediate && s->window_used >= s->queue_depth)
		return NULL;
	n = list_pop(&s->free_tasks);
	if (!n)
		return NULL;
	t = list_entry(n, struct iscsi_task, node);
	list_add_tail(&s->active, &t->node);
	t->gen = (uint16_t)((t->gen + 1) & 0x7fff);
	t->state = TASK_DATA_OUT;
	t->immediate = immediate;
	if (!immediate)
		s->window_used++;
	t->in_scsi = t->aborted = t->ran = t->overflow_reject = t->crc_error = false;
	t->tx_status_queued = t->status_ready = false;
	t->want = t->unsol_total = t->unsol_got = t->got = 0;
	t->r2t_next = t->r2t_outstanding = t->r2tsn = t->unsol_datasn = 0;
	memset(t->r2t, 0, sizeof(t->r2t));
	t->r2t_slot_emit = 0;
	t->tx_off = t->tx_len = t->datasn = 0;
	t->tx_refs = 0;
	t->tmf_waiter = NULL;
	memset(&t->cmd, 0, sizeof(t->cmd));
	t->cmd.buf_index = -1;
	list_init(&t->wait_node);
	list_init(&t->tx_node);
	return t;
}

/* Gives up the task's CmdSN window slot (once its final status is on its way). */
static void task_window_release(struct iscsi_task *t)
{
	if (!t->immediate && !t->tx_status_queued) {
		t->sess->window_used--;
	}
	t->tx_status_queued = true;
}

static void task_release(struct iscsi_task *t)
{
	struct iscsi_sess *s = t->sess;

	if (t->in_scsi || t->tx_refs)
		return;
	task_window_release(t);
	if (t->cmd.buf) {
		bufpool_put(s->tgt->bufpool, t->cmd.buf);
		t->cmd.buf = NULL;
	}
	if (t->state == TASK_WAIT_CMDSN)
		s->held--;
	list_del(&t->wait_node);
	list_del(&t->tx_node);
	list_del(&t->node);
	t->state = TASK_FREE;
	list_add_tail(&s->free_tasks, &t->node);
	if (s->logout_pending)
		iscsi_sess_maybe_logout(s);
	if (!s->conn && !s->dying && !s->in_scsi && list_empty(&s->active))
		iscsi_sess_destroy(s);
}

void iscsi_task_tx_done(struct iscsi_task *t)
{
	if (t->state == TASK_TX && !t->tx_refs && list_empty(&t->tx_node))
		task_release(t);
}

/* ---- sessions ---- */

static void sess_scsi_done(struct scsi_cmd *cmd);

int iscsi_sess_create(struct iscsi_tgt *tg, struct iscsi_conn *c, struct iscsi_login *l,
		      struct iscsi_sess **out)
{
	struct iscsi_sess *s = calloc(1, sizeof(*s));
	char port[TGT_NAME_MAX + 32];
	int rc;

	if (!s)
		return -ENOMEM;
	s->tgt = tg;
	s->type = l->session_type;
	s->params = l->params;
	memcpy(s->isid, l->isid, sizeof(s->isid));
	snprintf(s->initiator_name, sizeof(s->initiator_name), "%s", l->initiator_name);
	s->queue_depth = tg->cfg->iscsi.queue_depth;
	s->ntasks = 2 * s->queue_depth + ISCSI_IMMEDIATE_RESERVE;
	s->tasks = calloc(s->ntasks, sizeof(*s->tasks));
	if (!s->tasks) {
		free(s);
		return -ENOMEM;
	}
	list_init(&s->free_tasks);
	list_init(&s->active);
	list_init(&s->cmdsn_wait);
	list_init(&s->unsol_wait);
	for (uint32_t i = 0; i < s->ntasks; i++) {
		s->tasks[i].sess = s;
		s->tasks[i].index = (uint16_t)i;
		list_init(&s->tasks[i].wait_node);
		list_init(&s->tasks[i].tx_node);
		list_add_tail(&s->free_tasks, &s->tasks[i].node);
	}
	s->ctx.reactor = tg->reactor;
	s->ctx.bufpool = tg->bufpool;
	s->exp_cmdsn = l->cmdsn;
	s->stat_sn = l->exp_statsn;
	if (s->type == ISCSI_SESSION_NORMAL) {
		/* RFC 7143 13.5 / SAM-5: the SCSI initiator port name. */
		snprintf(port, sizeof(port), "%s,i,0x%02x%02x%02x%02x%02x%02x", l->initiator_name,
			 l->isid[0], l->isid[1], l->isid[2], l->isid[3], l->isid[4], l->isid[5]);
		rc = scsi_nexus_create(&s->nexus, tg->scsi, l->initiator_name, port,
				       c->rel_port_id);
		if (rc) {
			free(s->tasks);
			free(s);
			return rc;
		}
	}
	s->conn = c;
	list_add_tail(&tg->sessions, &s->tgt_node);
	tg->nsessions++;
	tg->stats.sessions = tg->nsessions;
	*out = s;
	return 0;
}

void iscsi_sess_destroy(struct iscsi_sess *s)
{
	struct iscsi_tgt *tg = s->tgt;

	log_info("session tsih=%u %s: ended", s->tsih, s->initiator_name);
	if (s->nexus)
		scsi_nexus_destroy(s->nexus);
	list_del(&s->tgt_node);
	tg->nsessions--;
	tg->stats.sessions = tg->nsessions;
	free(s->tasks);
	free(s);
	iscsi_tgt_check_stopped(tg);
}

/* The connection is gone (ERL 0: so is the session): abort everything. */
void iscsi_sess_conn_gone(struct iscsi_sess *s)
{
	struct list_node *n, *tmp;

	/* task_release() must not free the session while we walk its tasks. */
	s->dying = true;
	list_for_each_safe(n, tmp, &s->active)
	{
		struct iscsi_task *t = list_entry(n, struct iscsi_task, node);

		t->aborted = true;
		t->tx_refs = 0;
		list_del(&t->tx_node);
		if (t->in_scsi)
			t->cmd.aborted = true;
		task_release(t);
	}
	s->dying = false;
	if (!s->in_scsi && list_empty(&s->active))
		iscsi_sess_destroy(s);
}

bool iscsi_sess_idle(const struct iscsi_sess *s)
{
	return list_empty(&s->active);
}

/* ---- responses ---- */

static void task_compute_residual(struct iscsi_task *t, uint8_t *flags, uint32_t *resid)
{
	struct scsi_cmd *c = &t->cmd;
	uint32_t edtl, spdtl;

	*flags = 0;
	*resid = 0;
	if (c->dir == SCSI_DIR_WRITE || (c->dir == SCSI_DIR_NONE && t->write_bit)) {
		edtl = t->write_bit ? t->edtl : 0;
		spdtl = c->dir == SCSI_DIR_WRITE ? c->xfer_len : 0;
	} else if (c->dir == SCSI_DIR_READ) {
		if (c->status != SAM_STAT_GOOD)
			return;
		edtl = t->read_bit ? t->edtl : 0;
		spdtl = c->data_in_len;
	} else {
		edtl = t->edtl;
		spdtl = 0;
	}
	/* RFC 7143 11.4.5 */
	if (spdtl > edtl) {
		*flags = ISCSI_FLAG_RSP_OVERFLOW;
		*resid = spdtl - edtl;
	} else if (spdtl < edtl) {
		*flags = ISCSI_FLAG_RSP_UNDERFLOW;
		*resid = edtl - spdtl;
	}
}

static bool task_emit_r2ts(struct iscsi_conn *c, struct iscsi_task *t)
{
	for (unsigned i = 0; i < ARRAY_SIZE(t->r2t) && t->r2t_slot_emit; i++) {
		struct iscsi_tx_slot *slot;

		if (!(t->r2t_slot_emit & (1u << i)))
			continue;
		slot = iscsi_conn_slot_next(c);
		if (!slot)
			return false;
		/* RFC 7143 11.8 */
		memset(slot->hdr, 0, ISCSI_BHS_LEN);
		slot->hdr[0] = ISCSI_OP_R2T;
		slot->hdr[1] = ISCSI_FLAG_FINAL;
		iscsi_lun_encode(t->cmd.lun, slot->hdr + 8);
		put_be32(slot->hdr + 16, t->itt);
		put_be32(slot->hdr + 20, t->r2t[i].ttt_seq);
		iscsi_sess_stamp(t->sess, slot->hdr, false);
		put_be32(slot->hdr + 36, t->datasn++);
		put_be32(slot->hdr + 40, t->r2t[i].offset);
		put_be32(slot->hdr + 44, t->r2t[i].len);
		slot = iscsi_conn_slot_fill(c, NULL, 0);
		slot->task = t;
		t->tx_refs++;
		t->r2t_slot_emit &= (uint8_t) ~(1u << i);
	}
	return true;
}

static void task_fill_datain(struct iscsi_task *t, struct iscsi_tx_slot *slot, uint32_t off,
			     uint32_t len, bool final, bool status)
{
	uint8_t rflags = 0;
	uint32_t resid = 0;

	/* RFC 7143 11.7 */
	memset(slot->hdr, 0, ISCSI_BHS_LEN);
	slot->hdr[0] = ISCSI_OP_DATA_IN;
	slot->hdr[1] = final ? ISCSI_FLAG_FINAL : 0;
	if (status) {
		task_compute_residual(t, &rflags, &resid);
		slot->hdr[1] |= ISCSI_FLAG_DATA_STATUS | rflags;
		slot->hdr[3] = t->cmd.status;
		put_be32(slot->hdr + 44, resid);
	}
	iscsi_lun_encode(t->cmd.lun, slot->hdr + 8);
	put_be32(slot->hdr + 16, t->itt);
	put_be32(slot->hdr + 20, ISCSI_RSVD_TAG);
	if (status)
		task_window_release(t);
	iscsi_sess_stamp(t->sess, slot->hdr, status);
	put_be32(slot->hdr + 36, t->datasn++);
	put_be32(slot->hdr + 40, off);
}

static bool task_emit_datain(struct iscsi_conn *c, struct iscsi_task *t)
{
	uint32_t mxdsl = c->params.max_xmit_dsl ? c->params.max_xmit_dsl : 8192;
	uint32_t burst = c->params.max_burst ? c->params.max_burst : 262144;
	bool collapse = t->cmd.status == SAM_STAT_GOOD;

	while (t->tx_off < t->tx_len) {
		struct iscsi_tx_slot *slot = iscsi_conn_slot_next(c);
		uint32_t off = t->tx_off, len = MIN(mxdsl, t->tx_len - off);
		uint32_t burst_end = (off / burst + 1) * burst;
		bool last, final;

		if (!slot)
			return false;
		if (off + len > burst_end)
			len = burst_end - off;
		last = off + len == t->tx_len;
		final = last || off + len == burst_end;
		task_fill_datain(t, slot, off, len, final, last && collapse);
		slot = iscsi_conn_slot_fill(c, (const uint8_t *)t->cmd.buf + off, len);
		slot->task = t;
		t->tx_refs++;
		t->tx_off += len;
		if (last && collapse)
			slot->last_of_task = true;
	}
	return true;
}

static bool task_emit_response(struct iscsi_conn *c, struct iscsi_task *t)
{
	struct iscsi_tx_slot *slot = iscsi_conn_slot_next(c);
	uint32_t resid, dlen = 0;
	uint8_t rflags;

	if (!slot)
		return false;
	/* RFC 7143 11.4 */
	memset(slot->hdr, 0, ISCSI_BHS_LEN);
	slot->hdr[0] = ISCSI_OP_SCSI_RSP;
	task_compute_residual(t, &rflags, &resid);
	slot->hdr[1] = ISCSI_FLAG_FINAL | rflags;
	slot->hdr[2] = 0; /* command completed at target */
	slot->hdr[3] = t->cmd.status;
	put_be32(slot->hdr + 16, t->itt);
	task_window_release(t);
	iscsi_sess_stamp(t->sess, slot->hdr, true);
	put_be32(slot->hdr + 36, t->datasn);
	put_be32(slot->hdr + 44, resid);
	if (t->cmd.status == SAM_STAT_CHECK_CONDITION && t->cmd.sense_len) {
		/* RFC 7143 11.4.7.2: SenseLength, then the sense data. */
		put_be16(t->rsp_data, t->cmd.sense_len);
		memcpy(t->rsp_data + 2, t->cmd.sense, t->cmd.sense_len);
		dlen = 2u + t->cmd.sense_len;
	}
	slot = iscsi_conn_slot_fill(c, dlen ? t->rsp_data : NULL, dlen);
	slot->task = t;
	slot->last_of_task = true;
	t->tx_refs++;
	return true;
}

/* Emits what this task has to send now; true when nothing is left queued. */
bool iscsi_task_emit(struct iscsi_conn *c, struct iscsi_task *t)
{
	if (t->aborted)
		return true;
	if (!task_emit_r2ts(c, t))
		return false;
	if (t->state != TASK_TX)
		return true;
	if (!task_emit_datain(c, t))
		return false;
	if (t->cmd.status == SAM_STAT_GOOD && t->tx_len)
		return true; /* status went with the last Data-In */
	if (t->tx_status_queued)
		return true;
	return task_emit_response(c, t);
}

/* The command is finished: queue Data-In and status. */
static void task_finish(struct iscsi_task *t)
{
	struct iscsi_sess *s = t->sess;

	t->state = TASK_TX;
	if (t->aborted || !s->conn) {
		task_release(t);
		return;
	}
	t->tx_len = 0;
	if (t->cmd.dir == SCSI_DIR_READ && t->read_bit && t->cmd.status == SAM_STAT_GOOD)
		t->tx_len = MIN(t->cmd.data_in_len, t->edtl);
	iscsi_conn_task_queue(s->conn, t);
}

static void sess_scsi_done(struct scsi_cmd *cmd)
{
	struct iscsi_task *t = container_of(cmd, struct iscsi_task, cmd);
	struct iscsi_sess *s = t->sess;

	t->in_scsi = false;
	s->in_scsi--;
	if (t->tmf_waiter) {
		struct iscsi_tmf_wait *w = t->tmf_waiter;

		t->tmf_waiter = NULL;
		if (--w->waiting == 0 && w->rsp && w->conn) {
			iscsi_conn_ctrl_queue(w->conn, w->rsp);
			w->rsp = NULL;
			s->tmf_busy = false;
		}
	}
	if (t->aborted || cmd->aborted) {
		t->aborted = true;
		task_release(t);
		return;
	}
	task_finish(t);
}

static void task_exec(struct iscsi_task *t)
{
	struct iscsi_sess *s = t->sess;
	int rc;

	if (t->crc_error) {
		/* RFC 7143 7.8, 11.4.7.2: a Data-Out was discarded for its digest and
		 * ERL 0 cannot ask for it again: PROTOCOL SERVICE CRC ERROR. */
		scsi_cmd_set_sense(&t->cmd, SK_ABORTED_COMMAND, 0x47, 0x05);
		task_finish(t);
		return;
	}
	t->state = TASK_EXEC;
	t->cmd.data_out_len = MIN(t->got, t->want);
	rc = scsi_cmd_exec(&t->cmd);
	if (rc == SCSI_PENDING) {
		t->in_scsi = true;
		s->in_scsi++;
		return;
	}
	task_finish(t);
}

/* ---- Data-Out / R2T (RFC 7143 10.7, 11.7, 11.8) ---- */

static void task_solicit(struct iscsi_task *t)
{
	struct iscsi_sess *s = t->sess;
	uint32_t maxr2t =
		MIN((uint32_t)s->params.max_outstanding_r2t, (uint32_t)ARRAY_SIZE(t->r2t));

	if (!maxr2t)
		maxr2t = 1;
	while (t->r2t_next < t->want && t->r2t_outstanding < maxr2t) {
		unsigned i;

		for (i = 0; i < ARRAY_SIZE(t->r2t); i++)
			if (!t->r2t[i].used)
				break;
		t->r2t[i].used = true;
		t->r2t[i].offset = t->r2t_next;
		t->r2t[i].len = MIN(s->params.max_burst, t->want - t->r2t_next);
		t->r2t[i].got = 0;
		t->r2t[i].datasn = 0;
		/* TTT: generation, R2T slot and task index; never 0xffffffff. */
		t->r2t[i].ttt_seq = (uint32_t)t->gen << 16 | (uint32_t)i << 12 | t->index;
		t->r2t_next += t->r2t[i].len;
		t->r2t_outstanding++;
		t->r2t_slot_emit |= (uint8_t)(1u << i);
	}
	if (t->r2t_slot_emit && s->conn)
		iscsi_conn_task_queue(s->conn, t);
}

/* Called whenever data arrived or a phase ended: decides what comes next. */
static void task_data_progress(struct iscsi_task *t)
{
	if (t->unsol_got < t->unsol_total)
		return; /* unsolicited data still to come */
	list_del(&t->wait_node);
	if (t->status_ready) {
		task_finish(t);
		return;
	}
	if (t->crc_error && t->r2t_next >= t->want && !t->r2t_outstanding) {
		task_exec(t);
		return;
	}
	if (t->got >= t->want || (t->r2t_next >= t->want && !t->r2t_outstanding)) {
		task_exec(t);
		return;
	}
	if (t->r2t_next < t->unsol_total)
		t->r2t_next = t->unsol_total;
	task_solicit(t);
}

static void task_store(struct iscsi_task *t, uint32_t off, const uint8_t *data, uint32_t len)
{
	if (data && off < t->want && t->cmd.buf)
		memcpy((uint8_t *)t->cmd.buf + off, data, MIN(len, t->want - off));
	t->got += len;
}

/* A Data-Out sequence went wrong: answer the command with DATA PHASE ERROR. */
static void task_data_error(struct iscsi_task *t, const char *why)
{
	struct iscsi_sess *s = t->sess;

	log_rl_warn("session tsih=%u %s: itt=0x%08x: %s; failing the command", s->tsih,
		    s->initiator_name, t->itt, why);
	/* SPC-4: ABORTED COMMAND, 4B/00 DATA PHASE ERROR. */
	scsi_cmd_set_sense(&t->cmd, SK_ABORTED_COMMAND, 0x4b, 0x00);
	memset(t->r2t, 0, sizeof(t->r2t));
	t->r2t_outstanding = 0;
	t->r2t_slot_emit = 0;
	t->want = 0;
	t->unsol_got = t->unsol_total;
	list_del(&t->wait_node);
	task_finish(t);
}

static struct iscsi_task *sess_find_unsol(struct iscsi_sess *s, uint32_t itt)
{
	struct list_node *n;

	list_for_each(n, &s->unsol_wait)
	{
		struct iscsi_task *t = list_entry(n, struct iscsi_task, wait_node);

		if (t->itt == itt)
			return t;
	}
	return NULL;
}

/*
 * data == NULL: the PDU's data digest was wrong. Its sequence bookkeeping
 * still advances (so the exchange ends normally) but nothing is stored and
 * the command fails at the end of its data phase.
 */
static int sess_data_out(struct iscsi_sess *s, const uint8_t *bhs, const uint8_t *data,
			 uint32_t dlen)
{
	uint32_t itt = get_be32(bhs + 16), ttt = get_be32(bhs + 20);
	uint32_t datasn = get_be32(bhs + 36), off = get_be32(bhs + 40);
	bool final = bhs[1] & ISCSI_FLAG_FINAL;
	struct iscsi_task *t;

	if (ttt == ISCSI_RSVD_TAG) {
		t = sess_find_unsol(s, itt);
		if (!t) {
			/* ERL 0: data for a task we no longer track is dropped (RFC 7143 6.?) */
			log_rl_debug("session tsih=%u: unsolicited Data-Out for unknown itt 0x%08x "
				     "dropped",
				     s->tsih, itt);
			return 0;
		}
		if (datasn != t->unsol_datasn || off != t->unsol_got) {
			task_data_error(t, "unsolicited Data-Out out of order (DataSN/offset)");
			return 0;
		}
		if (t->unsol_got + dlen > t->unsol_total) {
			task_data_error(t,
					"more unsolicited data than FirstBurstLength/EDTL allow");
			return 0;
		}
		t->unsol_datasn++;
		if (!data)
			t->crc_error = true;
		task_store(t, off, data, dlen);
		t->unsol_got += dlen;
		if (final && t->unsol_got < t->unsol_total) {
			/* The initiator ended the unsolicited burst early. */
			t->unsol_total = t->unsol_got;
		}
		task_data_progress(t);
		return 0;
	}
	{
		uint32_t idx = ttt & 0xfff, slot = (ttt >> 12) & 0xf, gen = ttt >> 16;
		struct iscsi_task *tt = idx < s->ntasks ? &s->tasks[idx] : NULL;

		if (!tt || tt->gen != gen || slot >= ARRAY_SIZE(tt->r2t) || !tt->r2t[slot].used ||
		    tt->state != TASK_DATA_OUT || tt->itt != itt) {
			log_rl_debug("session tsih=%u: Data-Out with stale TTT 0x%08x dropped",
				     s->tsih, ttt);
			return 0;
		}
		t = tt;
		if (datasn != t->r2t[slot].datasn ||
		    off != t->r2t[slot].offset + t->r2t[slot].got) {
			task_data_error(t, "solicited Data-Out out of order (DataSN/offset)");
			return 0;
		}
		if (t->r2t[slot].got + dlen > t->r2t[slot].len) {
			task_data_error(t, "Data-Out beyond the R2T's desired length");
			return 0;
		}
		t->r2t[slot].datasn++;
		t->r2t[slot].got += dlen;
		if (!data)
			t->crc_error = true;
		task_store(t, off, data, dlen);
		if (t->r2t[slot].got == t->r2t[slot].len || final) {
			if (t->r2t[slot].got != t->r2t[slot].len) {
				task_data_error(t, "R2T sequence ended short");
				return 0;
			}
			t->r2t[slot].used = false;
			t->r2t_outstanding--;
			if (t->r2t_next >= t->want && !t->r2t_outstanding)
				task_exec(t);
			else
				task_solicit(t);
		}
	}
	return 0;
}

/* ---- SCSI Command (RFC 7143 11.3) ---- */

static void task_set_buffer(struct iscsi_task *t, uint32_t need)
{
	size_t cap = 0;

	if (!need)
		return;
	t->cmd.buf = bufpool_get(t->sess->tgt->bufpool, need, &cap);
	t->cmd.buf_cap = cap;
	t->cmd.buf_index = t->cmd.buf ? bufpool_index(t->sess->tgt->bufpool, t->cmd.buf) : -1;
}

static void task_start(struct iscsi_task *t, const uint8_t *bhs, const uint8_t *data, uint32_t dlen)
{
	struct iscsi_sess *s = t->sess;
	struct scsi_cmd *c = &t->cmd;
	uint32_t need = 0;
	int rc;

	t->ran = true;
	c->nexus = s->nexus;
	c->ctx = &s->ctx;
	c->done = sess_scsi_done;
	c->tag = t->itt;
	c->task_attr = bhs[1] & ISCSI_CMD_ATTR_MASK;
	c->xport_read = t->read_bit;
	c->xport_write = t->write_bit;
	c->edtl = t->edtl;
	memcpy(c->cdb, bhs + 32, 16);
	s->tgt->stats.commands++;

	if (iscsi_lun_decode(bhs + 8, &c->lun) < 0)
		c->lun = UINT64_MAX; /* no such LU: the SCSI layer answers 25/00 */
	rc = scsi_cmd_prepare(c);
	if (rc == SCSI_DONE) {
		t->status_ready = true;
	} else if (c->dir == SCSI_DIR_WRITE) {
		/* RFC 7143 11.4.5.1 / FCP-4 9.4.2 a: when EDTL is below the CDB's
		 * length, only EDTL bytes are requested and written (the SCSI layer
		 * merges a partial last block), and the response says overflow.
		 * The buffer covers the whole CDB length for that merge. */
		t->want = MIN(c->xfer_len, t->write_bit ? t->edtl : 0);
		need = c->xfer_len;
	} else if (c->dir == SCSI_DIR_READ) {
		need = c->xfer_len;
	}
	if (need) {
		task_set_buffer(t, need);
		if (!c->buf) {
			log_rl_warn("session tsih=%u %s: no buffer of %u bytes free; BUSY", s->tsih,
				    s->initiator_name, need);
			c->status = SAM_STAT_BUSY;
			c->sense_len = 0;
			t->status_ready = true;
			t->want = 0;
		}
	}
	/* Immediate data (RFC 7143 10.4.4). */
	t->unsol_got = dlen;
	task_store(t, 0, data, dlen);
	if (t->write_bit && !(bhs[1] & ISCSI_FLAG_FINAL))
		t->unsol_total = MIN(t->edtl, s->params.first_burst);
	else
		t->unsol_total = dlen;
	if (t->unsol_total < t->unsol_got)
		t->unsol_total = t->unsol_got;
	if (t->unsol_got < t->unsol_total)
		list_add_tail(&s->unsol_wait, &t->wait_node);
	if (t->status_ready && t->unsol_got >= t->unsol_total) {
		task_finish(t);
		return;
	}
	task_data_progress(t);
}

static void sess_run_held(struct iscsi_sess *s)
{
	while (!list_empty(&s->cmdsn_wait)) {
		struct iscsi_task *t = list_entry(s->cmdsn_wait.next, struct iscsi_task, wait_node);

		if (t->cmdsn != s->exp_cmdsn)
			return;
		list_del(&t->wait_node);
		s->held--;
		sess_cmdsn_consume(s);
		/* Held commands carry no data (see sess_scsi_cmd). */
		task_start(t, t->held_bhs, NULL, 0);
	}
}

static int sess_scsi_cmd(struct iscsi_sess *s, const uint8_t *bhs, const struct iscsi_pdu_hdr *h,
			 const uint8_t *data, uint32_t dlen)
{
	bool imm = h->immediate;
	uint32_t cmdsn = get_be32(bhs + 24);
	enum cmdsn_verdict v = sess_cmdsn_check(s, cmdsn, imm);
	struct iscsi_task *t;

	if (s->type != ISCSI_SESSION_NORMAL) {
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_CMD_NOT_SUPPORTED);
		return 0;
	}
	if (v == CMDSN_DROP) {
		log_rl_info("session tsih=%u %s: CmdSN %u outside window [%u, %u]; command dropped",
			    s->tsih, s->initiator_name, cmdsn, s->exp_cmdsn, sess_max_cmdsn(s));
		return 0;
	}
	if (h->ahs_len) {
		/* Extended CDBs (AHS type 1) are not supported: CDBs are at most 16 bytes. */
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_CMD_NOT_SUPPORTED);
		if (!imm && v == CMDSN_ACCEPT) {
			sess_cmdsn_consume(s);
			sess_run_held(s);
		}
		return 0;
	}
	if (dlen && !(bhs[1] & ISCSI_CMD_F_WRITE)) {
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return 0;
	}
	if (dlen && (!s->params.immediate_data || dlen > s->params.first_burst ||
		     dlen > get_be32(bhs + 20))) {
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return 0;
	}
	t = sess_task_get(s, imm);
	if (!t) {
		iscsi_conn_reject(s->conn, bhs,
				  imm ? ISCSI_REJECT_IMM_CMD_REJECT
				      : ISCSI_REJECT_OUT_OF_RESOURCES);
		return 0;
	}
	t->itt = h->itt;
	t->cmdsn = cmdsn;
	t->edtl = get_be32(bhs + 20);
	t->read_bit = bhs[1] & ISCSI_CMD_F_READ;
	t->write_bit = bhs[1] & ISCSI_CMD_F_WRITE;
	if (v == CMDSN_HOLD) {
		/* Out of order inside the window (a gap): hold until the gap closes. We keep
		 * only commands without immediate data this way; otherwise reject. */
		struct list_node *n;

		if (dlen || ((bhs[1] & ISCSI_CMD_F_WRITE) && !(bhs[1] & ISCSI_FLAG_FINAL))) {
			task_release(t);
			iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_OUT_OF_RESOURCES);
			return 0;
		}
		t->state = TASK_WAIT_CMDSN;
		s->held++;
		memcpy(t->held_bhs, bhs, ISCSI_BHS_LEN);
		list_for_each(n, &s->cmdsn_wait)
		{
			struct iscsi_task *o = list_entry(n, struct iscsi_task, wait_node);

			if (sna_lt(cmdsn, o->cmdsn))
				break;
		}
		list_insert_between(&t->wait_node, n->prev, n);
		return 0;
	}
	if (!imm)
		sess_cmdsn_consume(s);
	task_start(t, bhs, data, dlen);
	sess_run_held(s);
	return 0;
}

/* ---- NOP-Out (RFC 7143 11.18) ---- */

static int sess_nop_out(struct iscsi_sess *s, const uint8_t *bhs, const struct iscsi_pdu_hdr *h,
			const uint8_t *data, uint32_t dlen)
{
	uint32_t cmdsn = get_be32(bhs + 24);
	struct iscsi_ctrl *ctl;
	uint32_t len;

	if (h->itt == ISCSI_RSVD_TAG)
		return 0; /* answer to our ping: liveness was already noted */
	if (!sess_cmdsn_take(s, cmdsn, h->immediate))
		return 0;
	len = MIN(dlen, s->conn->params.max_xmit_dsl);
	ctl = iscsi_conn_ctrl_get(s->conn, len);
	if (!ctl) {
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_OUT_OF_RESOURCES);
		return 0;
	}
	iscsi_bhs_init(&ctl->bhs, ISCSI_OP_NOP_IN, ISCSI_FLAG_FINAL, h->itt);
	memcpy(ctl->bhs.raw + 8, bhs + 8, 8);
	put_be32(ctl->bhs.raw + 20, ISCSI_RSVD_TAG);
	memcpy(ctl->data, data, len);
	iscsi_bhs_set_dlen(&ctl->bhs, len);
	ctl->stat = true;
	iscsi_conn_ctrl_queue(s->conn, ctl);
	sess_run_held(s);
	return 0;
}

/* ---- Task management (RFC 7143 11.5, 11.6; SAM-5 7) ---- */

static void task_abort(struct iscsi_task *t, struct iscsi_tmf_wait *w)
{
	if (t->state == TASK_TX) {
		/* Already complete: its response is on the way, nothing to stop. */
		return;
	}
	t->aborted = true;
	list_del(&t->wait_node);
	list_del(&t->tx_node);
	if (t->in_scsi) {
		t->cmd.aborted = true;
		if (w && !t->tmf_waiter) {
			t->tmf_waiter = w;
			w->waiting++;
		}
		return;
	}
	t->tx_refs = 0;
	task_release(t);
}

void iscsi_sess_abort_lu(struct iscsi_sess *s, struct scsi_lu *lu, struct iscsi_tmf_wait *w)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &s->active)
	{
		struct iscsi_task *t = list_entry(n, struct iscsi_task, node);

		if (lu && t->cmd.lu != lu && !(t->state == TASK_WAIT_CMDSN))
			continue;
		task_abort(t, w);
	}
}

static struct iscsi_task *sess_find_task(struct iscsi_sess *s, uint32_t itt)
{
	struct list_node *n;

	list_for_each(n, &s->active)
	{
		struct iscsi_task *t = list_entry(n, struct iscsi_task, node);

		if (t->itt == itt)
			return t;
	}
	return NULL;
}

static uint8_t sess_tmf_run(struct iscsi_sess *s, const uint8_t *bhs, uint8_t fn, bool *cold)
{
	struct iscsi_tgt *tg = s->tgt;
	struct iscsi_tmf_wait *w = &s->tmf_wait;
	struct scsi_lu *lu = NULL;
	uint64_t lun = 0;
	struct list_node *n;

	if (iscsi_lun_decode(bhs + 8, &lun) == 0)
		lu = scsi_tgt_find_lu(tg->scsi, lun);
	switch (fn) {
	case ISCSI_TMF_ABORT_TASK: {
		struct iscsi_task *t = sess_find_task(s, get_be32(bhs + 20));
		uint32_t ref = get_be32(bhs + 32);

		if (t && t->state != TASK_TX) {
			task_abort(t, w);
			return ISCSI_TMF_RSP_COMPLETE;
		}
		/* RFC 7143 11.5.1: a task that already completed (its status is on
		 * its way or sent) does not exist any more (c); a RefCmdSN inside the
		 * window that never arrived counts as received and aborted (b). */
		if (!t && !sna_lt(ref, s->exp_cmdsn) && sna_le(ref, sess_max_cmdsn(s)) &&
		    sna_lt(ref, get_be32(bhs + 24)))
			return ISCSI_TMF_RSP_COMPLETE;
		return ISCSI_TMF_RSP_NO_TASK;
	}
	case ISCSI_TMF_ABORT_TASK_SET:
		if (!lu)
			return ISCSI_TMF_RSP_NO_LUN;
		iscsi_sess_abort_lu(s, lu, w);
		return ISCSI_TMF_RSP_COMPLETE;
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_LOGICAL_UNIT_RESET:
		if (!lu)
			return ISCSI_TMF_RSP_NO_LUN;
		list_for_each(n, &tg->sessions)
		{
			struct iscsi_sess *o = list_entry(n, struct iscsi_sess, tgt_node);

			iscsi_sess_abort_lu(o, lu, o == s ? w : NULL);
		}
		if (fn == ISCSI_TMF_LOGICAL_UNIT_RESET)
			scsi_lu_reset(lu, s->nexus);
		log_notice("session tsih=%u %s: %s on LUN %llu", s->tsih, s->initiator_name,
			   fn == ISCSI_TMF_CLEAR_TASK_SET ? "CLEAR TASK SET" : "LOGICAL UNIT RESET",
			   (unsigned long long)lun);
		return ISCSI_TMF_RSP_COMPLETE;
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET:
		list_for_each(n, &tg->sessions)
		{
			struct iscsi_sess *o = list_entry(n, struct iscsi_sess, tgt_node);

			iscsi_sess_abort_lu(o, NULL, o == s ? w : NULL);
		}
		scsi_tgt_reset(tg->scsi, s->nexus);
		log_notice("session tsih=%u %s: TARGET %s RESET", s->tsih, s->initiator_name,
			   fn == ISCSI_TMF_TARGET_WARM_RESET ? "WARM" : "COLD");
		*cold = fn == ISCSI_TMF_TARGET_COLD_RESET;
		return ISCSI_TMF_RSP_COMPLETE;
	case ISCSI_TMF_TASK_REASSIGN:
		return ISCSI_TMF_RSP_TASK_ALLEGIANT; /* ERL 0: no connection recovery */
	case ISCSI_TMF_CLEAR_ACA:
	default:
		return ISCSI_TMF_RSP_NOT_SUPPORTED;
	}
}

static void sess_close_others(struct iscsi_tgt *tg)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &tg->conns)
	{
		struct iscsi_conn *c = list_entry(n, struct iscsi_conn, tgt_node);

		/* RFC 7143 11.5.1: after a cold reset the target drops every connection. */
		c->close_after_tx = true;
		iscsi_conn_kick(c);
	}
}

static int sess_tmf(struct iscsi_sess *s, const uint8_t *bhs, const struct iscsi_pdu_hdr *h)
{
	uint32_t cmdsn = get_be32(bhs + 24);
	uint8_t fn = bhs[1] & 0x7f, rsp;
	struct iscsi_ctrl *ctl;
	bool cold = false;

	if (!sess_cmdsn_take(s, cmdsn, h->immediate))
		return 0;
	if (s->type != ISCSI_SESSION_NORMAL || s->tmf_busy) {
		iscsi_conn_reject(s->conn, bhs,
				  s->tmf_busy ? ISCSI_REJECT_TASK_IN_PROGRESS
					      : ISCSI_REJECT_CMD_NOT_SUPPORTED);
		return 0;
	}
	ctl = iscsi_conn_ctrl_get(s->conn, 0);
	if (!ctl) {
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_OUT_OF_RESOURCES);
		return 0;
	}
	s->tmf_wait.waiting = 0;
	s->tmf_wait.conn = s->conn;
	s->tmf_wait.rsp = NULL;
	rsp = sess_tmf_run(s, bhs, fn, &cold);
	iscsi_bhs_init(&ctl->bhs, ISCSI_OP_TASK_MGMT_RSP, ISCSI_FLAG_FINAL, h->itt);
	ctl->bhs.raw[2] = rsp;
	ctl->stat = true;
	if (cold)
		sess_close_others(s->tgt);
	if (s->tmf_wait.waiting) {
		/* SAM-5 7.1: answer once every aborted task is really gone. */
		s->tmf_wait.rsp = ctl;
		s->tmf_busy = true;
	} else {
		iscsi_conn_ctrl_queue(s->conn, ctl);
	}
	sess_run_held(s);
	return 0;
}

/* ---- Text (RFC 7143 11.10, 11.11) ---- */

static int sess_text(struct iscsi_sess *s, const uint8_t *bhs, const struct iscsi_pdu_hdr *h,
		     const uint8_t *data, uint32_t dlen)
{
	static char req[ISCSI_LOGIN_ACCUM_MAX + 1];
	uint32_t cmdsn = get_be32(bhs + 24), cap = s->conn->params.max_xmit_dsl;
	struct iscsi_ctrl *ctl;
	int n;

	if (!sess_cmdsn_take(s, cmdsn, h->immediate))
		return 0;
	if ((bhs[1] & ISCSI_LOGIN_F_CONTINUE) || dlen > ISCSI_LOGIN_ACCUM_MAX) {
		/* Multi-PDU text requests are not needed by any key we support. */
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_CMD_NOT_SUPPORTED);
		return 0;
	}
	memcpy(req, data, dlen);
	req[dlen] = 0;
	if (cap == 0 || cap > 65536)
		cap = 65536;
	ctl = iscsi_conn_ctrl_get(s->conn, cap);
	if (!ctl) {
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_OUT_OF_RESOURCES);
		return 0;
	}
	n = iscsi_text_handle(s->tgt->cfg, s->type, req, dlen, (char *)ctl->data, cap);
	if (n < 0) {
		iscsi_conn_ctrl_put(s->conn, ctl);
		iscsi_conn_reject(s->conn, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
		return 0;
	}
	iscsi_bhs_init(&ctl->bhs, ISCSI_OP_TEXT_RSP, ISCSI_FLAG_FINAL, h->itt);
	memcpy(ctl->bhs.raw + 8, bhs + 8, 8);
	put_be32(ctl->bhs.raw + 20, ISCSI_RSVD_TAG);
	iscsi_bhs_set_dlen(&ctl->bhs, (uint32_t)n);
	ctl->dlen = (uint32_t)n;
	ctl->stat = true;
	iscsi_conn_ctrl_queue(s->conn, ctl);
	sess_run_held(s);
	return 0;
}

/* ---- Logout (RFC 7143 11.14, 11.15) ---- */

void iscsi_sess_maybe_logout(struct iscsi_sess *s)
{
	struct iscsi_ctrl *ctl;

	if (!s->logout_pending || !s->conn || !iscsi_sess_idle(s))
		return;
	ctl = iscsi_conn_ctrl_get(s->conn, 0);
	if (!ctl) {
		iscsi_conn_close(s->conn, "logout");
		return;
	}
	s->logout_pending = false;
	iscsi_bhs_init(&ctl->bhs, ISCSI_OP_LOGOUT_RSP, ISCSI_FLAG_FINAL, s->logout_itt);
	ctl->bhs.raw[2] = ISCSI_LOGOUT_RSP_OK;
	ctl->stat = true;
	ctl->close_after = true;
	log_info("session tsih=%u %s: logged out", s->tsih, s->initiator_name);
	iscsi_conn_ctrl_queue(s->conn, ctl);
}

static int sess_logout(struct iscsi_sess *s, const uint8_t *bhs, const struct iscsi_pdu_hdr *h)
{
	uint32_t cmdsn = get_be32(bhs + 24);
	uint8_t reason = bhs[1] & 0x7f;
	struct iscsi_ctrl *ctl;

	if (!sess_cmdsn_take(s, cmdsn, h->immediate))
		return 0;
	if (reason == ISCSI_LOGOUT_REMOVE_FOR_RECOVERY) {
		ctl = iscsi_conn_ctrl_get(s->conn, 0);
		if (!ctl)
			return -ENOMEM;
		iscsi_bhs_init(&ctl->bhs, ISCSI_OP_LOGOUT_RSP, ISCSI_FLAG_FINAL, h->itt);
		ctl->bhs.raw[2] = ISCSI_LOGOUT_RSP_RECOVERY_UNSUPPORTED;
		ctl->stat = true;
		iscsi_conn_ctrl_queue(s->conn, ctl);
		return 0;
	}
	/* Close session or close (our only) connection: the same at MaxConnections=1. */
	s->conn->state = CONN_LOGGING_OUT;
	s->logout_pending = true;
	s->logout_itt = h->itt;
	iscsi_sess_maybe_logout(s);
	return 0;
}

/* ---- dispatch ---- */

void iscsi_sess_data_digest_error(struct iscsi_sess *s, const uint8_t *pdu,
				  const struct iscsi_pdu_hdr *h)
{
	if (h->opcode == ISCSI_OP_DATA_OUT)
		sess_data_out(s, pdu, NULL, h->data_len);
}

int iscsi_sess_rx_pdu(struct iscsi_sess *s, const uint8_t *pdu, const struct iscsi_pdu_hdr *h,
		      const uint8_t *data, uint32_t dlen)
{
	if (s->conn->state == CONN_LOGGING_OUT && h->opcode != ISCSI_OP_DATA_OUT &&
	    h->opcode != ISCSI_OP_NOP_OUT) {
		iscsi_conn_reject(s->conn, pdu, ISCSI_REJECT_WAITING_LOGOUT);
		return 0;
	}
	switch (h->opcode) {
	case ISCSI_OP_SCSI_CMD:
		return sess_scsi_cmd(s, pdu, h, data, dlen);
	case ISCSI_OP_DATA_OUT:
		return sess_data_out(s, pdu, data, dlen);
	case ISCSI_OP_NOP_OUT:
		return sess_nop_out(s, pdu, h, data, dlen);
	case ISCSI_OP_TASK_MGMT_REQ:
		return sess_tmf(s, pdu, h);
	case ISCSI_OP_TEXT_REQ:
		return sess_text(s, pdu, h, data, dlen);
	case ISCSI_OP_LOGOUT_REQ:
		return sess_logout(s, pdu, h);
	case ISCSI_OP_SNACK_REQ:
		/* ERL 0 (RFC 7143 11.16): SNACK is not supported. */
		iscsi_conn_reject(s->conn, pdu, ISCSI_REJECT_SNACK);
		return 0;
	case ISCSI_OP_LOGIN_REQ:
	default:
		log_rl_warn("session tsih=%u %s: unexpected opcode 0x%02x in full feature phase",
			    s->tsih, s->initiator_name, h->opcode);
		iscsi_conn_reject(s->conn, pdu, ISCSI_REJECT_PROTOCOL_ERROR);
		return 0;
	}
}
