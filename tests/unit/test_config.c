// SPDX-License-Identifier: MIT
/*
 * Unit tests for clusterd/config.c: command line, INI files, validation and
 * derivation, --help coverage, and the written-out config reading back equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <cmocka.h>
#include <ini.h>

#include "lib/compiler.h"
#include "clusterd/config.h"

#define IQN   "iqn.2026-01.org.example:storage"
#define IQN_I "iqn.1994-05.com.redhat:client1"

struct fixture {
	struct clusterd_opts *o;
	char dir[64];
	char path[128];
	char err[512];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->o = calloc(1, sizeof(*fx->o));
	assert_non_null(fx->o);
	strcpy(fx->dir, "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/c.ini", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	unlink(fx->path);
	rmdir(fx->dir);
	free(fx->o);
	free(fx);
	return 0;
}

/* Runs config_parse_args on a NULL-terminated list (argv[0] is added). */
static int parse_list(struct fixture *fx, const char *const *args)
{
	char *argv[64];
	int argc = 0, r;

	argv[argc++] = strdup("clusterd");
	for (; *args; args++) {
		assert_true(argc < 63);
		argv[argc++] = strdup(*args);
	}
	argv[argc] = NULL;
	fx->err[0] = '\0';
	r = config_parse_args(fx->o, argc, argv, fx->err, sizeof(fx->err));
	/* The opts may point into argv: keep the strings of the file options alive. */
	for (int i = 0; i < argc; i++)
		if (argv[i] != fx->o->config_file && argv[i] != fx->o->check_config)
			free(argv[i]);
	return r;
}

#define PARSE(fx, ...) parse_list(fx, (const char *const[]){__VA_ARGS__, NULL})

static void free_file_opts(struct fixture *fx)
{
	free((char *)fx->o->config_file);
	free((char *)fx->o->check_config);
	fx->o->config_file = fx->o->check_config = NULL;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, hay);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	struct tgt_config *c = &((struct fixture *)*state)->o->tgt;

	memset(c, 0xa5, sizeof(*c));
	tgt_config_defaults(c);
	assert_int_equal(c->reactors, 1);
	assert_int_equal(c->iscsi.max_recv_dsl, 262144);
	assert_int_equal(c->iscsi.max_burst, 1048576);
	assert_int_equal(c->iscsi.first_burst, 262144);
	assert_true(c->iscsi.immediate_data);
	assert_false(c->iscsi.initial_r2t);
	assert_int_equal(c->iscsi.max_outstanding_r2t, 1);
	assert_int_equal(c->iscsi.default_time2wait, 2);
	assert_int_equal(c->iscsi.default_time2retain, 20);
	assert_int_equal(c->iscsi.queue_depth, 128);
	assert_int_equal(c->iscsi.max_sessions, 64);
	assert_int_equal(c->iscsi.nop_interval_ms, 5000);
	assert_int_equal(c->iscsi.nop_timeout_ms, 10000);
	assert_int_equal(c->iscsi.login_timeout_ms, 15000);
	assert_int_equal(c->nportals, 0);
	assert_int_equal(c->nluns, 0);
	assert_int_equal(c->nallow, 0);
	assert_false(c->chap.enabled);
	assert_false(c->debug);
	assert_string_equal(c->iqn, "");
}

/* ---- value parsers ---- */

static void test_parse_size(void **state)
{
	static const struct {
		const char *in;
		uint64_t out;
	} good[] = {
		{"0", 0},
		{"512", 512},
		{"1073741824", 1073741824ULL},
		{"1K", 1024},
		{"1k", 1024},
		{"256K", 262144},
		{"1M", 1048576},
		{"1G", 1073741824ULL},
		{"3g", 3ULL << 30},
		{"2T", 2ULL << 40},
		{"16777215T", 16777215ULL << 40},
		{"18446744073709551615", UINT64_MAX},
		{"007", 7},
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{"", "is not a size"},
		{"G", "is not a size"},
		{"-1", "is not a size"},
		{"+1", "is not a size"},
		{" 1", "is not a size"},
		{"0x10", "unknown suffix 'x10'"},
		{"1.5G", "unknown suffix '.5G'"},
		{"1GB", "unknown suffix 'GB'"},
		{"1KiB", "unknown suffix 'KiB'"},
		{"1P", "unknown suffix 'P'"},
		{"1 G", "unknown suffix ' G'"},
		{"16777216T", "'16777216T' is too large"},
		{"17179869184G", "is too large"},
		{"18446744073709551616", "is too large"},
		{"99999999999999999999999", "is too large"},
	};
	char why[256];
	uint64_t v;

	for (unsigned i = 0; i < ARRAY_SIZE(good); i++) {
		v = 12345;
		assert_int_equal(config_parse_size(good[i].in, &v, why, sizeof(why)), 0);
		assert_true(v == good[i].out);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 12345;
		assert_int_equal(config_parse_size(bad[i].in, &v, why, sizeof(why)), -EINVAL);
		assert_contains(why, bad[i].msg);
		assert_true(v == 12345);
	}
}

static void test_parse_bool_and_ms(void **state)
{
	static const char *const yes[] = {"yes", "YES", "true", "True", "on", "1"};
	static const char *const no[] = {"no", "No", "false", "FALSE", "off", "0"};
	static const char *const bad_bool[] = {"", "y", "n", "2", "enable", "yes ", "on1"};
	static const struct {
		const char *in;
		uint32_t ms;
	} good_ms[] = {
		{"0", 0},
		{"5000", 5000},
		{"5000ms", 5000},
		{"5s", 5000},
		{"4294967s", 4294967000U},
		{"4294967295", UINT32_MAX},
	};
	static const char *const bad_ms[] = {"",   "5m",   "5 s",	 "s",	    "1.5s",
					     "-5", "5sec", "4294967296", "4294968s"};
	char why[256];
	uint32_t ms;
	bool b;

	for (unsigned i = 0; i < ARRAY_SIZE(yes); i++) {
		b = false;
		assert_int_equal(config_parse_bool(yes[i], &b, why, sizeof(why)), 0);
		assert_true(b);
		assert_int_equal(config_parse_bool(no[i], &b, why, sizeof(why)), 0);
		assert_false(b);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(bad_bool); i++) {
		assert_int_equal(config_parse_bool(bad_bool[i], &b, why, sizeof(why)), -EINVAL);
		assert_contains(why, "is not a boolean (yes/no, true/false, on/off, 1/0)");
	}
	for (unsigned i = 0; i < ARRAY_SIZE(good_ms); i++) {
		assert_int_equal(config_parse_ms(good_ms[i].in, &ms, why, sizeof(why)), 0);
		assert_int_equal(ms, good_ms[i].ms);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(bad_ms); i++)
		assert_int_equal(config_parse_ms(bad_ms[i], &ms, why, sizeof(why)), -EINVAL);
	config_parse_ms("5m", &ms, why, sizeof(why));
	assert_string_equal(why, "'5m' is not a time (milliseconds: N, Nms or Ns)");
	config_parse_ms("4294968s", &ms, why, sizeof(why));
	assert_string_equal(why, "'4294968s' is too large");
}

static void test_parse_portal(void **state)
{
	static const struct {
		const char *in, *addr;
		uint16_t port;
	} good[] = {
		{"127.0.0.1", "127.0.0.1", 3260},
		{"127.0.0.1:3261", "127.0.0.1", 3261},
		{"0.0.0.0:1", "0.0.0.0", 1},
		{"192.0.2.7:65535", "192.0.2.7", 65535},
		{"[::1]:3260", "::1", 3260},
		{"[::1]", "::1", 3260},
		{"[::]:860", "::", 860},
		{"[2001:db8::42]:3262", "2001:db8::42", 3262},
		{"[::ffff:127.0.0.1]:3260", "::ffff:127.0.0.1", 3260},
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{"", "empty address"},
		{":3260", "empty address"},
		{"[]:3260", "empty address"},
		{"::1", "write an IPv6 address in brackets, e.g. [::1]:3260"},
		{"fe80::1:3260", "write an IPv6 address in brackets"},
		{"localhost:3260",
		 "'localhost' is not a numeric IPv4 address (names are not resolved)"},
		{"127.1", "'127.1' is not a numeric IPv4 address"},
		{"256.0.0.1", "is not a numeric IPv4 address"},
		{"[127.0.0.1]", "'127.0.0.1' is not a numeric IPv6 address"},
		{"[::1", "missing ']' after the IPv6 address"},
		{"[::1]3260", "expected ':PORT' after the address"},
		{"1.2.3.4:0", "port '0' is not a number in 1..65535"},
		{"1.2.3.4:65536", "port '65536' is not a number in 1..65535"},
		{"1.2.3.4:", "port '' is not a number in 1..65535"},
		{"1.2.3.4:x", "port 'x' is not a number in 1..65535"},
		{"1.2.3.4:-1", "port '-1' is not a number"},
		{"[::1]:99999999999999999999999", "is not a number in 1..65535"},
		{"[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee:ffff]",
		 "is too long"},
	};
	struct tgt_portal p;
	char why[256];

	for (unsigned i = 0; i < ARRAY_SIZE(good); i++) {
		memset(&p, 0, sizeof(p));
		p.tpgt = 7;
		assert_int_equal(config_parse_portal(good[i].in, &p, why, sizeof(why)), 0);
		assert_string_equal(p.addr, good[i].addr);
		assert_int_equal(p.port, good[i].port);
		assert_int_equal(p.tpgt, 7); /* untouched */
	}
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		why[0] = '\0';
		assert_int_equal(config_parse_portal(bad[i].in, &p, why, sizeof(why)), -EINVAL);
		assert_contains(why, bad[i].msg);
	}
}

static void test_check_name(void **state)
{
	static const char *const good[] = {
		IQN,
		IQN_I,
		"iqn.2001-04.com.example",
		"iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
		"iqn.2001-04.com.example:storage.tape1.sys1.xyz",
		"iqn.2026-12.a:b",
		"iqn.2026-01.org.example-1.x9:a-b.c:d",
		"eui.02004567A425678D",
		"eui.02004567a425678d",
		"naa.52004567BA64678D",
		"naa.62004567BA64678D0123456789ABCDEF",
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{"", "empty name"},
		{"storage", "an iSCSI name starts with iqn., eui. or naa. (RFC 7143 4.2.7)"},
		{"IQN.2026-01.org.example:x", "the type 'IQN.' must be lowercase"},
		{"Eui.02004567A425678D", "the type 'Eui.' must be lowercase"},
		{"iqn.2026-01.org.Example:x", "iSCSI names are lowercase ('E' is not)"},
		{"iqn.2026-01.org.example:Storage", "iSCSI names are lowercase ('S' is not)"},
		{"iqn.2026-01.org.example:a_b",
		 "character '_' is not allowed (a-z, 0-9, '-', '.', ':')"},
		{"iqn.2026-01.org.example:a b", "character ' ' is not allowed"},
		{"iqn.2026-01.org.example:caf\xc3\xa9", "only ASCII characters are supported"},
		{"iqn.26-01.org.example", "the date after 'iqn.' is not YYYY-MM"},
		{"iqn.2026-1.org.example", "the date after 'iqn.' is not YYYY-MM"},
		{"iqn.2026/01.org.example", "the date after 'iqn.' is not YYYY-MM"},
		{"iqn.", "the date after 'iqn.' is not YYYY-MM"},
		{"iqn.2026-00.org.example", "month 00 is not 01..12"},
		{"iqn.2026-13.org.example", "month 13 is not 01..12"},
		{"iqn.2026-01x.org.example", "expected '.' after the date"},
		{"iqn.2026-01", "the naming authority (a reversed domain) is missing"},
		{"iqn.2026-01.", "the naming authority (a reversed domain) is missing"},
		{"iqn.2026-01.:x", "the naming authority (a reversed domain) is missing"},
		{"iqn.2026-01..org", "empty label in the naming authority"},
		{"iqn.2026-01.org..example", "empty label in the naming authority"},
		{"iqn.2026-01.org.example.", "empty label in the naming authority"},
		{"iqn.2026-01.org.example.:x", "empty label in the naming authority"},
		{"iqn.2026-01.org.example:", "nothing after ':'"},
		{"eui.02004567A425678", "eui. must be followed by 16 hex digits, not 15"},
		{"eui.02004567A425678D0", "eui. must be followed by 16 hex digits, not 17"},
		{"eui.0200456XA425678D", "'X' is not a hex digit (eui. takes hex digits only)"},
		{"naa.5200456", "naa. must be followed by 16 or 32 hex digits, not 7"},
		{"naa.62004567BA64678D01234567", "must be followed by 16 or 32 hex digits, not 24"},
	};
	char why[256], longname[300];

	for (unsigned i = 0; i < ARRAY_SIZE(good); i++) {
		why[0] = '\0';
		if (config_check_name(good[i], why, sizeof(why)))
			fail_msg("%s: %s", good[i], why);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		why[0] = '\0';
		assert_int_equal(config_check_name(bad[i].in, why, sizeof(why)), -EINVAL);
		assert_contains(why, bad[i].msg);
	}
	/* 223 bytes is the longest name (RFC 7143 4.2.7.1). */
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "iqn.2026-01.org.example:", 24);
	longname[223] = '\0';
	assert_int_equal(config_check_name(longname, why, sizeof(why)), 0);
	longname[223] = 'a';
	longname[224] = '\0';
	assert_int_equal(config_check_name(longname, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "longer than 223 bytes (RFC 7143 4.2.7.1)");
}

/* ---- command line ---- */

static void test_args_minimal(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;

	assert_int_equal(PARSE(fx, "--standalone", "--iqn", IQN, "--portal", "127.0.0.1:3260",
			       "--lun", "/var/lib/clusterd/lun0.img,size=1G"),
			 0);
	assert_true(fx->o->standalone);
	assert_false(fx->o->help || fx->o->version || fx->o->debug);
	assert_null(fx->o->config_file);
	assert_null(fx->o->check_config);
	assert_string_equal(c->iqn, IQN);
	assert_int_equal(c->nportals, 1);
	assert_string_equal(c->portals[0].addr, "127.0.0.1");
	assert_int_equal(c->portals[0].port, 3260);
	assert_int_equal(c->portals[0].tpgt, 0); /* not yet derived */
	assert_int_equal(c->nluns, 1);
	assert_string_equal(c->luns[0].path, "/var/lib/clusterd/lun0.img");
	assert_true(c->luns[0].size == 1073741824ULL);
	assert_int_equal(c->luns[0].block_size, 512);
	assert_false(c->luns[0].read_only);
	assert_false(c->luns[0].no_direct);
	assert_true(c->luns[0].lu_id == 0);

	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(c->portals[0].tpgt, 1);
	assert_int_equal(c->portals[0].rel_port_id, 1);
	assert_true(c->luns[0].lu_id == 0xea4adf37ab6be197ULL);
}

static void test_args_every_option(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;

	assert_int_equal(PARSE(fx, "--standalone", "-d", "--iqn", IQN, "--alias", "lab target 1",
			       "--portal", "127.0.0.1", "--portal",
			       "[::1]:3261,tpgt=2,rel_port_id=7", "--lun", "/dev/vdb", "--lun",
			       "/srv/b.img,size=4G,blocksize=4096,ro,direct=no,id=00000000DEADBEEF",
			       "--chap", "alice:0123456789ab:target1:ba9876543210", "--allow",
			       IQN_I, "--allow", "iqn.1994-05.com.redhat:client2", "--reactors",
			       "2", "--max-recv-dsl", "128K", "--max-burst", "2M", "--first-burst",
			       "64K", "--immediate-data", "no", "--initial-r2t", "yes",
			       "--max-outstanding-r2t", "4", "--default-time2wait", "0",
			       "--default-time2retain", "0", "--queue-depth", "64",
			       "--max-sessions", "8", "--nop-interval", "0", "--nop-timeout", "30s",
			       "--login-timeout", "2500ms"),
			 0);
	assert_true(fx->o->standalone);
	assert_true(fx->o->debug);
	assert_true(c->debug);
	assert_string_equal(c->alias, "lab target 1");
	assert_int_equal(c->nportals, 2);
	assert_string_equal(c->portals[1].addr, "::1");
	assert_int_equal(c->portals[1].port, 3261);
	assert_int_equal(c->portals[1].tpgt, 2);
	assert_int_equal(c->portals[1].rel_port_id, 7);
	assert_int_equal(c->nluns, 2);
	assert_true(c->luns[0].size == 0);
	assert_string_equal(c->luns[1].path, "/srv/b.img");
	assert_true(c->luns[1].size == 4ULL << 30);
	assert_int_equal(c->luns[1].block_size, 4096);
	assert_true(c->luns[1].read_only);
	assert_true(c->luns[1].no_direct);
	assert_true(c->luns[1].lu_id == 0xdeadbeefULL);
	assert_true(c->chap.enabled && c->chap.mutual);
	assert_string_equal(c->chap.user, "alice");
	assert_string_equal(c->chap.secret, "0123456789ab");
	assert_string_equal(c->chap.mutual_user, "target1");
	assert_string_equal(c->chap.mutual_secret, "ba9876543210");
	assert_int_equal(c->nallow, 2);
	assert_string_equal(c->allow[1], "iqn.1994-05.com.redhat:client2");
	assert_int_equal(c->reactors, 2);
	assert_int_equal(c->iscsi.max_recv_dsl, 131072);
	assert_int_equal(c->iscsi.max_burst, 2097152);
	assert_int_equal(c->iscsi.first_burst, 65536);
	assert_false(c->iscsi.immediate_data);
	assert_true(c->iscsi.initial_r2t);
	assert_int_equal(c->iscsi.max_outstanding_r2t, 4);
	assert_int_equal(c->iscsi.default_time2wait, 0);
	assert_int_equal(c->iscsi.default_time2retain, 0);
	assert_int_equal(c->iscsi.queue_depth, 64);
	assert_int_equal(c->iscsi.max_sessions, 8);
	assert_int_equal(c->iscsi.nop_interval_ms, 0);
	assert_int_equal(c->iscsi.nop_timeout_ms, 30000);
	assert_int_equal(c->iscsi.login_timeout_ms, 2500);

	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(c->portals[0].tpgt, 1);
	assert_int_equal(c->portals[0].rel_port_id, 1);
	assert_int_equal(c->portals[1].rel_port_id, 7);
	assert_true(c->luns[0].lu_id == 0xea4adf37ab6be197ULL);
	assert_true(c->luns[1].lu_id == 0xdeadbeefULL);
}

/* Each scalar option at both ends of its range, and one past each end. */
static void test_args_scalar_ranges(void **state)
{
	static const struct {
		const char *opt, *lo, *hi, *below, *above, *msg;
	} t[] = {
		{"--reactors", "1", "64", "0", "65", "is not in 1..64"},
		{"--max-recv-dsl", "512", "16777215", "511", "16M",
		 "is not in 512..16777215 bytes"},
		{"--max-burst", "512", "16777215", "511", "16M", "is not in 512..16777215 bytes"},
		{"--first-burst", "512", "16777215", "511", "16M", "is not in 512..16777215 bytes"},
		{"--max-outstanding-r2t", "1", "65535", "0", "65536", "is not in 1..65535"},
		{"--default-time2wait", "0", "3600", NULL, "3601", "3601 s is not in 0..3600 s"},
		{"--default-time2retain", "0", "3600", NULL, "3601", "is not in 0..3600 s"},
		{"--queue-depth", "1", "1024", "0", "1025", "is not in 1..1024"},
		{"--max-sessions", "1", "1024", "0", "1025", "is not in 1..1024"},
		{"--nop-interval", "1s", "3600s", "999", "3601s",
		 "is not 0 (off) or 1000..3600000 ms"},
		{"--nop-timeout", "1000", "3600000", "999", "3600001",
		 "is not in 1000..3600000 ms"},
		{"--login-timeout", "1000", "3600000", "0", "3600001",
		 "is not in 1000..3600000 ms"},
	};
	struct fixture *fx = *state;
	char msg[256];

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		assert_int_equal(PARSE(fx, t[i].opt, t[i].lo), 0);
		assert_int_equal(PARSE(fx, t[i].opt, t[i].hi), 0);
		if (t[i].below) {
			assert_int_equal(PARSE(fx, t[i].opt, t[i].below), -EINVAL);
			snprintf(msg, sizeof(msg), "%s '%s': ", t[i].opt, t[i].below);
			assert_contains(fx->err, msg);
		}
		assert_int_equal(PARSE(fx, t[i].opt, t[i].above), -EINVAL);
		snprintf(msg, sizeof(msg), "%s '%s': ", t[i].opt, t[i].above);
		assert_contains(fx->err, msg);
		assert_contains(fx->err, t[i].msg);
	}
}

static void test_args_errors(void **state)
{
	static const struct {
		const char *args[8];
		const char *msg;
	} t[] = {
		{{"--bogus"}, "unknown or ambiguous option '--bogus' (see --help)"},
		{{"--nop", "5"}, "unknown or ambiguous option '--nop'"},
		{{"-x"}, "unknown option '-x' (see --help)"},
		{{"--standalone=yes"}, "option '--standalone' takes no argument"},
		{{"--debug=1"}, "option '--debug' takes no argument"},
		{{"--portal"}, "option '--portal' needs an argument"},
		{{"-c"}, "option '-c' needs an argument"},
		{{"--portal", "--lun", "/a"}, "option '--portal' needs an argument (got '--lun')"},
		{{"--standalone", "extra"}, "unexpected argument 'extra' (options start with '-')"},
		{{"-c", "/a.ini", "-c", "/b.ini"}, "-c given twice"},
		{{"--check-config", "/a", "--check-config", "/b"}, "--check-config given twice"},
		{{"-c", "/a.ini", "--check-config", "/b.ini"},
		 "give either -c FILE or --check-config FILE, not both"},
		{{"--iqn", "iqn.2026-01.org.Example"},
		 "--iqn 'iqn.2026-01.org.Example': iSCSI names are lowercase ('E' is not)"},
		{{"--iqn", "target0"}, "--iqn 'target0': an iSCSI name starts with"},
		{{"--alias", "a\tb"}, "--alias 'a\tb': control characters are not allowed"},
		{{"--portal", "::1"}, "--portal '::1': '::1': write an IPv6 address in brackets"},
		{{"--portal", "1.2.3.4:0"}, "--portal '1.2.3.4:0': port '0' is not a number"},
		{{"--portal", "1.2.3.4,tpgt=0"}, "--portal '1.2.3.4,tpgt=0': 0 is not in 1..65535"},
		{{"--portal", "1.2.3.4,tpgt=x"}, "'x' is not a decimal number"},
		{{"--portal", "1.2.3.4,rel_port_id=65536"}, "65536 is not in 1..65535"},
		{{"--portal", "1.2.3.4,foo=1"},
		 "unknown option 'foo' (known: tpgt=N, rel_port_id=N)"},
		{{"--portal", "1.2.3.4,address=1.2.3.5"}, "unknown option 'address'"},
		{{"--portal", "1.2.3.4,tpgt"}, "unknown option 'tpgt'"},
		{{"--portal", "1.2.3.4", "--portal", "1.2.3.4:3260"},
		 "--portal '1.2.3.4:3260': 1.2.3.4:3260 is already portal 1"},
		{{"--portal", "1.2.3.4,rel_port_id=3", "--portal", "1.2.3.5,rel_port_id=3"},
		 "rel_port_id 3 is already portal 1's"},
		{{"--lun", "disk.img"}, "--lun 'disk.img': 'disk.img' is not an absolute path"},
		{{"--lun", "/a,size=1X"}, "--lun '/a,size=1X': '1X': unknown suffix 'X'"},
		{{"--lun", "/a,size=1000"}, "size 1000 is not a multiple of the block size 512"},
		{{"--lun", "/a,size=1536,blocksize=4096"},
		 "size 1536 is not a multiple of the block size 4096"},
		{{"--lun", "/a,blocksize=1024"}, "'1024' is not 512 or 4096"},
		{{"--lun", "/a,ro=yes"}, "unknown option 'ro'"},
		{{"--lun", "/a,read-only"},
		 "unknown option 'read-only' (known: size=, blocksize=, ro, direct=, id=)"},
		{{"--lun", "/a,path=/b"}, "unknown option 'path'"},
		{{"--lun", "/a,direct=maybe"}, "'maybe' is not a boolean"},
		{{"--lun", "/a,id=0"}, "id 0 is reserved"},
		{{"--lun", "/a,id=12345678901234567"}, "is not an id of 1 to 16 hex digits"},
		{{"--lun", "/a,id=xyz"}, "'xyz' is not an id of 1 to 16 hex digits"},
		{{"--lun", "/a", "--lun", "/a"}, "--lun '/a': path /a is already LUN 0's"},
		{{"--lun", "/a,id=5", "--lun", "/b,id=0x5"},
		 "id 0x0000000000000005 is already LUN 0's"},
		{{"--chap", "alice"},
		 "--chap: expected USER:SECRET or USER:SECRET:MUTUAL_USER:MUTUAL_SECRET"},
		{{"--chap", "a:0123456789ab:c"}, "--chap: expected USER:SECRET"},
		{{"--chap", "a:0123456789ab:c:ba9876543210:e"}, "--chap: expected USER:SECRET"},
		{{"--chap", ":0123456789ab"}, "--chap: empty user"},
		{{"--chap", "alice:"}, "--chap: empty secret"},
		{{"--chap", "alice:shortsecret"},
		 "--chap: secret is 11 bytes; RFC 7143 9.2.1 requires at least 12 (96 bits)"},
		{{"--chap", "alice:0123456789ab:tgt:short"}, "--chap: secret is 5 bytes"},
		{{"--chap", "alice:0123456789ab:tgt:0123456789ab"},
		 "--chap: the mutual secret must differ from the secret (RFC 7143 9.2.1)"},
		{{"--chap", "alice:0123456789ab", "--chap", "bob:0123456789ab"},
		 "--chap: given twice"},
		{{"--allow", "client1"}, "--allow 'client1': an iSCSI name starts with"},
		{{"--allow", IQN_I, "--allow", IQN_I},
		 "--allow '" IQN_I "': " IQN_I " is already allowed"},
		{{"--queue-depth", "many"}, "--queue-depth 'many': 'many' is not a decimal number"},
		{{"--queue-depth", ""}, "--queue-depth '': '' is not a decimal number"},
		{{"--max-burst", "1Q"}, "--max-burst '1Q': '1Q': unknown suffix 'Q'"},
		{{"--immediate-data", "maybe"},
		 "--immediate-data 'maybe': 'maybe' is not a boolean"},
		{{"--nop-timeout", "5min"}, "--nop-timeout '5min': '5min' is not a time"},
		{{"-c", "/nonexistent/clusterd.ini"},
		 "/nonexistent/clusterd.ini: cannot open: No such file or directory"},
	};
	struct fixture *fx = *state;

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		int r = parse_list(fx, t[i].args);

		if (r == 0)
			fail_msg("row %u (%s ...) parsed", i, t[i].args[0]);
		assert_int_equal(r, strstr(t[i].msg, "cannot open") ? -ENOENT : -EINVAL);
		assert_contains(fx->err, t[i].msg);
		assert_null(strchr(fx->err, '\n'));
		free_file_opts(fx);
	}
}

/* Secrets never appear in messages. */
static void test_args_chap_secret_not_echoed(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(PARSE(fx, "--chap", "alice:Sesame"), -EINVAL);
	assert_null(strstr(fx->err, "Sesame"));
	assert_int_equal(PARSE(fx, "--chap", "alice:0123456789ab:bob:Sesame"), -EINVAL);
	assert_null(strstr(fx->err, "Sesame"));
}

static void test_args_help_version(void **state)
{
	struct fixture *fx = *state;

	/* -h and -V stop everything else: no file read, no validation. */
	assert_int_equal(PARSE(fx, "-h", "-c", "/nonexistent.ini", "--queue-depth", "0"), 0);
	assert_true(fx->o->help);
	free_file_opts(fx);
	assert_int_equal(PARSE(fx, "--help"), 0);
	assert_true(fx->o->help);
	assert_false(fx->o->version);
	assert_int_equal(PARSE(fx, "-V"), 0);
	assert_true(fx->o->version);
	assert_false(fx->o->help);
	assert_int_equal(PARSE(fx, "--version"), 0);
	assert_true(fx->o->version);
	/* but an unknown option is still an error */
	assert_int_equal(PARSE(fx, "--bogus", "-h"), -EINVAL);
	/* getopt_long takes an unambiguous prefix: "--port" is --portal */
	assert_int_equal(PARSE(fx, "--port", "10.0.0.1"), 0);
	assert_int_equal(fx->o->tgt.nportals, 1);
}

static void test_args_no_arguments(void **state)
{
	struct fixture *fx = *state;
	char *argv[] = {"clusterd", NULL};

	assert_int_equal(config_parse_args(fx->o, 1, argv, fx->err, sizeof(fx->err)), 0);
	assert_false(fx->o->standalone);
	assert_int_equal(config_finalize(&fx->o->tgt, fx->err, sizeof(fx->err)), -EINVAL);
	assert_string_equal(fx->err, "no target name: give --iqn NAME or iqn = NAME in [target]");
}

/* ---- finalize ---- */

static void test_finalize_requirements(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;

	assert_int_equal(PARSE(fx, "--iqn", IQN, "--lun", "/a"), 0);
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), -EINVAL);
	assert_string_equal(fx->err, "no portal to listen on: give --portal ADDR[:PORT] (e.g. "
				     "--portal 127.0.0.1:3260) or a [portal] section");
	assert_int_equal(PARSE(fx, "--iqn", IQN, "--portal", "127.0.0.1"), 0);
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), -EINVAL);
	assert_string_equal(fx->err, "no LUN to export: give --lun PATH or a [lun] section");
	assert_int_equal(PARSE(fx, "--first-burst", "2M", "--max-burst", "1M", "--iqn", IQN,
			       "--portal", "127.0.0.1", "--lun", "/a"),
			 0);
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), -EINVAL);
	assert_string_equal(fx->err,
			    "first_burst 2097152 exceeds max_burst 1048576 (RFC 7143 13.14)");
}

/* A config filled by code, not by the parsers, is checked just as strictly. */
static void test_finalize_programmatic(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;
	struct {
		const char *msg;
	} expect[] = {
		{"target name 'iqn.2026-01.ORG': iSCSI names are lowercase"},
		{"max_recv_dsl: 100 bytes is not in 512..16777215 bytes"},
		{"nop_interval: 10 ms is not 0 (off) or 1000..3600000 ms"},
		{"portal 1: '999.0.0.1' is not a numeric IPv4 address"},
		{"portal 1: port 0"},
		{"portal 2: 10.0.0.1:3260 is already portal 1"},
		{"LUN 0: no path"},
		{"LUN 0: 'rel' is not an absolute path"},
		{"LUN 0: block size 1024 is not 512 or 4096"},
		{"LUN 1: path /a is already LUN 0's"},
		{"CHAP needs both a user and a secret"},
		{"CHAP secret is shorter than 12 bytes (RFC 7143 9.2.1)"},
		{"mutual CHAP needs both a mutual user and a mutual secret"},
		{"initiator " IQN_I " is allowed twice"},
		{"allowed initiator 'nobody': an iSCSI name starts with"},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(expect); i++) {
		assert_int_equal(PARSE(fx, "--iqn", IQN, "--portal", "10.0.0.1", "--lun", "/a"), 0);
		switch (i) {
		case 0:
			strcpy(c->iqn, "iqn.2026-01.ORG");
			break;
		case 1:
			c->iscsi.max_recv_dsl = 100;
			break;
		case 2:
			c->iscsi.nop_interval_ms = 10;
			break;
		case 3:
			strcpy(c->portals[0].addr, "999.0.0.1");
			break;
		case 4:
			c->portals[0].port = 0;
			break;
		case 5:
			c->portals[1] = c->portals[0];
			c->nportals = 2;
			break;
		case 6:
			c->luns[0].path[0] = '\0';
			break;
		case 7:
			strcpy(c->luns[0].path, "rel");
			break;
		case 8:
			c->luns[0].block_size = 1024;
			break;
		case 9:
			c->luns[1] = c->luns[0];
			c->nluns = 2;
			break;
		case 10:
			strcpy(c->chap.user, "alice");
			break;
		case 11:
			strcpy(c->chap.user, "alice");
			strcpy(c->chap.secret, "short");
			break;
		case 12:
			strcpy(c->chap.user, "alice");
			strcpy(c->chap.secret, "0123456789ab");
			strcpy(c->chap.mutual_user, "tgt");
			break;
		case 13:
			strcpy(c->allow[0], IQN_I);
			strcpy(c->allow[1], IQN_I);
			c->nallow = 2;
			break;
		case 14:
			strcpy(c->allow[0], "nobody");
			c->nallow = 1;
			break;
		}
		fx->err[0] = '\0';
		assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), -EINVAL);
		assert_contains(fx->err, expect[i].msg);
	}
}

static void test_finalize_block_size_default(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;

	assert_int_equal(PARSE(fx, "--iqn", IQN, "--portal", "10.0.0.1", "--lun", "/a"), 0);
	c->luns[0].block_size = 0; /* filled by code that left it open */
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(c->luns[0].block_size, 512);
}

static void test_finalize_rel_port_ids(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;

	assert_int_equal(PARSE(fx, "--iqn", IQN, "--lun", "/a", "--portal", "10.0.0.1", "--portal",
			       "10.0.0.2", "--portal", "[::1]"),
			 0);
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(c->portals[i].rel_port_id, i + 1);
		assert_int_equal(c->portals[i].tpgt, 1);
	}
	/* Explicit ids are kept; the others take the lowest free ones in order. */
	assert_int_equal(PARSE(fx, "--iqn", IQN, "--lun", "/a", "--portal",
			       "10.0.0.1,rel_port_id=2,tpgt=5", "--portal", "10.0.0.2", "--portal",
			       "10.0.0.3", "--portal", "10.0.0.4,rel_port_id=1"),
			 0);
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(c->portals[0].rel_port_id, 2);
	assert_int_equal(c->portals[0].tpgt, 5);
	assert_int_equal(c->portals[1].rel_port_id, 3);
	assert_int_equal(c->portals[1].tpgt, 1);
	assert_int_equal(c->portals[2].rel_port_id, 4);
	assert_int_equal(c->portals[3].rel_port_id, 1);
	/* finalize twice changes nothing */
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(c->portals[1].rel_port_id, 3);
}

/* The documented derivation, pinned: FNV-1a 64 of "<name>/<lun>". */
static void test_lu_id(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;
	uint64_t first;

	assert_true(config_lu_id_derive(IQN, 0) == 0xea4adf37ab6be197ULL);
	assert_true(config_lu_id_derive(IQN, 1) == 0xea4ade37ab6bdfe4ULL);
	assert_true(config_lu_id_derive(IQN, 0) == config_lu_id_derive(IQN, 0));
	assert_true(config_lu_id_derive(IQN, 0) != config_lu_id_derive(IQN_I, 0));

	assert_int_equal(PARSE(fx, "--iqn", IQN, "--portal", "10.0.0.1", "--lun", "/x/a", "--lun",
			       "/x/b,id=ABCDEF0123456789", "--lun", "/x/c"),
			 0);
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	assert_true(c->luns[0].lu_id == 0xea4adf37ab6be197ULL);
	assert_true(c->luns[1].lu_id == 0xabcdef0123456789ULL);
	assert_true(c->luns[2].lu_id == config_lu_id_derive(IQN, 2));
	first = c->luns[2].lu_id;
	/* The path is not part of it: another node with other paths derives the same id. */
	assert_int_equal(PARSE(fx, "--iqn", IQN, "--portal", "10.0.0.2", "--lun", "/y/a", "--lun",
			       "/y/b", "--lun", "/y/c"),
			 0);
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	assert_true(c->luns[2].lu_id == first);
	assert_true(c->luns[1].lu_id == 0xea4ade37ab6bdfe4ULL);
}

/* ---- INI files ---- */

static const char good_ini[] = "; clusterd test\n"
			       "[target]\n"
			       "iqn = " IQN "\n"
			       "alias = lab target\n"
			       "reactors = 2\n"
			       "queue_depth = 64\n"
			       "max_burst = 512K\n"
			       "first_burst = 128K\n"
			       "immediate_data = off\n"
			       "nop_interval = 2s\n"
			       "debug = true\n"
			       "\n"
			       "[portal]\n"
			       "address = 127.0.0.1:3260\n"
			       "# a comment\n"
			       "[portal]\n"
			       "  address = [::1]:3261   ; indented, inline comment\n"
			       "  tpgt = 3\n"
			       "\n"
			       "[lun]\n"
			       "path = /var/lib/clusterd/lun0.img\n"
			       "size = 1G\n"
			       "blocksize = 512\n"
			       "read_only = no\n"
			       "[lun]\n"
			       "path = /var/lib/clusterd/lun1.img\n"
			       "blocksize = 4096\n"
			       "read_only = yes\n"
			       "direct = no\n"
			       "id = 0123456789abcdef\n"
			       "[ lun ]\n"
			       "path: /dev/sdz\n"
			       "[chap]\n"
			       "user = iqn.1994-05.com.redhat:client1\n"
			       "secret = 0123456789abcdef\n"
			       "[acl]\n"
			       "allow = " IQN_I "\n"
			       "allow = iqn.1994-05.com.redhat:client2\n"
			       "[acl]\n"
			       "allow = iqn.1994-05.com.redhat:client3\n";

static void test_ini_good(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;

	write_file(fx->path, good_ini);
	tgt_config_defaults(c);
	assert_int_equal(config_load_ini(c, fx->path, fx->err, sizeof(fx->err)), 0);
	assert_string_equal(c->iqn, IQN);
	assert_string_equal(c->alias, "lab target");
	assert_int_equal(c->reactors, 2);
	assert_int_equal(c->iscsi.queue_depth, 64);
	assert_int_equal(c->iscsi.max_burst, 524288);
	assert_int_equal(c->iscsi.first_burst, 131072);
	assert_false(c->iscsi.immediate_data);
	assert_int_equal(c->iscsi.nop_interval_ms, 2000);
	assert_int_equal(c->iscsi.max_recv_dsl, 262144); /* default kept */
	assert_true(c->debug);
	assert_int_equal(c->nportals, 2);
	assert_string_equal(c->portals[0].addr, "127.0.0.1");
	assert_string_equal(c->portals[1].addr, "::1");
	assert_int_equal(c->portals[1].port, 3261);
	assert_int_equal(c->portals[1].tpgt, 3);
	assert_int_equal(c->nluns, 3);
	assert_true(c->luns[0].size == 1ULL << 30);
	assert_false(c->luns[0].read_only);
	assert_int_equal(c->luns[1].block_size, 4096);
	assert_true(c->luns[1].read_only);
	assert_true(c->luns[1].no_direct);
	assert_true(c->luns[1].lu_id == 0x0123456789abcdefULL);
	assert_string_equal(c->luns[2].path, "/dev/sdz");
	assert_int_equal(c->luns[2].block_size, 512);
	assert_true(c->chap.enabled);
	assert_false(c->chap.mutual);
	assert_string_equal(c->chap.user, "iqn.1994-05.com.redhat:client1");
	assert_int_equal(c->nallow, 3);
	assert_string_equal(c->allow[2], "iqn.1994-05.com.redhat:client3");

	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(c->portals[0].tpgt, 1);
	assert_int_equal(c->portals[1].rel_port_id, 2);
	assert_true(c->luns[2].lu_id == config_lu_id_derive(IQN, 2));
}

/* Each error names the file, the line and (for keys) the key and section. */
static void test_ini_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg; /* after "PATH:" */
	} t[] = {
		{"iqn = " IQN "\n", "1: key 'iqn' outside any section (start with [target])"},
		{"[target]\niqn = " IQN "\n[targets]\n",
		 "3: unknown section [targets] (known: target, portal, lun, chap, acl)"},
		{"[target]\n[lun\npath = /a\n", "2: syntax error: missing ']'"},
		{"[target]\niqn\n",
		 "2: syntax error: expected 'key = value', '[section]' or a comment"},
		{"[target]\n\n\nfoo = 1\n",
		 "4: key 'foo' in [target]: unknown key (known: iqn, alias, debug, or a tuning key "
		 "from --help)"},
		{"[target]\niqn = IQN.2026-01.org.x\n",
		 "2: key 'iqn' in [target]: the type 'IQN.' must be lowercase"},
		{"[target]\niqn = " IQN "\niqn = " IQN_I "\n",
		 "3: key 'iqn' in [target]: given twice (first on line 2)"},
		{"[target]\nalias =\n", "2: key 'alias' in [target]: no value"},
		{"[target]\nqueue_depth = 0\n",
		 "2: key 'queue_depth' in [target]: 0 is not in 1..1024"},
		{"[target]\nmax_recv_dsl = 32M\n",
		 "2: key 'max_recv_dsl' in [target]: 33554432 bytes is not in 512..16777215 bytes"},
		{"[target]\nmax_burst = 1X\n",
		 "2: key 'max_burst' in [target]: '1X': unknown suffix 'X'"},
		{"[target]\nimmediate_data = sometimes\n",
		 "2: key 'immediate_data' in [target]: 'sometimes' is not a boolean"},
		{"[target]\nnop_timeout = 5 s\n",
		 "2: key 'nop_timeout' in [target]: '5 s' is not a time"},
		{"[target]\ndebug = 2\n", "2: key 'debug' in [target]: '2' is not a boolean"},
		{"[target]\n[target]\n", "2: [target] appears twice (first on line 1)"},
		{"[portal]\naddress = ::1\n",
		 "2: key 'address' in [portal]: '::1': write an IPv6 address in brackets"},
		{"[portal]\naddress = 127.0.0.1\nport = 3260\n",
		 "3: key 'port' in [portal]: unknown key (known: address, tpgt, rel_port_id)"},
		{"[portal]\ntpgt = 0\n", "2: key 'tpgt' in [portal]: 0 is not in 1..65535"},
		{"[portal]\ntpgt = 1\n[lun]\n", "1: [portal]: no 'address' in this section"},
		{"[portal]\ntpgt = 1\n", "1: [portal]: no 'address' in this section"},
		{"[portal]\naddress = 127.0.0.1\n\n[portal]\naddress = 127.0.0.1:3260\n",
		 "4: [portal]: 127.0.0.1:3260 is already portal 1"},
		{"[lun]\npath = /a\n[lun]\nsize = 1G\n", "3: [lun] (LUN 1): no path"},
		{"[lun]\n", "1: [lun] (LUN 0): no path"},
		{"[lun]\npath = relative.img\n",
		 "2: key 'path' in [lun]: 'relative.img' is not an absolute path"},
		{"[lun]\npath = /a\nsize = 1000\n",
		 "1: [lun] (LUN 0): size 1000 is not a multiple of the block size 512"},
		{"[lun]\npath = /a\nsize = 6K\nblocksize = 4096\n[target]\n",
		 "1: [lun] (LUN 0): size 6144 is not a multiple of the block size 4096"},
		{"[lun]\npath = /a\nblocksize = 520\n",
		 "3: key 'blocksize' in [lun]: '520' is not 512 or 4096"},
		{"[lun]\npath = /a\nread_only = perhaps\n",
		 "3: key 'read_only' in [lun]: 'perhaps' is not a boolean"},
		{"[lun]\npath = /a\nro = yes\n", "3: key 'ro' in [lun]: unknown key (known: path, "
						 "size, blocksize, read_only, direct, "
						 "id)"},
		{"[lun]\npath = /a\npath = /b\n",
		 "3: key 'path' in [lun]: given twice (first on line 2)"},
		{"[lun]\npath = /a\nid = 0\n", "3: key 'id' in [lun]: id 0 is reserved"},
		{"[lun]\npath = /a\n[lun]\npath = /a\n",
		 "3: [lun] (LUN 1): path /a is already LUN 0's"},
		{"[chap]\nuser = alice\n", "1: [chap]: CHAP needs both a user and a secret"},
		{"[chap]\nuser = alice\nsecret = 12345678901\n",
		 "3: key 'secret' in [chap]: secret is 11 bytes; RFC 7143 9.2.1 requires at least "
		 "12"},
		{"[chap]\nuser = a\nsecret = 0123456789ab\nmutual_user = t\n",
		 "1: [chap]: mutual CHAP needs both a mutual user and a mutual secret"},
		{"[chap]\nuser = a\nsecret = 0123456789ab\nmutual_user = t\n"
		 "mutual_secret = 0123456789ab\n",
		 "1: [chap]: the mutual secret must differ from the secret"},
		{"[chap]\nname = a\n", "2: key 'name' in [chap]: unknown key (known: user, secret, "
				       "mutual_user, mutual_secret)"},
		{"[chap]\nuser = a\nsecret = 0123456789ab\n[chap]\n",
		 "4: [chap] appears twice (first on line 1)"},
		{"[acl]\nallow = " IQN_I "\nallow = nobody\n",
		 "3: key 'allow' in [acl]: an iSCSI name starts with"},
		{"[acl]\nallow = " IQN_I "\n[acl]\nallow = " IQN_I "\n",
		 "4: key 'allow' in [acl]: " IQN_I " is already allowed"},
		{"[acl]\ndeny = " IQN_I "\n", "2: key 'deny' in [acl]: unknown key (known: allow)"},
	};
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;
	char msg[600];

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		write_file(fx->path, t[i].text);
		tgt_config_defaults(c);
		fx->err[0] = '\0';
		if (config_load_ini(c, fx->path, fx->err, sizeof(fx->err)) != -EINVAL)
			fail_msg("row %u loaded: %s", i, t[i].text);
		snprintf(msg, sizeof(msg), "%s:%s", fx->path, t[i].msg);
		if (strncmp(fx->err, msg, strlen(msg)))
			fail_msg("row %u:\n got  %s\n want %s", i, fx->err, msg);
		assert_null(strchr(fx->err, '\n'));
	}
}

static void test_ini_missing_file(void **state)
{
	struct fixture *fx = *state;

	tgt_config_defaults(&fx->o->tgt);
	assert_int_equal(
		config_load_ini(&fx->o->tgt, "/nonexistent/x.ini", fx->err, sizeof(fx->err)),
		-ENOENT);
	assert_string_equal(fx->err, "/nonexistent/x.ini: cannot open: No such file or directory");
	assert_int_equal(config_load_ini(&fx->o->tgt, fx->dir, fx->err, sizeof(fx->err)) < 0, 1);
}

/* Many repeated sections, an empty-looking one, and the limits. */
static void test_ini_repeated_sections(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;
	char *text = malloc(64 * 1024), line[128];
	char msg[256];

	assert_non_null(text);
	text[0] = '\0';
	for (unsigned i = 0; i < TGT_MAX_LUNS; i++) {
		snprintf(line, sizeof(line), "[lun]\npath = /luns/%u\n", i);
		strcat(text, line);
	}
	write_file(fx->path, text);
	tgt_config_defaults(c);
	assert_int_equal(config_load_ini(c, fx->path, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(c->nluns, TGT_MAX_LUNS);
	assert_string_equal(c->luns[63].path, "/luns/63");
	strcat(text, "[lun]\npath = /luns/64\n");
	write_file(fx->path, text);
	tgt_config_defaults(c);
	assert_int_equal(config_load_ini(c, fx->path, fx->err, sizeof(fx->err)), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:%u: more than 64 [lun] sections", fx->path,
		 2 * TGT_MAX_LUNS + 1);
	assert_string_equal(fx->err, msg);

	text[0] = '\0';
	for (unsigned i = 0; i <= TGT_MAX_PORTALS; i++) {
		snprintf(line, sizeof(line), "[portal]\naddress = 10.0.0.%u\n", i + 1);
		strcat(text, line);
	}
	write_file(fx->path, text);
	tgt_config_defaults(c);
	assert_int_equal(config_load_ini(c, fx->path, fx->err, sizeof(fx->err)), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:%u: more than 16 [portal] sections", fx->path,
		 2 * TGT_MAX_PORTALS + 1);
	assert_string_equal(fx->err, msg);
	free(text);
}

static void test_ini_long_lines(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;
	char *text = malloc(3 * CONFIG_INI_LINE_MAX);
	char msg[256];
	size_t n;

	assert_non_null(text);
	/* The longest path fits on one line. */
	n = (size_t)sprintf(text, "[lun]\npath = /");
	memset(text + n, 'p', TGT_PATH_MAX - 2);
	strcpy(text + n + TGT_PATH_MAX - 2, "\n");
	write_file(fx->path, text);
	tgt_config_defaults(c);
	assert_int_equal(config_load_ini(c, fx->path, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(strlen(c->luns[0].path), TGT_PATH_MAX - 1);
	/* One byte more is too long for the field. */
	strcpy(text + n + TGT_PATH_MAX - 2, "p\n");
	write_file(fx->path, text);
	tgt_config_defaults(c);
	assert_int_equal(config_load_ini(c, fx->path, fx->err, sizeof(fx->err)), -EINVAL);
	assert_contains(fx->err, ":2: key 'path' in [lun]: longer than 4095 bytes");
	/* A line longer than the reader takes is refused, not split. */
	n = (size_t)sprintf(text, "[target]\n\nalias = ");
	memset(text + n, 'a', CONFIG_INI_LINE_MAX);
	strcpy(text + n + CONFIG_INI_LINE_MAX, "\n");
	write_file(fx->path, text);
	tgt_config_defaults(c);
	assert_int_equal(config_load_ini(c, fx->path, fx->err, sizeof(fx->err)), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:3: line longer than %d bytes", fx->path,
		 CONFIG_INI_LINE_MAX - 1);
	assert_string_equal(fx->err, msg);
	free(text);
}

/* inih's globals are put back after a load. */
static void test_ini_restores_inih_globals(void **state)
{
	struct fixture *fx = *state;
	bool ml = ini_allow_multiline, stop = ini_stop_on_first_error;
	int max = ini_max_line;

	write_file(fx->path, good_ini);
	tgt_config_defaults(&fx->o->tgt);
	assert_int_equal(config_load_ini(&fx->o->tgt, fx->path, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(ini_allow_multiline, ml);
	assert_int_equal(ini_stop_on_first_error, stop);
	assert_int_equal(ini_max_line, max);
}

static void test_ini_bom_and_crlf(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;

	write_file(fx->path, "\xEF\xBB\xBF[target]\r\niqn = " IQN "\r\n[lun]\r\npath = /a\r\n");
	tgt_config_defaults(c);
	assert_int_equal(config_load_ini(c, fx->path, fx->err, sizeof(fx->err)), 0);
	assert_string_equal(c->iqn, IQN);
	assert_int_equal(c->nluns, 1);
	assert_string_equal(c->luns[0].path, "/a");
}

/* The command line wins over the file; list options replace the file's list. */
static void test_ini_overrides(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt;

	write_file(fx->path, good_ini);
	assert_int_equal(PARSE(fx, "--queue-depth", "32", "-c", fx->path, "--portal", "10.9.9.9",
			       "--alias", "cli"),
			 0);
	assert_string_equal(fx->o->config_file, fx->path);
	assert_int_equal(c->iscsi.queue_depth, 32); /* file said 64 */
	assert_int_equal(c->reactors, 2);	    /* from the file */
	assert_string_equal(c->alias, "cli");	    /* file said "lab target" */
	assert_int_equal(c->nportals, 1);	    /* file had 2 */
	assert_string_equal(c->portals[0].addr, "10.9.9.9");
	assert_int_equal(c->nluns, 3); /* from the file */
	assert_int_equal(c->nallow, 3);
	assert_true(fx->o->debug); /* debug = true in the file */
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	free_file_opts(fx);

	assert_int_equal(PARSE(fx, "-c", fx->path, "--lun", "/only", "--allow", IQN, "--chap",
			       "bob:abcdefghijklmnop", "--iqn", "iqn.2026-02.net.other"),
			 0);
	assert_int_equal(c->nluns, 1);
	assert_string_equal(c->luns[0].path, "/only");
	assert_int_equal(c->nportals, 2);
	assert_int_equal(c->nallow, 1);
	assert_string_equal(c->allow[0], IQN);
	assert_string_equal(c->chap.user, "bob");
	assert_string_equal(c->iqn, "iqn.2026-02.net.other");
	free_file_opts(fx);

	/* --check-config reads its file the same way. */
	assert_int_equal(PARSE(fx, "--check-config", fx->path, "--reactors", "3"), 0);
	assert_string_equal(fx->o->check_config, fx->path);
	assert_null(fx->o->config_file);
	assert_int_equal(c->nluns, 3);
	assert_int_equal(c->reactors, 3);
	free_file_opts(fx);

	/* Errors in the file come back from config_parse_args with their line. */
	write_file(fx->path, "[target]\nreactors = 0\n");
	assert_int_equal(PARSE(fx, "-c", fx->path, "--reactors", "2"), -EINVAL);
	assert_contains(fx->err, ":2: key 'reactors' in [target]: 0 is not in 1..64");
	free_file_opts(fx);
}

/* config_print writes a file that reads back to the same configuration. */
static void test_print_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct tgt_config *c = &fx->o->tgt, *back = calloc(1, sizeof(*back));
	FILE *f;

	assert_non_null(back);
	write_file(fx->path, good_ini);
	assert_int_equal(PARSE(fx, "-c", fx->path, "--chap", "alice:0123456789ab:tgt:ba9876543210",
			       "--max-recv-dsl", "123456", "--nop-timeout", "7000"),
			 0);
	free_file_opts(fx);
	assert_int_equal(config_finalize(c, fx->err, sizeof(fx->err)), 0);
	f = fopen(fx->path, "w");
	assert_non_null(f);
	config_print(f, c, true);
	assert_int_equal(fclose(f), 0);
	tgt_config_defaults(back);
	if (config_load_ini(back, fx->path, fx->err, sizeof(fx->err)))
		fail_msg("%s", fx->err);
	assert_int_equal(config_finalize(back, fx->err, sizeof(fx->err)), 0);
	assert_memory_equal(c, back, sizeof(*c));

	/* Without show_secrets no secret is written. */
	f = fopen(fx->path, "w");
	assert_non_null(f);
	config_print(f, c, false);
	assert_int_equal(fclose(f), 0);
	{
		char buf[8192];
		size_t n;

		f = fopen(fx->path, "r");
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		assert_null(strstr(buf, "\nsecret"));
		assert_null(strstr(buf, "\nmutual_secret"));
		assert_null(strstr(buf, "ba9876543210"));
		assert_contains(buf, "; secret: 12 bytes, not shown");
		assert_contains(buf, "size = 1G\n");
		assert_contains(buf, "max_recv_dsl = 123456\n");
		assert_contains(buf, "max_burst = 512K\n");
		assert_contains(buf, "; id: FNV-1a 64 of \"" IQN "/0\"\nid = ea4adf37ab6be197\n");
		/* an explicit id gets no such comment */
		assert_contains(buf, "direct = no\nid = 0123456789abcdef\n");
	}
	free(back);
}

/* ---- --help ---- */

static char *help_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	config_print_help(f, "clusterd");
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_help_mentions_every_option(void **state)
{
	char *help = help_text(), name[64];

	for (const struct option *o = config_long_options; o->name; o++) {
		snprintf(name, sizeof(name), "--%s", o->name);
		assert_contains(help, name);
		if (o->val < 0x100) {
			snprintf(name, sizeof(name), "-%c, --%s", o->val, o->name);
			assert_contains(help, name);
		}
	}
	assert_contains(help, "Usage: clusterd ");
	assert_contains(help, "EXIT STATUS");
	assert_contains(help, "SIGTERM");
	assert_contains(help, "EXAMPLES");
	assert_contains(help, "[target]");
	assert_contains(help, "[portal]");
	assert_contains(help, "[lun]");
	assert_contains(help, "[chap]");
	assert_contains(help, "[acl]");
	/* defaults are spelled out */
	assert_contains(help, "Default: 256K");
	assert_contains(help, "Default: 128.");
	assert_contains(help, "Default: 10000 ms.");
	/* no line wider than 80 columns */
	for (char *line = help, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		if (nl - line > 80)
			fail_msg("help line too wide: %.*s", (int)(nl - line), line);
	}
	free(help);
}

/* The manual documents every long option and every INI key. */
static void test_manual_mentions_every_option(void **state)
{
	static const char *const keys[] = {
		"iqn",
		"alias",
		"debug",
		"address",
		"tpgt",
		"rel_port_id",
		"path",
		"size",
		"blocksize",
		"read_only",
		"direct",
		"id",
		"user",
		"secret",
		"mutual_user",
		"mutual_secret",
		"allow",
		"reactors",
		"max_recv_dsl",
		"max_burst",
		"first_burst",
		"immediate_data",
		"initial_r2t",
		"max_outstanding_r2t",
		"default_time2wait",
		"default_time2retain",
		"queue_depth",
		"max_sessions",
		"nop_interval",
		"nop_timeout",
		"login_timeout",
	};
	char exe[PATH_MAX], path[PATH_MAX + 64], *doc, name[64], *slash;
	FILE *f = fopen("docs/clusterd.8.md", "r");
	ssize_t n;

	if (!f) { /* run from elsewhere: build/tests/test_config -> docs/ */
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		assert_true(n > 0);
		exe[n] = '\0';
		for (int up = 0; up < 3 && (slash = strrchr(exe, '/')); up++)
			*slash = '\0';
		snprintf(path, sizeof(path), "%s/docs/clusterd.8.md", exe);
		f = fopen(path, "r");
	}
	if (!f)
		fail_msg("docs/clusterd.8.md not found (run from the source tree)");
	doc = calloc(1, 256 * 1024);
	assert_non_null(doc);
	assert_true(fread(doc, 1, 256 * 1024 - 1, f) > 0);
	fclose(f);
	for (const struct option *o = config_long_options; o->name; o++) {
		snprintf(name, sizeof(name), "--%s", o->name);
		assert_contains(doc, name);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(keys); i++) {
		snprintf(name, sizeof(name), "`%s`", keys[i]);
		assert_contains(doc, name);
	}
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_bool_and_ms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_portal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_minimal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_every_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_scalar_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_chap_secret_not_echoed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_help_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_no_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_requirements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_programmatic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_block_size_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_rel_port_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lu_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_repeated_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_restores_inih_globals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_bom_and_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_round_trip, setup, teardown),
		cmocka_unit_test(test_help_mentions_every_option),
		cmocka_unit_test(test_manual_mentions_every_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
