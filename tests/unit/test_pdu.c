/* SPDX-License-Identifier: MIT */
/* Unit tests for target/iscsi/pdu.c (RFC 7143 11, SAM-5 4.7). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/byteorder.h"
#include "lib/crc32c.h"
#include "target/iscsi/pdu.h"

static const struct iscsi_pdu_limits lim_plain = {.max_data_len = 8192};

/* A BHS that is valid for op: fixed bits set, ITT 0x11223344. */
static void bhs_valid(uint8_t *b, uint8_t op)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[0] = op;
	switch (op) {
	case ISCSI_OP_NOP_OUT:
	case ISCSI_OP_TASK_MGMT_REQ:
	case ISCSI_OP_LOGOUT_REQ:
	case ISCSI_OP_SNACK_REQ:
		b[1] = ISCSI_FLAG_FINAL;
		break;
	case ISCSI_OP_LOGIN_REQ:
		b[0] |= ISCSI_FLAG_IMMEDIATE;
		break;
	default:
		break;
	}
	if (op == ISCSI_OP_TASK_MGMT_REQ)
		b[1] |= ISCSI_TMF_ABORT_TASK;
	put_be32(b + 16, 0x11223344);
}

static int parse(const uint8_t *b, const struct iscsi_pdu_limits *lim, struct iscsi_pdu_hdr *h)
{
	return iscsi_pdu_parse_bhs(b, ISCSI_BHS_LEN, lim, h);
}

static void test_every_opcode(void **state)
{
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_pdu_hdr h;

	for (unsigned op = 0; op <= ISCSI_OPCODE_MASK; op++) {
		bool valid = op <= ISCSI_OP_LOGOUT_REQ || op == ISCSI_OP_SNACK_REQ;

		bhs_valid(b, (uint8_t)op);
		if (op >= 0x20)
			b[1] = ISCSI_FLAG_FINAL; /* target opcodes are refused whatever the flags */
		if (valid) {
			assert_int_equal(parse(b, &lim_plain, &h), ISCSI_BHS_LEN);
			assert_int_equal(h.opcode, op);
			assert_int_equal(h.itt, 0x11223344);
			assert_int_equal(h.total_len, ISCSI_BHS_LEN);
		} else {
			assert_int_equal(parse(b, &lim_plain, &h), -EPROTO);
		}
		/* Byte 0 bit 7 is reserved: ignored (RFC 7143 11.2.1). */
		b[0] |= 0x80;
		assert_int_equal(parse(b, &lim_plain, &h), valid ? ISCSI_BHS_LEN : -EPROTO);
	}
}

static void test_short_buffer(void **state)
{
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_pdu_hdr h;

	bhs_valid(b, ISCSI_OP_SCSI_CMD);
	for (size_t len = 0; len < ISCSI_BHS_LEN; len++)
		assert_int_equal(iscsi_pdu_parse_bhs(b, len, &lim_plain, &h), -EAGAIN);
	b[0] = 0x3e; /* even an invalid opcode needs the whole BHS first */
	assert_int_equal(iscsi_pdu_parse_bhs(b, 47, &lim_plain, &h), -EAGAIN);
}

static void test_fields_decoded(void **state)
{
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_pdu_hdr h;

	bhs_valid(b, ISCSI_OP_SCSI_CMD);
	b[0] |= ISCSI_FLAG_IMMEDIATE;
	b[1] = ISCSI_FLAG_FINAL | ISCSI_CMD_F_READ | 1;
	put_be24(b + 5, 513);
	put_be64(b + 8, 0x0001000000000000ull);
	assert_int_equal(parse(b, &lim_plain, &h), ISCSI_BHS_LEN);
	assert_true(h.immediate);
	assert_int_equal(h.flags, 0xc1);
	assert_int_equal(h.data_len, 513);
	assert_int_equal(h.lun_raw, 0x0001000000000000ull);
	assert_int_equal(h.ahs_len, 0);
	assert_int_equal(h.total_len, 48 + 516);
}

/* AHS is defined for SCSI Command only (RFC 7143 11.2.2). */
static void test_ahs(void **state)
{
	static const uint8_t ops[] = {0x00, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10};
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_pdu_hdr h;

	for (unsigned words = 0; words <= 255; words++) {
		bhs_valid(b, ISCSI_OP_SCSI_CMD);
		b[4] = (uint8_t)words;
		assert_int_equal(parse(b, &lim_plain, &h), ISCSI_BHS_LEN);
		assert_int_equal(h.ahs_len, words * 4);
		assert_int_equal(h.total_len, 48 + words * 4);
	}
	for (unsigned i = 0; i < sizeof(ops); i++) {
		bhs_valid(b, ops[i]);
		b[4] = 1;
		assert_int_equal(parse(b, &lim_plain, &h), -EPROTO);
		b[4] = 255;
		assert_int_equal(parse(b, &lim_plain, &h), -EPROTO);
	}
}

static void test_data_segment_limits(void **state)
{
	static const uint8_t with_data[] = {0x00, 0x01, 0x03, 0x04, 0x05};
	static const uint8_t without[] = {0x02, 0x06, 0x10};
	static const uint32_t lens[] = {1, 2, 3, 4, 5, 511, 512, 8191, 8192, 8193, 65536, 0xffffff};
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_pdu_hdr h;

	for (unsigned i = 0; i < sizeof(with_data); i++) {
		for (unsigned j = 0; j < ARRAY_SIZE(lens); j++) {
			bhs_valid(b, with_data[i]);
			put_be24(b + 5, lens[j]);
			if (lens[j] <= 8192) {
				assert_int_equal(parse(b, &lim_plain, &h), ISCSI_BHS_LEN);
				assert_int_equal(h.total_len, 48 + ALIGN_UP(lens[j], 4u));
			} else {
				assert_int_equal(parse(b, &lim_plain, &h), -EMSGSIZE);
			}
		}
	}
	/* TMF, Logout and SNACK define no data segment. */
	for (unsigned i = 0; i < sizeof(without); i++) {
		bhs_valid(b, without[i]);
		put_be24(b + 5, 4);
		assert_int_equal(parse(b, &lim_plain, &h), -EPROTO);
	}
	/* The largest limit takes the largest field. */
	struct iscsi_pdu_limits big = {.max_data_len = 0xffffff};
	bhs_valid(b, ISCSI_OP_DATA_OUT);
	put_be24(b + 5, 0xffffff);
	assert_int_equal(parse(b, &big, &h), ISCSI_BHS_LEN);
	assert_int_equal(h.total_len, 48 + 0x1000000);
}

static void test_total_len_digests(void **state)
{
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_pdu_hdr h;

	for (unsigned hd = 0; hd < 2; hd++) {
		for (unsigned dd = 0; dd < 2; dd++) {
			struct iscsi_pdu_limits lim = {8192, hd, dd};

			for (uint32_t dlen = 0; dlen <= 9; dlen++) {
				uint32_t want = 48 + (hd ? 4 : 0) + ALIGN_UP(dlen, 4u) +
						(dd && dlen ? 4 : 0);

				bhs_valid(b, ISCSI_OP_SCSI_CMD);
				b[4] = 2;
				put_be24(b + 5, dlen);
				assert_int_equal(parse(b, &lim, &h), ISCSI_BHS_LEN);
				assert_int_equal(h.total_len, want + 8);
				assert_int_equal(iscsi_pdu_data_offset(&h, hd),
						 48 + 8 + (hd ? 4 : 0));
			}
		}
	}
}

/* Fixed bits and reserved code values (RFC 7143 11.2.1). */
static void test_fixed_bits_and_codes(void **state)
{
	static const uint8_t final_ops[] = {0x00, 0x02, 0x06, 0x10};
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_pdu_hdr h;

	for (unsigned i = 0; i < sizeof(final_ops); i++) {
		bhs_valid(b, final_ops[i]);
		b[1] &= (uint8_t)~ISCSI_FLAG_FINAL;
		assert_int_equal(parse(b, &lim_plain, &h), -EPROTO);
	}
	/* Task attributes 5..7 are reserved. */
	for (uint8_t attr = 0; attr < 8; attr++) {
		bhs_valid(b, ISCSI_OP_SCSI_CMD);
		b[1] = ISCSI_FLAG_FINAL | attr;
		assert_int_equal(parse(b, &lim_plain, &h), attr <= 4 ? ISCSI_BHS_LEN : -EPROTO);
	}
	/* Text: F and C together. */
	bhs_valid(b, ISCSI_OP_TEXT_REQ);
	b[1] = 0xc0;
	assert_int_equal(parse(b, &lim_plain, &h), -EPROTO);
	b[1] = 0x40;
	assert_int_equal(parse(b, &lim_plain, &h), ISCSI_BHS_LEN);
	b[1] = 0x80;
	assert_int_equal(parse(b, &lim_plain, &h), ISCSI_BHS_LEN);
	/* Logout reasons 0..2. */
	for (unsigned r = 0; r < 128; r++) {
		bhs_valid(b, ISCSI_OP_LOGOUT_REQ);
		b[1] = (uint8_t)(0x80 | r);
		assert_int_equal(parse(b, &lim_plain, &h), r <= 2 ? ISCSI_BHS_LEN : -EPROTO);
	}
	/* SNACK types 0..3. */
	for (unsigned t = 0; t < 16; t++) {
		bhs_valid(b, ISCSI_OP_SNACK_REQ);
		b[1] = (uint8_t)(0x80 | t);
		assert_int_equal(parse(b, &lim_plain, &h), t <= 3 ? ISCSI_BHS_LEN : -EPROTO);
	}
}

/* ITT 0xffffffff (RFC 7143 11.2.1.8, 11.18). */
static void test_reserved_itt(void **state)
{
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_pdu_hdr h;

	for (unsigned op = 0; op <= 0x10; op++) {
		bhs_valid(b, (uint8_t)op);
		if (parse(b, &lim_plain, &h) != ISCSI_BHS_LEN)
			continue;
		put_be32(b + 16, ISCSI_RSVD_TAG);
		if (op == ISCSI_OP_SNACK_REQ) {
			assert_int_equal(parse(b, &lim_plain, &h), ISCSI_BHS_LEN);
		} else if (op == ISCSI_OP_NOP_OUT) {
			/* Only as an immediate NOP-Out */
			assert_int_equal(parse(b, &lim_plain, &h), -EPROTO);
			b[0] |= ISCSI_FLAG_IMMEDIATE;
			assert_int_equal(parse(b, &lim_plain, &h), ISCSI_BHS_LEN);
		} else {
			assert_int_equal(parse(b, &lim_plain, &h), -EPROTO);
		}
	}
}

/* Builds a full PDU with digests at buf; returns its length. */
static uint32_t pdu_build(uint8_t *buf, uint8_t ahs_words, const uint8_t *data, uint32_t dlen,
			  const struct iscsi_pdu_limits *lim)
{
	uint32_t off = 48 + ahs_words * 4u, padded = ALIGN_UP(dlen, 4u);

	bhs_valid(buf, ISCSI_OP_SCSI_CMD);
	buf[4] = ahs_words;
	put_be24(buf + 5, dlen);
	for (uint32_t i = 48; i < off; i++)
		buf[i] = (uint8_t)(i * 7);
	if (lim->header_digest) {
		put_le32(buf + off, crc32c(0, buf, off));
		off += 4;
	}
	memset(buf + off, 0, padded);
	memcpy(buf + off, data, dlen);
	off += padded;
	if (lim->data_digest && dlen) {
		put_le32(buf + off, crc32c(0, buf + off - padded, padded));
		off += 4;
	}
	return off;
}

static void test_digests(void **state)
{
	uint8_t buf[512], data[64];
	struct iscsi_pdu_limits lim = {8192, true, true};
	struct iscsi_pdu_hdr h;
	uint32_t len;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i + 1);
	for (uint32_t dlen = 0; dlen <= 9; dlen++) {
		len = pdu_build(buf, 3, data, dlen, &lim);
		assert_int_equal(parse(buf, &lim, &h), ISCSI_BHS_LEN);
		assert_int_equal(h.total_len, len);
		assert_int_equal(iscsi_pdu_check_digests(buf, &h, &lim), 0);
		/* Every header byte and header digest byte is covered. */
		for (uint32_t i = 0; i < 48 + 12 + 4; i++) {
			buf[i] ^= 0x01;
			assert_int_equal(iscsi_pdu_check_digests(buf, &h, &lim), -EBADMSG);
			buf[i] ^= 0x01;
		}
		/* Every data byte, pad byte and data digest byte is covered. */
		for (uint32_t i = 48 + 12 + 4; i < len; i++) {
			buf[i] ^= 0x80;
			assert_int_equal(iscsi_pdu_check_digests(buf, &h, &lim), -EILSEQ);
			buf[i] ^= 0x80;
		}
	}
	/* Digests off: nothing is checked. */
	struct iscsi_pdu_limits off = {8192, false, false};
	len = pdu_build(buf, 0, data, 5, &off);
	assert_int_equal(parse(buf, &off, &h), ISCSI_BHS_LEN);
	buf[0] ^= 0x40;
	buf[len - 1] ^= 0xff;
	assert_int_equal(iscsi_pdu_check_digests(buf, &h, &off), 0);
}

/* RFC 3720 B.4: 32 zero bytes travel as digest bytes aa 36 91 8a. */
static void test_digest_wire_order(void **state)
{
	uint8_t buf[48 + 32 + 4];
	struct iscsi_pdu_limits lim = {8192, false, true};
	struct iscsi_pdu_hdr h;

	memset(buf, 0, sizeof(buf));
	bhs_valid(buf, ISCSI_OP_DATA_OUT);
	put_be24(buf + 5, 32);
	buf[80] = 0xaa;
	buf[81] = 0x36;
	buf[82] = 0x91;
	buf[83] = 0x8a;
	assert_int_equal(parse(buf, &lim, &h), ISCSI_BHS_LEN);
	assert_int_equal(h.total_len, sizeof(buf));
	assert_int_equal(iscsi_pdu_check_digests(buf, &h, &lim), 0);
	buf[80] = 0x8a;
	buf[83] = 0xaa;
	assert_int_equal(iscsi_pdu_check_digests(buf, &h, &lim), -EILSEQ);
}

static void test_lun_codec(void **state)
{
	static const struct {
		uint64_t lun;
		uint8_t wire[8];
	} t[] = {
		{0, {0, 0}},
		{1, {0x00, 0x01}},
		{255, {0x00, 0xff}},
		{256, {0x41, 0x00}},
		{4660, {0x52, 0x34}},
		{16383, {0x7f, 0xff}},
		{16384, {0xd2, 0x00, 0x40, 0x00}},
		{0xffffff, {0xd2, 0xff, 0xff, 0xff}},
	};
	uint8_t w[8];
	uint64_t v;

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		iscsi_lun_encode(t[i].lun, w);
		assert_memory_equal(w, t[i].wire, 8);
		assert_int_equal(iscsi_lun_decode(t[i].wire, &v), 0);
		assert_int_equal(v, t[i].lun);
	}
	for (uint64_t lun = 0; lun < 20000; lun += 7) {
		iscsi_lun_encode(lun, w);
		assert_int_equal(iscsi_lun_decode(w, &v), 0);
		assert_int_equal(v, lun);
	}
	/* Flat space may also name LUNs below 256 (Linux does not, others may). */
	static const uint8_t flat5[8] = {0x40, 0x05};
	assert_int_equal(iscsi_lun_decode(flat5, &v), 0);
	assert_int_equal(v, 5);
}

static void test_lun_unsupported(void **state)
{
	static const uint8_t bad[][8] = {
		{0x01, 0x00},			   /* peripheral, bus 1 */
		{0x3f, 0x05},			   /* peripheral, bus 63 */
		{0x80, 0x01},			   /* logical unit addressing */
		{0xc0, 0x00},			   /* extended, other format */
		{0xe2, 0x00, 0x00, 0x01},	   /* long extended flat space */
		{0x00, 0x01, 0x00, 0x01},	   /* second level */
		{0x40, 0x01, 0, 0, 0, 0, 0, 0x01}, /* trailing bytes */
		{0xd2, 0x00, 0x00, 0x01, 0x01},	   /* ext flat, trailing byte */
	};
	uint64_t v = 77;

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(iscsi_lun_decode(bad[i], &v), -EINVAL);
	assert_int_equal(v, 77);
}

static void test_builders(void **state)
{
	struct iscsi_bhs b;

	memset(&b, 0xee, sizeof(b));
	iscsi_bhs_init(&b, ISCSI_OP_NOP_IN, ISCSI_FLAG_FINAL, 0xa1b2c3d4);
	assert_int_equal(b.raw[0], 0x20);
	assert_int_equal(b.raw[1], 0x80);
	assert_int_equal(get_be32(b.raw + 16), 0xa1b2c3d4);
	for (unsigned i = 2; i < 48; i++)
		if (i < 16 || i > 19)
			assert_int_equal(b.raw[i], 0);
	iscsi_bhs_set_dlen(&b, 0x123456);
	assert_int_equal(b.raw[4], 0);
	assert_int_equal(b.raw[5], 0x12);
	assert_int_equal(b.raw[7], 0x56);
	assert_int_equal(iscsi_bhs_dlen(&b), 0x123456);
	iscsi_bhs_set_dlen(&b, 0);
	assert_int_equal(iscsi_bhs_dlen(&b), 0);
}

static void test_serial_arithmetic(void **state)
{
	assert_true(sna_lt(1, 2));
	assert_false(sna_lt(2, 2));
	assert_true(sna_le(2, 2));
	assert_true(sna_lt(0xffffffff, 0));
	assert_false(sna_lt(0, 0xffffffff));
	assert_true(sna_le(0x7ffffffe, 0xfffffffd));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_opcode),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_fields_decoded),
		cmocka_unit_test(test_ahs),
		cmocka_unit_test(test_data_segment_limits),
		cmocka_unit_test(test_total_len_digests),
		cmocka_unit_test(test_fixed_bits_and_codes),
		cmocka_unit_test(test_reserved_itt),
		cmocka_unit_test(test_digests),
		cmocka_unit_test(test_digest_wire_order),
		cmocka_unit_test(test_lun_codec),
		cmocka_unit_test(test_lun_unsupported),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_serial_arithmetic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
