/* SPDX-License-Identifier: MIT */
/*
 * iscsi-bench: a small fio-like load generator for one iSCSI LU, over libiscsi.
 *
 * One session, one connection, a fixed queue depth: QD commands are queued at
 * the start and each completion queues the next one, so exactly QD commands
 * are outstanding for the whole run (libiscsi may hold some of them back in
 * its own queue if the target's CmdSN window is smaller than QD). Offsets are
 * random 4 KiB-aligned (xorshift64*, seeded) or sequential, wrapping at the
 * end of the range. Every latency goes into a log2/linear histogram (64
 * linear sub-buckets per power of two, so percentiles are within 1.6 %).
 * The data buffers and the histogram are allocated once; this program does
 * no allocation per I/O (libiscsi itself allocates a task and a PDU per
 * command, and does so identically for every target measured).
 *
 * Nothing may fail silently: any status other than GOOD, any residual, a
 * lost connection or a command stuck past --timeout counts as an error, and
 * the program then exits with status 1. libiscsi's automatic reconnect is
 * switched off, so a dropped connection cannot be hidden by a re-login.
 *
 * Timeline: login, READ CAPACITY(16), then load for --ramp seconds (not
 * counted), then --time seconds measured, then the outstanding commands are
 * drained (not counted) and the session logs out. Client CPU (getrusage),
 * target CPU (/proc/PID/stat, all threads, with --target-pid) and busy CPU of
 * the whole machine (/proc/stat) are sampled at the edges of the measured
 * window only.
 *
 * This is a standalone program (the Makefile links it with libclusterd.a):
 * everything except main() is static and prefixed ib_.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define IB_ALIGN	     4096u /* offset alignment of random I/O and buffer alignment */
#define IB_MAX_BS	     (16u << 20)
#define IB_MAX_QD	     1024u
#define IB_SUB_BITS	     6
#define IB_SUB		     (1u << IB_SUB_BITS)
#define IB_NBUCKETS	     (64u * IB_SUB)
#define IB_MAX_REPORTED_ERRS 5
#define IB_KEYS_MAX	     2048
#define IB_POLL_MS	     100
#define IB_DEFAULT_INITIATOR "iqn.2024-01.test.clusterd:iscsi-bench"

enum ib_rw {
	IB_RANDREAD,
	IB_RANDWRITE,
	IB_READ,
	IB_WRITE,
};

static const char *const ib_rw_names[] = {
	[IB_RANDREAD] = "randread",
	[IB_RANDWRITE] = "randwrite",
	[IB_READ] = "read",
	[IB_WRITE] = "write",
};

struct ib_opts {
	const char *url;
	enum ib_rw rw;
	uint32_t bs;
	unsigned qd;
	double time_s;
	double ramp_s;
	uint64_t range; /* 0: the whole LU */
	bool fua;
	const char *initiator;
	bool csv;
	bool keys_only;
	uint64_t seed;
	pid_t target_pid; /* 0: do not sample target CPU */
	unsigned timeout_s;
};

/* Latency histogram, in nanoseconds. */
struct ib_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t bucket[IB_NBUCKETS];
};

/* CPU counters sampled at the edges of the measured window. */
struct ib_cpu {
	double client_user_s;
	double client_sys_s;
	double target_s;   /* utime + stime of --target-pid, all threads */
	double sys_busy_s; /* whole machine: all CPU time that is not idle or iowait */
	bool target_ok;
};

enum ib_phase {
	IB_PHASE_RAMP,
	IB_PHASE_MEASURE,
	IB_PHASE_DRAIN,
};

struct ib_run;

struct ib_slot {
	struct ib_run *run;
	unsigned char *buf;
	/* libiscsi keeps a pointer to the iovec until completion, so it lives here */
	struct scsi_iovec iov;
	uint64_t lba;
	uint64_t t_submit_ns;
};

struct ib_run {
	const struct ib_opts *o;
	struct iscsi_context *iscsi;
	int lun;
	uint32_t block_size;
	uint64_t lu_bytes;
	uint64_t range;
	uint64_t rng;
	uint64_t seq_next;
	enum ib_phase phase;
	uint64_t t_ramp_end_ns;
	uint64_t t_end_ns;
	uint64_t t_win_start_ns;
	uint64_t t_win_end_ns;
	unsigned inflight;
	uint64_t errors;
	uint64_t ios_total;
	bool fatal;
	struct ib_cpu cpu_start;
	struct ib_cpu cpu_end;
	struct ib_hist hist;
	struct ib_slot *slots;
	unsigned char *bufs;
};

static volatile sig_atomic_t ib_interrupted;
static char ib_keys[IB_KEYS_MAX];
static size_t ib_keys_len;
static bool ib_capture_keys;
static unsigned ib_lib_msgs;

static uint64_t ib_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64* (Vigna): fast, and good enough to pick offsets. */
static uint64_t ib_rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Bucket index: exact below 64 ns, then 64 linear sub-buckets per power of two. */
static unsigned ib_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < IB_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - IB_SUB_BITS;
	return (shift + 1) * IB_SUB + (unsigned)((v >> shift) & (IB_SUB - 1));
}

/* Middle of a bucket: the value reported for every sample that fell into it. */
static double ib_hist_value(unsigned idx)
{
	unsigned group = idx / IB_SUB, sub = idx % IB_SUB, shift;
	uint64_t low;

	if (group == 0)
		return idx;
	shift = group - 1;
	low = (uint64_t)(IB_SUB + sub) << shift;
	return (double)low + (double)((1ull << shift) - 1) / 2.0;
}

static void ib_hist_add(struct ib_hist *h, uint64_t ns)
{
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->bucket[ib_hist_index(ns)]++;
}

/* Value (ns) at quantile q in [0,1]: the smallest bucket holding ceil(q * n) samples. */
static double ib_hist_quantile(const struct ib_hist *h, double q)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (h->count == 0)
		return 0.0;
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank == 0)
		rank = 1;
	for (i = 0; i < IB_NBUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return ib_hist_value(i);
	}
	return (double)h->max_ns;
}

/* Parses "4096", "4k", "1M", "1G" (binary multiples). Returns 0 or -EINVAL. */
static int ib_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0)
		return -EINVAL;
	if (shift && v > (ULLONG_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int ib_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= 0.0) || v > 1e6)
		return -EINVAL;
	*out = v;
	return 0;
}

static void ib_usage(FILE *f)
{
	fprintf(f,
		"usage: iscsi-bench [options] iscsi://HOST[:PORT]/TARGET-IQN/LUN\n"
		"  --rw randread|randwrite|read|write   pattern (default randread)\n"
		"  --bs BYTES          transfer size, suffixes k/M (default 4k)\n"
		"  --qd N              commands in flight (default 1, max %u)\n"
		"  --time SECONDS      measured time (default 10)\n"
		"  --ramp SECONDS      load before measuring, not counted (default 2)\n"
		"  --range BYTES       use only the first BYTES of the LU (default: all,\n"
		"                      from READ CAPACITY(16))\n"
		"  --fua               set FUA in every READ(16)/WRITE(16)\n"
		"  --initiator-name IQN  (default " IB_DEFAULT_INITIATOR ")\n"
		"  --seed N            random offsets seed (default 1)\n"
		"  --target-pid PID    also report that process's CPU (all threads)\n"
		"  --timeout SECONDS   a command outstanding this long is an error (default 30)\n"
		"  --csv               print a CSV header line and one CSV result line\n"
		"  --keys-only         log in, print the target's login reply keys, log out\n"
		"Exit status: 0 only if every command completed with GOOD status.\n",
		IB_MAX_QD);
}

enum {
	IB_OPT_RW = 256,
	IB_OPT_BS,
	IB_OPT_QD,
	IB_OPT_TIME,
	IB_OPT_RAMP,
	IB_OPT_RANGE,
	IB_OPT_FUA,
	IB_OPT_INIT,
	IB_OPT_CSV,
	IB_OPT_SEED,
	IB_OPT_PID,
	IB_OPT_TIMEOUT,
	IB_OPT_KEYS,
	IB_OPT_HELP,
};

static const struct option ib_longopts[] = {
	{"rw", required_argument, NULL, IB_OPT_RW},
	{"bs", required_argument, NULL, IB_OPT_BS},
	{"qd", required_argument, NULL, IB_OPT_QD},
	{"time", required_argument, NULL, IB_OPT_TIME},
	{"ramp", required_argument, NULL, IB_OPT_RAMP},
	{"range", required_argument, NULL, IB_OPT_RANGE},
	{"fua", no_argument, NULL, IB_OPT_FUA},
	{"initiator-name", required_argument, NULL, IB_OPT_INIT},
	{"csv", no_argument, NULL, IB_OPT_CSV},
	{"seed", required_argument, NULL, IB_OPT_SEED},
	{"target-pid", required_argument, NULL, IB_OPT_PID},
	{"timeout", required_argument, NULL, IB_OPT_TIMEOUT},
	{"keys-only", no_argument, NULL, IB_OPT_KEYS},
	{"help", no_argument, NULL, IB_OPT_HELP},
	{NULL, 0, NULL, 0},
};

static int ib_parse_rw(const char *s, enum ib_rw *rw)
{
	unsigned i;

	for (i = 0; i < sizeof(ib_rw_names) / sizeof(ib_rw_names[0]); i++) {
		if (strcmp(s, ib_rw_names[i]) == 0) {
			*rw = (enum ib_rw)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int ib_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* One option into *o. Returns 0, or -EINVAL after printing why. */
static int ib_opt_apply(struct ib_opts *o, int c, const char *arg)
{
	uint64_t v = 0;
	int rc = 0;

	switch (c) {
	case IB_OPT_RW:
		rc = ib_parse_rw(arg, &o->rw);
		break;
	case IB_OPT_BS:
		rc = ib_parse_size(arg, &v);
		if (!rc && (v == 0 || v > IB_MAX_BS))
			rc = -EINVAL;
		o->bs = (uint32_t)v;
		break;
	case IB_OPT_QD:
		rc = ib_parse_uint(arg, IB_MAX_QD, &v);
		if (!rc && v == 0)
			rc = -EINVAL;
		o->qd = (unsigned)v;
		break;
	case IB_OPT_TIME:
		rc = ib_parse_seconds(arg, &o->time_s);
		if (!rc && o->time_s <= 0.0)
			rc = -EINVAL;
		break;
	case IB_OPT_RAMP:
		rc = ib_parse_seconds(arg, &o->ramp_s);
		break;
	case IB_OPT_RANGE:
		rc = ib_parse_size(arg, &o->range);
		break;
	case IB_OPT_FUA:
		o->fua = true;
		break;
	case IB_OPT_INIT:
		o->initiator = arg;
		break;
	case IB_OPT_CSV:
		o->csv = true;
		break;
	case IB_OPT_SEED:
		rc = ib_parse_uint(arg, UINT64_MAX, &o->seed);
		break;
	case IB_OPT_PID:
		rc = ib_parse_uint(arg, INT_MAX, &v);
		o->target_pid = (pid_t)v;
		break;
	case IB_OPT_TIMEOUT:
		rc = ib_parse_uint(arg, 3600, &v);
		o->timeout_s = (unsigned)v;
		break;
	case IB_OPT_KEYS:
		o->keys_only = true;
		break;
	default:
		rc = -EINVAL;
	}
	if (rc)
		fprintf(stderr, "iscsi-bench: bad value '%s'\n", arg ? arg : "");
	return rc;
}

/* Returns 0, 1 for --help, or -EINVAL. */
static int ib_opts_parse(int argc, char **argv, struct ib_opts *o)
{
	int c;

	*o = (struct ib_opts){
		.rw = IB_RANDREAD,
		.bs = 4096,
		.qd = 1,
		.time_s = 10.0,
		.ramp_s = 2.0,
		.initiator = IB_DEFAULT_INITIATOR,
		.seed = 1,
		.timeout_s = 30,
	};
	while ((c = getopt_long(argc, argv, "h", ib_longopts, NULL)) != -1) {
		if (c == 'h' || c == IB_OPT_HELP) {
			ib_usage(stdout);
			return 1;
		}
		if (c == '?' || ib_opt_apply(o, c, optarg)) {
			ib_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		ib_usage(stderr);
		return -EINVAL;
	}
	o->url = argv[optind];
	if (o->seed == 0)
		o->seed = 1; /* xorshift must not start at 0 */
	return 0;
}

/*
 * libiscsi log sink. During login (level 6) it keeps the target's reply keys;
 * afterwards only errors (level 1) reach it, and the first few are shown.
 */
static void ib_log(int level, const char *msg)
{
	static const char tag[] = "TargetLoginReply: ";
	const char *p = strstr(msg, tag);
	size_t n;

	if (ib_capture_keys) {
		/* Login chatter (e.g. the UA that full_connect clears) is not an I/O error. */
		if (!p)
			return;
		p += sizeof(tag) - 1;
		n = strcspn(p, " [");
		if (ib_keys_len + n + 2 < sizeof(ib_keys)) {
			memcpy(ib_keys + ib_keys_len, p, n);
			ib_keys_len += n;
			ib_keys[ib_keys_len++] = ' ';
			ib_keys[ib_keys_len] = '\0';
		}
		return;
	}
	if (level <= 1 && ib_lib_msgs++ < IB_MAX_REPORTED_ERRS)
		fprintf(stderr, "libiscsi: %s\n", msg);
}

static int ib_read_target_cpu(pid_t pid, double *out)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may contain spaces and ')': fields resume after the last ')'. */
	p = strrchr(buf, ')');
	/* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime(14) stime(15) */
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EINVAL;
	*out = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/*
 * Busy CPU-seconds of the whole machine since boot: CPUs x uptime minus idle and
 * iowait. The idle figures are exact (NO_HZ bookkeeping) while user/system in
 * /proc/stat are tick samples, which undercount short bursts, so busy time is
 * derived from idle time.
 */
static int ib_read_sys_busy(double *out)
{
	unsigned long long v[5] = {0};
	struct timespec ts;
	double hz = (double)sysconf(_SC_CLK_TCK);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]);
	fclose(f);
	if (n < 5 || ncpu < 1)
		return -EINVAL;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	*out = (double)ncpu * ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9) -
	       (double)(v[3] + v[4]) / hz;
	return 0;
}

static void ib_cpu_sample(const struct ib_opts *o, struct ib_cpu *c)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	c->client_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	c->client_sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	c->target_ok = o->target_pid > 0 && ib_read_target_cpu(o->target_pid, &c->target_s) == 0;
	if (ib_read_sys_busy(&c->sys_busy_s))
		c->sys_busy_s = NAN;
}

static bool ib_is_read(enum ib_rw rw)
{
	return rw == IB_RANDREAD || rw == IB_READ;
}

static uint64_t ib_next_offset(struct ib_run *r)
{
	uint64_t off, npos;

	if (r->o->rw == IB_RANDREAD || r->o->rw == IB_RANDWRITE) {
		npos = (r->range - r->o->bs) / IB_ALIGN + 1;
		return (ib_rng_next(&r->rng) % npos) * IB_ALIGN;
	}
	if (r->seq_next + r->o->bs > r->range)
		r->seq_next = 0;
	off = r->seq_next;
	r->seq_next += r->o->bs;
	return off;
}

static void ib_complete(struct iscsi_context *iscsi, int status, void *data, void *priv);

/* Queues one command on slot s. Returns 0 or -EIO (libiscsi refused it). */
static int ib_submit(struct ib_run *r, struct ib_slot *s)
{
	struct scsi_task *t;
	int fua = r->o->fua ? 1 : 0;

	s->iov.iov_base = s->buf;
	s->iov.iov_len = r->o->bs;
	s->lba = ib_next_offset(r) / r->block_size;
	s->t_submit_ns = ib_now_ns();
	/* SBC-3 5.8 READ(16), 5.40 WRITE(16) */
	if (ib_is_read(r->o->rw))
		t = iscsi_read16_iov_task(r->iscsi, r->lun, s->lba, r->o->bs, (int)r->block_size, 0,
					  0, fua, 0, 0, ib_complete, s, &s->iov, 1);
	else
		t = iscsi_write16_iov_task(r->iscsi, r->lun, s->lba, NULL, r->o->bs,
					   (int)r->block_size, 0, 0, fua, 0, 0, ib_complete, s,
					   &s->iov, 1);
	if (!t) {
		fprintf(stderr, "iscsi-bench: cannot queue command: %s\n",
			iscsi_get_error(r->iscsi));
		r->errors++;
		r->fatal = true;
		return -EIO;
	}
	r->inflight++;
	return 0;
}

static void ib_phase_update(struct ib_run *r, uint64_t now)
{
	if (r->phase == IB_PHASE_RAMP && now >= r->t_ramp_end_ns) {
		r->phase = IB_PHASE_MEASURE;
		r->t_win_start_ns = now;
		ib_cpu_sample(r->o, &r->cpu_start);
	}
	if (r->phase == IB_PHASE_MEASURE && (now >= r->t_end_ns || ib_interrupted || r->fatal)) {
		r->phase = IB_PHASE_DRAIN;
		r->t_win_end_ns = now;
		ib_cpu_sample(r->o, &r->cpu_end);
	}
	if (r->phase == IB_PHASE_RAMP && (ib_interrupted || r->fatal))
		r->phase = IB_PHASE_DRAIN;
}

static const char *ib_status_str(int status)
{
	switch (status) {
	case SCSI_STATUS_BUSY:
		return "BUSY";
	case SCSI_STATUS_RESERVATION_CONFLICT:
		return "RESERVATION CONFLICT";
	case SCSI_STATUS_TASK_SET_FULL:
		return "TASK SET FULL";
	case SCSI_STATUS_TASK_ABORTED:
		return "TASK ABORTED";
	case SCSI_STATUS_CANCELLED:
		return "cancelled by libiscsi: connection lost";
	case SCSI_STATUS_ERROR:
		return "libiscsi transport error";
	case SCSI_STATUS_TIMEOUT:
		return "no response within --timeout";
	default:
		return "unexpected status";
	}
}

static void ib_report_error(struct ib_run *r, struct ib_slot *s, int status, struct scsi_task *t)
{
	if (r->errors > IB_MAX_REPORTED_ERRS)
		return;
	if (status == SCSI_STATUS_CHECK_CONDITION && t)
		fprintf(stderr,
			"iscsi-bench: %s lba=%" PRIu64
			": CHECK CONDITION %s (0x%x) ASC/ASCQ 0x%04x %s\n",
			ib_is_read(r->o->rw) ? "READ(16)" : "WRITE(16)", s->lba,
			scsi_sense_key_str(t->sense.key), (unsigned)t->sense.key,
			(unsigned)t->sense.ascq, scsi_sense_ascq_str(t->sense.ascq));
	else if (status == SCSI_STATUS_GOOD && t)
		fprintf(stderr, "iscsi-bench: lba=%" PRIu64 ": residual %s of %zu bytes\n", s->lba,
			t->residual_status == SCSI_RESIDUAL_UNDERFLOW ? "underflow" : "overflow",
			t->residual);
	else
		fprintf(stderr, "iscsi-bench: lba=%" PRIu64 ": status 0x%x (%s)\n", s->lba,
			(unsigned)status, ib_status_str(status));
}

/* libiscsi completion callback: runs inside iscsi_service(), once per command. */
static void ib_complete(struct iscsi_context *iscsi, int status, void *data, void *priv)
{
	struct ib_slot *s = priv;
	struct ib_run *r = s->run;
	struct scsi_task *t = data;
	uint64_t now = ib_now_ns();
	bool ok =
		status == SCSI_STATUS_GOOD && t && t->residual_status == SCSI_RESIDUAL_NO_RESIDUAL;

	(void)iscsi;
	r->inflight--;
	r->ios_total++;
	if (!ok) {
		r->errors++;
		ib_report_error(r, s, status, t);
		if (status == SCSI_STATUS_ERROR || status == SCSI_STATUS_CANCELLED ||
		    status == SCSI_STATUS_TIMEOUT)
			r->fatal = true;
	}
	if (t)
		scsi_free_scsi_task(t);
	ib_phase_update(r, now);
	if (ok && r->phase == IB_PHASE_MEASURE)
		ib_hist_add(&r->hist, now - s->t_submit_ns);
	if (r->phase != IB_PHASE_DRAIN)
		ib_submit(r, s);
}

static int ib_connect(struct ib_run *r)
{
	const struct ib_opts *o = r->o;
	struct iscsi_url *url;
	int rc = -EIO;

	r->iscsi = iscsi_create_context(o->initiator);
	if (!r->iscsi) {
		fprintf(stderr, "iscsi-bench: iscsi_create_context failed\n");
		return -ENOMEM;
	}
	iscsi_set_log_fn(r->iscsi, ib_log);
	ib_capture_keys = true;
	iscsi_set_log_level(r->iscsi, 6);
	url = iscsi_parse_full_url(r->iscsi, o->url);
	if (!url) {
		fprintf(stderr, "iscsi-bench: bad URL %s: %s\n", o->url, iscsi_get_error(r->iscsi));
		return -EINVAL;
	}
	iscsi_set_targetname(r->iscsi, url->target);
	iscsi_set_session_type(r->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(r->iscsi, ISCSI_HEADER_DIGEST_NONE);
	/* A reconnect would re-queue commands behind our back: make it an error. */
	iscsi_set_noautoreconnect(r->iscsi, 1);
	r->lun = url->lun;
	if (iscsi_full_connect_sync(r->iscsi, url->portal, url->lun) != 0)
		fprintf(stderr, "iscsi-bench: login to %s failed: %s\n", o->url,
			iscsi_get_error(r->iscsi));
	else
		rc = 0;
	ib_capture_keys = false;
	iscsi_set_log_level(r->iscsi, 1);
	iscsi_destroy_url(url);
	return rc;
}

/* SBC-3 5.16 READ CAPACITY(16), retried past unit attentions. */
static int ib_read_capacity(struct ib_run *r)
{
	struct scsi_readcapacity16 *rc16;
	struct scsi_task *t = NULL;
	int tries;

	for (tries = 0; tries < 5; tries++) {
		if (t)
			scsi_free_scsi_task(t);
		t = iscsi_readcapacity16_sync(r->iscsi, r->lun);
		if (!t)
			break;
		if (t->status == SCSI_STATUS_GOOD)
			break;
		if (t->status != SCSI_STATUS_CHECK_CONDITION ||
		    t->sense.key != SCSI_SENSE_UNIT_ATTENTION)
			break;
	}
	if (!t || t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "iscsi-bench: READ CAPACITY(16) failed: %s\n",
			iscsi_get_error(r->iscsi));
		if (t)
			scsi_free_scsi_task(t);
		return -EIO;
	}
	rc16 = scsi_datain_unmarshall(t);
	if (!rc16 || rc16->block_length == 0) {
		fprintf(stderr, "iscsi-bench: cannot decode READ CAPACITY(16) data\n");
		scsi_free_scsi_task(t);
		return -EIO;
	}
	r->block_size = rc16->block_length;
	r->lu_bytes = (rc16->returned_lba + 1) * (uint64_t)rc16->block_length;
	scsi_free_scsi_task(t);
	return 0;
}

/* Checks the options against the LU. Returns 0 or -EINVAL after printing why. */
static int ib_check_geometry(struct ib_run *r)
{
	const struct ib_opts *o = r->o;

	r->range = o->range ? o->range : r->lu_bytes;
	r->range -= r->range % IB_ALIGN;
	if (r->range > r->lu_bytes) {
		fprintf(stderr, "iscsi-bench: --range %" PRIu64 " exceeds the LU (%" PRIu64 ")\n",
			r->range, r->lu_bytes);
		return -EINVAL;
	}
	if (o->bs % r->block_size) {
		fprintf(stderr, "iscsi-bench: --bs %u is not a multiple of the block size %u\n",
			o->bs, r->block_size);
		return -EINVAL;
	}
	if (o->bs > r->range) {
		fprintf(stderr, "iscsi-bench: --bs %u exceeds the range %" PRIu64 "\n", o->bs,
			r->range);
		return -EINVAL;
	}
	return 0;
}

static int ib_alloc(struct ib_run *r)
{
	size_t total = (size_t)r->o->qd * r->o->bs;
	uint64_t fill = r->o->seed ^ 0x9E3779B97F4A7C15ull;
	size_t i;

	if (posix_memalign((void **)&r->bufs, IB_ALIGN, total))
		return -ENOMEM;
	r->slots = calloc(r->o->qd, sizeof(*r->slots));
	if (!r->slots)
		return -ENOMEM;
	/* Incompressible, non-zero data, so no layer can shortcut zero blocks. */
	for (i = 0; i + 8 <= total; i += 8) {
		uint64_t v = ib_rng_next(&fill);

		memcpy(r->bufs + i, &v, 8);
	}
	for (i = 0; i < r->o->qd; i++) {
		r->slots[i].run = r;
		r->slots[i].buf = r->bufs + i * r->o->bs;
	}
	return 0;
}

static void ib_on_signal(int sig)
{
	(void)sig;
	ib_interrupted = 1;
}

/* Polls and services the session until every command has completed. */
static int ib_loop(struct ib_run *r)
{
	uint64_t drain_deadline = 0, now;
	struct pollfd pfd;
	int n;

	for (;;) {
		now = ib_now_ns();
		ib_phase_update(r, now);
		if (r->phase == IB_PHASE_DRAIN) {
			if (r->inflight == 0)
				return 0;
			if (!drain_deadline)
				drain_deadline = now + (uint64_t)r->o->timeout_s * 1000000000ull;
			if (now > drain_deadline || r->fatal) {
				fprintf(stderr, "iscsi-bench: %u commands never completed\n",
					r->inflight);
				r->errors += r->inflight;
				return -ETIMEDOUT;
			}
		}
		pfd.fd = iscsi_get_fd(r->iscsi);
		pfd.events = (short)iscsi_which_events(r->iscsi);
		pfd.revents = 0;
		n = poll(&pfd, 1, IB_POLL_MS);
		if (n < 0 && errno != EINTR) {
			perror("iscsi-bench: poll");
			return -errno;
		}
		/* revents 0 still lets libiscsi run its command timeouts. */
		if (iscsi_service(r->iscsi, n > 0 ? pfd.revents : 0) < 0) {
			fprintf(stderr, "iscsi-bench: connection failed: %s\n",
				iscsi_get_error(r->iscsi));
			r->errors += r->inflight ? r->inflight : 1;
			return -EIO;
		}
	}
}

static int ib_run_load(struct ib_run *r)
{
	uint64_t t0;
	unsigned i;

	iscsi_set_timeout(r->iscsi, (int)r->o->timeout_s);
	t0 = ib_now_ns();
	r->t_ramp_end_ns = t0 + (uint64_t)(r->o->ramp_s * 1e9);
	r->t_end_ns = r->t_ramp_end_ns + (uint64_t)(r->o->time_s * 1e9);
	r->phase = IB_PHASE_RAMP;
	ib_phase_update(r, t0);
	for (i = 0; i < r->o->qd; i++) {
		if (ib_submit(r, &r->slots[i]))
			break;
	}
	return ib_loop(r);
}

struct ib_result {
	double win_s, iops, mibps;
	double mean_us, p50_us, p99_us, p999_us, max_us;
	double cu_s, cs_s, tgt_s, sys_s;
};

static void ib_result_compute(const struct ib_run *r, struct ib_result *x)
{
	const struct ib_hist *h = &r->hist;

	*x = (struct ib_result){0};
	x->win_s = (double)(r->t_win_end_ns - r->t_win_start_ns) / 1e9;
	if (x->win_s > 0) {
		x->iops = (double)h->count / x->win_s;
		x->mibps = x->iops * r->o->bs / 1048576.0;
	}
	if (h->count) {
		x->mean_us = (double)h->sum_ns / (double)h->count / 1e3;
		x->p50_us = ib_hist_quantile(h, 0.50) / 1e3;
		x->p99_us = ib_hist_quantile(h, 0.99) / 1e3;
		x->p999_us = ib_hist_quantile(h, 0.999) / 1e3;
		x->max_us = (double)h->max_ns / 1e3;
	}
	x->cu_s = r->cpu_end.client_user_s - r->cpu_start.client_user_s;
	x->cs_s = r->cpu_end.client_sys_s - r->cpu_start.client_sys_s;
	x->tgt_s = (r->cpu_start.target_ok && r->cpu_end.target_ok)
			   ? r->cpu_end.target_s - r->cpu_start.target_s
			   : NAN;
	x->sys_s = r->cpu_end.sys_busy_s - r->cpu_start.sys_busy_s;
}

static void ib_print_csv(const struct ib_run *r, const struct ib_result *x)
{
	const struct ib_opts *o = r->o;

	printf("rw,bs,qd,fua,range,window_s,ios,errors,iops,mib_s,lat_mean_us,lat_p50_us,"
	       "lat_p99_us,lat_p999_us,lat_max_us,client_user_s,client_sys_s,target_cpu_s,"
	       "sys_busy_cpu_s\n");
	printf("%s,%u,%u,%d,%" PRIu64 ",%.3f,%" PRIu64 ",%" PRIu64
	       ",%.1f,%.2f,%.1f,%.1f,%.1f,%.1f,%.1f,%.3f,%.3f,%.3f,%.3f\n",
	       ib_rw_names[o->rw], o->bs, o->qd, o->fua ? 1 : 0, r->range, x->win_s, r->hist.count,
	       r->errors, x->iops, x->mibps, x->mean_us, x->p50_us, x->p99_us, x->p999_us,
	       x->max_us, x->cu_s, x->cs_s, x->tgt_s, x->sys_s);
}

static void ib_print_human(const struct ib_run *r, const struct ib_result *x)
{
	const struct ib_opts *o = r->o;
	double other;

	printf("url:     %s\n", o->url);
	printf("keys:    %s\n", ib_keys);
	printf("lu:      %" PRIu64 " bytes, block %u; range %" PRIu64 " bytes\n", r->lu_bytes,
	       r->block_size, r->range);
	printf("job:     %s bs=%u qd=%u fua=%d time=%.1fs ramp=%.1fs seed=%" PRIu64 "\n",
	       ib_rw_names[o->rw], o->bs, o->qd, o->fua ? 1 : 0, o->time_s, o->ramp_s, o->seed);
	printf("ios:     %" PRIu64 " in %.3f s, errors %" PRIu64 "\n", r->hist.count, x->win_s,
	       r->errors);
	printf("rate:    %.1f IOPS, %.2f MiB/s\n", x->iops, x->mibps);
	printf("lat us:  mean %.1f  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", x->mean_us,
	       x->p50_us, x->p99_us, x->p999_us, x->max_us);
	printf("client:  user %.3f s  sys %.3f s  (%.2f CPUs)\n", x->cu_s, x->cs_s,
	       x->win_s > 0 ? (x->cu_s + x->cs_s) / x->win_s : 0.0);
	if (!isnan(x->tgt_s) && x->win_s > 0)
		printf("target:  %.3f CPU-s (%.2f CPUs), %.1f us CPU per I/O\n", x->tgt_s,
		       x->tgt_s / x->win_s,
		       r->hist.count ? x->tgt_s * 1e6 / (double)r->hist.count : 0.0);
	if (x->win_s > 0) {
		other = x->sys_s - x->cu_s - x->cs_s - (isnan(x->tgt_s) ? 0.0 : x->tgt_s);
		printf("machine: %.2f CPUs busy, %.2f of them neither this client%s\n",
		       x->sys_s / x->win_s, other / x->win_s,
		       isnan(x->tgt_s) ? "" : " nor the target");
	}
}

static void ib_release(struct ib_run *r)
{
	if (r->iscsi) {
		if (iscsi_is_logged_in(r->iscsi))
			iscsi_logout_sync(r->iscsi);
		iscsi_destroy_context(r->iscsi);
	}
	free(r->slots);
	free(r->bufs);
}

int main(int argc, char **argv)
{
	struct ib_opts o;
	struct ib_run r = {0};
	struct ib_result x;
	int rc;

	rc = ib_opts_parse(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 2;
	signal(SIGINT, ib_on_signal);
	signal(SIGTERM, ib_on_signal);
	signal(SIGPIPE, SIG_IGN);
	r.o = &o;
	r.rng = o.seed;
	if (ib_connect(&r) || ib_read_capacity(&r))
		goto fail;
	if (o.keys_only) {
		printf("%s\n", ib_keys);
		ib_release(&r);
		return 0;
	}
	if (ib_check_geometry(&r) || ib_alloc(&r))
		goto fail;
	rc = ib_run_load(&r);
	if (r.t_win_end_ns == 0) {
		fprintf(stderr, "iscsi-bench: the run ended before the measured window\n");
		r.errors += r.errors ? 0 : 1;
	}
	ib_result_compute(&r, &x);
	if (o.csv)
		ib_print_csv(&r, &x);
	else
		ib_print_human(&r, &x);
	ib_release(&r);
	if (rc || r.errors) {
		fprintf(stderr, "iscsi-bench: FAILED (%" PRIu64 " errors)\n", r.errors);
		return 1;
	}
	return ib_interrupted ? 130 : 0;

fail:
	ib_release(&r);
	return 1;
}
