// SPDX-License-Identifier: MIT
/* Unit tests for lib/md5.c: the RFC 1321 A.5 test suite plus chunking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/md5.h"

static void md5_hex(const void *data, size_t len, char out[33])
{
	struct md5_ctx c;
	uint8_t d[16];
	unsigned i;

	md5_init(&c);
	md5_update(&c, data, len);
	md5_final(&c, d);
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* RFC 1321 A.5 */
static void test_md5_rfc1321_suite(void **state)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"a", "0cc175b9c0f1b6a831c399e269772661"},
		{"abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		 "d174ab98d277d9f5a5611c2c9f419d9f"},
		{"1234567890123456789012345678901234567890123456789012345678901234567890"
		 "1234567890",
		 "57edf4a22be3c955ac49da2e2107b67a"},
	};
	char hex[33];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		md5_hex(v[i].in, strlen(v[i].in), hex);
		assert_string_equal(hex, v[i].hex);
	}
}

/* Feeding the same bytes in pieces of every size must not change the digest. */
static void test_md5_chunked_equals_oneshot(void **state)
{
	uint8_t data[1000], whole[16], part[16];
	struct md5_ctx c;
	size_t i, step, off;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 % 251);

	md5_init(&c);
	md5_update(&c, data, sizeof(data));
	md5_final(&c, whole);
	/* Value from an independent implementation (Python hashlib). */
	{
		char hex[33];

		md5_hex(data, sizeof(data), hex);
		assert_string_equal(hex, "4b2f37fc49a134b17c7275fd04a1b7ac");
	}

	for (step = 1; step <= 130; step++) {
		md5_init(&c);
		for (off = 0; off < sizeof(data); off += step) {
			size_t n = sizeof(data) - off < step ? sizeof(data) - off : step;

			md5_update(&c, data + off, n);
		}
		md5_final(&c, part);
		assert_memory_equal(part, whole, 16);
	}
}

/* Lengths around the 56-byte padding boundary take the two-block padding path. */
static void test_md5_padding_boundaries(void **state)
{
	static const char *const hex55_56_57_64[] = {
		"ef1772b6dff9a122358552954ad0df65",
		"3b0c8ac703f828b04c6c197006d17218",
		"652b906d60af96844ebd21b674f35e93",
		"014842d480b571495a4a0363793f7367",
	};
	static const size_t lens[] = {55, 56, 57, 64};
	char buf[64], hex[33];
	size_t i;

	memset(buf, 'a', sizeof(buf));
	for (i = 0; i < 4; i++) {
		md5_hex(buf, lens[i], hex);
		assert_string_equal(hex, hex55_56_57_64[i]);
	}
}

static void test_md5_million_a(void **state)
{
	char block[1000], hex[33];
	struct md5_ctx c;
	uint8_t d[16];
	unsigned i;

	memset(block, 'a', sizeof(block));
	md5_init(&c);
	for (i = 0; i < 1000; i++)
		md5_update(&c, block, sizeof(block));
	md5_final(&c, d);
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	assert_string_equal(hex, "7707d6ae4e027c70eea2a935c2296f21");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_rfc1321_suite),
		cmocka_unit_test(test_md5_chunked_equals_oneshot),
		cmocka_unit_test(test_md5_padding_boundaries),
		cmocka_unit_test(test_md5_million_a),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
