// SPDX-License-Identifier: MIT
/* Unit tests for lib/crc32c.c: RFC 3720 B.4 vectors, chaining, sw == hw, wire order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static const crc_fn impls[] = {crc32c, crc32c_sw};

/* RFC 3720 B.4 */
static void test_crc32c_rfc3720_vectors(void **state)
{
	uint8_t zeros[32], ones[32], inc[32], dec[32];
	unsigned i, k;

	memset(zeros, 0, sizeof(zeros));
	memset(ones, 0xff, sizeof(ones));
	for (i = 0; i < 32; i++) {
		inc[i] = (uint8_t)i;
		dec[i] = (uint8_t)(31 - i);
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(impls[k](0, zeros, 32), 0x8a9136aa);
		assert_int_equal(impls[k](0, ones, 32), 0x62a8ab43);
		assert_int_equal(impls[k](0, inc, 32), 0x46dd794e);
		assert_int_equal(impls[k](0, dec, 32), 0x113fdb5c);
		assert_int_equal(impls[k](0, "123456789", 9), 0xe3069283);
		assert_int_equal(impls[k](0, NULL, 0), 0);
	}
}

/* RFC 3720 B.4: digest bytes travel least significant first, unlike other fields. */
static void test_crc32c_wire_order(void **state)
{
	static const uint8_t zeros[32];
	uint8_t wire[4];

	/* RFC 3720 B.4: "32 bytes of zeroes ... CRC: aa 36 91 8a". */
	crc32c_put_wire(wire, crc32c(0, zeros, sizeof(zeros)));
	assert_int_equal(wire[0], 0xaa);
	assert_int_equal(wire[1], 0x36);
	assert_int_equal(wire[2], 0x91);
	assert_int_equal(wire[3], 0x8a);
	assert_int_equal(crc32c_get_wire(wire), 0x8a9136aa);
}

/* A digest of the data followed by its own wire bytes has a constant residue. */
static void test_crc32c_residue(void **state)
{
	uint8_t buf[64 + 4];
	unsigned i;

	for (i = 0; i < 64; i++)
		buf[i] = (uint8_t)(i * 13 + 5);
	crc32c_put_wire(buf + 64, crc32c(0, buf, 64));
	/* The CRC32C check residue (after the final xor) is 0x48674bc7. */
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x48674bc7);
	assert_int_equal(crc32c_sw(0, buf, sizeof(buf)), 0x48674bc7);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint8_t rng_byte(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint8_t)(rng_state >> 24);
}

static void test_crc32c_chaining(void **state)
{
	uint8_t buf[300];
	unsigned i, split, k;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = rng_byte();
	for (k = 0; k < 2; k++) {
		uint32_t whole = impls[k](0, buf, sizeof(buf));

		for (split = 0; split <= sizeof(buf); split++) {
			uint32_t c = impls[k](0, buf, split);

			assert_int_equal(impls[k](c, buf + split, sizeof(buf) - split), whole);
		}
	}
}

/* Every length 0..300 at every start offset 0..15 (misaligned heads and tails). */
static void test_crc32c_sw_equals_hw(void **state)
{
	uint8_t buf[300 + 16];
	unsigned len, off, i;

	print_message("crc32c: hardware path %s\n", crc32c_has_hw() ? "in use" : "unavailable");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = rng_byte();
	for (off = 0; off < 16; off++)
		for (len = 0; len <= 300; len++)
			assert_int_equal(crc32c(0x12345678, buf + off, len),
					 crc32c_sw(0x12345678, buf + off, len));
}

/* Bit-at-a-time reference: catches a table built from the wrong polynomial. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffff;
	unsigned b;

	while (len--) {
		c ^= *p++;
		for (b = 0; b < 8; b++)
			c = (c >> 1) ^ (c & 1 ? 0x82F63B78u : 0);
	}
	return ~c;
}

static void test_crc32c_matches_bitwise(void **state)
{
	uint8_t buf[4096 + 7];
	unsigned i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = rng_byte();
	assert_int_equal(crc32c_sw(0, buf, sizeof(buf)), crc32c_bitwise(buf, sizeof(buf)));
	assert_int_equal(crc32c(0, buf + 3, 4096), crc32c_bitwise(buf + 3, 4096));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_rfc3720_vectors),
		cmocka_unit_test(test_crc32c_wire_order),
		cmocka_unit_test(test_crc32c_residue),
		cmocka_unit_test(test_crc32c_chaining),
		cmocka_unit_test(test_crc32c_sw_equals_hw),
		cmocka_unit_test(test_crc32c_matches_bitwise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
