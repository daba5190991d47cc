/* SPDX-License-Identifier: MIT */
/*
 * clusterd: entry point. In this release it runs the standalone iSCSI target
 * (--standalone, or a configuration without a cluster section): one reactor
 * thread serving every portal and LUN, in the foreground, logging to stderr.
 *
 * Signals: SIGTERM and SIGINT stop cleanly (initiators are asked to log out,
 * in-flight commands complete, then the process exits 0); a second signal
 * during that shutdown forces the exit. SIGPIPE is ignored (sockets use
 * MSG_NOSIGNAL anyway).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "config-host.h"
#include "clusterd/cluster.h"
#include "clusterd/cluster_config.h"
#include "clusterd/config.h"
#include "lib/log.h"
#include "lib/reactor.h"
#include "target/iscsi/iscsi_tgt.h"

#define SHUTDOWN_GRACE_MS 3000

struct daemon {
	struct reactor *reactor;
	struct iscsi_tgt *tgt;
	int sigfd;
	struct reactor_op sig_op;
	struct signalfd_siginfo si;
	unsigned signals;
	bool stopped;
};

static void daemon_stopped(void *arg)
{
	struct daemon *d = arg;

	d->stopped = true;
	reactor_stop(d->reactor);
}

static void daemon_sig_arm(struct daemon *d);

static void daemon_sig(struct reactor_op *op, int res)
{
	struct daemon *d = container_of(op, struct daemon, sig_op);

	if (res != (int)sizeof(d->si)) {
		daemon_sig_arm(d);
		return;
	}
	d->signals++;
	if (d->signals == 1) {
		log_notice("received %s: stopping (a second signal forces the exit)",
			   strsignal((int)d->si.ssi_signo));
		iscsi_tgt_shutdown(d->tgt, SHUTDOWN_GRACE_MS, daemon_stopped, d);
	} else {
		log_warn("received %s again: exiting now", strsignal((int)d->si.ssi_signo));
		reactor_stop(d->reactor);
		return;
	}
	daemon_sig_arm(d);
}

static void daemon_sig_arm(struct daemon *d)
{
	d->sig_op.cb = daemon_sig;
	reactor_read(d->reactor, &d->sig_op, d->sigfd, &d->si, sizeof(d->si), 0, -1);
}

static int daemon_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -errno;
	daemon_sig_arm(d);
	return 0;
}

static int run_standalone(struct clusterd_opts *o)
{
	struct daemon d = {.sigfd = -1};
	char err[512] = "";
	int rc;

	if (o->tgt.reactors > 1) {
		/* The SCSI layer's LU state (reservations, unit attentions, LBA
		 * locks) is owned by one reactor thread; sharing it across threads
		 * needs message passing that is not built yet. Refuse rather than
		 * run a second thread that would not be safe. */
		fprintf(stderr,
			"clusterd: reactors = %u: this release runs exactly one reactor "
			"thread (on 2-vCPU hosts also the fastest setting); use 1\n",
			o->tgt.reactors);
		return CONFIG_EXIT_RUN;
	}

	rc = reactor_create(&d.reactor, 1024);
	if (rc) {
		fprintf(stderr, "clusterd: cannot set up io_uring: %s%s\n", strerror(-rc),
			rc == -EPERM || rc == -ENOSYS
				? " (io_uring is disabled or unsupported on this kernel; "
				  "check /proc/sys/kernel/io_uring_disabled)"
				: "");
		return CONFIG_EXIT_RUN;
	}
	rc = iscsi_tgt_create(&d.tgt, &o->tgt, d.reactor, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "clusterd: %s\n", err);
		reactor_destroy(d.reactor);
		return CONFIG_EXIT_RUN;
	}
	rc = daemon_signals(&d);
	if (rc) {
		fprintf(stderr, "clusterd: cannot set up signal handling: %s\n", strerror(-rc));
		goto out;
	}
	iscsi_tgt_start(d.tgt);
	log_notice("clusterd %s: standalone target %s ready (%u LUN%s, %u portal%s)",
		   CLUSTERD_VERSION, o->tgt.iqn, o->tgt.nluns, o->tgt.nluns == 1 ? "" : "s",
		   o->tgt.nportals, o->tgt.nportals == 1 ? "" : "s");
	rc = reactor_run(d.reactor);
	if (rc)
		log_err("reactor failed: %s", strerror(-rc));
out:
	/* The reactor goes first: it completes the ops still queued (accepts,
	 * the tick timer, the signal read) with -ECANCELED, and their owners
	 * must still exist then. */
	reactor_destroy(d.reactor);
	if (d.stopped)
		iscsi_tgt_destroy(d.tgt);
	if (d.sigfd >= 0)
		close(d.sigfd);
	log_notice("clusterd: exiting");
	return rc || !d.stopped ? CONFIG_EXIT_RUN : CONFIG_EXIT_OK;
}

/*
 * A configuration file with a [cluster] section runs this node of the cluster
 * (`clusterd -c FILE [-d]`, or `--check-config FILE` to validate it).
 * Returns -1 when the command line is not about a cluster file.
 */
static int main_cluster(int argc, char **argv)
{
	const char *file = NULL;
	bool check = false, debug = false;
	struct cluster_config *cc;
	char err[1024] = "";
	int rc;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			file = argv[++i];
		} else if (!strcmp(argv[i], "--check-config") && i + 1 < argc) {
			file = argv[++i];
			check = true;
		} else if (!strncmp(argv[i], "--config=", 9)) {
			file = argv[i] + 9;
		} else if (!strcmp(argv[i], "-d") || !strcmp(argv[i], "--debug")) {
			debug = true;
		} else {
			return -1; /* anything else: the standalone parser explains */
		}
	}
	if (!file || !config_file_is_cluster(file))
		return -1;
	cc = calloc(1, sizeof(*cc));
	if (!cc) {
		fprintf(stderr, "clusterd: out of memory\n");
		return CONFIG_EXIT_RUN;
	}
	rc = cluster_config_load(cc, file, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "clusterd: %s\n", err);
		free(cc);
		return rc == -EINVAL ? CONFIG_EXIT_USAGE : CONFIG_EXIT_RUN;
	}
	if (check) {
		printf("# %s: cluster configuration is valid; as clusterd reads it:\n", file);
		cluster_config_print(stdout, cc, false);
		free(cc);
		return CONFIG_EXIT_OK;
	}
	log_init("clusterd", true, debug || cc->debug || CLUSTERD_DEBUG_DEFAULT);
	rc = cluster_run(cc);
	log_fini();
	free(cc);
	return rc;
}

int main(int argc, char **argv)
{
	struct clusterd_opts *o;
	char err[1024] = "";
	int rc;

	rc = main_cluster(argc, argv);
	if (rc >= 0)
		return rc;
	o = calloc(1, sizeof(*o));

	if (!o) {
		fprintf(stderr, "clusterd: out of memory\n");
		return CONFIG_EXIT_RUN;
	}
	rc = config_parse_args(o, argc, argv, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "clusterd: %s\nTry 'clusterd --help'.\n", err);
		free(o);
		return CONFIG_EXIT_USAGE;
	}
	if (o->help) {
		config_print_help(stdout, "clusterd");
		free(o);
		return CONFIG_EXIT_OK;
	}
	if (o->version) {
		printf("clusterd %s\n", CLUSTERD_VERSION);
		free(o);
		return CONFIG_EXIT_OK;
	}
	rc = config_finalize(&o->tgt, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "clusterd: %s\n", err);
		free(o);
		return CONFIG_EXIT_RUN;
	}
	if (o->check_config) {
		printf("# %s: configuration is valid; as clusterd reads it:\n", o->check_config);
		config_print(stdout, &o->tgt, false);
		free(o);
		return CONFIG_EXIT_OK;
	}
	if (!o->standalone && !o->config_file) {
		fprintf(stderr, "clusterd: nothing to run: give --standalone with the target's "
				"options, or -c FILE\nTry 'clusterd --help'.\n");
		free(o);
		return CONFIG_EXIT_USAGE;
	}
	log_init("clusterd", true, o->debug || CLUSTERD_DEBUG_DEFAULT);
	rc = run_standalone(o);
	log_fini();
	free(o);
	return rc;
}
