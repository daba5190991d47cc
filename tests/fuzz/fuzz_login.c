/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a whole login conversation, then text requests.
 *
 * Input: byte 0 picks the target configuration (bit 0 CHAP, bit 1 mutual
 * CHAP, bit 2 an initiator ACL, bit 3 IPv6 portals, bit 4 bind() refuses).
 * Then records: [flags][variant][len_hi][len_lo][len bytes of text]. flags is
 * Login Request byte 1 (T/C/CSG/NSG); variant bit 0 changes the ISID, bit 1
 * sets Version-min 1, bit 2 sets TSIH 1. Each record is one Login Request
 * through iscsi_pdu_parse_bhs() and iscsi_login_handle(); once the login
 * reaches full feature phase (or fails), the remaining records are Text
 * Requests for iscsi_text_handle(). The random source is fixed (CHAP_I 0x10,
 * CHAP_C 10 11 .. 1f) so the corpus can hold correct CHAP responses.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/byteorder.h"
#include "target/iscsi/login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tgt_config cfg;
static struct iscsi_login login;
static struct iscsi_login_rsp rsp;
static char text_req[ISCSI_LOGIN_ACCUM_MAX + 1];
static char text_rsp[8192];

static void fuzz_random(void *buf, size_t len)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(0x10 + i);
}

static int fuzz_bind(struct iscsi_login *l, void *arg)
{
	return *(const bool *)arg ? -ISCSI_LOGIN_STATUS_NO_RESOURCES : 0x1234;
}

static void fuzz_config(uint8_t sel)
{
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.iqn, sizeof(cfg.iqn), "iqn.2024-01.test:disk");
	snprintf(cfg.alias, sizeof(cfg.alias), "fuzz");
	cfg.nportals = 2;
	snprintf(cfg.portals[0].addr, sizeof(cfg.portals[0].addr), "%s",
		 sel & 8 ? "fd00::1" : "127.0.0.1");
	cfg.portals[0].port = 3260;
	cfg.portals[0].tpgt = 1;
	snprintf(cfg.portals[1].addr, sizeof(cfg.portals[1].addr), "127.0.0.2");
	cfg.portals[1].port = 3261;
	cfg.portals[1].tpgt = 2;
	cfg.chap.enabled = sel & 1;
	snprintf(cfg.chap.user, sizeof(cfg.chap.user), "user");
	snprintf(cfg.chap.secret, sizeof(cfg.chap.secret), "secret123456");
	cfg.chap.mutual = sel & 2;
	snprintf(cfg.chap.mutual_user, sizeof(cfg.chap.mutual_user), "target");
	snprintf(cfg.chap.mutual_secret, sizeof(cfg.chap.mutual_secret), "tsecret654321");
	if (sel & 4) {
		cfg.nallow = 1;
		snprintf(cfg.allow[0], sizeof(cfg.allow[0]), "iqn.2024-01.test:init");
	}
	cfg.iscsi = (struct tgt_iscsi_opts){
		.max_recv_dsl = 65536,
		.max_burst = 1048576,
		.first_burst = 65536,
		.immediate_data = true,
		.initial_r2t = false,
		.max_outstanding_r2t = 4,
		.default_time2wait = 2,
		.default_time2retain = 20,
	};
}

static void fuzz_text(const uint8_t *p, size_t len)
{
	int n;

	memcpy(text_req, p, len);
	n = iscsi_text_handle(&cfg, login.session_type, text_req, len, text_rsp, sizeof(text_rsp));
	if (n > (int)sizeof(text_rsp))
		__builtin_trap();
	text_req[len] = '\0';
	(void)iscsi_sendtargets_build(&cfg, text_req, text_rsp, sizeof(text_rsp));
}

static void fuzz_login_pdu(uint8_t flags, uint8_t variant, const uint8_t *p, size_t len)
{
	static const struct iscsi_pdu_limits lim = {.max_data_len = ISCSI_LOGIN_DATA_MAX};
	struct iscsi_bhs bhs;
	struct iscsi_pdu_hdr hdr;

	memset(&bhs, 0, sizeof(bhs));
	bhs.raw[0] = ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE;
	bhs.raw[1] = flags;
	bhs.raw[3] = variant & 2 ? 1 : 0;
	put_be24(bhs.raw + 5, (uint32_t)len);
	bhs.raw[8] = 0x80;
	bhs.raw[13] = variant & 1 ? 2 : 1;
	put_be16(bhs.raw + 14, variant & 4 ? 1 : 0);
	put_be32(bhs.raw + 16, 7);
	if (iscsi_pdu_parse_bhs(bhs.raw, sizeof(bhs), &lim, &hdr) != ISCSI_BHS_LEN)
		return;
	if (iscsi_login_handle(&login, &bhs, &hdr, p, (uint32_t)len, &rsp))
		return;
	if (rsp.data_len > sizeof(rsp.data) || iscsi_bhs_dlen(&rsp.bhs) != rsp.data_len ||
	    rsp.bhs.raw[0] != ISCSI_OP_LOGIN_RSP)
		__builtin_trap();
	/* Nothing but a successful final response may enter full feature phase. */
	if (rsp.full_feature != (login.state == ISCSI_LOGIN_FULL_FEATURE) ||
	    (rsp.full_feature && (rsp.bhs.raw[36] || get_be16(rsp.bhs.raw + 14) != 0x1234)))
		__builtin_trap();
	if (rsp.full_feature && login.auth_required && !login.authenticated)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_login_env env;
	bool refuse;
	size_t off = 1;

	if (size < 1)
		return 0;
	fuzz_config(data[0]);
	refuse = data[0] & 16;
	env = (struct iscsi_login_env){.cfg = &cfg,
				       .portal_tpgt = 1,
				       .bind = fuzz_bind,
				       .bind_arg = &refuse,
				       .random = fuzz_random};
	iscsi_login_init(&login, &env);
	while (off + 4 <= size) {
		uint8_t flags = data[off], variant = data[off + 1];
		size_t len = get_be16(data + off + 2) & 0x7fff;

		off += 4;
		if (len > size - off)
			len = size - off;
		if (login.state == ISCSI_LOGIN_FULL_FEATURE || login.state == ISCSI_LOGIN_FAILED)
			fuzz_text(data + off, len);
		else if (len <= ISCSI_LOGIN_DATA_MAX)
			fuzz_login_pdu(flags, variant, data + off, len);
		off += len;
	}
	return 0;
}
