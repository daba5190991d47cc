/* SPDX-License-Identifier: MIT */
/*
 * iSCSI PDU codec (RFC 7143 11): BHS validation, digests, LUN fields, and
 * BHS builders. Sans-I/O: every function works on caller-owned bytes.
 *
 * RFC 7143 11.2.1: receivers ignore reserved fields, but "receipt of reserved
 * code values in defined fields MUST be reported as a protocol error". So the
 * parser rejects undefined opcodes and code values (Logout reason, SNACK type,
 * task attribute), fixed bits that read wrong, and length fields that a PDU
 * type cannot carry, and ignores bits that are merely reserved.
 */
#include <errno.h>
#include <string.h>

#include "lib/byteorder.h"
#include "lib/crc32c.h"
#include "target/iscsi/pdu.h"

#define ISCSI_DSL_MAX 0xffffffu /* 24-bit field */

/* What each initiator opcode may carry. */
struct pdu_rule {
	bool valid;
	bool ahs;	/* an AHS is defined (only SCSI Command, RFC 7143 11.2.2) */
	bool data;	/* a data segment is defined */
	bool final_set; /* byte 1 bit 7 is a fixed 1 */
	bool rsvd_itt;	/* ITT 0xffffffff is acceptable */
};

static const struct pdu_rule pdu_rules[ISCSI_OPCODE_MASK + 1] = {
	/* RFC 7143 11.18: ITT 0xffffffff only for an immediate NOP-Out (checked below) */
	[ISCSI_OP_NOP_OUT] = {.valid = true, .data = true, .final_set = true, .rsvd_itt = true},
	[ISCSI_OP_SCSI_CMD] = {.valid = true, .ahs = true, .data = true},
	[ISCSI_OP_TASK_MGMT_REQ] = {.valid = true, .final_set = true},
	[ISCSI_OP_LOGIN_REQ] = {.valid = true, .data = true},
	[ISCSI_OP_TEXT_REQ] = {.valid = true, .data = true},
	[ISCSI_OP_DATA_OUT] = {.valid = true, .data = true},
	[ISCSI_OP_LOGOUT_REQ] = {.valid = true, .final_set = true},
	/* RFC 7143 11.16: Status/DataACK SNACKs may carry ITT 0xffffffff */
	[ISCSI_OP_SNACK_REQ] = {.valid = true, .final_set = true, .rsvd_itt = true},
};

/* Opcode-specific code values (RFC 7143 11.3.1, 11.10, 11.14.1, 11.16.1, 11.18). */
static int pdu_check_fields(uint8_t op, const uint8_t *b)
{
	uint8_t flags = b[1];
	uint32_t itt = get_be32(b + 16);

	switch (op) {
	case ISCSI_OP_NOP_OUT:
		/* RFC 7143 11.18: a NOP-Out not asking for a reply must be immediate */
		if (itt == ISCSI_RSVD_TAG && !(b[0] & ISCSI_FLAG_IMMEDIATE))
			return -EPROTO;
		break;
	case ISCSI_OP_SCSI_CMD:
		/* RFC 7143 11.3.1.2: task attributes 5..7 are reserved */
		if ((flags & ISCSI_CMD_ATTR_MASK) > 4)
			return -EPROTO;
		break;
	case ISCSI_OP_TEXT_REQ:
		/* RFC 7143 11.10.2: F and C must not both be set */
		if ((flags & ISCSI_FLAG_FINAL) && (flags & 0x40))
			return -EPROTO;
		break;
	case ISCSI_OP_LOGOUT_REQ:
		/* RFC 7143 11.14.1: reason codes 0..2 */
		if ((flags & 0x7f) > ISCSI_LOGOUT_REMOVE_FOR_RECOVERY)
			return -EPROTO;
		break;
	case ISCSI_OP_SNACK_REQ:
		/* RFC 7143 11.16.1: types 0..3 */
		if ((flags & 0x0f) > 3)
			return -EPROTO;
		break;
	default:
		break;
	}
	return 0;
}

/* RFC 7143 11.2 */
int iscsi_pdu_parse_bhs(const uint8_t *buf, size_t len, const struct iscsi_pdu_limits *lim,
			struct iscsi_pdu_hdr *hdr)
{
	const struct pdu_rule *r;
	uint8_t op;
	uint32_t total;

	if (len < ISCSI_BHS_LEN)
		return -EAGAIN;
	op = buf[0] & ISCSI_OPCODE_MASK;
	r = &pdu_rules[op];
	if (!r->valid)
		return -EPROTO;

	memset(hdr, 0, sizeof(*hdr));
	hdr->opcode = op;
	hdr->immediate = buf[0] & ISCSI_FLAG_IMMEDIATE;
	hdr->flags = buf[1];
	hdr->ahs_len = (uint32_t)buf[4] * 4;
	hdr->data_len = get_be24(buf + 5);
	hdr->lun_raw = get_be64(buf + 8);
	hdr->itt = get_be32(buf + 16);

	if (hdr->ahs_len && !r->ahs)
		return -EPROTO;
	if (hdr->data_len && !r->data)
		return -EPROTO;
	if (r->final_set && !(hdr->flags & ISCSI_FLAG_FINAL))
		return -EPROTO;
	/* RFC 7143 11.2.1.8: 0xffffffff is never a task's tag */
	if (hdr->itt == ISCSI_RSVD_TAG && !r->rsvd_itt)
		return -EPROTO;
	if (pdu_check_fields(op, buf))
		return -EPROTO;
	if (hdr->data_len > lim->max_data_len)
		return -EMSGSIZE;

	total = ISCSI_BHS_LEN + hdr->ahs_len;
	if (lim->header_digest)
		total += ISCSI_DIGEST_LEN;
	total += ALIGN_UP(hdr->data_len, 4u);
	/* RFC 7143 11.2.5: no data digest without a data segment */
	if (lim->data_digest && hdr->data_len)
		total += ISCSI_DIGEST_LEN;
	hdr->total_len = total;
	return ISCSI_BHS_LEN;
}

/* RFC 7143 13.1; digests travel least significant byte first (RFC 3720 B.4). */
int iscsi_pdu_check_digests(const uint8_t *buf, const struct iscsi_pdu_hdr *hdr,
			    const struct iscsi_pdu_limits *lim)
{
	uint32_t hlen = ISCSI_BHS_LEN + hdr->ahs_len;
	uint32_t off, padded;

	if (lim->header_digest && crc32c(0, buf, hlen) != get_le32(buf + hlen))
		return -EBADMSG;
	if (!lim->data_digest || !hdr->data_len)
		return 0;
	off = iscsi_pdu_data_offset(hdr, lim->header_digest);
	padded = ALIGN_UP(hdr->data_len, 4u);
	/* The digest covers the data segment and its padding. */
	if (crc32c(0, buf + off, padded) != get_le32(buf + off + padded))
		return -EILSEQ;
	return 0;
}

/*
 * SAM-5 4.7: single-level LUNs in peripheral device addressing (bus 0,
 * LUN < 256), flat space addressing (< 16384), and extended flat space
 * (< 2^24). Anything else (second level, bus != 0, logical unit addressing)
 * is not a LUN this target has.
 */
#define LUN_AM_PERIPHERAL 0x00
#define LUN_AM_FLAT	  0x40
#define LUN_EXT_FLAT	  0xd2 /* extended, length 1, extended flat space */

int iscsi_lun_decode(const uint8_t lun[8], uint64_t *out)
{
	unsigned rest = 2;
	uint64_t v;

	switch (lun[0] & 0xc0) {
	case LUN_AM_PERIPHERAL:
		if (lun[0] & 0x3f)
			return -EINVAL;
		v = lun[1];
		break;
	case LUN_AM_FLAT:
		v = (uint64_t)(lun[0] & 0x3f) << 8 | lun[1];
		break;
	default:
		if (lun[0] != LUN_EXT_FLAT)
			return -EINVAL;
		v = get_be24(lun + 1);
		rest = 4;
		break;
	}
	for (unsigned i = rest; i < 8; i++)
		if (lun[i])
			return -EINVAL;
	*out = v;
	return 0;
}

void iscsi_lun_encode(uint64_t lun, uint8_t out[8])
{
	memset(out, 0, 8);
	if (lun < 256) {
		out[1] = (uint8_t)lun;
	} else if (lun < 16384) {
		out[0] = LUN_AM_FLAT | (uint8_t)(lun >> 8);
		out[1] = (uint8_t)lun;
	} else {
		/* Callers stay below 2^24; higher bits are not representable here. */
		out[0] = LUN_EXT_FLAT;
		put_be24(out + 1, (uint32_t)(lun & 0xffffff));
	}
}

void iscsi_bhs_init(struct iscsi_bhs *b, uint8_t opcode, uint8_t flags, uint32_t itt)
{
	memset(b, 0, sizeof(*b));
	b->raw[0] = opcode;
	b->raw[1] = flags;
	put_be32(b->raw + 16, itt);
}

void iscsi_bhs_set_dlen(struct iscsi_bhs *b, uint32_t dlen)
{
	put_be24(b->raw + 5, dlen & ISCSI_DSL_MAX);
}

uint32_t iscsi_bhs_dlen(const struct iscsi_bhs *b)
{
	return get_be24(b->raw + 5);
}
