/* SPDX-License-Identifier: MIT */
/*
 * The IPC server (clusterd/ipc.c) on a qb_loop running in a thread, with fake
 * daemon handlers, driven by the real clusterctl code (clusterd/clusterctl.c
 * is included, without its main) and by the client API directly: every verb,
 * the exit codes (0 done, 1 refused / bad command line / no result in time,
 * 2 unreachable), deferred answers, the --timeout against a handler that
 * blocks, event streaming, slow subscribers, access control, bad requests.
 *
 * Each test gets its own service name (with our pid, since abstract socket
 * names are shared by everything in this network namespace).
 */
#define CLUSTERCTL_NO_MAIN
#include "clusterd/clusterctl.c"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <qb/qbipcc.h>
#include <qb/qbloop.h>
#include "lib/log.h"

#define TEST_TIMEOUT_MS "2000"

static const char status_json[] =
	"{\"version\": 1, \"cluster\": \"demo\", \"local_node\": 1, \"phase\": \"synced\","
	" \"quorate\": true,"
	" \"quorum\": {\"expected_votes\": 2, \"total_votes\": 2, \"quorum\": 1,"
	"  \"flags\": [\"Quorate\", \"TwoNode\", \"WaitForAll\"]},"
	" \"nodes\": [{\"id\": 1, \"name\": \"node1\", \"state\": \"online\", \"online\": true,"
	"  \"fenced\": false, \"standby\": false},"
	"  {\"id\": 2, \"name\": \"node2\", \"state\": \"online\", \"online\": true,"
	"  \"fenced\": false, \"standby\": false}],"
	" \"luns\": [{\"name\": \"lun0\", \"ao_node\": 1, \"tpgs\": ["
	"  {\"id\": 1, \"node\": 1, \"state\": \"ao\", \"ports\": [{\"id\": 1, \"portal\": "
	"\"10.0.0.1:3260\"}]},"
	"  {\"id\": 2, \"node\": 2, \"state\": \"ano\", \"ports\": [{\"id\": 3, \"portal\": "
	"\"10.0.0.2:3260\"}]}]}],"
	" \"sessions\": [], \"fence_history\": [], \"failed_actions\": []}";

enum fake_defer {
	DEFER_OK,    /* complete with success shortly after returning */
	DEFER_FAIL,  /* complete with a failure shortly after */
	DEFER_NEVER, /* never complete */
};

struct fixture {
	qb_loop_t *loop;
	pthread_t thread;
	struct ipc_server *srv;
	char service[64];
	int call_pipe[2]; /* test -> loop thread: struct loop_call */
	int done_pipe[2]; /* loop thread -> test: one byte per finished call */
	int block_pipe[2];

	/* The fake daemon: written on the loop thread, read by the test after a request. */
	struct json_object *doc;
	bool status_blocks;
	int calls;
	char cmd[16], lun[64], node[64];
	bool on;
	int move_rc;
	enum fake_defer defer;
	uint64_t deferred_id;
	qb_loop_timer_handle timer;

	/* events published by the loop thread once a subscriber is there */
	const char *const *events;
	int flood;	   /* publish this many events instead */
	int flood_on_move; /* the move handler publishes this many events */
};

struct loop_call {
	void (*fn)(struct fixture *fx, void *arg);
	void *arg;
};

/* ---- the fake daemon ---- */

static void fake_note(struct fixture *fx, const char *cmd, const char *lun, const char *node)
{
	fx->calls++;
	snprintf(fx->cmd, sizeof(fx->cmd), "%s", cmd);
	snprintf(fx->lun, sizeof(fx->lun), "%s", lun ? lun : "");
	snprintf(fx->node, sizeof(fx->node), "%s", node ? node : "");
}

static struct json_object *fake_status(void *arg)
{
	struct fixture *fx = arg;
	struct json_object *copy = NULL;
	char c;

	fake_note(fx, "status", NULL, NULL);
	if (fx->status_blocks) /* a hung control loop: until the test lets go */
		assert_int_equal(read(fx->block_pipe[0], &c, 1), 1);
	assert_int_equal(json_object_deep_copy(fx->doc, &copy, NULL), 0);
	return copy;
}

static int fake_move(void *arg, const char *lun, const char *node, struct ipc_reply *r)
{
	struct fixture *fx = arg;

	fake_note(fx, "move", lun, node);
	for (int i = 0; i < fx->flood_on_move; i++) {
		struct json_object *ev = json_object_new_object();

		json_object_object_add(ev, "type", json_object_new_string("flood"));
		ipc_server_publish_event(fx->srv, ev);
	}
	if (fx->move_rc)
		return ipc_reply_fail(r, fx->move_rc, "wait until the resync of lun0 has finished",
				      "%s is resyncing to %s", lun, node);
	ipc_reply_msg(r, "%s: moving from node1 to %s", lun, node);
	return 0;
}

static int fake_standby(void *arg, const char *node, bool on, struct ipc_reply *r)
{
	struct fixture *fx = arg;

	fake_note(fx, on ? "standby" : "online", NULL, node);
	fx->on = on;
	if (strcmp(node, "node9") == 0)
		return ipc_reply_fail(r, -ENOENT, "see 'clusterctl status' for the node names",
				      "no node '%s' in this cluster", node);
	return 0;
}

static int fake_fence(void *arg, const char *node, struct ipc_reply *r)
{
	struct fixture *fx = arg;

	fake_note(fx, "fence", NULL, node);
	ipc_reply_msg(r, "%s fenced with fence_netns (off): ok", node);
	return 0;
}

static void fake_fence_test_done(void *data)
{
	struct fixture *fx = data;
	struct ipc_reply r;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	if (fx->defer == DEFER_FAIL)
		rc = ipc_reply_fail(&r, -ETIMEDOUT,
				    "check the agent's address and credentials in clusterd.conf",
				    "fence_netns status for %s timed out after 20 s", fx->node);
	else
		ipc_reply_msg(&r, "%s: fence_netns status: on", fx->node);
	r.data = json_object_new_object();
	json_object_object_add(r.data, "agent", json_object_new_string("fence_netns"));
	assert_int_equal(ipc_server_reply(fx->srv, fx->deferred_id, rc, &r), 0);
	/* exactly once: a second answer finds nothing */
	assert_int_equal(ipc_server_reply(fx->srv, fx->deferred_id, 0, NULL), -ENOENT);
}

static int fake_fence_test(void *arg, const char *node, struct ipc_reply *r)
{
	struct fixture *fx = arg;

	fake_note(fx, "fence-test", NULL, node);
	fx->deferred_id = r->id;
	r->wait_ms = 300;
	if (fx->defer != DEFER_NEVER)
		assert_int_equal(qb_loop_timer_add(fx->loop, QB_LOOP_MED, 20 * QB_TIME_NS_IN_MSEC,
						   fx, fake_fence_test_done, &fx->timer),
				 0);
	return -EINPROGRESS;
}

static const struct ipc_handlers fake_handlers = {
	.status = fake_status,
	.move = fake_move,
	.standby = fake_standby,
	.fence = fake_fence,
	.fence_test = fake_fence_test,
};

/* ---- the loop thread ---- */

static int32_t loop_call_ready(int32_t fd, int32_t revents, void *data)
{
	struct fixture *fx = data;
	struct loop_call call;
	char done = 1;

	assert_int_equal(read(fd, &call, sizeof(call)), (ssize_t)sizeof(call));
	call.fn(fx, call.arg);
	assert_int_equal(write(fx->done_pipe[1], &done, 1), 1);
	return 0;
}

/* Runs fn(fx, arg) on the loop thread and waits for it. */
static void loop_call(struct fixture *fx, void (*fn)(struct fixture *, void *), void *arg)
{
	struct loop_call call = {fn, arg};
	char done;

	assert_int_equal(write(fx->call_pipe[1], &call, sizeof(call)), (ssize_t)sizeof(call));
	assert_int_equal(read(fx->done_pipe[0], &done, 1), 1);
}

static void *loop_thread(void *arg)
{
	qb_loop_run(((struct fixture *)arg)->loop);
	return NULL;
}

static void loop_stop(struct fixture *fx, void *arg)
{
	ipc_server_stop(fx->srv);
	fx->srv = NULL;
	qb_loop_stop(fx->loop);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	static unsigned n;
	char err[256];

	assert_non_null(fx);
	snprintf(fx->service, sizeof(fx->service), "clusterd-test-%d-%u", (int)getpid(), ++n);
	fx->doc = json_tokener_parse(status_json);
	assert_non_null(fx->doc);
	assert_int_equal(pipe(fx->call_pipe), 0);
	assert_int_equal(pipe(fx->done_pipe), 0);
	assert_int_equal(pipe(fx->block_pipe), 0);
	fx->loop = qb_loop_create();
	assert_non_null(fx->loop);
	assert_int_equal(qb_loop_poll_add(fx->loop, QB_LOOP_HIGH, fx->call_pipe[0], POLLIN, fx,
					  loop_call_ready),
			 0);
	assert_int_equal(ipc_server_start(&fx->srv, fx->loop, fx->service, &fake_handlers, fx, err,
					  sizeof(err)),
			 0);
	assert_int_equal(pthread_create(&fx->thread, NULL, loop_thread, fx), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char c = 1;
	int i;

	if (fx->status_blocks) /* let a blocked handler go */
		assert_int_equal(write(fx->block_pipe[1], &c, 1), 1);
	loop_call(fx, loop_stop, NULL);
	assert_int_equal(pthread_join(fx->thread, NULL), 0);
	qb_loop_poll_del(fx->loop, fx->call_pipe[0]);
	qb_loop_destroy(fx->loop);
	for (i = 0; i < 2; i++) {
		close(fx->call_pipe[i]);
		close(fx->done_pipe[i]);
		close(fx->block_pipe[i]);
	}
	json_object_put(fx->doc);
	free(fx);
	return 0;
}

/* ---- running clusterctl ---- */

struct run {
	int rc;
	char *out, *err;
};

/* Runs clusterctl -s SERVICE ARGS... (NULL-terminated) and captures both streams. */
static void ctl_run(struct fixture *fx, struct run *r, ...)
{
	char *argv[24];
	size_t outlen, errlen;
	FILE *out, *err;
	int argc = 0;
	va_list ap;

	argv[argc++] = "clusterctl";
	argv[argc++] = "-s";
	argv[argc++] = fx->service;
	va_start(ap, r);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	out = open_memstream(&r->out, &outlen);
	err = open_memstream(&r->err, &errlen);
	assert_non_null(out);
	assert_non_null(err);
	r->rc = clusterctl_run(argc, argv, out, err);
	fclose(out);
	fclose(err);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* ---- status ---- */

static void test_status_text(void **state)
{
	struct fixture *fx = *state;
	struct run r;
	char *want;

	ctl_run(fx, &r, "status", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(status_text_render(fx->doc, &want), 0);
	assert_string_equal(r.out, want);
	assert_string_equal(r.err, "");
	assert_string_equal(fx->cmd, "status");
	free(want);
	run_free(&r);
}

static void test_status_json(void **state)
{
	struct fixture *fx = *state;
	struct json_object *got;
	struct run r;

	ctl_run(fx, &r, "status", "--json", NULL);
	assert_int_equal(r.rc, 0);
	got = json_tokener_parse(r.out);
	assert_non_null(got);
	assert_true(json_object_equal(got, fx->doc));
	assert_string_equal(r.err, "");
	json_object_put(got);
	run_free(&r);
}

static int count_fds(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(dir);
	while ((d = readdir(dir)) != NULL)
		n++;
	closedir(dir);
	return n;
}

/* A control loop that does not answer: clusterctl gives up after --timeout, exit 2. */
static void test_status_timeout(void **state)
{
	struct fixture *fx = *state;
	struct run r;
	char c = 1;
	int nfds;

	fx->status_blocks = true;
	ctl_run(fx, &r, "--timeout", "200", "status", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err,
			    "clusterctl: clusterd did not answer within 200 ms (busy or hung?).\n"
			    "  Try again, or give it longer with --timeout MS.\n"
			    "  The request was delivered and may still take effect: check "
			    "'clusterctl status'.\n");
	run_free(&r);
	/* Still hung: a new client does not even get connected, and gives up as well. */
	nfds = count_fds();
	ctl_run(fx, &r, "--timeout", "200", "move", "lun0", "node2", NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err,
			    "clusterctl: clusterd did not answer within 200 ms (busy or hung?).\n"
			    "  Try again, or give it longer with --timeout MS.\n");
	assert_int_equal(count_fds(), nfds); /* the abandoned connection left nothing open */
	run_free(&r);
	/* The loop answers into a connection whose client left; it must survive that. */
	assert_int_equal(write(fx->block_pipe[1], &c, 1), 1);
	fx->status_blocks = false;
	ctl_run(fx, &r, "status", "--json", NULL);
	assert_int_equal(r.rc, 0);
	run_free(&r);
}

static struct json_object *status_null(void *arg)
{
	return NULL;
}

static void set_status_null(struct fixture *fx, void *arg)
{
	static const struct ipc_handlers h = {.status = status_null};
	char err[256];

	ipc_server_stop(fx->srv);
	assert_int_equal(
		ipc_server_start(&fx->srv, fx->loop, fx->service, &h, fx, err, sizeof(err)), 0);
}

/* A daemon without status, and one without the admin verbs: exit 1 with the reason. */
static void test_status_unavailable_and_unsupported(void **state)
{
	struct fixture *fx = *state;
	struct run r;

	loop_call(fx, set_status_null, NULL);
	ctl_run(fx, &r, "status", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "clusterctl: status: clusterd could not build its status\n"
				   "  hint: try again in a moment\n");
	run_free(&r);
	ctl_run(fx, &r, "move", "lun0", "node2", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "clusterctl: move: this clusterd does not implement 'move'\n"
				   "  hint: upgrade clusterd, or use a matching clusterctl\n");
	run_free(&r);
}

static void set_padded_doc(struct fixture *fx, size_t pad)
{
	char *big = malloc(pad + 1);

	assert_non_null(big);
	memset(big, 'x', pad);
	big[pad] = '\0';
	json_object_object_add(fx->doc, "padding", json_object_new_string(big));
	free(big);
}

/* A document near the IPC limit arrives whole; one past it is refused, saying why. */
static void test_status_size_limit(void **state)
{
	struct fixture *fx = *state;
	struct json_object *got;
	struct run r;

	set_padded_doc(fx, IPC_MAX_MSG - 4096);
	ctl_run(fx, &r, "status", "--json", NULL);
	assert_int_equal(r.rc, 0);
	got = json_tokener_parse(r.out);
	assert_non_null(got);
	assert_true(json_object_equal(got, fx->doc));
	json_object_put(got);
	run_free(&r);

	set_padded_doc(fx, IPC_MAX_MSG);
	ctl_run(fx, &r, "status", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(
		r.err, "clusterctl: status: the answer is larger than the 262144-byte IPC "
		       "limit\n  hint: report this: the status document outgrew IPC_MAX_MSG\n");
	run_free(&r);
}

/* ---- admin verbs ---- */

static void test_move(void **state)
{
	struct fixture *fx = *state;
	struct run r;

	ctl_run(fx, &r, "move", "lun0", "node2", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "lun0: moving from node1 to node2\n");
	assert_string_equal(r.err, "");
	assert_string_equal(fx->cmd, "move");
	assert_string_equal(fx->lun, "lun0");
	assert_string_equal(fx->node, "node2");
	run_free(&r);
}

static void test_move_refused(void **state)
{
	struct fixture *fx = *state;
	struct json_object *resp;
	struct run r;

	fx->move_rc = -EBUSY;
	ctl_run(fx, &r, "move", "lun0", "node2", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "clusterctl: move: lun0 is resyncing to node2\n"
				   "  hint: wait until the resync of lun0 has finished\n");
	run_free(&r);

	ctl_run(fx, &r, "--json", "move", "lun0", "node2", NULL);
	assert_int_equal(r.rc, 1);
	resp = json_tokener_parse(r.out);
	assert_non_null(resp);
	assert_string_equal(json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN),
			    "{\"ok\":false,\"error\":\"lun0 is resyncing to node2\","
			    "\"hint\":\"wait until the resync of lun0 has finished\","
			    "\"errno\":\"EBUSY\"}");
	json_object_put(resp);
	run_free(&r);
}

static void test_standby_online(void **state)
{
	struct fixture *fx = *state;
	struct run r;

	ctl_run(fx, &r, "standby", "node2", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "standby node2: done\n");
	assert_string_equal(fx->cmd, "standby");
	assert_true(fx->on);
	run_free(&r);

	ctl_run(fx, &r, "online", "2", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "online 2: done\n");
	assert_string_equal(fx->cmd, "online");
	assert_string_equal(fx->node, "2");
	assert_false(fx->on);
	run_free(&r);

	ctl_run(fx, &r, "online", "node9", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "clusterctl: online: no node 'node9' in this cluster\n"
				   "  hint: see 'clusterctl status' for the node names\n");
	run_free(&r);
}

static void test_fence_needs_yes(void **state)
{
	struct fixture *fx = *state;
	struct run r;

	ctl_run(fx, &r, "fence", "node2", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_non_null(
		strstr(r.err, "clusterctl: fence: refusing to fence node2 without --yes.\n"));
	assert_non_null(strstr(r.err, "clusterctl fence node2 --yes\n"));
	assert_int_equal(fx->calls, 0); /* clusterd never heard of it */
	run_free(&r);

	ctl_run(fx, &r, "fence", "node2", "--yes", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "node2 fenced with fence_netns (off): ok\n");
	assert_string_equal(fx->cmd, "fence");
	assert_string_equal(fx->node, "node2");
	run_free(&r);
}

static void test_fence_test_deferred(void **state)
{
	struct fixture *fx = *state;
	struct json_object *resp;
	struct run r;

	ctl_run(fx, &r, "fence-test", "node2", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "node2: fence_netns status: on\n");
	assert_string_equal(r.err, "");
	run_free(&r);

	/* --json shows the final answer, with the handler's extra members */
	ctl_run(fx, &r, "fence-test", "node2", "-j", NULL);
	assert_int_equal(r.rc, 0);
	resp = json_tokener_parse(r.out);
	assert_non_null(resp);
	assert_string_equal(json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN),
			    "{\"agent\":\"fence_netns\",\"ok\":true,"
			    "\"message\":\"node2: fence_netns status: on\"}");
	json_object_put(resp);
	run_free(&r);

	fx->defer = DEFER_FAIL;
	ctl_run(fx, &r, "fence-test", "node2", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err,
			    "clusterctl: fence-test: fence_netns status for node2 timed out after "
			    "20 s\n  hint: check the agent's address and credentials in "
			    "clusterd.conf\n");
	run_free(&r);
}

static void reply_late(struct fixture *fx, void *arg)
{
	assert_int_equal(ipc_server_reply(fx->srv, fx->deferred_id, 0, NULL), -ENOENT);
}

/* Accepted but never finished: exit 1 after wait_ms + --timeout, and a late answer goes nowhere. */
static void test_fence_test_never_answers(void **state)
{
	struct fixture *fx = *state;
	struct run r;

	fx->defer = DEFER_NEVER;
	ctl_run(fx, &r, "--timeout", "100", "fence-test", "node2", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "clusterctl: fence-test: clusterd accepted the request but "
				      "reported no result in time.\n"));
	run_free(&r);
	/* Give libqb a moment to see the client leave, then answer late. */
	ctl_run(fx, &r, "status", "--json", NULL);
	run_free(&r);
	loop_call(fx, reply_late, NULL);
}

/* ---- reaching clusterd ---- */

static void test_unreachable(void **state)
{
	struct fixture *fx = *state;
	char *argv[] = {"clusterctl", "-s", "clusterd-test-nobody-here", "status", NULL};
	size_t outlen, errlen;
	char *out, *err;
	FILE *fo, *fe;
	int rc;

	fo = open_memstream(&out, &outlen);
	fe = open_memstream(&err, &errlen);
	rc = clusterctl_run(4, argv, fo, fe);
	fclose(fo);
	fclose(fe);
	assert_int_equal(rc, 2);
	assert_string_equal(out, "");
	assert_string_equal(
		err, "clusterctl: cannot reach clusterd: nothing serves IPC service "
		     "'clusterd-test-nobody-here' here.\n"
		     "  Is clusterd running on this node? Was it started with another service\n"
		     "  name (then use -s NAME)? In a namespace test cluster, run clusterctl in\n"
		     "  the node's namespace: ip netns exec NODE clusterctl ...\n");
	free(out);
	free(err);
	assert_int_equal(fx->calls, 0);
}

/* Another uid than root or clusterd's own is refused at connect: exit 2 and why. */
static void test_permission(void **state)
{
	struct fixture *fx = *state;
	char buf[1024] = "";
	int p[2], status;
	ssize_t n, off = 0;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = {"clusterctl", "-s", fx->service, "status", NULL};
		FILE *err = fdopen(p[1], "w");

		close(p[0]);
		if (!err || setgid(65534) || setuid(65534))
			_exit(99);
		_exit(clusterctl_run(4, argv, stdout, err) + (fclose(err) ? 10 : 0));
	}
	close(p[1]);
	while ((n = read(p[0], buf + off, sizeof(buf) - 1 - (size_t)off)) > 0)
		off += n;
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_string_equal(buf, "clusterctl: cannot reach clusterd: it refused this user (uid "
				 "65534).\n  Run clusterctl as root, or as the user clusterd runs "
				 "as.\n");
	assert_int_equal(fx->calls, 0);
}

static void start_twice(struct fixture *fx, void *arg)
{
	struct ipc_server *s2 = NULL;
	char err[256];

	assert_int_equal(
		ipc_server_start(&s2, fx->loop, fx->service, &fake_handlers, fx, err, sizeof(err)),
		-EADDRINUSE);
	assert_null(s2);
	assert_non_null(strstr(err, "already served in this network namespace"));
}

static void test_name_in_use(void **state)
{
	loop_call(*state, start_twice, NULL);
}

static void restart_server(struct fixture *fx, void *arg)
{
	char err[256];

	ipc_server_stop(fx->srv);
	assert_int_equal(ipc_server_start(&fx->srv, fx->loop, fx->service, &fake_handlers, fx, err,
					  sizeof(err)),
			 0);
}

/* Creates /dev/shm/qb-PID-1-2-TAG holding libqb's six ring files for SERVICE (+ EXTRA). */
static void make_shm_dir(char *path, size_t len, int pid, const char *tag, const char *service,
			 const char *extra)
{
	static const char *const files[] = {"request", "response", "event"};
	char f[PATH_MAX];
	size_t i;
	int fd;

	snprintf(path, len, "/dev/shm/qb-%d-1-2-%s%d", pid, tag, (int)getpid());
	assert_int_equal(mkdir(path, 0700), 0);
	for (i = 0; i < 6; i++) {
		snprintf(f, sizeof(f), "%s/qb-%s-%s-%s", path, files[i / 2], service,
			 i % 2 ? "data" : "header");
		fd = open(f, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	if (extra) {
		snprintf(f, sizeof(f), "%s/%s", path, extra);
		fd = open(f, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
}

static void rm_shm_dir(const char *path)
{
	char f[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(path);

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		assert_int_equal(unlink(f), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(path), 0);
}

/*
 * Ring directories a killed clusterd left in /dev/shm are removed when the
 * service starts again: only those of this service, of a server that is
 * gone, holding nothing else.
 */
static void test_sweep_stale_rings(void **state)
{
	struct fixture *fx = *state;
	char stale[PATH_MAX], extra[PATH_MAX], other[PATH_MAX], live[PATH_MAX];
	char other_service[80];
	pid_t dead;

	dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	snprintf(other_service, sizeof(other_service), "%s-x", fx->service);
	make_shm_dir(stale, sizeof(stale), dead, "stale", fx->service, NULL);
	make_shm_dir(extra, sizeof(extra), dead, "extra", fx->service, "not-libqb");
	make_shm_dir(other, sizeof(other), dead, "other", other_service, NULL);
	make_shm_dir(live, sizeof(live), 1, "live", fx->service, NULL);

	loop_call(fx, restart_server, NULL);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	rm_shm_dir(extra);
	rm_shm_dir(other);
	rm_shm_dir(live);
}

/* ---- the command line ---- */

static void test_usage_errors(void **state)
{
	struct fixture *fx = *state;
	struct run r;

	ctl_run(fx, &r, NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "clusterctl: no command given\nTry 'clusterctl --help'.\n");
	run_free(&r);
	ctl_run(fx, &r, "frobnicate", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err,
			    "clusterctl: unknown command 'frobnicate'\nTry 'clusterctl --help'.\n");
	run_free(&r);
	ctl_run(fx, &r, "move", "lun0", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "clusterctl: move takes 2 arguments, not 1\n"
				   "Usage: clusterctl move LUN NODE\n");
	run_free(&r);
	ctl_run(fx, &r, "status", "--yes", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "clusterctl: --yes applies to fence only, not to status\n"
				   "Try 'clusterctl --help'.\n");
	run_free(&r);
	ctl_run(fx, &r, "--timeout", "0", "status", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "clusterctl: --timeout '0': milliseconds, 1 to 3600000\n"
				   "Try 'clusterctl --help'.\n");
	run_free(&r);
	ctl_run(fx, &r, "--bogus", "status", NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "clusterctl: unknown option '--bogus'\n"
				   "Try 'clusterctl --help'.\n");
	run_free(&r);
	ctl_run(fx, &r, "events", "--text", "--json", NULL);
	assert_int_equal(r.rc, 1);
	run_free(&r);
	assert_int_equal(fx->calls, 0);

	ctl_run(fx, &r, "--help", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, ctl_help);
	run_free(&r);
}

/* ---- requests clusterctl would never send ---- */

static struct json_object *call_raw(struct fixture *fx, const char *json)
{
	struct json_object *req = json_tokener_parse(json), *resp = NULL;
	struct ipc_client *c;

	assert_non_null(req);
	assert_int_equal(ipc_client_open(&c, fx->service, 2000), 0);
	assert_int_equal(ipc_client_call(c, req, 2000, &resp), 0);
	ipc_client_close(c);
	json_object_put(req);
	return resp;
}

static void assert_resp(struct json_object *resp, const char *want)
{
	assert_string_equal(json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN), want);
	json_object_put(resp);
}

static void test_bad_requests(void **state)
{
	struct fixture *fx = *state;

	assert_resp(call_raw(fx, "{\"cmd\": \"reboot-everything\"}"),
		    "{\"ok\":false,\"error\":\"unknown command 'reboot-everything'\","
		    "\"hint\":\"clusterctl and clusterd may be of different versions\","
		    "\"errno\":\"EOPNOTSUPP\"}");
	assert_resp(call_raw(fx, "{\"cmd\": \"move\", \"lun\": \"lun0\"}"),
		    "{\"ok\":false,\"error\":\"'move' needs a string \\\"node\\\"\","
		    "\"hint\":\"clusterctl and clusterd may be of different versions\","
		    "\"errno\":\"EINVAL\"}");
	assert_resp(call_raw(fx, "{\"cmd\": \"standby\", \"node\": 2}"),
		    "{\"ok\":false,\"error\":\"'standby' needs a string \\\"node\\\"\","
		    "\"hint\":\"clusterctl and clusterd may be of different versions\","
		    "\"errno\":\"EINVAL\"}");
	assert_resp(call_raw(fx, "{\"lun\": \"lun0\"}"),
		    "{\"ok\":false,\"error\":\"the request has no \\\"cmd\\\"\","
		    "\"errno\":\"EINVAL\"}");
	assert_int_equal(fx->calls, 0);
}

/* Sends raw bytes behind libqb's header and returns the JSON of the answer. */
static struct json_object *send_frame(struct fixture *fx, const uint8_t *payload, size_t len)
{
	struct qb_ipc_request_header qh = {.id = IPC_MSG_REQUEST, .size = 0};
	static uint8_t buf[IPC_MAX_MSG];
	struct ipc_proto_info info;
	struct json_object *doc;
	qb_ipcc_connection_t *c;
	struct iovec iov[2];
	ssize_t n;

	c = qb_ipcc_connect(fx->service, IPC_MAX_MSG);
	assert_non_null(c);
	qh.size = (int32_t)(sizeof(qh) + len);
	iov[0] = (struct iovec){&qh, sizeof(qh)};
	iov[1] = (struct iovec){(void *)payload, len};
	n = qb_ipcc_sendv_recv(c, iov, 2, buf, sizeof(buf), 2000);
	assert_true(n > (ssize_t)IPC_RESP_PREFIX);
	assert_int_equal(ipc_proto_hdr_get(buf + sizeof(struct qb_ipc_response_header),
					   (size_t)n - sizeof(struct qb_ipc_response_header),
					   &info),
			 0);
	doc = json_tokener_parse((const char *)buf + IPC_RESP_PREFIX);
	qb_ipcc_disconnect(c);
	return doc;
}

static void test_bad_frames(void **state)
{
	struct fixture *fx = *state;
	uint8_t f[IPC_PROTO_HDR_LEN + 32];
	static const char json[] = "{\"cmd\":\"status\"}";
	const size_t jl = sizeof(json) - 1;

	/* another protocol version */
	ipc_proto_hdr_put(f, 7, (uint32_t)jl);
	put_be16(f + 4, 9);
	memcpy(f + IPC_PROTO_HDR_LEN, json, jl);
	assert_resp(send_frame(fx, f, IPC_PROTO_HDR_LEN + jl),
		    "{\"ok\":false,\"error\":\"protocol version 9 is not supported (clusterd "
		    "speaks 1)\",\"hint\":\"use the clusterctl that came with this clusterd\","
		    "\"errno\":\"EPROTONOSUPPORT\"}");
	/* a length that does not match */
	ipc_proto_hdr_put(f, 7, (uint32_t)jl + 1);
	assert_resp(send_frame(fx, f, IPC_PROTO_HDR_LEN + jl),
		    "{\"ok\":false,\"error\":\"malformed request header\",\"errno\":\"EPROTO\"}");
	/* not JSON, and JSON that is not an object */
	ipc_proto_hdr_put(f, 7, 5);
	memcpy(f + IPC_PROTO_HDR_LEN, "{oops", 5);
	assert_resp(send_frame(fx, f, IPC_PROTO_HDR_LEN + 5),
		    "{\"ok\":false,\"error\":\"the request is not one JSON object\","
		    "\"errno\":\"EBADMSG\"}");
	ipc_proto_hdr_put(f, 7, 2);
	memcpy(f + IPC_PROTO_HDR_LEN, "[]", 2);
	assert_resp(send_frame(fx, f, IPC_PROTO_HDR_LEN + 2),
		    "{\"ok\":false,\"error\":\"the request is not one JSON object\","
		    "\"errno\":\"EBADMSG\"}");
	assert_int_equal(fx->calls, 0);
}

/* ---- events ---- */

static void publish_when_subscribed(void *data)
{
	struct fixture *fx = data;
	int i;

	if (!fx->srv)
		return;
	if (!ipc_server_has_subscribers(fx->srv)) {
		assert_int_equal(qb_loop_timer_add(fx->loop, QB_LOOP_LOW, 2 * QB_TIME_NS_IN_MSEC,
						   fx, publish_when_subscribed, &fx->timer),
				 0);
		return;
	}
	for (i = 0; fx->events && fx->events[i]; i++)
		ipc_server_publish_event(fx->srv, json_tokener_parse(fx->events[i]));
	for (i = 0; i < fx->flood; i++) {
		struct json_object *ev = json_object_new_object();

		json_object_object_add(ev, "type", json_object_new_string("flood"));
		json_object_object_add(ev, "n", json_object_new_int(i));
		ipc_server_publish_event(fx->srv, ev);
	}
}

static void start_publisher(struct fixture *fx, void *arg)
{
	publish_when_subscribed(fx);
}

static void test_events_json(void **state)
{
	static const char *const evs[] = {
		"{\"type\": \"node\", \"node\": 2, \"state\": \"unclean\", \"message\": \"node2 "
		"left without a clean leave\"}",
		"{\"type\": \"fence\", \"target\": 2, \"result\": \"ok\"}",
		"{\"type\": \"alua\", \"lun\": \"lun0\", \"ao_node\": 1}",
		NULL,
	};
	struct fixture *fx = *state;
	struct json_object *ev, *v;
	const char *line;
	struct run r;
	int64_t seq = 0;
	int i;

	fx->events = evs;
	loop_call(fx, start_publisher, NULL);
	ctl_run(fx, &r, "events", "--count", "3", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	for (i = 0, line = r.out; i < 3; i++, line = strchr(line, '\n') + 1) {
		ev = json_tokener_parse(line);
		assert_non_null(ev);
		assert_true(json_object_object_get_ex(ev, "seq", &v));
		if (i)
			assert_int_equal(json_object_get_int64(v), seq + 1);
		seq = json_object_get_int64(v);
		assert_true(json_object_object_get_ex(ev, "time", &v));
		assert_int_equal(strlen(json_object_get_string(v)),
				 strlen("2024-05-01T12:00:01.123Z"));
		/* the members the daemon gave are there unchanged */
		json_object_object_del(ev, "seq");
		json_object_object_del(ev, "time");
		v = json_tokener_parse(evs[i]);
		assert_true(json_object_equal(ev, v));
		json_object_put(v);
		json_object_put(ev);
	}
	assert_string_equal(line, "");
	run_free(&r);
}

static void test_events_text(void **state)
{
	static const char *const evs[] = {
		"{\"type\": \"quorum\", \"time\": \"2024-05-01T12:00:01.000Z\", \"message\": "
		"\"quorum lost (1 of 2 votes)\"}",
		"{\"type\": \"alua\", \"time\": \"2024-05-01T12:00:02.500Z\", \"lun\": \"lun0\", "
		"\"ao_node\": 2, \"version\": 5}",
		NULL,
	};
	struct fixture *fx = *state;
	struct run r;

	fx->events = evs;
	loop_call(fx, start_publisher, NULL);
	ctl_run(fx, &r, "events", "--text", "-n", "2", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "2024-05-01T12:00:01.000Z quorum: quorum lost (1 of 2 votes)\n"
				   "2024-05-01T12:00:02.500Z alua: lun=lun0 ao_node=2 version=5\n");
	run_free(&r);
}

struct bg_run {
	struct fixture *fx;
	FILE *out, *err;
	int rc;
};

static void *events_thread(void *arg)
{
	struct bg_run *b = arg;
	char *argv[] = {"clusterctl", "-s", b->fx->service, "events", NULL};

	b->rc = clusterctl_run(4, argv, b->out, b->err);
	fclose(b->out);
	return NULL;
}

static void server_stop(struct fixture *fx, void *arg)
{
	ipc_server_stop(fx->srv);
	fx->srv = NULL;
}

/*
 * clusterd going away ends the stream with exit 2. clusterctl runs in a
 * thread writing into a pipe; the server stops once the event was printed
 * (libqb reports a disconnect before events still in the ring, so stopping
 * earlier could lose it).
 */
static void test_events_server_stops(void **state)
{
	static const char *const evs[] = {"{\"type\": \"phase\", \"phase\": \"syncing\"}", NULL};
	struct fixture *fx = *state;
	struct bg_run b = {.fx = fx};
	char line[512], *err;
	size_t errlen;
	pthread_t t;
	FILE *in;
	int p[2];

	assert_int_equal(pipe(p), 0);
	b.out = fdopen(p[1], "w");
	in = fdopen(p[0], "r");
	b.err = open_memstream(&err, &errlen);
	assert_non_null(b.out);
	assert_non_null(in);
	fx->events = evs;
	loop_call(fx, start_publisher, NULL);
	assert_int_equal(pthread_create(&t, NULL, events_thread, &b), 0);
	assert_non_null(fgets(line, sizeof(line), in));
	assert_non_null(strstr(line, "\"type\":\"phase\""));
	loop_call(fx, server_stop, NULL);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_null(fgets(line, sizeof(line), in)); /* nothing more */
	fclose(in);
	fclose(b.err);
	assert_int_equal(b.rc, 2);
	assert_string_equal(err, "clusterctl: events: clusterd closed the event stream (did it "
				 "stop or restart?)\n");
	free(err);
}

static void check_no_subscribers(struct fixture *fx, void *arg)
{
	assert_false(ipc_server_has_subscribers(fx->srv));
}

/*
 * A subscriber that does not read: the server neither blocks nor grows
 * without bound; it queues, then disconnects it. The client sees the end of
 * the stream (libqb reports the disconnect before what is left in the ring,
 * so it may see none of the events), and the server serves others as before.
 */
static void test_events_slow_subscriber(void **state)
{
	struct fixture *fx = *state;
	struct json_object *req = json_tokener_parse("{\"cmd\": \"events\"}"), *resp, *ev, *v;
	struct ipc_client *c;
	int rc, got = 0;
	struct run r;

	assert_int_equal(ipc_client_open(&c, fx->service, 2000), 0);
	assert_int_equal(ipc_client_call(c, req, 2000, &resp), 0);
	json_object_put(req);
	json_object_put(resp);
	fx->flood = 20000;
	loop_call(fx, start_publisher, NULL); /* all published before we read one */
	loop_call(fx, check_no_subscribers, NULL);
	while ((rc = ipc_client_event_next(c, 2000, &ev)) == 1) {
		const char *type = json_object_get_string(json_object_object_get(ev, "type"));

		if (strcmp(type, "flood") == 0) {
			assert_true(json_object_object_get_ex(ev, "n", &v));
			assert_int_equal(json_object_get_int(v), got);
			got++;
		}
		json_object_put(ev);
	}
	assert_int_equal(rc, -ENOTCONN);
	assert_true(got < 20000);
	ipc_client_close(c);

	ctl_run(fx, &r, "status", "--json", NULL);
	assert_int_equal(r.rc, 0);
	run_free(&r);
}

/*
 * A handler whose events get the very connection that asked kicked (a
 * subscriber that also sends requests and reads neither): the request ends
 * unanswered with the connection, nothing is used after it is freed (ASan),
 * and the server goes on.
 */
static void test_events_kick_during_request(void **state)
{
	struct fixture *fx = *state;
	struct json_object *req = json_tokener_parse("{\"cmd\": \"events\"}"), *resp;
	struct ipc_client *c;
	struct run r;

	assert_int_equal(ipc_client_open(&c, fx->service, 2000), 0);
	assert_int_equal(ipc_client_call(c, req, 2000, &resp), 0);
	json_object_put(req);
	json_object_put(resp);
	fx->flood_on_move = 20000;
	req = json_tokener_parse("{\"cmd\": \"move\", \"lun\": \"lun0\", \"node\": \"node2\"}");
	assert_int_equal(ipc_client_call(c, req, 2000, &resp), -ENOTCONN);
	json_object_put(req);
	ipc_client_close(c);
	assert_string_equal(fx->cmd, "move");

	fx->flood_on_move = 0;
	ctl_run(fx, &r, "move", "lun0", "node2", NULL);
	assert_int_equal(r.rc, 0);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_unavailable_and_unsupported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standby_online, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence_needs_yes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence_test_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence_test_never_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_stale_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_server_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_slow_subscriber, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_kick_during_request, setup, teardown),
	};

	if (getenv("TEST_IPC_DEBUG"))
		log_init("test_ipc", true, true);
	/* A hang is a failure too: nothing here should take more than seconds. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
