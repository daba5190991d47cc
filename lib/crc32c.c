// SPDX-License-Identifier: MIT
/*
 * CRC32C for iSCSI header and data digests (RFC 7143 13.1, RFC 3720 B.4).
 *
 * Two implementations with one contract: the SSE4.2 crc32 instruction, whose
 * polynomial is exactly Castagnoli's, and a slicing-by-8 table walk for CPUs
 * without it. Both work on the pre-inverted register, so the ~0 initial value
 * and final xor live only in the entry points, which makes chaining work.
 */
#include <string.h>

#include "compiler.h"
#include "crc32c.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define CRC32C_X86 1
#endif

#define CRC32C_POLY 0x82F63B78u /* reflected x^32 + x^28 + x^27 + ... + 1 */

static uint32_t crc32c_table[8][256];
static bool crc32c_hw_ok;

/*
 * Tables and CPU detection run once at load time, so the data path never
 * checks whether they are ready. __builtin_cpu_init() is needed because this
 * may run before libgcc's own constructor.
 */
__attribute__((constructor)) static void crc32c_setup(void)
{
	unsigned i, k;

	for (i = 0; i < 256; i++) {
		uint32_t c = i;

		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (c & 1 ? CRC32C_POLY : 0);
		crc32c_table[0][i] = c;
	}
	/* table[k][i]: byte i followed by k zero bytes. */
	for (k = 1; k < 8; k++)
		for (i = 0; i < 256; i++) {
			uint32_t c = crc32c_table[k - 1][i];

			crc32c_table[k][i] = (c >> 8) ^ crc32c_table[0][c & 0xff];
		}
#ifdef CRC32C_X86
	__builtin_cpu_init();
	crc32c_hw_ok = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc32c_sw_raw(uint32_t c, const uint8_t *p, size_t len)
{
	uint32_t(*t)[256] = crc32c_table;

	while (len >= 8) {
		uint32_t lo = get_le32(p) ^ c;
		uint32_t hi = get_le32(p + 4);

		c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
		    t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		    t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
	return c;
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	return ~crc32c_sw_raw(~crc, buf, len);
}

#ifdef CRC32C_X86
/*
 * One stream of 8-byte crc32 instructions after aligning the pointer, so the
 * 8-byte loads never straddle a cache line. memcpy keeps the load legal C.
 */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_raw(uint32_t c, const uint8_t *p,
								size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8(c, *p++);
		len--;
	}
#ifdef __x86_64__
	{
		uint64_t c64 = c;

		for (; len >= 8; p += 8, len -= 8) {
			uint64_t v;

			memcpy(&v, p, sizeof(v));
			c64 = _mm_crc32_u64(c64, v);
		}
		c = (uint32_t)c64;
	}
#endif
	for (; len >= 4; p += 4, len -= 4) {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u32(c, v);
	}
	while (len--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC32C_X86
	if (likely(crc32c_hw_ok))
		return ~crc32c_hw_raw(~crc, buf, len);
#endif
	return ~crc32c_sw_raw(~crc, buf, len);
}

bool crc32c_has_hw(void)
{
	return crc32c_hw_ok;
}
