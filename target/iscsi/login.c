/* SPDX-License-Identifier: MIT */
/*
 * The target side of the login phase (RFC 7143 6.3, 11.12, 11.13); the state
 * machine is drawn in login.h. One complete request (after C-bit
 * accumulation) is handled in this order: identity keys (first request),
 * security keys (AuthMethod, CHAP), operational keys, then the stage
 * transition. Sans-I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/byteorder.h"
#include "target/iscsi/chap.h"
#include "target/iscsi/login.h"

#define LOGIN_VERSION 0x00 /* RFC 7143 11.12.4 */

void iscsi_login_init(struct iscsi_login *l, const struct iscsi_login_env *env)
{
	memset(l, 0, sizeof(*l));
	l->env = env;
	l->state = ISCSI_LOGIN_START;
	l->chap = CHAP_NONE;
	l->auth_required = env->cfg->chap.enabled;
	iscsi_params_defaults(&l->params);
}

/* RFC 7143 11.13 */
static void login_rsp_bhs(struct iscsi_login *l, const struct iscsi_bhs *req,
			  struct iscsi_login_rsp *rsp, uint8_t flags, uint16_t status)
{
	struct iscsi_bhs *b = &rsp->bhs;

	iscsi_bhs_init(b, ISCSI_OP_LOGIN_RSP, flags, get_be32(req->raw + 16));
	b->raw[2] = LOGIN_VERSION; /* Version-max */
	b->raw[3] = LOGIN_VERSION; /* Version-active */
	iscsi_bhs_set_dlen(b, rsp->data_len);
	memcpy(b->raw + 8, req->raw + 8, 6); /* ISID */
	/* The new TSIH goes out only in the final response (RFC 7143 11.13.4). */
	put_be16(b->raw + 14, rsp->full_feature ? l->tsih : get_be16(req->raw + 14));
	b->raw[36] = (uint8_t)(status >> 8);
	b->raw[37] = (uint8_t)status;
}

/* A failure response ends the login: no keys, T=0, the connection closes after it. */
static int login_fail(struct iscsi_login *l, const struct iscsi_bhs *req,
		      struct iscsi_login_rsp *rsp, int status, const char *why)
{
	uint8_t csg = ISCSI_LOGIN_CSG(req->raw[1]);

	if (why)
		snprintf(l->reason, sizeof(l->reason), "%s", why);
	l->state = ISCSI_LOGIN_FAILED;
	l->accum_len = 0;
	l->accum_active = false;
	rsp->data_len = 0;
	rsp->full_feature = false;
	rsp->close_after = true;
	login_rsp_bhs(l, req, rsp, (uint8_t)(csg << 2), (uint16_t)status);
	return 0;
}

/* RFC 7143 11.12.1-11.12.3: T/C/CSG/NSG, and the stage the request must be in. */
static int login_check_flags(const struct iscsi_login *l, uint8_t flags)
{
	unsigned csg = ISCSI_LOGIN_CSG(flags), nsg = ISCSI_LOGIN_NSG(flags);
	bool transit = flags & ISCSI_LOGIN_F_TRANSIT;

	if (transit && (flags & ISCSI_LOGIN_F_CONTINUE))
		return -1;
	if (csg != ISCSI_STAGE_SECURITY && csg != ISCSI_STAGE_OPERATIONAL)
		return -1;
	if (transit && (nsg <= csg || nsg == 2))
		return -1;
	if (l->accum_active && csg != l->accum_csg)
		return -1;
	if (l->state == ISCSI_LOGIN_SECURITY && csg != ISCSI_STAGE_SECURITY)
		return -1;
	if (l->state == ISCSI_LOGIN_OPERATIONAL && csg != ISCSI_STAGE_OPERATIONAL)
		return -1;
	return 0;
}

/* Takes kv[i] out of the list if its key is name; fails on a second copy. */
static int login_take(struct iscsi_kv *kv, unsigned n, const char *name, const char **val)
{
	*val = NULL;
	for (unsigned i = 0; i < n; i++) {
		if (!kv[i].key || strcmp(kv[i].key, name))
			continue;
		if (*val)
			return -1;
		*val = kv[i].val;
		kv[i].key = NULL;
	}
	return 0;
}

struct login_ids {
	const char *iname, *ialias, *tname, *stype;
};

static int login_take_ids(struct iscsi_login *l, struct iscsi_kv *kv, unsigned n,
			  struct login_ids *ids)
{
	if (login_take(kv, n, "InitiatorName", &ids->iname) ||
	    login_take(kv, n, "InitiatorAlias", &ids->ialias) ||
	    login_take(kv, n, "TargetName", &ids->tname) ||
	    login_take(kv, n, "SessionType", &ids->stype)) {
		snprintf(l->reason, sizeof(l->reason), "login key repeated");
		return -ISCSI_LOGIN_STATUS_INIT_ERR;
	}
	return 0;
}

static int login_reason(struct iscsi_login *l, int status, const char *why)
{
	snprintf(l->reason, sizeof(l->reason), "%s", why);
	return -status;
}

static bool login_allowed(const struct tgt_config *cfg, const char *iname)
{
	if (!cfg->nallow)
		return true;
	for (unsigned i = 0; i < cfg->nallow; i++)
		if (!strcasecmp(cfg->allow[i], iname))
			return true;
	return false;
}

/* RFC 7143 13.4, 13.5, 13.21: the first request names both ends and the session type. */
static int login_first(struct iscsi_login *l, const struct login_ids *ids, unsigned csg)
{
	const struct tgt_config *cfg = l->env->cfg;

	if (!ids->iname || !ids->iname[0])
		return login_reason(l, ISCSI_LOGIN_STATUS_MISSING_FIELDS, "no InitiatorName");
	if (strlen(ids->iname) >= TGT_NAME_MAX)
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, "InitiatorName too long");
	snprintf(l->initiator_name, sizeof(l->initiator_name), "%s", ids->iname);
	if (ids->ialias)
		snprintf(l->initiator_alias, sizeof(l->initiator_alias), "%s", ids->ialias);
	if (!ids->stype || !strcmp(ids->stype, "Normal"))
		l->session_type = ISCSI_SESSION_NORMAL;
	else if (!strcmp(ids->stype, "Discovery"))
		l->session_type = ISCSI_SESSION_DISCOVERY;
	else
		return login_reason(l, ISCSI_LOGIN_STATUS_NO_SESSION_TYPE, "bad SessionType");
	if (ids->tname) {
		if (strlen(ids->tname) >= TGT_NAME_MAX)
			return login_reason(l, ISCSI_LOGIN_STATUS_TGT_NOT_FOUND,
					    "TargetName too long");
		snprintf(l->target_name, sizeof(l->target_name), "%s", ids->tname);
	}
	if (l->session_type == ISCSI_SESSION_NORMAL) {
		if (!ids->tname || !ids->tname[0])
			return login_reason(l, ISCSI_LOGIN_STATUS_MISSING_FIELDS, "no TargetName");
		/* iSCSI names compare case-insensitively (RFC 7143 4.2.7.1 normalisation). */
		if (strcasecmp(ids->tname, cfg->iqn))
			return login_reason(l, ISCSI_LOGIN_STATUS_TGT_NOT_FOUND,
					    "unknown TargetName");
	}
	if (!login_allowed(cfg, l->initiator_name))
		return login_reason(l, ISCSI_LOGIN_STATUS_TGT_FORBIDDEN, "initiator not allowed");
	/* RFC 7143 6.3: skipping the security stage is only for targets that need no auth. */
	if (csg == ISCSI_STAGE_OPERATIONAL && l->auth_required)
		return login_reason(l, ISCSI_LOGIN_STATUS_AUTH_FAILED,
				    "authentication required, security stage skipped");
	l->state = csg == ISCSI_STAGE_SECURITY ? ISCSI_LOGIN_SECURITY : ISCSI_LOGIN_OPERATIONAL;
	return 0;
}

/* RFC 7143 6.2: later requests may repeat the identity keys, but not change them. */
static int login_ids_again(struct iscsi_login *l, const struct login_ids *ids)
{
	enum iscsi_session_type t;

	if (ids->iname && strcmp(ids->iname, l->initiator_name))
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, "InitiatorName changed");
	if (ids->tname && strcmp(ids->tname, l->target_name))
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, "TargetName changed");
	if (ids->stype) {
		t = !strcmp(ids->stype, "Discovery") ? ISCSI_SESSION_DISCOVERY
						     : ISCSI_SESSION_NORMAL;
		if (t != l->session_type ||
		    (strcmp(ids->stype, "Discovery") && strcmp(ids->stype, "Normal")))
			return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, "SessionType changed");
	}
	return 0;
}

/* RFC 7143 13.8, 13.9, 13.6: keys only a target sends; SendTargets is FFP-only (13.3). */
static int login_wrong_keys(struct iscsi_login *l, const struct iscsi_kv *kv, unsigned n)
{
	static const char *const bad[] = {"TargetAlias", "TargetAddress", "TargetPortalGroupTag",
					  "SendTargets"};

	for (unsigned i = 0; i < n; i++) {
		if (!kv[i].key)
			continue;
		for (unsigned j = 0; j < ARRAY_SIZE(bad); j++)
			if (!strcmp(kv[i].key, bad[j]))
				return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR,
						    "key not allowed in a login request");
	}
	return 0;
}

/* RFC 7143 12: pick the first method of the initiator's list that we accept. */
static int login_auth_method(struct iscsi_login *l, const char *val, struct iscsi_text_out *out)
{
	const char *want = l->auth_required ? "CHAP" : "None";
	const char *s = val;

	if (l->auth_method != ISCSI_AUTH_UNSET)
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, "AuthMethod renegotiated");
	while (*s) {
		size_t len = strcspn(s, ",");

		if (len == strlen(want) && !strncmp(s, want, len)) {
			iscsi_text_add(out, "AuthMethod", "%s", want);
			if (l->auth_required) {
				l->auth_method = ISCSI_AUTH_CHAP;
				l->chap = CHAP_WAIT_A;
			} else {
				l->auth_method = ISCSI_AUTH_NONE;
			}
			return 0;
		}
		s += len;
		if (*s == ',')
			s++;
	}
	iscsi_text_add(out, "AuthMethod", "Reject");
	return login_reason(l, ISCSI_LOGIN_STATUS_AUTH_FAILED,
			    l->auth_required ? "initiator does not offer CHAP"
					     : "initiator does not offer AuthMethod=None");
}

static bool login_has_security_keys(const struct iscsi_kv *kv, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (kv[i].key && (!strcmp(kv[i].key, "AuthMethod") || iscsi_chap_is_key(kv[i].key)))
			return true;
	return false;
}

/* RFC 7143 6.3.2, 12 */
static int login_security(struct iscsi_login *l, struct iscsi_kv *kv, unsigned n,
			  struct iscsi_text_out *out)
{
	const char *am;
	int rc;

	if (l->state != ISCSI_LOGIN_SECURITY) {
		if (login_has_security_keys(kv, n))
			return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR,
					    "security key in the operational stage");
		return 0;
	}
	if (login_take(kv, n, "AuthMethod", &am))
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, "AuthMethod repeated");
	if (am) {
		rc = login_auth_method(l, am, out);
		if (rc)
			return rc;
	}
	if (l->auth_method == ISCSI_AUTH_CHAP)
		return iscsi_chap_handle(l, kv, n, out);
	for (unsigned i = 0; i < n; i++)
		if (kv[i].key && iscsi_chap_is_key(kv[i].key))
			return login_reason(l, ISCSI_LOGIN_STATUS_AUTH_FAILED,
					    "CHAP key without AuthMethod=CHAP");
	return 0;
}

static bool login_has_keys(const struct iscsi_kv *kv, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (kv[i].key)
			return true;
	return false;
}

/* RFC 7143 13 operational keys (and NotUnderstood for the rest). */
static int login_operational(struct iscsi_login *l, struct iscsi_kv *kv, unsigned n,
			     struct iscsi_neg *neg)
{
	/* No negotiation with an initiator that has not proven who it is yet. */
	if (l->auth_required && !l->authenticated && login_has_keys(kv, n))
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR,
				    "operational keys before authentication");
	if (iscsi_params_negotiate(neg, kv, n))
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, neg->err);
	return 0;
}

/* The keys of one complete request. Returns 0 or -status. */
static int login_keys(struct iscsi_login *l, unsigned csg, struct iscsi_text_out *out,
		      struct iscsi_neg *neg)
{
	struct iscsi_kv kv[ISCSI_TEXT_MAX_KEYS];
	struct login_ids ids;
	int n, rc;

	n = iscsi_text_parse(l->accum, l->accum_len, kv, ARRAY_SIZE(kv));
	if (n < 0)
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, "malformed login text");
	rc = login_take_ids(l, kv, (unsigned)n, &ids);
	if (rc)
		return rc;
	if (l->state == ISCSI_LOGIN_START)
		rc = login_first(l, &ids, csg);
	else
		rc = login_ids_again(l, &ids);
	if (rc)
		return rc;
	neg->discovery = l->session_type == ISCSI_SESSION_DISCOVERY;
	/* RFC 7143 13.9: TargetPortalGroupTag in the first response of a normal session. */
	if (!l->tpgt_sent && !neg->discovery) {
		iscsi_text_add(out, "TargetPortalGroupTag", "%u", l->env->portal_tpgt);
		if (l->env->cfg->alias[0])
			iscsi_text_add(out, "TargetAlias", "%s", l->env->cfg->alias);
		l->tpgt_sent = true;
	}
	rc = login_wrong_keys(l, kv, (unsigned)n);
	if (!rc)
		rc = login_security(l, kv, (unsigned)n, out);
	if (!rc)
		rc = login_operational(l, kv, (unsigned)n, neg);
	return rc;
}

/* RFC 7143 6.3: may the stage change now? Returns 1 yes, 0 not yet, or -status. */
static int login_may_transit(struct iscsi_login *l)
{
	if (l->state != ISCSI_LOGIN_SECURITY || !l->auth_required || l->authenticated)
		return 1;
	if (l->auth_method == ISCSI_AUTH_UNSET)
		return login_reason(l, ISCSI_LOGIN_STATUS_AUTH_FAILED,
				    "authentication required, no AuthMethod offered");
	return 0; /* CHAP still under way: answer T=0 */
}

/* RFC 7143 6.3.6: the final response binds the connection to a session. */
static int login_enter_ffp(struct iscsi_login *l, struct iscsi_neg *neg)
{
	int rc;

	iscsi_params_finish(neg);
	if (neg->out->overflow)
		return login_reason(l, ISCSI_LOGIN_STATUS_TARGET_ERROR, "login response too long");
	if (!l->env->bind)
		return login_reason(l, ISCSI_LOGIN_STATUS_TARGET_ERROR, "no session binding");
	rc = l->env->bind(l, l->env->bind_arg);
	if (rc < 0)
		return login_reason(l, -rc, "session binding refused");
	if (rc == 0 || rc > 0xffff)
		return login_reason(l, ISCSI_LOGIN_STATUS_TARGET_ERROR, "bad TSIH from binding");
	l->tsih = (uint16_t)rc;
	return 0;
}

/* First part of a login: the fields every later part must repeat. */
static int login_check_header(struct iscsi_login *l, const uint8_t *b)
{
	if (l->state == ISCSI_LOGIN_START && !l->accum_active) {
		memcpy(l->isid, b + 8, 6);
		l->tsih = get_be16(b + 14);
		l->cid = get_be16(b + 20);
		l->cmdsn = get_be32(b + 24);
		/* RFC 7143 11.12.4: Version-min above the only version we speak */
		if (b[3] > LOGIN_VERSION)
			return login_reason(l, ISCSI_LOGIN_STATUS_NO_VERSION,
					    "unsupported version");
		return 0;
	}
	if (memcmp(l->isid, b + 8, 6) || l->tsih != get_be16(b + 14) || l->cid != get_be16(b + 20))
		return login_reason(l, ISCSI_LOGIN_STATUS_INIT_ERR, "ISID/TSIH/CID changed");
	return 0;
}

/* RFC 7143 6.3, 11.12 */
int iscsi_login_handle(struct iscsi_login *l, const struct iscsi_bhs *bhs,
		       const struct iscsi_pdu_hdr *hdr, const uint8_t *data, uint32_t dlen,
		       struct iscsi_login_rsp *rsp)
{
	uint8_t flags = bhs->raw[1];
	unsigned csg = ISCSI_LOGIN_CSG(flags), nsg = ISCSI_LOGIN_NSG(flags);
	struct iscsi_text_out out = {.buf = (char *)rsp->data, .cap = sizeof(rsp->data)};
	struct iscsi_neg neg = {
		.p = &l->params, .ours = &l->env->cfg->iscsi, .seen = &l->keys_seen, .out = &out};
	bool transit;
	int rc;

	if (l->state == ISCSI_LOGIN_FAILED || l->state == ISCSI_LOGIN_FULL_FEATURE ||
	    hdr->opcode != ISCSI_OP_LOGIN_REQ)
		return -EPROTO;
	memset(rsp, 0, offsetof(struct iscsi_login_rsp, data));
	rsp->data_len = 0;
	rsp->close_after = false;
	rsp->full_feature = false;
	l->itt = hdr->itt;
	l->exp_statsn = get_be32(bhs->raw + 28);

	rc = login_check_header(l, bhs->raw);
	if (rc)
		return login_fail(l, bhs, rsp, -rc, NULL);
	if (login_check_flags(l, flags))
		return login_fail(l, bhs, rsp, ISCSI_LOGIN_STATUS_INVALID_REQUEST,
				  "bad T/C/CSG/NSG");
	if (dlen > ISCSI_LOGIN_DATA_MAX || l->accum_len + dlen > ISCSI_LOGIN_ACCUM_MAX)
		return login_fail(l, bhs, rsp, ISCSI_LOGIN_STATUS_INIT_ERR, "login text too long");
	if (dlen)
		memcpy(l->accum + l->accum_len, data, dlen);
	l->accum_len += dlen;
	if (flags & ISCSI_LOGIN_F_CONTINUE) {
		/* RFC 7143 6.5: each part but the last gets an empty response. */
		l->accum_active = true;
		l->accum_csg = (uint8_t)csg;
		login_rsp_bhs(l, bhs, rsp, (uint8_t)(csg << 2), ISCSI_LOGIN_STATUS_SUCCESS);
		return 0;
	}
	l->accum_active = false;

	rc = login_keys(l, csg, &out, &neg);
	l->accum_len = 0;
	if (rc)
		return login_fail(l, bhs, rsp, -rc, NULL);
	transit = flags & ISCSI_LOGIN_F_TRANSIT;
	if (transit) {
		rc = login_may_transit(l);
		if (rc < 0)
			return login_fail(l, bhs, rsp, -rc, NULL);
		transit = rc == 1;
	}
	if (transit && nsg == ISCSI_STAGE_FULL_FEATURE) {
		rc = login_enter_ffp(l, &neg);
		if (rc)
			return login_fail(l, bhs, rsp, -rc, NULL);
		rsp->full_feature = true;
		l->state = ISCSI_LOGIN_FULL_FEATURE;
	} else if (transit) {
		l->state = ISCSI_LOGIN_OPERATIONAL;
	}
	if (out.overflow)
		return login_fail(l, bhs, rsp, ISCSI_LOGIN_STATUS_TARGET_ERROR,
				  "login response too long");
	rsp->data_len = (uint32_t)out.len;
	login_rsp_bhs(l, bhs, rsp,
		      (uint8_t)((transit ? ISCSI_LOGIN_F_TRANSIT | nsg : 0) | csg << 2),
		      ISCSI_LOGIN_STATUS_SUCCESS);
	return 0;
}
