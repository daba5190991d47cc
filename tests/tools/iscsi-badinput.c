/* SPDX-License-Identifier: MIT */
/*
 * iscsi-badinput: hostile input against clusterd's iSCSI target, judged against
 * RFC 7143, while a healthy session keeps writing and verifying data.
 *
 * The tool speaks raw iSCSI over TCP with its own small initiator (login with
 * AuthMethod None or CHAP, SCSI commands with immediate, unsolicited and
 * solicited data, CRC32C digests), so it can send what no real initiator
 * would. It judges the answers with its own code, never with the target's
 * parser.
 *
 * Every case prints one line, "PASS|FAIL|SKIP name: expected ...; got ...",
 * and the run ends with "N passed, N failed". A case also fails when, while
 * it ran, the healthy session saw an error, a stall over 2 s or a data
 * mismatch, or when the target process died.
 *
 * Usage: iscsi-badinput --portal HOST:PORT --iqn IQN [--pid PID] [--log FILE]
 *        [--chap-portal HOST:PORT --chap-iqn IQN --chap-user U --chap-secret S
 *         --max-sessions N] [--denied IQN] [--login-timeout-ms MS]
 *        [--cycles N] [--only NAME[,NAME...]] [-v]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "lib/byteorder.h"
#include "lib/crc32c.h"
#include "lib/md5.h"
#include "target/iscsi/pdu.h"

#define OUR_MRDSL      262144u /* MaxRecvDataSegmentLength we declare */
#define RX_DATA_MAX    (OUR_MRDSL + 8)
#define STALL_MS       2000   /* the healthy session's limit per command */
#define HEALTHY_BLOCKS 8192u  /* LBAs [0, 8192) belong to the healthy session */
#define ATTACK_LBA     16384u /* attack sessions write from here on */
#define QUIET_MS       400    /* how long "no answer" is watched for */
#define LOGIN_CSG(s)   ((uint8_t)((s) << 2))
#define LOGIN_T	       ISCSI_LOGIN_F_TRANSIT
#define LOGIN_C	       ISCSI_LOGIN_F_CONTINUE
#define SK_ABORTED     0x0b
#define SK_UNIT_ATTN   0x06
#define ST_CHECK_COND  0x02
#define ST_GOOD	       0x00

enum { PASS, FAIL, SKIP };
enum { RX_OK = 1, RX_TIMEOUT = 0, RX_CLOSED = -1, RX_BAD = -2 };
enum { BAD_HDIG = 1, BAD_DDIG = 2 };

/* ---- options ---- */

struct opts {
	char host[64];
	uint16_t port;
	const char *iqn;
	char chap_host[64];
	uint16_t chap_port;
	const char *chap_iqn, *chap_user, *chap_secret;
	unsigned max_sessions;
	const char *initiator, *healthy_name, *denied;
	unsigned login_timeout_ms;
	pid_t pid;
	const char *log;
	unsigned cycles;
	const char *only;
	bool verbose;
};

static struct opts g_o = {
	.initiator = "iqn.2026-01.org.clusterd.test:badinput",
	.healthy_name = "iqn.2026-01.org.clusterd.test:healthy",
	.denied = "iqn.2026-01.org.clusterd.test:intruder",
	.cycles = 1000,
};

static atomic_uint g_block_size;
static const char *volatile g_case = "startup";

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int ms_left(uint64_t deadline)
{
	uint64_t now = now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* xorshift64*: reproducible garbage and patterns. */
static uint32_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 2685821657736338717ull) >> 32);
}

static void rng_fill(uint64_t *s, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rng_next(s);
}

struct res {
	char got[4096];
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void rappend(struct res *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->len >= sizeof(r->got) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->got + r->len, sizeof(r->got) - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len = MIN(r->len + (size_t)n, sizeof(r->got) - 1);
}

/* ---- the target process ---- */

static bool target_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	if (!pid)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Open descriptors of the target, or -1 when unknown. */
static int target_fds(void)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (!g_o.pid)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)g_o.pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Waits up to ms for the target's descriptor count to fall to at most want. */
static int target_fds_settle(int want, unsigned ms)
{
	uint64_t dl = now_ms() + ms;
	int n;

	for (;;) {
		n = target_fds();
		if (n <= want || now_ms() >= dl)
			return n;
		sleep_ms(50);
	}
}

/* Lines in the target's log after byte offset from (and the end offset). */
static long log_lines(long from, long *end)
{
	FILE *f;
	long n = 0;
	int ch;

	if (!g_o.log)
		return -1;
	f = fopen(g_o.log, "r");
	if (!f)
		return -1;
	if (fseek(f, from, SEEK_SET) == 0)
		while ((ch = fgetc(f)) != EOF)
			n += ch == '\n';
	if (end)
		*end = ftell(f);
	fclose(f);
	return n;
}

static long log_count(const char *needle)
{
	char line[4096];
	FILE *f;
	long n = 0;

	if (!g_o.log)
		return -1;
	f = fopen(g_o.log, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* ---- one raw iSCSI connection ---- */

struct pdu {
	uint8_t bhs[ISCSI_BHS_LEN];
	uint8_t ahs[255 * 4];
	uint32_t ahs_len;
	uint8_t *data;
	uint32_t dlen;
};

struct conn {
	int fd;
	bool hd, dd; /* digests in force (after login) */
	uint32_t itt;
	uint32_t cmdsn; /* next CmdSN we use */
	uint32_t exp_statsn;
	uint32_t exp_cmdsn; /* as last reported by the target */
	uint32_t max_cmdsn;
	uint32_t xmit_dsl; /* the target's MaxRecvDataSegmentLength */
	uint32_t first_burst, max_burst;
	bool immediate_data, initial_r2t;
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t target_pings;
	struct pdu rx;
	char why[512];
};

static atomic_uint g_isid_seq;

static int conn_open(struct conn *c, const char *host, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	unsigned seq = atomic_fetch_add(&g_isid_seq, 1) + 1;
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->rx.data = malloc(RX_DATA_MAX);
	if (!c->rx.data) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		return -1;
	}
	/* RFC 7143 11.12.5: ISID type 10b (random), unique per connection here. */
	c->isid[0] = 0x80;
	c->isid[1] = 0xba;
	c->isid[2] = (uint8_t)(getpid() >> 8);
	c->isid[3] = (uint8_t)getpid();
	c->isid[4] = (uint8_t)(seq >> 8);
	c->isid[5] = (uint8_t)seq;
	c->itt = 0x1000 * (seq & 0xff) + 1;
	c->xmit_dsl = 8192;
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(c->why, sizeof(c->why), "bad address %s", host);
		return -1;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(c->why, sizeof(c->why), "connect %s:%u: %s", host, port, strerror(errno));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rx.data);
	c->rx.data = NULL;
}

/* Closes with a TCP reset instead of a FIN. */
static void conn_reset(struct conn *c)
{
	struct linger lg = {1, 0};

	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_close(c);
}

/* 1: len bytes read; 0: nothing arrived before the deadline; -1: closed or reset; -2: stuck. */
static int read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int rc = poll(&pfd, 1, ms_left(deadline));

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			return got ? -2 : 0;
		n = recv(fd, buf + got, len - got, 0);
		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

static int send_raw(struct conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t dl = now_ms() + 3000;

	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};

			if (poll(&pfd, 1, ms_left(dl)) == 0) {
				snprintf(c->why, sizeof(c->why), "send stalled for 3 s");
				return -1;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		snprintf(c->why, sizeof(c->why), "send: %s", n < 0 ? strerror(errno) : "0 bytes");
		return -1;
	}
	return 0;
}

static void bhs_init(uint8_t *b, uint8_t op, uint8_t flags, uint32_t itt)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[0] = op;
	b[1] = flags;
	put_be32(b + 16, itt);
}

/* CmdSN and ExpStatSN of a request (bytes 24 and 28, RFC 7143 11.3 and alike). */
static void bhs_seq(const struct conn *c, uint8_t *b, uint32_t cmdsn)
{
	put_be32(b + 24, cmdsn);
	put_be32(b + 28, c->exp_statsn);
}

/*
 * Sends one PDU: bhs (DataSegmentLength as the caller set it), an AHS of
 * bhs[4] * 4 bytes from ahs, and dlen data bytes, with padding and the digests
 * in force; bad spoils a digest on purpose.
 */
static int send_pdu(struct conn *c, const uint8_t *bhs, const uint8_t *ahs, const void *data,
		    uint32_t dlen, unsigned bad)
{
	uint32_t ahs_len = bhs[4] * 4u, pad = (4 - (dlen & 3)) & 3;
	size_t total =
		ISCSI_BHS_LEN + ahs_len + (c->hd ? 4 : 0) + dlen + pad + (c->dd && dlen ? 4 : 0);
	uint8_t *buf = calloc(1, total), *p;
	int rc;

	if (!buf) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		return -1;
	}
	memcpy(buf, bhs, ISCSI_BHS_LEN);
	if (ahs_len)
		memcpy(buf + ISCSI_BHS_LEN, ahs, ahs_len);
	p = buf + ISCSI_BHS_LEN + ahs_len;
	if (c->hd) {
		uint32_t crc = crc32c(0, buf, ISCSI_BHS_LEN + ahs_len);

		crc32c_put_wire(p, (bad & BAD_HDIG) ? crc ^ 0x5a5a5a5a : crc);
		p += 4;
	}
	if (dlen) {
		memcpy(p, data, dlen);
		if (c->dd) {
			uint32_t crc = crc32c(0, p, dlen + pad);

			crc32c_put_wire(p + dlen + pad, (bad & BAD_DDIG) ? crc ^ 1 : crc);
		}
	}
	rc = send_raw(c, buf, total);
	free(buf);
	return rc;
}

/* Notes StatSN/ExpCmdSN/MaxCmdSN of any target PDU (RFC 7143 4.2.2). */
static void conn_note(struct conn *c, const uint8_t *b)
{
	uint8_t op = b[0] & ISCSI_OPCODE_MASK;
	bool no_statsn = op == ISCSI_OP_R2T ||
			 (op == ISCSI_OP_DATA_IN && !(b[1] & ISCSI_FLAG_DATA_STATUS)) ||
			 (op == ISCSI_OP_NOP_IN && get_be32(b + 16) == ISCSI_RSVD_TAG);

	if (!no_statsn)
		c->exp_statsn = get_be32(b + 24) + 1;
	c->exp_cmdsn = get_be32(b + 28);
	c->max_cmdsn = get_be32(b + 32);
}

/* Receives one PDU into c->rx, verifying digests when in force. */
static int recv_pdu(struct conn *c, int timeout_ms)
{
	struct pdu *p = &c->rx;
	uint32_t padded;
	uint8_t dig[4];
	int rc;

	rc = read_full(c->fd, p->bhs, 1, now_ms() + (uint64_t)timeout_ms);
	if (rc == 0)
		return RX_TIMEOUT;
	if (rc < 0)
		return RX_CLOSED;
	/* Once a PDU has started, the rest must follow promptly. */
	rc = read_full(c->fd, p->bhs + 1, ISCSI_BHS_LEN - 1, now_ms() + 2000);
	if (rc != 1)
		goto partial;
	p->ahs_len = p->bhs[4] * 4u;
	if (p->ahs_len && read_full(c->fd, p->ahs, p->ahs_len, now_ms() + 2000) != 1)
		goto partial;
	if (c->hd) {
		uint32_t crc = crc32c(crc32c(0, p->bhs, ISCSI_BHS_LEN), p->ahs, p->ahs_len);

		if (read_full(c->fd, dig, 4, now_ms() + 2000) != 1)
			goto partial;
		if (crc32c_get_wire(dig) != crc) {
			snprintf(c->why, sizeof(c->why), "target sent a bad header digest");
			return RX_BAD;
		}
	}
	p->dlen = get_be24(p->bhs + 5);
	if (p->dlen > RX_DATA_MAX - 8) {
		snprintf(c->why, sizeof(c->why),
			 "target sent DataSegmentLength %u above our MaxRecvDataSegmentLength %u",
			 p->dlen, OUR_MRDSL);
		return RX_BAD;
	}
	padded = (p->dlen + 3) & ~3u;
	if (padded && read_full(c->fd, p->data, padded, now_ms() + 2000) != 1)
		goto partial;
	if (c->dd && p->dlen) {
		if (read_full(c->fd, dig, 4, now_ms() + 2000) != 1)
			goto partial;
		if (crc32c_get_wire(dig) != crc32c(0, p->data, padded)) {
			snprintf(c->why, sizeof(c->why), "target sent a bad data digest");
			return RX_BAD;
		}
	}
	conn_note(c, p->bhs);
	return RX_OK;
partial:
	snprintf(c->why, sizeof(c->why), "target sent a truncated PDU (opcode 0x%02x)",
		 p->bhs[0] & ISCSI_OPCODE_MASK);
	return RX_CLOSED;
}

/* Answers a target NOP-In ping (RFC 7143 11.18: ITT 0xffffffff, TTT echoed, immediate). */
static int answer_ping(struct conn *c)
{
	uint8_t b[ISCSI_BHS_LEN];

	bhs_init(b, ISCSI_OP_NOP_OUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, ISCSI_RSVD_TAG);
	memcpy(b + 8, c->rx.bhs + 8, 8);
	memcpy(b + 20, c->rx.bhs + 20, 4);
	bhs_seq(c, b, c->cmdsn);
	c->target_pings++;
	return send_pdu(c, b, NULL, NULL, 0, 0);
}

/* The next PDU that is not a target ping or an asynchronous message. */
static int next_pdu(struct conn *c, int timeout_ms)
{
	uint64_t dl = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		int rc = recv_pdu(c, ms_left(dl));
		uint8_t op;

		if (rc != RX_OK)
			return rc;
		op = c->rx.bhs[0] & ISCSI_OPCODE_MASK;
		if (op == ISCSI_OP_NOP_IN && get_be32(c->rx.bhs + 16) == ISCSI_RSVD_TAG &&
		    get_be32(c->rx.bhs + 20) != ISCSI_RSVD_TAG) {
			if (answer_ping(c))
				return RX_CLOSED;
			continue;
		}
		if (op == ISCSI_OP_ASYNC_MSG)
			continue;
		return RX_OK;
	}
}

/* A short description of c->rx for messages. */
static const char *pdu_desc(const struct conn *c, char *buf, size_t len)
{
	const uint8_t *b = c->rx.bhs;

	switch (b[0] & ISCSI_OPCODE_MASK) {
	case ISCSI_OP_REJECT:
		snprintf(buf, len, "Reject(0x%02x)", b[2]);
		break;
	case ISCSI_OP_LOGIN_RSP:
		snprintf(buf, len, "Login Response(0x%04x)", get_be16(b + 36));
		break;
	case ISCSI_OP_SCSI_RSP:
		snprintf(buf, len, "SCSI Response(status 0x%02x)", b[3]);
		break;
	case ISCSI_OP_NOP_IN:
		snprintf(buf, len, "NOP-In");
		break;
	case ISCSI_OP_TASK_MGMT_RSP:
		snprintf(buf, len, "TMF Response(%u)", b[2]);
		break;
	case ISCSI_OP_TEXT_RSP:
		snprintf(buf, len, "Text Response");
		break;
	case ISCSI_OP_R2T:
		snprintf(buf, len, "R2T");
		break;
	case ISCSI_OP_DATA_IN:
		snprintf(buf, len, "Data-In");
		break;
	case ISCSI_OP_LOGOUT_RSP:
		snprintf(buf, len, "Logout Response(%u)", b[2]);
		break;
	default:
		snprintf(buf, len, "opcode 0x%02x", b[0] & ISCSI_OPCODE_MASK);
		break;
	}
	return buf;
}

/* 0: no PDU within ms; 1: one arrived (c->rx); -1: the connection closed. */
static int quiet(struct conn *c, int ms)
{
	int rc = next_pdu(c, ms);

	if (rc == RX_TIMEOUT)
		return 0;
	return rc == RX_OK ? 1 : -1;
}

/*
 * Waits up to ms for the target to close; every PDU met first is described in
 * seen. Returns 0 when closed, 1 when still open at the deadline.
 */
static int expect_close(struct conn *c, int ms, char *seen, size_t len)
{
	uint64_t dl = now_ms() + (uint64_t)ms;
	size_t off = 0;
	char d[64];

	if (len)
		seen[0] = 0;
	for (;;) {
		int rc = recv_pdu(c, ms_left(dl));

		if (rc == RX_TIMEOUT)
			return 1;
		if (rc != RX_OK)
			return 0;
		if (off < len)
			off += (size_t)snprintf(seen + off, len - off, "%s%s", off ? ", " : "",
						pdu_desc(c, d, sizeof(d)));
		if (off >= len)
			off = len - 1;
	}
}

/* Immediate NOP-Out asking for a NOP-In (RFC 7143 11.18); 0 when echoed correctly. */
static int ping(struct conn *c, int timeout_ms)
{
	static const uint8_t payload[12] = "badinput-png";
	uint8_t b[ISCSI_BHS_LEN];
	uint32_t itt = c->itt++;
	char d[64];
	int rc;

	bhs_init(b, ISCSI_OP_NOP_OUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, itt);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	bhs_seq(c, b, c->cmdsn);
	put_be24(b + 5, sizeof(payload));
	if (send_pdu(c, b, NULL, payload, sizeof(payload), 0))
		return -1;
	rc = next_pdu(c, timeout_ms);
	if (rc == RX_TIMEOUT) {
		snprintf(c->why, sizeof(c->why), "no NOP-In within %d ms", timeout_ms);
		return -1;
	}
	if (rc != RX_OK) {
		if (!c->why[0])
			snprintf(c->why, sizeof(c->why), "connection closed");
		return -1;
	}
	if ((c->rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_NOP_IN ||
	    get_be32(c->rx.bhs + 16) != itt) {
		snprintf(c->why, sizeof(c->why), "%s instead of the NOP-In",
			 pdu_desc(c, d, sizeof(d)));
		return -1;
	}
	if (c->rx.dlen != sizeof(payload) || memcmp(c->rx.data, payload, sizeof(payload))) {
		snprintf(c->why, sizeof(c->why), "NOP-In did not echo the ping data");
		return -1;
	}
	return 0;
}

/* Non-immediate NOP-Out with the given CmdSN; 0 when answered. */
static int nop_cmd(struct conn *c, uint32_t cmdsn, int timeout_ms)
{
	uint8_t b[ISCSI_BHS_LEN];
	uint32_t itt = c->itt++;
	char d[64];
	int rc;

	bhs_init(b, ISCSI_OP_NOP_OUT, ISCSI_FLAG_FINAL, itt);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	bhs_seq(c, b, cmdsn);
	if (send_pdu(c, b, NULL, NULL, 0, 0))
		return -1;
	rc = next_pdu(c, timeout_ms);
	if (rc != RX_OK) {
		snprintf(c->why, sizeof(c->why), "%s",
			 rc == RX_TIMEOUT ? "no NOP-In for the non-immediate NOP-Out"
					  : "connection closed");
		return -1;
	}
	if ((c->rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_NOP_IN ||
	    get_be32(c->rx.bhs + 16) != itt) {
		snprintf(c->why, sizeof(c->why), "%s instead of a NOP-In",
			 pdu_desc(c, d, sizeof(d)));
		return -1;
	}
	return 0;
}

/*
 * Expects a Reject (RFC 7143 11.17) whose reason is in mask (bit per reason)
 * and whose data segment is the header we sent. Describes the outcome in r.
 */
static int expect_reject(struct conn *c, const uint8_t *sent, uint32_t mask, struct res *r,
			 const char *label)
{
	const uint8_t *b = c->rx.bhs;
	char d[64];
	int rc = next_pdu(c, 2000);

	if (rc != RX_OK) {
		rappend(r, "%s->%s; ", label, rc == RX_TIMEOUT ? "no answer" : "connection closed");
		return -1;
	}
	rappend(r, "%s->%s; ", label, pdu_desc(c, d, sizeof(d)));
	if ((b[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_REJECT)
		return -1;
	if (c->rx.dlen != ISCSI_BHS_LEN || memcmp(c->rx.data, sent, ISCSI_BHS_LEN)) {
		rappend(r, "(Reject does not carry the rejected header); ");
		return -1;
	}
	if (get_be32(b + 16) != ISCSI_RSVD_TAG) {
		rappend(r, "(Reject ITT is not 0xffffffff); ");
		return -1;
	}
	return (mask >> b[2]) & 1 ? 0 : -1;
}

/* Appends "; ping ok" or the failure; returns 0 when the session still answers. */
static int check_alive(struct conn *c, struct res *r)
{
	if (ping(c, 2000)) {
		rappend(r, "ping afterwards failed: %s; ", c->why);
		return -1;
	}
	rappend(r, "ping ok; ");
	return 0;
}

/* ---- text keys ---- */

struct text {
	char buf[48 * 1024];
	uint32_t len;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0 && t->len + (uint32_t)n + 1 <= sizeof(t->buf))
		t->len += (uint32_t)n + 1; /* keep the NUL: "key=value\0" */
}

static bool text_find(const uint8_t *data, uint32_t dlen, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	uint32_t i = 0;

	while (i < dlen) {
		const char *s = (const char *)data + i;
		size_t n = strnlen(s, dlen - i);

		if (n > kl && !memcmp(s, key, kl) && s[kl] == '=') {
			size_t vl = MIN(n - kl - 1, cap - 1);

			memcpy(out, s + kl + 1, vl);
			out[vl] = 0;
			return true;
		}
		i += (uint32_t)n + 1;
	}
	return false;
}

/* ---- login (RFC 7143 6.3, 11.12, 11.13, 12.1.3) ---- */

static int login_send(struct conn *c, uint8_t flags, uint8_t version, const void *data,
		      uint32_t dlen)
{
	uint8_t b[ISCSI_BHS_LEN];

	bhs_init(b, ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE, flags, c->itt++);
	b[2] = version; /* Version-max */
	b[3] = version; /* Version-min */
	put_be24(b + 5, dlen);
	memcpy(b + 8, c->isid, 6);
	put_be16(b + 14, c->tsih);
	put_be16(b + 20, 0); /* CID */
	bhs_seq(c, b, c->cmdsn);
	return send_pdu(c, b, NULL, data, dlen, 0);
}

/* One request/response; returns the status (>= 0) or -1 with c->why. */
static int login_xchg(struct conn *c, uint8_t flags, const struct text *t)
{
	uint32_t itt = c->itt;
	char d[64];
	int rc;

	if (login_send(c, flags, 0, t ? t->buf : NULL, t ? t->len : 0))
		return -1;
	rc = next_pdu(c, 3000);
	if (rc != RX_OK) {
		snprintf(c->why, sizeof(c->why), "%s",
			 rc == RX_TIMEOUT ? "no Login Response within 3 s"
					  : "connection closed instead of a Login Response");
		return -1;
	}
	if ((c->rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_LOGIN_RSP) {
		snprintf(c->why, sizeof(c->why), "%s during login", pdu_desc(c, d, sizeof(d)));
		return -1;
	}
	if (get_be32(c->rx.bhs + 16) != itt) {
		snprintf(c->why, sizeof(c->why), "Login Response with a foreign ITT");
		return -1;
	}
	return get_be16(c->rx.bhs + 36);
}

enum chap_fault { CHAP_OK, CHAP_WRONG_R, CHAP_UNKNOWN_N, CHAP_BAD_HEX };

struct login_opts {
	const char *iname, *tname; /* NULL: key left out */
	const char *auth;	   /* AuthMethod offered; NULL: "None" or "CHAP" */
	const char *chap_user, *chap_secret;
	enum chap_fault fault;
	bool digests;
	bool r2t_only;	    /* InitialR2T=Yes, ImmediateData=No */
	bool skip_security; /* first request in the operational stage */
	uint32_t cmdsn;
};

static int hex_decode(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -1;
	for (s += 2; s[0] && s[1] && n < cap; s += 2) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
	}
	return s[0] ? -1 : (int)n;
}

static int login_chap(struct conn *c, const struct login_opts *o, struct text *t)
{
	uint8_t chal[1024], dig[16];
	char val[2100], hex[40];
	struct md5_ctx m;
	unsigned id;
	int st, n;

	t->len = 0;
	text_add(t, "CHAP_A=5");
	st = login_xchg(c, LOGIN_CSG(0) | 1, t);
	if (st)
		return st;
	if (!text_find(c->rx.data, c->rx.dlen, "CHAP_I", val, sizeof(val)) ||
	    sscanf(val, "%u", &id) != 1 || id > 255) {
		snprintf(c->why, sizeof(c->why), "no valid CHAP_I in the challenge");
		return -1;
	}
	if (!text_find(c->rx.data, c->rx.dlen, "CHAP_C", val, sizeof(val)) ||
	    (n = hex_decode(val, chal, sizeof(chal))) <= 0) {
		snprintf(c->why, sizeof(c->why), "no hex CHAP_C in the challenge");
		return -1;
	}
	/* RFC 1994 4.1: MD5(identifier || secret || challenge). */
	md5_init(&m);
	md5_update(&m, &(uint8_t){(uint8_t)id}, 1);
	md5_update(&m, o->chap_secret, strlen(o->chap_secret));
	md5_update(&m, chal, (size_t)n);
	md5_final(&m, dig);
	if (o->fault == CHAP_WRONG_R)
		dig[7] ^= 0x20;
	strcpy(hex, "0x");
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 + 2 * i, 3, "%02x", dig[i]);
	t->len = 0;
	text_add(t, "CHAP_N=%s", o->fault == CHAP_UNKNOWN_N ? "nobody-at-all" : o->chap_user);
	text_add(t, "CHAP_R=%s", o->fault == CHAP_BAD_HEX ? "0xZZ12" : hex);
	return login_xchg(c, LOGIN_T | LOGIN_CSG(0) | 1, t);
}

static void login_op_keys(struct text *t, const struct login_opts *o)
{
	text_add(t, "HeaderDigest=%s", o->digests ? "CRC32C,None" : "None");
	text_add(t, "DataDigest=%s", o->digests ? "CRC32C,None" : "None");
	text_add(t, "MaxRecvDataSegmentLength=%u", OUR_MRDSL);
	text_add(t, "InitialR2T=%s", o->r2t_only ? "Yes" : "No");
	text_add(t, "ImmediateData=%s", o->r2t_only ? "No" : "Yes");
	text_add(t, "MaxBurstLength=262144");
	text_add(t, "FirstBurstLength=65536");
	text_add(t, "MaxOutstandingR2T=1");
	text_add(t, "MaxConnections=1");
	text_add(t, "DefaultTime2Wait=0");
	text_add(t, "DefaultTime2Retain=0");
	text_add(t, "DataPDUInOrder=Yes");
	text_add(t, "DataSequenceInOrder=Yes");
	text_add(t, "ErrorRecoveryLevel=0");
}

static uint32_t key_num(const struct conn *c, const char *key, uint32_t dflt)
{
	char v[64];

	return text_find(c->rx.data, c->rx.dlen, key, v, sizeof(v)) ? (uint32_t)strtoul(v, NULL, 0)
								    : dflt;
}

static bool key_is(const struct conn *c, const char *key, const char *want, bool dflt)
{
	char v[64];

	return text_find(c->rx.data, c->rx.dlen, key, v, sizeof(v)) ? !strcmp(v, want) : dflt;
}

/* Returns 0 in full feature phase, a login status (> 0) when refused, -1 on failure. */
static int login(struct conn *c, const struct login_opts *o)
{
	struct text *t = calloc(1, sizeof(*t));
	bool chap = o->chap_user != NULL;
	int st = -1;

	if (!t)
		return -1;
	c->cmdsn = o->cmdsn;
	c->exp_statsn = 0;
	c->tsih = 0;
	c->hd = c->dd = false;
	if (o->iname)
		text_add(t, "InitiatorName=%s", o->iname);
	if (o->tname)
		text_add(t, "TargetName=%s", o->tname);
	text_add(t, "SessionType=Normal");
	if (o->skip_security) {
		login_op_keys(t, o);
		st = login_xchg(c, LOGIN_T | LOGIN_CSG(1) | 3, t);
		goto op_done;
	}
	text_add(t, "AuthMethod=%s", o->auth ? o->auth : chap ? "CHAP" : "None");
	st = login_xchg(c, LOGIN_T | LOGIN_CSG(0) | 1, t);
	if (st)
		goto out;
	if (chap) {
		st = login_chap(c, o, t);
		if (st)
			goto out;
	}
	for (int i = 0; !(c->rx.bhs[1] & LOGIN_T); i++) {
		if (i == 3) {
			snprintf(c->why, sizeof(c->why), "target never left the security stage");
			st = -1;
			goto out;
		}
		t->len = 0;
		st = login_xchg(c, LOGIN_T | LOGIN_CSG(0) | 1, t);
		if (st)
			goto out;
	}
	t->len = 0;
	login_op_keys(t, o);
	st = login_xchg(c, LOGIN_T | LOGIN_CSG(1) | 3, t);
op_done:
	if (st)
		goto out;
	if ((c->rx.bhs[1] & 3) != 3 || !(c->rx.bhs[1] & LOGIN_T)) {
		snprintf(c->why, sizeof(c->why), "final Login Response without T=1 NSG=3");
		st = -1;
		goto out;
	}
	c->tsih = get_be16(c->rx.bhs + 14);
	c->xmit_dsl = key_num(c, "MaxRecvDataSegmentLength", 8192);
	c->max_burst = key_num(c, "MaxBurstLength", 262144);
	c->first_burst = key_num(c, "FirstBurstLength", 65536);
	c->immediate_data = key_is(c, "ImmediateData", "Yes", true);
	c->initial_r2t = key_is(c, "InitialR2T", "Yes", true);
	c->hd = key_is(c, "HeaderDigest", "CRC32C", false);
	c->dd = key_is(c, "DataDigest", "CRC32C", false);
	if (!c->tsih || c->xmit_dsl < 512) {
		snprintf(c->why, sizeof(c->why), "bad final Login Response (TSIH %u, MRDSL %u)",
			 c->tsih, c->xmit_dsl);
		st = -1;
	}
out:
	free(t);
	return st;
}

static int logout(struct conn *c)
{
	uint8_t b[ISCSI_BHS_LEN];
	uint32_t itt = c->itt++;
	int rc;

	bhs_init(b, ISCSI_OP_LOGOUT_REQ | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, itt);
	bhs_seq(c, b, c->cmdsn);
	if (send_pdu(c, b, NULL, NULL, 0, 0))
		return -1;
	rc = next_pdu(c, 3000);
	if (rc != RX_OK || (c->rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_LOGOUT_RSP ||
	    get_be32(c->rx.bhs + 16) != itt || c->rx.bhs[2] != ISCSI_LOGOUT_RSP_OK) {
		snprintf(c->why, sizeof(c->why), "no Logout Response with response 0");
		return -1;
	}
	return 0;
}

/* ---- SCSI commands (RFC 7143 10.4, 11.3-11.8) ---- */

struct scsi_res {
	uint8_t status, response, flags;
	uint8_t sense[252];
	uint32_t sense_len;
	uint8_t key, asc, ascq;
	uint32_t resid;
	uint32_t itt;
	uint32_t last_ttt;
	uint32_t r2ts;
};

static void sense_decode(struct scsi_res *r)
{
	const uint8_t *s = r->sense;

	r->key = r->asc = r->ascq = 0;
	if (r->sense_len >= 14 && (s[0] & 0x7e) == 0x70) {
		r->key = s[2] & 0x0f;
		r->asc = s[12];
		r->ascq = s[13];
	} else if (r->sense_len >= 4 && (s[0] & 0x7e) == 0x72) {
		r->key = s[1] & 0x0f;
		r->asc = s[2];
		r->ascq = s[3];
	}
}

static const uint8_t lun0[8];

static int send_data_out(struct conn *c, uint32_t itt, uint32_t ttt, const uint8_t *buf,
			 uint32_t off, uint32_t len)
{
	uint32_t done = 0, sn = 0;

	while (done < len) {
		uint32_t n = MIN(len - done, c->xmit_dsl);
		uint8_t b[ISCSI_BHS_LEN];

		bhs_init(b, ISCSI_OP_DATA_OUT, done + n == len ? ISCSI_FLAG_FINAL : 0, itt);
		put_be24(b + 5, n);
		memcpy(b + 8, lun0, 8);
		put_be32(b + 20, ttt);
		put_be32(b + 28, c->exp_statsn);
		put_be32(b + 36, sn++);
		put_be32(b + 40, off + done);
		if (send_pdu(c, b, NULL, buf + off + done, n, 0))
			return -1;
		done += n;
	}
	return 0;
}

static void cdb_rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t nblk)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, nblk);
}

/* Builds and sends a SCSI Command; returns its ITT or sets c->why and returns 0. */
static uint32_t scsi_send_cmd(struct conn *c, const uint8_t *cdb, bool rd, bool wr,
			      const uint8_t *buf, uint32_t len, uint32_t *imm_out,
			      uint32_t *unsol_out)
{
	uint32_t imm = 0, unsol = 0, itt = c->itt++;
	uint8_t b[ISCSI_BHS_LEN];

	if (wr && c->immediate_data)
		imm = MIN(MIN(len, c->first_burst), c->xmit_dsl);
	if (wr && !c->initial_r2t)
		unsol = MIN(len, c->first_burst);
	unsol = MAX(unsol, imm);
	bhs_init(b, ISCSI_OP_SCSI_CMD,
		 (unsol > imm ? 0 : ISCSI_FLAG_FINAL) | (rd ? ISCSI_CMD_F_READ : 0) |
			 (wr ? ISCSI_CMD_F_WRITE : 0) | 1 /* SIMPLE */,
		 itt);
	put_be24(b + 5, imm);
	put_be32(b + 20, len);
	bhs_seq(c, b, c->cmdsn++);
	memcpy(b + 32, cdb, 16);
	if (send_pdu(c, b, NULL, buf, imm, 0))
		return 0;
	*imm_out = imm;
	*unsol_out = unsol;
	return itt;
}

/* Unsolicited Data-Out after immediate data (RFC 7143 10.7.4), F on the last. */
static int send_unsolicited(struct conn *c, uint32_t itt, const uint8_t *buf, uint32_t imm,
			    uint32_t unsol)
{
	uint32_t off = imm, sn = 0;

	while (off < unsol) {
		uint32_t n = MIN(unsol - off, c->xmit_dsl);
		uint8_t b[ISCSI_BHS_LEN];

		bhs_init(b, ISCSI_OP_DATA_OUT, off + n == unsol ? ISCSI_FLAG_FINAL : 0, itt);
		put_be24(b + 5, n);
		put_be32(b + 20, ISCSI_RSVD_TAG);
		put_be32(b + 28, c->exp_statsn);
		put_be32(b + 36, sn++);
		put_be32(b + 40, off);
		if (send_pdu(c, b, NULL, buf + off, n, 0))
			return -1;
		off += n;
	}
	return 0;
}

/* Runs one command to its final status. 0 with *sr filled, or -1 with c->why. */
static int scsi_exec(struct conn *c, const uint8_t *cdb, bool rd, bool wr, uint8_t *buf,
		     uint32_t len, struct scsi_res *sr, int timeout_ms)
{
	uint64_t dl = now_ms() + (uint64_t)timeout_ms;
	uint32_t imm, unsol, itt;
	char d[64];

	memset(sr, 0, sizeof(*sr));
	itt = scsi_send_cmd(c, cdb, rd, wr, buf, len, &imm, &unsol);
	if (!itt)
		return -1;
	sr->itt = itt;
	if (send_unsolicited(c, itt, buf, imm, unsol))
		return -1;
	for (;;) {
		const uint8_t *b = c->rx.bhs;
		int rc = next_pdu(c, ms_left(dl));

		if (rc != RX_OK) {
			if (rc == RX_TIMEOUT)
				snprintf(c->why, sizeof(c->why), "no status within %d ms",
					 timeout_ms);
			else if (!c->why[0] || rc == RX_CLOSED)
				snprintf(c->why, sizeof(c->why),
					 "connection closed during a command");
			return -1;
		}
		if (get_be32(b + 16) != itt) {
			snprintf(c->why, sizeof(c->why), "%s for a foreign ITT 0x%08x",
				 pdu_desc(c, d, sizeof(d)), get_be32(b + 16));
			return -1;
		}
		switch (b[0] & ISCSI_OPCODE_MASK) {
		case ISCSI_OP_R2T: {
			uint32_t off = get_be32(b + 40), n = get_be32(b + 44);

			sr->last_ttt = get_be32(b + 20);
			sr->r2ts++;
			if (!wr || off > len || n > len - off || !n) {
				snprintf(c->why, sizeof(c->why),
					 "bad R2T (offset %u length %u of %u)", off, n, len);
				return -1;
			}
			if (send_data_out(c, itt, sr->last_ttt, buf, off, n))
				return -1;
			break;
		}
		case ISCSI_OP_DATA_IN: {
			uint32_t off = get_be32(b + 40);

			if (!rd || off > len || c->rx.dlen > len - off) {
				snprintf(c->why, sizeof(c->why),
					 "Data-In outside the buffer (offset %u length %u of %u)",
					 off, c->rx.dlen, len);
				return -1;
			}
			memcpy(buf + off, c->rx.data, c->rx.dlen);
			if (b[1] & ISCSI_FLAG_DATA_STATUS) {
				sr->status = b[3];
				sr->flags = b[1];
				sr->resid = get_be32(b + 44);
				return 0;
			}
			break;
		}
		case ISCSI_OP_SCSI_RSP:
			sr->response = b[2];
			sr->status = b[3];
			sr->flags = b[1];
			sr->resid = get_be32(b + 44);
			if (c->rx.dlen >= 2) {
				sr->sense_len = MIN(get_be16(c->rx.data), c->rx.dlen - 2);
				sr->sense_len = MIN(sr->sense_len, (uint32_t)sizeof(sr->sense));
				memcpy(sr->sense, c->rx.data + 2, sr->sense_len);
				sense_decode(sr);
			}
			return 0;
		default:
			snprintf(c->why, sizeof(c->why), "%s during a command",
				 pdu_desc(c, d, sizeof(d)));
			return -1;
		}
	}
}

/* TEST UNIT READY until GOOD: clears the power-on unit attention of a new nexus. */
static int clear_ua(struct conn *c)
{
	uint8_t cdb[16] = {0};
	struct scsi_res sr;

	for (int i = 0; i < 4; i++) {
		if (scsi_exec(c, cdb, false, false, NULL, 0, &sr, 2000))
			return -1;
		if (sr.status == ST_GOOD)
			return 0;
	}
	snprintf(c->why, sizeof(c->why), "TEST UNIT READY keeps failing (status 0x%02x)",
		 sr.status);
	return -1;
}

/* WRITE(10) or READ(10) with status GOOD expected (one unit attention is retried). */
static int rw(struct conn *c, bool write, uint32_t lba, uint32_t nblk, uint8_t *buf, int timeout_ms,
	      uint64_t *lat_ms)
{
	uint32_t bs = atomic_load(&g_block_size);
	struct scsi_res sr;
	uint8_t cdb[16];

	cdb_rw10(cdb, write ? 0x2a : 0x28, lba, (uint16_t)nblk);
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = now_ms();

		if (scsi_exec(c, cdb, !write, write, buf, nblk * bs, &sr, timeout_ms))
			return -1;
		if (lat_ms)
			*lat_ms = now_ms() - t0;
		if (sr.status == ST_GOOD)
			return 0;
		if (sr.status != ST_CHECK_COND || sr.key != SK_UNIT_ATTN)
			break;
	}
	snprintf(c->why, sizeof(c->why), "%s(10) lba %u x%u: status 0x%02x sense %x/%02x/%02x",
		 write ? "WRITE" : "READ", lba, nblk, sr.status, sr.key, sr.asc, sr.ascq);
	return -1;
}

/* ---- the healthy session ---- */

struct healthy {
	pthread_t th;
	atomic_bool stop;
	atomic_bool running;
	atomic_uint errors;
	atomic_ulong ops;
	pthread_mutex_t mu;
	char first_err[600];
	char last_err[600];
	uint64_t max_lat_ms;
	uint64_t bytes_verified;
	unsigned relogins;
};

static struct healthy g_h = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void healthy_error(const char *what, const char *why)
{
	pthread_mutex_lock(&g_h.mu);
	snprintf(g_h.last_err, sizeof(g_h.last_err), "%s: %s (during case %s)", what, why, g_case);
	if (!g_h.first_err[0])
		snprintf(g_h.first_err, sizeof(g_h.first_err), "%s", g_h.last_err);
	pthread_mutex_unlock(&g_h.mu);
	atomic_fetch_add(&g_h.errors, 1);
}

static int healthy_login(struct conn *c)
{
	struct login_opts o = {.iname = g_o.healthy_name, .tname = g_o.iqn, .cmdsn = 1};
	uint8_t cdb[16] = {0x25}, cap[8];
	struct scsi_res sr;
	int st;

	if (conn_open(c, g_o.host, g_o.port))
		return -1;
	st = login(c, &o);
	if (st) {
		if (st > 0)
			snprintf(c->why, sizeof(c->why), "login refused with status 0x%04x", st);
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		/* READ CAPACITY(10): block size for everybody */
		if (scsi_exec(c, cdb, true, false, cap, sizeof(cap), &sr, STALL_MS))
			return -1;
		if (sr.status == ST_GOOD) {
			atomic_store(&g_block_size, get_be32(cap + 4));
			return 0;
		}
	}
	snprintf(c->why, sizeof(c->why), "READ CAPACITY failed: status 0x%02x", sr.status);
	return -1;
}

static bool lat_ok(uint64_t lat, const char *what)
{
	char why[64];

	pthread_mutex_lock(&g_h.mu);
	g_h.max_lat_ms = MAX(g_h.max_lat_ms, lat);
	pthread_mutex_unlock(&g_h.mu);
	if (lat <= STALL_MS)
		return true;
	snprintf(why, sizeof(why), "took %llu ms (limit %d)", (unsigned long long)lat, STALL_MS);
	healthy_error(what, why);
	return false;
}

/* One write-then-read round (and sometimes a read of older data); false on error. */
static bool healthy_round(struct conn *c, uint64_t *seed, uint32_t iter, uint8_t *shadow,
			  uint8_t *valid, uint8_t *buf)
{
	uint32_t bs = atomic_load(&g_block_size), nblk, lba;
	uint64_t lat;

	nblk = iter % 8 == 7 ? 128 + rng_next(seed) % 129 : 1 + rng_next(seed) % 64;
	lba = rng_next(seed) % (HEALTHY_BLOCKS - nblk);
	for (uint32_t i = 0; i < nblk * bs; i += 8) {
		put_be32(buf + i, iter);
		put_be32(buf + i + 4, lba * bs + i);
	}
	if (rw(c, true, lba, nblk, buf, STALL_MS + 500, &lat)) {
		healthy_error("WRITE", c->why);
		return false;
	}
	if (!lat_ok(lat, "WRITE"))
		return false;
	memcpy(shadow + (size_t)lba * bs, buf, (size_t)nblk * bs);
	memset(valid + lba, 1, nblk);
	if (iter % 4 == 3) {
		/* An older extent: nothing else may have changed it. */
		nblk = 1 + rng_next(seed) % 64;
		lba = rng_next(seed) % (HEALTHY_BLOCKS - nblk);
	}
	memset(buf, 0xee, (size_t)nblk * bs);
	if (rw(c, false, lba, nblk, buf, STALL_MS + 500, &lat)) {
		healthy_error("READ", c->why);
		return false;
	}
	if (!lat_ok(lat, "READ"))
		return false;
	for (uint32_t i = 0; i < nblk; i++) {
		if (valid[lba + i] &&
		    memcmp(buf + (size_t)i * bs, shadow + (size_t)(lba + i) * bs, bs)) {
			char why[96];

			snprintf(why, sizeof(why), "data mismatch at LBA %u", lba + i);
			healthy_error("READ", why);
			return false;
		}
	}
	pthread_mutex_lock(&g_h.mu);
	g_h.bytes_verified += (uint64_t)nblk * bs;
	pthread_mutex_unlock(&g_h.mu);
	atomic_fetch_add(&g_h.ops, 2);
	return true;
}

static void *healthy_main(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t *shadow = NULL, *valid = calloc(HEALTHY_BLOCKS, 1), *buf = NULL;
	struct conn c = {.fd = -1};
	bool up = false;

	(void)arg;
	for (uint32_t iter = 0; !atomic_load(&g_h.stop); iter++) {
		if (!up) {
			if (healthy_login(&c)) {
				healthy_error("login", c.why);
				conn_close(&c);
				sleep_ms(300);
				continue;
			}
			up = true;
			g_h.relogins++;
			if (!shadow) {
				uint32_t bs = atomic_load(&g_block_size);

				shadow = calloc(HEALTHY_BLOCKS, bs);
				buf = malloc(256u * bs + 8);
			}
			atomic_store(&g_h.running, true);
		}
		if (!shadow || !buf || !valid) {
			healthy_error("setup", "out of memory");
			break;
		}
		if (!healthy_round(&c, &seed, iter, shadow, valid, buf)) {
			conn_close(&c);
			up = false;
			sleep_ms(200);
			continue;
		}
		sleep_ms(3);
	}
	if (up && logout(&c))
		healthy_error("logout", c.why);
	conn_close(&c);
	free(shadow);
	free(valid);
	free(buf);
	return NULL;
}

static unsigned healthy_errors(void)
{
	return atomic_load(&g_h.errors);
}

/* ---- shared case helpers ---- */

static int attacker_opts(struct conn *c, const struct login_opts *o, struct res *r)
{
	int st;

	if (conn_open(c, g_o.host, g_o.port)) {
		rappend(r, "%s; ", c->why);
		conn_close(c);
		return -1;
	}
	st = login(c, o);
	if (st) {
		if (st > 0)
			rappend(r, "attacker login refused: 0x%04x; ", st);
		else
			rappend(r, "attacker login failed: %s; ", c->why);
		conn_close(c);
		return -1;
	}
	return 0;
}

/* A logged-in attack session; CmdSN starts just below the 2^32 wrap on purpose. */
static int attacker(struct conn *c, bool digests, bool r2t_only, struct res *r)
{
	struct login_opts o = {.iname = g_o.initiator,
			       .tname = g_o.iqn,
			       .digests = digests,
			       .r2t_only = r2t_only,
			       .cmdsn = 0xfffffff0u};

	if (attacker_opts(c, &o, r))
		return -1;
	if (clear_ua(c)) {
		rappend(r, "TEST UNIT READY: %s; ", c->why);
		conn_close(c);
		return -1;
	}
	return 0;
}

static int fresh_conn(struct conn *c, struct res *r)
{
	if (conn_open(c, g_o.host, g_o.port)) {
		rappend(r, "%s; ", c->why);
		conn_close(c);
		return -1;
	}
	return 0;
}

#define REASON(x) (1u << (x))

/* ---- cases: opcodes and framing ---- */

static int case_reserved_opcode(struct res *r)
{
	static const uint8_t ops[] = {0x07, 0x08, 0x0f, 0x11, 0x1c, 0x1e, 0x3e};
	uint8_t b[ISCSI_BHS_LEN], junk[100];
	int ok = PASS;
	struct conn c;
	char label[16];

	if (attacker(&c, false, false, r))
		return FAIL;
	for (size_t i = 0; i < sizeof(ops); i++) {
		bhs_init(b, ops[i] | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
		bhs_seq(&c, b, c.cmdsn);
		snprintf(label, sizeof(label), "0x%02x", ops[i]);
		if (send_pdu(&c, b, NULL, NULL, 0, 0) ||
		    expect_reject(&c, b, REASON(ISCSI_REJECT_CMD_NOT_SUPPORTED), r, label)) {
			ok = FAIL;
			goto out;
		}
	}
	/* With a data segment: the target must skip it and stay in step. */
	memset(junk, 0xa5, sizeof(junk));
	bhs_init(b, 0x1c | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
	bhs_seq(&c, b, c.cmdsn);
	put_be24(b + 5, sizeof(junk));
	if (send_pdu(&c, b, NULL, junk, sizeof(junk), 0) ||
	    expect_reject(&c, b, REASON(ISCSI_REJECT_CMD_NOT_SUPPORTED), r, "0x1c+100B"))
		ok = FAIL;
	else if (check_alive(&c, r))
		ok = FAIL;
out:
	conn_close(&c);
	return ok;
}

static int case_target_opcodes(struct res *r)
{
	static const uint8_t ops[] = {0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x31, 0x32, 0x3f};
	uint8_t b[ISCSI_BHS_LEN];
	int ok = PASS;
	struct conn c;
	char label[16];

	if (attacker(&c, false, false, r))
		return FAIL;
	for (size_t i = 0; i < sizeof(ops); i++) {
		bhs_init(b, ops[i], ISCSI_FLAG_FINAL, c.itt++);
		bhs_seq(&c, b, c.cmdsn);
		snprintf(label, sizeof(label), "0x%02x", ops[i]);
		if (send_pdu(&c, b, NULL, NULL, 0, 0) ||
		    expect_reject(&c, b,
				  REASON(ISCSI_REJECT_PROTOCOL_ERROR) |
					  REASON(ISCSI_REJECT_CMD_NOT_SUPPORTED),
				  r, label)) {
			ok = FAIL;
			goto out;
		}
	}
	if (check_alive(&c, r))
		ok = FAIL;
out:
	conn_close(&c);
	return ok;
}

static uint64_t g_flood_end_ms;

static int case_reject_flood(struct res *r)
{
	enum { N = 30 };
	uint8_t *burst = calloc(N, ISCSI_BHS_LEN);
	long before, lines, off = 0;
	int ok = PASS, got = 0;
	struct conn c;

	if (!burst)
		return FAIL;
	log_lines(0, &off);
	if (attacker(&c, false, false, r)) {
		free(burst);
		return FAIL;
	}
	before = off;
	for (int i = 0; i < N; i++) {
		uint8_t *b = burst + i * ISCSI_BHS_LEN;

		bhs_init(b, 0x1d | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
		bhs_seq(&c, b, c.cmdsn);
	}
	if (send_raw(&c, burst, (size_t)N * ISCSI_BHS_LEN)) {
		rappend(r, "send: %s; ", c.why);
		ok = FAIL;
		goto out;
	}
	while (got < N) {
		int rc = next_pdu(&c, 3000);

		if (rc != RX_OK || (c.rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_REJECT)
			break;
		got++;
	}
	rappend(r, "%d of %d Rejects; ", got, N);
	if (got != N || check_alive(&c, r))
		ok = FAIL;
out:
	conn_close(&c);
	g_flood_end_ms = now_ms();
	sleep_ms(200);
	lines = log_lines(before, NULL);
	if (lines >= 0) {
		rappend(r, "log grew by %ld lines", lines);
		if (lines > 20)
			ok = FAIL;
	}
	free(burst);
	return ok;
}

static int case_nop_burst(struct res *r)
{
	enum { N = 64 };
	uint8_t *burst = calloc(N, ISCSI_BHS_LEN);
	int ok = PASS, got = 0;
	uint32_t itt0, cmdsn0;
	struct conn c;

	if (!burst)
		return FAIL;
	if (attacker(&c, false, false, r)) {
		free(burst);
		return FAIL;
	}
	itt0 = c.itt;
	cmdsn0 = c.cmdsn;
	for (int i = 0; i < N; i++) {
		uint8_t *b = burst + i * ISCSI_BHS_LEN;

		bhs_init(b, ISCSI_OP_NOP_OUT, ISCSI_FLAG_FINAL, itt0 + (uint32_t)i);
		put_be32(b + 20, ISCSI_RSVD_TAG);
		bhs_seq(&c, b, cmdsn0 + (uint32_t)i);
	}
	c.itt += N;
	c.cmdsn += N;
	rappend(r, "window [%u, %u]; ", c.exp_cmdsn, c.max_cmdsn);
	if (send_raw(&c, burst, (size_t)N * ISCSI_BHS_LEN)) {
		rappend(r, "send: %s; ", c.why);
		ok = FAIL;
		goto out;
	}
	while (got < N) {
		char d[64];
		int rc = next_pdu(&c, 3000);

		if (rc != RX_OK) {
			rappend(r, "%s after %d NOP-Ins; ",
				rc == RX_TIMEOUT ? "silence" : "connection closed", got);
			break;
		}
		if ((c.rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_NOP_IN ||
		    get_be32(c.rx.bhs + 16) != itt0 + (uint32_t)got) {
			rappend(r, "%s after %d NOP-Ins; ", pdu_desc(&c, d, sizeof(d)), got);
			break;
		}
		got++;
	}
	rappend(r, "%d of %d NOP-Ins in order; ", got, N);
	if (got != N || check_alive(&c, r))
		ok = FAIL;
out:
	conn_close(&c);
	free(burst);
	return ok;
}

static int case_ahs_garbage(struct res *r)
{
	const uint32_t bad = REASON(ISCSI_REJECT_PROTOCOL_ERROR) |
			     REASON(ISCSI_REJECT_CMD_NOT_SUPPORTED) |
			     REASON(ISCSI_REJECT_INVALID_PDU_FIELD);
	uint8_t b[ISCSI_BHS_LEN], ahs[1020];
	int ok = PASS;
	struct conn c;
	char d[64];
	int rc;

	memset(ahs, 0xff, sizeof(ahs));
	if (attacker(&c, false, false, r))
		return FAIL;
	/* NOP-Out has no AHS (RFC 7143 11.2.2): TotalAHSLength 2 words of 0xff. */
	bhs_init(b, ISCSI_OP_NOP_OUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	bhs_seq(&c, b, c.cmdsn);
	b[4] = 2;
	if (send_pdu(&c, b, ahs, NULL, 0, 0) || expect_reject(&c, b, bad, r, "NOP-Out+AHS"))
		ok = FAIL;
	/* Immediate TEST UNIT READY with 1020 bytes of AHS whose AHSLength says 65535. */
	bhs_init(b, ISCSI_OP_SCSI_CMD | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL | 1, c.itt++);
	bhs_seq(&c, b, c.cmdsn);
	b[4] = 255;
	if (send_pdu(&c, b, ahs, NULL, 0, 0))
		ok = FAIL;
	rc = next_pdu(&c, 2000);
	rappend(r, "TUR+1020B AHS->%s; ", rc == RX_OK ? pdu_desc(&c, d, sizeof(d)) : "nothing");
	if (rc != RX_OK || !(((c.rx.bhs[0] & ISCSI_OPCODE_MASK) == ISCSI_OP_REJECT &&
			      ((bad >> c.rx.bhs[2]) & 1)) ||
			     ((c.rx.bhs[0] & ISCSI_OPCODE_MASK) == ISCSI_OP_SCSI_RSP &&
			      c.rx.bhs[3] == ST_CHECK_COND)))
		ok = FAIL;
	/* Non-immediate, type 0xff AHS: afterwards CmdSN must go on from ExpCmdSN. */
	bhs_init(b, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | 1, c.itt++);
	bhs_seq(&c, b, c.cmdsn++);
	b[4] = 4;
	if (send_pdu(&c, b, ahs, NULL, 0, 0))
		ok = FAIL;
	rc = next_pdu(&c, 2000);
	rappend(r, "non-immediate TUR+16B AHS->%s; ",
		rc == RX_OK ? pdu_desc(&c, d, sizeof(d)) : "nothing");
	if (rc != RX_OK)
		ok = FAIL;
	c.cmdsn = c.exp_cmdsn;
	if (nop_cmd(&c, c.cmdsn, 2000)) {
		rappend(r, "non-immediate NOP-Out with CmdSN=ExpCmdSN %u: %s; ", c.cmdsn, c.why);
		ok = FAIL;
	} else {
		c.cmdsn++;
		rappend(r, "non-immediate NOP-Out answered; ");
	}
	/* Data-Out has no AHS either. */
	bhs_init(b, ISCSI_OP_DATA_OUT, ISCSI_FLAG_FINAL, 0x77777777);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	put_be32(b + 28, c.exp_statsn);
	b[4] = 1;
	if (send_pdu(&c, b, ahs, NULL, 0, 0) || expect_reject(&c, b, bad, r, "Data-Out+AHS"))
		ok = FAIL;
	if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

static int case_dsl_over_mrdsl(struct res *r)
{
	static uint8_t junk[1024];
	uint8_t b[ISCSI_BHS_LEN];
	uint32_t over;
	int ok = PASS, open;
	struct conn c;
	char seen[256];

	if (attacker(&c, false, false, r))
		return FAIL;
	over = c.xmit_dsl + 4;
	rappend(r, "target MaxRecvDataSegmentLength %u, sent %u; ", c.xmit_dsl, over);
	bhs_init(b, ISCSI_OP_NOP_OUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	bhs_seq(&c, b, c.cmdsn);
	put_be24(b + 5, over);
	/* The header and the start of the data: the length alone is the offence. */
	send_raw(&c, b, sizeof(b));
	send_raw(&c, junk, sizeof(junk));
	open = expect_close(&c, 2000, seen, sizeof(seen));
	rappend(r, "PDUs before close: [%s]; %s", seen,
		open ? "connection still open after 2 s" : "connection closed");
	if (open || strncmp(seen, "Reject(0x04)", 12))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

static int case_header_digest(struct res *r)
{
	uint8_t b[ISCSI_BHS_LEN];
	int ok = PASS, open;
	struct conn c;
	char seen[256];

	if (attacker(&c, true, false, r))
		return FAIL;
	if (!c.hd || !c.dd) {
		rappend(r, "target did not agree to CRC32C digests");
		conn_close(&c);
		return FAIL;
	}
	if (check_alive(&c, r)) {
		conn_close(&c);
		return FAIL;
	}
	bhs_init(b, ISCSI_OP_NOP_OUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	bhs_seq(&c, b, c.cmdsn);
	send_pdu(&c, b, NULL, NULL, 0, BAD_HDIG);
	open = expect_close(&c, 2000, seen, sizeof(seen));
	rappend(r, "after the bad header digest: PDUs [%s], %s", seen,
		open ? "connection still open" : "connection closed");
	if (open || seen[0])
		ok = FAIL;
	conn_close(&c);
	return ok;
}

static int case_data_digest_nop(struct res *r)
{
	uint8_t b[ISCSI_BHS_LEN], data[32];
	int ok = PASS;
	struct conn c;

	memset(data, 0x3c, sizeof(data));
	if (attacker(&c, true, false, r))
		return FAIL;
	if (!c.dd) {
		rappend(r, "target did not agree to DataDigest=CRC32C");
		conn_close(&c);
		return FAIL;
	}
	bhs_init(b, ISCSI_OP_NOP_OUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
	put_be32(b + 20, ISCSI_RSVD_TAG);
	bhs_seq(&c, b, c.cmdsn);
	put_be24(b + 5, sizeof(data));
	if (send_pdu(&c, b, NULL, data, sizeof(data), BAD_DDIG) ||
	    expect_reject(&c, b, REASON(ISCSI_REJECT_DATA_DIGEST), r, "NOP-Out bad data digest"))
		ok = FAIL;
	else if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

/* Sends WRITE(10) and waits for its first R2T (the session has InitialR2T=Yes). */
static int write_until_r2t(struct conn *c, uint32_t lba, uint32_t nblk, const uint8_t *buf,
			   uint32_t *itt, uint32_t *ttt, uint32_t *off, uint32_t *len,
			   struct res *r)
{
	uint32_t imm, unsol;
	uint8_t cdb[16];
	char d[64];
	int rc;

	cdb_rw10(cdb, 0x2a, lba, (uint16_t)nblk);
	*itt = scsi_send_cmd(c, cdb, false, true, buf, nblk * atomic_load(&g_block_size), &imm,
			     &unsol);
	if (!*itt) {
		rappend(r, "WRITE: %s; ", c->why);
		return -1;
	}
	rc = next_pdu(c, 2000);
	if (rc != RX_OK || (c->rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_R2T) {
		rappend(r, "WRITE: %s instead of an R2T; ",
			rc == RX_OK ? pdu_desc(c, d, sizeof(d)) : "nothing");
		return -1;
	}
	*ttt = get_be32(c->rx.bhs + 20);
	*off = get_be32(c->rx.bhs + 40);
	*len = get_be32(c->rx.bhs + 44);
	return 0;
}

/* Collects PDUs until the SCSI Response for itt; counts Rejects on the way. */
static int wait_status(struct conn *c, uint32_t itt, int ms, struct scsi_res *sr,
		       uint8_t *reject_reason, struct res *r)
{
	uint64_t dl = now_ms() + (uint64_t)ms;
	char d[64];

	memset(sr, 0, sizeof(*sr));
	for (;;) {
		int rc = next_pdu(c, ms_left(dl));
		const uint8_t *b = c->rx.bhs;

		if (rc != RX_OK) {
			rappend(r, "%s; ",
				rc == RX_TIMEOUT ? "no SCSI Response (the command hangs)"
						 : "connection closed before the SCSI Response");
			return -1;
		}
		rappend(r, "%s ", pdu_desc(c, d, sizeof(d)));
		if ((b[0] & ISCSI_OPCODE_MASK) == ISCSI_OP_REJECT) {
			if (reject_reason)
				*reject_reason = b[2];
			continue;
		}
		if ((b[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_SCSI_RSP || get_be32(b + 16) != itt)
			continue;
		sr->status = b[3];
		sr->response = b[2];
		if (c->rx.dlen >= 2) {
			sr->sense_len = MIN(get_be16(c->rx.data), c->rx.dlen - 2);
			sr->sense_len = MIN(sr->sense_len, (uint32_t)sizeof(sr->sense));
			memcpy(sr->sense, c->rx.data + 2, sr->sense_len);
			sense_decode(sr);
		}
		rappend(r, "[sense %x/%02x/%02x]; ", sr->key, sr->asc, sr->ascq);
		return 0;
	}
}

static int case_data_digest_dataout(struct res *r)
{
	uint32_t bs = atomic_load(&g_block_size), itt, ttt, off, len;
	uint8_t buf[4096], b[ISCSI_BHS_LEN], reason = 0;
	struct scsi_res sr;
	int ok = PASS;
	struct conn c;

	memset(buf, 0x42, sizeof(buf));
	if (attacker(&c, true, true, r))
		return FAIL;
	if (write_until_r2t(&c, ATTACK_LBA, sizeof(buf) / bs, buf, &itt, &ttt, &off, &len, r)) {
		conn_close(&c);
		return FAIL;
	}
	bhs_init(b, ISCSI_OP_DATA_OUT, ISCSI_FLAG_FINAL, itt);
	put_be24(b + 5, len);
	put_be32(b + 20, ttt);
	put_be32(b + 28, c.exp_statsn);
	put_be32(b + 40, off);
	send_pdu(&c, b, NULL, buf + off, len, BAD_DDIG);
	if (wait_status(&c, itt, 2000, &sr, &reason, r))
		ok = FAIL;
	else if (sr.status != ST_CHECK_COND || sr.key != SK_ABORTED || sr.asc != 0x47 ||
		 sr.ascq != 0x05)
		ok = FAIL;
	if (reason != ISCSI_REJECT_DATA_DIGEST) {
		rappend(r, "no Reject 0x02 for the Data-Out; ");
		ok = FAIL;
	}
	if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

/* ---- cases: CmdSN window ---- */

static int cmdsn_ignored(struct res *r, bool high)
{
	uint32_t e, m, bad[3];
	uint8_t b[ISCSI_BHS_LEN];
	int ok = PASS;
	struct conn c;

	if (attacker(&c, false, false, r))
		return FAIL;
	if (ping(&c, 2000)) {
		rappend(r, "first ping: %s", c.why);
		conn_close(&c);
		return FAIL;
	}
	e = c.exp_cmdsn;
	m = c.max_cmdsn;
	rappend(r, "window [%u, %u]; ", e, m);
	if (high) {
		bad[0] = m + 1;
		bad[1] = m + 0x10000;
		bad[2] = e + 0x7fffffff;
	} else {
		bad[0] = e - 1;
		bad[1] = e - 100;
		bad[2] = e - 0x7fffffff;
	}
	for (int i = 0; i < 3; i++) {
		int q;

		/* A NOP-Out that wants an answer, and a TEST UNIT READY. */
		bhs_init(b, ISCSI_OP_NOP_OUT, ISCSI_FLAG_FINAL, c.itt++);
		put_be32(b + 20, ISCSI_RSVD_TAG);
		bhs_seq(&c, b, bad[i]);
		send_pdu(&c, b, NULL, NULL, 0, 0);
		bhs_init(b, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | 1, c.itt++);
		bhs_seq(&c, b, bad[i]);
		send_pdu(&c, b, NULL, NULL, 0, 0);
		q = quiet(&c, QUIET_MS);
		if (q) {
			char d[64];

			rappend(r, "CmdSN %u answered: %s; ", bad[i],
				q > 0 ? pdu_desc(&c, d, sizeof(d)) : "connection closed");
			ok = FAIL;
		} else {
			rappend(r, "CmdSN %u ignored; ", bad[i]);
		}
	}
	if (ping(&c, 2000)) {
		rappend(r, "ping: %s; ", c.why);
		ok = FAIL;
	} else if (c.exp_cmdsn != e) {
		rappend(r, "ExpCmdSN moved from %u to %u; ", e, c.exp_cmdsn);
		ok = FAIL;
	} else {
		rappend(r, "ExpCmdSN still %u; ", e);
	}
	if (nop_cmd(&c, e, 2000)) {
		rappend(r, "NOP-Out with CmdSN=ExpCmdSN: %s; ", c.why);
		ok = FAIL;
	} else {
		rappend(r, "NOP-Out with CmdSN=ExpCmdSN answered, ExpCmdSN now %u", c.exp_cmdsn);
		if (c.exp_cmdsn != e + 1)
			ok = FAIL;
	}
	conn_close(&c);
	return ok;
}

static int case_cmdsn_high(struct res *r)
{
	return cmdsn_ignored(r, true);
}

static int case_cmdsn_low(struct res *r)
{
	return cmdsn_ignored(r, false);
}

/* ---- cases: login phase ---- */

static int case_login_in_ffp(struct res *r)
{
	struct text t = {.len = 0};
	uint8_t b[ISCSI_BHS_LEN];
	int ok = PASS;
	struct conn c;

	if (attacker(&c, false, false, r))
		return FAIL;
	text_add(&t, "InitiatorName=%s", g_o.initiator);
	text_add(&t, "TargetName=%s", g_o.iqn);
	bhs_init(b, ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE, LOGIN_T | LOGIN_CSG(1) | 3, c.itt++);
	put_be24(b + 5, t.len);
	memcpy(b + 8, c.isid, 6);
	put_be16(b + 14, c.tsih);
	bhs_seq(&c, b, c.cmdsn);
	if (send_pdu(&c, b, NULL, t.buf, t.len, 0) ||
	    expect_reject(&c, b, REASON(ISCSI_REJECT_PROTOCOL_ERROR), r, "Login in FFP"))
		ok = FAIL;
	else if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

/* The answer to a PDU sent as the first one: close, optionally after a Login reject. */
static bool closed_with_login_reject_at_most(struct conn *c, struct res *r, const char *label)
{
	char seen[256];
	int open = expect_close(c, 2000, seen, sizeof(seen));

	rappend(r, "%s->[%s]%s; ", label, seen, open ? " still open" : " closed");
	if (open)
		return false;
	return !seen[0] || (!strncmp(seen, "Login Response(0x02", 19) && !strchr(seen, ','));
}

static int case_scsi_before_login(struct res *r)
{
	uint8_t b[ISCSI_BHS_LEN];
	struct conn c;
	bool good;

	if (fresh_conn(&c, r))
		return FAIL;
	bhs_init(b, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | 1, 1);
	bhs_seq(&c, b, 1);
	send_pdu(&c, b, NULL, NULL, 0, 0);
	good = closed_with_login_reject_at_most(&c, r, "TEST UNIT READY");
	conn_close(&c);
	return good ? PASS : FAIL;
}

static int case_pdus_before_login(struct res *r)
{
	static const struct {
		uint8_t op, flags;
		const char *name;
	} pdus[] = {
		{ISCSI_OP_NOP_OUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, "NOP-Out"},
		{ISCSI_OP_TEXT_REQ, ISCSI_FLAG_FINAL, "Text"},
		{ISCSI_OP_LOGOUT_REQ | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, "Logout"},
		{ISCSI_OP_DATA_OUT, ISCSI_FLAG_FINAL, "Data-Out"},
		{ISCSI_OP_TASK_MGMT_REQ | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL | 1, "TMF"},
		{ISCSI_OP_SNACK_REQ, ISCSI_FLAG_FINAL, "SNACK"},
		{0x1c, ISCSI_FLAG_FINAL, "opcode 0x1c"},
	};
	uint8_t b[ISCSI_BHS_LEN];
	int ok = PASS;

	for (size_t i = 0; i < ARRAY_SIZE(pdus); i++) {
		struct conn c;

		if (fresh_conn(&c, r))
			return FAIL;
		bhs_init(b, pdus[i].op, pdus[i].flags, 5);
		put_be32(b + 20, ISCSI_RSVD_TAG);
		bhs_seq(&c, b, 1);
		send_pdu(&c, b, NULL, NULL, 0, 0);
		if (!closed_with_login_reject_at_most(&c, r, pdus[i].name))
			ok = FAIL;
		conn_close(&c);
	}
	return ok;
}

/* Sends one login request on a fresh connection and wants status class 02, then close. */
static bool login_refused(struct conn *c, uint8_t flags, const struct text *t, struct res *r,
			  const char *label, int want_status)
{
	char seen[256];
	int st, open;

	st = login_xchg(c, flags, t);
	if (st < 0) {
		rappend(r, "%s->%s; ", label, c->why);
		return false;
	}
	open = expect_close(c, 2000, seen, sizeof(seen));
	rappend(r, "%s->0x%04x%s%s; ", label, st, seen[0] ? " then " : "", seen);
	if (open) {
		rappend(r, "(connection left open); ");
		return false;
	}
	if (seen[0])
		return false;
	return want_status >= 0 ? st == want_status : (st >> 8) == 2;
}

static void ids(struct text *t, const char *auth)
{
	t->len = 0;
	text_add(t, "InitiatorName=%s", g_o.initiator);
	text_add(t, "TargetName=%s", g_o.iqn);
	text_add(t, "SessionType=Normal");
	if (auth)
		text_add(t, "AuthMethod=%s", auth);
}

static int case_login_bad_stage(struct res *r)
{
	static const struct {
		uint8_t flags;
		const char *name;
	} bad[] = {
		{LOGIN_T | LOGIN_CSG(2) | 3, "CSG=2"},
		{LOGIN_T | LOGIN_CSG(3) | 3, "CSG=3"},
		{LOGIN_T | LOGIN_CSG(1) | 0, "CSG=1->NSG=0"},
		{LOGIN_T | LOGIN_CSG(0) | 2, "NSG=2"},
		{LOGIN_T | LOGIN_C | LOGIN_CSG(0) | 1, "T+C"},
	};
	struct text *t = calloc(1, sizeof(*t));
	int ok = PASS;
	struct conn c;

	if (!t)
		return FAIL;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (fresh_conn(&c, r)) {
			ok = FAIL;
			break;
		}
		ids(t, "None");
		if (!login_refused(&c, bad[i].flags, t, r, bad[i].name, -1))
			ok = FAIL;
		conn_close(&c);
	}
	/* Back to the security stage after leaving it. */
	if (fresh_conn(&c, r) == 0) {
		int st;

		ids(t, "None");
		st = login_xchg(&c, LOGIN_T | LOGIN_CSG(0) | 1, t);
		if (st != 0) {
			rappend(r, "security stage: %d %s; ", st, st < 0 ? c.why : "");
			ok = FAIL;
		} else {
			t->len = 0;
			if (!login_refused(&c, LOGIN_T | LOGIN_CSG(0) | 1, t, r,
					   "CSG=0 again after NSG=1", -1))
				ok = FAIL;
		}
		conn_close(&c);
	} else {
		ok = FAIL;
	}
	free(t);
	return ok;
}

/* First request with the identity keys plus extra raw bytes; wants class 02. */
static bool garbage_first(struct text *t, const void *extra, uint32_t elen, bool with_ids,
			  struct res *r, const char *label)
{
	struct conn c;
	bool good;

	if (fresh_conn(&c, r))
		return false;
	if (with_ids)
		ids(t, "None");
	else
		t->len = 0;
	memcpy(t->buf + t->len, extra, elen);
	t->len += elen;
	good = login_refused(&c, LOGIN_T | LOGIN_CSG(0) | 1, t, r, label, -1);
	conn_close(&c);
	return good;
}

static int case_login_garbage_text(struct res *r)
{
	struct text *t = calloc(1, sizeof(*t));
	uint64_t seed = 42;
	uint8_t junk[200];
	char key[80], *big;
	int ok = PASS;
	struct conn c;

	big = malloc(9000);
	if (!t || !big) {
		free(t);
		free(big);
		return FAIL;
	}
	rng_fill(&seed, junk, sizeof(junk));
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = junk[i] ? junk[i] : 1; /* no NUL, so no key=value pair at all */
	if (!garbage_first(t, junk, sizeof(junk), false, r, "binary garbage"))
		ok = FAIL;
	if (!garbage_first(t, "InitiatorName\0", 14, false, r, "key without '='"))
		ok = FAIL;
	if (!garbage_first(t, "=value\0", 7, true, r, "empty key"))
		ok = FAIL;
	snprintf(key, sizeof(key), "InitiatorName=%s", g_o.initiator);
	if (!garbage_first(t, key, (uint32_t)strlen(key) + 1, true, r, "InitiatorName twice"))
		ok = FAIL;
	memset(key, 'K', 64);
	memcpy(key + 64, "=1", 3);
	if (!garbage_first(t, key, 67, true, r, "64-byte key"))
		ok = FAIL;
	if (!garbage_first(t, "MaxRecvDataSegmentLength=abc\0", 29, true, r, "bad MRDSL"))
		ok = FAIL;
	/* MaxBurstLength twice in the operational stage. */
	if (fresh_conn(&c, r) == 0) {
		ids(t, "None");
		if (login_xchg(&c, LOGIN_T | LOGIN_CSG(0) | 1, t) == 0) {
			t->len = 0;
			text_add(t, "MaxBurstLength=65536");
			text_add(t, "MaxBurstLength=131072");
			if (!login_refused(&c, LOGIN_T | LOGIN_CSG(1) | 3, t, r,
					   "MaxBurstLength twice", -1))
				ok = FAIL;
		} else {
			rappend(r, "security stage failed: %s; ", c.why);
			ok = FAIL;
		}
		conn_close(&c);
	}
	/* An 8193-byte value split over two PDUs with C=1 (RFC 7143 6.1: at most 8192). */
	if (fresh_conn(&c, r) == 0) {
		int st;

		ids(t, "None");
		memcpy(t->buf + t->len, "X-clusterd-long=", 16);
		memset(t->buf + t->len + 16, 'v', 8193);
		t->len += 16 + 8193;
		t->buf[t->len++] = 0;
		st = login_send(&c, LOGIN_C | LOGIN_CSG(0) | 1, 0, t->buf, 8000) ? -1
		     : next_pdu(&c, 2000) == RX_OK ? get_be16(c.rx.bhs + 36)
						   : -1;
		if (st != 0) {
			rappend(r, "8193-byte value: first part answered %d; ", st);
			ok = FAIL;
		} else {
			struct text tail = {.len = 0};

			memcpy(tail.buf, t->buf + 8000, t->len - 8000);
			tail.len = t->len - 8000;
			if (!login_refused(&c, LOGIN_T | LOGIN_CSG(0) | 1, &tail, r,
					   "8193-byte value", -1))
				ok = FAIL;
		}
		conn_close(&c);
	}
	/* 40 KiB of continuation parts: the target must give up, not buffer forever. */
	if (fresh_conn(&c, r) == 0) {
		int parts = 0, st = 0;
		char seen[256];

		memset(big, 'p', 8000);
		memcpy(big, "X-pad=", 6);
		for (parts = 0; parts < 5 && st == 0; parts++) {
			if (login_send(&c, LOGIN_C | LOGIN_CSG(0) | 1, 0, big, 8000) ||
			    next_pdu(&c, 2000) != RX_OK) {
				st = -1;
				break;
			}
			st = get_be16(c.rx.bhs + 36);
		}
		rappend(r, "40 KiB of C=1 parts->status 0x%04x after %d parts", st > 0 ? st : 0,
			parts);
		if ((st >> 8) != 2) {
			ok = FAIL;
		} else if (expect_close(&c, 2000, seen, sizeof(seen))) {
			rappend(r, " (left open)");
			ok = FAIL;
		}
		rappend(r, "; ");
		conn_close(&c);
	}
	/* A login data segment above 8192 bytes (RFC 7143 13.12 during login). */
	if (fresh_conn(&c, r) == 0) {
		memset(big, 'q', 9000);
		memcpy(big, "X-big=", 6);
		big[8999] = 0;
		if (login_send(&c, LOGIN_T | LOGIN_CSG(0) | 1, 0, big, 9000) == 0 &&
		    !closed_with_login_reject_at_most(&c, r, "9000-byte login data segment"))
			ok = FAIL;
		conn_close(&c);
	}
	free(t);
	free(big);
	return ok;
}

static int case_login_unknown_key(struct res *r)
{
	struct text t = {.len = 0};
	char v[64];
	int ok = PASS, st;
	struct conn c;

	if (fresh_conn(&c, r))
		return FAIL;
	ids(&t, "None");
	text_add(&t, "X-clusterd-bogus=1");
	text_add(&t, "FrobnicationLevel=11");
	st = login_xchg(&c, LOGIN_T | LOGIN_CSG(0) | 1, &t);
	rappend(r, "status %d; ", st);
	if (st != 0) {
		conn_close(&c);
		return FAIL;
	}
	for (int i = 0; i < 2; i++) {
		const char *k = i ? "FrobnicationLevel" : "X-clusterd-bogus";

		if (!text_find(c.rx.data, c.rx.dlen, k, v, sizeof(v)) ||
		    strcmp(v, "NotUnderstood")) {
			rappend(r, "%s not answered NotUnderstood; ", k);
			ok = FAIL;
		} else {
			rappend(r, "%s=NotUnderstood; ", k);
		}
	}
	t.len = 0;
	st = login_xchg(&c, LOGIN_T | LOGIN_CSG(1) | 3, &t);
	rappend(r, "operational stage status %d, %s", st,
		st == 0 && (c.rx.bhs[1] & LOGIN_T) ? "full feature phase" : "no transition");
	if (st != 0 || !(c.rx.bhs[1] & LOGIN_T))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

static int login_status_case(struct res *r, const char *iname, const char *tname, uint8_t version,
			     int want)
{
	struct text t = {.len = 0};
	uint8_t flags = LOGIN_T | LOGIN_CSG(0) | 1;
	char seen[256];
	int st, open;
	struct conn c;

	if (fresh_conn(&c, r))
		return FAIL;
	if (iname)
		text_add(&t, "InitiatorName=%s", iname);
	if (tname)
		text_add(&t, "TargetName=%s", tname);
	text_add(&t, "SessionType=Normal");
	text_add(&t, "AuthMethod=None");
	if (login_send(&c, flags, version, t.buf, t.len) || next_pdu(&c, 3000) != RX_OK ||
	    (c.rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_LOGIN_RSP) {
		rappend(r, "no Login Response");
		conn_close(&c);
		return FAIL;
	}
	st = get_be16(c.rx.bhs + 36);
	open = expect_close(&c, 2000, seen, sizeof(seen));
	rappend(r, "status 0x%04x, %s", st, open ? "connection left open" : "then closed");
	conn_close(&c);
	return st == want && !open ? PASS : FAIL;
}

static int case_unknown_target(struct res *r)
{
	return login_status_case(r, g_o.initiator, "iqn.2026-01.org.clusterd.test:no-such-target",
				 0, ISCSI_LOGIN_STATUS_TGT_NOT_FOUND);
}

static int case_no_initiator_name(struct res *r)
{
	return login_status_case(r, NULL, g_o.iqn, 0, ISCSI_LOGIN_STATUS_MISSING_FIELDS);
}

static int case_bad_version(struct res *r)
{
	return login_status_case(r, g_o.initiator, g_o.iqn, 1, ISCSI_LOGIN_STATUS_NO_VERSION);
}

static int case_acl_refused(struct res *r)
{
	return login_status_case(r, g_o.denied, g_o.iqn, 0, ISCSI_LOGIN_STATUS_TGT_FORBIDDEN);
}

/* ---- cases: CHAP target ---- */

static int chap_login(struct conn *c, enum chap_fault fault, const char *auth, bool skip_sec)
{
	struct login_opts o = {.iname = g_o.initiator,
			       .tname = g_o.chap_iqn,
			       .auth = auth,
			       .chap_user = auth && !strcmp(auth, "None") ? NULL : g_o.chap_user,
			       .chap_secret = g_o.chap_secret,
			       .fault = fault,
			       .skip_security = skip_sec,
			       .cmdsn = 7};

	if (conn_open(c, g_o.chap_host, g_o.chap_port))
		return -1;
	return login(c, &o);
}

static int case_chap_ok(struct res *r)
{
	struct conn c;
	int st;

	if (!g_o.chap_port) {
		rappend(r, "no --chap-portal given");
		return SKIP;
	}
	st = chap_login(&c, CHAP_OK, NULL, false);
	if (st) {
		rappend(r, "login: %s", st > 0 ? "refused" : c.why);
		if (st > 0)
			rappend(r, " 0x%04x", st);
		conn_close(&c);
		return FAIL;
	}
	rappend(r, "CHAP login reached full feature phase (TSIH %u); ", c.tsih);
	if (logout(&c)) {
		rappend(r, "logout: %s", c.why);
		conn_close(&c);
		return FAIL;
	}
	rappend(r, "logged out");
	conn_close(&c);
	return PASS;
}

static int case_chap_failure(struct res *r)
{
	static const struct {
		enum chap_fault fault;
		const char *auth;
		bool skip;
		const char *name;
	} v[] = {
		{CHAP_WRONG_R, NULL, false, "wrong CHAP_R"},
		{CHAP_UNKNOWN_N, NULL, false, "unknown CHAP_N"},
		{CHAP_BAD_HEX, NULL, false, "malformed CHAP_R"},
		{CHAP_OK, "None", false, "AuthMethod=None"},
		{CHAP_OK, NULL, true, "security stage skipped"},
	};
	int ok = PASS;

	if (!g_o.chap_port) {
		rappend(r, "no --chap-portal given");
		return SKIP;
	}
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char seen[256];
		struct conn c;
		int st = chap_login(&c, v[i].fault, v[i].auth, v[i].skip), open = 1;

		if (st > 0)
			open = expect_close(&c, 2000, seen, sizeof(seen));
		if (st > 0)
			rappend(r, "%s->0x%04x%s; ", v[i].name, st, open ? " (left open)" : "");
		else
			rappend(r, "%s->%s; ", v[i].name, st == 0 ? "logged in!" : c.why);
		if (st != ISCSI_LOGIN_STATUS_AUTH_FAILED || open)
			ok = FAIL;
		conn_close(&c);
	}
	return ok;
}

/* CHAP login that retries for up to ms while the target reports 0x0302. */
static int chap_login_retry(struct conn *c, unsigned ms)
{
	uint64_t dl = now_ms() + ms;
	int st;

	for (;;) {
		st = chap_login(c, CHAP_OK, NULL, false);
		if (st != ISCSI_LOGIN_STATUS_NO_RESOURCES || now_ms() >= dl)
			return st;
		conn_close(c);
		sleep_ms(100);
	}
}

static int case_too_many_sessions(struct res *r)
{
	unsigned n = g_o.max_sessions;
	struct conn *cs;
	struct conn extra;
	int ok = PASS, st;

	if (!g_o.chap_port || !n) {
		rappend(r, "no --chap-portal/--max-sessions given");
		return SKIP;
	}
	cs = calloc(n, sizeof(*cs));
	if (!cs)
		return FAIL;
	for (unsigned i = 0; i < n; i++) {
		st = chap_login_retry(&cs[i], 2000);
		if (st) {
			rappend(r, "session %u of %u refused: %d (0x%04x) %s; ", i + 1, n, st,
				st > 0 ? st : 0, st < 0 ? cs[i].why : "");
			ok = FAIL;
			for (unsigned j = 0; j <= i; j++)
				conn_close(&cs[j]);
			free(cs);
			return ok;
		}
	}
	rappend(r, "%u sessions logged in; ", n);
	st = chap_login(&extra, CHAP_OK, NULL, false);
	rappend(r, "session %u->%s0x%04x; ", n + 1, st < 0 ? "error " : "", st > 0 ? st : 0);
	if (st != ISCSI_LOGIN_STATUS_NO_RESOURCES)
		ok = FAIL;
	if (st == 0)
		logout(&extra);
	conn_close(&extra);
	if (logout(&cs[0])) {
		rappend(r, "logout of session 1: %s; ", cs[0].why);
		ok = FAIL;
	}
	conn_close(&cs[0]);
	st = chap_login_retry(&cs[0], 2000);
	rappend(r, "after one logout a new login->%d", st);
	if (st)
		ok = FAIL;
	for (unsigned i = 0; i < n; i++) {
		if (cs[i].fd >= 0)
			logout(&cs[i]);
		conn_close(&cs[i]);
	}
	free(cs);
	return ok;
}

/* ---- cases: Data-Out ---- */

static int case_dataout_unknown_ttt(struct res *r)
{
	uint32_t bs = atomic_load(&g_block_size), nblk = 4096 / bs;
	uint8_t b[ISCSI_BHS_LEN], a[4096], bbuf[4096], back[4096];
	struct scsi_res sr;
	uint8_t cdb[16];
	int ok = PASS, q;
	struct conn c;
	char d[64];

	memset(a, 0xaa, sizeof(a));
	memset(bbuf, 0xbb, sizeof(bbuf));
	if (attacker(&c, false, true, r))
		return FAIL;
	for (int i = 0; i < 2; i++) {
		bhs_init(b, ISCSI_OP_DATA_OUT, ISCSI_FLAG_FINAL, 0x0badc0de + (uint32_t)i);
		put_be24(b + 5, 512);
		put_be32(b + 20, i ? ISCSI_RSVD_TAG : 0x00c0ffee);
		put_be32(b + 28, c.exp_statsn);
		send_pdu(&c, b, NULL, bbuf, 512, 0);
		q = quiet(&c, QUIET_MS);
		rappend(r, "%s->%s; ", i ? "TTT 0xffffffff, unknown ITT" : "unknown TTT",
			q == 0	? "dropped"
			: q > 0 ? pdu_desc(&c, d, sizeof(d))
				: "closed");
		if (q)
			ok = FAIL;
	}
	/* A finished write, then its Data-Out again with other bytes. */
	cdb_rw10(cdb, 0x2a, ATTACK_LBA + 64, (uint16_t)nblk);
	if (scsi_exec(&c, cdb, false, true, a, sizeof(a), &sr, 2000) || sr.status != ST_GOOD ||
	    !sr.r2ts) {
		rappend(r, "WRITE: %s status 0x%02x r2ts %u; ", c.why, sr.status, sr.r2ts);
		conn_close(&c);
		return FAIL;
	}
	bhs_init(b, ISCSI_OP_DATA_OUT, ISCSI_FLAG_FINAL, sr.itt);
	put_be24(b + 5, sizeof(bbuf));
	put_be32(b + 20, sr.last_ttt);
	put_be32(b + 28, c.exp_statsn);
	send_pdu(&c, b, NULL, bbuf, sizeof(bbuf), 0);
	q = quiet(&c, QUIET_MS);
	rappend(r, "stale TTT 0x%08x->%s; ", sr.last_ttt,
		q == 0	? "dropped"
		: q > 0 ? pdu_desc(&c, d, sizeof(d))
			: "closed");
	if (q)
		ok = FAIL;
	cdb_rw10(cdb, 0x28, ATTACK_LBA + 64, (uint16_t)nblk);
	if (scsi_exec(&c, cdb, true, false, back, sizeof(back), &sr, 2000) ||
	    sr.status != ST_GOOD) {
		rappend(r, "READ back: %s; ", c.why);
		ok = FAIL;
	} else if (memcmp(back, a, sizeof(a))) {
		rappend(r, "READ back: the stale Data-Out was written; ");
		ok = FAIL;
	} else {
		rappend(r, "data unchanged; ");
	}
	if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

enum dataout_fault { DO_DATASN, DO_OFFSET, DO_OFFSET_HUGE, DO_OVERRUN };

static int dataout_fault_case(struct res *r, enum dataout_fault f)
{
	uint32_t bs = atomic_load(&g_block_size), itt, ttt, off, len, send_len;
	uint8_t buf[8192], b[ISCSI_BHS_LEN];
	struct scsi_res sr;
	int ok = PASS;
	struct conn c;

	memset(buf, 0x5d, sizeof(buf));
	if (attacker(&c, false, true, r))
		return FAIL;
	if (write_until_r2t(&c, ATTACK_LBA + 128, 4096 / bs, buf, &itt, &ttt, &off, &len, r)) {
		conn_close(&c);
		return FAIL;
	}
	send_len = f == DO_OVERRUN ? len + 4096 : len;
	bhs_init(b, ISCSI_OP_DATA_OUT, ISCSI_FLAG_FINAL, itt);
	put_be24(b + 5, send_len);
	put_be32(b + 20, ttt);
	put_be32(b + 28, c.exp_statsn);
	put_be32(b + 36, f == DO_DATASN ? 7 : 0);
	put_be32(b + 40, f == DO_OFFSET ? off + 512 : f == DO_OFFSET_HUGE ? 0xfffffe00u : off);
	send_pdu(&c, b, NULL, buf, send_len, 0);
	if (wait_status(&c, itt, 2000, &sr, NULL, r) || sr.status != ST_CHECK_COND ||
	    sr.key != SK_ABORTED)
		ok = FAIL;
	if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

static int case_dataout_datasn(struct res *r)
{
	return dataout_fault_case(r, DO_DATASN);
}

static int case_dataout_offset(struct res *r)
{
	int a = dataout_fault_case(r, DO_OFFSET);
	int b = dataout_fault_case(r, DO_OFFSET_HUGE);

	return a == PASS && b == PASS ? PASS : FAIL;
}

static int case_dataout_overrun(struct res *r)
{
	return dataout_fault_case(r, DO_OVERRUN);
}

/* ---- cases: TMF, SNACK, Text ---- */

static int tmf(struct conn *c, uint8_t fn, uint64_t lun, bool imm, uint32_t ref_itt,
	       uint32_t ref_cmdsn, struct res *r, const char *label, int want)
{
	uint8_t b[ISCSI_BHS_LEN];
	uint32_t itt = c->itt++;
	char d[64];
	int rc;

	bhs_init(b, ISCSI_OP_TASK_MGMT_REQ | (imm ? ISCSI_FLAG_IMMEDIATE : 0),
		 ISCSI_FLAG_FINAL | fn, itt);
	b[9] = (uint8_t)lun;
	put_be32(b + 20, ref_itt);
	bhs_seq(c, b, imm ? c->cmdsn : c->cmdsn++);
	put_be32(b + 32, ref_cmdsn);
	send_pdu(c, b, NULL, NULL, 0, 0);
	rc = next_pdu(c, 2000);
	if (rc != RX_OK) {
		rappend(r, "%s->%s; ", label, rc == RX_TIMEOUT ? "no answer" : "closed");
		return -1;
	}
	rappend(r, "%s->%s; ", label, pdu_desc(c, d, sizeof(d)));
	if ((c->rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_TASK_MGMT_RSP ||
	    get_be32(c->rx.bhs + 16) != itt || c->rx.bhs[2] != want)
		return -1;
	return 0;
}

static int case_tmf_unknown(struct res *r)
{
	int ok = PASS;
	struct conn c;

	if (attacker(&c, false, false, r))
		return FAIL;
	if (tmf(&c, ISCSI_TMF_ABORT_TASK, 0, true, 0x5555aaaa, c.exp_cmdsn + 100000, r,
		"ABORT TASK unknown (immediate)", ISCSI_TMF_RSP_NO_TASK))
		ok = FAIL;
	if (tmf(&c, ISCSI_TMF_ABORT_TASK, 0, false, 0x5555aaab, c.cmdsn + 50000, r,
		"ABORT TASK unknown (CmdSN)", ISCSI_TMF_RSP_NO_TASK))
		ok = FAIL;
	else if (c.exp_cmdsn != c.cmdsn) {
		rappend(r, "ExpCmdSN %u after the TMF, want %u; ", c.exp_cmdsn, c.cmdsn);
		ok = FAIL;
	}
	if (tmf(&c, ISCSI_TMF_ABORT_TASK_SET, 200, true, ISCSI_RSVD_TAG, 0, r,
		"ABORT TASK SET on LUN 200", ISCSI_TMF_RSP_NO_LUN))
		ok = FAIL;
	if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

static int case_snack(struct res *r)
{
	static const struct {
		uint8_t type;
		uint32_t itt;
		uint32_t reasons;
		const char *name;
	} v[] = {
		{0, 0x1234, REASON(ISCSI_REJECT_SNACK), "Data/R2T SNACK"},
		{1, ISCSI_RSVD_TAG, REASON(ISCSI_REJECT_SNACK), "Status SNACK"},
		{2, 0x1235, REASON(ISCSI_REJECT_SNACK), "DataACK SNACK"},
		{0x0f, 0x1236, REASON(ISCSI_REJECT_SNACK) | REASON(ISCSI_REJECT_PROTOCOL_ERROR),
		 "reserved type 15"},
	};
	uint8_t b[ISCSI_BHS_LEN];
	int ok = PASS;
	struct conn c;

	if (attacker(&c, false, false, r))
		return FAIL;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		bhs_init(b, ISCSI_OP_SNACK_REQ, ISCSI_FLAG_FINAL | v[i].type, v[i].itt);
		put_be32(b + 20, ISCSI_RSVD_TAG);
		put_be32(b + 28, c.exp_statsn);
		if (send_pdu(&c, b, NULL, NULL, 0, 0) ||
		    expect_reject(&c, b, v[i].reasons, r, v[i].name))
			ok = FAIL;
	}
	if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

static int case_text_garbage(struct res *r)
{
	uint8_t b[ISCSI_BHS_LEN], junk[300];
	uint64_t seed = 7;
	int ok = PASS, rc;
	struct conn c;
	char d[64];

	rng_fill(&seed, junk, sizeof(junk));
	if (attacker(&c, false, false, r))
		return FAIL;
	bhs_init(b, ISCSI_OP_TEXT_REQ | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
	put_be24(b + 5, sizeof(junk));
	put_be32(b + 20, ISCSI_RSVD_TAG);
	bhs_seq(&c, b, c.cmdsn);
	send_pdu(&c, b, NULL, junk, sizeof(junk), 0);
	rc = next_pdu(&c, 2000);
	rappend(r, "binary Text Request->%s; ",
		rc == RX_OK	   ? pdu_desc(&c, d, sizeof(d))
		: rc == RX_TIMEOUT ? "nothing"
				   : "closed");
	if (rc != RX_OK || ((c.rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_REJECT &&
			    (c.rx.bhs[0] & ISCSI_OPCODE_MASK) != ISCSI_OP_TEXT_RSP))
		ok = FAIL;
	if (check_alive(&c, r))
		ok = FAIL;
	conn_close(&c);
	return ok;
}

/* ---- cases: teardown under abuse ---- */

static void truncated_ffp(struct res *r, int kind)
{
	uint32_t bs = atomic_load(&g_block_size), itt, ttt, off, len;
	uint8_t b[ISCSI_BHS_LEN], buf[8192] = {0}, cdb[16];
	struct conn c;

	if (attacker(&c, false, kind == 2, r))
		return;
	switch (kind) {
	case 0: /* 20 bytes of a BHS */
		bhs_init(b, ISCSI_OP_NOP_OUT | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
		send_raw(&c, b, 20);
		break;
	case 1: /* WRITE with 8 KiB immediate data announced, 100 bytes sent */
		cdb_rw10(cdb, 0x2a, ATTACK_LBA + 256, (uint16_t)(8192 / bs));
		bhs_init(b, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | ISCSI_CMD_F_WRITE | 1, c.itt++);
		put_be24(b + 5, MIN(8192u, c.first_burst));
		put_be32(b + 20, 8192);
		bhs_seq(&c, b, c.cmdsn++);
		memcpy(b + 32, cdb, 16);
		send_raw(&c, b, sizeof(b));
		send_raw(&c, buf, 100);
		break;
	case 2: /* half a solicited Data-Out */
		if (write_until_r2t(&c, ATTACK_LBA + 256, 4096 / bs, buf, &itt, &ttt, &off, &len,
				    r))
			break;
		bhs_init(b, ISCSI_OP_DATA_OUT, ISCSI_FLAG_FINAL, itt);
		put_be24(b + 5, len);
		put_be32(b + 20, ttt);
		put_be32(b + 40, off);
		send_raw(&c, b, sizeof(b));
		send_raw(&c, buf, len / 2);
		break;
	case 3: /* a command held behind a CmdSN gap */
		bhs_init(b, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | 1, c.itt++);
		bhs_seq(&c, b, c.cmdsn + 5);
		send_pdu(&c, b, NULL, NULL, 0, 0);
		sleep_ms(50);
		break;
	default: /* a 1 MiB READ whose Data-In nobody reads */
		cdb_rw10(cdb, 0x28, ATTACK_LBA, (uint16_t)((1u << 20) / bs));
		bhs_init(b, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | ISCSI_CMD_F_READ | 1, c.itt++);
		put_be32(b + 20, 1u << 20);
		bhs_seq(&c, b, c.cmdsn++);
		memcpy(b + 32, cdb, 16);
		send_pdu(&c, b, NULL, NULL, 0, 0);
		sleep_ms(50);
		conn_reset(&c);
		return;
	}
	conn_close(&c);
}

static int case_truncated(struct res *r)
{
	int base = target_fds(), after, ok = PASS;
	uint8_t b[ISCSI_BHS_LEN], junk[100] = {0};

	for (int kind = 0; kind < 5; kind++)
		truncated_ffp(r, kind);
	for (int kind = 0; kind < 2; kind++) {
		struct conn c;

		if (fresh_conn(&c, r))
			continue;
		bhs_init(b, ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE, LOGIN_T | LOGIN_CSG(0) | 1,
			 1);
		put_be24(b + 5, 500);
		send_raw(&c, b, kind ? sizeof(b) : 30);
		if (kind)
			send_raw(&c, junk, sizeof(junk));
		conn_close(&c);
	}
	if (base >= 0) {
		after = target_fds_settle(base, 3000);
		rappend(r, "target fds %d before, %d after; ", base, after);
		if (after > base)
			ok = FAIL;
	}
	if (g_o.chap_port && g_o.max_sessions) {
		unsigned n = 2 * g_o.max_sessions + 1;
		struct conn c;
		int st = 0;

		for (unsigned i = 0; i < n; i++) {
			st = chap_login_retry(&c, 2000);
			if (st) {
				conn_close(&c);
				break;
			}
			bhs_init(b, ISCSI_OP_SCSI_CMD, ISCSI_FLAG_FINAL | ISCSI_CMD_F_WRITE | 1,
				 c.itt++);
			put_be24(b + 5, 512);
			put_be32(b + 20, 512);
			send_raw(&c, b, sizeof(b));
			conn_close(&c);
		}
		rappend(r, "%u truncated sessions on the CHAP target (limit %u): %s", n,
			g_o.max_sessions, st ? "a login was refused" : "every login accepted");
		if (st) {
			rappend(r, " (0x%04x)", st > 0 ? st : 0);
			ok = FAIL;
		}
	}
	return ok;
}

/* Sends garbage until the target closes; returns bytes sent, or -1 if it never closed. */
static long garbage_until_close(struct conn *c, uint64_t seed)
{
	uint8_t chunk[16384];
	long sent = 0;
	uint64_t dl = now_ms() + 3000;

	while (sent < (2l << 20) && now_ms() < dl) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		uint8_t sink[4096];

		if (poll(&pfd, 1, 0) > 0) {
			ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN))
				return sent;
			continue;
		}
		rng_fill(&seed, chunk, sizeof(chunk));
		if (send_raw(c, chunk, sizeof(chunk)))
			return sent;
		sent += (long)sizeof(chunk);
	}
	for (;;) {
		uint8_t sink[4096];
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, ms_left(dl)) <= 0)
			return -1;
		n = recv(c->fd, sink, sizeof(sink), 0);
		if (n <= 0)
			return sent;
	}
}

static int case_garbage(struct res *r)
{
	int ok = PASS, closed = 0, total = 0;

	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct conn c;
		long n;

		if (seed <= 16 ? attacker(&c, false, false, r) : fresh_conn(&c, r)) {
			ok = FAIL;
			continue;
		}
		total++;
		n = garbage_until_close(&c, seed * 0x100000001b3ull);
		if (n < 0) {
			rappend(r, "seed %llu (%s login): not closed within 3 s; ",
				(unsigned long long)seed, seed <= 16 ? "after" : "before");
			ok = FAIL;
		} else {
			closed++;
		}
		conn_close(&c);
		if (!target_alive(g_o.pid))
			break;
	}
	rappend(r, "%d of %d garbage connections closed by the target", closed, total);
	return ok;
}

enum { SL_SILENT, SL_TRICKLE, SL_STALLED, SL_CONTINUE, SL_N };

static int case_slowloris(struct res *r)
{
	static const char *const names[SL_N] = {"silent", "trickle", "stalled after security",
						"endless C=1"};
	unsigned t = g_o.login_timeout_ms;
	struct conn c[SL_N];
	uint64_t start[SL_N], closed[SL_N] = {0}, next_act[SL_N] = {0};
	struct text req = {.len = 0};
	uint8_t reqpdu[ISCSI_BHS_LEN + 512];
	size_t req_len = 0, trickled = 0;
	int ok = PASS;

	if (!t) {
		rappend(r, "no --login-timeout-ms given: the target's login timeout is unknown");
		return SKIP;
	}
	ids(&req, "None");
	bhs_init(reqpdu, ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE, LOGIN_T | LOGIN_CSG(0) | 1, 1);
	put_be24(reqpdu + 5, req.len);
	memcpy(reqpdu + ISCSI_BHS_LEN, req.buf, req.len);
	req_len = ISCSI_BHS_LEN + ((req.len + 3) & ~3u);
	for (int i = 0; i < SL_N; i++) {
		if (fresh_conn(&c[i], r)) {
			for (int j = 0; j < i; j++)
				conn_close(&c[j]);
			return FAIL;
		}
		start[i] = now_ms();
	}
	if (login_xchg(&c[SL_STALLED], LOGIN_T | LOGIN_CSG(0) | 1, &req) != 0) {
		rappend(r, "stalled: security stage failed: %s; ", c[SL_STALLED].why);
		ok = FAIL;
	}
	while (now_ms() < start[0] + t + 2500) {
		uint64_t now = now_ms();
		bool all = true;

		for (int i = 0; i < SL_N; i++) {
			struct pollfd pfd = {.fd = c[i].fd, .events = POLLIN};
			uint8_t sink[4096];

			if (closed[i])
				continue;
			all = false;
			while (poll(&pfd, 1, 0) > 0) {
				ssize_t n = recv(c[i].fd, sink, sizeof(sink), MSG_DONTWAIT);

				if (n == 0 || (n < 0 && errno != EAGAIN)) {
					closed[i] = now;
					break;
				}
				if (n < 0)
					break;
			}
			if (closed[i] || now < next_act[i])
				continue;
			if (i == SL_TRICKLE && trickled < req_len) {
				if (send_raw(&c[i], reqpdu + trickled, 1) == 0)
					trickled++;
				next_act[i] = now + 200;
			} else if (i == SL_CONTINUE) {
				static const char part[] = "X-slow=aaaaaaaaaaaaaaaa";

				login_send(&c[i], LOGIN_C | LOGIN_CSG(0) | 1, 0, part,
					   sizeof(part));
				next_act[i] = now + 300;
			}
		}
		if (all)
			break;
		sleep_ms(20);
	}
	for (int i = 0; i < SL_N; i++) {
		if (!closed[i]) {
			rappend(r, "%s: still open after %u ms; ", names[i], t + 2500);
			ok = FAIL;
		} else {
			long dt = (long)(closed[i] - start[i]);

			rappend(r, "%s: closed after %ld ms; ", names[i], dt);
			if (dt < (long)t - 100 || dt > (long)t + 1500)
				ok = FAIL;
		}
		conn_close(&c[i]);
	}
	return ok;
}

static long g_cycle_log_lines = -1;

static int case_connect_cycles(struct res *r)
{
	struct text req = {.len = 0};
	uint8_t pdu[ISCSI_BHS_LEN + 512];
	int base = target_fds(), after, ok = PASS;
	unsigned fails = 0;
	uint64_t t0 = now_ms();
	long off = 0;

	ids(&req, "None");
	bhs_init(pdu, ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE, LOGIN_T | LOGIN_CSG(0) | 1, 1);
	put_be24(pdu + 5, req.len);
	memcpy(pdu + ISCSI_BHS_LEN, req.buf, req.len);
	log_lines(0, &off);
	for (unsigned i = 0; i < g_o.cycles; i++) {
		struct conn c;

		if (conn_open(&c, g_o.host, g_o.port)) {
			fails++;
			conn_close(&c);
			continue;
		}
		switch (i % 4) {
		case 0:
			conn_close(&c);
			break;
		case 1:
			conn_reset(&c);
			break;
		case 2:
			send_raw(&c, pdu, 10);
			conn_close(&c);
			break;
		default:
			send_raw(&c, pdu, ISCSI_BHS_LEN + ((req.len + 3) & ~3u));
			conn_close(&c);
			break;
		}
	}
	rappend(r, "%u cycles in %llu ms, %u connects failed; ", g_o.cycles,
		(unsigned long long)(now_ms() - t0), fails);
	if (fails)
		ok = FAIL;
	if (base >= 0) {
		after = target_fds_settle(base, 3000);
		rappend(r, "target fds %d before, %d after; ", base, after);
		if (after > base)
			ok = FAIL;
	}
	sleep_ms(300);
	g_cycle_log_lines = log_lines(off, NULL);
	if (g_cycle_log_lines >= 0)
		rappend(r, "log grew by %ld lines", g_cycle_log_lines);
	return ok;
}

static int case_log_rate_limited(struct res *r)
{
	uint8_t b[ISCSI_BHS_LEN];
	long total, suppressed;
	int ok = PASS;
	struct conn c;

	if (!g_o.log) {
		rappend(r, "no --log given");
		return SKIP;
	}
	/* One more malformed PDU after the rate-limit window of the flood has passed. */
	if (g_flood_end_ms && now_ms() < g_flood_end_ms + 6000)
		sleep_ms((unsigned)(g_flood_end_ms + 6000 - now_ms()));
	if (attacker(&c, false, false, r) == 0) {
		bhs_init(b, 0x1d | ISCSI_FLAG_IMMEDIATE, ISCSI_FLAG_FINAL, c.itt++);
		bhs_seq(&c, b, c.cmdsn);
		send_pdu(&c, b, NULL, NULL, 0, 0);
		next_pdu(&c, 2000);
		conn_close(&c);
	}
	sleep_ms(300);
	total = log_lines(0, NULL);
	suppressed = log_count("similar messages suppressed");
	rappend(r,
		"log has %ld lines, %ld 'suppressed' notes; the %u connect cycles added %ld "
		"lines",
		total, suppressed, g_o.cycles, g_cycle_log_lines);
	if (suppressed < 1 || total >= 1000 || g_cycle_log_lines > 100)
		ok = FAIL;
	return ok;
}

static int case_fresh_login(struct res *r)
{
	uint8_t w[8192], back[8192];
	uint64_t seed = 99;
	struct conn c;
	int ok = PASS;
	uint32_t bs = atomic_load(&g_block_size);

	rng_fill(&seed, w, sizeof(w));
	if (attacker(&c, false, false, r))
		return FAIL;
	if (rw(&c, true, ATTACK_LBA + 512, sizeof(w) / bs, w, 2000, NULL) ||
	    rw(&c, false, ATTACK_LBA + 512, sizeof(back) / bs, back, 2000, NULL)) {
		rappend(r, "I/O: %s; ", c.why);
		ok = FAIL;
	} else if (memcmp(w, back, sizeof(w))) {
		rappend(r, "read back differs; ");
		ok = FAIL;
	} else {
		rappend(r, "8 KiB written and read back; ");
	}
	if (logout(&c)) {
		rappend(r, "logout: %s", c.why);
		ok = FAIL;
	} else {
		rappend(r, "logged out");
	}
	conn_close(&c);
	return ok;
}

/* ---- the runner ---- */

/*
 * Cases that leave a task waiting for data when the connection goes come
 * last among the hostile ones, followed by the checks of the whole run.
 */

struct tcase {
	const char *name;
	const char *expect;
	int (*fn)(struct res *r);
};

static const struct tcase cases[] = {
	{"reserved-opcode",
	 "reserved opcodes 0x07 0x08 0x0f 0x11 0x1c 0x1e 0x3e (one with data) each answered by "
	 "Reject 0x05 carrying our header; session lives",
	 case_reserved_opcode},
	{"target-opcode-from-initiator",
	 "target-only opcodes 0x20-0x26 0x31 0x32 0x3f from the initiator: Reject 0x04 or 0x05 "
	 "each; session lives",
	 case_target_opcodes},
	{"reject-flood",
	 "30 reserved-opcode PDUs in one burst: 30 Rejects, session lives, log grows by at most "
	 "20 lines",
	 case_reject_flood},
	{"nop-burst-within-window",
	 "64 non-immediate NOP-Outs in one burst, all inside [ExpCmdSN, MaxCmdSN]: 64 NOP-Ins "
	 "in order, connection stays up",
	 case_nop_burst},
	{"ahs-garbage",
	 "AHS on NOP-Out/Data-Out and garbage AHS on SCSI commands: Reject (0x04/0x05/0x09) or "
	 "CHECK CONDITION each, framing kept, non-immediate NOP-Out at ExpCmdSN answered",
	 case_ahs_garbage},
	{"dsl-over-mrdsl",
	 "DataSegmentLength above the target's MaxRecvDataSegmentLength: Reject 0x04, then the "
	 "connection closes",
	 case_dsl_over_mrdsl},
	{"header-digest-error",
	 "with HeaderDigest=CRC32C, a PDU with a wrong header digest: no answer, connection "
	 "closed (RFC 7143 7.8)",
	 case_header_digest},
	{"data-digest-error-nop",
	 "with DataDigest=CRC32C, a NOP-Out with a wrong data digest: Reject 0x02 with our "
	 "header, PDU discarded; session lives (RFC 7143 7.8)",
	 case_data_digest_nop},
	{"cmdsn-beyond-window",
	 "NOP-Out and SCSI command with CmdSN > MaxCmdSN: silently ignored, ExpCmdSN "
	 "unchanged, CmdSN=ExpCmdSN then answered (RFC 7143 4.2.2.1)",
	 case_cmdsn_high},
	{"cmdsn-too-low",
	 "NOP-Out and SCSI command with CmdSN < ExpCmdSN: silently ignored, ExpCmdSN unchanged, "
	 "CmdSN=ExpCmdSN then answered",
	 case_cmdsn_low},
	{"login-in-ffp", "Login Request in full feature phase: Reject 0x04; session lives",
	 case_login_in_ffp},
	{"scsi-cmd-before-login",
	 "SCSI Command as the first PDU: connection closed without a SCSI Response (a Login "
	 "reject 02xx first is accepted)",
	 case_scsi_before_login},
	{"non-login-pdus-before-login",
	 "NOP-Out, Text, Logout, Data-Out, TMF, SNACK, reserved opcode before login: connection "
	 "closed each time (nothing but a Login reject 02xx before)",
	 case_pdus_before_login},
	{"login-bad-stage",
	 "CSG=2, CSG=3, NSG<CSG, NSG=2, T+C, CSG=0 after leaving it: status class 02, then "
	 "close",
	 case_login_bad_stage},
	{"login-garbage-text",
	 "binary text, key without '=', empty key, duplicate InitiatorName, 64-byte key, bad "
	 "MaxRecvDataSegmentLength, duplicate MaxBurstLength, 8193-byte value (C=1), 40 KiB of "
	 "C=1 parts: status class 02 then close; 9000-byte login data segment: close",
	 case_login_garbage_text},
	{"login-unknown-key",
	 "unknown keys answered NotUnderstood, the login still completes (RFC 7143 6.2)",
	 case_login_unknown_key},
	{"login-unknown-target", "status 0x0203, then close", case_unknown_target},
	{"login-no-initiator-name", "status 0x0207, then close", case_no_initiator_name},
	{"login-unsupported-version", "Version-min 1: status 0x0205, then close", case_bad_version},
	{"login-acl-refused", "initiator not on the allow list: status 0x0202, then close",
	 case_acl_refused},
	{"chap-login-ok", "correct CHAP login reaches full feature phase and logs out",
	 case_chap_ok},
	{"chap-failure",
	 "wrong CHAP_R, unknown CHAP_N, malformed CHAP_R, AuthMethod=None, security stage "
	 "skipped: status 0x0201, then close",
	 case_chap_failure},
	{"too-many-sessions",
	 "max-sessions logins succeed, the next gets 0x0302; after a logout a login succeeds "
	 "again",
	 case_too_many_sessions},
	{"data-out-unknown-ttt",
	 "Data-Out with unknown TTT, with TTT 0xffffffff for an unknown ITT, with the stale TTT "
	 "of a finished write: dropped silently, nothing written; session lives",
	 case_dataout_unknown_ttt},
	{"data-out-wrong-datasn",
	 "Data-Out with DataSN 7 instead of 0: CHECK CONDITION, sense key ABORTED COMMAND; "
	 "session lives",
	 case_dataout_datasn},
	{"data-out-wrong-offset",
	 "Data-Out at offset 512 instead of 0, and at 0xfffffe00: CHECK CONDITION ABORTED "
	 "COMMAND; session lives",
	 case_dataout_offset},
	{"data-out-overrun",
	 "Data-Out carrying 4 KiB more than the R2T asked: CHECK CONDITION ABORTED COMMAND; "
	 "session lives",
	 case_dataout_overrun},
	{"tmf-unknown-task",
	 "ABORT TASK of an unknown task with RefCmdSN outside the window: response 1; ABORT "
	 "TASK SET on LUN 200: response 2; session lives (RFC 7143 11.5.1, 11.6.1)",
	 case_tmf_unknown},
	{"snack",
	 "SNACK at ErrorRecoveryLevel 0: Reject 0x03 (reserved type: 0x03/0x04); session lives",
	 case_snack},
	{"text-garbage-ffp", "binary Text Request: Reject or Text Response; session lives",
	 case_text_garbage},
	{"garbage-after-login",
	 "random bytes after login (16 seeds) and before login (4 seeds): the target closes "
	 "each connection within 3 s and lives",
	 case_garbage},
	{"slowloris-login",
	 "silent, byte-trickling, stalled and endless-continuation logins closed between the "
	 "login timeout and 1.5 s after it",
	 case_slowloris},
	{"connect-cycles",
	 "connect/disconnect cycles (close, RST, partial BHS, unread login answer): no failed "
	 "connect, descriptors back to the baseline",
	 case_connect_cycles},
	{"data-digest-error-data-out",
	 "the only (F=1) solicited Data-Out with a wrong data digest: Reject 0x02, then SCSI "
	 "Response CHECK CONDITION 0B/47/05 (RFC 7143 7.8 b, 11.4.7.2); session lives",
	 case_data_digest_dataout},
	{"truncated-pdu",
	 "partial BHS, partial immediate data, partial Data-Out, held command, unread 1 MiB "
	 "READ, partial login PDUs, then close: every descriptor and session released",
	 case_truncated},
	{"log-rate-limited",
	 "the log shows 'similar messages suppressed', the connect cycles added at most 100 "
	 "lines, the whole log is under 1000 lines",
	 case_log_rate_limited},
	{"fresh-login-after", "a new session logs in, writes and reads back 8 KiB, logs out",
	 case_fresh_login},
};

static bool selected(const char *name)
{
	const char *p = g_o.only;
	size_t n = strlen(name);

	if (!p)
		return true;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, name, n))
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

static void report(int verdict, const char *name, const char *expect, const char *got,
		   unsigned *passed, unsigned *failed)
{
	static const char *const v[] = {"PASS", "FAIL", "SKIP"};

	printf("%s %s: expected %s; got %s\n", v[verdict], name, expect, got);
	fflush(stdout);
	if (verdict == PASS)
		(*passed)++;
	else if (verdict == FAIL)
		(*failed)++;
}

static bool parse_portal(const char *s, char *host, size_t len, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	unsigned long p;

	if (!colon || (size_t)(colon - s) >= len)
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	p = strtoul(colon + 1, NULL, 10);
	if (!p || p > 65535)
		return false;
	*port = (uint16_t)p;
	return true;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: iscsi-badinput --portal HOST:PORT --iqn IQN [--pid PID] [--log FILE]\n"
		"       [--chap-portal HOST:PORT --chap-iqn IQN --chap-user U --chap-secret S]\n"
		"       [--max-sessions N] [--initiator IQN] [--healthy IQN] [--denied IQN]\n"
		"       [--login-timeout-ms MS] [--cycles N] [--only NAME,...] [--list]\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"portal", required_argument, NULL, 'p'},
		{"iqn", required_argument, NULL, 'q'},
		{"chap-portal", required_argument, NULL, 'P'},
		{"chap-iqn", required_argument, NULL, 'Q'},
		{"chap-user", required_argument, NULL, 'u'},
		{"chap-secret", required_argument, NULL, 's'},
		{"max-sessions", required_argument, NULL, 'm'},
		{"initiator", required_argument, NULL, 'i'},
		{"healthy", required_argument, NULL, 'H'},
		{"denied", required_argument, NULL, 'D'},
		{"login-timeout-ms", required_argument, NULL, 't'},
		{"pid", required_argument, NULL, 'k'},
		{"log", required_argument, NULL, 'l'},
		{"cycles", required_argument, NULL, 'c'},
		{"only", required_argument, NULL, 'o'},
		{"list", no_argument, NULL, 'L'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (!parse_portal(optarg, g_o.host, sizeof(g_o.host), &g_o.port))
				return -1;
			break;
		case 'q':
			g_o.iqn = optarg;
			break;
		case 'P':
			if (!parse_portal(optarg, g_o.chap_host, sizeof(g_o.chap_host),
					  &g_o.chap_port))
				return -1;
			break;
		case 'Q':
			g_o.chap_iqn = optarg;
			break;
		case 'u':
			g_o.chap_user = optarg;
			break;
		case 's':
			g_o.chap_secret = optarg;
			break;
		case 'm':
			g_o.max_sessions = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			g_o.initiator = optarg;
			break;
		case 'H':
			g_o.healthy_name = optarg;
			break;
		case 'D':
			g_o.denied = optarg;
			break;
		case 't':
			g_o.login_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			g_o.pid = (pid_t)strtol(optarg, NULL, 10);
			break;
		case 'l':
			g_o.log = optarg;
			break;
		case 'c':
			g_o.cycles = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			g_o.only = optarg;
			break;
		case 'L':
			for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
				printf("%s\n", cases[i].name);
			exit(0);
		case 'v':
			g_o.verbose = true;
			break;
		default:
			return -1;
		}
	}
	if (!g_o.port || !g_o.iqn)
		return -1;
	if (g_o.chap_port && (!g_o.chap_iqn || !g_o.chap_user || !g_o.chap_secret))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	uint64_t dl;
	struct res r;
	bool dead = false;

	if (parse_args(argc, argv)) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_create(&g_h.th, NULL, healthy_main, NULL)) {
		fprintf(stderr, "iscsi-badinput: cannot start the healthy session\n");
		return 2;
	}
	dl = now_ms() + 5000;
	while (now_ms() < dl && atomic_load(&g_h.ops) < 10)
		sleep_ms(20);
	if (atomic_load(&g_h.ops) < 10) {
		memset(&r, 0, sizeof(r));
		pthread_mutex_lock(&g_h.mu);
		rappend(&r, "%s", g_h.first_err[0] ? g_h.first_err : "no I/O completed in 5 s");
		pthread_mutex_unlock(&g_h.mu);
		report(FAIL, "healthy-session-start",
		       "the healthy session logs in and completes I/O", r.got, &passed, &failed);
	}
	if (!atomic_load(&g_block_size))
		atomic_store(&g_block_size, 512);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned e0 = healthy_errors();
		int v;

		if (!selected(cases[i].name))
			continue;
		memset(&r, 0, sizeof(r));
		if (dead) {
			report(FAIL, cases[i].name, cases[i].expect, "target process is gone",
			       &passed, &failed);
			continue;
		}
		g_case = cases[i].name;
		v = cases[i].fn(&r);
		/* The target handles our last close asynchronously: let it. */
		sleep_ms(100);
		if (!target_alive(g_o.pid)) {
			rappend(&r, " | TARGET PROCESS DIED");
			v = FAIL;
			dead = true;
		}
		if (healthy_errors() != e0) {
			pthread_mutex_lock(&g_h.mu);
			rappend(&r, " | healthy session: %s", g_h.last_err);
			pthread_mutex_unlock(&g_h.mu);
			v = FAIL;
		}
		report(v, cases[i].name, cases[i].expect, r.got, &passed, &failed);
	}
	g_case = "shutdown";
	atomic_store(&g_h.stop, true);
	pthread_join(g_h.th, NULL);
	memset(&r, 0, sizeof(r));
	rappend(&r, "%lu commands, %llu bytes verified, max latency %llu ms, %u logins, %u errors",
		atomic_load(&g_h.ops), (unsigned long long)g_h.bytes_verified,
		(unsigned long long)g_h.max_lat_ms, g_h.relogins, healthy_errors());
	if (g_h.first_err[0])
		rappend(&r, "; first: %s", g_h.first_err);
	report(healthy_errors() || !atomic_load(&g_h.ops) ? FAIL : PASS, "healthy-session",
	       "a second session writing and verifying data the whole time sees no error, no "
	       "stall over 2 s and no mismatch, and logs out cleanly",
	       r.got, &passed, &failed);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
