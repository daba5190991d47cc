/* SPDX-License-Identifier: MIT */
/*
 * Internals of the iSCSI service: target, session, connection, task.
 *
 * Connection states:
 *
 *   LOGIN --final login response sent--> FULL_FEATURE --Logout--> LOGGING_OUT
 *     |                                      |                        |
 *     +-------------- error / EOF / timeout -+------------------------+--> CLOSING --> freed
 *
 * Task (one SCSI command) states:
 *
 *   NEW --prepare--> DATA_OUT (write: waiting for immediate/unsolicited/R2T data)
 *    |                  |
 *    |                  v
 *    +------------> EXEC (in the SCSI layer, maybe PENDING on backing I/O)
 *                       |
 *                       v
 *                   TX (Data-In and/or SCSI Response queued) --all sent--> free
 *
 * A task is freed only when its last PDU left the socket (its buffer is part
 * of the outgoing iovec until then) and its SCSI command is no longer in the
 * SCSI layer. Aborted tasks skip TX.
 */
#ifndef TARGET_ISCSI_ISCSI_INT_H
#define TARGET_ISCSI_ISCSI_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include "lib/bufpool.h"
#include "lib/list.h"
#include "lib/reactor.h"
#include "target/iscsi/iscsi_tgt.h"
#include "target/iscsi/login.h"
#include "target/iscsi/params.h"
#include "target/iscsi/pdu.h"
#include "target/scsi/scsi.h"

#define ISCSI_IMMEDIATE_RESERVE 16  /* tasks beyond the CmdSN window for immediate commands */
#define ISCSI_TX_SLOTS		512 /* outgoing PDU descriptors per connection */
#define ISCSI_TX_IOV		256 /* iovecs per sendmsg */
#define ISCSI_CTRL_ITEMS	32 /* control PDUs (NOP-In, TMF, Reject, ...) in flight per connection */
#define ISCSI_CTRL_INLINE	256 /* inline data bytes of a control PDU */
#define ISCSI_AHS_MAX		1020

struct iscsi_tgt;
struct iscsi_sess;
struct iscsi_conn;

enum iscsi_task_state {
	TASK_FREE,
	TASK_WAIT_CMDSN, /* received out of order, waiting for the CmdSN gap to close */
	TASK_DATA_OUT,
	TASK_EXEC,
	TASK_TX,
};

struct iscsi_task {
	struct scsi_cmd cmd;
	struct iscsi_sess *sess;
	struct list_node node;	    /* sess->free_tasks or sess->active */
	struct list_node wait_node; /* sess->cmdsn_wait or sess->unsol_wait */
	struct list_node tx_node;   /* conn->txq while it has PDUs to emit */
	uint8_t state;
	bool immediate;
	bool in_scsi; /* scsi_cmd_exec returned PENDING, done() not yet called */
	bool aborted;
	bool ran;	      /* went through prepare/exec (CmdSN consumed etc.) */
	bool overflow_reject; /* write with EDTL < SPDTL: answered with 0E/03 */
	bool tx_status_queued;
	uint16_t index; /* in sess->tasks, part of the TTT */
	uint16_t gen;	/* bumped at each reuse, part of the TTT */
	uint32_t itt;
	uint32_t cmdsn;
	uint32_t edtl;
	bool read_bit, write_bit;

	/* Data-Out bookkeeping (RFC 7143 10.7, 11.7). */
	uint32_t want;	      /* data-out bytes we keep in buf */
	uint32_t unsol_total; /* immediate + unsolicited bytes the initiator will send */
	uint32_t unsol_got;
	uint32_t got;	   /* total data-out bytes received (kept or dropped) */
	uint32_t r2t_next; /* next offset to solicit */
	uint32_t r2t_outstanding;
	uint32_t r2tsn;
	uint32_t unsol_datasn;
	/* One entry per outstanding R2T: its offset/length and next expected DataSN. */
	struct {
		uint32_t ttt_seq;
		uint32_t offset;
		uint32_t len;
		uint32_t got;
		uint32_t datasn;
		bool used;
	} r2t[4];

	/* Data-In / response emission. */
	uint32_t tx_off;      /* data-in bytes already put into descriptors */
	uint32_t tx_len;      /* data-in bytes to send (min(data_in_len, edtl)) */
	uint32_t datasn;      /* next Data-In DataSN / R2TSN space (shared, RFC 7143 11.7.5) */
	uint32_t pending_r2t; /* R2Ts to emit */
	uint32_t tx_refs;     /* descriptors in flight that point at this task */
	struct iscsi_tmf_wait *tmf_waiter;
	uint8_t rsp_data[2 + SCSI_SENSE_MAX]; /* SCSI Response data segment: SenseLength + sense */
	uint8_t r2t_slot_emit; /* bitmask of r2t[] entries whose R2T PDU is still to be sent */
	bool status_ready;     /* final status known, waiting only for unsolicited data */
	bool crc_error;	       /* a Data-Out of this task was dropped for its digest */
	uint8_t held_bhs[ISCSI_BHS_LEN]; /* command held for a CmdSN gap */
};

/* A control PDU: everything except SCSI Data-In/Response/R2T. */
struct iscsi_ctrl {
	struct list_node node; /* conn->ctrl_free or conn->txq_ctrl */
	struct iscsi_bhs bhs;
	bool stat;		 /* carries StatSN (advance after) */
	bool stat_no_advance;	 /* carries StatSN but does not advance it (NOP-In ping) */
	bool close_after;	 /* close the connection once sent */
	bool full_feature_after; /* login complete once sent */
	uint32_t dlen;
	uint8_t *data; /* inline or a bufpool buffer */
	bool data_pooled;
	uint8_t inline_data[ISCSI_CTRL_INLINE];
};

/* One outgoing PDU: header slot + optional data span. */
struct iscsi_tx_slot {
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	uint8_t trailer[8]; /* padding (up to 3) + data digest (4) */
	uint32_t hdr_len;
	uint32_t trailer_len;
	const uint8_t *data;
	uint32_t dlen;
	struct iscsi_task *task; /* released when sent (tx_refs) */
	struct iscsi_ctrl *ctrl; /* returned to the pool when sent */
	bool last_of_task;
};

enum iscsi_conn_state {
	CONN_LOGIN,
	CONN_FULL_FEATURE,
	CONN_LOGGING_OUT,
	CONN_CLOSING,
};

struct iscsi_conn {
	struct iscsi_tgt *tgt;
	struct iscsi_sess *sess;
	struct list_node tgt_node;
	int fd;
	uint8_t state;
	char peer[64]; /* "addr:port" for logs */
	uint16_t portal_tpgt;
	uint16_t rel_port_id;
	const struct tgt_portal *portal;

	struct iscsi_login login;
	struct iscsi_login_env login_env;
	struct iscsi_params params;
	struct iscsi_pdu_limits lim;

	/* Receive. */
	struct reactor_op rx_op;
	bool rx_busy;
	uint8_t *rx_buf;
	uint32_t rx_cap;
	uint32_t rx_start; /* first unparsed byte */
	uint32_t rx_end;   /* end of received bytes */

	/* Transmit: a ring of descriptors, one sendmsg in flight. */
	struct reactor_op tx_op;
	struct reactor_deferred flush;
	bool tx_busy;
	struct iscsi_tx_slot *slots;
	uint32_t slot_head;   /* oldest in flight/unsent */
	uint32_t slot_tail;   /* next free */
	uint32_t tx_inflight; /* slots covered by the current sendmsg */
	uint32_t tx_skip;     /* bytes of slot_head already sent (partial send) */
	struct iovec iov[ISCSI_TX_IOV];
	struct msghdr msg;
	struct list_node txq;	   /* tasks with PDUs to emit, in order */
	struct list_node txq_ctrl; /* control PDUs to emit */
	struct iscsi_ctrl ctrl[ISCSI_CTRL_ITEMS];
	struct list_node ctrl_free;
	uint32_t ctrl_nfree;

	/* Liveness. */
	uint64_t last_rx_ns;
	uint64_t login_start_ns;
	uint64_t ping_sent_ns; /* 0: no ping outstanding */
	uint32_t ping_ttt;

	struct reactor_op close_op;
	bool closing;
	bool close_after_tx;
	bool rx_paused;	 /* parsing waits for free control PDUs */
	bool rx_stopped; /* a fatal Reject is on its way; read nothing more */
	uint32_t refs;	 /* outstanding reactor ops (rx, tx, close) */
};

struct iscsi_tmf_wait {
	struct iscsi_ctrl *rsp;
	uint32_t waiting; /* aborted tasks still in the SCSI layer */
	struct iscsi_conn *conn;
};

struct iscsi_sess {
	struct iscsi_tgt *tgt;
	struct list_node tgt_node;
	struct iscsi_conn *conn; /* MaxConnections=1 */
	enum iscsi_session_type type;
	struct scsi_nexus *nexus;
	char initiator_name[TGT_NAME_MAX];
	uint8_t isid[6];
	uint16_t tsih;
	struct iscsi_params params;

	uint32_t exp_cmdsn;
	uint32_t stat_sn; /* next StatSN to send */
	uint32_t queue_depth;
	uint32_t window_used; /* non-immediate tasks alive (bounded by queue_depth) */
	uint32_t held;	      /* of those, held behind a CmdSN gap */
	uint64_t ooo;	      /* CmdSN ExpCmdSN+i already consumed out of order (bit i) */
	struct iscsi_task *tasks;
	uint32_t ntasks;
	struct list_node free_tasks;
	struct list_node active;
	struct list_node cmdsn_wait; /* sorted by CmdSN */
	struct list_node unsol_wait; /* tasks expecting unsolicited Data-Out */
	struct scsi_exec_ctx ctx;
	uint32_t in_scsi; /* commands in the SCSI layer */
	bool logout_pending;
	uint32_t logout_itt;
	struct iscsi_tmf_wait tmf_wait;
	bool tmf_busy;
	bool dying; /* conn_gone is aborting the tasks */
};

struct iscsi_listener {
	struct iscsi_tgt *tgt;
	const struct tgt_portal *portal;
	int fd;
	struct reactor_op op;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool active;
};

struct iscsi_tgt {
	const struct tgt_config *cfg;
	struct reactor *reactor;
	struct bufpool *bufpool;
	struct scsi_tgt *scsi;
	struct iscsi_listener listeners[TGT_MAX_PORTALS];
	unsigned nlisteners;
	struct list_node conns;
	struct list_node sessions;
	uint32_t nsessions;
	uint32_t nconns;
	uint16_t next_tsih;
	struct iscsi_tgt_stats stats;
	struct reactor_op tick_op;
	bool tick_armed;
	bool stopping;
	uint64_t stop_deadline_ns;
	void (*stop_done)(void *arg);
	void *stop_arg;
	bool stop_reported;
	struct reactor_deferred stop_check;
};

/* conn.c */
int iscsi_conn_create(struct iscsi_tgt *t, int fd, const struct tgt_portal *portal,
		      const struct sockaddr_storage *peer);
void iscsi_conn_close(struct iscsi_conn *c, const char *why);
struct iscsi_ctrl *iscsi_conn_ctrl_get(struct iscsi_conn *c, uint32_t dlen);
void iscsi_conn_ctrl_put(struct iscsi_conn *c, struct iscsi_ctrl *ctl);
void iscsi_conn_ctrl_queue(struct iscsi_conn *c, struct iscsi_ctrl *ctl);
void iscsi_conn_task_queue(struct iscsi_conn *c, struct iscsi_task *task);
void iscsi_conn_kick(struct iscsi_conn *c);
void iscsi_conn_reject(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason);
void iscsi_conn_reject_close(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason);
void iscsi_conn_tick(struct iscsi_conn *c, uint64_t now);
struct iscsi_tx_slot *iscsi_conn_slot_next(struct iscsi_conn *c);
struct iscsi_tx_slot *iscsi_conn_slot_fill(struct iscsi_conn *c, const uint8_t *data,
					   uint32_t dlen);

/* session.c */
int iscsi_sess_create(struct iscsi_tgt *t, struct iscsi_conn *c, struct iscsi_login *l,
		      struct iscsi_sess **out);
void iscsi_sess_destroy(struct iscsi_sess *s);
void iscsi_sess_conn_gone(struct iscsi_sess *s);
/* Full-feature PDU dispatch; returns 0, or -errno to close the connection. */
int iscsi_sess_rx_pdu(struct iscsi_sess *s, const uint8_t *pdu, const struct iscsi_pdu_hdr *h,
		      const uint8_t *data, uint32_t dlen);
/* Emits this task's next PDUs into the connection's slots; true when finished. */
bool iscsi_task_emit(struct iscsi_conn *c, struct iscsi_task *task);
void iscsi_task_tx_done(struct iscsi_task *task);
void iscsi_sess_stamp(struct iscsi_sess *s, uint8_t *bhs, bool advance_statsn);
void iscsi_sess_abort_lu(struct iscsi_sess *s, struct scsi_lu *lu, struct iscsi_tmf_wait *w);
bool iscsi_sess_idle(const struct iscsi_sess *s);
void iscsi_sess_maybe_logout(struct iscsi_sess *s);
void iscsi_sess_data_digest_error(struct iscsi_sess *s, const uint8_t *pdu,
				  const struct iscsi_pdu_hdr *h);

/* iscsi_tgt.c */
int iscsi_tgt_bind_session(struct iscsi_login *l, void *arg);
void iscsi_tgt_conn_gone(struct iscsi_tgt *t, struct iscsi_conn *c);
void iscsi_tgt_check_stopped(struct iscsi_tgt *t);

#endif
