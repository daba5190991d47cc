/* SPDX-License-Identifier: MIT */
/*
 * clusterd/msg.c: the CPG message codec. Exact bytes of the header and of
 * each body, round trips of every field, and every way a message is refused:
 * truncated or padded buffers, any flipped byte, unknown versions (refused
 * with the header still reported), unknown types, wrong body sizes, fields
 * out of range; encoder errors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "clusterd/msg.h"
#include "lib/byteorder.h"
#include "lib/crc32c.h"

static const uint16_t all_types[] = {
	CL_MSG_HELLO,  CL_MSG_STATE,	     CL_MSG_QUORUM,
	CL_MSG_MOVE,   CL_MSG_MOVE_COMMIT,   CL_MSG_STANDBY,
	CL_MSG_ONLINE, CL_MSG_FENCE_REQUEST, CL_MSG_FENCE_RESULT,
};
#define NTYPES (sizeof(all_types) / sizeof(all_types[0]))

static void sample_state(struct cl_msg_state *st)
{
	st->flags = CL_STATE_STATEFUL | CL_STATE_QUORATE;
	st->config_digest = 0xdeadbeef;
	st->epoch = 0x2122232425262728ull;
	st->nmembers = 2;
	st->members[0] = 7;
	st->members[1] = 9;
	st->nnodes = CL_WIRE_NODES;
	for (unsigned i = 0; i < CL_WIRE_NODES; i++) {
		st->nodes[i].id = 100 + i;
		st->nodes[i].state = (uint8_t)(i + 1);
		st->nodes[i].flags = (uint8_t)(i & 3);
		st->nodes[i].fencer = 200 + i;
		st->nodes[i].fence_attempts = 300 + i;
	}
	st->nluns = CL_WIRE_LUNS;
	for (unsigned i = 0; i < CL_WIRE_LUNS; i++)
		st->ao[i] = 1000 + i;
}

static void sample_fence(struct cl_msg *m)
{
	if (m->type == CL_MSG_FENCE_REQUEST) {
		m->fence_req.cookie = 0x55;
		m->fence_req.target = 2;
		m->fence_req.fencer = 1;
		m->fence_req.attempt = 4;
		m->fence_req.reason = CL_FENCE_ADMIN;
		return;
	}
	m->fence_res.target = 2;
	m->fence_res.fencer = 1;
	m->fence_res.attempt = 3;
	m->fence_res.result = CL_FENCE_TIMEOUT;
	m->fence_res.t_start_ms = 0x0102030405060708ull;
	m->fence_res.t_end_ms = 0x1112131415161718ull;
	strcpy(m->fence_res.agent, "fence_netns");
}

/*
 * A message of each type with every field set to a distinct value. Fields are
 * assigned one by one on a zeroed struct so padding stays zero for memcmp.
 */
static void sample(struct cl_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->sender = 0x01020304;
	m->change_seq = 0x1112131415161718ull;
	switch (type) {
	case CL_MSG_HELLO:
		m->hello.proto_min = 1;
		m->hello.proto_max = 0x0203;
		m->hello.flags = CL_HELLO_STATEFUL;
		break;
	case CL_MSG_STATE:
		sample_state(&m->state);
		break;
	case CL_MSG_QUORUM:
		m->quorum.quorate = true;
		break;
	case CL_MSG_MOVE:
		m->move.cookie = 0xc0c0;
		m->move.lun = 5;
		m->move.node = 2;
		break;
	case CL_MSG_MOVE_COMMIT:
		m->commit.lun = 6;
		m->commit.from = 1;
		m->commit.to = 2;
		break;
	case CL_MSG_STANDBY:
	case CL_MSG_ONLINE:
		m->node.cookie = 0xabcd;
		m->node.node = 3;
		break;
	default:
		sample_fence(m);
	}
}

static int encode(const struct cl_msg *m, uint8_t *buf)
{
	int len = cl_msg_encode(m, buf, CL_MSG_MAX);

	assert_true(len > 0);
	return len;
}

static void test_msg_sizes(void **state)
{
	assert_int_equal(cl_msg_size(CL_MSG_HELLO), 48);
	assert_int_equal(cl_msg_size(CL_MSG_STATE), 392);
	assert_int_equal(cl_msg_size(CL_MSG_QUORUM), 40);
	assert_int_equal(cl_msg_size(CL_MSG_MOVE), 48);
	assert_int_equal(cl_msg_size(CL_MSG_MOVE_COMMIT), 48);
	assert_int_equal(cl_msg_size(CL_MSG_STANDBY), 48);
	assert_int_equal(cl_msg_size(CL_MSG_ONLINE), 48);
	assert_int_equal(cl_msg_size(CL_MSG_FENCE_REQUEST), 56);
	assert_int_equal(cl_msg_size(CL_MSG_FENCE_RESULT), 96);
	assert_int_equal(cl_msg_size(0), 0);
	assert_int_equal(cl_msg_size(CL_MSG_TYPE_END), 0);
	for (unsigned i = 0; i < NTYPES; i++)
		assert_true(cl_msg_size(all_types[i]) <= CL_MSG_MAX);
	assert_string_equal(cl_msg_type_name(CL_MSG_FENCE_RESULT), "FENCE_RESULT");
	assert_string_equal(cl_msg_type_name(CL_MSG_HELLO), "HELLO");
	assert_string_equal(cl_msg_type_name(0), "?");
	assert_string_equal(cl_msg_type_name(99), "?");
}

/* The header, byte by byte, on a MOVE. */
static void test_msg_header_bytes(void **state)
{
	static const uint8_t want[48] = {
		0x43, 0x4c, 0x53, 0x44,				/* magic "CLSD" */
		0x00, 0x01,					/* version 1 */
		0x00, 0x04,					/* type MOVE */
		0x01, 0x02, 0x03, 0x04,				/* sender */
		0x00, 0x00, 0x00, 0x00,				/* reserved */
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* change_seq */
		0x00, 0x00, 0x00, 0x30,				/* len 48 */
		0x00, 0x00, 0x00, 0x00,				/* crc, checked below */
		0x00, 0x00, 0xc0, 0xc0,				/* cookie */
		0x00, 0x00, 0x00, 0x05,				/* lun */
		0x00, 0x00, 0x00, 0x02,				/* node */
		0x00, 0x00, 0x00, 0x00,				/* reserved */
	};
	uint8_t buf[CL_MSG_MAX], zeroed[48];
	struct cl_msg m;

	sample(&m, CL_MSG_MOVE);
	m.version = 77; /* ignored: the encoder writes its own version */
	assert_int_equal(cl_msg_encode(&m, buf, sizeof(buf)), 48);
	assert_memory_equal(buf, want, 28);
	assert_memory_equal(buf + 32, want + 32, 16);
	memcpy(zeroed, buf, 48);
	memset(zeroed + 28, 0, 4);
	assert_int_equal(get_be32(buf + 28), crc32c(0, zeroed, 48));
}

static void test_msg_state_bytes(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m;

	sample(&m, CL_MSG_STATE);
	assert_int_equal(encode(&m, buf), 392);
	assert_int_equal(get_be32(buf + 32), CL_STATE_STATEFUL | CL_STATE_QUORATE);
	assert_int_equal(get_be32(buf + 36), 0xdeadbeef);
	assert_true(get_be64(buf + 40) == 0x2122232425262728ull);
	assert_int_equal(get_be16(buf + 48), 2);   /* nmembers */
	assert_int_equal(get_be16(buf + 50), 4);   /* nnodes */
	assert_int_equal(get_be16(buf + 52), 64);  /* nluns */
	assert_int_equal(get_be32(buf + 56), 7);   /* members[0] */
	assert_int_equal(get_be32(buf + 60), 9);   /* members[1] */
	assert_int_equal(get_be32(buf + 64), 0);   /* unused member slots are zero */
	assert_int_equal(get_be32(buf + 72), 100); /* nodes[0].id */
	assert_int_equal(buf[76], 1);		   /* nodes[0].state */
	assert_int_equal(buf[77], 0);		   /* nodes[0].flags */
	assert_int_equal(get_be32(buf + 80), 200); /* nodes[0].fencer */
	assert_int_equal(get_be32(buf + 84), 300); /* nodes[0].fence_attempts */
	assert_int_equal(get_be32(buf + 72 + 3 * 16), 103);
	assert_int_equal(buf[72 + 3 * 16 + 5], 3);
	assert_int_equal(get_be32(buf + 136), 1000); /* ao[0] */
	assert_int_equal(get_be32(buf + 136 + 63 * 4), 1063);
}

static void test_msg_fence_result_bytes(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m;

	sample(&m, CL_MSG_FENCE_RESULT);
	assert_int_equal(encode(&m, buf), 96);
	assert_int_equal(get_be32(buf + 32), 2);
	assert_int_equal(get_be32(buf + 36), 1);
	assert_int_equal(get_be32(buf + 40), 3);
	assert_int_equal(buf[44], CL_FENCE_TIMEOUT);
	assert_true(get_be64(buf + 48) == 0x0102030405060708ull);
	assert_true(get_be64(buf + 56) == 0x1112131415161718ull);
	assert_string_equal((char *)buf + 64, "fence_netns");
	for (unsigned i = 64 + 11; i < 96; i++)
		assert_int_equal(buf[i], 0); /* zero padded */
}

static void test_msg_roundtrip_all(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	for (unsigned i = 0; i < NTYPES; i++) {
		int len;

		sample(&m, all_types[i]);
		len = encode(&m, buf);
		assert_int_equal(len, cl_msg_size(all_types[i]));
		assert_int_equal(cl_msg_decode(buf, (size_t)len, &d), 0);
		assert_int_equal(d.version, CL_PROTO_VERSION);
		assert_int_equal(d.type, all_types[i]);
		assert_int_equal(d.sender, m.sender);
		assert_true(d.change_seq == m.change_seq);
		m.version = CL_PROTO_VERSION;
		/* sample() zeroed the whole struct, and decode zeroes what it does not fill */
		assert_memory_equal(&d, &m, sizeof(d));
	}
}

static void test_msg_state_partial_counts(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	sample(&m, CL_MSG_STATE);
	m.state.nnodes = 2;
	m.state.nluns = 3;
	memset(&m.state.nodes[2], 0, sizeof(m.state.nodes[0]) * 2);
	memset(&m.state.ao[3], 0, sizeof(m.state.ao[0]) * (CL_WIRE_LUNS - 3));
	encode(&m, buf);
	assert_int_equal(get_be32(buf + 72 + 2 * 16), 0); /* slots past nnodes: zero */
	assert_int_equal(get_be32(buf + 136 + 3 * 4), 0);
	assert_int_equal(cl_msg_decode(buf, 392, &d), 0);
	assert_int_equal(d.state.nnodes, 2);
	assert_int_equal(d.state.nluns, 3);
	assert_int_equal(d.state.ao[2], 1002);
	assert_int_equal(d.state.ao[3], 0);
	assert_int_equal(d.state.nodes[1].fence_attempts, 301);
}

static void test_msg_truncated(void **state)
{
	uint8_t buf[CL_MSG_MAX + 1];
	struct cl_msg m, d;

	for (unsigned i = 0; i < NTYPES; i++) {
		size_t len;

		sample(&m, all_types[i]);
		len = (size_t)encode(&m, buf);
		for (size_t n = 0; n < len; n++)
			assert_int_equal(cl_msg_decode(buf, n, &d), -EMSGSIZE);
		buf[len] = 0;
		assert_int_equal(cl_msg_decode(buf, len + 1, &d), -EMSGSIZE); /* trailing byte */
	}
}

/* Any single damaged byte is refused (the crc covers everything, length aside). */
static void test_msg_any_flipped_byte(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	for (unsigned i = 0; i < NTYPES; i++) {
		size_t len;

		sample(&m, all_types[i]);
		len = (size_t)encode(&m, buf);
		for (size_t k = 0; k < len; k++) {
			int want = (k >= 24 && k < 28) ? -EMSGSIZE : -EBADMSG;
			buf[k] ^= 0x20;
			assert_int_equal(cl_msg_decode(buf, len, &d), want);
			buf[k] ^= 0x20;
		}
		assert_int_equal(cl_msg_decode(buf, len, &d), 0);
	}
}

static void patch_version(uint8_t *buf, size_t len, uint16_t v)
{
	put_be16(buf + 4, v);
	cl_msg_seal(buf, len);
}

/* An unknown version is refused cleanly: nothing parsed, the header still reported. */
static void test_msg_unknown_version(void **state)
{
	static const uint16_t versions[] = {0, 2, 7, 0xffff};
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	for (unsigned i = 0; i < NTYPES; i++) {
		for (unsigned v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
			size_t len;

			sample(&m, all_types[i]);
			len = (size_t)encode(&m, buf);
			patch_version(buf, len, versions[v]);
			memset(&d, 0xaa, sizeof(d));
			assert_int_equal(cl_msg_decode(buf, len, &d), -EPROTONOSUPPORT);
			assert_int_equal(d.version, versions[v]);
			assert_int_equal(d.type, all_types[i]);
			assert_int_equal(d.sender, 0x01020304);
			assert_true(d.change_seq == 0x1112131415161718ull);
			assert_int_equal(d.state.nnodes, 0); /* body untouched: zeroed */
		}
	}
	/* a future version may be longer: refused for the version, not the length */
	memset(buf, 0, sizeof(buf));
	sample(&m, CL_MSG_MOVE);
	encode(&m, buf);
	put_be32(buf + 24, 60);
	patch_version(buf, 60, 2);
	assert_int_equal(cl_msg_decode(buf, 60, &d), -EPROTONOSUPPORT);
}

static void test_msg_unknown_type(void **state)
{
	static const uint16_t types[] = {0, CL_MSG_TYPE_END, 99, 0xffff};
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	for (unsigned t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		sample(&m, CL_MSG_MOVE);
		encode(&m, buf);
		put_be16(buf + 6, types[t]);
		cl_msg_seal(buf, 48);
		assert_int_equal(cl_msg_decode(buf, 48, &d), -ENOMSG);
		assert_int_equal(d.type, types[t]);
		assert_int_equal(d.version, 1);
		assert_int_equal(d.sender, 0x01020304);
	}
}

/* A known type with another type's body size: refused. */
static void test_msg_wrong_body_size(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	sample(&m, CL_MSG_MOVE);
	encode(&m, buf);
	put_be16(buf + 6, CL_MSG_STATE);
	cl_msg_seal(buf, 48);
	assert_int_equal(cl_msg_decode(buf, 48, &d), -EBADMSG);
	put_be16(buf + 6, CL_MSG_QUORUM);
	cl_msg_seal(buf, 48);
	assert_int_equal(cl_msg_decode(buf, 48, &d), -EBADMSG);
}

static void test_msg_bad_magic(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	sample(&m, CL_MSG_QUORUM);
	encode(&m, buf);
	buf[0] = 'X';
	cl_msg_seal(buf, 40);
	assert_int_equal(cl_msg_decode(buf, 40, &d), -EBADMSG);
}

/* Patches a body byte, reseals, and expects decode to give want. */
static void expect_patched(uint16_t type, size_t off, uint8_t val, int want)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;
	size_t len;

	sample(&m, type);
	len = (size_t)encode(&m, buf);
	buf[off] = val;
	cl_msg_seal(buf, len);
	assert_int_equal(cl_msg_decode(buf, len, &d), want);
}

static void test_msg_fields_out_of_range(void **state)
{
	expect_patched(CL_MSG_STATE, 49, 5, -EBADMSG);			/* nmembers 5 */
	expect_patched(CL_MSG_STATE, 49, 4, 0);				/* nmembers 4 */
	expect_patched(CL_MSG_STATE, 51, 5, -EBADMSG);			/* nnodes 5 */
	expect_patched(CL_MSG_STATE, 53, 65, -EBADMSG);			/* nluns 65 */
	expect_patched(CL_MSG_STATE, 52, 1, -EBADMSG);			/* nluns 320 */
	expect_patched(CL_MSG_STATE, 76, CL_NODE_FENCED + 1, -EBADMSG); /* node state */
	expect_patched(CL_MSG_STATE, 76, CL_NODE_FENCED, 0);
	expect_patched(CL_MSG_QUORUM, 32, 2, -EBADMSG);
	expect_patched(CL_MSG_QUORUM, 32, 0, 0);
	expect_patched(CL_MSG_FENCE_REQUEST, 48, 0, -EBADMSG); /* reason */
	expect_patched(CL_MSG_FENCE_REQUEST, 48, CL_FENCE_ADMIN + 1, -EBADMSG);
	expect_patched(CL_MSG_FENCE_REQUEST, 48, CL_FENCE_LOST, 0);
	expect_patched(CL_MSG_FENCE_RESULT, 44, CL_FENCE_ERROR + 1, -EBADMSG);
	expect_patched(CL_MSG_FENCE_RESULT, 44, CL_FENCE_ERROR, 0);
	expect_patched(CL_MSG_HELLO, 33, 0, 0);	       /* min 0: the codec does not judge ranges */
	expect_patched(CL_MSG_HELLO, 32, 3, -EBADMSG); /* min 0x301 > max 0x203 */
}

static void test_msg_agent_unterminated(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	sample(&m, CL_MSG_FENCE_RESULT);
	encode(&m, buf);
	memset(buf + 64, 'a', 32);
	cl_msg_seal(buf, 96);
	assert_int_equal(cl_msg_decode(buf, 96, &d), -EBADMSG);
	buf[95] = 0; /* 31 characters and a NUL: fine */
	cl_msg_seal(buf, 96);
	assert_int_equal(cl_msg_decode(buf, 96, &d), 0);
	assert_int_equal(strlen(d.fence_res.agent), 31);
}

/* Reserved bytes are written as zero and ignored when read (same version). */
static void test_msg_reserved_ignored(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m, d;

	sample(&m, CL_MSG_MOVE);
	encode(&m, buf);
	buf[12] = 0xff; /* header reserved */
	buf[47] = 0xff; /* body reserved */
	cl_msg_seal(buf, 48);
	assert_int_equal(cl_msg_decode(buf, 48, &d), 0);
	assert_int_equal(d.move.node, 2);
}

static void test_msg_encode_errors(void **state)
{
	uint8_t buf[CL_MSG_MAX];
	struct cl_msg m;

	sample(&m, CL_MSG_MOVE);
	assert_int_equal(cl_msg_encode(&m, buf, 47), -EMSGSIZE);
	assert_int_equal(cl_msg_encode(&m, buf, 48), 48);
	m.type = 0;
	assert_int_equal(cl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = CL_MSG_TYPE_END;
	assert_int_equal(cl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CL_MSG_STATE);
	m.state.nmembers = CL_WIRE_NODES + 1;
	assert_int_equal(cl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CL_MSG_STATE);
	m.state.nnodes = CL_WIRE_NODES + 1;
	assert_int_equal(cl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CL_MSG_STATE);
	m.state.nluns = CL_WIRE_LUNS + 1;
	assert_int_equal(cl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CL_MSG_FENCE_RESULT);
	memset(m.fence_res.agent, 'x', CL_AGENT_MAX);
	assert_int_equal(cl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_msg_seal_short(void **state)
{
	uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	cl_msg_seal(buf, sizeof(buf)); /* shorter than a header: left alone */
	assert_int_equal(buf[7], 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_sizes),
		cmocka_unit_test(test_msg_header_bytes),
		cmocka_unit_test(test_msg_state_bytes),
		cmocka_unit_test(test_msg_fence_result_bytes),
		cmocka_unit_test(test_msg_roundtrip_all),
		cmocka_unit_test(test_msg_state_partial_counts),
		cmocka_unit_test(test_msg_truncated),
		cmocka_unit_test(test_msg_any_flipped_byte),
		cmocka_unit_test(test_msg_unknown_version),
		cmocka_unit_test(test_msg_unknown_type),
		cmocka_unit_test(test_msg_wrong_body_size),
		cmocka_unit_test(test_msg_bad_magic),
		cmocka_unit_test(test_msg_fields_out_of_range),
		cmocka_unit_test(test_msg_agent_unterminated),
		cmocka_unit_test(test_msg_reserved_ignored),
		cmocka_unit_test(test_msg_encode_errors),
		cmocka_unit_test(test_msg_seal_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
