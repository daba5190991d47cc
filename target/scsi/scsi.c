/* SPDX-License-Identifier: MIT */
/*
 * SCSI layer core: target/LU/nexus objects, the command dispatcher, unit
 * attentions, sense data and the one errno -> sense table.
 *
 * The dispatcher applies every check that is the same for all commands here,
 * in this order, so each handler in spc.c/sbc.c/pr.c only decodes its own CDB:
 *
 *   LUN configured?  -> no: 25/00 (INQUIRY/REPORT LUNS/REQUEST SENSE go on)
 *   unit attention?  -> report one, clear it (not INQUIRY/REPORT LUNS/REQUEST SENSE)
 *   opcode known?    -> 20/00, or 24/00 for an unknown service action
 *   CDB bits         -> 24/00 for any bit outside the descriptor's usage mask
 *   ALUA state       -> NOT READY 04/0A, 04/0B, 04/0C (alua.c)
 *   RESERVE(6)       -> RESERVATION CONFLICT when held by another nexus
 *   persistent resv. -> RESERVATION CONFLICT per type (pr.c)
 *   write protect    -> DATA PROTECT 27/00
 *   stopped LU       -> NOT READY 04/02
 *   desc->prepare    -> lengths and direction
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/compiler.h"
#include "target/scsi/scsi_int.h"

/* ---- op tables ---- */

static const struct {
	const struct scsi_op_desc *ops;
	const unsigned *count;
} scsi_tables[] = {
	{spc_ops, &spc_ops_count},
	{sbc_ops, &sbc_ops_count},
	{pr_ops, &pr_ops_count},
};

/* Returns the descriptor of (opcode, sa), or NULL; *opcode_known says whether any
 * descriptor has this opcode (then a NULL result means an unknown service action). */
const struct scsi_op_desc *scsi_find_op(uint8_t opcode, uint8_t sa, bool *opcode_known)
{
	bool known = false;

	for (unsigned t = 0; t < ARRAY_SIZE(scsi_tables); t++) {
		for (unsigned i = 0; i < *scsi_tables[t].count; i++) {
			const struct scsi_op_desc *d = &scsi_tables[t].ops[i];

			if (d->opcode != opcode)
				continue;
			known = true;
			if (!d->has_sa || d->sa == sa) {
				if (opcode_known)
					*opcode_known = true;
				return d;
			}
		}
	}
	if (opcode_known)
		*opcode_known = known;
	return NULL;
}

/* The i-th descriptor over all tables (SPC, SBC, PR order), NULL past the end. */
const struct scsi_op_desc *scsi_op_at(unsigned i)
{
	for (unsigned t = 0; t < ARRAY_SIZE(scsi_tables); t++) {
		if (i < *scsi_tables[t].count)
			return &scsi_tables[t].ops[i];
		i -= *scsi_tables[t].count;
	}
	return NULL;
}

/* ---- sense data ---- */

/* SPC-4 4.5.3 fixed format (0x70) or 4.5.2 descriptor format (0x72), no descriptors. */
uint8_t scsi_sense_build(uint8_t *buf, bool desc, uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(buf, 0, 18);
	if (desc) {
		buf[0] = 0x72;
		buf[1] = key & 0x0f;
		buf[2] = asc;
		buf[3] = ascq;
		return 8;
	}
	buf[0] = 0x70;
	buf[2] = key & 0x0f;
	buf[7] = 10; /* additional sense length: bytes 8..17 */
	buf[12] = asc;
	buf[13] = ascq;
	return 18;
}

void scsi_cmd_set_sense(struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	c->status = SAM_STAT_CHECK_CONDITION;
	c->sense_len = scsi_sense_build(c->sense, false, key, asc, ascq);
	c->data_in_len = 0;
}

/* SPC-4 4.5.2.4.2 field pointer: which CDB (cd) or parameter byte/bit is wrong. */
void scsi_cmd_set_sense_field(struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq, bool cd,
			      uint16_t field, int8_t bit)
{
	scsi_cmd_set_sense(c, key, asc, ascq);
	c->sense[15] = 0x80 | (cd ? 0x40 : 0);
	if (bit >= 0 && bit <= 7)
		c->sense[15] |= 0x08 | (uint8_t)bit;
	put_be16(&c->sense[16], field);
}

/*
 * The one errno -> status/sense table for backing-store results. -EIO is a read
 * error for data-in commands and a write error otherwise (a failed FLUSH is a
 * lost write). Resource shortages are BUSY so the initiator simply retries.
 */
void scsi_cmd_set_errno(struct scsi_cmd *c, int err)
{
	switch (err) {
	case 0:
		c->status = SAM_STAT_GOOD;
		c->sense_len = 0;
		break;
	case -EIO:
		if (c->dir == SCSI_DIR_READ)
			scsi_cmd_set_sense(c, SK_MEDIUM_ERROR, SCSI_ASC_READ_ERROR);
		else
			scsi_cmd_set_sense(c, SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
		break;
	case -ENOSPC:
		scsi_cmd_set_sense(c, SK_DATA_PROTECT, SCSI_ASC_SPACE_ALLOC_FAILED);
		break;
	case -EROFS:
		scsi_cmd_set_sense(c, SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		break;
	case -ECANCELED:
		scsi_cmd_set_sense(c, SK_ABORTED_COMMAND, 0x00, 0x00);
		break;
	case -ENOMEM:
	case -EBUSY:
	case -EAGAIN:
		c->status = SAM_STAT_BUSY;
		c->sense_len = 0;
		c->data_in_len = 0;
		break;
	default:
		scsi_cmd_set_sense(c, SK_HARDWARE_ERROR, SCSI_ASC_INTERNAL_FAILURE);
		break;
	}
}

/* ---- data-in helpers ---- */

void scsi_out_put(struct scsi_out *o, const void *data, uint32_t n)
{
	if (o->len < o->cap) {
		uint32_t room = o->cap - o->len;
		uint32_t k = n < room ? n : room;

		if (data)
			memcpy(o->buf + o->len, data, k);
		else
			memset(o->buf + o->len, 0, k);
	}
	o->len += n;
}

void scsi_out_u8(struct scsi_out *o, uint8_t v)
{
	scsi_out_put(o, &v, 1);
}

void scsi_out_be16(struct scsi_out *o, uint16_t v)
{
	uint8_t b[2];

	put_be16(b, v);
	scsi_out_put(o, b, 2);
}

void scsi_out_be32(struct scsi_out *o, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	scsi_out_put(o, b, 4);
}

void scsi_out_be64(struct scsi_out *o, uint64_t v)
{
	uint8_t b[8];

	put_be64(b, v);
	scsi_out_put(o, b, 8);
}

void scsi_out_set_u8(struct scsi_out *o, uint32_t off, uint8_t v)
{
	if (off < o->cap)
		o->buf[off] = v;
}

void scsi_out_set_be16(struct scsi_out *o, uint32_t off, uint16_t v)
{
	scsi_out_set_u8(o, off, (uint8_t)(v >> 8));
	scsi_out_set_u8(o, off + 1, (uint8_t)v);
}

void scsi_out_set_be32(struct scsi_out *o, uint32_t off, uint32_t v)
{
	scsi_out_set_be16(o, off, (uint16_t)(v >> 16));
	scsi_out_set_be16(o, off + 2, (uint16_t)v);
}

void scsi_cmd_out(struct scsi_cmd *c, struct scsi_out *o)
{
	uint32_t cap = c->xfer_len;

	if (c->buf_cap < cap)
		cap = (uint32_t)c->buf_cap;
	scsi_out_init(o, c->buf, cap);
}

void scsi_cmd_out_done(struct scsi_cmd *c, const struct scsi_out *o)
{
	c->status = SAM_STAT_GOOD;
	c->sense_len = 0;
	c->data_in_len = o->len < o->cap ? o->len : o->cap;
}

/* SPC-4 4.2.5.6: data-in is min(allocation length, data available). */
void scsi_cmd_put_data(struct scsi_cmd *c, const void *data, uint32_t len)
{
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	scsi_out_put(&o, data, len);
	scsi_cmd_out_done(c, &o);
}

void scsi_cmd_pending(struct scsi_cmd *c)
{
	list_add_tail(&c->lu->inflight, &c->lu_node);
}

void scsi_cmd_complete(struct scsi_cmd *c)
{
	list_del(&c->lu_node);
	c->done(c);
}

/* ---- unit attentions (SAM-5 5.14) ---- */

static const uint8_t scsi_ua_sense[UA__COUNT][2] = {
	[UA_POWER_ON] = {0x29, 0x00},
	[UA_BUS_RESET] = {0x29, 0x02},
	[UA_LUN_RESET] = {0x29, 0x03},
	[UA_NEXUS_LOSS] = {0x29, 0x07},
	[UA_RESERVATIONS_PREEMPTED] = {0x2a, 0x03},
	[UA_RESERVATIONS_RELEASED] = {0x2a, 0x04},
	[UA_REGISTRATIONS_PREEMPTED] = {0x2a, 0x05},
	[UA_ALUA_CHANGED] = {0x2a, 0x06},
	[UA_CAPACITY_CHANGED] = {0x2a, 0x09},
	[UA_INQUIRY_CHANGED] = {0x3f, 0x03},
	[UA_LUNS_CHANGED] = {0x3f, 0x0e},
	[UA_MODE_CHANGED] = {0x2a, 0x01},
};

void scsi_ua_code(enum scsi_ua ua, uint8_t *asc, uint8_t *ascq)
{
	*asc = scsi_ua_sense[ua][0];
	*ascq = scsi_ua_sense[ua][1];
}

/* Sets ua pending on n for lu. Thread: n's reactor or with n quiesced. */
void scsi_ua_raise(struct scsi_nexus *n, struct scsi_lu *lu, enum scsi_ua ua)
{
	n->ua[lu->slot] |= 1u << ua;
}

/* Sets ua on every nexus of t for lu (every LU when lu is NULL) except `except`. */
void scsi_ua_raise_all(struct scsi_tgt *t, struct scsi_lu *lu, enum scsi_ua ua,
		       const struct scsi_nexus *except)
{
	struct list_node *pos;

	list_for_each(pos, &t->nexuses)
	{
		struct scsi_nexus *n = list_entry(pos, struct scsi_nexus, tgt_node);

		if (n == except)
			continue;
		if (lu) {
			scsi_ua_raise(n, lu, ua);
			continue;
		}
		for (unsigned i = 0; i < TGT_MAX_LUNS; i++)
			if (t->lus[i])
				scsi_ua_raise(n, t->lus[i], ua);
	}
}

bool scsi_ua_pop(struct scsi_nexus *n, const struct scsi_lu *lu, enum scsi_ua *ua)
{
	uint32_t m = n->ua[lu->slot];

	if (!m)
		return false;
	*ua = (enum scsi_ua)__builtin_ctz(m); /* lowest bit: highest priority */
	n->ua[lu->slot] = m & (m - 1);
	return true;
}

/* SAM-5 5.14: CHECK CONDITION / UNIT ATTENTION with the highest-priority one, cleared. */
bool scsi_ua_report(struct scsi_cmd *c)
{
	enum scsi_ua ua;

	if (!c->lu || !scsi_ua_pop(c->nexus, c->lu, &ua))
		return false;
	scsi_cmd_set_sense(c, SK_UNIT_ATTENTION, scsi_ua_sense[ua][0], scsi_ua_sense[ua][1]);
	return true;
}

/* ---- dispatcher ---- */

/* The byte of a CDB that holds the service action (SPC-4 4.2.5.2: bits 4:0 of byte 1). */
static uint8_t scsi_cdb_sa(const uint8_t *cdb)
{
	return cdb[1] & 0x1f;
}

/* CDB reserved bits: every bit not in the usage map is refused (SPC-4 4.2.3). */
static bool scsi_check_usage(struct scsi_cmd *c, const struct scsi_op_desc *d)
{
	for (unsigned i = 1; i < d->cdb_len && i < sizeof(c->cdb); i++) {
		uint8_t allowed = d->usage[i];
		uint8_t bad;

		if (i == 1 && d->has_sa)
			allowed |= 0x1f;
		bad = c->cdb[i] & (uint8_t)~allowed;
		if (bad) {
			scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_CDB,
						 true, (uint16_t)i,
						 (int8_t)(31 - __builtin_clz(bad)));
			return false;
		}
	}
	return true;
}

static void scsi_cmd_reset_result(struct scsi_cmd *c)
{
	c->status = SAM_STAT_GOOD;
	c->sense_len = 0;
	c->data_in_len = 0;
	c->dir = SCSI_DIR_NONE;
	c->xfer_len = 0;
	c->lu = NULL;
}

static int scsi_conflict(struct scsi_cmd *c)
{
	c->status = SAM_STAT_RESERVATION_CONFLICT;
	c->sense_len = 0;
	return SCSI_DONE;
}

/* Checks that need an LU: access state, reservations, protection, readiness. */
static int scsi_check_lu(struct scsi_cmd *c, const struct scsi_op_desc *d)
{
	struct scsi_lu *lu = c->lu;

	if (alua_check_access(c, d))
		return SCSI_DONE;
	if (lu->resv6_holder && lu->resv6_holder != c->nexus && !(d->flags & SOP_RESV6_EXEMPT))
		return scsi_conflict(c);
	if (pr_conflicts(c, d))
		return scsi_conflict(c);
	if ((d->flags & SOP_WRITES) && scsi_lu_write_protected(lu)) {
		scsi_cmd_set_sense(c, SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return SCSI_DONE;
	}
	if ((d->flags & SOP_MEDIUM) && lu->stopped) {
		scsi_cmd_set_sense(c, SK_NOT_READY, SCSI_ASC_NOT_READY_STOPPED);
		return SCSI_DONE;
	}
	return SCSI_OK;
}

/*
 * SAM-5 5.1: decides whether the command may run and how much data it moves.
 * Returns SCSI_OK (c->lu, c->dir, c->xfer_len set) or SCSI_DONE (status/sense
 * set). Thread: the nexus' reactor.
 */
int scsi_cmd_prepare(struct scsi_cmd *c)
{
	const struct scsi_op_desc *d;
	bool known = false;
	int rc;

	scsi_cmd_reset_result(c);
	c->lu = scsi_tgt_find_lu(c->nexus->tgt, c->lun);
	d = scsi_find_op(c->cdb[0], scsi_cdb_sa(c->cdb), &known);

	if (!c->lu && !(d && (d->flags & SOP_NO_LU))) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_LU_NOT_SUPPORTED);
		return SCSI_DONE;
	}
	if (c->lu && !(d && (d->flags & SOP_NO_UA)) && scsi_ua_report(c))
		return SCSI_DONE;
	if (!d) {
		if (known)
			scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_CDB,
						 true, 1, 4);
		else
			scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE,
						 true, 0, 7);
		return SCSI_DONE;
	}
	if (!scsi_check_usage(c, d))
		return SCSI_DONE;
	if (c->lu) {
		rc = scsi_check_lu(c, d);
		if (rc != SCSI_OK)
			return rc;
	}
	if (!d->prepare)
		return SCSI_OK;
	rc = d->prepare(c);
	if (rc != SCSI_OK)
		c->xfer_len = 0;
	return rc;
}

/*
 * Runs a prepared command. SCSI_DONE: finished now (done() not called);
 * SCSI_PENDING: done() runs later exactly once. Thread: the nexus' reactor.
 */
int scsi_cmd_exec(struct scsi_cmd *c)
{
	const struct scsi_op_desc *d = scsi_find_op(c->cdb[0], scsi_cdb_sa(c->cdb), NULL);

	c->status = SAM_STAT_GOOD;
	c->sense_len = 0;
	c->data_in_len = 0;
	list_init(&c->lu_node);
	if (!d || !d->exec)
		return SCSI_DONE;
	return d->exec(c);
}

/* ---- objects ---- */

int scsi_tgt_create(struct scsi_tgt **out, const char *name, const struct scsi_tgt_ops *ops,
		    void *ops_arg)
{
	struct scsi_tgt *t;

	if (!name || strlen(name) >= TGT_NAME_MAX)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->ops = ops;
	t->ops_arg = ops_arg;
	list_init(&t->nexuses);
	t->next_nexus_id = 1;
	*out = t;
	return 0;
}

/* Frees t, its LUs (closing their bdevs) and any nexus still attached. Config thread. */
void scsi_tgt_destroy(struct scsi_tgt *t)
{
	struct list_node *pos, *tmp;

	if (!t)
		return;
	list_for_each_safe(pos, tmp, &t->nexuses)
		scsi_nexus_destroy(list_entry(pos, struct scsi_nexus, tgt_node));
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++) {
		if (!t->lus[i])
			continue;
		bdev_close(t->lus[i]->bdev);
		free(t->lus[i]);
	}
	free(t);
}

const char *scsi_tgt_name(const struct scsi_tgt *t)
{
	return t->name;
}

/* Space-padded ASCII field copy (SPC-4 4.4.1), printable characters only. */
static void scsi_copy_ascii(char *dst, size_t cap, const char *src, const char *dflt)
{
	size_t i = 0;

	if (!src || !*src)
		src = dflt;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (src[i] >= 0x20 && src[i] <= 0x7e) ? src[i] : ' ';
	dst[i] = '\0';
}

/*
 * NAA IEEE Registered Extended designator (SPC-4 7.8.6.6.5): NAA 6, a 24-bit
 * company id, a 36-bit vendor specific id and a 64-bit extension. We own no
 * IEEE OUI, so the company id is 0x5AC1D0, a value in the IEEE "CID" space
 * (second-lowest bit of the first octet set: locally assigned, never an OUI of
 * a real vendor). The vendor specific id spells "CD" plus the LU id's top 20
 * bits mixed with its low bits; the extension is the lu_id itself, so every
 * node of a cluster derives the same, stable identifier for the same LU.
 */
#define SCSI_NAA_COMPANY_ID 0x5AC1D0u

static void scsi_lu_make_naa(struct scsi_lu *lu)
{
	uint64_t vsid = ((uint64_t)0x43440u << 16) ^ ((lu->lu_id >> 44) ^ (lu->lu_id & 0xfffff));
	uint64_t hi =
		(uint64_t)0x6 << 60 | (uint64_t)SCSI_NAA_COMPANY_ID << 36 | (vsid & 0xfffffffffull);

	put_be64(lu->naa, hi);
	put_be64(lu->naa + 8, lu->lu_id);
}

static int scsi_lu_config_check(const struct scsi_tgt *t, const struct scsi_lu_config *cfg)
{
	const struct bdev *b = cfg->bdev;

	if (!b || cfg->lun >= 16384)
		return -EINVAL;
	if (b->block_size != 512 && b->block_size != 4096)
		return -EINVAL;
	if (b->size < b->block_size || b->size % b->block_size)
		return -EINVAL;
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++)
		if (t->lus[i] && t->lus[i]->lun == cfg->lun)
			return -EEXIST;
	return 0;
}

static unsigned scsi_tgt_free_slot(const struct scsi_tgt *t)
{
	unsigned i;

	for (i = 0; i < TGT_MAX_LUNS; i++)
		if (!t->lus[i])
			break;
	return i;
}

/* A new LU is announced to existing nexuses (SPC-4 3F/0E) and powered on for them. */
static void scsi_lu_announce(struct scsi_tgt *t, struct scsi_lu *lu)
{
	struct list_node *pos;

	scsi_ua_raise_all(t, NULL, UA_LUNS_CHANGED, NULL);
	list_for_each(pos, &t->nexuses)
	{
		struct scsi_nexus *n = list_entry(pos, struct scsi_nexus, tgt_node);

		n->ua[lu->slot] = 1u << UA_POWER_ON;
	}
}

/*
 * Adds an LU; 0 or -errno (-EEXIST duplicate LUN, -EINVAL bad config, -ENOSPC
 * TGT_MAX_LUNS reached, -ENOMEM). On success the LU owns cfg->bdev; on error the
 * caller still does. Config thread, before the target serves commands.
 */
int scsi_tgt_add_lu(struct scsi_tgt *t, const struct scsi_lu_config *cfg, struct scsi_lu **out)
{
	struct scsi_lu *lu;
	unsigned slot;
	int err = scsi_lu_config_check(t, cfg);

	if (err)
		return err;
	slot = scsi_tgt_free_slot(t);
	if (slot == TGT_MAX_LUNS)
		return -ENOSPC;
	lu = calloc(1, sizeof(*lu));
	if (!lu)
		return -ENOMEM;
	lu->tgt = t;
	lu->slot = slot;
	lu->lun = cfg->lun;
	lu->bdev = cfg->bdev;
	lu->lu_id = cfg->lu_id;
	lu->block_size = cfg->bdev->block_size;
	lu->block_shift = (uint8_t)__builtin_ctz(lu->block_size);
	lu->nblocks = cfg->bdev->size >> lu->block_shift;
	lu->read_only = cfg->read_only || cfg->bdev->read_only;
	lu->thin = cfg->thin && cfg->bdev->can_discard;
	lu->wce = cfg->bdev->volatile_cache;
	scsi_copy_ascii(lu->vendor, sizeof(lu->vendor), cfg->vendor, "CLUSTERD");
	scsi_copy_ascii(lu->product, sizeof(lu->product), cfg->product, "VIRTUAL-DISK");
	scsi_copy_ascii(lu->revision, sizeof(lu->revision), cfg->revision, "0001");
	snprintf(lu->serial, sizeof(lu->serial), "%016" PRIx64, lu->lu_id);
	scsi_lu_make_naa(lu);
	pr_init(&lu->pr);
	list_init(&lu->inflight);
	t->lus[slot] = lu;
	t->nlus++;
	scsi_lu_announce(t, lu);
	if (out)
		*out = lu;
	return 0;
}

struct scsi_lu *scsi_tgt_find_lu(struct scsi_tgt *t, uint64_t lun)
{
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++)
		if (t->lus[i] && t->lus[i]->lun == lun)
			return t->lus[i];
	return NULL;
}

unsigned scsi_tgt_lu_count(const struct scsi_tgt *t)
{
	return t->nlus;
}

/* The i-th configured LU in slot order (i < scsi_tgt_lu_count()), or NULL. */
struct scsi_lu *scsi_tgt_lu_at(struct scsi_tgt *t, unsigned i)
{
	for (unsigned s = 0; s < TGT_MAX_LUNS; s++) {
		if (!t->lus[s])
			continue;
		if (i-- == 0)
			return t->lus[s];
	}
	return NULL;
}

struct bdev *scsi_lu_bdev(const struct scsi_lu *lu)
{
	return lu->bdev;
}

uint64_t scsi_lu_lun(const struct scsi_lu *lu)
{
	return lu->lun;
}

/* A new I_T nexus: UA 29/00 on every LU (SAM-5 6.3.1). 0, -EINVAL or -ENOMEM. */
int scsi_nexus_create(struct scsi_nexus **out, struct scsi_tgt *t, const char *initiator_name,
		      const char *initiator_port, uint16_t rel_port_id)
{
	struct scsi_nexus *n;

	if (!initiator_name || !initiator_port || strlen(initiator_name) >= TGT_NAME_MAX ||
	    strlen(initiator_port) >= TGT_NAME_MAX + 32)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->tgt = t;
	snprintf(n->initiator_name, sizeof(n->initiator_name), "%s", initiator_name);
	snprintf(n->initiator_port, sizeof(n->initiator_port), "%s", initiator_port);
	n->rel_port_id = rel_port_id;
	n->id = t->next_nexus_id++;
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++)
		n->ua[i] = 1u << UA_POWER_ON;
	list_add_tail(&t->nexuses, &n->tgt_node);
	*out = n;
	return 0;
}

/* I_T nexus loss (SPC-2 5.5.1): its RESERVE(6) goes, PR registrations stay. */
void scsi_nexus_destroy(struct scsi_nexus *n)
{
	struct scsi_tgt *t;

	if (!n)
		return;
	t = n->tgt;
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++)
		if (t->lus[i])
			pr_nexus_gone(t->lus[i], n);
	list_del(&n->tgt_node);
	free(n);
}

/* ---- resets (SAM-5 6.3) ---- */

static void scsi_lu_reset_state(struct scsi_lu *lu)
{
	struct scsi_tgt *t = lu->tgt;

	if (t->ops && t->ops->abort_tasks)
		t->ops->abort_tasks(t, lu, NULL, t->ops_arg);
	lu->resv6_holder = NULL;       /* SPC-2 5.5.1: released by LU reset */
	lu->removal_prevented = false; /* SPC-4 6.13: a reset ends prevention */
}

/*
 * LOGICAL UNIT RESET (SAM-5 7.7, 6.3.3): aborts every task of lu, releases a
 * RESERVE(6), keeps persistent reservations, and raises 29/03 on every I_T
 * nexus, the requester's included. Returns 0. Thread: with lu's nexuses quiesced.
 */
int scsi_lu_reset(struct scsi_lu *lu, struct scsi_nexus *by)
{
	(void)by;
	scsi_lu_reset_state(lu);
	scsi_ua_raise_all(lu->tgt, lu, UA_LUN_RESET, NULL);
	return 0;
}

/* TARGET WARM RESET (SAM-5 6.3.2 hard reset of every LU): UA 29/02 everywhere. */
int scsi_tgt_reset(struct scsi_tgt *t, struct scsi_nexus *by)
{
	(void)by;
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++)
		if (t->lus[i])
			scsi_lu_reset_state(t->lus[i]);
	scsi_ua_raise_all(t, NULL, UA_BUS_RESET, NULL);
	return 0;
}
