/* SPDX-License-Identifier: MIT */
/* Unit tests for target/iscsi/text.c: SendTargets (RFC 7143 Appendix C) and FFP text keys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "target/iscsi/login.h"

#define IQN "iqn.2024-01.test:disk"
#define ALL_RSP                                                                                    \
	"TargetName=" IQN "|TargetAddress=192.0.2.1:3260,7|TargetAddress=[2001:db8::1]:3261,8|"

static struct tgt_config cfg;

static int cfg_setup(void **state)
{
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.iqn, sizeof(cfg.iqn), IQN);
	cfg.nportals = 2;
	snprintf(cfg.portals[0].addr, sizeof(cfg.portals[0].addr), "192.0.2.1");
	cfg.portals[0].port = 3260;
	cfg.portals[0].tpgt = 7;
	snprintf(cfg.portals[1].addr, sizeof(cfg.portals[1].addr), "2001:db8::1");
	cfg.portals[1].port = 3261;
	cfg.portals[1].tpgt = 8;
	return 0;
}

static char flat[4096];

static const char *flatten(const char *buf, int n)
{
	assert_true(n >= 0 && n < (int)sizeof(flat));
	for (int i = 0; i < n; i++)
		flat[i] = buf[i] ? buf[i] : '|';
	flat[n] = '\0';
	return flat;
}

static void test_build(void **state)
{
	char buf[512];
	int n;

	n = iscsi_sendtargets_build(&cfg, "All", buf, sizeof(buf));
	assert_string_equal(flatten(buf, n), ALL_RSP);
	n = iscsi_sendtargets_build(&cfg, IQN, buf, sizeof(buf));
	assert_string_equal(flatten(buf, n), ALL_RSP);
	n = iscsi_sendtargets_build(&cfg, "IQN.2024-01.Test:Disk", buf, sizeof(buf));
	assert_string_equal(flatten(buf, n), ALL_RSP);
	/* Unknown names get an empty answer. */
	assert_int_equal(iscsi_sendtargets_build(&cfg, "iqn.2024-01.test:other", buf, 512), 0);
	assert_int_equal(iscsi_sendtargets_build(&cfg, "", buf, 512), 0);
	assert_int_equal(iscsi_sendtargets_build(&cfg, "all", buf, 512), 0);
	/* Exactly enough room, and one byte short. */
	int full = (int)strlen(ALL_RSP);
	assert_int_equal(iscsi_sendtargets_build(&cfg, "All", buf, (size_t)full), full);
	assert_int_equal(iscsi_sendtargets_build(&cfg, "All", buf, (size_t)full - 1), -ENOSPC);
	assert_int_equal(iscsi_sendtargets_build(&cfg, "All", buf, 0), -ENOSPC);
	/* No portals: the name alone. */
	cfg.nportals = 0;
	n = iscsi_sendtargets_build(&cfg, "All", buf, sizeof(buf));
	assert_string_equal(flatten(buf, n), "TargetName=" IQN "|");
}

/* Runs iscsi_text_handle on a '|'-separated request. */
static int handle(enum iscsi_session_type type, const char *req, char *out, size_t cap)
{
	static char buf[8192];
	size_t len = strlen(req);

	for (size_t i = 0; i < len; i++)
		buf[i] = req[i] == '|' ? '\0' : req[i];
	return iscsi_text_handle(&cfg, type, buf, len, out, cap);
}

static void test_handle_table(void **state)
{
	static const struct {
		enum iscsi_session_type type;
		const char *req;
		const char *rsp;
	} t[] = {
		{ISCSI_SESSION_DISCOVERY, "SendTargets=All|", ALL_RSP},
		{ISCSI_SESSION_DISCOVERY, "SendTargets=" IQN "|", ALL_RSP},
		{ISCSI_SESSION_DISCOVERY, "SendTargets=iqn.other|", ""},
		{ISCSI_SESSION_DISCOVERY, "SendTargets=|", "SendTargets=Reject|"},
		/* Normal sessions only ever learn about their own target. */
		{ISCSI_SESSION_NORMAL, "SendTargets=All|", ALL_RSP},
		{ISCSI_SESSION_NORMAL, "SendTargets=|", ALL_RSP},
		{ISCSI_SESSION_NORMAL, "SendTargets=" IQN "|", ALL_RSP},
		{ISCSI_SESSION_NORMAL, "SendTargets=iqn.other|", ""},
		/* Everything else */
		{ISCSI_SESSION_NORMAL, "X-com.example=1|", "X-com.example=NotUnderstood|"},
		{ISCSI_SESSION_NORMAL, "Foo=bar|", "Foo=NotUnderstood|"},
		{ISCSI_SESSION_NORMAL, "MaxRecvDataSegmentLength=4096|",
		 "MaxRecvDataSegmentLength=Reject|"},
		{ISCSI_SESSION_NORMAL, "HeaderDigest=CRC32C|", "HeaderDigest=Reject|"},
		{ISCSI_SESSION_NORMAL, "AuthMethod=None|", "AuthMethod=Reject|"},
		{ISCSI_SESSION_NORMAL, "CHAP_A=5|", "CHAP_A=Reject|"},
		{ISCSI_SESSION_NORMAL, "InitiatorName=iqn.x|", "InitiatorName=Reject|"},
		{ISCSI_SESSION_DISCOVERY, "X-a=1|SendTargets=All|Bar=2|",
		 "X-a=NotUnderstood|" ALL_RSP "Bar=NotUnderstood|"},
		{ISCSI_SESSION_NORMAL, "", ""},
		{ISCSI_SESSION_NORMAL, "|||", ""},
	};
	char out[1024];

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		int n = handle(t[i].type, t[i].req, out, sizeof(out));

		if (strcmp(flatten(out, n), t[i].rsp))
			fail_msg("%s: got \"%s\"", t[i].req, flat);
	}
}

static void test_handle_errors(void **state)
{
	char out[1024], req[8192];
	size_t n = 0;

	/* The last pair must be terminated: nothing is written past req_len. */
	strcpy(req, "SendTargets=AllXYZ");
	assert_int_equal(iscsi_text_handle(&cfg, ISCSI_SESSION_DISCOVERY, req, 15, out, 1024),
			 -EINVAL);
	assert_string_equal(req, "SendTargets=AllXYZ");
	assert_int_equal(handle(ISCSI_SESSION_NORMAL, "NoEquals|", out, sizeof(out)), -EINVAL);
	assert_int_equal(handle(ISCSI_SESSION_NORMAL, "=x|", out, sizeof(out)), -EINVAL);
	for (int i = 0; i <= ISCSI_TEXT_MAX_KEYS; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-k%d=1|", i);
	assert_int_equal(handle(ISCSI_SESSION_NORMAL, req, out, sizeof(out)), -E2BIG);
	assert_int_equal(handle(ISCSI_SESSION_DISCOVERY, "SendTargets=All|", out, 40), -ENOSPC);
	assert_int_equal(handle(ISCSI_SESSION_NORMAL, "X-long-key-name=1|", out, 10), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_build, cfg_setup),
		cmocka_unit_test_setup(test_handle_table, cfg_setup),
		cmocka_unit_test_setup(test_handle_errors, cfg_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
