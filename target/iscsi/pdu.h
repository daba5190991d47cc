/* SPDX-License-Identifier: MIT */
/*
 * iSCSI PDU wire format (RFC 7143 11) and the sans-I/O codec.
 *
 * A PDU is: 48-byte Basic Header Segment, optional AHS (TotalAHSLength * 4
 * bytes), optional header digest (4), data segment padded to 4 bytes,
 * optional data digest (4). All multi-byte fields are big-endian and are
 * accessed with get_be*()/put_be*() on the raw BHS bytes.
 */
#ifndef TARGET_ISCSI_PDU_H
#define TARGET_ISCSI_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/compiler.h"

#define ISCSI_BHS_LEN	 48
#define ISCSI_DIGEST_LEN 4

/* Opcodes (RFC 7143 11.2.1.2). Initiator -> target. */
#define ISCSI_OP_NOP_OUT       0x00
#define ISCSI_OP_SCSI_CMD      0x01
#define ISCSI_OP_TASK_MGMT_REQ 0x02
#define ISCSI_OP_LOGIN_REQ     0x03
#define ISCSI_OP_TEXT_REQ      0x04
#define ISCSI_OP_DATA_OUT      0x05
#define ISCSI_OP_LOGOUT_REQ    0x06
#define ISCSI_OP_SNACK_REQ     0x10
/* Target -> initiator. */
#define ISCSI_OP_NOP_IN	       0x20
#define ISCSI_OP_SCSI_RSP      0x21
#define ISCSI_OP_TASK_MGMT_RSP 0x22
#define ISCSI_OP_LOGIN_RSP     0x23
#define ISCSI_OP_TEXT_RSP      0x24
#define ISCSI_OP_DATA_IN       0x25
#define ISCSI_OP_LOGOUT_RSP    0x26
#define ISCSI_OP_R2T	       0x31
#define ISCSI_OP_ASYNC_MSG     0x32
#define ISCSI_OP_REJECT	       0x3f

#define ISCSI_OPCODE_MASK    0x3f
#define ISCSI_FLAG_IMMEDIATE 0x40 /* byte 0 */
#define ISCSI_FLAG_FINAL     0x80 /* byte 1 */

/* SCSI Command byte 1 flags (11.3). */
#define ISCSI_CMD_F_READ    0x40
#define ISCSI_CMD_F_WRITE   0x20
#define ISCSI_CMD_ATTR_MASK 0x07

/* SCSI Response / Data-In flags. */
#define ISCSI_FLAG_RSP_BIDI_OVERFLOW  0x10
#define ISCSI_FLAG_RSP_BIDI_UNDERFLOW 0x08
#define ISCSI_FLAG_RSP_OVERFLOW	      0x04
#define ISCSI_FLAG_RSP_UNDERFLOW      0x02
#define ISCSI_FLAG_DATA_ACK	      0x40
#define ISCSI_FLAG_DATA_STATUS	      0x01

/* Login (11.12). */
#define ISCSI_LOGIN_F_TRANSIT	 0x80
#define ISCSI_LOGIN_F_CONTINUE	 0x40
#define ISCSI_LOGIN_CSG(b1)	 (((b1) >> 2) & 3)
#define ISCSI_LOGIN_NSG(b1)	 ((b1)&3)
#define ISCSI_STAGE_SECURITY	 0
#define ISCSI_STAGE_OPERATIONAL	 1
#define ISCSI_STAGE_FULL_FEATURE 3

/* Login status class/detail (11.13.5). */
#define ISCSI_LOGIN_STATUS_SUCCESS	   0x0000
#define ISCSI_LOGIN_STATUS_TGT_MOVED_TEMP  0x0101
#define ISCSI_LOGIN_STATUS_INIT_ERR	   0x0200
#define ISCSI_LOGIN_STATUS_AUTH_FAILED	   0x0201
#define ISCSI_LOGIN_STATUS_TGT_FORBIDDEN   0x0202
#define ISCSI_LOGIN_STATUS_TGT_NOT_FOUND   0x0203
#define ISCSI_LOGIN_STATUS_TGT_REMOVED	   0x0204
#define ISCSI_LOGIN_STATUS_NO_VERSION	   0x0205
#define ISCSI_LOGIN_STATUS_TOO_MANY_CONNS  0x0206
#define ISCSI_LOGIN_STATUS_MISSING_FIELDS  0x0207
#define ISCSI_LOGIN_STATUS_CANT_INCLUDE	   0x0208
#define ISCSI_LOGIN_STATUS_NO_SESSION_TYPE 0x0209
#define ISCSI_LOGIN_STATUS_NO_SESSION	   0x020a
#define ISCSI_LOGIN_STATUS_INVALID_REQUEST 0x020b
#define ISCSI_LOGIN_STATUS_TARGET_ERROR	   0x0300
#define ISCSI_LOGIN_STATUS_SVC_UNAVAILABLE 0x0301
#define ISCSI_LOGIN_STATUS_NO_RESOURCES	   0x0302

/* Reject reasons (11.17.1). */
#define ISCSI_REJECT_DATA_DIGEST       0x02
#define ISCSI_REJECT_SNACK	       0x03
#define ISCSI_REJECT_PROTOCOL_ERROR    0x04
#define ISCSI_REJECT_CMD_NOT_SUPPORTED 0x05
#define ISCSI_REJECT_IMM_CMD_REJECT    0x06
#define ISCSI_REJECT_TASK_IN_PROGRESS  0x07
#define ISCSI_REJECT_INVALID_DATA_ACK  0x08
#define ISCSI_REJECT_INVALID_PDU_FIELD 0x09
#define ISCSI_REJECT_OUT_OF_RESOURCES  0x0a
#define ISCSI_REJECT_NEGOTIATION_RESET 0x0b
#define ISCSI_REJECT_WAITING_LOGOUT    0x0c

/* Task management functions (11.5.1) and responses (11.6.1). */
#define ISCSI_TMF_ABORT_TASK	     1
#define ISCSI_TMF_ABORT_TASK_SET     2
#define ISCSI_TMF_CLEAR_ACA	     3
#define ISCSI_TMF_CLEAR_TASK_SET     4
#define ISCSI_TMF_LOGICAL_UNIT_RESET 5
#define ISCSI_TMF_TARGET_WARM_RESET  6
#define ISCSI_TMF_TARGET_COLD_RESET  7
#define ISCSI_TMF_TASK_REASSIGN	     8
#define ISCSI_TMF_RSP_COMPLETE	     0
#define ISCSI_TMF_RSP_NO_TASK	     1
#define ISCSI_TMF_RSP_NO_LUN	     2
#define ISCSI_TMF_RSP_TASK_ALLEGIANT 3
#define ISCSI_TMF_RSP_NO_FAILOVER    4
#define ISCSI_TMF_RSP_NOT_SUPPORTED  5
#define ISCSI_TMF_RSP_AUTH_FAILED    6
#define ISCSI_TMF_RSP_REJECTED	     255

/* Logout reasons (11.14.1) and responses (11.15.1). */
#define ISCSI_LOGOUT_CLOSE_SESSION	      0
#define ISCSI_LOGOUT_CLOSE_CONNECTION	      1
#define ISCSI_LOGOUT_REMOVE_FOR_RECOVERY      2
#define ISCSI_LOGOUT_RSP_OK		      0
#define ISCSI_LOGOUT_RSP_CID_NOT_FOUND	      1
#define ISCSI_LOGOUT_RSP_RECOVERY_UNSUPPORTED 2
#define ISCSI_LOGOUT_RSP_CLEANUP_FAILED	      3

#define ISCSI_RSVD_TAG 0xffffffffu

/*
 * The decoded fixed part of any BHS; opcode-specific fields stay in raw[].
 * Offsets (RFC 7143 11.2.1): byte 0 I|opcode, 1 flags, 4 TotalAHSLength,
 * 5..7 DataSegmentLength, 8..15 LUN, 16..19 ITT, 20..47 opcode specific.
 */
struct iscsi_bhs {
	uint8_t raw[ISCSI_BHS_LEN];
};
_Static_assert(sizeof(struct iscsi_bhs) == ISCSI_BHS_LEN, "BHS is 48 bytes");

struct iscsi_pdu_hdr {
	uint8_t opcode;
	bool immediate;
	uint8_t flags;	   /* byte 1 */
	uint32_t ahs_len;  /* bytes */
	uint32_t data_len; /* DataSegmentLength, unpadded */
	uint64_t lun_raw;  /* bytes 8..15 as a big-endian number */
	uint32_t itt;
	/* Bytes a complete PDU occupies given the digest settings. */
	uint32_t total_len;
};

/* Limits a parser enforces (negotiated values of the connection). */
struct iscsi_pdu_limits {
	uint32_t max_data_len; /* our MaxRecvDataSegmentLength (or 8192 during login) */
	bool header_digest;
	bool data_digest;
};

/*
 * Parses and validates the BHS at buf (len >= 48 needed, else -EAGAIN).
 * Returns 48 on success with *hdr filled, -EAGAIN, or a negative error:
 *   -EPROTO    reserved/invalid opcode or field for the opcode
 *   -EMSGSIZE  DataSegmentLength above limits->max_data_len
 * Does not check digests (see iscsi_pdu_check_digests()).
 */
int iscsi_pdu_parse_bhs(const uint8_t *buf, size_t len, const struct iscsi_pdu_limits *lim,
			struct iscsi_pdu_hdr *hdr);

/*
 * Given a complete PDU (hdr->total_len bytes at buf), verifies header and data
 * digests when enabled: 0, -EBADMSG (header digest) or -EILSEQ (data digest).
 */
int iscsi_pdu_check_digests(const uint8_t *buf, const struct iscsi_pdu_hdr *hdr,
			    const struct iscsi_pdu_limits *lim);

/* Offset of the data segment within a PDU (BHS + AHS + header digest). */
static inline uint32_t iscsi_pdu_data_offset(const struct iscsi_pdu_hdr *h, bool header_digest)
{
	return ISCSI_BHS_LEN + h->ahs_len + (header_digest ? ISCSI_DIGEST_LEN : 0);
}

/* LUN field (SAM-5 4.7) <-> flat LUN number; returns -EINVAL for unsupported formats. */
int iscsi_lun_decode(const uint8_t lun[8], uint64_t *out);
void iscsi_lun_encode(uint64_t lun, uint8_t out[8]);

/* Serial number arithmetic (RFC 1982, 32 bits) for CmdSN/StatSN. */
static inline bool sna_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}
static inline bool sna_le(uint32_t a, uint32_t b)
{
	return a == b || (int32_t)(a - b) < 0;
}

/* Builders: fill a zeroed BHS for target-to-initiator PDUs (fields the caller
 * does not name stay zero). DataSegmentLength set by iscsi_bhs_set_dlen(). */
void iscsi_bhs_init(struct iscsi_bhs *b, uint8_t opcode, uint8_t flags, uint32_t itt);
void iscsi_bhs_set_dlen(struct iscsi_bhs *b, uint32_t dlen);
uint32_t iscsi_bhs_dlen(const struct iscsi_bhs *b);

#endif
