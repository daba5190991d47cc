/* SPDX-License-Identifier: MIT */
/*
 * Text requests in full feature phase (RFC 7143 11.10, 11.11): SendTargets
 * (RFC 7143 Appendix C) and NotUnderstood/Reject for everything else.
 * Sans-I/O.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "target/iscsi/chap.h"
#include "target/iscsi/login.h"

static void sendtargets_address(struct iscsi_text_out *o, const struct tgt_portal *p)
{
	/* RFC 7143 13.8: an IPv6 address goes in brackets */
	bool v6 = strchr(p->addr, ':') != NULL;

	iscsi_text_add(o, "TargetAddress", "%s%s%s:%u,%u", v6 ? "[" : "", p->addr, v6 ? "]" : "",
		       p->port, p->tpgt);
}

/* RFC 7143 Appendix C: TargetName, then one TargetAddress per portal. */
int iscsi_sendtargets_build(const struct tgt_config *cfg, const char *what, char *buf, size_t cap)
{
	struct iscsi_text_out o = {.buf = buf, .cap = cap};

	if (strcmp(what, "All") && strcasecmp(what, cfg->iqn))
		return 0;
	iscsi_text_add(&o, "TargetName", "%s", cfg->iqn);
	for (unsigned i = 0; i < cfg->nportals && i < TGT_MAX_PORTALS; i++)
		sendtargets_address(&o, &cfg->portals[i]);
	/* Cluster mode: the peer node's portals lead to the same target. */
	for (unsigned i = 0; i < cfg->npeer_portals && i < TGT_MAX_PORTALS; i++)
		sendtargets_address(&o, &cfg->peer_portals[i]);
	return o.overflow ? -ENOSPC : (int)o.len;
}

/* Keys that mean something to us but may not be negotiated in full feature phase. */
static bool text_known_key(const char *key)
{
	static const char *const login_only[] = {
		"AuthMethod",	  "InitiatorName", "TargetName",    "SessionType",
		"InitiatorAlias", "TargetAlias",   "TargetAddress", "TargetPortalGroupTag"};

	for (unsigned i = 0; i < ARRAY_SIZE(login_only); i++)
		if (!strcmp(key, login_only[i]))
			return true;
	return iscsi_params_is_key(key) || iscsi_chap_is_key(key);
}

/* RFC 7143 Appendix C: "All" lists every target in a discovery session; a normal
 * session only ever learns about the target it is logged in to. */
static int text_sendtargets(const struct tgt_config *cfg, enum iscsi_session_type type,
			    const char *val, struct iscsi_text_out *o)
{
	const char *what = val;
	int n;

	if (type == ISCSI_SESSION_NORMAL) {
		if (!strcmp(val, "All") || !val[0])
			what = cfg->iqn;
	} else if (!val[0]) {
		iscsi_text_add(o, "SendTargets", "Reject");
		return 0;
	}
	n = iscsi_sendtargets_build(cfg, what, o->buf + o->len, o->cap - o->len);
	if (n < 0)
		return n;
	o->len += (size_t)n;
	return 0;
}

/* RFC 7143 11.10 */
int iscsi_text_handle(const struct tgt_config *cfg, enum iscsi_session_type type, char *req,
		      size_t req_len, char *buf, size_t cap)
{
	struct iscsi_kv kv[ISCSI_TEXT_MAX_KEYS];
	struct iscsi_text_out o = {.buf = buf, .cap = cap};
	int n, rc;

	/* The request must end its last pair: parsing then never writes past req_len. */
	if (req_len && req[req_len - 1] != '\0')
		return -EINVAL;
	n = iscsi_text_parse(req, req_len, kv, ARRAY_SIZE(kv));
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (!strcmp(kv[i].key, "SendTargets")) {
			rc = text_sendtargets(cfg, type, kv[i].val, &o);
			if (rc)
				return rc;
		} else if (text_known_key(kv[i].key)) {
			iscsi_text_add(&o, kv[i].key, "Reject");
		} else {
			iscsi_text_add(&o, kv[i].key, "NotUnderstood");
		}
	}
	return o.overflow ? -ENOSPC : (int)o.len;
}
