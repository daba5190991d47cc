/* SPDX-License-Identifier: MIT */
/* MD5 (RFC 1321), needed only by iSCSI CHAP (RFC 1994, CHAP_A=5). */
#ifndef LIB_MD5_H
#define LIB_MD5_H

#include <stddef.h>
#include <stdint.h>

struct md5_ctx {
	uint32_t state[4];
	uint64_t bytes;
	uint8_t buf[64];
};

void md5_init(struct md5_ctx *c);
void md5_update(struct md5_ctx *c, const void *data, size_t len);
void md5_final(struct md5_ctx *c, uint8_t digest[16]);

#endif
