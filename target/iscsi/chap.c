/* SPDX-License-Identifier: MIT */
/*
 * CHAP authentication of the initiator, and of the target when the initiator
 * asks for it (RFC 7143 12.1.3, RFC 1994). Sans-I/O; the challenge comes
 * from env->random so tests are deterministic.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/md5.h"
#include "target/iscsi/chap.h"

#define CHAP_ALG_MD5 5

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int chap_decode_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t nd = strlen(s), n = (nd + 1) / 2, i = 0, o = 0;

	if (nd == 0)
		return -EINVAL;
	if (n > cap)
		return -E2BIG;
	if (nd % 2) {
		/* An odd count means a leading zero nibble. */
		int v = hex_val(s[i++]);

		if (v < 0)
			return -EINVAL;
		out[o++] = (uint8_t)v;
	}
	for (; i < nd; i += 2) {
		int hi = hex_val(s[i]), lo = hex_val(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[o++] = (uint8_t)(hi << 4 | lo);
	}
	return (int)o;
}

/* RFC 4648 4 base64 with optional '=' padding. */
static int chap_decode_b64(const char *s, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0, chars = 0, pad = 0;

	for (; *s; s++) {
		int v;

		if (*s == '=') {
			pad++;
			continue;
		}
		v = b64_val(*s);
		if (v < 0 || pad)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		chars++;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -E2BIG;
			out[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || (pad && (chars + pad) % 4) || chars % 4 == 1 || n == 0)
		return -EINVAL;
	return (int)n;
}

/* RFC 7143 5.1 binary-value */
int iscsi_chap_decode(const char *s, uint8_t *out, size_t cap)
{
	if (s[0] != '0')
		return -EINVAL;
	if (s[1] == 'x' || s[1] == 'X')
		return chap_decode_hex(s + 2, out, cap);
	if (s[1] == 'b' || s[1] == 'B')
		return chap_decode_b64(s + 2, out, cap);
	return -EINVAL;
}

int iscsi_chap_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";

	if (cap < 2 * len + 3)
		return -ENOSPC;
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + 2 * i] = digits[in[i] >> 4];
		out[3 + 2 * i] = digits[in[i] & 15];
	}
	out[2 + 2 * len] = '\0';
	return (int)(2 + 2 * len);
}

/* RFC 1994 4.1 */
void iscsi_chap_digest(uint8_t id, const char *secret, const uint8_t *chal, size_t chal_len,
		       uint8_t out[ISCSI_CHAP_DIGEST_LEN])
{
	struct md5_ctx c;

	md5_init(&c);
	md5_update(&c, &id, 1);
	md5_update(&c, secret, strlen(secret));
	md5_update(&c, chal, chal_len);
	md5_final(&c, out);
}

bool iscsi_chap_is_key(const char *key)
{
	return !strcmp(key, "CHAP_A") || !strcmp(key, "CHAP_I") || !strcmp(key, "CHAP_C") ||
	       !strcmp(key, "CHAP_N") || !strcmp(key, "CHAP_R");
}

/* Does not stop at the first difference, so timing says nothing about the secret. */
static bool chap_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t d = 0;

	for (size_t i = 0; i < len; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

struct chap_keys {
	const char *a, *i, *c, *n, *r;
};

static int chap_fail(struct iscsi_login *l, const char *why)
{
	snprintf(l->reason, sizeof(l->reason), "CHAP: %s", why);
	return -ISCSI_LOGIN_STATUS_AUTH_FAILED;
}

static int chap_collect(struct iscsi_login *l, struct iscsi_kv *kv, unsigned nkv,
			struct chap_keys *k)
{
	static const char *const names[] = {"CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R"};
	const char **slots[] = {&k->a, &k->i, &k->c, &k->n, &k->r};

	memset(k, 0, sizeof(*k));
	for (unsigned j = 0; j < nkv; j++) {
		if (!kv[j].key)
			continue;
		for (unsigned s = 0; s < 5; s++) {
			if (strcmp(kv[j].key, names[s]))
				continue;
			if (*slots[s])
				return chap_fail(l, "key repeated");
			*slots[s] = kv[j].val;
			kv[j].key = NULL;
			break;
		}
	}
	return 0;
}

/* CHAP_A is a list of algorithm numbers; we take 5 (MD5) wherever it is. */
static bool chap_list_has_md5(const char *list)
{
	while (*list) {
		size_t len = strcspn(list, ",");
		char item[16];
		uint32_t v;

		if (len < sizeof(item)) {
			memcpy(item, list, len);
			item[len] = '\0';
			if (iscsi_text_parse_num(item, &v) && v == CHAP_ALG_MD5)
				return true;
		}
		list += len;
		if (*list == ',')
			list++;
	}
	return false;
}

/* RFC 7143 12.1.3: answer CHAP_A with the algorithm, our identifier and challenge. */
static int chap_send_challenge(struct iscsi_login *l, const char *alg, struct iscsi_text_out *out)
{
	char hex[2 * sizeof(l->chap_challenge) + 3];

	if (!chap_list_has_md5(alg)) {
		iscsi_text_add(out, "CHAP_A", "Reject");
		return chap_fail(l, "initiator does not offer MD5 (CHAP_A=5)");
	}
	if (!l->env->random) {
		snprintf(l->reason, sizeof(l->reason), "CHAP: no random source");
		return -ISCSI_LOGIN_STATUS_TARGET_ERROR;
	}
	l->env->random(&l->chap_id, 1);
	l->env->random(l->chap_challenge, sizeof(l->chap_challenge));
	iscsi_chap_encode(l->chap_challenge, sizeof(l->chap_challenge), hex, sizeof(hex));
	iscsi_text_add(out, "CHAP_A", "%d", CHAP_ALG_MD5);
	iscsi_text_add(out, "CHAP_I", "%u", l->chap_id);
	iscsi_text_add(out, "CHAP_C", "%s", hex);
	l->chap = CHAP_WAIT_RESPONSE;
	return 0;
}

/* RFC 7143 12.1.3: the initiator wants the target authenticated too. */
static int chap_mutual(struct iscsi_login *l, const struct chap_keys *k, struct iscsi_text_out *out)
{
	const struct tgt_chap *cfg = &l->env->cfg->chap;
	uint8_t chal[ISCSI_CHAP_CHALLENGE_MAX], dig[ISCSI_CHAP_DIGEST_LEN];
	char hex[2 * ISCSI_CHAP_DIGEST_LEN + 3];
	uint32_t id;
	int len;

	if (!k->i || !k->c)
		return chap_fail(l, "CHAP_I and CHAP_C must come together");
	if (!cfg->mutual)
		return chap_fail(l, "mutual CHAP requested but not configured");
	if (!iscsi_text_parse_num(k->i, &id) || id > 255)
		return chap_fail(l, "bad CHAP_I");
	len = iscsi_chap_decode(k->c, chal, sizeof(chal));
	if (len <= 0)
		return chap_fail(l, "bad CHAP_C");
	/* A reflected challenge would make us compute the initiator's answer. */
	if ((size_t)len == sizeof(l->chap_challenge) &&
	    !memcmp(chal, l->chap_challenge, sizeof(l->chap_challenge)))
		return chap_fail(l, "initiator reflected our challenge");
	/* RFC 7143 12.1.3: one secret must not authenticate both directions. */
	if (!strcmp(cfg->mutual_secret, cfg->secret))
		return chap_fail(l, "mutual secret equals the initiator secret");
	iscsi_chap_digest((uint8_t)id, cfg->mutual_secret, chal, (size_t)len, dig);
	iscsi_chap_encode(dig, sizeof(dig), hex, sizeof(hex));
	iscsi_text_add(out, "CHAP_N", "%s", cfg->mutual_user);
	iscsi_text_add(out, "CHAP_R", "%s", hex);
	return 0;
}

/* RFC 1994 4.1: check CHAP_N/CHAP_R against our challenge. */
static int chap_verify(struct iscsi_login *l, const struct chap_keys *k, struct iscsi_text_out *out)
{
	const struct tgt_chap *cfg = &l->env->cfg->chap;
	uint8_t got[ISCSI_CHAP_DIGEST_LEN + 1], want[ISCSI_CHAP_DIGEST_LEN];
	int rc;

	if (k->a)
		return chap_fail(l, "CHAP_A repeated");
	if (!k->n || !k->r)
		return chap_fail(l, "CHAP_N and CHAP_R expected");
	if (strcmp(k->n, cfg->user))
		return chap_fail(l, "unknown CHAP_N");
	if (iscsi_chap_decode(k->r, got, sizeof(got)) != ISCSI_CHAP_DIGEST_LEN)
		return chap_fail(l, "bad CHAP_R");
	iscsi_chap_digest(l->chap_id, cfg->secret, l->chap_challenge, sizeof(l->chap_challenge),
			  want);
	if (!chap_equal(got, want, sizeof(want)))
		return chap_fail(l, "response mismatch");
	if (k->i || k->c) {
		rc = chap_mutual(l, k, out);
		if (rc)
			return rc;
	}
	l->chap = CHAP_DONE;
	l->authenticated = true;
	return 0;
}

/* RFC 7143 12.1.3 */
int iscsi_chap_handle(struct iscsi_login *l, struct iscsi_kv *kv, unsigned nkv,
		      struct iscsi_text_out *out)
{
	struct chap_keys k;
	int rc;

	rc = chap_collect(l, kv, nkv, &k);
	if (rc)
		return rc;
	switch (l->chap) {
	case CHAP_WAIT_A:
		if (k.i || k.c || k.n || k.r)
			return chap_fail(l, "keys before CHAP_A");
		return k.a ? chap_send_challenge(l, k.a, out) : 0;
	case CHAP_WAIT_RESPONSE:
		return chap_verify(l, &k, out);
	default:
		if (k.a || k.i || k.c || k.n || k.r)
			return chap_fail(l, "unexpected key");
		return 0;
	}
}
