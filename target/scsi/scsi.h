/* SPDX-License-Identifier: MIT */
/*
 * The SCSI layer's surface, as the transport (iSCSI) sees it.
 *
 * Objects:
 *   scsi_tgt    a SCSI target device: its logical units and its I_T nexuses.
 *   scsi_lu     a logical unit: a bdev, a stable identity (NAA/serial), ALUA
 *               table, reservations, unit attentions.
 *   scsi_nexus  an I_T nexus (one iSCSI session): initiator port name, the
 *               relative target port it arrived on, pending unit attentions.
 *   scsi_cmd    one command, embedded in the transport's task.
 *
 * Command life cycle (one scsi_cmd):
 *
 *   transport fills nexus/ctx/lun/cdb/edtl/dir flags
 *        |
 *   scsi_cmd_prepare() --SCSI_DONE--> status/sense set, transport responds
 *        | SCSI_OK: lu, dir and xfer_len are known
 *   transport gets a buffer of xfer_len bytes (bufpool), receives Data-Out
 *        |
 *   scsi_cmd_exec() --SCSI_DONE--> finished synchronously (done() NOT called)
 *        | SCSI_PENDING
 *   ... backing I/O ...  --> c->done(c) exactly once, on the same reactor
 *
 * On completion: status (SAM status byte), sense[0..sense_len) for CHECK
 * CONDITION, and for data-in commands data_in_len bytes valid in buf. The
 * transport computes iSCSI residuals from edtl, xfer_len and data_in_len.
 *
 * Thread rules: commands of one nexus run on that nexus' reactor. Functions
 * that change LU-wide state (ALUA table, PR, resets) say where they may run.
 */
#ifndef TARGET_SCSI_SCSI_H
#define TARGET_SCSI_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "lib/list.h"
#include "target/config.h"
#include "target/io/bdev.h"

struct bufpool;
struct reactor;
struct scsi_tgt;
struct scsi_lu;
struct scsi_nexus;

/* SAM-5 status codes. */
#define SAM_STAT_GOOD		      0x00
#define SAM_STAT_CHECK_CONDITION      0x02
#define SAM_STAT_CONDITION_MET	      0x04
#define SAM_STAT_BUSY		      0x08
#define SAM_STAT_RESERVATION_CONFLICT 0x18
#define SAM_STAT_TASK_SET_FULL	      0x28
#define SAM_STAT_TASK_ABORTED	      0x40

/* Sense keys (SPC-4 4.5.6). */
#define SK_NO_SENSE	   0x0
#define SK_RECOVERED_ERROR 0x1
#define SK_NOT_READY	   0x2
#define SK_MEDIUM_ERROR	   0x3
#define SK_HARDWARE_ERROR  0x4
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION  0x6
#define SK_DATA_PROTECT	   0x7
#define SK_ABORTED_COMMAND 0xb
#define SK_MISCOMPARE	   0xe

#define SCSI_SENSE_MAX 32

/* Return vocabulary of prepare/exec. */
enum scsi_rc {
	SCSI_OK = 0,	  /* prepare: go on (get buffer, receive data, exec) */
	SCSI_DONE = 1,	  /* finished; status/sense/data are final, done() not called */
	SCSI_PENDING = 2, /* exec: done() will be called later, exactly once */
};

enum scsi_dir {
	SCSI_DIR_NONE = 0,
	SCSI_DIR_READ = 1,  /* data-in: target to initiator */
	SCSI_DIR_WRITE = 2, /* data-out: initiator to target */
};

/* Per-reactor resources a command may use. */
struct scsi_exec_ctx {
	struct reactor *reactor;
	struct bufpool *bufpool;
};

/* Private per-command state of the SCSI layer (multi-step commands). */
struct scsi_cmd_priv {
	struct bdev_io io;
	void *scratch; /* bufpool buffer for VERIFY / COMPARE AND WRITE / ... */
	size_t scratch_cap;
	uint64_t lba;
	uint32_t nblocks;
	uint32_t pos; /* progress of multi-step commands */
	uint8_t step;
	uint8_t fua;
	/* sbc.c: parked behind a COMPARE AND WRITE / ORWRITE of overlapping LBAs */
	struct list_node wait_node;
	int16_t scratch_index; /* registered region of scratch or -1 */
	uint8_t lock_slot;     /* sbc.c: 1 + index of the LBA-range lock held, 0 none */
};

struct scsi_cmd {
	/* Filled by the transport before prepare. */
	struct scsi_nexus *nexus;
	struct scsi_exec_ctx *ctx;
	uint64_t lun; /* SAM LUN as a flat number (0..16383) */
	uint8_t cdb[16];
	uint8_t task_attr; /* SAM task attribute (0 simple, 1 head of queue, 2 ordered, 4 ACA) */
	bool xport_read;   /* iSCSI R bit */
	bool xport_write;  /* iSCSI W bit */
	uint32_t edtl;	   /* Expected Data Transfer Length */
	uint32_t tag;	   /* initiator task tag, for logs and TMF */

	/* Set by scsi_cmd_prepare(). */
	struct scsi_lu *lu;
	uint8_t dir;	   /* enum scsi_dir */
	uint32_t xfer_len; /* bytes the CDB moves (allocation length for data-in) */

	/* Data buffer, owned by the transport (at least xfer_len bytes). */
	void *buf;
	size_t buf_cap;
	int buf_index;	       /* registered region of buf or -1 */
	uint32_t data_out_len; /* data-out bytes actually received into buf */
	uint32_t data_in_len;  /* data-in bytes produced into buf */

	/* Result. */
	uint8_t status;
	uint8_t sense_len;
	uint8_t sense[SCSI_SENSE_MAX];

	void (*done)(struct scsi_cmd *c);
	bool aborted;		  /* set by TMF; done() still runs, transport sends nothing */
	struct list_node lu_node; /* on lu's in-flight list while PENDING */
	struct scsi_cmd_priv priv;
};

int scsi_cmd_prepare(struct scsi_cmd *c);
int scsi_cmd_exec(struct scsi_cmd *c);

/* Fixed-format sense (SPC-4 4.5.3) with CHECK CONDITION status. */
void scsi_cmd_set_sense(struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq);
/* Maps a bdev -errno to status + sense (the one errno -> sense table). */
void scsi_cmd_set_errno(struct scsi_cmd *c, int err);

/* ---- ALUA (SPC-4 5.9) ---- */

enum alua_state {
	ALUA_AO = 0x0,
	ALUA_ANO = 0x1,
	ALUA_STANDBY = 0x2,
	ALUA_UNAVAILABLE = 0x3,
	ALUA_OFFLINE = 0xe,
	ALUA_TRANSITIONING = 0xf,
};

#define ALUA_MAX_TPGS  4
#define ALUA_MAX_PORTS 16

struct alua_tpg {
	uint16_t id;
	uint8_t state; /* enum alua_state */
	bool pref;
	uint8_t nports;
	uint16_t rel_port[ALUA_MAX_PORTS];
};

/*
 * The port-group table of one LU: what RTPG reports and what gates commands.
 * One authority sets it (standalone: at start; cluster: clusterd), stamped
 * with a version that only grows.
 */
struct alua_table {
	uint64_t version;
	uint8_t ntpgs;
	struct alua_tpg tpg[ALUA_MAX_TPGS];
};

/* ---- Targets, LUs, nexuses ---- */

struct scsi_lu_config {
	uint64_t lun;
	struct bdev *bdev;    /* taken over by the LU */
	uint64_t lu_id;	      /* stable identity: NAA and serial derive from it */
	const char *vendor;   /* 8 chars, e.g. "CLUSTERD" */
	const char *product;  /* 16 chars */
	const char *revision; /* 4 chars */
	bool read_only;
	bool thin; /* LBPME: UNMAP / WRITE SAME UNMAP / GET LBA STATUS */
};

/*
 * Transport hooks the SCSI layer calls for task-set wide effects
 * (LUN RESET, CLEAR TASK SET, PREEMPT AND ABORT): abort every task of lu
 * from every nexus except `keep` (NULL: all). Runs on the caller's reactor.
 */
struct scsi_tgt_ops {
	void (*abort_tasks)(struct scsi_tgt *t, struct scsi_lu *lu, struct scsi_nexus *keep,
			    void *arg);
};

int scsi_tgt_create(struct scsi_tgt **out, const char *name, const struct scsi_tgt_ops *ops,
		    void *ops_arg);
void scsi_tgt_destroy(struct scsi_tgt *t);
const char *scsi_tgt_name(const struct scsi_tgt *t);

/* Adds an LU; 0 or -errno (-EEXIST duplicate LUN, -EINVAL bad config). */
int scsi_tgt_add_lu(struct scsi_tgt *t, const struct scsi_lu_config *cfg, struct scsi_lu **out);
struct scsi_lu *scsi_tgt_find_lu(struct scsi_tgt *t, uint64_t lun);
unsigned scsi_tgt_lu_count(const struct scsi_tgt *t);
struct scsi_lu *scsi_tgt_lu_at(struct scsi_tgt *t, unsigned i);

/* Sets one LU's ALUA table; raises UA 2A/06 on each nexus whose port's state changed
 * (not when the new state is TRANSITIONING). Reactor thread. */
void scsi_lu_set_alua(struct scsi_lu *lu, const struct alua_table *tab);
/* Sets every LU's table to tab. */
void scsi_tgt_set_alua(struct scsi_tgt *t, const struct alua_table *tab);
const struct alua_table *scsi_lu_alua(const struct scsi_lu *lu);
/* Fills tab with the standalone table: TPG 1, active/optimized, holding every
 * port of rel_ports[0..n) (at most ALUA_MAX_PORTS), version 1. Any thread. */
void alua_table_standalone(struct alua_table *tab, const uint16_t *rel_ports, unsigned n);
struct bdev *scsi_lu_bdev(const struct scsi_lu *lu);
uint64_t scsi_lu_lun(const struct scsi_lu *lu);

/*
 * I_T nexus. initiator_port is the SCSI initiator port name, for iSCSI
 * "<iqn>,i,0x<isid>" (RFC 7143 13.5); initiator_name is the bare iSCSI name
 * (TransportID, RESERVE(6) ownership). A new nexus gets UA 29/00 on every LU.
 */
int scsi_nexus_create(struct scsi_nexus **out, struct scsi_tgt *t, const char *initiator_name,
		      const char *initiator_port, uint16_t rel_port_id);
/* I_T nexus loss: drops RESERVE(6) held by it; PR registrations persist. */
void scsi_nexus_destroy(struct scsi_nexus *n);

/* Task management (SAM-5 7): the transport aborts its own tasks, the SCSI layer
 * resets LU state and raises the unit attentions. 0 or -errno. */
int scsi_lu_reset(struct scsi_lu *lu, struct scsi_nexus *by);
int scsi_tgt_reset(struct scsi_tgt *t, struct scsi_nexus *by);

#endif
