/* SPDX-License-Identifier: MIT */
/*
 * Configuration front end: command line and INI file into struct tgt_config.
 *
 * One vocabulary serves both inputs: an INI key "max_burst" in [target] is the
 * option "--max-burst"; the keys of a [lun] or [portal] section are the
 * ",key=value" suffixes of --lun and --portal. Values are checked where they
 * are read (so an error can name the option, or the file, line and key);
 * relations between items (duplicates, first_burst <= max_burst) are checked
 * again in config_finalize(), which also fills in what was left open.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <ini.h>

#include "lib/compiler.h"
#include "clusterd/config.h"

#define WHY_MAX		256
#define NAME_LEN_MAX	(TGT_NAME_MAX - 1) /* 223 bytes, RFC 7143 4.2.7.1 */
#define CHAP_SECRET_MIN 12		   /* 96 bits, RFC 7143 9.2.1 */

/* ---- the scalar settings: [target] keys and their --options ---- */

enum cfg_type {
	CT_UINT,  /* plain decimal number */
	CT_BYTES, /* decimal with optional K/M/G/T */
	CT_SECS,  /* plain decimal number of seconds */
	CT_MS,	  /* milliseconds: N, Nms, Ns */
	CT_BOOL,
};

/*
 * X(ID, ini key, long option, type, field, min, max, 0 also allowed, metavar, help)
 * Ranges of the iSCSI keys are those of RFC 7143 13.
 */
#define CFG_SCALARS(X)                                                                             \
	X(REACTORS, "reactors", "reactors", CT_UINT, reactors, 1, 64, false, "N",                  \
	  "Event-loop threads, each with its own io_uring and its own connections; "               \
	  "this release runs exactly 1 and refuses more at start.")                                \
	X(MAX_RECV_DSL, "max_recv_dsl", "max-recv-dsl", CT_BYTES, iscsi.max_recv_dsl, 512,         \
	  16777215, false, "BYTES",                                                                \
	  "MaxRecvDataSegmentLength the target declares: the largest data segment "                \
	  "it accepts in one PDU (RFC~7143~13.12).")                                               \
	X(MAX_BURST, "max_burst", "max-burst", CT_BYTES, iscsi.max_burst, 512, 16777215, false,    \
	  "BYTES",                                                                                 \
	  "MaxBurstLength offered: the largest write burst per R2T, or read "                      \
	  "sequence (RFC~7143~13.13).")                                                            \
	X(FIRST_BURST, "first_burst", "first-burst", CT_BYTES, iscsi.first_burst, 512, 16777215,   \
	  false, "BYTES",                                                                          \
	  "FirstBurstLength offered: unsolicited write data per command (RFC~7143~"                \
	  "13.14). At most max-burst.")                                                            \
	X(IMMEDIATE_DATA, "immediate_data", "immediate-data", CT_BOOL, iscsi.immediate_data, 0, 1, \
	  false, "yes|no", "ImmediateData offered (RFC~7143~13.11).")                              \
	X(INITIAL_R2T, "initial_r2t", "initial-r2t", CT_BOOL, iscsi.initial_r2t, 0, 1, false,      \
	  "yes|no", "InitialR2T offered (RFC~7143~13.10); no lets writes start unsolicited.")      \
	X(MAX_OUTSTANDING_R2T, "max_outstanding_r2t", "max-outstanding-r2t", CT_UINT,              \
	  iscsi.max_outstanding_r2t, 1, 65535, false, "N",                                         \
	  "MaxOutstandingR2T offered: R2Ts in flight per command (RFC~7143~13.17).")               \
	X(DEFAULT_TIME2WAIT, "default_time2wait", "default-time2wait", CT_SECS,                    \
	  iscsi.default_time2wait, 0, 3600, false, "SECONDS",                                      \
	  "DefaultTime2Wait offered: seconds before reconnecting after a drop "                    \
	  "(RFC~7143~13.15).")                                                                     \
	X(DEFAULT_TIME2RETAIN, "default_time2retain", "default-time2retain", CT_SECS,              \
	  iscsi.default_time2retain, 0, 3600, false, "SECONDS",                                    \
	  "DefaultTime2Retain offered (RFC~7143~13.16).")                                          \
	X(QUEUE_DEPTH, "queue_depth", "queue-depth", CT_UINT, iscsi.queue_depth, 1, 1024, false,   \
	  "N",                                                                                     \
	  "Commands a session may have outstanding: the CmdSN window "                             \
	  "(RFC~7143~4.2.2.1).")                                                                   \
	X(MAX_SESSIONS, "max_sessions", "max-sessions", CT_UINT, iscsi.max_sessions, 1, 1024,      \
	  false, "N", "Sessions the target accepts at once; further logins are refused.")          \
	X(NOP_INTERVAL, "nop_interval", "nop-interval", CT_MS, iscsi.nop_interval_ms, 1000,        \
	  3600000, true, "MS",                                                                     \
	  "Idle time after which the target pings a connection with NOP-In "                       \
	  "(RFC~7143~11.19); 0 turns pings off.")                                                  \
	X(NOP_TIMEOUT, "nop_timeout", "nop-timeout", CT_MS, iscsi.nop_timeout_ms, 1000, 3600000,   \
	  false, "MS", "A NOP-In unanswered for this long closes the connection.")                 \
	X(LOGIN_TIMEOUT, "login_timeout", "login-timeout", CT_MS, iscsi.login_timeout_ms, 1000,    \
	  3600000, false, "MS", "A login not completed in this time closes the connection.")

struct cfg_scalar {
	const char *key;
	const char *opt;
	enum cfg_type type;
	size_t off;
	size_t size;
	uint64_t min, max;
	bool zero_ok;
	const char *metavar;
	const char *help;
};

#define FIELD_SIZE(f) sizeof(((struct tgt_config *)0)->f)
#define X_SCALAR(id, k, o, t, field, lo, hi, zero, mv, h)                                          \
	{.key = k,                                                                                 \
	 .opt = o,                                                                                 \
	 .type = t,                                                                                \
	 .off = offsetof(struct tgt_config, field),                                                \
	 .size = FIELD_SIZE(field),                                                                \
	 .min = lo,                                                                                \
	 .max = hi,                                                                                \
	 .zero_ok = zero,                                                                          \
	 .metavar = mv,                                                                            \
	 .help = h},
static const struct cfg_scalar cfg_scalars[] = {CFG_SCALARS(X_SCALAR)};

/* The accessors below handle bool, 16- and 32-bit fields. */
#define X_ASSERT(id, key, opt, type, field, ...)                                                   \
	_Static_assert(type == CT_BOOL ? FIELD_SIZE(field) == sizeof(bool)                         \
				       : FIELD_SIZE(field) == 2 || FIELD_SIZE(field) == 4,         \
		       key);
CFG_SCALARS(X_ASSERT)

#define X_ENUM(id, ...) SC_##id,
enum { CFG_SCALARS(X_ENUM) SC_COUNT };

enum {
	OPT_STANDALONE = 0x100,
	OPT_CHECK_CONFIG,
	OPT_IQN,
	OPT_ALIAS,
	OPT_PORTAL,
	OPT_LUN,
	OPT_CHAP,
	OPT_ALLOW,
	OPT_SCALAR = 0x200, /* + index into cfg_scalars */
};

#define X_OPTION(id, key, opt, ...) {opt, required_argument, NULL, OPT_SCALAR + SC_##id},
const struct option config_long_options[] = {
	{"standalone", no_argument, NULL, OPT_STANDALONE},
	{"config", required_argument, NULL, 'c'},
	{"check-config", required_argument, NULL, OPT_CHECK_CONFIG},
	{"debug", no_argument, NULL, 'd'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"iqn", required_argument, NULL, OPT_IQN},
	{"alias", required_argument, NULL, OPT_ALIAS},
	{"portal", required_argument, NULL, OPT_PORTAL},
	{"lun", required_argument, NULL, OPT_LUN},
	{"chap", required_argument, NULL, OPT_CHAP},
	{"allow", required_argument, NULL, OPT_ALLOW},
	CFG_SCALARS(X_OPTION){NULL, 0, NULL, 0},
};

/* '+': stop at the first non-option (and leave argv alone); ':': report missing arguments. */
static const char cfg_short_opts[] = "+:c:dhV";

/* ---- defaults ---- */

void tgt_config_defaults(struct tgt_config *c)
{
	memset(c, 0, sizeof(*c));
	c->reactors = 1;
	c->iscsi.max_recv_dsl = 256 * 1024;
	c->iscsi.max_burst = 1024 * 1024;
	c->iscsi.first_burst = 256 * 1024;
	c->iscsi.immediate_data = true;
	c->iscsi.initial_r2t = false;
	/* What open-iscsi offers; a 1 MiB burst already covers a typical write in one R2T. */
	c->iscsi.max_outstanding_r2t = 1;
	c->iscsi.default_time2wait = 2;	   /* RFC 7143 13.15 default */
	c->iscsi.default_time2retain = 20; /* RFC 7143 13.16 default */
	c->iscsi.queue_depth = 128;
	c->iscsi.max_sessions = 64;
	c->iscsi.nop_interval_ms = 5000;
	/*
	 * Longer than open-iscsi's noop_out_timeout (5 s): the initiator, which
	 * drives dm-multipath, should notice a dead path first; the target only
	 * reclaims connections the initiator has already given up on.
	 */
	c->iscsi.nop_timeout_ms = 10000;
	c->iscsi.login_timeout_ms = 15000;
}

/* ---- small helpers ---- */

int config_fail(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int config_copy_str(char *dst, size_t cap, const char *val, char *why, size_t n)
{
	size_t len = strlen(val);

	if (len >= cap)
		return config_fail(why, n, "longer than %zu bytes", cap - 1);
	/* zero-filled, so that equal configs compare equal byte for byte */
	memcpy(dst, val, len);
	memset(dst + len, 0, cap - len);
	return 0;
}

bool config_str_has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Decimal digits only: strtoull alone would take spaces, signs and "0x". */
static int parse_decimal(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*end = s;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, uint64_t *out, char *why, size_t n)
{
	const char *end;
	int r = parse_decimal(s, &end, out);

	if (r == -ERANGE)
		return config_fail(why, n, "'%s' is too large", s);
	if (r || *end)
		return config_fail(why, n, "'%s' is not a decimal number", s);
	return 0;
}

int config_parse_size(const char *s, uint64_t *out, char *why, size_t n)
{
	static const char suffixes[] = "KMGT";
	const char *end, *sfx;
	uint64_t v;
	unsigned shift;
	int r = parse_decimal(s, &end, &v);

	if (r == -ERANGE)
		return config_fail(why, n, "'%s' is too large", s);
	if (r)
		return config_fail(why, n,
				   "'%s' is not a size (digits with an optional K, M, G or T)", s);
	if (!*end) {
		*out = v;
		return 0;
	}
	sfx = strchr(suffixes, toupper((unsigned char)*end));
	if (!sfx || end[1])
		return config_fail(why, n,
				   "'%s': unknown suffix '%s' (use K, M, G or T: powers of 1024)",
				   s, end);
	shift = 10 * (unsigned)(sfx - suffixes + 1);
	if (v > (UINT64_MAX >> shift))
		return config_fail(why, n, "'%s' is too large", s);
	*out = v << shift;
	return 0;
}

int config_parse_bool(const char *s, bool *out, char *why, size_t n)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return 0;
		}
	}
	return config_fail(why, n, "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)", s);
}

int config_parse_ms(const char *s, uint32_t *out, char *why, size_t n)
{
	const char *end;
	uint64_t v, mul = 1;
	int r = parse_decimal(s, &end, &v);

	if (r == -ERANGE)
		return config_fail(why, n, "'%s' is too large", s);
	if (!r && !strcmp(end, "s"))
		mul = 1000;
	else if (!r && *end && strcmp(end, "ms"))
		r = -EINVAL;
	if (r)
		return config_fail(why, n, "'%s' is not a time (milliseconds: N, Nms or Ns)", s);
	if (v > UINT32_MAX / mul)
		return config_fail(why, n, "'%s' is too large", s);
	*out = (uint32_t)(v * mul);
	return 0;
}

static int parse_hex_id(const char *s, uint64_t *out, char *why, size_t n)
{
	const char *p = s;
	uint64_t v = 0;
	size_t digits = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; isxdigit((unsigned char)*p); p++, digits++) {
		int d = isdigit((unsigned char)*p) ? *p - '0'
						   : tolower((unsigned char)*p) - 'a' + 10;

		v = (v << 4) | (uint64_t)d;
	}
	if (*p || digits == 0 || digits > 16)
		return config_fail(why, n, "'%s' is not an id of 1 to 16 hex digits", s);
	if (v == 0)
		return config_fail(why, n,
				   "id 0 is reserved (leave the id out to have one derived)");
	*out = v;
	return 0;
}

static int parse_port_number(const char *s, uint16_t *out, char *why, size_t n)
{
	uint64_t v;

	if (parse_uint(s, &v, why, n) || v < 1 || v > 65535)
		return config_fail(why, n, "port '%s' is not a number in 1..65535", s);
	*out = (uint16_t)v;
	return 0;
}

/* ---- iSCSI names (RFC 7143 4.2.7, RFC 3720 3.2.6) ---- */

/* RFC 3720 3.2.6.2: lowercase ASCII letters, digits, '-', '.', ':' (after RFC 3722 nameprep). */
static int name_check_chars(const char *s, char *why, size_t n)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (islower(ch) || isdigit(ch) || ch == '-' || ch == '.' || ch == ':')
			continue;
		if (isupper(ch))
			return config_fail(why, n, "iSCSI names are lowercase ('%c' is not)", ch);
		if (ch >= 0x80)
			return config_fail(why, n, "only ASCII characters are supported in names");
		return config_fail(why, n,
				   "character '%c' is not allowed (a-z, 0-9, '-', '.', ':')", ch);
	}
	return 0;
}

/* iqn.YYYY-MM.reversed.domain[:identifier], RFC 7143 4.2.7 */
static int name_check_iqn(const char *s, char *why, size_t n)
{
	static const char form[] = "expected iqn.YYYY-MM.reversed.domain[:identifier]";
	const char *d = s + 4, *auth, *colon;
	int month;

	if (!isdigit((unsigned char)d[0]) || !isdigit((unsigned char)d[1]) ||
	    !isdigit((unsigned char)d[2]) || !isdigit((unsigned char)d[3]) || d[4] != '-' ||
	    !isdigit((unsigned char)d[5]) || !isdigit((unsigned char)d[6]))
		return config_fail(why, n, "%s: the date after 'iqn.' is not YYYY-MM", form);
	month = (d[5] - '0') * 10 + (d[6] - '0');
	if (month < 1 || month > 12)
		return config_fail(why, n, "%s: month %02d is not 01..12", form, month);
	if (d[7] != '.' && d[7] != '\0')
		return config_fail(why, n, "%s: expected '.' after the date", form);
	auth = d[7] ? d + 8 : d + 7;
	colon = strchr(auth, ':');
	if (auth == colon || !*auth)
		return config_fail(why, n,
				   "%s: the naming authority (a reversed domain) is missing", form);
	for (const char *p = auth; *p && *p != ':'; p++)
		if (*p == '.' && (p == auth || p[1] == '.' || p[1] == ':' || !p[1]))
			return config_fail(why, n, "%s: empty label in the naming authority", form);
	if (colon && !colon[1])
		return config_fail(why, n, "%s: nothing after ':'", form);
	return name_check_chars(s, why, n);
}

static int name_check_hex(const char *s, size_t len1, size_t len2, const char *type, char *why,
			  size_t n)
{
	size_t len = strlen(s);

	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return config_fail(why, n,
					   "'%c' is not a hex digit (%s. takes hex digits only)",
					   *p, type);
	if (len != len1 && len != len2) {
		if (len1 == len2)
			return config_fail(why, n,
					   "%s. must be followed by %zu hex digits, not %zu", type,
					   len1, len);
		return config_fail(why, n, "%s. must be followed by %zu or %zu hex digits, not %zu",
				   type, len1, len2, len);
	}
	return 0;
}

int config_check_name(const char *name, char *why, size_t n)
{
	size_t len = strlen(name);

	if (!len)
		return config_fail(why, n, "empty name");
	if (len > NAME_LEN_MAX)
		return config_fail(why, n, "longer than %d bytes (RFC 7143 4.2.7.1)", NAME_LEN_MAX);
	if (!strncmp(name, "iqn.", 4))
		return name_check_iqn(name, why, n);
	if (!strncmp(name, "eui.", 4)) /* RFC 7143 4.2.7: EUI-64 */
		return name_check_hex(name + 4, 16, 16, "eui", why, n);
	if (!strncmp(name, "naa.", 4)) /* RFC 7143 4.2.7: NAA, RFC 3980 */
		return name_check_hex(name + 4, 16, 32, "naa", why, n);
	if (!strncasecmp(name, "iqn.", 4) || !strncasecmp(name, "eui.", 4) ||
	    !strncasecmp(name, "naa.", 4))
		return config_fail(why, n, "the type '%.3s.' must be lowercase", name);
	return config_fail(why, n, "an iSCSI name starts with iqn., eui. or naa. (RFC 7143 4.2.7)");
}

/* ---- portals ---- */

static int portal_parse_host(const char *s, char *host, size_t cap, const char **rest, int *af,
			     char *why, size_t n)
{
	const char *end;
	size_t len;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return config_fail(why, n, "'%s': missing ']' after the IPv6 address", s);
		s++;
		*af = AF_INET6;
		*rest = end + 1;
	} else {
		end = strchr(s, ':');
		if (end && strchr(end + 1, ':'))
			return config_fail(
				why, n, "'%s': write an IPv6 address in brackets, e.g. [::1]:3260",
				s);
		if (!end)
			end = s + strlen(s);
		*af = AF_INET;
		*rest = end;
	}
	len = (size_t)(end - s);
	if (!len)
		return config_fail(why, n, "empty address");
	if (len >= cap)
		return config_fail(why, n, "address '%.*s' is too long", (int)len, s);
	memcpy(host, s, len);
	host[len] = '\0';
	return 0;
}

int config_parse_portal(const char *s, struct tgt_portal *p, char *why, size_t n)
{
	char host[sizeof(p->addr)];
	unsigned char bin[16];
	const char *rest = NULL;
	uint16_t port = 3260;
	int af = AF_INET, r;

	r = portal_parse_host(s, host, sizeof(host), &rest, &af, why, n);
	if (r)
		return r;
	if (inet_pton(af, host, bin) != 1)
		return config_fail(why, n,
				   "'%s' is not a numeric %s address (names are not resolved)",
				   host, af == AF_INET ? "IPv4" : "IPv6");
	if (*rest && *rest != ':')
		return config_fail(why, n, "'%s': expected ':PORT' after the address", s);
	if (*rest) {
		r = parse_port_number(rest + 1, &port, why, n);
		if (r)
			return r;
	}
	/* zero-filled, so that equal configs compare equal byte for byte */
	strncpy(p->addr, host, sizeof(p->addr));
	p->port = port;
	return 0;
}

static void portal_format(const struct tgt_portal *p, char *buf, size_t cap)
{
	if (strchr(p->addr, ':'))
		snprintf(buf, cap, "[%s]:%u", p->addr, p->port);
	else
		snprintf(buf, cap, "%s:%u", p->addr, p->port);
}

void config_format_portal(const struct tgt_portal *p, char *buf, size_t cap)
{
	portal_format(p, buf, cap);
}

/* Sets one key of a portal: the [portal] keys, also the ",key=value" of --portal. */
static int portal_set_key(struct tgt_portal *p, const char *key, const char *val, char *why,
			  size_t n)
{
	uint64_t v;

	if (!strcmp(key, "address"))
		return config_parse_portal(val, p, why, n);
	if (strcmp(key, "tpgt") && strcmp(key, "rel_port_id"))
		return -ENOENT;
	if (parse_uint(val, &v, why, n))
		return -EINVAL;
	if (v < 1 || v > 65535)
		return config_fail(why, n, "%" PRIu64 " is not in 1..65535", v);
	if (!strcmp(key, "tpgt"))
		p->tpgt = (uint16_t)v; /* RFC 7143 13.9 */
	else
		p->rel_port_id =
			(uint16_t)v; /* SPC-4 relative target port identifier: 0 is reserved */
	return 0;
}

/* Checks portal i against those before it. */
static int portal_check_dup(const struct tgt_config *c, unsigned i, char *why, size_t n)
{
	const struct tgt_portal *p = &c->portals[i];
	char a[80];

	for (unsigned j = 0; j < i; j++) {
		const struct tgt_portal *q = &c->portals[j];

		portal_format(p, a, sizeof(a));
		if (!strcmp(p->addr, q->addr) && p->port == q->port)
			return config_fail(why, n, "%s is already portal %u", a, j + 1);
		if (p->rel_port_id && p->rel_port_id == q->rel_port_id)
			return config_fail(why, n, "rel_port_id %u is already portal %u's",
					   p->rel_port_id, j + 1);
	}
	return 0;
}

/* ---- LUNs ---- */

static void lun_init(struct tgt_lun *l)
{
	memset(l, 0, sizeof(*l));
	l->block_size = 512;
}

static int lun_set_key(struct tgt_lun *l, const char *key, const char *val, char *why, size_t n)
{
	uint64_t v;
	bool b;
	int r;

	if (!strcmp(key, "path")) {
		if (val[0] != '/')
			return config_fail(why, n, "'%s' is not an absolute path", val);
		return config_copy_str(l->path, sizeof(l->path), val, why, n);
	}
	if (!strcmp(key, "size"))
		return config_parse_size(val, &l->size, why, n);
	if (!strcmp(key, "blocksize")) {
		r = parse_uint(val, &v, why, n);
		if (r || (v != 512 && v != 4096))
			return config_fail(why, n, "'%s' is not 512 or 4096", val);
		l->block_size = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "id"))
		return parse_hex_id(val, &l->lu_id, why, n);
	if (!strcmp(key, "read_only"))
		return config_parse_bool(val, &l->read_only, why, n);
	if (!strcmp(key, "direct")) {
		r = config_parse_bool(val, &b, why, n);
		if (!r)
			l->no_direct = !b;
		return r;
	}
	return -ENOENT;
}

/* What one LUN must satisfy on its own. */
static int lun_check(const struct tgt_lun *l, char *why, size_t n)
{
	uint32_t bs = l->block_size ? l->block_size : 512;

	if (!l->path[0])
		return config_fail(why, n, "no path");
	if (l->path[0] != '/')
		return config_fail(why, n, "'%s' is not an absolute path", l->path);
	if (bs != 512 && bs != 4096)
		return config_fail(why, n, "block size %u is not 512 or 4096", bs);
	if (l->size % bs)
		return config_fail(why, n,
				   "size %" PRIu64 " is not a multiple of the block size %u",
				   l->size, bs);
	if (l->size > INT64_MAX)
		return config_fail(why, n, "size %" PRIu64 " is beyond the largest file size",
				   l->size);
	return 0;
}

/* Checks LUN i against those before it. */
static int lun_check_dup(const struct tgt_config *c, unsigned i, char *why, size_t n)
{
	const struct tgt_lun *l = &c->luns[i];

	for (unsigned j = 0; j < i; j++) {
		/* Two LUNs on one file would corrupt each other's data. */
		if (!strcmp(l->path, c->luns[j].path))
			return config_fail(why, n, "path %s is already LUN %u's", l->path, j);
		if (l->lu_id && l->lu_id == c->luns[j].lu_id)
			return config_fail(why, n, "id 0x%016" PRIx64 " is already LUN %u's",
					   l->lu_id, j);
	}
	return 0;
}

int config_lun_set_key(struct tgt_lun *l, const char *key, const char *val, char *why,
		       size_t whylen)
{
	return lun_set_key(l, key, val, why, whylen);
}

int config_lun_check(const struct tgt_lun *l, char *why, size_t whylen)
{
	return lun_check(l, why, whylen);
}

/* ---- CHAP and ACL ---- */

static int chap_set_str(char *dst, const char *val, bool secret, char *why, size_t n)
{
	size_t len = strlen(val);

	if (config_str_has_ctrl(val))
		return config_fail(why, n, "control characters are not allowed");
	if (secret && len < CHAP_SECRET_MIN)
		return config_fail(
			why, n,
			"secret is %zu bytes; RFC 7143 9.2.1 requires at least %d (96 bits)", len,
			CHAP_SECRET_MIN);
	return config_copy_str(dst, TGT_CHAP_MAX, val, why, n);
}

static int chap_set_key(struct tgt_chap *ch, const char *key, const char *val, char *why, size_t n)
{
	if (!strcmp(key, "user"))
		return chap_set_str(ch->user, val, false, why, n);
	if (!strcmp(key, "secret"))
		return chap_set_str(ch->secret, val, true, why, n);
	if (!strcmp(key, "mutual_user"))
		return chap_set_str(ch->mutual_user, val, false, why, n);
	if (!strcmp(key, "mutual_secret"))
		return chap_set_str(ch->mutual_secret, val, true, why, n);
	return -ENOENT;
}

/* Completes and checks CHAP settings: enabled/mutual follow from what is set. */
static int chap_check(struct tgt_chap *ch, char *why, size_t n)
{
	bool mu = ch->mutual_user[0] || ch->mutual_secret[0];

	ch->enabled = ch->user[0] || ch->secret[0] || mu;
	ch->mutual = mu;
	if (!ch->enabled)
		return 0;
	if (!ch->user[0] || !ch->secret[0])
		return config_fail(why, n, "CHAP needs both a user and a secret");
	if (strlen(ch->secret) < CHAP_SECRET_MIN)
		return config_fail(why, n, "CHAP secret is shorter than %d bytes (RFC 7143 9.2.1)",
				   CHAP_SECRET_MIN);
	if (!mu)
		return 0;
	if (!ch->mutual_user[0] || !ch->mutual_secret[0])
		return config_fail(why, n,
				   "mutual CHAP needs both a mutual user and a mutual secret");
	if (strlen(ch->mutual_secret) < CHAP_SECRET_MIN)
		return config_fail(why, n,
				   "mutual CHAP secret is shorter than %d bytes (RFC 7143 9.2.1)",
				   CHAP_SECRET_MIN);
	/* RFC 7143 9.2.1: a secret must not serve to authenticate both directions. */
	if (!strcmp(ch->secret, ch->mutual_secret))
		return config_fail(
			why, n, "the mutual secret must differ from the secret (RFC 7143 9.2.1)");
	return 0;
}

static int acl_add(struct tgt_config *c, const char *name, char *why, size_t n)
{
	int r = config_check_name(name, why, n);

	if (r)
		return r;
	for (unsigned i = 0; i < c->nallow; i++)
		if (!strcmp(c->allow[i], name))
			return config_fail(why, n, "%s is already allowed", name);
	if (c->nallow >= TGT_MAX_ALLOW)
		return config_fail(why, n, "more than %d allowed initiators", TGT_MAX_ALLOW);
	memcpy(c->allow[c->nallow++], name, strlen(name) + 1);
	return 0;
}

/* ---- scalars ---- */

/* The unit after a number; "~" instead of the space for --help, which keeps them together. */
static const char *scalar_unit(const struct cfg_scalar *s, bool help)
{
	switch (s->type) {
	case CT_BYTES:
		return help ? "~bytes" : " bytes";
	case CT_MS:
		return help ? "~ms" : " ms";
	case CT_SECS:
		return help ? "~s" : " s";
	default:
		return "";
	}
}

static uint64_t scalar_get(const struct tgt_config *c, const struct cfg_scalar *s)
{
	const char *p = (const char *)c + s->off;

	if (s->type == CT_BOOL)
		return *(const bool *)p;
	if (s->size == sizeof(uint16_t))
		return *(const uint16_t *)p;
	return *(const uint32_t *)p;
}

static int scalar_check(const struct cfg_scalar *s, uint64_t v, char *why, size_t n)
{
	if (s->type == CT_BOOL || (s->zero_ok && v == 0) || (v >= s->min && v <= s->max))
		return 0;
	if (s->zero_ok)
		return config_fail(why, n,
				   "%" PRIu64 "%s is not 0 (off) or %" PRIu64 "..%" PRIu64 "%s", v,
				   scalar_unit(s, false), s->min, s->max, scalar_unit(s, false));
	return config_fail(why, n, "%" PRIu64 "%s is not in %" PRIu64 "..%" PRIu64 "%s", v,
			   scalar_unit(s, false), s->min, s->max, scalar_unit(s, false));
}

static int scalar_set(struct tgt_config *c, const struct cfg_scalar *s, const char *val, char *why,
		      size_t n)
{
	char *p = (char *)c + s->off;
	uint64_t v = 0;
	uint32_t ms;
	bool b;
	int r;

	switch (s->type) {
	case CT_BOOL:
		r = config_parse_bool(val, &b, why, n);
		if (!r)
			*(bool *)p = b;
		return r;
	case CT_BYTES:
		r = config_parse_size(val, &v, why, n);
		break;
	case CT_MS:
		r = config_parse_ms(val, &ms, why, n);
		v = ms;
		break;
	default:
		r = parse_uint(val, &v, why, n);
		break;
	}
	if (!r)
		r = scalar_check(s, v, why, n);
	if (r)
		return r;
	if (s->size == sizeof(uint16_t))
		*(uint16_t *)p = (uint16_t)v;
	else
		*(uint32_t *)p = (uint32_t)v;
	return 0;
}

static const struct cfg_scalar *scalar_find(const char *key)
{
	for (unsigned i = 0; i < SC_COUNT; i++)
		if (!strcmp(cfg_scalars[i].key, key))
			return &cfg_scalars[i];
	return NULL;
}

static int target_set_key(struct tgt_config *c, const char *key, const char *val, char *why,
			  size_t n)
{
	const struct cfg_scalar *s;
	int r;

	if (!strcmp(key, "iqn")) {
		r = config_check_name(val, why, n);
		return r ? r : config_copy_str(c->iqn, sizeof(c->iqn), val, why, n);
	}
	if (!strcmp(key, "alias")) {
		if (config_str_has_ctrl(val))
			return config_fail(why, n, "control characters are not allowed");
		return config_copy_str(c->alias, sizeof(c->alias), val, why, n);
	}
	if (!strcmp(key, "debug"))
		return config_parse_bool(val, &c->debug, why, n);
	s = scalar_find(key);
	return s ? scalar_set(c, s, val, why, n) : -ENOENT;
}

int config_section_set_key(struct tgt_config *c, const char *section, const char *key,
			   const char *val, char *why, size_t whylen)
{
	if (!strcmp(section, "target"))
		return target_set_key(c, key, val, why, whylen);
	if (!strcmp(section, "chap"))
		return chap_set_key(&c->chap, key, val, why, whylen);
	if (!strcmp(section, "acl"))
		return strcmp(key, "allow") ? -ENOENT : acl_add(c, val, why, whylen);
	return -ENOENT;
}

int config_section_check(struct tgt_config *c, const char *section, char *why, size_t whylen)
{
	return strcmp(section, "chap") ? 0 : chap_check(&c->chap, why, whylen);
}

/* ---- INI file ---- */

enum ini_sec { SEC_NONE, SEC_TARGET, SEC_PORTAL, SEC_LUN, SEC_CHAP, SEC_ACL, SEC_COUNT };

static const char *const ini_sec_names[SEC_COUNT] = {"", "target", "portal", "lun", "chap", "acl"};
static const char *const ini_sec_keys[SEC_COUNT] = {
	"",
	"iqn, alias, debug, or a tuning key from --help",
	"address, tpgt, rel_port_id",
	"path, size, blocksize, read_only, direct, id",
	"user, secret, mutual_user, mutual_secret",
	"allow",
};

#define INI_SEEN_MAX 32

struct ini_state {
	struct tgt_config *c;
	const char *path;
	FILE *f;
	int line;
	enum ini_sec sec;
	int sec_line;
	int first_line[SEC_COUNT]; /* where [target] and [chap] were seen: they come once */
	struct {
		char key[32];
		int line;
	} seen[INI_SEEN_MAX]; /* keys of the current section, to refuse repeats */
	unsigned nseen;
	bool failed;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int ini_fail(struct ini_state *st, int line,
							  const char *fmt, ...)
{
	char msg[WHY_MAX + 128];
	va_list ap;

	if (st->failed)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_fail(st->err, st->errlen, "%s:%d: %s", st->path, line, msg);
	st->failed = true;
	return -EINVAL;
}

/* A section ends: check what needs the whole section. */
static void ini_section_end(struct ini_state *st)
{
	struct tgt_config *c = st->c;
	const char *name = ini_sec_names[st->sec];
	char why[WHY_MAX];
	int r = 0;

	switch (st->sec) {
	case SEC_PORTAL:
		if (!c->portals[c->nportals - 1].addr[0])
			r = config_fail(why, sizeof(why), "no 'address' in this section");
		else
			r = portal_check_dup(c, c->nportals - 1, why, sizeof(why));
		break;
	case SEC_LUN:
		r = lun_check(&c->luns[c->nluns - 1], why, sizeof(why));
		if (!r)
			r = lun_check_dup(c, c->nluns - 1, why, sizeof(why));
		break;
	case SEC_CHAP:
		r = chap_check(&c->chap, why, sizeof(why));
		break;
	default:
		break;
	}
	if (r && st->sec == SEC_LUN)
		ini_fail(st, st->sec_line, "[%s] (LUN %u): %s", name, c->nluns - 1, why);
	else if (r)
		ini_fail(st, st->sec_line, "[%s]: %s", name, why);
}

static int ini_section_begin(struct ini_state *st, const char *name)
{
	struct tgt_config *c = st->c;
	enum ini_sec s;

	if (st->sec != SEC_NONE)
		ini_section_end(st);
	if (st->failed)
		return -EINVAL;
	for (s = SEC_TARGET; s < SEC_COUNT; s++)
		if (!strcmp(name, ini_sec_names[s]))
			break;
	if (s == SEC_COUNT)
		return ini_fail(st, st->line,
				"unknown section [%s] (known: target, portal, lun, chap, acl)",
				name);
	if ((s == SEC_TARGET || s == SEC_CHAP) && st->first_line[s])
		return ini_fail(st, st->line, "[%s] appears twice (first on line %d)", name,
				st->first_line[s]);
	if (s == SEC_PORTAL && c->nportals >= TGT_MAX_PORTALS)
		return ini_fail(st, st->line, "more than %d [portal] sections", TGT_MAX_PORTALS);
	if (s == SEC_LUN && c->nluns >= TGT_MAX_LUNS)
		return ini_fail(st, st->line, "more than %d [lun] sections", TGT_MAX_LUNS);
	if (s == SEC_PORTAL)
		memset(&c->portals[c->nportals++], 0, sizeof(c->portals[0]));
	if (s == SEC_LUN)
		lun_init(&c->luns[c->nluns++]);
	st->first_line[s] = st->first_line[s] ? st->first_line[s] : st->line;
	st->sec = s;
	st->sec_line = st->line;
	st->nseen = 0;
	return 0;
}

/*
 * Looks at a raw line for a section header. inih does not tell its handler
 * where a section starts, and a [lun] or [portal] section starts a new item
 * even when its name equals the previous one's, so the reader tracks sections.
 */
static int ini_scan_line(struct ini_state *st, const char *line)
{
	char name[64];
	const char *p = line, *end;
	size_t len;

	if (st->line == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3; /* a UTF-8 BOM, which inih skips too */
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[')
		return 0;
	end = strchr(p, ']');
	if (!end)
		return ini_fail(st, st->line, "syntax error: missing ']'");
	for (p++; p < end && isspace((unsigned char)*p); p++)
		;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	len = MIN((size_t)(end - p), sizeof(name) - 1);
	memcpy(name, p, len);
	name[len] = '\0';
	return ini_section_begin(st, name);
}

/* inih's reader: counts lines, refuses over-long ones, and sees section headers. */
static char *ini_read_line(char *buf, int cap, void *stream)
{
	struct ini_state *st = stream;
	size_t len;

	if (st->failed || !fgets(buf, cap, st->f))
		return NULL;
	st->line++;
	len = strlen(buf);
	if (len == (size_t)cap - 1 && buf[len - 1] != '\n' && !feof(st->f)) {
		ini_fail(st, st->line, "line longer than %d bytes", cap - 2);
		return NULL;
	}
	if (ini_scan_line(st, buf))
		return NULL;
	return buf;
}

static int ini_seen(struct ini_state *st, const char *key)
{
	for (unsigned i = 0; i < st->nseen; i++)
		if (!strcmp(st->seen[i].key, key))
			return st->seen[i].line;
	if (st->nseen < INI_SEEN_MAX && strlen(key) < sizeof(st->seen[0].key)) {
		strcpy(st->seen[st->nseen].key, key);
		st->seen[st->nseen++].line = st->line;
	}
	return 0;
}

static int ini_set_key(struct ini_state *st, const char *key, const char *val, char *why, size_t n)
{
	struct tgt_config *c = st->c;

	switch (st->sec) {
	case SEC_TARGET:
		return target_set_key(c, key, val, why, n);
	case SEC_PORTAL:
		return portal_set_key(&c->portals[c->nportals - 1], key, val, why, n);
	case SEC_LUN:
		return lun_set_key(&c->luns[c->nluns - 1], key, val, why, n);
	case SEC_CHAP:
		return chap_set_key(&c->chap, key, val, why, n);
	case SEC_ACL:
		return strcmp(key, "allow") ? -ENOENT : acl_add(c, val, why, n);
	default:
		return -ENOENT;
	}
}

static int ini_key(struct ini_state *st, const char *key, const char *val)
{
	const char *sec = ini_sec_names[st->sec];
	char why[WHY_MAX];
	int first, r;

	if (st->sec == SEC_NONE)
		return ini_fail(st, st->line, "key '%s' outside any section (start with [target])",
				key);
	first = ini_seen(st, key);
	if (first && st->sec != SEC_ACL)
		return ini_fail(st, st->line, "key '%s' in [%s]: given twice (first on line %d)",
				key, sec, first);
	if (!*val)
		return ini_fail(st, st->line, "key '%s' in [%s]: no value", key, sec);
	r = ini_set_key(st, key, val, why, sizeof(why));
	if (r == -ENOENT)
		return ini_fail(st, st->line, "key '%s' in [%s]: unknown key (known: %s)", key, sec,
				ini_sec_keys[st->sec]);
	if (r)
		return ini_fail(st, st->line, "key '%s' in [%s]: %s", key, sec, why);
	return 0;
}

/* inih's handler: returns nonzero to go on. */
static int ini_on_key(void *user, const char *section, const char *key, const char *val)
{
	struct ini_state *st = user;

	return !st->failed && !ini_key(st, key, val);
}

/* inih's knobs are globals: set ours for one parse and put theirs back. */
static int ini_parse_tuned(struct ini_state *st)
{
	bool multiline = ini_allow_multiline, stop = ini_stop_on_first_error;
	int max_line = ini_max_line, r;

	ini_allow_multiline = false; /* an indented line is a key of its own, not a continuation */
	ini_stop_on_first_error = true;
	ini_max_line = CONFIG_INI_LINE_MAX + 1; /* + the NUL */
	r = ini_parse_stream(ini_read_line, st, ini_on_key, st);
	ini_allow_multiline = multiline;
	ini_stop_on_first_error = stop;
	ini_max_line = max_line;
	return r;
}

int config_load_ini(struct tgt_config *c, const char *path, char *err, size_t errlen)
{
	struct ini_state st = {.c = c, .path = path, .err = err, .errlen = errlen};
	int r;

	st.f = fopen(path, "r");
	if (!st.f) {
		r = -errno;
		config_fail(err, errlen, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	r = ini_parse_tuned(&st);
	if (!st.failed && ferror(st.f))
		ini_fail(&st, st.line, "read error");
	if (!st.failed && r > 0) /* inih found a line it could not parse */
		ini_fail(&st, r, "syntax error: expected 'key = value', '[section]' or a comment");
	if (!st.failed && st.sec != SEC_NONE)
		ini_section_end(&st);
	fclose(st.f);
	return st.failed ? -EINVAL : 0;
}

/* ---- command line ---- */

static const char *opt_name(int val)
{
	for (const struct option *o = config_long_options; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

static int args_bad_option(char **argv, int ch, char *err, size_t n)
{
	if (ch == ':' && optopt >= 0x100)
		return config_fail(err, n, "option '--%s' needs an argument", opt_name(optopt));
	if (ch == ':')
		return config_fail(err, n, "option '-%c' needs an argument", optopt);
	/* "--debug=1" comes back as '?' with optopt 'd' */
	if (optopt >= 0x100 || (optopt && strchr("dhV", optopt)))
		return config_fail(err, n, "option '--%s' takes no argument", opt_name(optopt));
	if (optopt)
		return config_fail(err, n, "unknown option '-%c' (see --help)", optopt);
	return config_fail(err, n, "unknown or ambiguous option '%s' (see --help)",
			   argv[optind - 1]);
}

/* First pass: only what decides how to read the rest (-c, --check-config, -h, -V). */
static int args_scan(struct clusterd_opts *o, int argc, char **argv, char *err, size_t n)
{
	int ch;

	optind = 0; /* GNU: restart scanning from scratch */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, cfg_short_opts, config_long_options, NULL)) != -1) {
		if (ch == '?' || ch == ':')
			return args_bad_option(argv, ch, err, n);
		/* "--portal --lun x" would otherwise take "--lun" as the address */
		if (optarg && !strncmp(optarg, "--", 2))
			return config_fail(err, n, "option '%s' needs an argument (got '%s')",
					   argv[optind - 1] == optarg ? argv[optind - 2]
								      : argv[optind - 1],
					   optarg);
		if (ch == 'c' && o->config_file)
			return config_fail(err, n, "-c given twice");
		if (ch == OPT_CHECK_CONFIG && o->check_config)
			return config_fail(err, n, "--check-config given twice");
		if (ch == 'c')
			o->config_file = optarg;
		else if (ch == OPT_CHECK_CONFIG)
			o->check_config = optarg;
		else if (ch == 'h')
			o->help = true;
		else if (ch == 'V')
			o->version = true;
	}
	if (optind < argc)
		return config_fail(err, n, "unexpected argument '%s' (options start with '-')",
				   argv[optind]);
	if (o->config_file && o->check_config)
		return config_fail(err, n, "give either -c FILE or --check-config FILE, not both");
	return 0;
}

/* The value of --portal: ADDR[:PORT][,tpgt=N][,rel_port_id=N] */
static int args_portal(struct tgt_config *c, char *spec, char *why, size_t n)
{
	struct tgt_portal *p;
	char *opt, *save = NULL, *eq;
	int r;

	if (c->nportals >= TGT_MAX_PORTALS)
		return config_fail(why, n, "more than %d portals", TGT_MAX_PORTALS);
	p = &c->portals[c->nportals];
	memset(p, 0, sizeof(*p));
	r = config_parse_portal(strtok_r(spec, ",", &save) ?: "", p, why, n);
	while (!r && (opt = strtok_r(NULL, ",", &save))) {
		eq = strchr(opt, '=');
		if (eq)
			*eq++ = '\0';
		r = eq ? portal_set_key(p, opt, eq, why, n) : -ENOENT;
		if (r == -ENOENT || !strcmp(opt, "address"))
			r = config_fail(why, n,
					"unknown option '%s' (known: tpgt=N, rel_port_id=N)", opt);
	}
	if (!r)
		r = portal_check_dup(c, c->nportals, why, n);
	if (!r)
		c->nportals++;
	return r;
}

/* The value of --lun: PATH[,size=BYTES][,blocksize=N][,ro][,direct=no][,id=HEX] */
static int args_lun(struct tgt_config *c, char *spec, char *why, size_t n)
{
	struct tgt_lun *l;
	char *opt, *save = NULL, *eq;
	int r;

	if (c->nluns >= TGT_MAX_LUNS)
		return config_fail(why, n, "more than %d LUNs", TGT_MAX_LUNS);
	l = &c->luns[c->nluns];
	lun_init(l);
	r = lun_set_key(l, "path", strtok_r(spec, ",", &save) ?: "", why, n);
	while (!r && (opt = strtok_r(NULL, ",", &save))) {
		eq = strchr(opt, '=');
		if (eq)
			*eq++ = '\0';
		if (!eq && !strcmp(opt, "ro"))
			eq = "yes", opt = "read_only";
		r = eq ? lun_set_key(l, opt, eq, why, n) : -ENOENT;
		if (r == -ENOENT || !strcmp(opt, "path"))
			r = config_fail(
				why, n,
				"unknown option '%s' (known: size=, blocksize=, ro, direct=, id=)",
				opt);
	}
	if (!r)
		r = lun_check(l, why, n);
	if (!r)
		r = lun_check_dup(c, c->nluns, why, n);
	if (!r)
		c->nluns++;
	return r;
}

/* The value of --chap: USER:SECRET[:MUTUAL_USER:MUTUAL_SECRET] */
static int args_chap(struct tgt_chap *ch, char *spec, char *why, size_t n)
{
	static const char *const keys[] = {"user", "secret", "mutual_user", "mutual_secret"};
	char *field[ARRAY_SIZE(keys)], *rest = spec;
	unsigned nf = 0;
	int r = 0;

	memset(ch, 0, sizeof(*ch));
	while (rest && nf < ARRAY_SIZE(keys))
		field[nf++] = strsep(&rest, ":");
	if (rest || (nf != 2 && nf != 4))
		return config_fail(why, n,
				   "expected USER:SECRET or USER:SECRET:MUTUAL_USER:MUTUAL_SECRET "
				   "(a name with ':' must go in the [chap] section of a file)");
	for (unsigned i = 0; i < nf && !r; i++)
		r = field[i][0] ? chap_set_key(ch, keys[i], field[i], why, n)
				: config_fail(why, n, "empty %s", keys[i]);
	return r ? r : chap_check(ch, why, n);
}

struct args_lists {
	bool portals, luns, allow, chap; /* this list came from the command line already */
};

static int args_apply_list(struct tgt_config *c, struct args_lists *seen, int ch, char *val,
			   char *why, size_t n)
{
	switch (ch) {
	case OPT_PORTAL:
		if (!seen->portals)
			c->nportals = 0, seen->portals = true;
		return args_portal(c, val, why, n);
	case OPT_LUN:
		if (!seen->luns)
			c->nluns = 0, seen->luns = true;
		return args_lun(c, val, why, n);
	case OPT_ALLOW:
		if (!seen->allow)
			c->nallow = 0, seen->allow = true;
		return acl_add(c, val, why, n);
	case OPT_CHAP:
		if (seen->chap)
			return config_fail(why, n, "given twice");
		seen->chap = true;
		return args_chap(&c->chap, val, why, n);
	default:
		return -ENOENT;
	}
}

static int args_apply(struct clusterd_opts *o, struct args_lists *seen, int ch, char *val,
		      char *err, size_t n)
{
	char why[WHY_MAX], copy[TGT_PATH_MAX + 256];
	int r;

	if (ch == OPT_STANDALONE || ch == 'd') {
		o->standalone |= ch == OPT_STANDALONE;
		o->tgt.debug |= ch == 'd';
		return 0;
	}
	if (ch >= OPT_SCALAR && ch < OPT_SCALAR + SC_COUNT)
		r = scalar_set(&o->tgt, &cfg_scalars[ch - OPT_SCALAR], val, why, sizeof(why));
	else if (ch == OPT_IQN)
		r = target_set_key(&o->tgt, "iqn", val, why, sizeof(why));
	else if (ch == OPT_ALIAS)
		r = target_set_key(&o->tgt, "alias", val, why, sizeof(why));
	else if (ch == OPT_PORTAL || ch == OPT_LUN || ch == OPT_ALLOW || ch == OPT_CHAP)
		r = config_copy_str(copy, sizeof(copy), val, why, sizeof(why))
			    ?: args_apply_list(&o->tgt, seen, ch, copy, why, sizeof(why));
	else
		return 0; /* handled by args_scan */
	if (!r)
		return 0;
	if (ch == OPT_CHAP) /* never echo a secret */
		return config_fail(err, n, "--chap: %s", why);
	return config_fail(err, n, "--%s '%s': %s", opt_name(ch), val, why);
}

int config_parse_args(struct clusterd_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	struct args_lists seen = {0};
	const char *file;
	int ch, r;

	o->standalone = o->help = o->version = o->debug = false;
	o->config_file = o->check_config = NULL;
	tgt_config_defaults(&o->tgt);
	r = args_scan(o, argc, argv, err, errlen);
	if (r || o->help || o->version)
		return r;
	file = o->config_file ? o->config_file : o->check_config;
	if (file) {
		r = config_load_ini(&o->tgt, file, err, errlen);
		if (r)
			return r;
	}
	optind = 0;
	while ((ch = getopt_long(argc, argv, cfg_short_opts, config_long_options, NULL)) != -1) {
		r = args_apply(o, &seen, ch, optarg, err, errlen);
		if (r)
			return r;
	}
	o->debug = o->tgt.debug;
	return 0;
}

/* ---- finalize ---- */

uint64_t config_lu_id_derive(const char *target_name, unsigned lun)
{
	char buf[TGT_NAME_MAX + 16];
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */
	int len = snprintf(buf, sizeof(buf), "%s/%u", target_name, lun);

	for (int i = 0; i < len && i < (int)sizeof(buf) - 1; i++) {
		h ^= (unsigned char)buf[i];
		h *= 0x100000001b3ULL; /* FNV prime */
	}
	return h ? h : 1;
}

static int finalize_scalars(const struct tgt_config *c, char *err, size_t n)
{
	char why[WHY_MAX];

	for (unsigned i = 0; i < SC_COUNT; i++)
		if (scalar_check(&cfg_scalars[i], scalar_get(c, &cfg_scalars[i]), why, sizeof(why)))
			return config_fail(err, n, "%s: %s", cfg_scalars[i].key, why);
	/* RFC 7143 13.14 */
	if (c->iscsi.first_burst > c->iscsi.max_burst)
		return config_fail(err, n, "first_burst %u exceeds max_burst %u (RFC 7143 13.14)",
				   c->iscsi.first_burst, c->iscsi.max_burst);
	return 0;
}

static bool rel_port_id_used(const struct tgt_config *c, uint16_t id)
{
	for (unsigned i = 0; i < c->nportals; i++)
		if (c->portals[i].rel_port_id == id)
			return true;
	return false;
}

static int finalize_portals(struct tgt_config *c, char *err, size_t n)
{
	char why[WHY_MAX], addr[80];
	struct tgt_portal tmp;
	uint16_t next = 1;

	if (!c->nportals)
		return config_fail(err, n,
				   "no portal to listen on: give --portal ADDR[:PORT] "
				   "(e.g. --portal 127.0.0.1:3260) or a [portal] section");
	if (c->nportals > TGT_MAX_PORTALS)
		return config_fail(err, n, "more than %d portals", TGT_MAX_PORTALS);
	for (unsigned i = 0; i < c->nportals; i++) {
		struct tgt_portal *p = &c->portals[i];

		portal_format(p, addr, sizeof(addr));
		if (config_parse_portal(addr, &tmp, why, sizeof(why)) || !p->port ||
		    portal_check_dup(c, i, why, sizeof(why)))
			return config_fail(err, n, "portal %u: %s", i + 1,
					   p->port ? why : "port 0");
		if (!p->tpgt)
			p->tpgt = 1;
	}
	for (unsigned i = 0; i < c->nportals; i++) {
		while (!c->portals[i].rel_port_id && rel_port_id_used(c, next))
			next++;
		if (!c->portals[i].rel_port_id)
			c->portals[i].rel_port_id = next++;
	}
	return 0;
}

static int finalize_luns(struct tgt_config *c, char *err, size_t n)
{
	char why[WHY_MAX];

	if (!c->nluns)
		return config_fail(err, n, "no LUN to export: give --lun PATH or a [lun] section");
	if (c->nluns > TGT_MAX_LUNS)
		return config_fail(err, n, "more than %d LUNs", TGT_MAX_LUNS);
	for (unsigned i = 0; i < c->nluns; i++) {
		if (lun_check(&c->luns[i], why, sizeof(why)) ||
		    lun_check_dup(c, i, why, sizeof(why)))
			return config_fail(err, n, "LUN %u: %s", i, why);
		if (!c->luns[i].block_size)
			c->luns[i].block_size = 512;
	}
	for (unsigned i = 0; i < c->nluns; i++)
		if (!c->luns[i].lu_id)
			c->luns[i].lu_id = config_lu_id_derive(c->iqn, i);
	/* Derived ids can meet explicit ones only by a chance of 2^-64, but check. */
	for (unsigned i = 0; i < c->nluns; i++)
		if (lun_check_dup(c, i, why, sizeof(why)))
			return config_fail(err, n, "LUN %u: %s", i, why);
	return 0;
}

static int finalize_access(struct tgt_config *c, char *err, size_t n)
{
	char why[WHY_MAX];

	if (chap_check(&c->chap, why, sizeof(why)))
		return config_fail(err, n, "%s", why);
	for (unsigned i = 0; i < c->nallow; i++) {
		if (config_check_name(c->allow[i], why, sizeof(why)))
			return config_fail(err, n, "allowed initiator '%s': %s", c->allow[i], why);
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(c->allow[i], c->allow[j]))
				return config_fail(err, n, "initiator %s is allowed twice",
						   c->allow[i]);
	}
	return 0;
}

int config_finalize(struct tgt_config *c, char *err, size_t errlen)
{
	char why[WHY_MAX];
	int r;

	if (!c->iqn[0])
		return config_fail(err, errlen,
				   "no target name: give --iqn NAME or iqn = NAME in [target]");
	if (config_check_name(c->iqn, why, sizeof(why)))
		return config_fail(err, errlen, "target name '%s': %s", c->iqn, why);
	if (config_str_has_ctrl(c->alias))
		return config_fail(err, errlen, "alias: control characters are not allowed");
	if (c->nallow > TGT_MAX_ALLOW)
		return config_fail(err, errlen, "more than %d allowed initiators", TGT_MAX_ALLOW);
	r = finalize_scalars(c, err, errlen);
	if (!r)
		r = finalize_portals(c, err, errlen);
	if (!r)
		r = finalize_luns(c, err, errlen);
	if (!r)
		r = finalize_access(c, err, errlen);
	return r;
}

/* ---- output ---- */

static void size_format(uint64_t v, char *buf, size_t cap)
{
	static const char sfx[] = "TGMK";

	for (unsigned i = 0; i < 4; i++) {
		unsigned shift = 10 * (4 - i);

		if (v && !(v & ((1ULL << shift) - 1))) {
			snprintf(buf, cap, "%" PRIu64 "%c", v >> shift, sfx[i]);
			return;
		}
	}
	snprintf(buf, cap, "%" PRIu64, v);
}

void config_format_size(uint64_t v, char *buf, size_t cap)
{
	size_format(v, buf, cap);
}

static void scalar_format(const struct cfg_scalar *s, uint64_t v, char *buf, size_t cap)
{
	if (s->type == CT_BOOL)
		snprintf(buf, cap, "%s", v ? "yes" : "no");
	else if (s->type == CT_BYTES)
		size_format(v, buf, cap);
	else
		snprintf(buf, cap, "%" PRIu64, v);
}

void config_print(FILE *f, const struct tgt_config *c, bool show_secrets)
{
	char buf[80];

	fprintf(f, "; clusterd configuration, derived values included\n[target]\n");
	fprintf(f, "iqn = %s\n", c->iqn);
	if (c->alias[0])
		fprintf(f, "alias = %s\n", c->alias);
	fprintf(f, "debug = %s\n", c->debug ? "yes" : "no");
	config_print_tuning(f, c);
	for (unsigned i = 0; i < c->nportals; i++) {
		portal_format(&c->portals[i], buf, sizeof(buf));
		fprintf(f, "\n[portal]\naddress = %s\n", buf);
		if (c->portals[i].tpgt)
			fprintf(f, "tpgt = %u\n", c->portals[i].tpgt);
		if (c->portals[i].rel_port_id)
			fprintf(f, "rel_port_id = %u\n", c->portals[i].rel_port_id);
	}
	for (unsigned i = 0; i < c->nluns; i++) {
		const struct tgt_lun *l = &c->luns[i];

		size_format(l->size, buf, sizeof(buf));
		fprintf(f, "\n[lun]\n; LUN %u%s\npath = %s\nsize = %s\nblocksize = %u\n", i,
			l->size ? "" : " (size 0: the size of the file or device)", l->path, buf,
			l->block_size);
		fprintf(f, "read_only = %s\ndirect = %s\n", l->read_only ? "yes" : "no",
			l->no_direct ? "no" : "yes");
		if (l->lu_id && l->lu_id == config_lu_id_derive(c->iqn, i))
			fprintf(f, "; id: FNV-1a 64 of \"%s/%u\"\n", c->iqn, i);
		if (l->lu_id)
			fprintf(f, "id = %016" PRIx64 "\n", l->lu_id);
	}
	config_print_access(f, c, show_secrets);
}

void config_print_tuning(FILE *f, const struct tgt_config *c)
{
	char buf[80];

	for (unsigned i = 0; i < SC_COUNT; i++) {
		scalar_format(&cfg_scalars[i], scalar_get(c, &cfg_scalars[i]), buf, sizeof(buf));
		fprintf(f, "%s = %s\n", cfg_scalars[i].key, buf);
	}
}

void config_print_access(FILE *f, const struct tgt_config *c, bool show_secrets)
{
	if (c->chap.user[0] || c->chap.mutual_user[0]) {
		fprintf(f, "\n[chap]\nuser = %s\n", c->chap.user);
		if (show_secrets)
			fprintf(f, "secret = %s\n", c->chap.secret);
		else
			fprintf(f, "; secret: %zu bytes, not shown\n", strlen(c->chap.secret));
		if (c->chap.mutual_user[0])
			fprintf(f, "mutual_user = %s\n", c->chap.mutual_user);
		if (c->chap.mutual_user[0] && show_secrets)
			fprintf(f, "mutual_secret = %s\n", c->chap.mutual_secret);
		else if (c->chap.mutual_user[0])
			fprintf(f, "; mutual_secret: %zu bytes, not shown\n",
				strlen(c->chap.mutual_secret));
	}
	if (c->nallow)
		fprintf(f, "\n[acl]\n");
	for (unsigned i = 0; i < c->nallow; i++)
		fprintf(f, "allow = %s\n", c->allow[i]);
}

/* ---- --help ---- */

/* Writes text wrapped at 79 columns, each line indented by indent spaces. */
static void help_wrap(FILE *f, int indent, const char *text)
{
	const char *p = text;
	int col = 0;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (col && col + 1 + (int)w > 79) {
			fputc('\n', f);
			col = 0;
		}
		if (!col)
			col = fprintf(f, "%*s", indent, "");
		else
			col += fprintf(f, " ");
		/* '~' is a space the line is not broken at ("5000~ms", "RFC~7143") */
		for (size_t i = 0; i < w; i++, col++)
			fputc(p[i] == '~' ? ' ' : p[i], f);
		p += w;
		p += strspn(p, " ");
	}
	fputc('\n', f);
}

static void help_scalars(FILE *f)
{
	struct tgt_config def;
	char text[512], dflt[32];

	tgt_config_defaults(&def);
	for (unsigned i = 0; i < SC_COUNT; i++) {
		const struct cfg_scalar *s = &cfg_scalars[i];
		int len;

		scalar_format(s, scalar_get(&def, s), dflt, sizeof(dflt));
		if (s->type == CT_BYTES)
			len = snprintf(text, sizeof(text), "%s Default:~%s~(%" PRIu64 "~bytes).",
				       s->help, dflt, scalar_get(&def, s));
		else
			len = snprintf(text, sizeof(text), "%s Default:~%s%s.", s->help, dflt,
				       scalar_unit(s, true));
		if (s->type != CT_BOOL)
			snprintf(text + len, sizeof(text) - (size_t)len,
				 " Range:~%s%" PRIu64 "..%" PRIu64 "%s.", s->zero_ok ? "0~or~" : "",
				 s->min, s->max, scalar_unit(s, true));
		fprintf(f, "  --%s %s\n", s->opt, s->metavar);
		help_wrap(f, 6, text);
	}
}

static const char help_head[] =
	"Usage: %1$s --standalone --iqn NAME --portal ADDR[:PORT] --lun PATH[,OPT...]\n"
	"                [OPTION]...\n"
	"       %1$s --standalone -c FILE [OPTION]...\n"
	"       %1$s --check-config FILE [OPTION]...\n"
	"\n"
	"clusterd serves block storage over iSCSI (RFC 7143). With --standalone it is\n"
	"a single-node iSCSI target: one target NAME, one portal group listening on\n"
	"the given portals, and LUNs backed by files or block devices, read and written\n"
	"through io_uring. Everything can be given on the command line; a config file\n"
	"(-c) holds the same settings, and command-line options override it.\n"
	"\n"
	"General options:\n"
	"  --standalone\n"
	"      Run as a single-node iSCSI target (the only mode so far).\n"
	"  -c, --config FILE\n"
	"      Read settings from the INI FILE (see CONFIG FILE below).\n"
	"  --check-config FILE\n"
	"      Read FILE and the other options, validate them, print the resulting\n"
	"      configuration with derived values (secrets hidden), and exit.\n"
	"  -d, --debug\n"
	"      Log at debug level. Default: info.\n"
	"  -h, --help\n"
	"      Print this help and exit.\n"
	"  -V, --version\n"
	"      Print the version and exit.\n"
	"\n"
	"Target:\n"
	"  --iqn NAME\n"
	"      The target's iSCSI name: iqn.YYYY-MM.reversed.domain[:identifier],\n"
	"      eui.<16 hex digits> or naa.<16 or 32 hex digits>, in lowercase, at most\n"
	"      223 bytes (RFC 7143 4.2.7). Required.\n"
	"  --alias TEXT\n"
	"      TargetAlias reported to initiators (RFC 7143 13.6). Default: none.\n"
	"  --portal ADDR[:PORT][,tpgt=N][,rel_port_id=N]\n"
	"      Listen on a numeric IPv4 address or a bracketed IPv6 one: 0.0.0.0,\n"
	"      127.0.0.1:3260, [::1]:3260. PORT defaults to 3260. Repeat for more\n"
	"      portals. At least one is required: there is no default address.\n"
	"      tpgt: target portal group tag, 1..65535, default 1.\n"
	"      rel_port_id: SCSI relative target port id, 1..65535; default: the\n"
	"      lowest free one, in portal order (1, 2, ...).\n"
	"  --lun PATH[,size=BYTES][,blocksize=512|4096][,ro][,direct=no][,id=HEX]\n"
	"      Export the file or block device at the absolute PATH as the next LUN;\n"
	"      LUNs are numbered 0, 1, 2... in the order given. Repeat for more LUNs.\n"
	"      At least one is required.\n"
	"      size: bytes (K, M, G, T suffixes); default: the size of the file or\n"
	"      device. Must be a multiple of blocksize.\n"
	"      blocksize: logical block size in bytes. Default: 512.\n"
	"      ro: export read-only. Default: read-write.\n"
	"      direct=no: go through the page cache instead of O_DIRECT.\n"
	"      id: the LU's 64-bit id (1 to 16 hex digits) from which its NAA name and\n"
	"      serial number derive. Default: FNV-1a 64 of \"NAME/LUN\", the same on\n"
	"      every node (see clusterd(8)).\n"
	"  --chap USER:SECRET[:MUTUAL_USER:MUTUAL_SECRET]\n"
	"      Require CHAP: an initiator logs in as USER with SECRET; with the\n"
	"      mutual pair the target also proves itself as MUTUAL_USER. Secrets are\n"
	"      12 to 255 bytes (RFC 7143 9.2.1 requires 96 bits; Microsoft's initiator\n"
	"      takes at most 16) and the two must differ. Names containing ':' go in\n"
	"      the [chap] section. The command line is visible to every local user:\n"
	"      prefer a config file of mode 0600. Default: no authentication.\n"
	"  --allow NAME\n"
	"      Accept logins only from the initiator NAME. Repeat for more.\n"
	"      Default: every initiator.\n"
	"\n"
	"Performance and iSCSI tuning (the target's offer: an initiator may negotiate\n"
	"lower values). BYTES take a K, M, G or T suffix (powers of 1024); MS is in\n"
	"milliseconds unless it ends in s (5s) or ms:\n";

static const char help_tail[] =
	"\n"
	"CONFIG FILE\n"
	"  INI syntax: [section] lines, then key = value lines; comments start with ;\n"
	"  or # at the beginning of a line, or with ; after a space. The sections:\n"
	"  [target]  iqn, alias, debug, and every tuning option above with '_' for '-'\n"
	"            (queue_depth = 128). Once.\n"
	"  [portal]  address = ADDR[:PORT], tpgt, rel_port_id. One per portal.\n"
	"  [lun]     path, size, blocksize, read_only, direct, id. One per LUN.\n"
	"  [chap]    user, secret, mutual_user, mutual_secret. Once.\n"
	"  [acl]     allow = NAME, one line per initiator.\n"
	"  Booleans are yes/no, true/false, on/off or 1/0. An unknown section or key,\n"
	"  a key given twice in a section, and a bad value are errors that name the\n"
	"  file, line and key. Options on the command line override the file: a\n"
	"  single value replaces the file's, and the first --portal, --lun, --allow or\n"
	"  --chap replaces all of the file's portals, LUNs, initiators or CHAP.\n"
	"\n"
	"EXAMPLES\n"
	"  Export one 1 GiB image on the loopback address:\n"
	"    %1$s --standalone --iqn iqn.2026-01.org.example:storage \\\n"
	"        --portal 127.0.0.1:3260 --lun /var/lib/clusterd/lun0.img,size=1G\n"
	"  Two LUNs on IPv4 and IPv6, CHAP, one allowed initiator:\n"
	"    %1$s --standalone --iqn iqn.2026-01.org.example:storage \\\n"
	"        --portal 192.0.2.10 --portal [2001:db8::10]:3260 \\\n"
	"        --lun /dev/vg0/db,ro --lun /srv/scratch.img,size=20G,blocksize=4096 \\\n"
	"        --allow iqn.1994-05.com.redhat:client1 --queue-depth 64\n"
	"  The same from a file, with a larger data segment for this run:\n"
	"    %1$s --standalone -c /etc/clusterd/target.ini --max-recv-dsl 1M\n"
	"  Check a file before using it:\n"
	"    %1$s --check-config /etc/clusterd/target.ini\n"
	"\n"
	"SIGNALS\n"
	"  SIGTERM, SIGINT  Stop cleanly: accept no new logins or commands, let\n"
	"                   in-flight I/O complete, log sessions out, and exit 0.\n"
	"\n"
	"EXIT STATUS\n"
	"  0  Stopped cleanly; or --help, --version or --check-config succeeded.\n"
	"  1  The configuration is incomplete or inconsistent (no portal, two LUNs on\n"
	"     one file, ...), or the target failed while running.\n"
	"  2  A bad option, value or config file line, or a file that cannot be read.\n"
	"\n"
	"See clusterd(8) for the full reference.\n";

void config_print_help(FILE *f, const char *prog)
{
	fprintf(f, help_head, prog);
	help_scalars(f);
	fprintf(f, help_tail, prog);
}
