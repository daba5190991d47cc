/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli), as iSCSI digests use it (RFC 7143 13.1, RFC 3720 B.4).
 * crc32c(0, buf, len) gives the digest value; chaining: crc32c(prev, more, n).
 * Uses SSE4.2 when the CPU has it, a slicing-by-8 table otherwise.
 *
 * The value is the reflected CRC with polynomial 0x82F63B78, initial value
 * ~0 and final xor ~0 (both applied inside, so callers start from 0).
 *
 * Wire byte order: unlike every other iSCSI field, a digest is NOT big-endian.
 * RFC 3720 B.4 shows 32 zero bytes giving the bytes "aa 36 91 8a" on the wire
 * for the value 0x8a9136aa, i.e. least significant byte first (libiscsi does
 * the same). Always use crc32c_put_wire()/crc32c_get_wire() for HeaderDigest
 * and DataDigest, never put_be32()/get_be32().
 *
 * All functions are pure and may be called from any thread.
 */
#ifndef LIB_CRC32C_H
#define LIB_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "byteorder.h"

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable implementation, exposed so tests can compare both. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* True when crc32c() uses the SSE4.2 instruction (for tests and status). */
bool crc32c_has_hw(void);

/* Writes a digest the way it travels on the wire (RFC 3720 B.4: LSB first). */
static inline void crc32c_put_wire(uint8_t out[4], uint32_t crc)
{
	put_le32(out, crc);
}

/* Reads a digest as received from the wire (RFC 3720 B.4: LSB first). */
static inline uint32_t crc32c_get_wire(const uint8_t in[4])
{
	return get_le32(in);
}

#endif
