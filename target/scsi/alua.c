/* SPDX-License-Identifier: MIT */
/*
 * Asymmetric logical unit access (SPC-4 5.9), implicit only (TPGS=01b).
 *
 * The LU's struct alua_table is the one source of access states: RTPG reports
 * it, INQUIRY VPD 83h names the port's group from it, and the dispatcher gates
 * commands with it. One authority sets it, stamped with a version that only
 * grows (standalone: alua_table_standalone() at start; cluster: clusterd).
 *
 * An LU whose table was never set (ntpgs == 0) behaves as one active/optimized
 * group 1. A port that a non-empty table does not list is unavailable: the
 * authority did not give it access.
 */
#include <string.h>

#include "target/scsi/scsi_int.h"

void alua_table_standalone(struct alua_table *tab, const uint16_t *rel_ports, unsigned n)
{
	memset(tab, 0, sizeof(*tab));
	tab->version = 1;
	tab->ntpgs = 1;
	tab->tpg[0].id = 1;
	tab->tpg[0].state = ALUA_AO;
	if (n > ALUA_MAX_PORTS)
		n = ALUA_MAX_PORTS;
	tab->tpg[0].nports = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		tab->tpg[0].rel_port[i] = rel_ports[i];
}

static const struct alua_tpg *alua_table_port_tpg(const struct alua_table *tab,
						  uint16_t rel_port_id)
{
	for (unsigned g = 0; g < tab->ntpgs && g < ALUA_MAX_TPGS; g++) {
		const struct alua_tpg *tpg = &tab->tpg[g];

		for (unsigned p = 0; p < tpg->nports && p < ALUA_MAX_PORTS; p++)
			if (tpg->rel_port[p] == rel_port_id)
				return tpg;
	}
	return NULL;
}

const struct alua_tpg *alua_port_tpg(const struct scsi_lu *lu, uint16_t rel_port_id)
{
	return alua_table_port_tpg(&lu->alua, rel_port_id);
}

bool alua_port_known(const struct scsi_lu *lu, uint16_t rel_port_id)
{
	return lu->alua.ntpgs == 0 || alua_port_tpg(lu, rel_port_id) != NULL;
}

static uint8_t alua_table_port_state(const struct alua_table *tab, uint16_t rel_port_id)
{
	const struct alua_tpg *tpg;

	if (tab->ntpgs == 0)
		return ALUA_AO;
	tpg = alua_table_port_tpg(tab, rel_port_id);
	return tpg ? tpg->state : ALUA_UNAVAILABLE;
}

/* The access state of lu through relative target port rel_port_id. Any reactor. */
uint8_t alua_port_state(const struct scsi_lu *lu, uint16_t rel_port_id)
{
	return alua_table_port_state(&lu->alua, rel_port_id);
}

static void alua_table_sanitize(struct alua_table *tab)
{
	if (tab->ntpgs > ALUA_MAX_TPGS)
		tab->ntpgs = ALUA_MAX_TPGS;
	for (unsigned g = 0; g < tab->ntpgs; g++)
		if (tab->tpg[g].nports > ALUA_MAX_PORTS)
			tab->tpg[g].nports = ALUA_MAX_PORTS;
}

/*
 * Installs tab unless it is older than the current one. Each nexus whose port
 * changed state gets 2A/06 ASYMMETRIC ACCESS STATE CHANGED (SPC-4 5.9.2.6),
 * except when the new state is transitioning: the UA comes with the final state.
 * Thread: with the LU's nexuses quiesced (the caller's reactor).
 */
/* State of port group id in tab, or 0xff when the table has no such group. */
static uint8_t alua_table_tpg_state(const struct alua_table *tab, uint16_t id)
{
	for (unsigned i = 0; i < tab->ntpgs && i < ALUA_MAX_TPGS; i++)
		if (tab->tpg[i].id == id)
			return tab->tpg[i].state;
	return 0xff;
}

/*
 * True when some port group reached a new state other than TRANSITIONING.
 * SPC-4 5.9.2.4 / design-notes §2.4: every I_T nexus then gets UNIT ATTENTION
 * 2A/06, also those whose own group did not change (a peer's group going
 * OFFLINE after a fence, or ANO after it rejoins), so every initiator re-reads
 * the whole table; entering TRANSITIONING raises nothing.
 */
static bool alua_table_changed(const struct alua_table *old, const struct alua_table *new_tab)
{
	for (unsigned i = 0; i < new_tab->ntpgs && i < ALUA_MAX_TPGS; i++) {
		uint8_t after = new_tab->tpg[i].state;
		/* No table yet behaves as active/optimized everywhere. */
		uint8_t before =
			old->ntpgs ? alua_table_tpg_state(old, new_tab->tpg[i].id) : ALUA_AO;

		if (after != ALUA_TRANSITIONING && before != after)
			return true;
	}
	return false;
}

void scsi_lu_set_alua(struct scsi_lu *lu, const struct alua_table *tab)
{
	struct alua_table old = lu->alua;
	struct list_node *pos;

	if (tab->version < lu->alua.version)
		return;
	lu->alua = *tab;
	alua_table_sanitize(&lu->alua);
	if (!alua_table_changed(&old, &lu->alua))
		return;
	list_for_each(pos, &lu->tgt->nexuses)
	{
		struct scsi_nexus *n = list_entry(pos, struct scsi_nexus, tgt_node);

		scsi_ua_raise(n, lu, UA_ALUA_CHANGED);
	}
}

void scsi_tgt_set_alua(struct scsi_tgt *t, const struct alua_table *tab)
{
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++)
		if (t->lus[i])
			scsi_lu_set_alua(t->lus[i], tab);
}

const struct alua_table *scsi_lu_alua(const struct scsi_lu *lu)
{
	return &lu->alua;
}

/*
 * SPC-4 5.9.2.4: active states run everything; standby runs only the commands
 * of 5.9.2.4.4 (SOP_ALUA_STANDBY), unavailable/offline/transitioning only those
 * of 5.9.2.4.5 (SOP_ALUA_UNAVAIL, a subset). Returns true with sense set when
 * the command must not run.
 */
bool alua_check_access(struct scsi_cmd *c, const struct scsi_op_desc *d)
{
	uint8_t state = alua_port_state(c->lu, c->nexus->rel_port_id);

	switch (state) {
	case ALUA_AO:
	case ALUA_ANO:
		return false;
	case ALUA_STANDBY:
		if (d->flags & (SOP_ALUA_STANDBY | SOP_ALUA_UNAVAIL))
			return false;
		scsi_cmd_set_sense(c, SK_NOT_READY, 0x04, 0x0b);
		return true;
	case ALUA_TRANSITIONING:
		if (d->flags & SOP_ALUA_UNAVAIL)
			return false;
		scsi_cmd_set_sense(c, SK_NOT_READY, 0x04, 0x0a);
		return true;
	default: /* unavailable, offline */
		if (d->flags & SOP_ALUA_UNAVAIL)
			return false;
		scsi_cmd_set_sense(c, SK_NOT_READY, 0x04, 0x0c);
		return true;
	}
}

/* Target port group descriptor (SPC-4 6.37, table "Target port group descriptor"). */
static void alua_put_tpg(struct scsi_out *o, const struct alua_tpg *tpg)
{
	scsi_out_u8(o, (uint8_t)((tpg->pref ? 0x80 : 0) | (tpg->state & 0x0f)));
	/* T_SUP O_SUP U_SUP S_SUP AN_SUP AO_SUP: every state can be reported */
	scsi_out_u8(o, 0xcf);
	scsi_out_be16(o, tpg->id);
	scsi_out_u8(o, 0);
	scsi_out_u8(o, 0x02); /* STATUS CODE: altered by implicit transition */
	scsi_out_u8(o, 0);
	scsi_out_u8(o, tpg->nports);
	for (unsigned p = 0; p < tpg->nports; p++) {
		scsi_out_be16(o, 0);
		scsi_out_be16(o, tpg->rel_port[p]);
	}
}

/*
 * REPORT TARGET PORT GROUPS parameter data (SPC-4 6.37) into buf[0..cap):
 * length-only header or, when extended, the extended header (format type 1,
 * implicit transition time 0). RETURN DATA LENGTH counts every byte after
 * itself. Returns the full length (may exceed cap). Any reactor.
 */
uint32_t alua_build_rtpg(const struct scsi_lu *lu, bool extended, uint8_t *buf, uint32_t cap)
{
	struct alua_tpg implicit = {.id = 1, .state = ALUA_AO};
	struct scsi_out o;

	scsi_out_init(&o, buf, cap);
	scsi_out_be32(&o, 0);
	if (extended) {
		scsi_out_u8(&o, 0x10);
		scsi_out_u8(&o, 0);
		scsi_out_be16(&o, 0);
	}
	if (lu->alua.ntpgs == 0)
		alua_put_tpg(&o, &implicit);
	for (unsigned g = 0; g < lu->alua.ntpgs; g++)
		alua_put_tpg(&o, &lu->alua.tpg[g]);
	scsi_out_set_be32(&o, 0, o.len - 4);
	return o.len;
}
