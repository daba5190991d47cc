/* SPDX-License-Identifier: MIT */
/*
 * iscsi-alua: what an ALUA multipath initiator sees of the cluster, path by
 * path.
 *
 * It logs in to every iSCSI URL given (typically the four portals of the
 * two-node cluster, one session each) and asks each path what dm-multipath's
 * alua handler asks: standard INQUIRY (TPGS), VPD 83h (the LU's NAA, the
 * path's target port group and relative target port) and REPORT TARGET PORT
 * GROUPS with the extended header. Then it checks that all paths name the same
 * LU, report the same port-group table, and that each path's own port is in
 * the group VPD 83h names. Exit 0 only when every check passes.
 *
 * With --poll MS it keeps asking TEST UNIT READY + RTPG on every path every MS
 * and prints a timeline line whenever something changes: a table, a sense
 * (UNIT ATTENTION 2A/06, NOT READY 04/0A, ...), a lost connection, a
 * reconnect. It stops after --duration S or on SIGINT/SIGTERM, prints a
 * summary and fails if two port groups were ever AO at the same time (see
 * struct ao_run). With --io MS it also writes and reads back 4 KiB on an AO
 * path every MS and reports the longest time without a successful I/O.
 *
 * Everything runs on one poll loop with a deadline per command and per login.
 * libiscsi's *_sync calls only run their timeouts while the socket is active,
 * so a silent target (a fenced node behind a downed link) would hang them;
 * and libiscsi's own reconnect blocks. So every command is asynchronous
 * (iscsi_scsi_command_async with hand-built CDBs) and libiscsi never
 * reconnects: a failed path is torn down and logged in again as a fresh
 * session, and each of these steps is reported.
 *
 * The answers are judged with this file's own parsers, never the target's.
 *
 * Usage: iscsi-alua [--json] [--timeout MS] [--initiator IQN]
 *                   [--poll MS [--duration S] [--io MS [--lba N]]] URL...
 *   URL: iscsi://HOST[:PORT]/TARGET-IQN/LUN
 * Exit: 0 all checks passed; 1 a check failed; 2 usage or setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "lib/byteorder.h"

#define MAX_PATHS      16
#define RTPG_MAX_TPGS  16
#define RTPG_MAX_PORTS 32
#define IO_BYTES       4096u
#define RUNS_MAX       512 /* AO runs remembered for the overlap check */
#define RECONNECT_MS   200 /* pause between login attempts of a path */
#define UA_RETRIES     8   /* identity commands retried after a UNIT ATTENTION */
#define TXT_MAX	       512
#define SENSE_TXT      160 /* sense_text() output */

/* ---- options ---- */

static struct {
	bool json;
	int poll_ms;	 /* 0: one snapshot */
	double duration; /* seconds of polling */
	int io_ms;	 /* 0: no I/O */
	int timeout_ms;	 /* per command and per login */
	const char *initiator;
	uint64_t io_offset; /* byte offset of the I/O block */
} opt = {
	.duration = 10.0,
	.timeout_ms = 2000,
	.initiator = "iqn.2026-01.org.clusterd:iscsi-alua",
	.io_offset = 1u << 20,
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- wire parsers (sans-I/O) ---- */

/* Standard INQUIRY data (SPC-4 6.6.2): TPGS is byte 5, bits 5:4. */
static int inq_parse_tpgs(const uint8_t *buf, size_t len)
{
	if (len < 6)
		return -EBADMSG;
	return (buf[5] >> 4) & 0x03;
}

struct path_ident {
	uint8_t naa[16];
	uint8_t naa_len; /* 0: no NAA designator for the LU */
	int tpg_id;	 /* -1: no target port group designator */
	int rel_port;	 /* -1: no relative target port designator */
};

/*
 * Device Identification VPD page (SPC-4 7.8.6): designation descriptors of
 * 4 bytes + designator. Takes the LU's NAA (association 0, type 3), the
 * target port group (association 1, type 5) and the relative target port
 * (association 1, type 4; both carry the id in designator bytes 2-3).
 */
static int vpd83_parse(const uint8_t *buf, size_t len, struct path_ident *id)
{
	size_t end, off = 4;

	memset(id, 0, sizeof(*id));
	id->tpg_id = -1;
	id->rel_port = -1;
	if (len < 4 || buf[1] != 0x83)
		return -EBADMSG;
	end = 4 + (size_t)get_be16(buf + 2);
	if (end > len)
		end = len;
	while (off + 4 <= end) {
		const uint8_t *d = buf + off;
		uint8_t assoc = (d[1] >> 4) & 0x03, type = d[1] & 0x0f, dlen = d[3];

		if (off + 4 + dlen > end)
			return -EBADMSG;
		if (assoc == 0 && type == 3 && dlen <= sizeof(id->naa) && !id->naa_len) {
			memcpy(id->naa, d + 4, dlen);
			id->naa_len = dlen;
		} else if (assoc == 1 && type == 5 && dlen >= 4) {
			id->tpg_id = get_be16(d + 6);
		} else if (assoc == 1 && type == 4 && dlen >= 4) {
			id->rel_port = get_be16(d + 6);
		}
		off += 4 + (size_t)dlen;
	}
	return 0;
}

struct rtpg_tpg {
	uint16_t id;
	uint8_t state; /* asymmetric access state, SPC-4 table "ASYMMETRIC ACCESS STATE" */
	bool pref;
	uint8_t status; /* STATUS CODE: not compared between paths */
	uint8_t nports;
	uint16_t port[RTPG_MAX_PORTS];
};

struct rtpg {
	bool extended; /* the device server answered with the extended header */
	uint8_t itt;   /* IMPLICIT TRANSITION TIME (extended header only), s */
	uint8_t ntpgs;
	struct rtpg_tpg tpg[RTPG_MAX_TPGS];
};

/*
 * REPORT TARGET PORT GROUPS parameter data (SPC-4 6.37). The extended header
 * has FORMAT TYPE 001b in byte 4 bits 6:4; in the length-only format that
 * byte is a descriptor's first byte, whose bits 6:4 are reserved (zero), so
 * the two cannot be confused. Returns 0, -EMSGSIZE when buf holds less than
 * RETURN DATA LENGTH says (ask again with a larger allocation) or -EBADMSG.
 */
static int rtpg_parse(const uint8_t *buf, size_t len, struct rtpg *rt)
{
	size_t end, off = 4;

	memset(rt, 0, sizeof(*rt));
	if (len < 4)
		return -EBADMSG;
	end = 4 + (size_t)get_be32(buf);
	if (end > len)
		return -EMSGSIZE;
	if (end >= 8 && ((buf[4] >> 4) & 0x07) == 1) {
		rt->extended = true;
		rt->itt = buf[5];
		off = 8;
	}
	while (off < end) {
		const uint8_t *d = buf + off;
		struct rtpg_tpg *t;

		if (off + 8 > end || rt->ntpgs == RTPG_MAX_TPGS)
			return -EBADMSG;
		t = &rt->tpg[rt->ntpgs++];
		t->pref = d[0] & 0x80;
		t->state = d[0] & 0x0f;
		t->id = get_be16(d + 2);
		t->status = d[5];
		t->nports = d[7];
		if (t->nports > RTPG_MAX_PORTS || off + 8 + 4 * (size_t)t->nports > end)
			return -EBADMSG;
		for (unsigned i = 0; i < t->nports; i++)
			t->port[i] = get_be16(d + 8 + 4 * i + 2);
		off += 8 + 4 * (size_t)t->nports;
	}
	return 0;
}

/* Same groups, states, preference and ports in the same order (not STATUS CODE). */
static bool rtpg_equal(const struct rtpg *a, const struct rtpg *b)
{
	if (a->extended != b->extended || a->itt != b->itt || a->ntpgs != b->ntpgs)
		return false;
	for (unsigned g = 0; g < a->ntpgs; g++) {
		const struct rtpg_tpg *x = &a->tpg[g], *y = &b->tpg[g];

		if (x->id != y->id || x->state != y->state || x->pref != y->pref ||
		    x->nports != y->nports ||
		    memcmp(x->port, y->port, x->nports * sizeof(x->port[0])) != 0)
			return false;
	}
	return true;
}

/* The group that lists rel_port, or NULL. */
static const struct rtpg_tpg *rtpg_port_tpg(const struct rtpg *rt, int rel_port)
{
	for (unsigned g = 0; g < rt->ntpgs; g++)
		for (unsigned i = 0; i < rt->tpg[g].nports; i++)
			if (rt->tpg[g].port[i] == rel_port)
				return &rt->tpg[g];
	return NULL;
}

#define STATE_NONE 0xff /* the path's port is in no reported group */

static const char *alua_state_name(uint8_t s)
{
	switch (s) {
	case 0x0:
		return "ao";
	case 0x1:
		return "ano";
	case 0x2:
		return "standby";
	case 0x3:
		return "unavailable";
	case 0x4:
		return "lba_dependent";
	case 0xe:
		return "offline";
	case 0xf:
		return "transitioning";
	case STATE_NONE:
		return "none";
	default:
		return "reserved";
	}
}

/* "1:ao[1,2] 2:ano[3,4]" */
static void rtpg_summary(const struct rtpg *rt, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = 0;
	for (unsigned g = 0; g < rt->ntpgs && n < cap; g++) {
		const struct rtpg_tpg *t = &rt->tpg[g];

		n += (size_t)snprintf(out + n, cap - n, "%s%u:%s%s[", g ? " " : "", t->id,
				      alua_state_name(t->state), t->pref ? "+pref" : "");
		for (unsigned i = 0; i < t->nports && n < cap; i++)
			n += (size_t)snprintf(out + n, cap - n, "%s%u", i ? "," : "", t->port[i]);
		if (n < cap)
			n += (size_t)snprintf(out + n, cap - n, "]");
	}
}

static void hex_str(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

/* ---- sense ---- */

static const char *const sense_key_names[16] = {
	"NO SENSE",	  "RECOVERED ERROR", "NOT READY",      "MEDIUM ERROR",
	"HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
	"BLANK CHECK",	  "VENDOR SPECIFIC", "COPY ABORTED",   "ABORTED COMMAND",
	"KEY 0xC",	  "VOLUME OVERFLOW", "MISCOMPARE",     "COMPLETED",
};

/* SPC-4 Annex D, the codes this cluster's initiators meet. */
static const struct {
	uint8_t asc, ascq;
	const char *name;
} asc_names[] = {
	{0x04, 0x0a, "asymmetric access state transition"},
	{0x04, 0x0b, "target port in standby state"},
	{0x04, 0x0c, "target port in unavailable state"},
	{0x20, 0x00, "invalid command operation code"},
	{0x24, 0x00, "invalid field in cdb"},
	{0x25, 0x00, "logical unit not supported"},
	{0x29, 0x00, "power on, reset, or bus device reset occurred"},
	{0x29, 0x01, "power on occurred"},
	{0x29, 0x02, "scsi bus reset occurred"},
	{0x29, 0x03, "bus device reset function occurred"},
	{0x29, 0x07, "i_t nexus loss occurred"},
	{0x2a, 0x01, "mode parameters changed"},
	{0x2a, 0x03, "reservations preempted"},
	{0x2a, 0x06, "asymmetric access state changed"},
	{0x2a, 0x09, "capacity data has changed"},
	{0x3f, 0x0e, "reported luns data has changed"},
};

static const char *asc_name(uint8_t asc, uint8_t ascq)
{
	for (size_t i = 0; i < sizeof(asc_names) / sizeof(asc_names[0]); i++)
		if (asc_names[i].asc == asc && asc_names[i].ascq == ascq)
			return asc_names[i].name;
	return "";
}

static const char *scsi_status_name(int status)
{
	switch (status) {
	case SCSI_STATUS_GOOD:
		return "GOOD";
	case SCSI_STATUS_CHECK_CONDITION:
		return "CHECK CONDITION";
	case SCSI_STATUS_CONDITION_MET:
		return "CONDITION MET";
	case SCSI_STATUS_BUSY:
		return "BUSY";
	case SCSI_STATUS_RESERVATION_CONFLICT:
		return "RESERVATION CONFLICT";
	case SCSI_STATUS_TASK_SET_FULL:
		return "TASK SET FULL";
	case SCSI_STATUS_ACA_ACTIVE:
		return "ACA ACTIVE";
	case SCSI_STATUS_TASK_ABORTED:
		return "TASK ABORTED";
	case SCSI_STATUS_CANCELLED:
		return "cancelled";
	case SCSI_STATUS_TIMEOUT:
		return "timeout";
	default:
		return "transport error";
	}
}

/* A SCSI status from the target (as opposed to libiscsi's own failure codes). */
static bool status_is_scsi(int status)
{
	return status >= 0 && status < 0x100;
}

struct sense {
	uint8_t key, asc, ascq;
};

static void sense_of(const struct scsi_task *t, struct sense *s)
{
	s->key = (uint8_t)(t->sense.key & 0x0f);
	s->asc = (uint8_t)((t->sense.ascq >> 8) & 0xff);
	s->ascq = (uint8_t)(t->sense.ascq & 0xff);
}

/* "UNIT ATTENTION 2A/06 (asymmetric access state changed)" */
static void sense_text(const struct sense *s, char *out, size_t cap)
{
	const char *n = asc_name(s->asc, s->ascq);

	snprintf(out, cap, "%s %02X/%02X%s%s%s", sense_key_names[s->key], s->asc, s->ascq,
		 *n ? " (" : "", n, *n ? ")" : "");
}

static json_object *sense_json(const struct sense *s)
{
	json_object *o = json_object_new_object();
	char code[8];

	snprintf(code, sizeof(code), "%02X/%02X", s->asc, s->ascq);
	json_object_object_add(o, "key", json_object_new_int(s->key));
	json_object_object_add(o, "key_name", json_object_new_string(sense_key_names[s->key]));
	json_object_object_add(o, "asc", json_object_new_int(s->asc));
	json_object_object_add(o, "ascq", json_object_new_int(s->ascq));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "name", json_object_new_string(asc_name(s->asc, s->ascq)));
	return o;
}

/* ---- CDBs (SPC-4, SBC-3) ---- */

static int cdb_inquiry(uint8_t *cdb, bool evpd, uint8_t page, uint16_t alloc)
{
	memset(cdb, 0, 6); /* SPC-4 6.6 */
	cdb[0] = 0x12;
	cdb[1] = evpd ? 0x01 : 0;
	cdb[2] = page;
	put_be16(cdb + 3, alloc);
	return 6;
}

static int cdb_rtpg(uint8_t *cdb, uint32_t alloc)
{
	memset(cdb, 0, 12); /* SPC-4 6.37: MAINTENANCE IN, service action 0Ah */
	cdb[0] = 0xa3;
	cdb[1] = (1 << 5) | 0x0a; /* PARAMETER DATA FORMAT 001b: extended header */
	put_be32(cdb + 6, alloc);
	return 12;
}

static int cdb_tur(uint8_t *cdb)
{
	memset(cdb, 0, 6); /* SPC-4 6.47 */
	return 6;
}

static int cdb_read_capacity10(uint8_t *cdb)
{
	memset(cdb, 0, 10); /* SBC-3 5.15 */
	cdb[0] = 0x25;
	return 10;
}

static int cdb_rw10(uint8_t *cdb, bool write, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10); /* SBC-3 5.11 READ (10), 5.32 WRITE (10) */
	cdb[0] = write ? 0x2a : 0x28;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, blocks);
	return 10;
}

/* ---- paths ---- */

/*
 * A path's connection:
 *
 *   DOWN --connect--> TCP --connected--> LOGIN --logged in--> UP
 *     ^                |                   |                   |
 *     +----------------+---- failure, deadline or lost --------+
 *
 * UP runs the control chain: INQUIRY, VPD 83h, RTPG (the path's identity),
 * then in poll mode TUR + RTPG rounds every --poll MS. The I/O chain (--io)
 * runs beside it on the same session: READ CAPACITY once, then WRITE + READ.
 */
enum conn_state { CONN_DOWN, CONN_TCP, CONN_LOGIN, CONN_UP };

enum cmd_kind { K_INQ, K_VPD83, K_RTPG, K_TUR, K_CAP, K_WRITE, K_READ };

static const char *const cmd_names[] = {
	[K_INQ] = "INQUIRY",
	[K_VPD83] = "INQUIRY VPD 83h",
	[K_RTPG] = "REPORT TARGET PORT GROUPS",
	[K_TUR] = "TEST UNIT READY",
	[K_CAP] = "READ CAPACITY (10)",
	[K_WRITE] = "WRITE (10)",
	[K_READ] = "READ (10)",
};

struct path;

/* One outstanding command; done is set by libiscsi's callback, handled by the loop. */
struct cmd {
	struct path *p;
	enum cmd_kind kind;
	struct scsi_task *task; /* owned here; NULL when idle */
	int64_t sent, deadline;
	bool busy, done;
	int status;
};

struct path {
	unsigned idx; /* 1-based, as printed */
	const char *url;
	char portal[MAX_STRING_SIZE + 1];
	char target[MAX_STRING_SIZE + 1];
	int lun;

	struct iscsi_context *ctx;
	enum conn_state conn;
	int64_t conn_deadline, next_connect;
	bool conn_event; /* connect or login callback fired */
	int conn_status;
	char cb_err[TXT_MAX]; /* libiscsi's error when the callback fired */
	unsigned attempts;
	char conn_err[TXT_MAX]; /* the last failure, printed again only when it changes */
	bool ever_up, gave_up;

	/* identity of the current session */
	int tpgs;
	struct path_ident id;
	bool have_ident;
	unsigned ua_retries;
	uint32_t rtpg_alloc;

	struct cmd ctl;
	bool identified; /* INQUIRY + VPD 83h + first RTPG done */
	int64_t next_poll;
	bool have_rt;
	struct rtpg rt;
	uint8_t own_state; /* own group's state in rt, STATE_NONE if not listed */
	char tur_last[TXT_MAX];
	char sense_last[K_READ + 1][SENSE_TXT]; /* last sense reported per command */
	unsigned samples;
	int64_t last_sample, max_sample_gap; /* last_sample 0: none in this session */

	struct cmd io;
	uint32_t block_size;
	uint8_t io_buf[IO_BYTES], rd_buf[IO_BYTES];
	uint64_t io_seq;

	unsigned ua_2a06, nr_040a, conn_losses;
};

static struct path paths[MAX_PATHS];
static unsigned npaths;
static int64_t t_start;
static unsigned dual_ao_count, io_mismatch_count;

/* ---- events ---- */

static json_object *ev_new(const char *type, const struct path *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "t_ms", json_object_new_int64(mono_ms() - t_start));
	json_object_object_add(o, "epoch_ms", json_object_new_int64(epoch_ms()));
	if (p) {
		json_object_object_add(o, "path", json_object_new_int((int)p->idx));
		json_object_object_add(o, "portal", json_object_new_string(p->portal));
		if (p->have_ident)
			json_object_object_add(o, "tpg", json_object_new_int(p->id.tpg_id));
	}
	return o;
}

/* Prints one timeline line: the JSON object with --json, else the text. */
__attribute__((format(printf, 3, 4))) static void ev_emit(json_object *o, const struct path *p,
							  const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!opt.poll_ms) {
		/* a snapshot reports in its one document */
		json_object_put(o);
		return;
	}
	if (opt.json) {
		json_object_object_add(o, "text", json_object_new_string(text));
		printf("%s\n", json_object_to_json_string_ext(
				       o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		int64_t t = mono_ms() - t_start;

		if (p)
			printf("%+7.3f  path%u %s tpg %d: %s\n", (double)t / 1000, p->idx,
			       p->portal, p->have_ident ? p->id.tpg_id : -1, text);
		else
			printf("%+7.3f  %s\n", (double)t / 1000, text);
	}
	json_object_put(o);
}

/* ---- AO overlap check ---- */

/*
 * An AO run is a series of RTPG samples on one path that all said the path's
 * own group is active/optimized. A sample sent at s and answered at r says
 * the state held at some instant in [s, r]. If the first sample of a run was
 * answered at r_first and the last one sent at s_last, then the group was AO
 * for all of [r_first, s_last] - unless it left AO and came back in between,
 * which no sane target does within one poll interval. Two groups whose
 * certain intervals overlap were both AO at once: that is the split brain
 * this tool exists to catch. Sampling can miss an overlap shorter than the
 * poll interval, but never reports one that did not happen. A non-AO sample
 * or a lost connection ends a run.
 *
 * A group is its id together with the ports it lists, as the path's node
 * reports it: two nodes that both call themselves group 1 with different
 * ports (two standalone targets, a misconfigured cluster) are two groups.
 */
#define GROUP_KEY_MAX 96

struct ao_run {
	unsigned path;
	int tpg;
	char group[GROUP_KEY_MAX]; /* "1:1,2" */
	int64_t r_first, s_last;
	bool open;
};

static struct ao_run runs[RUNS_MAX];
static unsigned nruns;

static struct ao_run *ao_run_open(unsigned path)
{
	for (unsigned i = nruns; i-- > 0;)
		if (runs[i].path == path && runs[i].open)
			return &runs[i];
	return NULL;
}

static void ao_run_close(unsigned path)
{
	struct ao_run *r = ao_run_open(path);

	if (r)
		r->open = false;
}

static void ao_report(const struct ao_run *a, const struct ao_run *b, int64_t lo, int64_t hi)
{
	json_object *o = ev_new("dual_ao", NULL);

	dual_ao_count++;
	json_object_object_add(o, "path_a", json_object_new_int((int)a->path));
	json_object_object_add(o, "tpg_a", json_object_new_int(a->tpg));
	json_object_object_add(o, "group_a", json_object_new_string(a->group));
	json_object_object_add(o, "path_b", json_object_new_int((int)b->path));
	json_object_object_add(o, "tpg_b", json_object_new_int(b->tpg));
	json_object_object_add(o, "group_b", json_object_new_string(b->group));
	json_object_object_add(o, "from_ms", json_object_new_int64(lo - t_start));
	json_object_object_add(o, "to_ms", json_object_new_int64(hi - t_start));
	ev_emit(o, NULL,
		"DUAL AO: group %s (path%u) and group %s (path%u) were both active/optimized "
		"from %+.3f to %+.3f",
		a->group, a->path, b->group, b->path, (double)(lo - t_start) / 1000,
		(double)(hi - t_start) / 1000);
}

/* Room for a new run: forget the oldest closed one (or the oldest at all). */
static struct ao_run *ao_run_new(void)
{
	unsigned victim = 0;

	if (nruns < RUNS_MAX)
		return &runs[nruns++];
	for (unsigned i = 0; i < nruns; i++)
		if (!runs[i].open) {
			victim = i;
			break;
		}
	memmove(runs + victim, runs + victim + 1, (RUNS_MAX - 1 - victim) * sizeof(runs[0]));
	return &runs[RUNS_MAX - 1];
}

static void group_key(const struct path *p, char *out, size_t cap)
{
	const struct rtpg_tpg *t = rtpg_port_tpg(&p->rt, p->id.rel_port);
	size_t n = (size_t)snprintf(out, cap, "%d:", t ? t->id : p->id.tpg_id);

	for (unsigned i = 0; t && i < t->nports && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%u", i ? "," : "", t->port[i]);
}

/* Records one RTPG sample of path p; reports each newly certain overlap once. */
static void ao_sample(const struct path *p, bool ao, int64_t sent, int64_t answered)
{
	struct ao_run *r = ao_run_open(p->idx);

	if (!ao) {
		ao_run_close(p->idx);
		return;
	}
	if (!r) {
		r = ao_run_new();
		*r = (struct ao_run){.path = p->idx,
				     .tpg = p->id.tpg_id,
				     .r_first = answered,
				     .s_last = sent,
				     .open = true};
		group_key(p, r->group, sizeof(r->group));
		return;
	}
	for (unsigned i = 0; i < nruns; i++) {
		const struct ao_run *q = &runs[i];
		int64_t lo = r->r_first > q->r_first ? r->r_first : q->r_first;
		int64_t hi_old = r->s_last < q->s_last ? r->s_last : q->s_last;
		int64_t hi = sent < q->s_last ? sent : q->s_last;

		if (strcmp(q->group, r->group) == 0)
			continue;
		/* report when the overlap first becomes non-empty */
		if (lo < hi && !(lo < hi_old))
			ao_report(q, r, lo, hi);
	}
	r->s_last = sent;
}

/* ---- commands ---- */

static void cmd_cb(struct iscsi_context *ctx, int status, void *command_data, void *private_data)
{
	struct cmd *c = private_data;

	(void)ctx;
	(void)command_data; /* c->task is the same task, or NULL data on cancel */
	c->status = status;
	c->done = true;
}

/* Frees the task (the context it ran on is gone or the callback has run). */
static void cmd_reset(struct cmd *c)
{
	if (c->task)
		scsi_free_scsi_task(c->task);
	c->task = NULL;
	c->busy = c->done = false;
}

static int cmd_submit(struct path *p, struct cmd *c, enum cmd_kind kind, const uint8_t *cdb,
		      int cdb_len, int dir, uint32_t xfer, uint8_t *out)
{
	struct iscsi_data d = {.size = xfer, .data = out};

	c->p = p;
	c->kind = kind;
	c->task = scsi_create_task(cdb_len, (unsigned char *)cdb, dir, (int)xfer);
	if (!c->task)
		return -ENOMEM;
	c->sent = mono_ms();
	c->deadline = c->sent + opt.timeout_ms;
	c->busy = true;
	c->done = false;
	if (iscsi_scsi_command_async(p->ctx, p->lun, c->task, cmd_cb, out ? &d : NULL, c) != 0) {
		cmd_reset(c);
		return -EIO;
	}
	return 0;
}

/* ---- connection ---- */

static void path_fail(struct path *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void path_destroy_ctx(struct path *p)
{
	if (p->ctx) {
		/* may complete our commands with CANCELLED: cmd_cb only sets flags */
		iscsi_destroy_context(p->ctx);
		p->ctx = NULL;
	}
	cmd_reset(&p->ctl);
	cmd_reset(&p->io);
}

static void path_fail(struct path *p, const char *fmt, ...)
{
	char why[TXT_MAX];
	bool was_up = p->conn == CONN_UP;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	path_destroy_ctx(p);
	ao_run_close(p->idx);
	p->conn = CONN_DOWN;
	p->identified = p->have_rt = false;
	p->tur_last[0] = 0;
	p->last_sample = 0;
	p->next_connect = mono_ms() + RECONNECT_MS;
	if (!opt.poll_ms)
		p->gave_up = true;
	if (was_up) {
		json_object *o = ev_new("conn_lost", p);

		p->conn_losses++;
		json_object_object_add(o, "error", json_object_new_string(why));
		ev_emit(o, p, "connection lost: %s%s", why, opt.poll_ms ? "; reconnecting" : "");
	} else if (strcmp(why, p->conn_err) != 0) {
		json_object *o = ev_new("conn_fail", p);

		json_object_object_add(o, "error", json_object_new_string(why));
		ev_emit(o, p, "login failed: %s%s", why,
			opt.poll_ms ? "; retrying (reported again only when the error changes)"
				    : "");
	}
	snprintf(p->conn_err, sizeof(p->conn_err), "%s", why);
}

/* libiscsi's last error on p's context, on one line. */
static const char *ctx_err(const struct iscsi_context *ctx)
{
	static char buf[TXT_MAX];
	const char *e = ctx ? iscsi_get_error((struct iscsi_context *)ctx) : NULL;
	size_t n;

	snprintf(buf, sizeof(buf), "%s", e && *e ? e : "unknown error");
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '.'))
		buf[--n] = 0;
	return buf;
}

static void conn_cb(struct iscsi_context *ctx, int status, void *command_data, void *private_data)
{
	struct path *p = private_data;

	(void)command_data;
	p->conn_status = status;
	p->conn_event = true;
	/* libiscsi overwrites the reason before iscsi_service() returns */
	snprintf(p->cb_err, sizeof(p->cb_err), "%s", ctx_err(ctx));
}

static void path_connect(struct path *p)
{
	p->attempts++;
	p->ctx = iscsi_create_context(opt.initiator);
	if (!p->ctx) {
		path_fail(p, "iscsi_create_context failed");
		return;
	}
	iscsi_set_targetname(p->ctx, p->target);
	iscsi_set_session_type(p->ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(p->ctx, ISCSI_HEADER_DIGEST_NONE);
	/* we reconnect ourselves, without blocking the other paths */
	iscsi_set_noautoreconnect(p->ctx, 1);
	/* libiscsi's own timeout (whole seconds) backs up our deadlines */
	iscsi_set_timeout(p->ctx, (opt.timeout_ms + 999) / 1000 + 1);
	p->conn = CONN_TCP;
	p->conn_event = false;
	p->conn_deadline = mono_ms() + opt.timeout_ms;
	if (iscsi_connect_async(p->ctx, p->portal, conn_cb, p) != 0)
		path_fail(p, "connect: %s", ctx_err(p->ctx));
}

static void path_ctl_start(struct path *p);

static void path_conn_event(struct path *p)
{
	p->conn_event = false;
	if (p->conn_status != SCSI_STATUS_GOOD) {
		path_fail(p, "%s: %s", p->conn == CONN_TCP ? "connect" : "login", p->cb_err);
		return;
	}
	if (p->conn == CONN_TCP) {
		p->conn = CONN_LOGIN;
		if (iscsi_login_async(p->ctx, conn_cb, p) != 0)
			path_fail(p, "login: %s", ctx_err(p->ctx));
		return;
	}
	p->conn = CONN_UP;
	p->have_ident = false;
	p->ua_retries = 0;
	p->rtpg_alloc = 1024;
	path_ctl_start(p);
}

/* ---- control chain: identity, then TUR + RTPG rounds ---- */

static void ctl_send(struct path *p, enum cmd_kind kind)
{
	uint8_t cdb[16];
	int n;
	uint32_t xfer;

	switch (kind) {
	case K_INQ:
		xfer = 96;
		n = cdb_inquiry(cdb, false, 0, (uint16_t)xfer);
		break;
	case K_VPD83:
		xfer = 1024;
		n = cdb_inquiry(cdb, true, 0x83, (uint16_t)xfer);
		break;
	case K_RTPG:
		xfer = p->rtpg_alloc;
		n = cdb_rtpg(cdb, xfer);
		break;
	default:
		xfer = 0;
		n = cdb_tur(cdb);
		break;
	}
	if (cmd_submit(p, &p->ctl, kind, cdb, n, xfer ? SCSI_XFER_READ : SCSI_XFER_NONE, xfer,
		       NULL) != 0)
		path_fail(p, "%s: cannot queue: %s", cmd_names[kind], ctx_err(p->ctx));
}

static void path_ctl_start(struct path *p)
{
	ctl_send(p, K_INQ);
}

/*
 * Reports a CHECK CONDITION. A UNIT ATTENTION is one event each time; any
 * other sense (NOT READY 04/0A on every poll while a group transitions) only
 * when it differs from the last one of the same chain.
 */
static void ev_sense(struct path *p, enum cmd_kind kind, const struct sense *s)
{
	char *last = p->sense_last[kind];
	json_object *o;
	char txt[SENSE_TXT];

	sense_text(s, txt, sizeof(txt));
	if (s->key != 0x06 && strcmp(txt, last) == 0)
		return;
	snprintf(last, SENSE_TXT, "%s", txt);
	if (s->key == 0x06 && s->asc == 0x2a && s->ascq == 0x06)
		p->ua_2a06++;
	if (s->key == 0x02 && s->asc == 0x04 && s->ascq == 0x0a)
		p->nr_040a++;
	o = ev_new("sense", p);
	json_object_object_add(o, "command", json_object_new_string(cmd_names[kind]));
	json_object_object_add(o, "sense", sense_json(s));
	ev_emit(o, p, "%s: CHECK CONDITION %s", cmd_names[kind], txt);
}

static json_object *rtpg_json(const struct rtpg *rt)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "extended", json_object_new_boolean(rt->extended));
	json_object_object_add(o, "implicit_transition_time", json_object_new_int(rt->itt));
	for (unsigned g = 0; g < rt->ntpgs; g++) {
		const struct rtpg_tpg *t = &rt->tpg[g];
		json_object *j = json_object_new_object(), *ports = json_object_new_array();

		json_object_object_add(j, "id", json_object_new_int(t->id));
		json_object_object_add(j, "state",
				       json_object_new_string(alua_state_name(t->state)));
		json_object_object_add(j, "state_code", json_object_new_int(t->state));
		json_object_object_add(j, "pref", json_object_new_boolean(t->pref));
		json_object_object_add(j, "status_code", json_object_new_int(t->status));
		for (unsigned i = 0; i < t->nports; i++)
			json_object_array_add(ports, json_object_new_int(t->port[i]));
		json_object_object_add(j, "ports", ports);
		json_object_array_add(arr, j);
	}
	json_object_object_add(o, "tpgs", arr);
	return o;
}

static void ev_connected(struct path *p)
{
	json_object *o = ev_new("connected", p);
	char naa[40];

	hex_str(p->id.naa, p->id.naa_len, naa);
	json_object_object_add(o, "naa", json_object_new_string(naa));
	json_object_object_add(o, "rel_port", json_object_new_int(p->id.rel_port));
	json_object_object_add(o, "tpgs_bits", json_object_new_int(p->tpgs));
	json_object_object_add(o, "attempts", json_object_new_int((int)p->attempts));
	ev_emit(o, p, "logged in (attempt %u): NAA %s, relative port %d, TPGS %d", p->attempts, naa,
		p->id.rel_port, p->tpgs);
	p->attempts = 0;
	p->conn_err[0] = 0;
	p->ever_up = true;
}

/* A new RTPG answer: the timeline line when it changed, and the AO check. */
static void path_rtpg_sample(struct path *p, const struct rtpg *rt)
{
	const struct rtpg_tpg *own = rtpg_port_tpg(rt, p->id.rel_port);
	bool changed = !p->have_rt || !rtpg_equal(rt, &p->rt);
	int64_t now = mono_ms();

	/* gaps within one session: a reconnect starts afresh */
	if (p->last_sample && now - p->last_sample > p->max_sample_gap)
		p->max_sample_gap = now - p->last_sample;
	p->samples++;
	p->last_sample = now;
	p->rt = *rt;
	p->have_rt = true;
	p->own_state = own ? own->state : STATE_NONE;
	ao_sample(p, p->own_state == 0, p->ctl.sent, now);
	if (changed && opt.poll_ms) {
		json_object *o = ev_new("rtpg", p);
		char sum[TXT_MAX];

		rtpg_summary(rt, sum, sizeof(sum));
		json_object_object_add(o, "own_state",
				       json_object_new_string(alua_state_name(p->own_state)));
		json_object_object_add(o, "rtpg", rtpg_json(rt));
		json_object_object_add(o, "summary", json_object_new_string(sum));
		ev_emit(o, p, "RTPG %s (own group %s)", sum, alua_state_name(p->own_state));
	}
}

static void path_tur_result(struct path *p, int status, const struct sense *s)
{
	char txt[TXT_MAX], st[SENSE_TXT];
	json_object *o;

	if (status == SCSI_STATUS_CHECK_CONDITION) {
		sense_text(s, st, sizeof(st));
		snprintf(txt, sizeof(txt), "CHECK CONDITION %s", st);
	} else {
		snprintf(txt, sizeof(txt), "%s", scsi_status_name(status));
	}
	/* sense was already reported by ev_sense; report the TUR state only on change */
	if (strcmp(txt, p->tur_last) == 0 || status == SCSI_STATUS_CHECK_CONDITION) {
		snprintf(p->tur_last, sizeof(p->tur_last), "%s", txt);
		return;
	}
	snprintf(p->tur_last, sizeof(p->tur_last), "%s", txt);
	o = ev_new("tur", p);
	json_object_object_add(o, "status", json_object_new_string(txt));
	ev_emit(o, p, "TEST UNIT READY: %s", txt);
}

/* Handles a good control command's data; returns the next command to send or -1. */
static int ctl_next(struct path *p, const uint8_t *data, size_t len)
{
	struct rtpg rt;
	int rc;

	switch (p->ctl.kind) {
	case K_INQ:
		p->tpgs = inq_parse_tpgs(data, len);
		if (p->tpgs < 0) {
			path_fail(p, "INQUIRY: %zu bytes, too short", len);
			return -1;
		}
		return K_VPD83;
	case K_VPD83:
		if (vpd83_parse(data, len, &p->id) != 0) {
			path_fail(p, "VPD 83h: malformed (%zu bytes)", len);
			return -1;
		}
		p->have_ident = true;
		return K_RTPG;
	case K_RTPG:
		rc = rtpg_parse(data, len, &rt);
		if (rc == -EMSGSIZE && p->rtpg_alloc < 65536) {
			p->rtpg_alloc = 4 + get_be32(data) + 8;
			return K_RTPG;
		}
		if (rc != 0) {
			path_fail(p, "RTPG: malformed parameter data (%zu bytes)", len);
			return -1;
		}
		if (!p->identified) {
			p->identified = true;
			if (opt.poll_ms)
				ev_connected(p);
		}
		path_rtpg_sample(p, &rt);
		return -1;
	default: /* K_TUR */
		return K_RTPG;
	}
}

static void path_ctl_done(struct path *p)
{
	struct cmd *c = &p->ctl;
	struct scsi_task *t = c->task;
	int status = c->status, next;
	struct sense s = {0};

	c->busy = c->done = false;
	if (!status_is_scsi(status)) {
		path_fail(p, "%s: %s (%s)", cmd_names[c->kind], scsi_status_name(status),
			  ctx_err(p->ctx));
		return;
	}
	if (status == SCSI_STATUS_CHECK_CONDITION) {
		sense_of(t, &s);
		ev_sense(p, c->kind, &s);
	} else {
		p->sense_last[c->kind][0] = 0;
	}
	if (status == SCSI_STATUS_GOOD)
		p->ua_retries = 0;
	if (c->kind == K_TUR) {
		path_tur_result(p, status, &s);
		next = K_RTPG;
	} else if (status == SCSI_STATUS_CHECK_CONDITION && s.key == 0x06 &&
		   p->ua_retries++ < UA_RETRIES) {
		next = c->kind; /* a UNIT ATTENTION is reported once; ask again */
	} else if (status != SCSI_STATUS_GOOD) {
		if (!p->identified) {
			path_fail(p, "%s: %s", cmd_names[c->kind], scsi_status_name(status));
			return;
		}
		next = -1; /* an RTPG refused in a poll round: try next round */
	} else {
		next = ctl_next(p, t->datain.data, (size_t)t->datain.size);
		if (p->conn != CONN_UP)
			return;
	}
	cmd_reset(c);
	if (next >= 0)
		ctl_send(p, (enum cmd_kind)next);
}

/* ---- I/O chain ---- */

static struct path *io_path; /* the path I/O went to last */
static int64_t io_next, io_last_ok, io_max_pause, io_pause_from, io_pause_to;
static unsigned io_ok, io_err;
static char io_err_last[TXT_MAX];

static bool path_is_ao(const struct path *p)
{
	return p->conn == CONN_UP && p->identified && p->have_rt && p->own_state == 0;
}

static struct path *io_pick(void)
{
	if (io_path && path_is_ao(io_path))
		return io_path;
	for (unsigned i = 0; i < npaths; i++)
		if (path_is_ao(&paths[i]))
			return &paths[i];
	return NULL;
}

static void io_send(struct path *p, enum cmd_kind kind)
{
	uint8_t cdb[16];
	uint32_t blocks = p->block_size ? IO_BYTES / p->block_size : 0;
	uint32_t lba = p->block_size ? (uint32_t)(opt.io_offset / p->block_size) : 0;
	int n, rc;

	if (kind == K_CAP) {
		n = cdb_read_capacity10(cdb);
		rc = cmd_submit(p, &p->io, kind, cdb, n, SCSI_XFER_READ, 8, NULL);
	} else if (kind == K_WRITE) {
		p->io_seq++;
		for (unsigned i = 0; i < IO_BYTES; i += 8)
			put_be64(p->io_buf + i, p->io_seq << 16 | i);
		n = cdb_rw10(cdb, true, lba, (uint16_t)blocks);
		rc = cmd_submit(p, &p->io, kind, cdb, n, SCSI_XFER_WRITE, IO_BYTES, p->io_buf);
	} else {
		n = cdb_rw10(cdb, false, lba, (uint16_t)blocks);
		rc = cmd_submit(p, &p->io, kind, cdb, n, SCSI_XFER_READ, IO_BYTES, NULL);
	}
	if (rc != 0)
		path_fail(p, "%s: cannot queue: %s", cmd_names[kind], ctx_err(p->ctx));
}

static void io_start(struct path *p)
{
	if (p != io_path) {
		json_object *o = ev_new("io_path", p);

		ev_emit(o, p, "I/O now goes to this path");
		io_path = p;
	}
	io_send(p, p->block_size ? K_WRITE : K_CAP);
}

static void io_error(struct path *p, const char *what)
{
	io_err++;
	if (strcmp(what, io_err_last) != 0) {
		json_object *o = ev_new("io_error", p);

		json_object_object_add(o, "error", json_object_new_string(what));
		ev_emit(o, p, "I/O failed: %s", what);
		snprintf(io_err_last, sizeof(io_err_last), "%s", what);
	}
}

static void io_success(struct path *p)
{
	int64_t now = mono_ms();

	io_ok++;
	if (io_last_ok && now - io_last_ok > io_max_pause) {
		io_max_pause = now - io_last_ok;
		io_pause_from = io_last_ok;
		io_pause_to = now;
	}
	if (io_err_last[0]) {
		json_object *o = ev_new("io_ok", p);

		json_object_object_add(o, "pause_ms", json_object_new_int64(now - io_last_ok));
		ev_emit(o, p, "I/O succeeds again, %lld ms after the last success",
			(long long)(now - io_last_ok));
		io_err_last[0] = 0;
	}
	io_last_ok = now;
}

static void path_io_done(struct path *p)
{
	struct cmd *c = &p->io;
	struct scsi_task *t = c->task;
	int status = c->status;
	enum cmd_kind kind = c->kind;
	char txt[TXT_MAX];
	struct sense s;

	c->busy = c->done = false;
	if (!status_is_scsi(status)) {
		snprintf(txt, sizeof(txt), "%s: %s", cmd_names[kind], scsi_status_name(status));
		io_error(p, txt);
		path_fail(p, "%s", txt);
		return;
	}
	if (status != SCSI_STATUS_GOOD) {
		char st[SENSE_TXT] = "";

		if (status == SCSI_STATUS_CHECK_CONDITION) {
			sense_of(t, &s);
			ev_sense(p, kind, &s);
			sense_text(&s, st, sizeof(st));
		}
		/* the I/O chain's sense is reported again after a success */
		snprintf(txt, sizeof(txt), "%s: %s %s", cmd_names[kind], scsi_status_name(status),
			 st);
		io_error(p, txt);
		cmd_reset(c);
		/* a UNIT ATTENTION is reported once: retry at once, as multipath does */
		if (status == SCSI_STATUS_CHECK_CONDITION && s.key == 0x06)
			io_next = 0;
		return;
	}
	p->sense_last[kind][0] = 0;
	if (kind == K_CAP) {
		if (t->datain.size >= 8)
			p->block_size = get_be32(t->datain.data + 4);
		if (!p->block_size || IO_BYTES % p->block_size) {
			io_error(p, "READ CAPACITY: unusable block length");
			p->block_size = 0;
			cmd_reset(c);
			return;
		}
		cmd_reset(c);
		io_send(p, K_WRITE);
		return;
	}
	if (kind == K_WRITE) {
		cmd_reset(c);
		io_send(p, K_READ);
		return;
	}
	if (t->datain.size != (int)IO_BYTES || memcmp(t->datain.data, p->io_buf, IO_BYTES) != 0) {
		json_object *o = ev_new("io_mismatch", p);

		io_mismatch_count++;
		ev_emit(o, p, "I/O: data read back differs from what was written");
	} else {
		io_success(p);
	}
	cmd_reset(c);
}

static void io_tick(int64_t now)
{
	struct path *p;

	if (!opt.io_ms || now < io_next)
		return;
	for (unsigned i = 0; i < npaths; i++)
		if (paths[i].io.busy)
			return;
	io_next = now + opt.io_ms;
	p = io_pick();
	if (p)
		io_start(p);
}

/* ---- the loop ---- */

static void path_deadlines(struct path *p, int64_t now)
{
	if ((p->conn == CONN_TCP || p->conn == CONN_LOGIN) && now > p->conn_deadline)
		path_fail(p, "%s: no answer within %d ms",
			  p->conn == CONN_TCP ? "connect" : "login", opt.timeout_ms);
	else if (p->ctl.busy && !p->ctl.done && now > p->ctl.deadline)
		path_fail(p, "%s: no answer within %d ms", cmd_names[p->ctl.kind], opt.timeout_ms);
	else if (p->io.busy && !p->io.done && now > p->io.deadline) {
		char txt[TXT_MAX];

		snprintf(txt, sizeof(txt), "%s: no answer within %d ms", cmd_names[p->io.kind],
			 opt.timeout_ms);
		io_error(p, txt);
		path_fail(p, "%s", txt);
	}
}

/* Runs what is due on p: connect, completions, the next poll round. */
static void path_step(struct path *p, int64_t now)
{
	if (p->conn == CONN_DOWN) {
		if (!p->gave_up && now >= p->next_connect)
			path_connect(p);
		return;
	}
	if (p->conn_event)
		path_conn_event(p);
	if (p->conn == CONN_UP && p->ctl.done)
		path_ctl_done(p);
	if (p->conn == CONN_UP && p->io.done)
		path_io_done(p);
	if (p->conn == CONN_UP && opt.poll_ms && p->identified && !p->ctl.busy &&
	    now >= p->next_poll) {
		p->next_poll = (p->next_poll && now - p->next_poll < opt.poll_ms)
				       ? p->next_poll + opt.poll_ms
				       : now + opt.poll_ms;
		ctl_send(p, K_TUR);
	}
	if (p->conn != CONN_DOWN)
		path_deadlines(p, now);
}

static bool snapshot_complete(void)
{
	for (unsigned i = 0; i < npaths; i++)
		if (!paths[i].gave_up && !paths[i].identified)
			return false;
	return true;
}

static int loop_wait_ms(int64_t now)
{
	int64_t next = now + 20;

	for (unsigned i = 0; i < npaths; i++) {
		const struct path *p = &paths[i];

		if (p->conn_event || p->ctl.done || p->io.done)
			return 0;
		if (p->conn == CONN_DOWN && !p->gave_up && p->next_connect < next)
			next = p->next_connect;
		if (p->conn == CONN_UP && opt.poll_ms && !p->ctl.busy && p->next_poll < next)
			next = p->next_poll;
	}
	if (opt.io_ms && io_next < next)
		next = io_next;
	return next > now ? (int)(next - now) : 0;
}

/* One round: poll every live context, service it, then step every path. */
static void loop_once(void)
{
	struct pollfd pfd[MAX_PATHS];
	struct path *who[MAX_PATHS];
	unsigned n = 0;
	int64_t now = mono_ms();

	for (unsigned i = 0; i < npaths; i++) {
		struct path *p = &paths[i];

		if (!p->ctx || p->conn == CONN_DOWN)
			continue;
		pfd[n].fd = iscsi_get_fd(p->ctx);
		/* POLLRDHUP: a peer's FIN with nothing in flight, which libiscsi would not report */
		pfd[n].events = (short)(iscsi_which_events(p->ctx) | POLLRDHUP);
		pfd[n].revents = 0;
		who[n++] = p;
	}
	if (poll(pfd, n, loop_wait_ms(now)) < 0 && errno != EINTR) {
		perror("poll");
		exit(2);
	}
	for (unsigned i = 0; i < n; i++) {
		struct path *p = who[i];

		if (!p->ctx)
			continue;
		if (iscsi_service(p->ctx, pfd[i].revents & ~POLLRDHUP) < 0) {
			if (p->conn_event && p->conn_status != SCSI_STATUS_GOOD)
				path_conn_event(p); /* fails with the callback's reason */
			else
				path_fail(p, "%s", ctx_err(p->ctx));
			continue;
		}
		if (pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR) && p->conn == CONN_UP &&
		    !p->ctl.done && !p->io.done)
			path_fail(p, "target closed the connection");
	}
	now = mono_ms();
	for (unsigned i = 0; i < npaths; i++)
		path_step(&paths[i], now);
	io_tick(now);
}

/* ---- results ---- */

static json_object *path_json(const struct path *p)
{
	json_object *o = json_object_new_object();
	char naa[40];

	json_object_object_add(o, "path", json_object_new_int((int)p->idx));
	json_object_object_add(o, "url", json_object_new_string(p->url));
	json_object_object_add(o, "portal", json_object_new_string(p->portal));
	json_object_object_add(o, "connected", json_object_new_boolean(p->conn == CONN_UP));
	json_object_object_add(o, "error",
			       p->conn == CONN_UP ? NULL : json_object_new_string(p->conn_err));
	if (!p->identified)
		return o;
	hex_str(p->id.naa, p->id.naa_len, naa);
	json_object_object_add(o, "tpgs_bits", json_object_new_int(p->tpgs));
	json_object_object_add(o, "naa", json_object_new_string(naa));
	json_object_object_add(o, "tpg_id", json_object_new_int(p->id.tpg_id));
	json_object_object_add(o, "rel_port", json_object_new_int(p->id.rel_port));
	json_object_object_add(o, "state", json_object_new_string(alua_state_name(p->own_state)));
	json_object_object_add(o, "rtpg", rtpg_json(&p->rt));
	if (opt.poll_ms) {
		json_object_object_add(o, "samples", json_object_new_int((int)p->samples));
		json_object_object_add(o, "max_sample_gap_ms",
				       json_object_new_int64(p->max_sample_gap));
		json_object_object_add(o, "tur", json_object_new_string(p->tur_last));
	}
	return o;
}

static void path_print(const struct path *p)
{
	char naa[40];

	printf("path%u %s (%s)\n", p->idx, p->portal, p->url);
	if (!p->identified) {
		printf("  not connected: %s\n", p->conn_err[0] ? p->conn_err : "no answer");
		return;
	}
	hex_str(p->id.naa, p->id.naa_len, naa);
	printf("  INQUIRY: TPGS %d%d (%s)\n", p->tpgs >> 1, p->tpgs & 1,
	       p->tpgs == 0   ? "no ALUA"
	       : p->tpgs == 1 ? "implicit ALUA"
	       : p->tpgs == 2 ? "explicit ALUA"
			      : "implicit and explicit ALUA");
	printf("  VPD 83h: NAA %s, target port group %d, relative target port %d\n",
	       p->id.naa_len ? naa : "(none)", p->id.tpg_id, p->id.rel_port);
	printf("  RTPG (%s header%s):\n", p->rt.extended ? "extended" : "length-only",
	       p->rt.extended ? "" : ", the extended one was asked for");
	for (unsigned g = 0; g < p->rt.ntpgs; g++) {
		const struct rtpg_tpg *t = &p->rt.tpg[g];

		printf("    TPG %u: %-13s%s ports", t->id, alua_state_name(t->state),
		       t->pref ? " pref" : "");
		for (unsigned i = 0; i < t->nports; i++)
			printf("%s%u", i ? "," : " ", t->port[i]);
		printf("%s\n", (int)t->id == p->id.tpg_id ? "   <- this path's group" : "");
	}
	printf("  this path: %s\n", alua_state_name(p->own_state));
}

struct checks {
	json_object *arr;
	unsigned passed, failed;
};

__attribute__((format(printf, 4, 5))) static void check_add(struct checks *c, const char *name,
							    bool ok, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char detail[TXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	ok ? c->passed++ : c->failed++;
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	json_object_object_add(o, "detail", json_object_new_string(detail));
	json_object_array_add(c->arr, o);
	if (!opt.json)
		printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name, detail);
}

/* The consistency checks over the paths that answered. */
static void checks_run(struct checks *c, unsigned *nup)
{
	const struct path *first = NULL;
	bool naa_same = true, rt_same = true, port_ok = true, alua = true;
	char bad_port[TXT_MAX] = "";

	*nup = 0;
	for (unsigned i = 0; i < npaths; i++) {
		const struct path *p = &paths[i];
		const struct rtpg_tpg *own;

		if (!p->identified)
			continue;
		(*nup)++;
		own = rtpg_port_tpg(&p->rt, p->id.rel_port);
		if (!own || own->id != p->id.tpg_id) {
			port_ok = false;
			snprintf(bad_port, sizeof(bad_port),
				 "path%u: port %d in group %d, VPD says %d", p->idx, p->id.rel_port,
				 own ? own->id : -1, p->id.tpg_id);
		}
		if (p->tpgs == 0)
			alua = false;
		if (!first) {
			first = p;
			continue;
		}
		if (p->id.naa_len != first->id.naa_len ||
		    memcmp(p->id.naa, first->id.naa, p->id.naa_len) != 0)
			naa_same = false;
		if (!rtpg_equal(&p->rt, &first->rt))
			rt_same = false;
	}
	check_add(c, "connected", *nup == npaths && npaths > 0, "%u of %u paths answered", *nup,
		  npaths);
	check_add(c, "alua_supported", *nup && alua, "TPGS non-zero on every path");
	check_add(c, "same_naa", *nup && naa_same && first->id.naa_len, "%s",
		  naa_same ? "one LU NAA on every path" : "paths name different LUs");
	check_add(c, "identical_rtpg", *nup && rt_same, "%s",
		  rt_same ? "every path reports the same port-group table"
			  : "paths report different tables");
	check_add(c, "port_in_own_group", *nup && port_ok, "%s",
		  port_ok ? "each path's relative port is in the group VPD 83h names" : bad_port);
}

static json_object *ao_groups_json(void)
{
	json_object *arr = json_object_new_array();
	const struct path *p = NULL;

	for (unsigned i = 0; i < npaths && !p; i++)
		if (paths[i].identified)
			p = &paths[i];
	for (unsigned g = 0; p && g < p->rt.ntpgs; g++)
		if (p->rt.tpg[g].state == 0)
			json_object_array_add(arr, json_object_new_int(p->rt.tpg[g].id));
	return arr;
}

static int report_snapshot(void)
{
	json_object *doc = json_object_new_object(), *arr = json_object_new_array();
	struct checks c = {.arr = json_object_new_array()};
	unsigned nup;
	char naa[40] = "";

	for (unsigned i = 0; i < npaths; i++) {
		json_object_array_add(arr, path_json(&paths[i]));
		if (!opt.json)
			path_print(&paths[i]);
	}
	checks_run(&c, &nup);
	for (unsigned i = 0; i < npaths; i++)
		if (paths[i].identified && !naa[0])
			hex_str(paths[i].id.naa, paths[i].id.naa_len, naa);
	json_object_object_add(doc, "paths", arr);
	json_object_object_add(doc, "naa", json_object_new_string(naa));
	json_object_object_add(doc, "ao_tpgs", ao_groups_json());
	json_object_object_add(doc, "checks", c.arr);
	json_object_object_add(doc, "passed", json_object_new_int((int)c.passed));
	json_object_object_add(doc, "failed", json_object_new_int((int)c.failed));
	json_object_object_add(doc, "ok", json_object_new_boolean(c.failed == 0));
	if (opt.json)
		printf("%s\n", json_object_to_json_string_ext(
				       doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		printf("%u passed, %u failed\n", c.passed, c.failed);
	json_object_put(doc);
	return c.failed ? 1 : 0;
}

static int report_poll(void)
{
	json_object *o = ev_new("summary", NULL), *arr = json_object_new_array();
	bool ok = dual_ao_count == 0 && io_mismatch_count == 0;

	for (unsigned i = 0; i < npaths; i++) {
		json_object *j = path_json(&paths[i]);

		json_object_object_add(j, "ua_2a06", json_object_new_int((int)paths[i].ua_2a06));
		json_object_object_add(j, "not_ready_040a",
				       json_object_new_int((int)paths[i].nr_040a));
		json_object_object_add(j, "conn_losses",
				       json_object_new_int((int)paths[i].conn_losses));
		json_object_array_add(arr, j);
	}
	json_object_object_add(o, "paths", arr);
	json_object_object_add(o, "dual_ao", json_object_new_int((int)dual_ao_count));
	if (opt.io_ms) {
		json_object_object_add(o, "io_ok", json_object_new_int((int)io_ok));
		json_object_object_add(o, "io_errors", json_object_new_int((int)io_err));
		json_object_object_add(o, "io_mismatches",
				       json_object_new_int((int)io_mismatch_count));
		json_object_object_add(o, "io_max_pause_ms", json_object_new_int64(io_max_pause));
		json_object_object_add(
			o, "io_max_pause_from_ms",
			json_object_new_int64(io_pause_from ? io_pause_from - t_start : 0));
		json_object_object_add(
			o, "io_max_pause_to_ms",
			json_object_new_int64(io_pause_to ? io_pause_to - t_start : 0));
		/* a pause still going on at the end is not in io_max_pause_ms */
		json_object_object_add(
			o, "io_since_last_ok_ms",
			json_object_new_int64(io_last_ok ? mono_ms() - io_last_ok : -1));
	}
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	if (opt.io_ms)
		ev_emit(o, NULL,
			"summary: %u dual-AO overlaps; I/O %u ok, %u failed, %u mismatches, "
			"longest pause %lld ms (%+.3f to %+.3f)",
			dual_ao_count, io_ok, io_err, io_mismatch_count, (long long)io_max_pause,
			io_pause_from ? (double)(io_pause_from - t_start) / 1000 : 0.0,
			io_pause_to ? (double)(io_pause_to - t_start) / 1000 : 0.0);
	else
		ev_emit(o, NULL, "summary: %u dual-AO overlaps", dual_ao_count);
	if (!opt.json)
		for (unsigned i = 0; i < npaths; i++) {
			const struct path *p = &paths[i];

			printf("  path%u %s: %s, own group %s, %u samples (longest gap %lld ms), "
			       "%u x 2A/06, %u x 04/0A, %u connection losses\n",
			       p->idx, p->portal, p->conn == CONN_UP ? "up" : "down",
			       p->have_rt ? alua_state_name(p->own_state) : "unknown", p->samples,
			       (long long)p->max_sample_gap, p->ua_2a06, p->nr_040a,
			       p->conn_losses);
		}
	return ok ? 0 : 1;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iscsi-alua [--json] [--timeout MS] [--initiator IQN]\n"
		"                  [--poll MS [--duration S] [--io MS [--lba N]]] URL...\n"
		"  URL              iscsi://HOST[:PORT]/TARGET-IQN/LUN, one per path\n"
		"  --json           machine-readable output (poll mode: one object per line)\n"
		"  --poll MS        TUR + RTPG on every path every MS, a line per change\n"
		"  --duration S     how long to poll (default 10; SIGINT/SIGTERM end it too)\n"
		"  --io MS          WRITE + READ 4 KiB on an AO path every MS (with --poll)\n"
		"  --lba N          where the I/O goes, in 512-byte units (default 2048)\n"
		"  --timeout MS     per command and per login (default 2000)\n"
		"  --initiator IQN  initiator name (default %s)\n"
		"exit: 0 all checks passed, 1 a check failed, 2 usage or setup error\n",
		opt.initiator);
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == 0 || *end != 0 || v < lo || v > hi) {
		fprintf(stderr, "iscsi-alua: %s must be %ld..%ld, not '%s'\n", what, lo, hi, s);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"poll", required_argument, NULL, 'p'},
		{"duration", required_argument, NULL, 'd'},
		{"io", required_argument, NULL, 'i'},
		{"lba", required_argument, NULL, 'l'},
		{"timeout", required_argument, NULL, 't'},
		{"initiator", required_argument, NULL, 'I'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int ch;

	while ((ch = getopt_long(argc, argv, "jp:d:i:l:t:I:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			opt.json = true;
			break;
		case 'p':
			opt.poll_ms = (int)parse_num(optarg, 1, 60000, "--poll");
			break;
		case 'd':
			opt.duration = strtod(optarg, &end);
			if (*optarg == 0 || *end != 0 || opt.duration <= 0 ||
			    opt.duration > 86400) {
				fprintf(stderr, "iscsi-alua: --duration must be 0..86400 s\n");
				exit(2);
			}
			break;
		case 'i':
			opt.io_ms = (int)parse_num(optarg, 1, 60000, "--io");
			break;
		case 'l':
			opt.io_offset = (uint64_t)parse_num(optarg, 0, 0x7fffffff, "--lba") * 512;
			break;
		case 't':
			opt.timeout_ms = (int)parse_num(optarg, 100, 600000, "--timeout");
			break;
		case 'I':
			opt.initiator = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (opt.io_ms && !opt.poll_ms) {
		fprintf(stderr, "iscsi-alua: --io needs --poll\n");
		exit(2);
	}
	if (optind >= argc || argc - optind > MAX_PATHS) {
		usage(stderr);
		exit(2);
	}
}

static void path_init(struct path *p, unsigned idx, const char *url)
{
	struct iscsi_context *tmp = iscsi_create_context(opt.initiator);
	struct iscsi_url *u = tmp ? iscsi_parse_full_url(tmp, url) : NULL;

	if (!u || !u->target[0]) {
		fprintf(stderr, "iscsi-alua: bad URL '%s' (want iscsi://HOST[:PORT]/IQN/LUN): %s\n",
			url,
			u     ? "no target name"
			: tmp ? iscsi_get_error(tmp)
			      : "no memory");
		exit(2);
	}
	memset(p, 0, sizeof(*p));
	p->idx = idx;
	p->url = url;
	snprintf(p->portal, sizeof(p->portal), "%s", u->portal);
	snprintf(p->target, sizeof(p->target), "%s", u->target);
	p->lun = u->lun;
	iscsi_destroy_url(u);
	iscsi_destroy_context(tmp);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	int64_t end;
	int rc;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (int i = optind; i < argc; i++, npaths++)
		path_init(&paths[npaths], npaths + 1, argv[i]);
	t_start = mono_ms();
	end = t_start +
	      (opt.poll_ms ? (int64_t)(opt.duration * 1000) : (int64_t)opt.timeout_ms * 4 + 1000);
	while (!stop_requested && mono_ms() < end && (opt.poll_ms || !snapshot_complete()))
		loop_once();
	rc = opt.poll_ms ? report_poll() : report_snapshot();
	for (unsigned i = 0; i < npaths; i++)
		path_destroy_ctx(&paths[i]);
	return rc;
}
