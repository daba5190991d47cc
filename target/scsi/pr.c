/* SPDX-License-Identifier: MIT */
/*
 * Reservations: SPC-4 persistent reservations (PERSISTENT RESERVE IN/OUT) and
 * SPC-2 RESERVE/RELEASE(6/10).
 *
 * Persistent reservation state changes are one pure function, pr_apply(): the
 * command handlers only decode the CDB and parameter list into a struct
 * pr_out_req, and afterwards perform the effects named by struct pr_result
 * (status, unit attentions on the matching I_T nexuses, task aborts). The
 * cluster applies the same requests in the same (CPG) order on every node.
 *
 * What we offer (REPORT CAPABILITIES): all six types, LU scope only,
 * ALL_TG_PT (ATP_C=1), compatible reservation handling (CRH=1); no
 * SPEC_I_PT (SIP_C=0) and no persistence through power loss (PTPL_C=0):
 * APTPL=1 is refused with INVALID FIELD IN PARAMETER LIST (26/00), the code
 * SPC-4 6.15.3 gives for a parameter-list value the device server does not
 * support.
 *
 * Reservation holder model (SPC-4 5.13.9): for all-registrants types every
 * registrant holds the reservation (holder = -1); otherwise pr->holder is the
 * slot of the one holder.
 */
#include <stdio.h>
#include <string.h>

#include "lib/compiler.h"
#include "target/scsi/scsi_int.h"

void pr_init(struct pr_state *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->holder = -1;
}

static bool pr_type_valid(uint8_t type)
{
	switch (type) {
	case PR_TYPE_WE:
	case PR_TYPE_EA:
	case PR_TYPE_WE_RO:
	case PR_TYPE_EA_RO:
	case PR_TYPE_WE_AR:
	case PR_TYPE_EA_AR:
		return true;
	default:
		return false;
	}
}

static bool pr_type_all_reg(uint8_t type)
{
	return type == PR_TYPE_WE_AR || type == PR_TYPE_EA_AR;
}

static bool pr_type_reg_only(uint8_t type)
{
	return type == PR_TYPE_WE_RO || type == PR_TYPE_EA_RO;
}

bool pr_reg_matches(const struct pr_registrant *reg, const char *initiator_port,
		    uint16_t rel_port_id)
{
	return (reg->all_tg_pt || reg->rel_port_id == rel_port_id) &&
	       strcmp(reg->initiator_port, initiator_port) == 0;
}

int pr_find(const struct pr_state *pr, const char *initiator_port, uint16_t rel_port_id)
{
	for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
		if (pr->reg[i].used && pr_reg_matches(&pr->reg[i], initiator_port, rel_port_id))
			return i;
	return -1;
}

/* SPC-4 5.13.9: is slot s a holder of the current reservation? */
static bool pr_holds(const struct pr_state *pr, int s)
{
	if (!pr->reserved || s < 0)
		return false;
	return pr_type_all_reg(pr->type) || pr->holder == s;
}

static unsigned pr_count(const struct pr_state *pr)
{
	unsigned n = 0;

	for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
		n += pr->reg[i].used;
	return n;
}

static void pr_release(struct pr_state *pr)
{
	pr->reserved = false;
	pr->holder = -1;
	pr->type = 0;
}

static void pr_reserve(struct pr_state *pr, int holder, uint8_t type)
{
	pr->reserved = true;
	pr->type = type;
	pr->holder = pr_type_all_reg(type) ? -1 : holder;
}

static void pr_ua(struct pr_result *res, int s, enum scsi_ua ua)
{
	res->ua[s] = (uint8_t)(ua + 1);
}

/* Drops a registration; its identity stays in the slot for the UA pass. */
static void pr_drop(struct pr_state *pr, struct pr_result *res, int s, int ua)
{
	pr->reg[s].used = false;
	if (ua >= 0)
		pr_ua(res, s, (enum scsi_ua)ua);
}

/* UA to every registrant except slot `me`. */
static void pr_ua_others(const struct pr_state *pr, struct pr_result *res, int me, enum scsi_ua ua)
{
	for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
		if (pr->reg[i].used && i != me)
			pr_ua(res, i, ua);
}

/* Removes every registration with key (except `me`); returns how many. */
static unsigned pr_drop_key(struct pr_state *pr, struct pr_result *res, int me, uint64_t key)
{
	unsigned n = 0;

	for (int i = 0; i < PR_MAX_REGISTRANTS; i++) {
		if (!pr->reg[i].used || i == me || pr->reg[i].key != key)
			continue;
		pr_drop(pr, res, i, UA_REGISTRATIONS_PREEMPTED);
		n++;
	}
	return n;
}

static int pr_alloc(const struct pr_state *pr)
{
	for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
		if (!pr->reg[i].used)
			return i;
	return -1;
}

static int pr_add(struct pr_state *pr, const char *port, uint16_t rel_port_id, uint64_t key,
		  bool all_tg_pt)
{
	int s = pr_alloc(pr);

	if (s < 0)
		return -1;
	memset(&pr->reg[s], 0, sizeof(pr->reg[s]));
	pr->reg[s].used = true;
	pr->reg[s].key = key;
	snprintf(pr->reg[s].initiator_port, sizeof(pr->reg[s].initiator_port), "%s", port);
	pr->reg[s].rel_port_id = rel_port_id;
	pr->reg[s].all_tg_pt = all_tg_pt;
	return s;
}

/* SPC-4 5.13.10: a registration removed by REGISTER with key 0. */
static void pr_unregister(struct pr_state *pr, struct pr_result *res, int me)
{
	bool held = pr_holds(pr, me);

	pr_drop(pr, res, me, -1);
	if (!pr->reserved)
		return;
	if (pr_type_all_reg(pr->type)) {
		if (pr_count(pr) == 0)
			pr_release(pr);
		return;
	}
	if (!held)
		return;
	/* Only registrants-only types tell the others (RESERVATIONS RELEASED). */
	if (pr_type_reg_only(pr->type))
		pr_ua_others(pr, res, me, UA_RESERVATIONS_RELEASED);
	pr_release(pr);
}

/* SPC-4 5.13.7 REGISTER and REGISTER AND IGNORE EXISTING KEY. */
static uint8_t pr_do_register(struct pr_state *pr, const struct pr_out_req *q,
			      struct pr_result *res, int me)
{
	if (me < 0) {
		if (q->sa == PR_OUT_REGISTER && q->key != 0)
			return PR_CONFLICT;
		if (q->sa_key != 0 &&
		    pr_add(pr, q->initiator_port, q->rel_port_id, q->sa_key, q->all_tg_pt) < 0)
			return PR_NO_RESOURCES;
	} else {
		if (q->sa == PR_OUT_REGISTER && q->key != pr->reg[me].key)
			return PR_CONFLICT;
		if (q->sa_key == 0)
			pr_unregister(pr, res, me);
		else
			pr->reg[me].key = q->sa_key;
	}
	pr->generation++;
	return PR_GOOD;
}

/* SPC-4 5.13.9 RESERVE. */
static uint8_t pr_do_reserve(struct pr_state *pr, const struct pr_out_req *q, int me)
{
	if (pr->reserved) {
		if (pr_holds(pr, me) && pr->type == q->type)
			return PR_GOOD;
		return PR_CONFLICT;
	}
	pr_reserve(pr, me, q->type);
	return PR_GOOD;
}

/* SPC-4 5.13.11.2 RELEASE. */
static uint8_t pr_do_release(struct pr_state *pr, const struct pr_out_req *q, struct pr_result *res,
			     int me)
{
	if (!pr_holds(pr, me))
		return PR_GOOD; /* nothing reserved, or not ours: no-op */
	if (pr->type != q->type || q->scope != 0)
		return PR_INVALID_RELEASE;
	if (pr->type != PR_TYPE_WE && pr->type != PR_TYPE_EA)
		pr_ua_others(pr, res, me, UA_RESERVATIONS_RELEASED);
	pr_release(pr);
	return PR_GOOD;
}

/* SPC-4 5.13.11.3 CLEAR: everything goes, the others learn it was preempted. */
static uint8_t pr_do_clear(struct pr_state *pr, struct pr_result *res, int me)
{
	for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
		if (pr->reg[i].used)
			pr_drop(pr, res, i, i == me ? -1 : UA_RESERVATIONS_PREEMPTED);
	pr_release(pr);
	pr->generation++;
	return PR_GOOD;
}

/* Preempting the reservation itself: drop the preempted, take over with the new type. */
static void pr_take_over(struct pr_state *pr, const struct pr_out_req *q, struct pr_result *res,
			 int me, bool all)
{
	uint8_t old_type = pr->type;

	for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
		if (pr->reg[i].used && i != me && (all || pr->reg[i].key == q->sa_key))
			pr_drop(pr, res, i, UA_REGISTRATIONS_PREEMPTED);
	pr_reserve(pr, me, q->type);
	/* SPC-4 5.13.11.4.3: a changed type releases the old one for the survivors. */
	if (old_type != q->type)
		for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
			if (pr->reg[i].used && i != me && !res->ua[i])
				pr_ua(res, i, UA_RESERVATIONS_RELEASED);
}

/* SPC-4 5.13.11.4 PREEMPT and PREEMPT AND ABORT. */
static uint8_t pr_do_preempt(struct pr_state *pr, const struct pr_out_req *q, struct pr_result *res,
			     int me)
{
	bool any;

	if (pr->reserved && pr_type_all_reg(pr->type) && q->sa_key == 0) {
		pr_take_over(pr, q, res, me, true);
		any = true;
	} else if (pr->reserved && !pr_type_all_reg(pr->type) &&
		   q->sa_key == pr->reg[pr->holder].key) {
		pr_take_over(pr, q, res, me, false);
		any = true;
	} else {
		if (q->sa_key == 0)
			return PR_INVALID_FIELD_PARAM;
		if (pr_drop_key(pr, res, me, q->sa_key) == 0)
			return PR_CONFLICT;
		any = true;
	}
	res->abort = any && q->sa == PR_OUT_PREEMPT_ABORT;
	pr->generation++;
	return PR_GOOD;
}

/* SPC-4 5.13.8 REGISTER AND MOVE: hand the reservation to another I_T nexus. */
static uint8_t pr_do_move(struct pr_state *pr, const struct pr_out_req *q, struct pr_result *res,
			  int me)
{
	int dst;

	if (!pr_holds(pr, me) || pr_type_all_reg(pr->type))
		return PR_CONFLICT;
	if (q->sa_key == 0)
		return PR_INVALID_FIELD_PARAM;
	if (q->move_rel_port_id == q->rel_port_id && strcmp(q->move_port, q->initiator_port) == 0)
		return PR_INVALID_FIELD_PARAM;
	dst = pr_find(pr, q->move_port, q->move_rel_port_id);
	if (dst < 0)
		dst = pr_add(pr, q->move_port, q->move_rel_port_id, q->sa_key, false);
	if (dst < 0)
		return PR_NO_RESOURCES;
	pr->holder = dst;
	if (q->unreg)
		pr_drop(pr, res, me, -1);
	pr->generation++;
	return PR_GOOD;
}

/* The pure state transition (SPC-4 5.13, 6.15). See scsi_int.h. */
void pr_apply(struct pr_state *pr, const struct pr_out_req *q, struct pr_result *res)
{
	int me = pr_find(pr, q->initiator_port, q->rel_port_id);

	memset(res, 0, sizeof(*res));
	if (q->sa == PR_OUT_REGISTER || q->sa == PR_OUT_REGISTER_IGNORE) {
		res->status = pr_do_register(pr, q, res, me);
		return;
	}
	/* Every other service action needs a registered I_T nexus and its key. */
	if (me < 0 || q->key != pr->reg[me].key) {
		res->status = PR_CONFLICT;
		return;
	}
	switch (q->sa) {
	case PR_OUT_RESERVE:
		res->status = pr_do_reserve(pr, q, me);
		break;
	case PR_OUT_RELEASE:
		res->status = pr_do_release(pr, q, res, me);
		break;
	case PR_OUT_CLEAR:
		res->status = pr_do_clear(pr, res, me);
		break;
	case PR_OUT_PREEMPT:
	case PR_OUT_PREEMPT_ABORT:
		res->status = pr_do_preempt(pr, q, res, me);
		break;
	case PR_OUT_REGISTER_MOVE:
		res->status = pr_do_move(pr, q, res, me);
		break;
	default:
		res->status = PR_INVALID_FIELD_CDB;
		break;
	}
}

/*
 * SPC-4 5.13.1 and SBC-3 4.17 tables: does c conflict with the persistent
 * reservation? Exempt commands always run; "read class" (SOP_PR_READ) ones run
 * through Write Exclusive types; everything else only for the holder, or for
 * a registrant under registrants-only/all-registrants types.
 */
bool pr_conflicts(const struct scsi_cmd *c, const struct scsi_op_desc *d)
{
	const struct pr_state *pr = &c->lu->pr;
	bool read = d->flags & SOP_PR_READ;
	int me;

	if (!pr->reserved || (d->flags & SOP_CONFLICT_EXEMPT))
		return false;
	me = pr_find(pr, c->nexus->initiator_port, c->nexus->rel_port_id);
	if (pr_holds(pr, me))
		return false;
	switch (pr->type) {
	case PR_TYPE_WE:
		return !read;
	case PR_TYPE_WE_RO:
	case PR_TYPE_WE_AR:
		return me < 0 && !read;
	case PR_TYPE_EA_RO:
	case PR_TYPE_EA_AR:
		return me < 0;
	default: /* EA */
		return true;
	}
}

int pr_crh_check(const struct pr_state *pr, const struct scsi_nexus *n)
{
	int me = pr_find(pr, n->initiator_port, n->rel_port_id);

	if (me >= 0) {
		if (pr_holds(pr, me))
			return 1;
		if (pr->reserved && (pr_type_reg_only(pr->type) || pr_type_all_reg(pr->type)))
			return 1;
		return -1;
	}
	return pr_count(pr) ? -1 : 0;
}

/* I_T nexus loss: SPC-2 reservations end (SPC-2 5.5.1); registrations persist. */
void pr_nexus_gone(struct scsi_lu *lu, struct scsi_nexus *n)
{
	if (lu->resv6_holder == n)
		lu->resv6_holder = NULL;
}

/* ---- command handlers ---- */

static int pr_conflict_status(struct scsi_cmd *c)
{
	c->status = SAM_STAT_RESERVATION_CONFLICT;
	c->sense_len = 0;
	c->data_in_len = 0;
	return SCSI_DONE;
}

/* SPC-2 5.5.1: while a RESERVE(6)/(10) exists, every PR IN/OUT conflicts. */
static bool pr_resv6_blocks(struct scsi_cmd *c)
{
	return c->lu->resv6_holder != NULL;
}

/* SPC-4 6.16: PERSISTENT RESERVE IN moves ALLOCATION LENGTH bytes in. */
static int pr_in_prepare(struct scsi_cmd *c)
{
	if (pr_resv6_blocks(c))
		return pr_conflict_status(c);
	c->dir = SCSI_DIR_READ;
	c->xfer_len = get_be16(&c->cdb[7]);
	return SCSI_OK;
}

static int pr_in_read_keys(struct scsi_cmd *c)
{
	const struct pr_state *pr = &c->lu->pr;
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	scsi_out_be32(&o, pr->generation);
	scsi_out_be32(&o, 8 * pr_count(pr));
	for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
		if (pr->reg[i].used)
			scsi_out_be64(&o, pr->reg[i].key);
	scsi_cmd_out_done(c, &o);
	return SCSI_DONE;
}

static int pr_in_read_reservation(struct scsi_cmd *c)
{
	const struct pr_state *pr = &c->lu->pr;
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	scsi_out_be32(&o, pr->generation);
	scsi_out_be32(&o, pr->reserved ? 16 : 0);
	if (pr->reserved) {
		/* all-registrants types report key 0 (SPC-4 6.16.3.2) */
		scsi_out_be64(&o, pr->holder >= 0 ? pr->reg[pr->holder].key : 0);
		scsi_out_be32(&o, 0);
		scsi_out_u8(&o, 0);
		scsi_out_u8(&o, pr->type & 0x0f); /* scope 0: LU_SCOPE */
		scsi_out_be16(&o, 0);
	}
	scsi_cmd_out_done(c, &o);
	return SCSI_DONE;
}

/* SPC-4 6.16.4 REPORT CAPABILITIES. */
static int pr_in_report_caps(struct scsi_cmd *c)
{
	static const uint8_t caps[8] = {
		0x00, 0x08, /* LENGTH */
		0x14,	    /* CRH, ATP_C (SIP_C=0, PTPL_C=0) */
		0x90,	    /* TMV, ALLOW COMMANDS 001b: TUR through WE and EA; PTPL_A=0 */
		0xea, 0x01, /* WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX | EX_AC_AR */
		0x00, 0x00,
	};

	scsi_cmd_put_data(c, caps, sizeof(caps));
	return SCSI_DONE;
}

/* iSCSI TransportID, initiator port format 01b (SPC-4 7.6.4.6): NUL-terminated, padded to 4. */
static void pr_put_transport_id(struct scsi_out *o, const struct pr_registrant *reg)
{
	uint32_t n = (uint32_t)strlen(reg->initiator_port) + 1;
	uint32_t padded = ALIGN_UP(n, 4u);

	if (padded < 20)
		padded = 20;
	scsi_out_u8(o, 0x45); /* FORMAT CODE 01b, PROTOCOL IDENTIFIER 5 (iSCSI) */
	scsi_out_u8(o, 0);
	scsi_out_be16(o, (uint16_t)padded);
	scsi_out_put(o, reg->initiator_port, n - 1);
	scsi_out_put(o, NULL, padded - (n - 1));
}

/* SPC-4 6.16.5 READ FULL STATUS: written straight into c->buf (it can be large). */
static int pr_in_read_full_status(struct scsi_cmd *c)
{
	const struct pr_state *pr = &c->lu->pr;
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	scsi_out_be32(&o, pr->generation);
	scsi_out_be32(&o, 0);
	for (int i = 0; i < PR_MAX_REGISTRANTS; i++) {
		const struct pr_registrant *reg = &pr->reg[i];
		bool holder = pr_holds(pr, i);
		uint32_t tid_off;

		if (!reg->used)
			continue;
		scsi_out_be64(&o, reg->key);
		scsi_out_be32(&o, 0);
		scsi_out_u8(&o, (uint8_t)((reg->all_tg_pt ? 0x02 : 0) | (holder ? 0x01 : 0)));
		scsi_out_u8(&o, holder ? (pr->type & 0x0f) : 0);
		scsi_out_be32(&o, 0);
		scsi_out_be16(&o, reg->all_tg_pt ? 0 : reg->rel_port_id);
		scsi_out_be32(&o, 0);
		tid_off = o.len;
		pr_put_transport_id(&o, reg);
		scsi_out_set_be32(&o, tid_off - 4, o.len - tid_off);
	}
	scsi_out_set_be32(&o, 4, o.len - 8);
	scsi_cmd_out_done(c, &o);
	return SCSI_DONE;
}

/* SPC-4 6.15: PERSISTENT RESERVE OUT moves PARAMETER LIST LENGTH bytes out. */
static int pr_out_prepare(struct scsi_cmd *c)
{
	uint32_t len = get_be32(&c->cdb[5]);
	bool move = (c->cdb[1] & 0x1f) == PR_OUT_REGISTER_MOVE;

	if (pr_resv6_blocks(c))
		return pr_conflict_status(c);
	/* SPEC_I_PT is not supported, so every list but REGISTER AND MOVE is 24 bytes. */
	if ((!move && len != 24) || (move && (len < 24 || len > 24 + 512))) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH);
		return SCSI_DONE;
	}
	c->dir = SCSI_DIR_WRITE;
	c->xfer_len = len;
	return SCSI_OK;
}

static void pr_param_error(struct scsi_cmd *c, uint16_t field, int8_t bit)
{
	scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_PARAM, false, field,
				 bit);
}

/* Parses an iSCSI TransportID of format 01b: "<name>,i,0x<isid>" (SPC-4 7.6.4.6). */
static bool pr_parse_transport_id(const uint8_t *p, uint32_t len, char *port, size_t cap)
{
	uint32_t n;

	if (len < 24 || p[0] != 0x45)
		return false;
	n = get_be16(&p[2]);
	if (n < 20 || n % 4 || 4 + n > len || n >= cap)
		return false;
	memcpy(port, &p[4], n);
	port[n] = '\0';
	if (strlen(port) == n || !strstr(port, ",i,0x"))
		return false; /* no terminator inside the field, or no ISID */
	return true;
}

/* REGISTER AND MOVE parameter list (SPC-4 6.15.4): destination I_T nexus. */
static bool pr_parse_move(struct scsi_cmd *c, const uint8_t *p, uint32_t len, struct pr_out_req *q)
{
	uint32_t tid_len = get_be32(&p[20]);

	if (p[17] & 0x01) {
		pr_param_error(c, 17, 0); /* APTPL: we do not persist */
		return false;
	}
	if (24 + (uint64_t)tid_len > len) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH);
		return false;
	}
	q->unreg = p[17] & 0x02;
	q->move_rel_port_id = get_be16(&p[18]);
	if (!pr_parse_transport_id(&p[24], tid_len, q->move_port, sizeof(q->move_port)) ||
	    !alua_port_known(c->lu, q->move_rel_port_id)) {
		pr_param_error(c, 24, -1);
		return false;
	}
	return true;
}

/* Decodes CDB and parameter list into q; false with sense set on a bad field. */
static bool pr_out_parse(struct scsi_cmd *c, struct pr_out_req *q)
{
	const uint8_t *p = c->buf;
	uint32_t len = c->xfer_len;

	memset(q, 0, sizeof(*q));
	q->sa = c->cdb[1] & 0x1f;
	q->scope = c->cdb[2] >> 4;
	q->type = c->cdb[2] & 0x0f;
	snprintf(q->initiator_port, sizeof(q->initiator_port), "%s", c->nexus->initiator_port);
	q->rel_port_id = c->nexus->rel_port_id;
	if (q->sa == PR_OUT_RESERVE || q->sa == PR_OUT_RELEASE || q->sa == PR_OUT_PREEMPT ||
	    q->sa == PR_OUT_PREEMPT_ABORT) {
		if (q->scope != 0 || !pr_type_valid(q->type)) {
			scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_CDB,
						 true, 2, q->scope ? 7 : 3);
			return false;
		}
	}
	if (!p || c->data_out_len < len) {
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH);
		return false;
	}
	q->key = get_be64(&p[0]);
	q->sa_key = get_be64(&p[8]);
	if (q->sa == PR_OUT_REGISTER_MOVE)
		return pr_parse_move(c, p, len, q);
	if (p[20] & 0x08) {
		pr_param_error(c, 20, 3); /* SPEC_I_PT: not supported (SIP_C=0) */
		return false;
	}
	if ((q->sa == PR_OUT_REGISTER || q->sa == PR_OUT_REGISTER_IGNORE) && (p[20] & 0x01)) {
		pr_param_error(c, 20, 0); /* APTPL: we do not persist (PTPL_C=0) */
		return false;
	}
	q->all_tg_pt = p[20] & 0x04;
	return true;
}

/* Performs what pr_apply() decided: status, UAs on matching nexuses, aborts. */
static void pr_effects(struct scsi_cmd *c, const struct pr_result *res)
{
	struct scsi_lu *lu = c->lu;
	struct scsi_tgt *t = lu->tgt;
	struct list_node *pos;

	list_for_each(pos, &t->nexuses)
	{
		struct scsi_nexus *n = list_entry(pos, struct scsi_nexus, tgt_node);

		if (n == c->nexus)
			continue;
		for (int i = 0; i < PR_MAX_REGISTRANTS; i++)
			if (res->ua[i] &&
			    pr_reg_matches(&lu->pr.reg[i], n->initiator_port, n->rel_port_id))
				scsi_ua_raise(n, lu, (enum scsi_ua)(res->ua[i] - 1));
	}
	/* The hook aborts by LU, not by nexus: every task but the issuer's goes. */
	if (res->abort && t->ops && t->ops->abort_tasks)
		t->ops->abort_tasks(t, lu, c->nexus, t->ops_arg);
}

static int pr_out_exec(struct scsi_cmd *c)
{
	struct pr_out_req q;
	struct pr_result res;

	if (!pr_out_parse(c, &q))
		return SCSI_DONE;
	pr_apply(&c->lu->pr, &q, &res);
	pr_effects(c, &res);
	switch (res.status) {
	case PR_GOOD:
		break;
	case PR_CONFLICT:
		return pr_conflict_status(c);
	case PR_INVALID_FIELD_CDB:
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_CDB);
		break;
	case PR_INVALID_FIELD_PARAM:
		pr_param_error(c, 8, -1); /* the SERVICE ACTION RESERVATION KEY */
		break;
	case PR_INVALID_RELEASE:
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_RELEASE_PR);
		break;
	default:
		scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, 0x55, 0x04);
		break;
	}
	return SCSI_DONE;
}

/* SPC-2 7.21/7.22 RESERVE(6)/(10), with SPC-4 5.13.3 CRH exceptions first. */
static int pr_reserve6_exec(struct scsi_cmd *c)
{
	struct scsi_lu *lu = c->lu;
	int crh = pr_crh_check(&lu->pr, c->nexus);

	if (crh < 0 || (lu->resv6_holder && lu->resv6_holder != c->nexus))
		return pr_conflict_status(c);
	if (crh == 0)
		lu->resv6_holder = c->nexus;
	return SCSI_DONE;
}

/* SPC-2 7.17/7.18 RELEASE(6)/(10): only the holder releases; others get GOOD. */
static int pr_release6_exec(struct scsi_cmd *c)
{
	struct scsi_lu *lu = c->lu;
	int crh = pr_crh_check(&lu->pr, c->nexus);

	if (crh < 0)
		return pr_conflict_status(c);
	if (crh == 0 && lu->resv6_holder == c->nexus)
		lu->resv6_holder = NULL;
	return SCSI_DONE;
}

#define PRIN_USAGE(sa)                                                                             \
	{                                                                                          \
		0x5e, sa, 0, 0, 0, 0, 0, 0xff, 0xff, 0                                             \
	}
#define PROUT_USAGE(sa)                                                                            \
	{                                                                                          \
		0x5f, sa, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0                                    \
	}
#define PR_FLAGS (SOP_ALUA_STANDBY | SOP_CONFLICT_EXEMPT)

#define PRIN(sa_, fn, nm)                                                                          \
	{                                                                                          \
		.opcode = 0x5e, .sa = sa_, .has_sa = true, .cdb_len = 10, .flags = PR_FLAGS,       \
		.usage = PRIN_USAGE(sa_), .prepare = pr_in_prepare, .exec = fn, .name = nm         \
	}
#define PROUT(sa_, nm)                                                                             \
	{                                                                                          \
		.opcode = 0x5f, .sa = sa_, .has_sa = true, .cdb_len = 10, .flags = PR_FLAGS,       \
		.usage = PROUT_USAGE(sa_), .prepare = pr_out_prepare, .exec = pr_out_exec,         \
		.name = nm                                                                         \
	}

const struct scsi_op_desc pr_ops[] = {
	{.opcode = 0x16,
	 .cdb_len = 6,
	 .flags = SOP_CONFLICT_EXEMPT,
	 .usage = {0x16, 0, 0, 0, 0, 0},
	 .exec = pr_reserve6_exec,
	 .name = "RESERVE(6)"},
	{.opcode = 0x17,
	 .cdb_len = 6,
	 .flags = SOP_CONFLICT_EXEMPT | SOP_RESV6_EXEMPT,
	 .usage = {0x17, 0, 0, 0, 0, 0},
	 .exec = pr_release6_exec,
	 .name = "RELEASE(6)"},
	{.opcode = 0x56,
	 .cdb_len = 10,
	 .flags = SOP_CONFLICT_EXEMPT,
	 .usage = {0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	 .exec = pr_reserve6_exec,
	 .name = "RESERVE(10)"},
	{.opcode = 0x57,
	 .cdb_len = 10,
	 .flags = SOP_CONFLICT_EXEMPT | SOP_RESV6_EXEMPT,
	 .usage = {0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	 .exec = pr_release6_exec,
	 .name = "RELEASE(10)"},
	PRIN(0x00, pr_in_read_keys, "PERSISTENT RESERVE IN/READ KEYS"),
	PRIN(0x01, pr_in_read_reservation, "PERSISTENT RESERVE IN/READ RESERVATION"),
	PRIN(0x02, pr_in_report_caps, "PERSISTENT RESERVE IN/REPORT CAPABILITIES"),
	PRIN(0x03, pr_in_read_full_status, "PERSISTENT RESERVE IN/READ FULL STATUS"),
	PROUT(PR_OUT_REGISTER, "PERSISTENT RESERVE OUT/REGISTER"),
	PROUT(PR_OUT_RESERVE, "PERSISTENT RESERVE OUT/RESERVE"),
	PROUT(PR_OUT_RELEASE, "PERSISTENT RESERVE OUT/RELEASE"),
	PROUT(PR_OUT_CLEAR, "PERSISTENT RESERVE OUT/CLEAR"),
	PROUT(PR_OUT_PREEMPT, "PERSISTENT RESERVE OUT/PREEMPT"),
	PROUT(PR_OUT_PREEMPT_ABORT, "PERSISTENT RESERVE OUT/PREEMPT AND ABORT"),
	PROUT(PR_OUT_REGISTER_IGNORE, "PERSISTENT RESERVE OUT/REGISTER AND IGNORE EXISTING KEY"),
	PROUT(PR_OUT_REGISTER_MOVE, "PERSISTENT RESERVE OUT/REGISTER AND MOVE"),
};

const unsigned pr_ops_count = ARRAY_SIZE(pr_ops);
