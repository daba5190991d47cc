/* SPDX-License-Identifier: MIT */
/*
 * Internals of the SCSI layer shared by its modules (scsi.c dispatcher and
 * objects, spc.c, sbc.c, pr.c, alua.c, sense.c). Not for the transport.
 *
 * Dispatch: every supported opcode (and service action) has one
 * struct scsi_op_desc. scsi_cmd_prepare() finds it, applies the checks that
 * are the same for every command in one place (LUN exists, unit attention,
 * ALUA access state, reservation conflict, CDB reserved bits via the usage
 * mask, CONTROL byte), then calls desc->prepare to decode lengths.
 */
#ifndef TARGET_SCSI_SCSI_INT_H
#define TARGET_SCSI_SCSI_INT_H

#include "lib/byteorder.h"
#include "target/scsi/scsi.h"

/* Unit attention conditions a nexus may hold per LU, highest priority first
 * (SAM-5 5.14: reported one at a time, each cleared when reported). */
enum scsi_ua {
	UA_POWER_ON = 0,          /* 29/00 POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
	UA_BUS_RESET,             /* 29/02 SCSI BUS RESET OCCURRED (target reset) */
	UA_LUN_RESET,             /* 29/03 BUS DEVICE RESET FUNCTION OCCURRED */
	UA_NEXUS_LOSS,            /* 29/07 I_T NEXUS LOSS OCCURRED */
	UA_RESERVATIONS_PREEMPTED,/* 2A/03 */
	UA_RESERVATIONS_RELEASED, /* 2A/04 */
	UA_REGISTRATIONS_PREEMPTED, /* 2A/05 */
	UA_ALUA_CHANGED,          /* 2A/06 ASYMMETRIC ACCESS STATE CHANGED */
	UA_CAPACITY_CHANGED,      /* 2A/09 */
	UA_INQUIRY_CHANGED,       /* 3F/03 */
	UA_LUNS_CHANGED,          /* 3F/0E REPORTED LUNS DATA HAS CHANGED */
	UA__COUNT,
};

/* Flags of an op descriptor. */
#define SOP_NO_UA       (1u << 0) /* INQUIRY, REPORT LUNS, REQUEST SENSE: UA not reported/cleared */
#define SOP_NO_LU       (1u << 1) /* valid for a LUN that does not exist (REPORT LUNS, INQUIRY) */
#define SOP_ALUA_STANDBY (1u << 2) /* allowed in standby (SPC-4 5.9.2.4.4) */
#define SOP_ALUA_UNAVAIL (1u << 3) /* allowed in unavailable/offline/transitioning */
#define SOP_CONFLICT_EXEMPT (1u << 4) /* allowed despite a reservation held by others (SPC-4 5.13.1 table) */
#define SOP_WRITES      (1u << 5) /* modifies the medium: refused on read-only LUs */
#define SOP_RESV6_EXEMPT (1u << 6) /* allowed despite RESERVE(6) of another nexus */

struct scsi_op_desc {
	uint8_t opcode;
	uint8_t sa;             /* service action, when has_sa */
	bool has_sa;
	uint8_t cdb_len;
	uint32_t flags;
	/* CDB usage data for REPORT SUPPORTED OPERATION CODES (SPC-4 6.35.3);
	 * bits set here are the only ones a CDB may have set (rest: INVALID FIELD IN CDB). */
	uint8_t usage[16];
	/* Decode lengths: set c->dir and c->xfer_len; SCSI_OK or SCSI_DONE (sense set). */
	int (*prepare)(struct scsi_cmd *c);
	/* Execute: SCSI_DONE or SCSI_PENDING. */
	int (*exec)(struct scsi_cmd *c);
	const char *name;
};

/* Tables exported by the modules; the dispatcher searches them in order. */
extern const struct scsi_op_desc spc_ops[];
extern const unsigned spc_ops_count;
extern const struct scsi_op_desc sbc_ops[];
extern const unsigned sbc_ops_count;
extern const struct scsi_op_desc pr_ops[];
extern const unsigned pr_ops_count;

const struct scsi_op_desc *scsi_find_op(uint8_t opcode, uint8_t sa, bool *opcode_known);
/* Iterates every descriptor (for RSOC): returns NULL at the end. */
const struct scsi_op_desc *scsi_op_at(unsigned i);

/* Persistent reservation state of one LU (SPC-4 5.13). */
#define PR_MAX_REGISTRANTS 64
struct pr_registrant {
	bool used;
	uint64_t key;
	char initiator_port[TGT_NAME_MAX + 32]; /* "<iqn>,i,0x<isid>" */
	uint16_t rel_port_id;
};

struct pr_state {
	uint32_t generation;
	struct pr_registrant reg[PR_MAX_REGISTRANTS];
	int holder;         /* index into reg of the reservation holder, -1 none; for
	                       all-registrants types any registrant holds it */
	uint8_t type;       /* PR type when holder >= 0 (or all-registrants active) */
	bool reserved;      /* a persistent reservation exists */
	bool aptpl;
};

struct scsi_nexus {
	struct list_node tgt_node;
	struct scsi_tgt *tgt;
	char initiator_name[TGT_NAME_MAX];
	char initiator_port[TGT_NAME_MAX + 32];
	uint16_t rel_port_id;
	uint64_t id;
	/* Pending unit attentions, one bitmask (of enum scsi_ua) per LU slot. */
	uint32_t ua[TGT_MAX_LUNS];
	/* Last sense for REQUEST SENSE (SPC-4 6.39): the sense of the previous
	 * CHECK CONDITION is not kept (autosense), so this holds only deferred info. */
};

struct scsi_lu {
	struct scsi_tgt *tgt;
	unsigned slot;          /* index in tgt->lus, also the UA index */
	uint64_t lun;
	struct bdev *bdev;
	uint64_t lu_id;
	uint64_t nblocks;
	uint32_t block_size;
	uint8_t block_shift;
	bool read_only;
	bool thin;
	bool removal_prevented; /* PREVENT ALLOW MEDIUM REMOVAL (state only) */
	bool stopped;           /* START STOP UNIT with START=0 */
	char vendor[9];
	char product[17];
	char revision[5];
	char serial[33];        /* VPD 0x80, derived from lu_id */
	uint8_t naa[16];        /* VPD 0x83 NAA IEEE Registered Extended */
	struct alua_table alua;
	/* SPC-2 RESERVE(6/10): holder nexus or NULL. */
	struct scsi_nexus *resv6_holder;
	struct pr_state pr;
	struct list_node inflight; /* scsi_cmd.lu_node of PENDING commands */
	/* Mode page state that MODE SELECT may change (caching WCE etc.). */
	bool wce;
};

struct scsi_tgt {
	char name[TGT_NAME_MAX];
	const struct scsi_tgt_ops *ops;
	void *ops_arg;
	struct scsi_lu *lus[TGT_MAX_LUNS];
	unsigned nlus;
	struct list_node nexuses;
	uint64_t next_nexus_id;
};

/* UA helpers (scsi.c). */
void scsi_ua_raise_all(struct scsi_tgt *t, struct scsi_lu *lu, enum scsi_ua ua,
		       const struct scsi_nexus *except);
void scsi_ua_raise(struct scsi_nexus *n, struct scsi_lu *lu, enum scsi_ua ua);
/* Reports (sets sense) and clears the highest-priority pending UA; false if none. */
bool scsi_ua_report(struct scsi_cmd *c);

/* ALUA (alua.c): the access state of the port the command arrived on. */
uint8_t alua_port_state(const struct scsi_lu *lu, uint16_t rel_port_id);
/* Returns true and sets sense when the state forbids the command. */
bool alua_check_access(struct scsi_cmd *c, const struct scsi_op_desc *d);
/* REPORT TARGET PORT GROUPS data into buf; returns bytes of full data. */
uint32_t alua_build_rtpg(const struct scsi_lu *lu, bool extended, uint8_t *buf, uint32_t cap);

/* Persistent reservations (pr.c). */
void pr_init(struct pr_state *pr);
/* Returns true when the command must get RESERVATION CONFLICT. */
bool pr_conflicts(const struct scsi_cmd *c, const struct scsi_op_desc *d);
/* I_T nexus loss / LU reset hooks. */
void pr_nexus_gone(struct scsi_lu *lu, struct scsi_nexus *n);

/* Helpers shared by spc.c and sbc.c. */
#define SCSI_ASC_INVALID_OPCODE       0x20, 0x00
#define SCSI_ASC_LBA_OUT_OF_RANGE     0x21, 0x00
#define SCSI_ASC_INVALID_FIELD_CDB    0x24, 0x00
#define SCSI_ASC_INVALID_FIELD_PARAM  0x26, 0x00
#define SCSI_ASC_PARAM_LIST_LENGTH    0x1a, 0x00
#define SCSI_ASC_WRITE_PROTECTED      0x27, 0x00
#define SCSI_ASC_LU_NOT_SUPPORTED     0x25, 0x00
#define SCSI_ASC_MISCOMPARE_VERIFY    0x1d, 0x00
#define SCSI_ASC_SAVING_PARAMS_UNSUP  0x39, 0x00
#define SCSI_ASC_READ_ERROR           0x11, 0x00
#define SCSI_ASC_WRITE_ERROR          0x0c, 0x00
#define SCSI_ASC_INTERNAL_FAILURE     0x44, 0x00
#define SCSI_ASC_SPACE_ALLOC_FAILED   0x27, 0x07
#define SCSI_ASC_NOT_READY_STOPPED    0x04, 0x02
#define SCSI_ASC_INVALID_RELEASE_PR   0x26, 0x04

/* Sense with the SKSV field pointer (SPC-4 4.5.2.4.2): field in CDB (cd=1) or parameter data. */
void scsi_cmd_set_sense_field(struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq,
			      bool cd, uint16_t field, int8_t bit);

/* Copies min(len, c->xfer_len) of a response into c->buf; sets data_in_len. */
void scsi_cmd_put_data(struct scsi_cmd *c, const void *data, uint32_t len);

#endif
