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
	UA_POWER_ON = 0,	    /* 29/00 POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
	UA_BUS_RESET,		    /* 29/02 SCSI BUS RESET OCCURRED (target reset) */
	UA_LUN_RESET,		    /* 29/03 BUS DEVICE RESET FUNCTION OCCURRED */
	UA_NEXUS_LOSS,		    /* 29/07 I_T NEXUS LOSS OCCURRED */
	UA_RESERVATIONS_PREEMPTED,  /* 2A/03 */
	UA_RESERVATIONS_RELEASED,   /* 2A/04 */
	UA_REGISTRATIONS_PREEMPTED, /* 2A/05 */
	UA_ALUA_CHANGED,	    /* 2A/06 ASYMMETRIC ACCESS STATE CHANGED */
	UA_CAPACITY_CHANGED,	    /* 2A/09 */
	UA_INQUIRY_CHANGED,	    /* 3F/03 */
	UA_LUNS_CHANGED,	    /* 3F/0E REPORTED LUNS DATA HAS CHANGED */
	UA_MODE_CHANGED,	    /* 2A/01 MODE PARAMETERS CHANGED */
	UA__COUNT,
};

/* Flags of an op descriptor. */
#define SOP_NO_UA	 (1u << 0) /* INQUIRY, REPORT LUNS, REQUEST SENSE: UA not reported/cleared */
#define SOP_NO_LU	 (1u << 1) /* valid for a LUN that does not exist (REPORT LUNS, INQUIRY) */
#define SOP_ALUA_STANDBY (1u << 2) /* allowed in standby (SPC-4 5.9.2.4.4) */
#define SOP_ALUA_UNAVAIL (1u << 3) /* allowed in unavailable/offline/transitioning */
#define SOP_CONFLICT_EXEMPT                                                                        \
	(1u << 4) /* allowed despite a reservation held by others (SPC-4 5.13.1 table) */
#define SOP_WRITES	 (1u << 5) /* modifies the medium: refused on read-only LUs */
#define SOP_RESV6_EXEMPT (1u << 6) /* allowed despite RESERVE(6) of another nexus */
/*
 * Persistent reservations (SPC-4 5.13.1 tables, SBC-3 4.17): a command with
 * neither SOP_CONFLICT_EXEMPT nor SOP_PR_READ is "write class": it conflicts for
 * a non-holder under Write Exclusive and Exclusive Access, and for an
 * unregistered I_T nexus under every registrants-only/all-registrants type.
 * SOP_PR_READ marks "read class" (READ, VERIFY, PRE-FETCH, GET LBA STATUS ...):
 * allowed through Write Exclusive types, conflicting under Exclusive Access.
 */
#define SOP_PR_READ (1u << 7)
/* Needs a started LU: NOT READY, INITIALIZING COMMAND REQUIRED (04/02) after
 * START STOP UNIT with START=0 (TEST UNIT READY, media access commands). */
#define SOP_MEDIUM (1u << 8)

struct scsi_op_desc {
	uint8_t opcode;
	uint8_t sa; /* service action, when has_sa */
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
	bool all_tg_pt; /* registered through every target port (ALL_TG_PT=1) */
};

struct pr_state {
	uint32_t generation;
	struct pr_registrant reg[PR_MAX_REGISTRANTS];
	int holder;    /* index into reg of the reservation holder, -1 none; for
	                       all-registrants types any registrant holds it */
	uint8_t type;  /* PR type when holder >= 0 (or all-registrants active) */
	bool reserved; /* a persistent reservation exists */
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
	unsigned slot; /* index in tgt->lus, also the UA index */
	uint64_t lun;
	struct bdev *bdev;
	uint64_t lu_id;
	uint64_t nblocks;
	uint32_t block_size;
	uint8_t block_shift;
	bool read_only;
	bool thin;
	bool removal_prevented; /* PREVENT ALLOW MEDIUM REMOVAL (state only) */
	bool stopped;		/* START STOP UNIT with START=0 */
	char vendor[9];
	char product[17];
	char revision[5];
	char serial[33]; /* VPD 0x80, derived from lu_id */
	uint8_t naa[16]; /* VPD 0x83 NAA IEEE Registered Extended */
	struct alua_table alua;
	/* SPC-2 RESERVE(6/10): holder nexus or NULL. */
	struct scsi_nexus *resv6_holder;
	struct pr_state pr;
	struct list_node inflight; /* scsi_cmd.lu_node of PENDING commands */
	/* Mode page state that MODE SELECT may change (caching WCE etc.). */
	bool wce;
	bool swp; /* control mode page SWP: software write protect */
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
#define SCSI_ASC_INVALID_OPCODE	     0x20, 0x00
#define SCSI_ASC_LBA_OUT_OF_RANGE    0x21, 0x00
#define SCSI_ASC_INVALID_FIELD_CDB   0x24, 0x00
#define SCSI_ASC_INVALID_FIELD_PARAM 0x26, 0x00
#define SCSI_ASC_PARAM_LIST_LENGTH   0x1a, 0x00
#define SCSI_ASC_WRITE_PROTECTED     0x27, 0x00
#define SCSI_ASC_LU_NOT_SUPPORTED    0x25, 0x00
#define SCSI_ASC_MISCOMPARE_VERIFY   0x1d, 0x00
#define SCSI_ASC_SAVING_PARAMS_UNSUP 0x39, 0x00
#define SCSI_ASC_READ_ERROR	     0x11, 0x00
#define SCSI_ASC_WRITE_ERROR	     0x0c, 0x00
#define SCSI_ASC_INTERNAL_FAILURE    0x44, 0x00
#define SCSI_ASC_SPACE_ALLOC_FAILED  0x27, 0x07
#define SCSI_ASC_NOT_READY_STOPPED   0x04, 0x02
#define SCSI_ASC_INVALID_RELEASE_PR  0x26, 0x04

/* Sense with the SKSV field pointer (SPC-4 4.5.2.4.2): field in CDB (cd=1) or parameter data. */
void scsi_cmd_set_sense_field(struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq, bool cd,
			      uint16_t field, int8_t bit);

/* Copies min(len, c->xfer_len) of a response into c->buf; sets data_in_len. */
void scsi_cmd_put_data(struct scsi_cmd *c, const void *data, uint32_t len);

/*
 * ---- Limits shared by spc.c (Block Limits / LBP VPD pages, MODE SENSE) and
 * sbc.c (which enforces them). Change both sides together. ----
 */
/* Largest data transfer of one command (READ/WRITE/VERIFY ...). SBC: > this
 * -> INVALID FIELD IN CDB. VPD B0h MAXIMUM TRANSFER LENGTH = this / block size. */
#define SCSI_MAX_XFER_BYTES (1u << 20)
/* COMPARE AND WRITE NUMBER OF LOGICAL BLOCKS limit (VPD B0h byte 5; 2*N blocks
 * of data-out must fit SCSI_MAX_XFER_BYTES at 4096-byte blocks). */
#define SCSI_MAX_CAW_BLOCKS 128u
/* UNMAP (thin LUs only; both are 0 in VPD B0h otherwise): total LBAs of one
 * command and block descriptors in its parameter list. */
#define SCSI_MAX_UNMAP_LBA_COUNT   (1u << 20)
#define SCSI_MAX_UNMAP_DESCRIPTORS 64u
/* WRITE SAME: NUMBER OF LOGICAL BLOCKS limit in bytes (VPD B0h MAXIMUM WRITE
 * SAME LENGTH = this / block size). Kept below 65536 blocks of 512 bytes: an
 * initiator (libiscsi WriteSame16.Unmap) that sees a larger limit first WRITEs
 * 65536 blocks in one command, beyond SCSI_MAX_XFER_BYTES. WSNZ=0: a WRITE SAME
 * with 0 blocks writes from its LBA to the end of the LU, when that is within
 * this limit (INVALID FIELD IN CDB otherwise). */
#define SCSI_MAX_WRITE_SAME_BYTES (16u << 20)
#define SCSI_WSNZ		  0
/* Granularity we report (optimal transfer granularity, unmap granularity),
 * in bytes: 4 KiB, the page size every backing store here aligns to. */
#define SCSI_GRANULARITY_BYTES 4096u

/* Logical block provisioning as both SBC (READ CAPACITY(16) LBPME/LBPRZ, UNMAP,
 * WRITE SAME UNMAP, GET LBA STATUS) and SPC (VPD B2h) report it. */
static inline bool scsi_lu_lbpme(const struct scsi_lu *lu)
{
	return lu->thin;
}

static inline bool scsi_lu_lbprz(const struct scsi_lu *lu)
{
	return lu->thin && lu->bdev && lu->bdev->discard_zeroes;
}

/* Write protection from the configuration/bdev or MODE SELECT (control page SWP). */
static inline bool scsi_lu_write_protected(const struct scsi_lu *lu)
{
	return lu->read_only || lu->swp;
}

/*
 * Response writer: builders append bytes; what lands beyond cap is counted but
 * not stored, so the total (the length fields report) stays exact while the
 * copy truncates to the allocation length (SPC-4 4.2.5.6). No allocation.
 */
struct scsi_out {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len; /* bytes of the full response so far */
};

static inline void scsi_out_init(struct scsi_out *o, void *buf, uint32_t cap)
{
	o->buf = buf;
	o->cap = buf ? cap : 0;
	o->len = 0;
}

/* Appends n bytes (data NULL: zeroes). */
void scsi_out_put(struct scsi_out *o, const void *data, uint32_t n);
void scsi_out_u8(struct scsi_out *o, uint8_t v);
void scsi_out_be16(struct scsi_out *o, uint16_t v);
void scsi_out_be32(struct scsi_out *o, uint32_t v);
void scsi_out_be64(struct scsi_out *o, uint64_t v);
/* Overwrites already appended bytes at off (for length fields), where they fit. */
void scsi_out_set_u8(struct scsi_out *o, uint32_t off, uint8_t v);
void scsi_out_set_be16(struct scsi_out *o, uint32_t off, uint16_t v);
void scsi_out_set_be32(struct scsi_out *o, uint32_t off, uint32_t v);
/* Starts a data-in response straight into c->buf (capacity min(xfer_len, buf_cap)). */
void scsi_cmd_out(struct scsi_cmd *c, struct scsi_out *o);
/* Ends it: data_in_len = min(full length, capacity), status GOOD. */
void scsi_cmd_out_done(struct scsi_cmd *c, const struct scsi_out *o);

/* The fixed-format sense bytes of a unit attention (for REQUEST SENSE too). */
void scsi_ua_code(enum scsi_ua ua, uint8_t *asc, uint8_t *ascq);
/* Pops the highest-priority UA of c's nexus for c's LU; false if none. */
bool scsi_ua_pop(struct scsi_nexus *n, const struct scsi_lu *lu, enum scsi_ua *ua);
/* Builds sense data (fixed 0x70 or, desc, descriptor 0x72) into buf[18]; returns length. */
uint8_t scsi_sense_build(uint8_t *buf, bool desc, uint8_t key, uint8_t asc, uint8_t ascq);

/*
 * Asynchronous commands: an exec that returns SCSI_PENDING may call
 * scsi_cmd_pending() to put c on lu->inflight, and must then finish with
 * scsi_cmd_complete() (unlinks, calls c->done) instead of c->done() directly.
 */
void scsi_cmd_pending(struct scsi_cmd *c);
void scsi_cmd_complete(struct scsi_cmd *c);

/* The TPG of a relative target port in lu's table, or NULL. */
const struct alua_tpg *alua_port_tpg(const struct scsi_lu *lu, uint16_t rel_port_id);
/* Whether rel_port_id is a target port of lu (any port while no table is set). */
bool alua_port_known(const struct scsi_lu *lu, uint16_t rel_port_id);

/*
 * ---- Persistent reservations as a pure state machine (SPC-4 5.13) ----
 *
 * pr.c parses PERSISTENT RESERVE OUT into a struct pr_out_req (plain data, no
 * pointers: the cluster can ship it to the peer as is), then pr_apply() turns
 * (pr_state, request) into the new pr_state and a struct pr_result, touching
 * nothing else. The caller performs the effects the result names (status,
 * unit attentions, task aborts). Applying the same requests in the same order
 * on two nodes gives the same state.
 */
enum pr_out_sa {
	PR_OUT_REGISTER = 0x0,
	PR_OUT_RESERVE = 0x1,
	PR_OUT_RELEASE = 0x2,
	PR_OUT_CLEAR = 0x3,
	PR_OUT_PREEMPT = 0x4,
	PR_OUT_PREEMPT_ABORT = 0x5,
	PR_OUT_REGISTER_IGNORE = 0x6,
	PR_OUT_REGISTER_MOVE = 0x7,
};

enum pr_type {
	PR_TYPE_WE = 0x1,
	PR_TYPE_EA = 0x3,
	PR_TYPE_WE_RO = 0x5,
	PR_TYPE_EA_RO = 0x6,
	PR_TYPE_WE_AR = 0x7,
	PR_TYPE_EA_AR = 0x8,
};

struct pr_out_req {
	uint8_t sa;    /* enum pr_out_sa */
	uint8_t scope; /* 0: LU_SCOPE */
	uint8_t type;  /* enum pr_type */
	bool all_tg_pt;
	bool unreg;	 /* REGISTER AND MOVE: drop the issuer's registration */
	uint64_t key;	 /* RESERVATION KEY */
	uint64_t sa_key; /* SERVICE ACTION RESERVATION KEY */
	/* The issuing I_T nexus. */
	char initiator_port[TGT_NAME_MAX + 32];
	uint16_t rel_port_id;
	/* REGISTER AND MOVE destination I_T nexus. */
	char move_port[TGT_NAME_MAX + 32];
	uint16_t move_rel_port_id;
};

enum pr_status {
	PR_GOOD = 0,
	PR_CONFLICT,		/* RESERVATION CONFLICT status */
	PR_INVALID_FIELD_CDB,	/* ILLEGAL REQUEST 24/00 */
	PR_INVALID_FIELD_PARAM, /* ILLEGAL REQUEST 26/00 */
	PR_INVALID_RELEASE,	/* ILLEGAL REQUEST 26/04 */
	PR_NO_RESOURCES,	/* ILLEGAL REQUEST 55/04 INSUFFICIENT REGISTRATION RESOURCES */
};

struct pr_result {
	uint8_t status; /* enum pr_status */
	bool abort;	/* PREEMPT AND ABORT removed registrations: abort their tasks */
	/* Unit attention per registration slot, 0 or (enum scsi_ua + 1). A slot
	 * listed here keeps its initiator_port/rel_port_id/all_tg_pt even when its
	 * registration was removed, until the next pr_apply(). */
	uint8_t ua[PR_MAX_REGISTRANTS];
};

/* Applies one decoded PR OUT to pr. Pure: no I/O, no globals. Any thread that owns pr. */
void pr_apply(struct pr_state *pr, const struct pr_out_req *req, struct pr_result *res);
/* True when slot reg of pr belongs to the I_T nexus (initiator_port, rel_port_id). */
bool pr_reg_matches(const struct pr_registrant *reg, const char *initiator_port,
		    uint16_t rel_port_id);
/* Registration slot of an I_T nexus, or -1. */
int pr_find(const struct pr_state *pr, const char *initiator_port, uint16_t rel_port_id);
/* RESERVE/RELEASE(6/10) under persistent reservations (SPC-4 5.13.3, CRH=1):
 * 1 complete with GOOD and do nothing, 0 process as SPC-2, -1 RESERVATION CONFLICT. */
int pr_crh_check(const struct pr_state *pr, const struct scsi_nexus *n);

#endif
