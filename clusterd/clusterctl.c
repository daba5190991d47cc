/* SPDX-License-Identifier: MIT */
/*
 * clusterctl: the operator's tool. It asks the clusterd of this node (libqb
 * IPC, clusterd/ipc.h) and prints the answer; it holds no state and never
 * waits for clusterd longer than --timeout.
 *
 * Exit status: 0 done; 1 clusterd refused or failed the request, or the
 * command line was wrong, or an accepted long operation did not report in
 * time; 2 clusterd could not be reached (not running, another service name,
 * not allowed, no answer within --timeout).
 *
 * The whole tool is clusterctl_run(), which writes only to the two streams it
 * is given, so tests include this file (with CLUSTERCTL_NO_MAIN) and drive
 * it against a server in the same process.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "config-host.h"
#include "clusterd/ipc.h"
#include "clusterd/ipc_proto.h"
#include "clusterd/status_text.h"

#define CTL_EXIT_OK	     0
#define CTL_EXIT_ERROR	     1
#define CTL_EXIT_UNREACHABLE 2

#define CTL_TIMEOUT_DEFAULT_MS 1000
#define CTL_TIMEOUT_MAX_MS     3600000

struct ctl {
	FILE *out, *err;
	const char *service;
	int timeout_ms;
	bool json, text, yes;
	long count; /* events: stop after this many (0: until interrupted) */
	int64_t deadline;
	const char *verb;
	char **args;
	int nargs;
};

struct ctl_verb {
	const char *name;
	int nargs;
	const char *operands;
	int (*run)(struct ctl *ctl);
};

static const char ctl_help[] =
	"Usage: clusterctl [OPTION]... COMMAND [ARG]...\n"
	"\n"
	"Ask the clusterd of this node about the cluster, or tell it what to do.\n"
	"clusterctl talks only to the local clusterd, over libqb IPC, and never waits\n"
	"for it longer than --timeout.\n"
	"\n"
	"Commands:\n"
	"  status              Show the cluster: name, quorum, nodes, per LUN the AO\n"
	"                      node and the port-group table, sessions, fence history,\n"
	"                      failed actions with hints. With --json, the status\n"
	"                      document for scripts (schema in clusterctl(8)).\n"
	"  move LUN NODE       Planned switchover: make NODE the active/optimized node\n"
	"                      of LUN. Initiators get a unit attention and follow.\n"
	"  standby NODE        Make NODE ineligible to be active/optimized; LUNs it\n"
	"                      serves as AO move to another node.\n"
	"  online NODE         Make NODE eligible again. AO is sticky, so LUNs do not\n"
	"                      move back by themselves: use move.\n"
	"  fence NODE --yes    Fence NODE now with its configured agent (power it off).\n"
	"                      Without --yes clusterctl refuses.\n"
	"  fence-test NODE     Run NODE's fence agent with the status action only, to\n"
	"                      check that fencing would work. Nothing is powered off.\n"
	"  events              Print every change as it happens, one JSON object per\n"
	"                      line (--text: one readable line), until interrupted.\n"
	"\n"
	"NODE is a node name or a node id.\n"
	"\n"
	"Options:\n"
	"  -s, --service NAME  clusterd's IPC service name (default \"" IPC_SERVICE_DEFAULT "\")\n"
	"  -t, --timeout MS    Longest wait for clusterd, in milliseconds (default 1000).\n"
	"                      fence and fence-test, once clusterd has accepted them,\n"
	"                      wait for the agent as long as clusterd says it may take,\n"
	"                      plus MS.\n"
	"  -j, --json          Print clusterd's answer as JSON (any command)\n"
	"      --text          events: one readable line per event\n"
	"  -n, --count N       events: exit after N events\n"
	"      --yes           fence: confirm that NODE may be powered off\n"
	"  -h, --help          Show this help and exit\n"
	"  -V, --version       Show the version and exit\n"
	"\n"
	"Exit status:\n"
	"  0  done\n"
	"  1  clusterd refused or failed the request (the reason and a hint are\n"
	"     printed), the command line was wrong, or an accepted fence operation\n"
	"     did not report its result in time\n"
	"  2  clusterd could not be reached: not running, another service name, this\n"
	"     user not allowed, or no answer within --timeout\n"
	"\n"
	"Examples:\n"
	"  clusterctl status\n"
	"  clusterctl move lun0 node2\n"
	"  clusterctl status --json | jq '.luns[] | {name, ao_node}'\n"
	"  ip netns exec node1 clusterctl events --text\n"
	"\n"
	"See clusterctl(8).\n";

static int ctl_usage(struct ctl *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int ctl_usage(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fputs("clusterctl: ", ctl->err);
	va_start(ap, fmt);
	vfprintf(ctl->err, fmt, ap);
	va_end(ap);
	fputs("\nTry 'clusterctl --help'.\n", ctl->err);
	return CTL_EXIT_ERROR;
}

static int64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What is left of --timeout (at least 1 ms, so a late step still gets a look). */
static int ctl_left_ms(struct ctl *ctl)
{
	int64_t left = ctl->deadline - ctl_now_ms();

	return left > 1 ? (int)left : 1;
}

/* Exit 2 with the reason in words and what to check. */
static int ctl_unreachable(struct ctl *ctl, int rc, bool sent)
{
	FILE *e = ctl->err;

	switch (rc) {
	case -ECONNREFUSED:
	case -ENOENT:
		fprintf(e,
			"clusterctl: cannot reach clusterd: nothing serves IPC service '%s' here.\n"
			"  Is clusterd running on this node? Was it started with another service\n"
			"  name (then use -s NAME)? In a namespace test cluster, run clusterctl "
			"in\n"
			"  the node's namespace: ip netns exec NODE clusterctl ...\n",
			ctl->service);
		break;
	case -EACCES:
	case -EPERM:
		fprintf(e,
			"clusterctl: cannot reach clusterd: it refused this user (uid %u).\n"
			"  Run clusterctl as root, or as the user clusterd runs as.\n",
			(unsigned)geteuid());
		break;
	case -ETIMEDOUT:
	case -EAGAIN:
		fprintf(e,
			"clusterctl: clusterd did not answer within %d ms (busy or hung?).\n"
			"  Try again, or give it longer with --timeout MS.\n",
			ctl->timeout_ms);
		if (sent)
			fprintf(e, "  The request was delivered and may still take effect: "
				   "check 'clusterctl status'.\n");
		break;
	case -ENOTCONN:
		fprintf(e,
			"clusterctl: clusterd closed the connection (did it stop or restart?)\n");
		break;
	case -EPROTO:
		fprintf(e, "clusterctl: clusterd's answer is unreadable to this clusterctl\n"
			   "  (are clusterctl and clusterd from the same release?)\n");
		break;
	default:
		fprintf(e, "clusterctl: cannot reach clusterd: %s\n", strerror(-rc));
		break;
	}
	return CTL_EXIT_UNREACHABLE;
}

static const char *ctl_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool ctl_json_ok(struct json_object *resp)
{
	struct json_object *v;

	return json_object_object_get_ex(resp, "ok", &v) && json_object_get_boolean(v);
}

static void ctl_print_json(struct ctl *ctl, struct json_object *o, int flags)
{
	fprintf(ctl->out, "%s\n",
		json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Prints clusterd's refusal: exit 1. */
static int ctl_refused(struct ctl *ctl, struct json_object *resp)
{
	const char *error = ctl_json_str(resp, "error"), *hint = ctl_json_str(resp, "hint");

	if (ctl->json)
		ctl_print_json(ctl, resp, JSON_C_TO_STRING_PLAIN);
	fprintf(ctl->err, "clusterctl: %s: %s\n", ctl->verb, error ? error : "failed");
	if (hint)
		fprintf(ctl->err, "  hint: %s\n", hint);
	return CTL_EXIT_ERROR;
}

/*
 * Connects, sends REQ (taken) and returns clusterd's final answer in *resp,
 * or an exit code (with the reason printed) when there is none.
 */
static int ctl_call(struct ctl *ctl, struct json_object *req, struct ipc_client **cp,
		    struct json_object **resp)
{
	struct ipc_client *c;
	int rc;

	if (!req)
		return ctl_unreachable(ctl, -ENOMEM, false);
	rc = ipc_client_open(&c, ctl->service, ctl_left_ms(ctl));
	if (rc) {
		json_object_put(req);
		return ctl_unreachable(ctl, rc, false);
	}
	rc = ipc_client_call(c, req, ctl_left_ms(ctl), resp);
	json_object_put(req);
	if (rc == 0 && cp) {
		*cp = c;
		return CTL_EXIT_OK;
	}
	ipc_client_close(c);
	if (rc == 0)
		return CTL_EXIT_OK;
	if (rc == -EINPROGRESS) {
		fprintf(ctl->err,
			"clusterctl: %s: clusterd accepted the request but reported no result in "
			"time.\n  It keeps running in clusterd: see 'clusterctl status' (fence "
			"history) or 'clusterctl events'.\n",
			ctl->verb);
		return CTL_EXIT_ERROR;
	}
	if (rc == -EMSGSIZE || rc == -ENOMEM) {
		fprintf(ctl->err, "clusterctl: %s: %s\n", ctl->verb, strerror(-rc));
		return CTL_EXIT_ERROR;
	}
	return ctl_unreachable(ctl, rc, rc == -ETIMEDOUT);
}

static struct json_object *ctl_request(const char *cmd, const char *k0, const char *v0,
				       const char *k1, const char *v1)
{
	struct json_object *req = json_object_new_object();

	if (!req)
		return NULL;
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (k0)
		json_object_object_add(req, k0, json_object_new_string(v0));
	if (k1)
		json_object_object_add(req, k1, json_object_new_string(v1));
	return req;
}

static int ctl_status(struct ctl *ctl)
{
	struct json_object *resp = NULL, *doc;
	char *text;
	int rc;

	rc = ctl_call(ctl, ctl_request(IPC_CMD_STATUS, NULL, NULL, NULL, NULL), NULL, &resp);
	if (rc)
		return rc;
	if (!ctl_json_ok(resp)) {
		rc = ctl_refused(ctl, resp);
	} else if (!json_object_object_get_ex(resp, "status", &doc) ||
		   !json_object_is_type(doc, json_type_object)) {
		rc = ctl_unreachable(ctl, -EPROTO, true);
	} else if (ctl->json) {
		ctl_print_json(ctl, doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
	} else if (status_text_render(doc, &text) == 0) {
		fputs(text, ctl->out);
		free(text);
	} else {
		fprintf(ctl->err, "clusterctl: status: out of memory\n");
		rc = CTL_EXIT_ERROR;
	}
	json_object_put(resp);
	return rc;
}

/* The admin verbs: one request, then clusterd's message or refusal. */
static int ctl_admin(struct ctl *ctl, struct json_object *req)
{
	struct json_object *resp = NULL;
	const char *msg;
	int rc, i;

	rc = ctl_call(ctl, req, NULL, &resp);
	if (rc)
		return rc;
	if (!ctl_json_ok(resp)) {
		rc = ctl_refused(ctl, resp);
	} else if (ctl->json) {
		ctl_print_json(ctl, resp, JSON_C_TO_STRING_PLAIN);
	} else if ((msg = ctl_json_str(resp, "message")) && *msg) {
		fprintf(ctl->out, "%s\n", msg);
	} else {
		fputs(ctl->verb, ctl->out);
		for (i = 0; i < ctl->nargs; i++)
			fprintf(ctl->out, " %s", ctl->args[i]);
		fputs(": done\n", ctl->out);
	}
	json_object_put(resp);
	return rc;
}

static int ctl_move(struct ctl *ctl)
{
	return ctl_admin(ctl, ctl_request(IPC_CMD_MOVE, "lun", ctl->args[0], "node", ctl->args[1]));
}

static int ctl_standby(struct ctl *ctl)
{
	return ctl_admin(ctl, ctl_request(IPC_CMD_STANDBY, "node", ctl->args[0], NULL, NULL));
}

static int ctl_online(struct ctl *ctl)
{
	return ctl_admin(ctl, ctl_request(IPC_CMD_ONLINE, "node", ctl->args[0], NULL, NULL));
}

static int ctl_fence(struct ctl *ctl)
{
	if (!ctl->yes) {
		fprintf(ctl->err,
			"clusterctl: fence: refusing to fence %s without --yes.\n"
			"  Fencing runs %s's fence agent to power it off: everything on %s stops\n"
			"  at once, and its LUNs fail over once the agent reports success. If "
			"that\n"
			"  is what you want: clusterctl fence %s --yes\n"
			"  To check the agent without powering anything off: clusterctl fence-test "
			"%s\n",
			ctl->args[0], ctl->args[0], ctl->args[0], ctl->args[0], ctl->args[0]);
		return CTL_EXIT_ERROR;
	}
	return ctl_admin(ctl, ctl_request(IPC_CMD_FENCE, "node", ctl->args[0], NULL, NULL));
}

static int ctl_fence_test(struct ctl *ctl)
{
	return ctl_admin(ctl, ctl_request(IPC_CMD_FENCE_TEST, "node", ctl->args[0], NULL, NULL));
}

static int ctl_event_print(struct ctl *ctl, struct json_object *ev)
{
	char *line;

	if (!ctl->text) {
		ctl_print_json(ctl, ev, JSON_C_TO_STRING_PLAIN);
	} else if (status_text_event(ev, &line) == 0) {
		fputs(line, ctl->out);
		free(line);
	} else {
		return -ENOMEM;
	}
	fflush(ctl->out);
	return 0;
}

/* Everything but the "hello" that starts the stream. */
static bool ctl_event_is_change(struct json_object *ev)
{
	const char *type = ctl_json_str(ev, "type");

	return !type || strcmp(type, IPC_EVENT_HELLO) != 0;
}

static int ctl_events(struct ctl *ctl)
{
	struct json_object *resp = NULL, *ev;
	struct ipc_client *c = NULL;
	long seen = 0;
	int rc;

	rc = ctl_call(ctl, ctl_request(IPC_CMD_EVENTS, NULL, NULL, NULL, NULL), &c, &resp);
	if (rc)
		return rc;
	if (!ctl_json_ok(resp)) {
		rc = ctl_refused(ctl, resp);
		goto out;
	}
	/* Streaming: --timeout bounded the subscription; now wait as long as it takes. */
	while (!ctl->count || seen < ctl->count) {
		rc = ipc_client_event_next(c, -1, &ev);
		if (rc < 0)
			break;
		rc = 0;
		if (ctl_event_is_change(ev)) {
			rc = ctl_event_print(ctl, ev);
			seen++;
		}
		json_object_put(ev);
		if (rc < 0)
			break;
	}
	if (rc == -ENOTCONN)
		fprintf(ctl->err, "clusterctl: events: clusterd closed the event stream "
				  "(did it stop or restart?)\n");
	else if (rc < 0)
		fprintf(ctl->err, "clusterctl: events: %s\n", strerror(-rc));
	rc = rc == -ENOTCONN ? CTL_EXIT_UNREACHABLE : rc < 0 ? CTL_EXIT_ERROR : CTL_EXIT_OK;
out:
	json_object_put(resp);
	ipc_client_close(c);
	return rc;
}

static const struct ctl_verb ctl_verbs[] = {
	{"status", 0, "", ctl_status},		{"move", 2, " LUN NODE", ctl_move},
	{"standby", 1, " NODE", ctl_standby},	{"online", 1, " NODE", ctl_online},
	{"fence", 1, " NODE --yes", ctl_fence}, {"fence-test", 1, " NODE", ctl_fence_test},
	{"events", 0, "", ctl_events},
};

static bool ctl_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

enum { CTL_OPT_TEXT = 256, CTL_OPT_YES };

static const struct option ctl_options[] = {
	{"service", required_argument, NULL, 's'},
	{"timeout", required_argument, NULL, 't'},
	{"json", no_argument, NULL, 'j'},
	{"text", no_argument, NULL, CTL_OPT_TEXT},
	{"count", required_argument, NULL, 'n'},
	{"yes", no_argument, NULL, CTL_OPT_YES},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* Parses options: -1 to go on, or an exit code (help, version, usage error). */
static int ctl_parse_opts(struct ctl *ctl, int argc, char **argv)
{
	long v;
	int opt;

	optind = 0; /* full reset: tests run the tool more than once per process */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "s:t:jn:hV", ctl_options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!*optarg || strlen(optarg) >= 64)
				return ctl_usage(ctl, "--service '%s': 1 to 63 characters", optarg);
			ctl->service = optarg;
			break;
		case 't':
			if (!ctl_parse_long(optarg, 1, CTL_TIMEOUT_MAX_MS, &v))
				return ctl_usage(ctl, "--timeout '%s': milliseconds, 1 to 3600000",
						 optarg);
			ctl->timeout_ms = (int)v;
			break;
		case 'j':
			ctl->json = true;
			break;
		case CTL_OPT_TEXT:
			ctl->text = true;
			break;
		case 'n':
			if (!ctl_parse_long(optarg, 1, LONG_MAX, &v))
				return ctl_usage(ctl, "--count '%s': a positive number", optarg);
			ctl->count = v;
			break;
		case CTL_OPT_YES:
			ctl->yes = true;
			break;
		case 'h':
			fputs(ctl_help, ctl->out);
			return CTL_EXIT_OK;
		case 'V':
			fprintf(ctl->out, "clusterctl %s\n", CLUSTERD_VERSION);
			return CTL_EXIT_OK;
		default:
			if (optopt && strchr("stn", optopt))
				return ctl_usage(ctl, "%s needs a value", argv[optind - 1]);
			return ctl_usage(ctl, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

/* Options that belong to one command only are refused elsewhere, not ignored. */
static int ctl_check_opts(struct ctl *ctl)
{
	if (ctl->yes && strcmp(ctl->verb, "fence"))
		return ctl_usage(ctl, "--yes applies to fence only, not to %s", ctl->verb);
	if ((ctl->text || ctl->count) && strcmp(ctl->verb, "events"))
		return ctl_usage(ctl, "--text and --count apply to events only, not to %s",
				 ctl->verb);
	if (ctl->text && ctl->json)
		return ctl_usage(ctl, "%s: --text and --json exclude each other", ctl->verb);
	return -1;
}

static int clusterctl_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctl ctl = {
		.out = out,
		.err = err,
		.service = IPC_SERVICE_DEFAULT,
		.timeout_ms = CTL_TIMEOUT_DEFAULT_MS,
	};
	const struct ctl_verb *verb = NULL;
	size_t i;
	int rc;

	rc = ctl_parse_opts(&ctl, argc, argv);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return ctl_usage(&ctl, "%s", "no command given");
	ctl.verb = argv[optind];
	ctl.args = &argv[optind + 1];
	ctl.nargs = argc - optind - 1;
	for (i = 0; i < sizeof(ctl_verbs) / sizeof(ctl_verbs[0]); i++)
		if (strcmp(ctl_verbs[i].name, ctl.verb) == 0)
			verb = &ctl_verbs[i];
	if (!verb)
		return ctl_usage(&ctl, "unknown command '%s'", ctl.verb);
	if (ctl.nargs != verb->nargs) {
		fprintf(err, "clusterctl: %s takes %d argument%s, not %d\nUsage: clusterctl %s%s\n",
			verb->name, verb->nargs, verb->nargs == 1 ? "" : "s", ctl.nargs, verb->name,
			verb->operands);
		return CTL_EXIT_ERROR;
	}
	rc = ctl_check_opts(&ctl);
	if (rc >= 0)
		return rc;
	ctl.deadline = ctl_now_ms() + ctl.timeout_ms;
	return verb->run(&ctl);
}

#ifndef CLUSTERCTL_NO_MAIN
int main(int argc, char **argv)
{
	return clusterctl_run(argc, argv, stdout, stderr);
}
#endif
