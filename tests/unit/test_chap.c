/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for target/iscsi/chap.c: the binary-value codec (RFC 7143 5.1)
 * and the CHAP digest (RFC 1994). The exchange itself is exercised through
 * whole logins in test_login.c. Expected digests were computed with Python's
 * hashlib, independently of lib/md5.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/compiler.h"
#include "target/iscsi/chap.h"

static void test_decode_good(void **state)
{
	static const struct {
		const char *s;
		int len;
		uint8_t bytes[4];
	} t[] = {
		{"0x00ff", 2, {0x00, 0xff}},
		{"0XaB", 1, {0xab}},
		{"0x0", 1, {0x00}},
		{"0x123", 2, {0x01, 0x23}}, /* odd: leading zero nibble */
		{"0xDEADBEEF", 4, {0xde, 0xad, 0xbe, 0xef}},
		{"0bAAEC", 3, {0x00, 0x01, 0x02}},
		{"0BAAE=", 2, {0x00, 0x01}},
		{"0bAA==", 1, {0x00}},
		{"0bAAE", 2, {0x00, 0x01}}, /* padding is optional */
		{"0b/+8=", 2, {0xff, 0xef}},
	};
	uint8_t out[8];

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		memset(out, 0x55, sizeof(out));
		assert_int_equal(iscsi_chap_decode(t[i].s, out, sizeof(out)), t[i].len);
		assert_memory_equal(out, t[i].bytes, (size_t)t[i].len);
	}
}

static void test_decode_bad(void **state)
{
	static const char *const bad[] = {
		"",	  "0",	     "0x",     "0b",	 "x00",	    "1x00",    "0y00",
		"00",	  "0xg0",    "0x0 ",   "0x-1",	 "0bA",	    "0bAA=A",  "0bA===",
		"0b====", "0bAAAAA", "0bA*==", "0b AA=", "0bAAAA=", "0bAAA==", "0xAB\x01",
	};
	uint8_t out[8];

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		if (iscsi_chap_decode(bad[i], out, sizeof(out)) != -EINVAL)
			fail_msg("\"%s\" not refused", bad[i]);
}

static void test_decode_capacity(void **state)
{
	uint8_t out[16];

	assert_int_equal(iscsi_chap_decode("0x00112233445566778899aabbccddeeff", out, 16), 16);
	assert_int_equal(iscsi_chap_decode("0x00112233445566778899aabbccddeeff00", out, 16),
			 -E2BIG);
	assert_int_equal(iscsi_chap_decode("0x1", out, 0), -E2BIG);
	assert_int_equal(iscsi_chap_decode("0bAAECAwQFBgcICQoLDA0ODw==", out, 16), 16);
	assert_int_equal(iscsi_chap_decode("0bAAECAwQFBgcICQoLDA0ODxA=", out, 16), -E2BIG);
}

static void test_encode(void **state)
{
	static const uint8_t in[3] = {0x0a, 0xb0, 0xff};
	char out[9];

	assert_int_equal(iscsi_chap_encode(in, 3, out, sizeof(out)), 8);
	assert_string_equal(out, "0x0ab0ff");
	assert_int_equal(iscsi_chap_encode(in, 3, out, 8), -ENOSPC);
	assert_int_equal(iscsi_chap_encode(in, 0, out, 3), 2);
	assert_string_equal(out, "0x");
	/* Round trip. */
	uint8_t back[3];
	assert_int_equal(iscsi_chap_encode(in, 3, out, sizeof(out)), 8);
	assert_int_equal(iscsi_chap_decode(out, back, sizeof(back)), 3);
	assert_memory_equal(back, in, 3);
}

static void hex16(const char *hex, uint8_t out[16])
{
	assert_int_equal(iscsi_chap_decode(hex, out, 16), 16);
}

static void test_digest(void **state)
{
	uint8_t chal[16], got[16], want[16];
	static uint8_t big[1024];

	for (unsigned i = 0; i < 16; i++)
		chal[i] = (uint8_t)(0x10 + i);
	iscsi_chap_digest(0x10, "secret123456", chal, 16, got);
	hex16("0x1df9e507168728f8f0a35c8430b0a1c5", want);
	assert_memory_equal(got, want, 16);

	for (unsigned i = 0; i < 16; i++)
		chal[i] = (uint8_t)(0x40 + i);
	iscsi_chap_digest(33, "tsecret654321", chal, 16, got);
	hex16("0x956e4f752f88a36a7fd13195b936a2e4", want);
	assert_memory_equal(got, want, 16);

	/* Empty secret and challenge: MD5 of the single identifier byte 0. */
	iscsi_chap_digest(0, "", chal, 0, got);
	hex16("0x93b885adfe0da089cdf634904fd59f71", want);
	assert_memory_equal(got, want, 16);

	/* A long secret and the largest challenge (several MD5 blocks). */
	char secret[101];
	memset(secret, 'x', 100);
	secret[100] = '\0';
	memset(big, 0xff, sizeof(big));
	iscsi_chap_digest(1, secret, big, sizeof(big), got);
	hex16("0xc9f7c769a888cc49e46c62d2e66149c1", want);
	assert_memory_equal(got, want, 16);
}

static void test_is_key(void **state)
{
	assert_true(iscsi_chap_is_key("CHAP_A"));
	assert_true(iscsi_chap_is_key("CHAP_I"));
	assert_true(iscsi_chap_is_key("CHAP_C"));
	assert_true(iscsi_chap_is_key("CHAP_N"));
	assert_true(iscsi_chap_is_key("CHAP_R"));
	assert_false(iscsi_chap_is_key("CHAP_X"));
	assert_false(iscsi_chap_is_key("chap_a"));
	assert_false(iscsi_chap_is_key("AuthMethod"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_good),	cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_decode_capacity), cmocka_unit_test(test_encode),
		cmocka_unit_test(test_digest),		cmocka_unit_test(test_is_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
