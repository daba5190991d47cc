/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli), as iSCSI digests use it (RFC 7143 13.1, RFC 3720 B.4).
 * crc32c(0, buf, len) gives the digest value; chaining: crc32c(prev, more, n).
 * Uses SSE4.2 when the CPU has it, a slicing-by-8 table otherwise.
 */
#ifndef LIB_CRC32C_H
#define LIB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable implementation, exposed so tests can compare both. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
