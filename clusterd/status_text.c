/* SPDX-License-Identifier: MIT */
/*
 * Text rendering of the status document: the key facts first (cluster,
 * quorum, phase), then one section per list, each list a small table whose
 * columns are as wide as their widest cell. Sections that are empty say
 * "none" rather than disappearing, so an operator can tell "no sessions"
 * from "this clusterd does not report sessions" (the latter shows "?").
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "clusterd/status_text.h"

#define TBL_MAX_COLS 8

/* A table under construction: rows of owned strings. */
struct tbl {
	size_t ncols;
	size_t nrows;
	char **cells; /* nrows * ncols */
	bool nomem;
};

static void tbl_init(struct tbl *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* Appends a row of ncols cells (NULL cells render empty). */
static void tbl_row(struct tbl *t, const char *const *cols)
{
	char **cells;
	size_t i;

	if (t->nomem)
		return;
	cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*cells));
	if (!cells) {
		t->nomem = true;
		return;
	}
	t->cells = cells;
	for (i = 0; i < t->ncols; i++) {
		cells[t->nrows * t->ncols + i] = strdup(cols[i] ? cols[i] : "");
		if (!cells[t->nrows * t->ncols + i])
			t->nomem = true;
	}
	t->nrows++;
}

/* Prints the table indented by two spaces, columns two apart, no trailing blanks. */
static void tbl_print(struct tbl *t, FILE *f)
{
	size_t w[TBL_MAX_COLS] = {0};
	size_t r, c, last;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++)
			if (t->cells[r * t->ncols + c] && strlen(t->cells[r * t->ncols + c]) > w[c])
				w[c] = strlen(t->cells[r * t->ncols + c]);
	for (r = 0; r < t->nrows; r++) {
		char **row = &t->cells[r * t->ncols];

		for (last = t->ncols; last > 0 && (!row[last - 1] || !row[last - 1][0]); last--)
			;
		fputs("  ", f);
		for (c = 0; c < last; c++)
			fprintf(f, "%-*s%s", c + 1 < last ? (int)w[c] : 0, row[c] ? row[c] : "",
				c + 1 < last ? "  " : "\n");
		if (!last)
			fputc('\n', f);
	}
}

static void tbl_free(struct tbl *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ---- tolerant accessors ---- */

static struct json_object *j_get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *j_str(struct json_object *o, const char *key)
{
	struct json_object *v = j_get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool j_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v = j_get(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* -1 missing or not a boolean, else 0/1. */
static int j_bool(struct json_object *o, const char *key)
{
	struct json_object *v = j_get(o, key);

	if (!v || !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v) ? 1 : 0;
}

static struct json_object *j_arr(struct json_object *o, const char *key)
{
	struct json_object *v = j_get(o, key);

	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

/* The name of node ID from the document's node list, else its number. */
static const char *node_name(struct json_object *doc, int64_t id, char *buf, size_t len)
{
	struct json_object *nodes = j_arr(doc, "nodes");
	size_t i, n = nodes ? json_object_array_length(nodes) : 0;
	int64_t nid;

	for (i = 0; i < n; i++) {
		struct json_object *node = json_object_array_get_idx(nodes, i);

		if (j_int(node, "id", &nid) && nid == id && j_str(node, "name"))
			return j_str(node, "name");
	}
	snprintf(buf, len, "%" PRId64, id);
	return buf;
}

/*
 * A member holding a node id as a name: a number (null or 0: "none"), or a
 * name already; "?" when the member is missing.
 */
static const char *node_ref(struct json_object *doc, struct json_object *o, const char *key,
			    char *buf, size_t len)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return "?";
	if (v && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) == 0)
		return "none";
	return node_name(doc, json_object_get_int64(v), buf, len);
}

/* ---- sections ---- */

static void render_quorum(struct json_object *doc, FILE *f)
{
	struct json_object *q = j_get(doc, "quorum"), *flags = j_arr(q, "flags");
	int quorate = j_bool(doc, "quorate");
	int64_t votes, expected, quorum;
	size_t i, n = flags ? json_object_array_length(flags) : 0;

	fprintf(f, "Quorum:  %s", quorate < 0 ? "?" : quorate ? "yes" : "NO");
	if (j_int(q, "total_votes", &votes) && j_int(q, "expected_votes", &expected))
		fprintf(f, ", %" PRId64 " of %" PRId64 " votes", votes, expected);
	if (j_int(q, "quorum", &quorum))
		fprintf(f, " (quorum %" PRId64 ")", quorum);
	if (n)
		fputs(", flags:", f);
	for (i = 0; i < n; i++) {
		struct json_object *fl = json_object_array_get_idx(flags, i);

		if (json_object_is_type(fl, json_type_string))
			fprintf(f, " %s", json_object_get_string(fl));
	}
	if (quorate == 0)
		fputs("\n         no failover and no fencing without quorum", f);
	fputc('\n', f);
}

static void render_header(struct json_object *doc, FILE *f)
{
	const char *phase = j_str(doc, "phase");
	char buf[32];
	int64_t local, epoch;

	fprintf(f, "Cluster: %s\n", j_str(doc, "cluster") ? j_str(doc, "cluster") : "?");
	if (j_int(doc, "local_node", &local))
		fprintf(f, "Local:   %s (%" PRId64 ")\n", node_name(doc, local, buf, sizeof(buf)),
			local);
	else
		fputs("Local:   ?\n", f);
	fprintf(f, "Phase:   %s", phase ? phase : "?");
	if (phase && strcmp(phase, "syncing") == 0)
		fputs(" (decisions wait until every member's state has arrived)", f);
	else if (phase && strcmp(phase, "joining") == 0)
		fputs(" (not yet a member of the cluster group)", f);
	if (j_int(doc, "epoch", &epoch))
		fprintf(f, ", epoch %" PRId64, epoch);
	fputc('\n', f);
	render_quorum(doc, f);
}

/* "Title (n):" or "Title: none" / "Title: ?"; returns the array or NULL. */
static struct json_object *section(struct json_object *doc, const char *key, const char *title,
				   FILE *f)
{
	struct json_object *a = j_arr(doc, key);

	fputc('\n', f);
	if (!a)
		fprintf(f, "%s: ?\n", title);
	else if (json_object_array_length(a) == 0)
		fprintf(f, "%s: none\n", title);
	else
		fprintf(f, "%s (%zu):\n", title, json_object_array_length(a));
	return a && json_object_array_length(a) ? a : NULL;
}

static const char *node_state_text(struct json_object *node)
{
	static const struct {
		const char *key, *text;
	} map[] = {
		{"online", "Online"},	{"offline", "Offline"},
		{"unclean", "UNCLEAN"}, {"fencing", "UNCLEAN (fencing)"},
		{"fenced", "Fenced"},	{"unknown", "Unknown"},
	};
	const char *st = j_str(node, "state");
	size_t i;

	for (i = 0; st && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(st, map[i].key) == 0)
			return map[i].text;
	if (st)
		return st;
	if (j_bool(node, "fenced") == 1)
		return "Fenced";
	if (j_bool(node, "online") == 1)
		return "Online";
	return j_bool(node, "online") == 0 ? "Offline" : "?";
}

static void render_nodes(struct json_object *doc, FILE *f)
{
	struct json_object *nodes = section(doc, "nodes", "Nodes", f);
	const char *hdr[4] = {"Id", "Name", "State", ""};
	size_t i, n = nodes ? json_object_array_length(nodes) : 0;
	int64_t id, local = -1;
	struct tbl t;

	j_int(doc, "local_node", &local);
	if (!n)
		return;
	tbl_init(&t, 4);
	tbl_row(&t, hdr);
	for (i = 0; i < n; i++) {
		struct json_object *node = json_object_array_get_idx(nodes, i);
		char idbuf[24], notes[64] = "";
		const char *row[4];

		snprintf(idbuf, sizeof(idbuf), "?");
		if (j_int(node, "id", &id))
			snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
		if (j_int(node, "id", &id) && id == local)
			strcat(notes, "local");
		if (j_bool(node, "standby") == 1)
			strcat(notes, notes[0] ? ", standby" : "standby");
		row[0] = idbuf;
		row[1] = j_str(node, "name") ? j_str(node, "name") : "?";
		row[2] = node_state_text(node);
		row[3] = notes;
		tbl_row(&t, row);
	}
	tbl_print(&t, f);
	tbl_free(&t);
}

static const char *alua_text(const char *st)
{
	static const struct {
		const char *key, *text;
	} map[] = {
		{"ao", "active/optimized"}, {"ano", "active/non-optimized"},
		{"standby", "standby"},	    {"unavailable", "unavailable"},
		{"offline", "offline"},	    {"transitioning", "transitioning"},
	};
	size_t i;

	for (i = 0; st && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(st, map[i].key) == 0)
			return map[i].text;
	return st ? st : "?";
}

/* "1 (10.0.0.1:3260), 2 (10.1.0.1:3260)" */
static void ports_text(struct json_object *ports, char *buf, size_t len)
{
	size_t i, n = ports ? json_object_array_length(ports) : 0, off = 0;
	int64_t id;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);
		const char *portal = j_str(p, "portal");
		int w;

		if (j_int(p, "id", &id))
			w = snprintf(buf + off, len - off, "%s%" PRId64 " (%s)", i ? ", " : "", id,
				     portal ? portal : "?");
		else
			w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
				     portal ? portal : "?");
		off += w > 0 ? (size_t)w : 0;
	}
}

static void render_lun(struct json_object *doc, struct json_object *lun, FILE *f)
{
	struct json_object *tpgs = j_arr(lun, "tpgs");
	size_t i, n = tpgs ? json_object_array_length(tpgs) : 0;
	const char *reason = j_str(lun, "reason");
	const char *hdr[4] = {"TPG", "Node", "State", "Ports"};
	char buf[32];
	struct tbl t;
	int64_t id;

	fprintf(f, "\nLUN %s: AO %s", j_str(lun, "name") ? j_str(lun, "name") : "?",
		node_ref(doc, lun, "ao_node", buf, sizeof(buf)));
	if (reason)
		fprintf(f, " (%s)", reason);
	fputc('\n', f);
	if (!n) {
		fputs("  port groups: ?\n", f);
		return;
	}
	tbl_init(&t, 4);
	tbl_row(&t, hdr);
	for (i = 0; i < n; i++) {
		struct json_object *tpg = json_object_array_get_idx(tpgs, i);
		char idbuf[24] = "?", nbuf[32], ports[512];
		const char *row[4];

		if (j_int(tpg, "id", &id))
			snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
		ports_text(j_arr(tpg, "ports"), ports, sizeof(ports));
		row[0] = idbuf;
		row[1] = node_ref(doc, tpg, "node", nbuf, sizeof(nbuf));
		row[2] = alua_text(j_str(tpg, "state"));
		row[3] = ports;
		tbl_row(&t, row);
	}
	tbl_print(&t, f);
	tbl_free(&t);
}

static void render_luns(struct json_object *doc, FILE *f)
{
	struct json_object *luns = j_arr(doc, "luns");
	size_t i, n = luns ? json_object_array_length(luns) : 0;

	if (!n) {
		fprintf(f, "\nLUNs: %s\n", luns ? "none" : "?");
		return;
	}
	for (i = 0; i < n; i++)
		render_lun(doc, json_object_array_get_idx(luns, i), f);
}

static void render_sessions(struct json_object *doc, FILE *f)
{
	const char *hdr[5] = {"Initiator", "ISID", "TSIH", "Node", "Portal"};
	struct json_object *ss = j_arr(doc, "sessions");
	size_t i, n = ss ? json_object_array_length(ss) : 0;
	struct tbl t;
	int64_t v;

	/* A clusterd that counts sessions without listing them must not read as "none". */
	if (!n && j_int(doc, "session_count", &v) && v > 0) {
		fprintf(f, "\nSessions: %" PRId64 " (not listed by this clusterd)\n", v);
		return;
	}
	ss = section(doc, "sessions", "Sessions", f);
	if (!n)
		return;
	tbl_init(&t, 5);
	tbl_row(&t, hdr);
	for (i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(ss, i);
		char tsih[24] = "?", nbuf[32];
		const char *row[5];

		if (j_int(s, "tsih", &v))
			snprintf(tsih, sizeof(tsih), "%" PRId64, v);
		row[0] = j_str(s, "initiator") ? j_str(s, "initiator") : "?";
		row[1] = j_str(s, "isid") ? j_str(s, "isid") : "?";
		row[2] = tsih;
		row[3] = node_ref(doc, s, "node", nbuf, sizeof(nbuf));
		row[4] = j_str(s, "portal") ? j_str(s, "portal") : "?";
		tbl_row(&t, row);
	}
	tbl_print(&t, f);
	tbl_free(&t);
}

static void duration_text(struct json_object *e, char *buf, size_t len)
{
	int64_t ms;

	if (!j_int(e, "duration_ms", &ms) || ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%" PRId64 " ms", ms);
	else /* tenths, rounded */
		snprintf(buf, len, "%" PRId64 ".%" PRId64 " s", (ms + 50) / 1000,
			 (ms + 50) / 100 % 10);
}

/* "ok" and "running" as they are; anything else is a failure and shouts. */
static void result_text(const char *res, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", res ? res : "?");
	if (!res || !strcmp(res, "ok") || !strcmp(res, "running"))
		return;
	for (i = 0; buf[i]; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
}

static void render_fence_history(struct json_object *doc, FILE *f)
{
	struct json_object *h = section(doc, "fence_history", "Fence history", f);
	const char *hdr[8] = {"Started", "By", "Target", "Agent", "Action", "Result", "Took", ""};
	size_t i, n = h ? json_object_array_length(h) : 0;
	struct tbl t;

	if (!n)
		return;
	tbl_init(&t, 8);
	tbl_row(&t, hdr);
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(h, i);
		char by[32], target[32], took[32], res[32];
		const char *row[8];

		result_text(j_str(e, "result"), res, sizeof(res));
		duration_text(e, took, sizeof(took));
		row[0] = j_str(e, "started") ? j_str(e, "started") : "?";
		row[1] = node_ref(doc, e, "by", by, sizeof(by));
		row[2] = node_ref(doc, e, "target", target, sizeof(target));
		row[3] = j_str(e, "agent") ? j_str(e, "agent") : "?";
		row[4] = j_str(e, "action") ? j_str(e, "action") : "?";
		row[5] = res;
		row[6] = took;
		row[7] = j_str(e, "detail");
		tbl_row(&t, row);
	}
	tbl_print(&t, f);
	tbl_free(&t);
}

static void render_failed_actions(struct json_object *doc, FILE *f)
{
	struct json_object *fa = section(doc, "failed_actions", "Failed actions", f);
	size_t i, n = fa ? json_object_array_length(fa) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(fa, i);
		const char *why = j_str(a, "why"), *hint = j_str(a, "hint");

		fprintf(f, "  * %s", j_str(a, "what") ? j_str(a, "what") : "?");
		if (why)
			fprintf(f, ": %s", why);
		fputc('\n', f);
		if (hint)
			fprintf(f, "    hint: %s\n", hint);
	}
}

int status_text_render(struct json_object *doc, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	render_header(doc, f);
	render_nodes(doc, f);
	render_luns(doc, f);
	render_sessions(doc, f);
	render_fence_history(doc, f);
	render_failed_actions(doc, f);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}

int status_text_event(struct json_object *ev, char **out)
{
	const char *msg = j_str(ev, "message");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	fprintf(f, "%s %s:", j_str(ev, "time") ? j_str(ev, "time") : "?",
		j_str(ev, "type") ? j_str(ev, "type") : "?");
	if (msg) {
		fprintf(f, " %s", msg);
	} else if (ev && json_object_is_type(ev, json_type_object)) {
		json_object_object_foreach(ev, key, val)
		{
			if (!strcmp(key, "time") || !strcmp(key, "type") || !strcmp(key, "seq"))
				continue;
			fprintf(f, " %s=%s", key,
				json_object_is_type(val, json_type_string)
					? json_object_get_string(val)
					: json_object_to_json_string_ext(val,
									 JSON_C_TO_STRING_PLAIN));
		}
	}
	fputc('\n', f);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}
