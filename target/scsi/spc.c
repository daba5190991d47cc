/* SPDX-License-Identifier: MIT */
/*
 * SPC-4 primary commands: INQUIRY (standard data and VPD pages), REPORT LUNS,
 * TEST UNIT READY, REQUEST SENSE, MODE SENSE/SELECT, START STOP UNIT, PREVENT
 * ALLOW MEDIUM REMOVAL, REPORT SUPPORTED OPERATION CODES, REPORT TARGET PORT
 * GROUPS.
 *
 * Every response is built straight into c->buf through struct scsi_out, which
 * counts the full length but stores only up to the allocation length; nothing
 * here allocates. The dispatcher (scsi.c) has already checked LUN, unit
 * attention, reserved CDB bits, ALUA state and reservations.
 */
#include <string.h>

#include "lib/compiler.h"
#include "target/scsi/scsi_int.h"

/* Version descriptors (SPC-4 table "Version descriptor values"). */
#define VD_SAM5	 0x00a0
#define VD_ISCSI 0x0960
#define VD_SPC4	 0x0460
#define VD_SBC3	 0x04c0

static int spc_bad_cdb(struct scsi_cmd *c, uint16_t byte, int8_t bit)
{
	scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_CDB, true, byte,
				 bit);
	return SCSI_DONE;
}

static int spc_bad_param(struct scsi_cmd *c, uint16_t byte, int8_t bit)
{
	scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_PARAM, false, byte,
				 bit);
	return SCSI_DONE;
}

static int spc_param_len_error(struct scsi_cmd *c)
{
	scsi_cmd_set_sense(c, SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH);
	return SCSI_DONE;
}

static void spc_data_in(struct scsi_cmd *c, uint32_t alloc)
{
	c->dir = SCSI_DIR_READ;
	c->xfer_len = alloc;
}

/* Space-padded fixed-width ASCII field. */
static void spc_out_ascii(struct scsi_out *o, const char *s, uint32_t width)
{
	uint32_t n = (uint32_t)strnlen(s, width);

	scsi_out_put(o, s, n);
	for (; n < width; n++)
		scsi_out_u8(o, ' ');
}

/* ---- TEST UNIT READY (SPC-4 6.47) ---- */

static int spc_tur_exec(struct scsi_cmd *c)
{
	return SCSI_DONE; /* readiness was checked by the dispatcher (SOP_MEDIUM) */
}

/* ---- REQUEST SENSE (SPC-4 6.39) ---- */

static int spc_request_sense_prepare(struct scsi_cmd *c)
{
	spc_data_in(c, c->cdb[4]);
	return SCSI_OK;
}

/*
 * Sense data as parameter data, GOOD status: a pending unit attention (reported
 * and cleared, SAM-5 5.14), LOGICAL UNIT NOT SUPPORTED for an unknown LUN, NOT
 * READY for a stopped LU, else NO SENSE. DESC selects the descriptor format.
 */
static int spc_request_sense_exec(struct scsi_cmd *c)
{
	bool desc = c->cdb[1] & 0x01;
	uint8_t buf[18];
	uint8_t key = SK_NO_SENSE, asc = 0, ascq = 0, len;
	enum scsi_ua ua;

	if (!c->lu) {
		key = SK_ILLEGAL_REQUEST;
		asc = 0x25;
	} else if (scsi_ua_pop(c->nexus, c->lu, &ua)) {
		key = SK_UNIT_ATTENTION;
		scsi_ua_code(ua, &asc, &ascq);
	} else if (c->lu->stopped) {
		key = SK_NOT_READY;
		asc = 0x04;
		ascq = 0x02;
	}
	len = scsi_sense_build(buf, desc, key, asc, ascq);
	scsi_cmd_put_data(c, buf, len);
	return SCSI_DONE;
}

/* ---- INQUIRY (SPC-4 6.6) ---- */

static int spc_inquiry_prepare(struct scsi_cmd *c)
{
	/* A page code without EVPD is invalid (SPC-4 6.6.1). */
	if (!(c->cdb[1] & 0x01) && c->cdb[2] != 0)
		return spc_bad_cdb(c, 2, 7);
	spc_data_in(c, get_be16(&c->cdb[3]));
	return SCSI_OK;
}

static unsigned spc_lu_port_count(const struct scsi_lu *lu)
{
	unsigned n = 0;

	for (unsigned g = 0; g < lu->alua.ntpgs; g++)
		n += lu->alua.tpg[g].nports;
	return n;
}

/* Standard INQUIRY data (SPC-4 6.6.2), 96 bytes. */
static void spc_inquiry_std(struct scsi_cmd *c, struct scsi_out *o)
{
	const struct scsi_lu *lu = c->lu;
	static const uint16_t vd[] = {VD_SAM5, VD_ISCSI, VD_SPC4, VD_SBC3};

	scsi_out_u8(o, lu ? 0x00 : 0x7f); /* PQ 000b/PDT 0 (disk), or 011b/1Fh: no LU */
	scsi_out_u8(o, 0);		  /* RMB=0: not removable */
	scsi_out_u8(o, 0x06);		  /* VERSION: SPC-4 */
	scsi_out_u8(o, 0x12);		  /* HISUP, RESPONSE DATA FORMAT 2 */
	scsi_out_u8(o, 96 - 5);		  /* ADDITIONAL LENGTH */
	scsi_out_u8(o, 0x10);		  /* TPGS 01b: implicit ALUA only */
	scsi_out_u8(o, lu && spc_lu_port_count(lu) > 1 ? 0x10 : 0); /* MULTIP */
	scsi_out_u8(o, 0x02);					    /* CMDQUE */
	spc_out_ascii(o, lu ? lu->vendor : "CLUSTERD", 8);
	spc_out_ascii(o, lu ? lu->product : "", 16);
	spc_out_ascii(o, lu ? lu->revision : "", 4);
	scsi_out_put(o, NULL, 22); /* vendor specific, clocking/QAS/IUS, reserved */
	for (unsigned i = 0; i < ARRAY_SIZE(vd); i++)
		scsi_out_be16(o, vd[i]);
	scsi_out_put(o, NULL, 96 - o->len);
}

static const uint8_t spc_vpd_pages[] = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};

/* VPD 00h Supported VPD Pages (SPC-4 7.8.16). */
static void spc_vpd_supported(struct scsi_cmd *c, struct scsi_out *o)
{
	if (!c->lu) {
		scsi_out_u8(o, 0);
		return;
	}
	scsi_out_put(o, spc_vpd_pages, sizeof(spc_vpd_pages));
}

/* VPD 80h Unit Serial Number (SPC-4 7.8.17): lu_id in hex, stable across nodes. */
static void spc_vpd_serial(struct scsi_cmd *c, struct scsi_out *o)
{
	scsi_out_put(o, c->lu->serial, (uint32_t)strlen(c->lu->serial));
}

/* One designation descriptor header (SPC-4 7.8.6.1). */
static void spc_desig(struct scsi_out *o, uint8_t proto_codeset, uint8_t piv_assoc_type,
		      uint8_t len)
{
	scsi_out_u8(o, proto_codeset);
	scsi_out_u8(o, piv_assoc_type);
	scsi_out_u8(o, 0);
	scsi_out_u8(o, len);
}

/* SCSI name string of the target device: the iSCSI target name (SPC-4 7.8.6.11). */
static void spc_desig_name(struct scsi_out *o, const char *name)
{
	uint32_t n = (uint32_t)strlen(name);
	uint32_t padded = ALIGN_UP(n + 1, 4u);

	if (padded > 252)
		return; /* cannot happen for names < TGT_NAME_MAX, but never overflow a u8 */
	spc_desig(o, 0x53, 0xa8, (uint8_t)padded); /* iSCSI, UTF-8; PIV, target device, type 8 */
	scsi_out_put(o, name, n);
	scsi_out_put(o, NULL, padded - n);
}

/* VPD 83h Device Identification (SPC-4 7.8.6). */
static void spc_vpd_devid(struct scsi_cmd *c, struct scsi_out *o)
{
	const struct scsi_lu *lu = c->lu;
	uint16_t port = c->nexus->rel_port_id;
	const struct alua_tpg *tpg = alua_port_tpg(lu, port);
	uint32_t serial_len = (uint32_t)strlen(lu->serial);

	/* NAA IEEE Registered Extended, associated with the LU (binary, type 3). */
	spc_desig(o, 0x01, 0x03, 16);
	scsi_out_put(o, lu->naa, 16);
	/* T10 vendor ID: vendor + serial (ASCII, type 1). */
	spc_desig(o, 0x02, 0x01, (uint8_t)(8 + serial_len));
	spc_out_ascii(o, lu->vendor, 8);
	scsi_out_put(o, lu->serial, serial_len);
	/* Relative target port of this I_T nexus (iSCSI, PIV, target port, type 4). */
	spc_desig(o, 0x51, 0x94, 4);
	scsi_out_be16(o, 0);
	scsi_out_be16(o, port);
	/* Its target port group (type 5); group 1 while no table is set. */
	if (tpg || lu->alua.ntpgs == 0) {
		spc_desig(o, 0x51, 0x95, 4);
		scsi_out_be16(o, 0);
		scsi_out_be16(o, tpg ? tpg->id : 1);
	}
	spc_desig_name(o, lu->tgt->name);
}

static uint32_t spc_blocks(const struct scsi_lu *lu, uint32_t bytes)
{
	return bytes >> lu->block_shift;
}

static uint32_t spc_granularity(const struct scsi_lu *lu)
{
	uint32_t g = spc_blocks(lu, SCSI_GRANULARITY_BYTES);

	return g ? g : 1;
}

/* VPD B0h Block Limits (SBC-3 6.5.3): the limits sbc.c enforces (scsi_int.h). */
static void spc_vpd_block_limits(struct scsi_cmd *c, struct scsi_out *o)
{
	const struct scsi_lu *lu = c->lu;
	bool unmap = scsi_lu_lbpme(lu);

	scsi_out_u8(o, SCSI_WSNZ ? 0x01 : 0);
	scsi_out_u8(o, (uint8_t)SCSI_MAX_CAW_BLOCKS);
	scsi_out_be16(o, (uint16_t)spc_granularity(lu));
	scsi_out_be32(o, spc_blocks(lu, SCSI_MAX_XFER_BYTES));
	scsi_out_be32(o, spc_blocks(lu, SCSI_MAX_XFER_BYTES)); /* optimal = maximum */
	scsi_out_be32(o, 0);				       /* max prefetch: not reported */
	scsi_out_be32(o, unmap ? SCSI_MAX_UNMAP_LBA_COUNT : 0);
	scsi_out_be32(o, unmap ? SCSI_MAX_UNMAP_DESCRIPTORS : 0);
	scsi_out_be32(o, unmap ? spc_granularity(lu) : 0);
	scsi_out_be32(o, unmap ? 0x80000000u : 0); /* UGAVALID, alignment 0 */
	scsi_out_be64(o, spc_blocks(lu, SCSI_MAX_WRITE_SAME_BYTES));
	scsi_out_put(o, NULL, 20); /* atomic transfer limits: no atomic writes */
}

/* VPD B1h Block Device Characteristics (SBC-3 6.5.2): non-rotating medium. */
static void spc_vpd_bdc(struct scsi_cmd *c, struct scsi_out *o)
{
	scsi_out_be16(o, 0x0001);
	scsi_out_put(o, NULL, 58);
}

/* VPD B2h Logical Block Provisioning (SBC-3 6.5.4). */
static void spc_vpd_lbp(struct scsi_cmd *c, struct scsi_out *o)
{
	const struct scsi_lu *lu = c->lu;
	bool thin = scsi_lu_lbpme(lu);

	scsi_out_u8(o, 0); /* THRESHOLD EXPONENT: no thresholds */
	/* LBPU, LBPWS, LBPWS10: UNMAP and WRITE SAME(16)/(10) with UNMAP; LBPRZ */
	scsi_out_u8(o, (uint8_t)((thin ? 0xe0 : 0) | (scsi_lu_lbprz(lu) ? 0x04 : 0)));
	scsi_out_u8(o, thin ? 0x02 : 0x00); /* PROVISIONING TYPE: thin / full */
	scsi_out_u8(o, 0);
}

static int spc_inquiry_vpd(struct scsi_cmd *c, struct scsi_out *o)
{
	uint8_t page = c->cdb[2];

	if (!c->lu && page != 0x00)
		return spc_bad_cdb(c, 2, 7);
	scsi_out_u8(o, c->lu ? 0x00 : 0x7f);
	scsi_out_u8(o, page);
	scsi_out_be16(o, 0);
	switch (page) {
	case 0x00:
		spc_vpd_supported(c, o);
		break;
	case 0x80:
		spc_vpd_serial(c, o);
		break;
	case 0x83:
		spc_vpd_devid(c, o);
		break;
	case 0xb0:
		spc_vpd_block_limits(c, o);
		break;
	case 0xb1:
		spc_vpd_bdc(c, o);
		break;
	case 0xb2:
		spc_vpd_lbp(c, o);
		break;
	default:
		return spc_bad_cdb(c, 2, 7);
	}
	scsi_out_set_be16(o, 2, (uint16_t)(o->len - 4));
	return SCSI_OK;
}

static int spc_inquiry_exec(struct scsi_cmd *c)
{
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	if (!(c->cdb[1] & 0x01))
		spc_inquiry_std(c, &o);
	else if (spc_inquiry_vpd(c, &o) != SCSI_OK)
		return SCSI_DONE;
	scsi_cmd_out_done(c, &o);
	return SCSI_DONE;
}

/* ---- REPORT LUNS (SPC-4 6.33) ---- */

static int spc_report_luns_prepare(struct scsi_cmd *c)
{
	uint32_t alloc = get_be32(&c->cdb[6]);
	uint8_t select = c->cdb[2];

	if (select > 0x02)
		return spc_bad_cdb(c, 2, 7);
	if (alloc < 16)
		return spc_bad_cdb(c, 6, -1);
	spc_data_in(c, alloc);
	return SCSI_OK;
}

/* SAM-5 4.7: peripheral device addressing below 256, flat space above. */
static void spc_out_lun(struct scsi_out *o, uint64_t lun)
{
	if (lun < 256) {
		scsi_out_u8(o, 0x00);
	} else {
		scsi_out_u8(o, (uint8_t)(0x40 | ((lun >> 8) & 0x3f)));
	}
	scsi_out_u8(o, (uint8_t)lun);
	scsi_out_put(o, NULL, 6);
}

/* The configured LU with the smallest LUN above `after` (or >= 0 when first). */
static const struct scsi_lu *spc_next_lu(const struct scsi_tgt *t, const struct scsi_lu *after)
{
	const struct scsi_lu *best = NULL;

	for (unsigned i = 0; i < TGT_MAX_LUNS; i++) {
		const struct scsi_lu *lu = t->lus[i];

		if (!lu || (after && lu->lun <= after->lun))
			continue;
		if (!best || lu->lun < best->lun)
			best = lu;
	}
	return best;
}

static int spc_report_luns_exec(struct scsi_cmd *c)
{
	struct scsi_tgt *t = c->nexus->tgt;
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	scsi_out_be32(&o, 0);
	scsi_out_be32(&o, 0);
	/* SELECT REPORT 01h asks for well-known LUs only: we have none. */
	if (c->cdb[2] != 0x01)
		for (const struct scsi_lu *lu = spc_next_lu(t, NULL); lu; lu = spc_next_lu(t, lu))
			spc_out_lun(&o, lu->lun);
	scsi_out_set_be32(&o, 0, o.len - 8);
	/* SAM-5 5.14: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for this nexus. */
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++)
		c->nexus->ua[i] &= ~(1u << UA_LUNS_CHANGED);
	scsi_cmd_out_done(c, &o);
	return SCSI_DONE;
}

/* ---- mode pages (SPC-4 7.5, SBC-3 6.4) ---- */

enum spc_pc { PC_CURRENT = 0, PC_CHANGEABLE = 1, PC_DEFAULT = 2, PC_SAVED = 3 };

struct spc_mode_page {
	uint8_t page;
	uint8_t sub;
	uint8_t len; /* whole page, header included */
	void (*fill)(const struct scsi_lu *lu, uint8_t *p, enum spc_pc pc);
};

/* Caching (SBC-3 6.4.5): WCE mirrors the bdev's volatile cache; nothing changeable. */
static void spc_mp_caching(const struct scsi_lu *lu, uint8_t *p, enum spc_pc pc)
{
	p[0] = 0x08;
	p[1] = 0x12;
	if (pc != PC_CHANGEABLE && lu->wce)
		p[2] = 0x04;
}

/*
 * Control (SPC-4 7.5.8): TST 0 (one task set), QAM 1 (unrestricted reordering),
 * D_SENSE 0 (fixed sense), GLTSD 1 (no log saving), TAS 0 (aborted tasks of
 * other nexuses get no status), busy timeout unlimited. SWP is the one
 * changeable field: MODE SELECT may write-protect the LU.
 */
static void spc_mp_control(const struct scsi_lu *lu, uint8_t *p, enum spc_pc pc)
{
	p[0] = 0x0a;
	p[1] = 0x0a;
	if (pc == PC_CHANGEABLE) {
		p[4] = 0x08;
		return;
	}
	p[2] = 0x02;
	p[3] = 0x10;
	if (pc == PC_CURRENT && lu->swp)
		p[4] = 0x08;
	p[8] = 0xff;
	p[9] = 0xff;
}

/* Control Extension (SPC-4 7.5.9): no timestamp, no priorities. */
static void spc_mp_control_ext(const struct scsi_lu *lu, uint8_t *p, enum spc_pc pc)
{
	p[0] = 0x4a; /* SPF */
	p[1] = 0x01;
	p[3] = 0x1c;
}

/* Informational Exceptions Control (SPC-4 7.5.14): DEXCPT, nothing reported. */
static void spc_mp_iec(const struct scsi_lu *lu, uint8_t *p, enum spc_pc pc)
{
	p[0] = 0x1c;
	p[1] = 0x0a;
	if (pc != PC_CHANGEABLE)
		p[2] = 0x08;
}

/* In ascending page, then subpage, order (SPC-4 6.11: pages of 3Fh come in order). */
static const struct spc_mode_page spc_mode_pages[] = {
	{0x08, 0x00, 20, spc_mp_caching},
	{0x0a, 0x00, 12, spc_mp_control},
	{0x0a, 0x01, 32, spc_mp_control_ext},
	{0x1c, 0x00, 12, spc_mp_iec},
};

#define SPC_MODE_PAGE_MAX 32

/* Does (page, sub) of a MODE SENSE select mode page mp? */
static bool spc_mode_selects(const struct spc_mode_page *mp, uint8_t page, uint8_t sub)
{
	if (page == 0x3f)
		return sub == 0xff || mp->sub == 0;
	if (mp->page != page)
		return false;
	return sub == 0xff || mp->sub == sub;
}

static bool spc_mode_any(uint8_t page, uint8_t sub)
{
	if (page == 0x3f && sub != 0x00 && sub != 0xff)
		return false;
	for (unsigned i = 0; i < ARRAY_SIZE(spc_mode_pages); i++)
		if (spc_mode_selects(&spc_mode_pages[i], page, sub))
			return true;
	return false;
}

static const struct spc_mode_page *spc_mode_find(uint8_t page, uint8_t sub)
{
	for (unsigned i = 0; i < ARRAY_SIZE(spc_mode_pages); i++)
		if (spc_mode_pages[i].page == page && spc_mode_pages[i].sub == sub)
			return &spc_mode_pages[i];
	return NULL;
}

/* ---- MODE SENSE(6)/(10) (SPC-4 6.11, 6.12) ---- */

static bool spc_is_ten(const struct scsi_cmd *c)
{
	return c->cdb[0] == 0x5a || c->cdb[0] == 0x55;
}

static int spc_mode_sense_prepare(struct scsi_cmd *c)
{
	uint8_t pc = c->cdb[2] >> 6, page = c->cdb[2] & 0x3f, sub = c->cdb[3];

	if (pc == PC_SAVED) {
		scsi_cmd_set_sense_field(c, SK_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMS_UNSUP, true,
					 2, 7);
		return SCSI_DONE;
	}
	if (!spc_mode_any(page, sub)) {
		if (page != 0x3f && !spc_mode_any(page, 0xff))
			return spc_bad_cdb(c, 2, 5);
		return spc_bad_cdb(c, 3, -1);
	}
	spc_data_in(c, spc_is_ten(c) ? get_be16(&c->cdb[7]) : c->cdb[4]);
	return SCSI_OK;
}

/* Block descriptor (SPC-4 7.5.5): short (8 bytes) or long LBA (16 bytes). */
static void spc_mode_block_desc(const struct scsi_lu *lu, struct scsi_out *o, bool longlba)
{
	if (longlba) {
		scsi_out_be64(o, lu->nblocks);
		scsi_out_be32(o, 0);
		scsi_out_be32(o, lu->block_size);
		return;
	}
	scsi_out_be32(o, lu->nblocks > 0xffffffffull ? 0xffffffffu : (uint32_t)lu->nblocks);
	scsi_out_u8(o, 0);
	scsi_out_u8(o, 0);
	scsi_out_be16(o, (uint16_t)lu->block_size);
}

static int spc_mode_sense_exec(struct scsi_cmd *c)
{
	const struct scsi_lu *lu = c->lu;
	bool ten = spc_is_ten(c), dbd = c->cdb[1] & 0x08;
	bool longlba = ten && (c->cdb[1] & 0x10);
	enum spc_pc pc = (enum spc_pc)(c->cdb[2] >> 6);
	uint8_t page = c->cdb[2] & 0x3f, sub = c->cdb[3];
	/* WP; DPOFUA: READ/WRITE honour DPO and FUA */
	uint8_t devspec = (uint8_t)((scsi_lu_write_protected(lu) ? 0x80 : 0) | 0x10);
	uint32_t bdl = dbd ? 0 : (longlba ? 16 : 8);
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	if (ten) {
		scsi_out_be16(&o, 0);
		scsi_out_u8(&o, 0);
		scsi_out_u8(&o, devspec);
		scsi_out_u8(&o, longlba && !dbd ? 0x01 : 0);
		scsi_out_u8(&o, 0);
		scsi_out_be16(&o, (uint16_t)bdl);
	} else {
		scsi_out_u8(&o, 0);
		scsi_out_u8(&o, 0);
		scsi_out_u8(&o, devspec);
		scsi_out_u8(&o, (uint8_t)bdl);
	}
	if (bdl)
		spc_mode_block_desc(lu, &o, longlba);
	for (unsigned i = 0; i < ARRAY_SIZE(spc_mode_pages); i++) {
		const struct spc_mode_page *mp = &spc_mode_pages[i];
		uint8_t p[SPC_MODE_PAGE_MAX] = {0};

		if (!spc_mode_selects(mp, page, sub))
			continue;
		mp->fill(lu, p, pc);
		scsi_out_put(&o, p, mp->len);
	}
	if (ten)
		scsi_out_set_be16(&o, 0, (uint16_t)(o.len - 2));
	else
		scsi_out_set_u8(&o, 0, (uint8_t)(o.len - 1));
	scsi_cmd_out_done(c, &o);
	return SCSI_DONE;
}

/* ---- MODE SELECT(6)/(10) (SPC-4 6.9, 6.10) ---- */

static int spc_mode_select_prepare(struct scsi_cmd *c)
{
	c->dir = SCSI_DIR_WRITE;
	c->xfer_len = spc_is_ten(c) ? get_be16(&c->cdb[7]) : c->cdb[4];
	return SCSI_OK;
}

/* Block descriptors of MODE SELECT must describe the LU as it is. */
static int spc_mode_select_bd(struct scsi_cmd *c, const uint8_t *p, uint32_t off, uint32_t bdl,
			      bool longlba)
{
	uint32_t dl = longlba ? 16 : 8;

	if (bdl % dl)
		return spc_param_len_error(c);
	for (uint32_t d = off; d < off + bdl; d += dl) {
		uint64_t nb = longlba ? get_be64(&p[d]) : get_be32(&p[d]);
		uint32_t bl = longlba ? get_be32(&p[d + 12]) : get_be24(&p[d + 5]);

		if (bl != c->lu->block_size)
			return spc_bad_param(c, (uint16_t)(d + (longlba ? 12 : 5)), -1);
		if (nb != 0 && nb != c->lu->nblocks &&
		    !(!longlba && nb == 0xffffffffu && c->lu->nblocks > 0xffffffffull))
			return spc_bad_param(c, (uint16_t)d, -1);
	}
	return SCSI_OK;
}

/*
 * One page of a MODE SELECT parameter list at p[off..]: it must be a page we
 * have, of our length, equal to the current values except changeable bits.
 * With apply, the changeable bits are taken. Returns SCSI_OK and *plen, or
 * SCSI_DONE with sense set.
 */
static int spc_mode_select_page(struct scsi_cmd *c, const uint8_t *p, uint32_t off, uint32_t len,
				bool apply, uint32_t *plen)
{
	const struct spc_mode_page *mp;
	uint8_t cur[SPC_MODE_PAGE_MAX] = {0}, chg[SPC_MODE_PAGE_MAX] = {0};
	bool spf = p[off] & 0x40;
	uint8_t sub = 0;

	if (off + (spf ? 4 : 2) > len)
		return spc_param_len_error(c);
	if (spf) {
		sub = p[off + 1];
		*plen = 4 + (uint32_t)get_be16(&p[off + 2]);
	} else {
		*plen = 2 + (uint32_t)p[off + 1];
	}
	mp = spc_mode_find(p[off] & 0x3f, sub);
	if (!mp || (mp->sub != 0) != spf)
		return spc_bad_param(c, (uint16_t)off, 5);
	if (*plen != mp->len)
		return spc_bad_param(c, (uint16_t)(off + 1), -1);
	if (off + *plen > len)
		return spc_param_len_error(c);
	mp->fill(c->lu, cur, PC_CURRENT);
	mp->fill(c->lu, chg, PC_CHANGEABLE);
	for (uint32_t i = 2; i < *plen; i++)
		if ((p[off + i] ^ cur[i]) & ~chg[i])
			return spc_bad_param(c, (uint16_t)(off + i), -1);
	if (apply && mp->page == 0x0a && mp->sub == 0)
		c->lu->swp = p[off + 4] & 0x08;
	return SCSI_OK;
}

static int spc_mode_select_pages(struct scsi_cmd *c, const uint8_t *p, uint32_t off, uint32_t len,
				 bool apply)
{
	uint32_t plen;

	while (off < len) {
		if (spc_mode_select_page(c, p, off, len, apply, &plen) != SCSI_OK)
			return SCSI_DONE;
		off += plen;
	}
	return SCSI_OK;
}

static int spc_mode_select_exec(struct scsi_cmd *c)
{
	const uint8_t *p = c->buf;
	uint32_t len = c->xfer_len, hdr = spc_is_ten(c) ? 8 : 4, bdl;
	bool longlba, swp;

	if (len == 0)
		return SCSI_DONE;
	if (len < hdr || !p || c->data_out_len < len)
		return spc_param_len_error(c);
	bdl = spc_is_ten(c) ? get_be16(&p[6]) : p[3];
	longlba = spc_is_ten(c) && (p[4] & 0x01);
	if (hdr + bdl > len)
		return spc_param_len_error(c);
	if (spc_mode_select_bd(c, p, hdr, bdl, longlba) != SCSI_OK)
		return SCSI_DONE;
	/* Validate everything first, so a bad page changes nothing. */
	if (spc_mode_select_pages(c, p, hdr + bdl, len, false) != SCSI_OK)
		return SCSI_DONE;
	swp = c->lu->swp;
	spc_mode_select_pages(c, p, hdr + bdl, len, true);
	/* SPC-4 7.5.1: the other I_T nexuses learn of a changed parameter. */
	if (swp != c->lu->swp)
		scsi_ua_raise_all(c->lu->tgt, c->lu, UA_MODE_CHANGED, c->nexus);
	return SCSI_DONE;
}

/* ---- START STOP UNIT (SBC-3 5.25) ---- */

static void spc_stop_flush_done(struct bdev_io *io, int res)
{
	struct scsi_cmd *c = io->priv;

	scsi_cmd_set_errno(c, res);
	scsi_cmd_complete(c);
}

/*
 * START=1 starts the LU, START=0 stops it (media access then gets NOT READY
 * 04/02), first flushing a volatile cache unless NO_FLUSH. A non-zero POWER
 * CONDITION changes nothing here (we have no power conditions); LOEJ asks to
 * move a medium we do not have: INVALID FIELD IN CDB.
 */
static int spc_start_stop_exec(struct scsi_cmd *c)
{
	struct scsi_lu *lu = c->lu;
	uint8_t b4 = c->cdb[4];
	struct bdev_io *io = &c->priv.io;
	int err;

	if (b4 >> 4)
		return SCSI_DONE;
	if (b4 & 0x02)
		return spc_bad_cdb(c, 4, 1);
	lu->stopped = !(b4 & 0x01);
	if (!lu->stopped || (b4 & 0x04) || !lu->bdev->volatile_cache)
		return SCSI_DONE;
	memset(io, 0, sizeof(*io));
	io->op = BDEV_FLUSH;
	io->buf_index = -1;
	io->cb = spc_stop_flush_done;
	io->priv = c;
	err = bdev_submit(lu->bdev, c->ctx ? c->ctx->reactor : NULL, io);
	if (err) {
		scsi_cmd_set_errno(c, err);
		return SCSI_DONE;
	}
	scsi_cmd_pending(c);
	return SCSI_PENDING;
}

/* ---- PREVENT ALLOW MEDIUM REMOVAL (SBC-3 5.13) ---- */

static int spc_prevent_allow_exec(struct scsi_cmd *c)
{
	uint8_t prevent = c->cdb[4] & 0x03;

	if (prevent > 1)
		return spc_bad_cdb(c, 4, 1); /* 10b/11b: medium changer only */
	c->lu->removal_prevented = prevent;
	return SCSI_DONE;
}

/* ---- REPORT TARGET PORT GROUPS (SPC-4 6.37) ---- */

static int spc_rtpg_prepare(struct scsi_cmd *c)
{
	if ((c->cdb[1] >> 5) > 1)
		return spc_bad_cdb(c, 1, 7);
	spc_data_in(c, get_be32(&c->cdb[6]));
	return SCSI_OK;
}

static int spc_rtpg_exec(struct scsi_cmd *c)
{
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	o.len = alua_build_rtpg(c->lu, (c->cdb[1] >> 5) == 1, o.buf, o.cap);
	scsi_cmd_out_done(c, &o);
	return SCSI_DONE;
}

/* ---- REPORT SUPPORTED OPERATION CODES (SPC-4 6.35) ---- */

static int spc_rsoc_prepare(struct scsi_cmd *c)
{
	if ((c->cdb[2] & 0x07) > 3)
		return spc_bad_cdb(c, 2, 2);
	spc_data_in(c, get_be32(&c->cdb[6]));
	return SCSI_OK;
}

/* Command timeouts descriptor (SPC-4 6.35.4): no nominal time, 30 s recommended. */
static void spc_rsoc_timeouts(struct scsi_out *o)
{
	scsi_out_be16(o, 0x000a);
	scsi_out_u8(o, 0);
	scsi_out_u8(o, 0);
	scsi_out_be32(o, 0);
	scsi_out_be32(o, 30);
}

static void spc_rsoc_all(struct scsi_out *o, bool rctd)
{
	const struct scsi_op_desc *d;

	scsi_out_be32(o, 0);
	for (unsigned i = 0; (d = scsi_op_at(i)) != NULL; i++) {
		scsi_out_u8(o, d->opcode);
		scsi_out_u8(o, 0);
		scsi_out_be16(o, d->has_sa ? d->sa : 0);
		scsi_out_u8(o, 0);
		scsi_out_u8(o, (uint8_t)((rctd ? 0x02 : 0) | (d->has_sa ? 0x01 : 0)));
		scsi_out_be16(o, d->cdb_len);
		if (rctd)
			spc_rsoc_timeouts(o);
	}
	scsi_out_set_be32(o, 0, o->len - 4);
}

static bool spc_opcode_has_sa(uint8_t opcode, bool *known)
{
	const struct scsi_op_desc *d;

	*known = false;
	for (unsigned i = 0; (d = scsi_op_at(i)) != NULL; i++) {
		if (d->opcode != opcode)
			continue;
		*known = true;
		if (d->has_sa)
			return true;
	}
	return false;
}

/* One-command format (SPC-4 6.35.3); SUPPORT 011b or 001b (not supported). */
static int spc_rsoc_one(struct scsi_cmd *c, struct scsi_out *o, uint8_t opts, bool rctd)
{
	uint8_t opcode = c->cdb[3];
	uint16_t sa = get_be16(&c->cdb[4]);
	const struct scsi_op_desc *d = NULL;
	bool known, has_sa = spc_opcode_has_sa(opcode, &known);

	if ((opts == 1 && has_sa) || (opts == 2 && known && !has_sa))
		return spc_bad_cdb(c, opts == 1 ? 3 : 4, -1);
	if (known && (!has_sa || sa <= 0x1f))
		d = scsi_find_op(opcode, (uint8_t)sa, NULL);
	scsi_out_u8(o, 0);
	if (!d) {
		scsi_out_u8(o, 0x01);
		scsi_out_be16(o, 0);
		return SCSI_OK;
	}
	scsi_out_u8(o, (uint8_t)((rctd ? 0x80 : 0) | 0x03));
	scsi_out_be16(o, d->cdb_len);
	scsi_out_u8(o, d->opcode);
	scsi_out_u8(o, d->has_sa ? (uint8_t)((d->usage[1] & 0xe0) | d->sa) : d->usage[1]);
	scsi_out_put(o, &d->usage[2], d->cdb_len - 2u);
	if (rctd)
		spc_rsoc_timeouts(o);
	return SCSI_OK;
}

static int spc_rsoc_exec(struct scsi_cmd *c)
{
	uint8_t opts = c->cdb[2] & 0x07;
	bool rctd = c->cdb[2] & 0x80;
	struct scsi_out o;

	scsi_cmd_out(c, &o);
	if (opts == 0)
		spc_rsoc_all(&o, rctd);
	else if (spc_rsoc_one(c, &o, opts, rctd) != SCSI_OK)
		return SCSI_DONE;
	scsi_cmd_out_done(c, &o);
	return SCSI_DONE;
}

/* ---- the table ---- */

#define F_INFO                                                                                     \
	(SOP_NO_UA | SOP_NO_LU | SOP_ALUA_STANDBY | SOP_ALUA_UNAVAIL | SOP_CONFLICT_EXEMPT |       \
	 SOP_RESV6_EXEMPT)

const struct scsi_op_desc spc_ops[] = {
	{.opcode = 0x00,
	 .cdb_len = 6,
	 .flags = SOP_CONFLICT_EXEMPT | SOP_MEDIUM,
	 .usage = {0x00, 0, 0, 0, 0, 0},
	 .exec = spc_tur_exec,
	 .name = "TEST UNIT READY"},
	{.opcode = 0x03,
	 .cdb_len = 6,
	 .flags = F_INFO,
	 .usage = {0x03, 0x01, 0, 0, 0xff, 0},
	 .prepare = spc_request_sense_prepare,
	 .exec = spc_request_sense_exec,
	 .name = "REQUEST SENSE"},
	{.opcode = 0x12,
	 .cdb_len = 6,
	 .flags = F_INFO,
	 .usage = {0x12, 0x01, 0xff, 0xff, 0xff, 0},
	 .prepare = spc_inquiry_prepare,
	 .exec = spc_inquiry_exec,
	 .name = "INQUIRY"},
	{.opcode = 0x15,
	 .cdb_len = 6,
	 .flags = SOP_ALUA_STANDBY,
	 .usage = {0x15, 0x10, 0, 0, 0xff, 0},
	 .prepare = spc_mode_select_prepare,
	 .exec = spc_mode_select_exec,
	 .name = "MODE SELECT(6)"},
	{.opcode = 0x1a,
	 .cdb_len = 6,
	 .flags = SOP_ALUA_STANDBY,
	 .usage = {0x1a, 0x08, 0xff, 0xff, 0xff, 0},
	 .prepare = spc_mode_sense_prepare,
	 .exec = spc_mode_sense_exec,
	 .name = "MODE SENSE(6)"},
	{.opcode = 0x1b,
	 .cdb_len = 6,
	 .usage = {0x1b, 0x01, 0, 0x0f, 0xf7, 0},
	 .exec = spc_start_stop_exec,
	 .name = "START STOP UNIT"},
	{.opcode = 0x1e,
	 .cdb_len = 6,
	 .usage = {0x1e, 0, 0, 0, 0x03, 0},
	 .exec = spc_prevent_allow_exec,
	 .name = "PREVENT ALLOW MEDIUM REMOVAL"},
	{.opcode = 0x55,
	 .cdb_len = 10,
	 .flags = SOP_ALUA_STANDBY,
	 .usage = {0x55, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
	 .prepare = spc_mode_select_prepare,
	 .exec = spc_mode_select_exec,
	 .name = "MODE SELECT(10)"},
	{.opcode = 0x5a,
	 .cdb_len = 10,
	 .flags = SOP_ALUA_STANDBY,
	 .usage = {0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0},
	 .prepare = spc_mode_sense_prepare,
	 .exec = spc_mode_sense_exec,
	 .name = "MODE SENSE(10)"},
	{.opcode = 0xa0,
	 .cdb_len = 12,
	 .flags = F_INFO,
	 .usage = {0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0},
	 .prepare = spc_report_luns_prepare,
	 .exec = spc_report_luns_exec,
	 .name = "REPORT LUNS"},
	{.opcode = 0xa3,
	 .sa = 0x0a,
	 .has_sa = true,
	 .cdb_len = 12,
	 .flags = SOP_ALUA_STANDBY | SOP_ALUA_UNAVAIL | SOP_CONFLICT_EXEMPT,
	 .usage = {0xa3, 0xea, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0},
	 .prepare = spc_rtpg_prepare,
	 .exec = spc_rtpg_exec,
	 .name = "REPORT TARGET PORT GROUPS"},
	{.opcode = 0xa3,
	 .sa = 0x0c,
	 .has_sa = true,
	 .cdb_len = 12,
	 .flags = SOP_ALUA_STANDBY | SOP_ALUA_UNAVAIL | SOP_CONFLICT_EXEMPT,
	 .usage = {0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0},
	 .prepare = spc_rsoc_prepare,
	 .exec = spc_rsoc_exec,
	 .name = "REPORT SUPPORTED OPERATION CODES"},
};

const unsigned spc_ops_count = ARRAY_SIZE(spc_ops);
