// SPDX-License-Identifier: MIT
/*
 * Tests for fencing/agents/fence_netns, run the way clusterd runs it: through
 * the fence runner (fencing/fence_run.c) on a real libqb loop. Every test
 * builds two throwaway network namespaces of its own (fnt<pid>-node1 and
 * fnt<pid>-node2, each with a veth pair and a `sleep` inside) plus a `sleep`
 * in the test's own namespace, and checks that off kills exactly what is in
 * node1's namespace and downs its links, that on brings it back through a
 * start hook, that status tells on from off, and that an unknown node or an
 * agent inside its target refuses. Teardown kills only what runs inside its
 * own namespaces and its own children, then deletes the namespaces.
 *
 * Needs root and `ip netns` (skipped otherwise). Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "fencing/fence_run.h"
#include "lib/compiler.h"

extern char **environ;

struct t_env {
	qb_loop_t *loop;
	struct fence_runner *r;
	char cwd[2048];
	char prefix[32], ns1[48], ns2[48];
	char hook[2200];
	pid_t in1, in2, outside; /* sleeps: in node1, in node2, in our own netns */
};

struct t_done {
	qb_loop_t *loop;
	int calls;
	struct fence_result res;
	char out[65536];
};

static struct t_done t_d;

/* Runs a shell command line; returns its exit status (-1 if it did not exit). */
static int t_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* First line of a command's output (or "" ). */
static const char *t_sh_out(const char *fmt, ...)
{
	static char buf[4096];
	char cmd[4096];
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	buf[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

static pid_t t_spawn(char *const argv[])
{
	pid_t pid;

	assert_int_equal(posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ), 0);
	return pid;
}

static pid_t t_spawn_in(const char *ns)
{
	char *argv[] = {"ip", "netns", "exec", (char *)ns, "sleep", "1000", NULL};

	return t_spawn(argv);
}

/* `ip netns exec` execs sleep in place: wait until the pid is inside ns. */
static void t_wait_in_ns(pid_t pid, const char *ns)
{
	char p[32];

	snprintf(p, sizeof(p), "%d", (int)pid);
	for (int i = 0; i < 500; i++) {
		if (t_sh("ip netns pids %s | grep -qx %s", ns, p) == 0)
			return;
		usleep(10000);
	}
	fail_msg("pid %d never showed up in namespace %s", (int)pid, ns);
}

static bool t_alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, 0) == 0;
}

static int t_make_ns(const char *ns)
{
	if (t_sh("ip netns add %s 2>/dev/null", ns))
		return -1;
	if (t_sh("ip -n %s link add ethA type veth peer name ethB && "
		 "ip -n %s link set ethA up && ip -n %s link set ethB up",
		 ns, ns, ns))
		return -1;
	return 0;
}

static void t_kill_ns(const char *ns)
{
	/* Everything inside our own throwaway namespace was started by us. */
	t_sh("for p in $(ip netns pids %s 2>/dev/null); do kill -KILL $p; done", ns);
	t_sh("ip netns del %s 2>/dev/null", ns);
}

static void t_reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static int t_setup(void **state)
{
	struct t_env *e = calloc(1, sizeof(*e));
	char agents[2100];
	char *bystander[] = {"sleep", "1000", NULL};

	assert_non_null(e);
	*state = e;
	if (geteuid() != 0)
		return 0;
	assert_non_null(getcwd(e->cwd, sizeof(e->cwd)));
	snprintf(e->prefix, sizeof(e->prefix), "fnt%d-", (int)getpid());
	snprintf(e->ns1, sizeof(e->ns1), "%snode1", e->prefix);
	snprintf(e->ns2, sizeof(e->ns2), "%snode2", e->prefix);
	snprintf(e->hook, sizeof(e->hook), "%s/tests/fencing/netns-start-hook %s", e->cwd,
		 e->prefix);
	if (t_make_ns(e->ns1) || t_make_ns(e->ns2)) {
		t_kill_ns(e->ns1);
		t_kill_ns(e->ns2);
		e->ns1[0] = '\0';
		return 0;
	}
	e->in1 = t_spawn_in(e->ns1);
	e->in2 = t_spawn_in(e->ns2);
	e->outside = t_spawn(bystander);
	t_wait_in_ns(e->in1, e->ns1);
	t_wait_in_ns(e->in2, e->ns2);
	e->loop = qb_loop_create();
	assert_non_null(e->loop);
	snprintf(agents, sizeof(agents), "%s/fencing/agents", e->cwd);
	assert_int_equal(fence_runner_create(&e->r, e->loop, agents), 0);
	memset(&t_d, 0, sizeof(t_d));
	t_d.loop = e->loop;
	return 0;
}

static int t_teardown(void **state)
{
	struct t_env *e = *state;

	if (e->r)
		fence_runner_destroy(e->r);
	if (e->loop)
		qb_loop_destroy(e->loop);
	t_reap(&e->in1);
	t_reap(&e->in2);
	t_reap(&e->outside);
	if (e->ns1[0]) {
		t_kill_ns(e->ns1);
		t_kill_ns(e->ns2);
	}
	free(e);
	return 0;
}

static void t_need_netns(struct t_env *e)
{
	if (geteuid() != 0) {
		print_message("not root: skipping\n");
		skip();
	}
	if (!e->ns1[0]) {
		print_message("ip netns add failed here: skipping\n");
		skip();
	}
}

static void t_cb(struct fence_op *op, const struct fence_result *res, void *arg)
{
	struct t_done *d = arg;

	d->calls++;
	d->res = *res;
	memcpy(d->out, res->out, res->out_len);
	d->out[res->out_len] = '\0';
	d->res.out = d->out;
	d->res.err = NULL;
	qb_loop_stop(d->loop);
}

/* Runs fence_netns ACTION on plug through the runner, to completion. */
static void t_fence(struct t_env *e, enum fence_action a, const char *plug, bool hook)
{
	struct fence_opt opts[2] = {{"ns_prefix", e->prefix}, {"start_cmd", e->hook}};
	struct fence_request req = {
		.agent = "fence_netns",
		.action = a,
		.target_key = plug ? "plug" : NULL,
		.target = plug,
		.opts = opts,
		.nopts = hook ? 2 : 1,
	};

	fence_policy_default(&req.policy);
	req.policy.retries = 0;
	req.policy.timeout_ms = 30000;
	req.policy.capture_max = 65535;
	t_d.calls = 0;
	assert_int_equal(fence_run(e->r, &req, t_cb, &t_d, NULL), 0);
	qb_loop_run(e->loop);
	assert_int_equal(t_d.calls, 1);
}

static void test_metadata_valid_xml(void **state)
{
	struct t_env *e = *state;
	char path[64];
	FILE *f;

	t_need_netns(e);
	t_fence(e, FENCE_ACTION_METADATA, NULL, false);
	assert_true(t_d.res.ok);
	assert_false(t_d.res.out_truncated);
	assert_non_null(strstr(t_d.out, "<resource-agent name=\"fence_netns\" shortdesc=\""));
	assert_non_null(strstr(t_d.out, "<vendor-url>"));
	assert_non_null(strstr(t_d.out, "<parameter name=\"plug\" unique=\"0\" required=\"1\""));
	assert_non_null(strstr(t_d.out, "<parameter name=\"start_cmd\""));
	assert_non_null(strstr(t_d.out, "<action name=\"off\" />"));
	assert_non_null(strstr(t_d.out, "<action name=\"metadata\" />"));
	if (t_sh("command -v xmllint >/dev/null") != 0) {
		print_message("no xmllint: well-formedness not checked\n");
		return;
	}
	snprintf(path, sizeof(path), "/tmp/test_fence_netns.%d.xml", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(t_d.out, f);
	fclose(f);
	assert_int_equal(t_sh("xmllint --noout %s", path), 0);
	unlink(path);
}

static void test_status_on(void **state)
{
	struct t_env *e = *state;

	t_need_netns(e);
	t_fence(e, FENCE_ACTION_STATUS, "node1", false);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
	assert_string_equal(t_d.out, "Status: ON\n");
}

static void test_off_kills_only_its_namespace(void **state)
{
	struct t_env *e = *state;
	int st;

	t_need_netns(e);
	t_fence(e, FENCE_ACTION_OFF, "node1", false);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
	assert_int_equal(t_d.res.runs, 2); /* off, then status said off (exit 2) */
	assert_int_equal(t_d.res.last_exit.value, 2);
	/* node1's sleep died of SIGKILL... */
	assert_int_equal(waitpid(e->in1, &st, 0), e->in1);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	e->in1 = 0;
	/* ...nothing else did. */
	assert_true(t_alive(e->in2));
	assert_true(t_alive(e->outside));
	assert_string_equal(t_sh_out("ip netns pids %s", e->ns1), "");
	/* node1's links are down, node2's are not. */
	assert_string_equal(t_sh_out("ip -n %s -o link show up | grep -c eth", e->ns1), "0\n");
	assert_string_equal(t_sh_out("ip -n %s -o link show up | grep -c eth", e->ns2), "2\n");

	t_fence(e, FENCE_ACTION_STATUS, "node1", false);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OFF);
	assert_string_equal(t_d.out, "Status: OFF\n");
	t_fence(e, FENCE_ACTION_STATUS, "node2", false);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
}

static void test_on_restarts_through_hook(void **state)
{
	struct t_env *e = *state;

	t_need_netns(e);
	t_fence(e, FENCE_ACTION_OFF, "node1", false);
	assert_true(t_d.res.ok);
	t_reap(&e->in1);
	t_fence(e, FENCE_ACTION_ON, "node1", true);
	assert_true(t_d.res.ok);
	assert_string_equal(t_d.out, "Success: Powered ON\n");
	/* The hook's daemon runs in the namespace; links are up again. */
	assert_string_not_equal(t_sh_out("ip netns pids %s", e->ns1), "");
	assert_string_equal(t_sh_out("ip -n %s -o link show up | grep -c eth", e->ns1), "2\n");
	t_fence(e, FENCE_ACTION_STATUS, "node1", false);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
}

static void test_reboot(void **state)
{
	struct t_env *e = *state;
	int st;

	t_need_netns(e);
	t_fence(e, FENCE_ACTION_REBOOT, "node1", true);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.runs, 1); /* reboot is not verified by status */
	assert_string_equal(t_d.out, "Success: Powered OFF\nSuccess: Powered ON\n");
	assert_int_equal(waitpid(e->in1, &st, 0), e->in1);
	assert_true(WIFSIGNALED(st));
	e->in1 = 0;
	assert_string_not_equal(t_sh_out("ip netns pids %s", e->ns1), "");
	assert_true(t_alive(e->in2));
	assert_true(t_alive(e->outside));
}

static void test_on_hook_failure(void **state)
{
	struct t_env *e = *state;

	t_need_netns(e);
	snprintf(e->hook, sizeof(e->hook), "/bin/false");
	t_fence(e, FENCE_ACTION_ON, "node1", true);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_FAILED);
	assert_string_equal(t_d.res.reason,
			    "agent fence_netns on exited 1: Failed: start_cmd exited 1 for node1");
}

static void test_unknown_plug_is_not_off(void **state)
{
	struct t_env *e = *state;
	char want[FENCE_REASON_MAX];

	t_need_netns(e);
	t_fence(e, FENCE_ACTION_STATUS, "node9", false);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_UNREACHABLE);
	snprintf(want, sizeof(want),
		 "agent fence_netns status: device unreachable (exit 1): Failed: namespace %snode9 "
		 "not found in /run/netns (plug node9)",
		 e->prefix);
	assert_string_equal(t_d.res.reason, want);
	t_fence(e, FENCE_ACTION_OFF, "node9", false);
	assert_false(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_FAILED);
	/* A plug that could escape the prefix is refused. */
	t_fence(e, FENCE_ACTION_OFF, "../node1", false);
	assert_int_equal(t_d.res.rc, FENCE_RC_FAILED);
	assert_true(t_alive(e->in1));
}

static void test_refuses_to_fence_itself(void **state)
{
	struct t_env *e = *state;

	t_need_netns(e);
	/* The command-line form, run from inside node1's own namespace. */
	assert_int_equal(t_sh("ip netns exec %s %s/fencing/agents/fence_netns -o off -n node1 "
			      "--ns-prefix %s 2>/dev/null",
			      e->ns1, e->cwd, e->prefix),
			 1);
	assert_true(t_alive(e->in1));
	assert_string_equal(t_sh_out("ip -n %s -o link show up | grep -c eth", e->ns1), "2\n");
}

static void test_monitor_and_list(void **state)
{
	struct t_env *e = *state;
	char want[256];

	t_need_netns(e);
	t_fence(e, FENCE_ACTION_MONITOR, NULL, false);
	assert_true(t_d.res.ok);
	assert_int_equal(t_d.res.rc, FENCE_RC_OK);
	snprintf(want, sizeof(want), "node1,%s\nnode2,%s\n", e->ns1, e->ns2);
	assert_string_equal(t_sh_out("printf 'action=list\\nns_prefix=%s\\n' | "
				     "%s/fencing/agents/fence_netns | sort",
				     e->prefix, e->cwd),
			    want);
	/* Command-line status of node2, and a bad action. */
	assert_int_equal(t_sh("%s/fencing/agents/fence_netns --action=status --plug=node2 "
			      "--ns-prefix=%s >/dev/null",
			      e->cwd, e->prefix),
			 0);
	assert_int_equal(
		t_sh("%s/fencing/agents/fence_netns -o explode -n node2 2>/dev/null", e->cwd), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_metadata_valid_xml, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_status_on, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_off_kills_only_its_namespace, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_on_restarts_through_hook, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_reboot, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_on_hook_failure, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_plug_is_not_off, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_refuses_to_fence_itself, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_monitor_and_list, t_setup, t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
