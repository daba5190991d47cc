/* SPDX-License-Identifier: MIT */
/*
 * clusterd IPC over libqb: the server on the control loop and the client
 * clusterctl uses (see ipc.h; the message format is in ipc_proto.h).
 *
 * Transport: QB_IPC_NATIVE, which is shared-memory rings on Linux, set up
 * over an abstract unix socket named after the service. Two properties we
 * rely on: the name is scoped by network namespace (each test node's
 * clusterctl reaches its own clusterd), and a send from the server only ever
 * writes into a ring, so it returns -EAGAIN instead of waiting for a client
 * that has stopped reading or has gone.
 *
 * Lifetime of a connection on the server: libqb calls accept (credentials
 * check), then msg_process for each request, then closed and destroyed. Our
 * per-connection state (struct ipc_conn: event subscription and queue) is
 * created with the first request and released at closed; a deferred request
 * (struct ipc_pending) names its connection and is dropped with it, so
 * ipc_server_reply() after the client left finds nothing and sends nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <qb/qbdefs.h>
#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include "clusterd/ipc.h"
#include "clusterd/ipc_proto.h"
#include "lib/compiler.h"
#include "lib/list.h"
#include "lib/log.h"

/* Events held for a subscriber whose ring is full before we give up on it. */
#define IPC_EVENT_QUEUE_MAX 256
/* How often queued events are retried. */
#define IPC_FLUSH_MS 20
/* Longest single wait of the client, so a server that died is noticed quickly. */
#define IPC_CLIENT_SLICE_MS  100
#define IPC_SERVICE_NAME_MAX 64
#define IPC_JSON_FLAGS	     (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* One serialized event, shared by the queues of every subscriber. */
struct ipc_frame {
	unsigned refs;
	size_t len;
	uint8_t data[];
};

struct ipc_conn {
	struct list_node node; /* in srv->conns */
	struct ipc_server *srv;
	qb_ipcs_connection_t *qc;
	int pid;
	bool subscribed;
	bool dispatching; /* a request of this connection is being handled */
	bool closed;	  /* closed meanwhile: freed when that handling ends */
	unsigned qhead, qlen;
	struct ipc_frame *queue[IPC_EVENT_QUEUE_MAX];
};

struct ipc_pending {
	struct list_node node; /* in srv->pending */
	uint64_t id;
	struct ipc_conn *conn;
	uint32_t req_id;
};

struct ipc_server {
	qb_ipcs_service_t *svc;
	qb_loop_t *loop;
	struct ipc_handlers h;
	void *arg;
	char name[IPC_SERVICE_NAME_MAX];
	struct list_node conns;
	struct list_node pending;
	uint64_t next_id;
	uint64_t event_seq;
	unsigned nsubscribers;
	qb_loop_timer_handle flush_timer;
	bool flush_armed;
};

/* ---- libqb poll hooks: they carry no context, hence one loop per process ---- */

static qb_loop_t *ipc_loop;
static unsigned ipc_loop_users;

static int32_t ipc_poll_add(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(ipc_loop, p, fd, events, data, fn);
}

static int32_t ipc_poll_mod(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(ipc_loop, p, fd, events, data, fn);
}

static int32_t ipc_poll_del(int32_t fd)
{
	return qb_loop_poll_del(ipc_loop, fd);
}

static int32_t ipc_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(ipc_loop, p, data, fn);
}

static struct qb_ipcs_poll_handlers ipc_poll_handlers = {
	.job_add = ipc_job_add,
	.dispatch_add = ipc_poll_add,
	.dispatch_mod = ipc_poll_mod,
	.dispatch_del = ipc_poll_del,
};

/* ---- replies ---- */

int ipc_reply_fail(struct ipc_reply *r, int rc, const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	snprintf(r->hint, sizeof(r->hint), "%s", hint ? hint : "");
	return rc;
}

void ipc_reply_msg(struct ipc_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

static void ipc_json_add_str(struct json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, json_object_new_string(val));
}

/*
 * Builds the response document for rc and r (r may be NULL): r->data's
 * members, then "ok" and the texts. Takes r->data. NULL on ENOMEM.
 */
static struct json_object *ipc_reply_doc(int rc, struct ipc_reply *r)
{
	struct json_object *doc = NULL;

	if (r && r->data && json_object_is_type(r->data, json_type_object))
		doc = r->data;
	else if (r && r->data)
		json_object_put(r->data);
	if (r)
		r->data = NULL;
	if (!doc)
		doc = json_object_new_object();
	if (!doc)
		return NULL;
	if (rc > 0) {
		log_warn("ipc: a handler returned %d, which is not 0 or -errno", rc);
		rc = -EIO;
	}
	json_object_object_add(doc, "ok", json_object_new_boolean(rc == 0));
	if (rc == 0) {
		if (r && r->message[0])
			ipc_json_add_str(doc, "message", r->message);
		return doc;
	}
	ipc_json_add_str(doc, "error", r && r->error[0] ? r->error : strerror(-rc));
	if (r && r->hint[0])
		ipc_json_add_str(doc, "hint", r->hint);
	if (strerrorname_np(-rc))
		ipc_json_add_str(doc, "errno", strerrorname_np(-rc));
	return doc;
}

/* Serializes doc behind both headers of a response or event; -EMSGSIZE past IPC_MAX_MSG. */
static int ipc_frame_build(struct json_object *doc, int32_t id, uint32_t req_id,
			   struct ipc_frame **out)
{
	struct qb_ipc_response_header qh;
	struct ipc_frame *f;
	const char *txt;
	size_t len;

	txt = json_object_to_json_string_length(doc, IPC_JSON_FLAGS, &len);
	if (!txt)
		return -ENOMEM;
	if (len > IPC_MAX_MSG - IPC_RESP_PREFIX)
		return -EMSGSIZE;
	f = malloc(sizeof(*f) + IPC_RESP_PREFIX + len);
	if (!f)
		return -ENOMEM;
	f->refs = 1;
	f->len = IPC_RESP_PREFIX + len;
	memset(&qh, 0, sizeof(qh));
	qh.id = id;
	qh.size = (int32_t)f->len;
	memcpy(f->data, &qh, sizeof(qh));
	ipc_proto_hdr_put(f->data + sizeof(qh), req_id, (uint32_t)len);
	memcpy(f->data + IPC_RESP_PREFIX, txt, len);
	*out = f;
	return 0;
}

static void ipc_frame_put(struct ipc_frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}

/* Sends one response; a document too large is replaced by an error saying so. */
static void ipc_send_doc(qb_ipcs_connection_t *qc, uint32_t req_id, struct json_object *doc)
{
	struct ipc_frame *f = NULL;
	struct ipc_reply r;
	ssize_t n;
	int rc;

	rc = doc ? ipc_frame_build(doc, IPC_MSG_RESPONSE, req_id, &f) : -ENOMEM;
	if (rc == -EMSGSIZE) {
		memset(&r, 0, sizeof(r));
		ipc_reply_fail(&r, rc, "report this: the status document outgrew IPC_MAX_MSG",
			       "the answer is larger than the %u-byte IPC limit",
			       (unsigned)IPC_MAX_MSG);
		json_object_put(doc);
		doc = ipc_reply_doc(rc, &r);
		rc = doc ? ipc_frame_build(doc, IPC_MSG_RESPONSE, req_id, &f) : -ENOMEM;
	}
	json_object_put(doc);
	if (rc) {
		log_warn("ipc: cannot build a response: %s", strerror(-rc));
		return;
	}
	n = qb_ipcs_response_send(qc, f->data, f->len);
	if (n < 0)
		log_info("ipc: response to request %u not sent: %s", req_id, strerror((int)-n));
	ipc_frame_put(f);
}

static void ipc_respond(qb_ipcs_connection_t *qc, uint32_t req_id, int rc, struct ipc_reply *r)
{
	ipc_send_doc(qc, req_id, ipc_reply_doc(rc, r));
}

/* ---- connections and event queues ---- */

static void ipc_flush_arm(struct ipc_server *s);

/* 0 sent, -EAGAIN try later, other -errno: this subscriber is gone. */
static int ipc_conn_event_send(struct ipc_conn *conn, struct ipc_frame *f)
{
	ssize_t n = qb_ipcs_event_send(conn->qc, f->data, f->len);

	if (n == (ssize_t)f->len)
		return 0;
	if (n == -EAGAIN || n == -ETIMEDOUT || n == -ENOBUFS)
		return -EAGAIN;
	return n < 0 ? (int)n : -EIO;
}

static void ipc_conn_queue_clear(struct ipc_conn *conn)
{
	while (conn->qlen) {
		ipc_frame_put(conn->queue[conn->qhead]);
		conn->qhead = (conn->qhead + 1) % IPC_EVENT_QUEUE_MAX;
		conn->qlen--;
	}
}

static void ipc_conn_unsubscribe(struct ipc_conn *conn)
{
	if (!conn->subscribed)
		return;
	conn->subscribed = false;
	conn->srv->nsubscribers--;
	ipc_conn_queue_clear(conn);
}

/*
 * Drops our state of a closed connection: its deferred requests, its queue,
 * and itself, unless one of its requests is being handled right now (a
 * handler published an event that got this very subscriber kicked): then
 * that handling frees it when it ends.
 */
static void ipc_conn_release(struct ipc_conn *conn)
{
	struct ipc_server *s = conn->srv;
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &s->pending)
	{
		struct ipc_pending *p = list_entry(pos, struct ipc_pending, node);

		if (p->conn == conn) {
			list_del(&p->node);
			free(p);
		}
	}
	ipc_conn_unsubscribe(conn);
	list_del(&conn->node);
	qb_ipcs_context_set(conn->qc, NULL);
	conn->closed = true;
	if (!conn->dispatching)
		free(conn);
}

static struct ipc_conn *ipc_conn_get(struct ipc_server *s, qb_ipcs_connection_t *qc)
{
	struct qb_ipcs_connection_stats st;
	struct ipc_conn *conn = qb_ipcs_context_get(qc);

	if (conn)
		return conn;
	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	conn->srv = s;
	conn->qc = qc;
	if (qb_ipcs_connection_stats_get(qc, &st, 0) == 0)
		conn->pid = st.client_pid;
	list_add_tail(&s->conns, &conn->node);
	qb_ipcs_context_set(qc, conn);
	return conn;
}

/*
 * Gives up on a subscriber that does not read: disconnecting tells it (its
 * stream ends with an error) instead of silently losing events. Frees conn.
 */
static void ipc_conn_kick(struct ipc_conn *conn, const char *why)
{
	log_warn("ipc %s: events client pid %d %s: disconnecting it", conn->srv->name, conn->pid,
		 why);
	ipc_conn_unsubscribe(conn);
	qb_ipcs_disconnect(conn->qc);
}

/* Sends what the ring takes now; returns true when events remain queued. */
static bool ipc_conn_flush(struct ipc_conn *conn)
{
	int rc;

	while (conn->qlen) {
		rc = ipc_conn_event_send(conn, conn->queue[conn->qhead]);
		if (rc == -EAGAIN)
			return true;
		if (rc) {
			ipc_conn_unsubscribe(conn);
			return false;
		}
		ipc_frame_put(conn->queue[conn->qhead]);
		conn->qhead = (conn->qhead + 1) % IPC_EVENT_QUEUE_MAX;
		conn->qlen--;
	}
	return false;
}

static void ipc_conn_push(struct ipc_conn *conn, struct ipc_frame *f)
{
	int rc;

	if (conn->qlen == 0) {
		rc = ipc_conn_event_send(conn, f);
		if (rc == 0)
			return;
		if (rc != -EAGAIN) {
			/* libqb notices the dead connection on its own. */
			ipc_conn_unsubscribe(conn);
			return;
		}
	}
	if (conn->qlen == IPC_EVENT_QUEUE_MAX) {
		ipc_conn_kick(conn, "does not read its events");
		return;
	}
	f->refs++;
	conn->queue[(conn->qhead + conn->qlen) % IPC_EVENT_QUEUE_MAX] = f;
	conn->qlen++;
	ipc_flush_arm(conn->srv);
}

static void ipc_flush_timer(void *data)
{
	struct ipc_server *s = data;
	struct list_node *pos, *tmp;
	bool again = false;

	s->flush_armed = false;
	list_for_each_safe(pos, tmp, &s->conns)
	{
		struct ipc_conn *conn = list_entry(pos, struct ipc_conn, node);

		if (conn->qlen && ipc_conn_flush(conn))
			again = true;
	}
	if (again)
		ipc_flush_arm(s);
}

static void ipc_flush_arm(struct ipc_server *s)
{
	if (s->flush_armed)
		return;
	if (qb_loop_timer_add(s->loop, QB_LOOP_LOW, IPC_FLUSH_MS * QB_TIME_NS_IN_MSEC, s,
			      ipc_flush_timer, &s->flush_timer) == 0)
		s->flush_armed = true;
	else
		log_warn("ipc %s: cannot arm the event flush timer", s->name);
}

static void ipc_time_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void ipc_server_publish_event(struct ipc_server *s, struct json_object *ev)
{
	struct list_node *pos, *tmp;
	struct ipc_frame *f;
	char now[40];
	int rc;

	if (!ev)
		return;
	if (!s) {
		json_object_put(ev);
		return;
	}
	s->event_seq++;
	if (!s->nsubscribers || !json_object_is_type(ev, json_type_object)) {
		json_object_put(ev);
		return;
	}
	json_object_object_add(ev, "seq", json_object_new_uint64(s->event_seq));
	if (!json_object_object_get_ex(ev, "time", NULL)) {
		ipc_time_now(now, sizeof(now));
		ipc_json_add_str(ev, "time", now);
	}
	rc = ipc_frame_build(ev, IPC_MSG_EVENT, 0, &f);
	json_object_put(ev);
	if (rc) {
		log_warn("ipc %s: event %" PRIu64 " dropped: %s", s->name, s->event_seq,
			 strerror(-rc));
		return;
	}
	list_for_each_safe(pos, tmp, &s->conns)
	{
		struct ipc_conn *conn = list_entry(pos, struct ipc_conn, node);

		if (conn->subscribed)
			ipc_conn_push(conn, f);
	}
	ipc_frame_put(f);
}

bool ipc_server_has_subscribers(const struct ipc_server *s)
{
	return s && s->nsubscribers > 0;
}

/*
 * Subscribes conn and sends the "hello" event at once: the client is waiting
 * for our answer right now, so its event channel is certainly there.
 */
static void ipc_conn_subscribe(struct ipc_conn *conn)
{
	struct json_object *ev = json_object_new_object();
	struct ipc_frame *f;
	char now[40];

	if (!conn->subscribed) {
		conn->subscribed = true;
		conn->srv->nsubscribers++;
	}
	if (!ev)
		return;
	ipc_json_add_str(ev, "type", IPC_EVENT_HELLO);
	json_object_object_add(ev, "seq", json_object_new_uint64(conn->srv->event_seq));
	ipc_time_now(now, sizeof(now));
	ipc_json_add_str(ev, "time", now);
	if (ipc_frame_build(ev, IPC_MSG_EVENT, 0, &f) == 0) {
		ipc_conn_push(conn, f);
		ipc_frame_put(f);
	}
	json_object_put(ev);
}

/* ---- requests ---- */

struct ipc_cmd {
	const char *name;
	const char *arg0, *arg1; /* required string members, or NULL */
	bool subscribe;		 /* an ok answer subscribes the connection to events */
	bool quiet;		 /* read-only: not logged */
	int (*run)(struct ipc_server *s, const char *a0, const char *a1, struct ipc_reply *r);
};

static int ipc_unsupported(struct ipc_reply *r, const char *cmd)
{
	return ipc_reply_fail(r, -EOPNOTSUPP, "upgrade clusterd, or use a matching clusterctl",
			      "this clusterd does not implement '%s'", cmd);
}

static int ipc_run_status(struct ipc_server *s, const char *a0, const char *a1, struct ipc_reply *r)
{
	struct json_object *doc;

	if (!s->h.status)
		return ipc_unsupported(r, IPC_CMD_STATUS);
	doc = s->h.status(s->arg);
	if (!doc)
		return ipc_reply_fail(r, -EAGAIN, "try again in a moment",
				      "clusterd could not build its status");
	r->data = json_object_new_object();
	if (!r->data) {
		json_object_put(doc);
		return -ENOMEM;
	}
	json_object_object_add(r->data, "status", doc);
	return 0;
}

static int ipc_run_move(struct ipc_server *s, const char *lun, const char *node,
			struct ipc_reply *r)
{
	if (!s->h.move)
		return ipc_unsupported(r, IPC_CMD_MOVE);
	return s->h.move(s->arg, lun, node, r);
}

static int ipc_run_standby(struct ipc_server *s, const char *node, const char *a1,
			   struct ipc_reply *r)
{
	if (!s->h.standby)
		return ipc_unsupported(r, IPC_CMD_STANDBY);
	return s->h.standby(s->arg, node, true, r);
}

static int ipc_run_online(struct ipc_server *s, const char *node, const char *a1,
			  struct ipc_reply *r)
{
	if (!s->h.standby)
		return ipc_unsupported(r, IPC_CMD_ONLINE);
	return s->h.standby(s->arg, node, false, r);
}

static int ipc_run_fence(struct ipc_server *s, const char *node, const char *a1,
			 struct ipc_reply *r)
{
	if (!s->h.fence)
		return ipc_unsupported(r, IPC_CMD_FENCE);
	return s->h.fence(s->arg, node, r);
}

static int ipc_run_fence_test(struct ipc_server *s, const char *node, const char *a1,
			      struct ipc_reply *r)
{
	if (!s->h.fence_test)
		return ipc_unsupported(r, IPC_CMD_FENCE_TEST);
	return s->h.fence_test(s->arg, node, r);
}

static int ipc_run_events(struct ipc_server *s, const char *a0, const char *a1, struct ipc_reply *r)
{
	return 0;
}

static const struct ipc_cmd ipc_cmds[] = {
	{IPC_CMD_STATUS, NULL, NULL, false, true, ipc_run_status},
	{IPC_CMD_MOVE, "lun", "node", false, false, ipc_run_move},
	{IPC_CMD_STANDBY, "node", NULL, false, false, ipc_run_standby},
	{IPC_CMD_ONLINE, "node", NULL, false, false, ipc_run_online},
	{IPC_CMD_FENCE, "node", NULL, false, false, ipc_run_fence},
	{IPC_CMD_FENCE_TEST, "node", NULL, false, false, ipc_run_fence_test},
	{IPC_CMD_EVENTS, NULL, NULL, true, true, ipc_run_events},
};

static const char *ipc_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int ipc_cmd_arg(const struct ipc_cmd *cmd, struct json_object *req, const char *key,
		       const char **out, struct ipc_reply *r)
{
	if (!key)
		return 0;
	*out = ipc_json_str(req, key);
	if (*out && **out)
		return 0;
	return ipc_reply_fail(r, -EINVAL, "clusterctl and clusterd may be of different versions",
			      "'%s' needs a string \"%s\"", cmd->name, key);
}

static const struct ipc_cmd *ipc_cmd_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < ARRAY_SIZE(ipc_cmds); i++)
		if (strcmp(ipc_cmds[i].name, name) == 0)
			return &ipc_cmds[i];
	return NULL;
}

/* Registers a deferred request and answers "pending" now. */
static void ipc_defer(struct ipc_conn *conn, uint32_t req_id, struct ipc_reply *r)
{
	struct ipc_server *s = conn->srv;
	struct ipc_pending *p = calloc(1, sizeof(*p));
	struct json_object *doc;

	json_object_put(r->data);
	r->data = NULL;
	if (p) {
		p->id = r->id;
		p->conn = conn;
		p->req_id = req_id;
		list_add_tail(&s->pending, &p->node);
	} else {
		/* The operation runs anyway; the client will report no result in time. */
		log_warn("ipc %s: no memory to track request %" PRIu64, s->name, r->id);
	}
	doc = ipc_reply_doc(0, r);
	if (doc) {
		json_object_object_add(doc, "pending", json_object_new_boolean(true));
		json_object_object_add(doc, "wait_ms", json_object_new_int64(r->wait_ms));
	}
	ipc_send_doc(conn->qc, req_id, doc);
}

static void ipc_dispatch(struct ipc_conn *conn, uint32_t req_id, struct json_object *req)
{
	struct ipc_server *s = conn->srv;
	const char *name = ipc_json_str(req, "cmd");
	const struct ipc_cmd *cmd = ipc_cmd_find(name);
	const char *a0 = NULL, *a1 = NULL;
	struct ipc_reply r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.id = ++s->next_id;
	if (!name)
		rc = ipc_reply_fail(&r, -EINVAL, NULL, "the request has no \"cmd\"");
	else if (!cmd)
		rc = ipc_reply_fail(&r, -EOPNOTSUPP,
				    "clusterctl and clusterd may be of different versions",
				    "unknown command '%s'", name);
	else if ((rc = ipc_cmd_arg(cmd, req, cmd->arg0, &a0, &r)) == 0 &&
		 (rc = ipc_cmd_arg(cmd, req, cmd->arg1, &a1, &r)) == 0)
		rc = cmd->run(s, a0, a1, &r);
	if (cmd && !cmd->quiet)
		log_notice("ipc %s: pid %d: %s%s%s%s%s: %s", s->name, conn->pid, cmd->name,
			   a0 ? " " : "", a0 ? a0 : "", a1 ? " " : "", a1 ? a1 : "",
			   rc == -EINPROGRESS ? "in progress"
			   : rc		      ? (r.error[0] ? r.error : strerror(-rc))
					      : "ok");
	if (conn->closed) { /* nobody to answer; a deferred answer will find nothing */
		json_object_put(r.data);
		return;
	}
	if (rc == -EINPROGRESS) {
		ipc_defer(conn, req_id, &r);
		return;
	}
	ipc_respond(conn->qc, req_id, rc, &r);
	if (rc == 0 && cmd->subscribe)
		ipc_conn_subscribe(conn);
}

static struct ipc_pending *ipc_pending_find(struct ipc_server *s, uint64_t id)
{
	struct list_node *pos;

	list_for_each(pos, &s->pending)
	{
		struct ipc_pending *p = list_entry(pos, struct ipc_pending, node);

		if (p->id == id)
			return p;
	}
	return NULL;
}

int ipc_server_reply(struct ipc_server *s, uint64_t id, int rc, struct ipc_reply *r)
{
	struct ipc_pending *p = s ? ipc_pending_find(s, id) : NULL;

	if (!p) {
		if (r) {
			json_object_put(r->data);
			r->data = NULL;
		}
		return -ENOENT;
	}
	list_del(&p->node);
	ipc_respond(p->conn->qc, p->req_id, rc, r);
	free(p);
	return 0;
}

static struct json_object *ipc_parse(const char *txt, size_t len, int *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	*err = -ENOMEM;
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, txt, (int)len);
	if (o && (tok->char_offset != (int)len || !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	*err = o ? 0 : -EBADMSG;
	json_tokener_free(tok);
	return o;
}

static int32_t ipc_msg_process(qb_ipcs_connection_t *qc, void *data, size_t size)
{
	struct ipc_server *s = qb_ipcs_connection_service_context_get(qc);
	const size_t qlen = sizeof(struct qb_ipc_request_header);
	struct ipc_proto_info info;
	struct json_object *req = NULL;
	struct ipc_conn *conn;
	struct ipc_reply r;
	int rc;

	if (!s || size < qlen)
		return 0;
	memset(&r, 0, sizeof(r));
	rc = ipc_proto_hdr_get((const uint8_t *)data + qlen, size - qlen, &info);
	if (rc == -EPROTONOSUPPORT)
		ipc_reply_fail(&r, rc, "use the clusterctl that came with this clusterd",
			       "protocol version %u is not supported (clusterd speaks %u)",
			       info.version, IPC_PROTO_VERSION);
	else if (rc)
		ipc_reply_fail(&r, rc, NULL, "malformed request header");
	else
		req = ipc_parse((const char *)data + IPC_REQ_PREFIX, info.json_len, &rc);
	if (rc == -EBADMSG)
		ipc_reply_fail(&r, rc, NULL, "the request is not one JSON object");
	conn = rc ? NULL : ipc_conn_get(s, qc);
	if (!rc && !conn)
		rc = -ENOMEM;
	if (rc) {
		ipc_respond(qc, info.req_id, rc, &r);
	} else {
		conn->dispatching = true;
		ipc_dispatch(conn, info.req_id, req);
		conn->dispatching = false;
		if (conn->closed)
			free(conn);
	}
	json_object_put(req);
	return 0;
}

static int32_t ipc_accept(qb_ipcs_connection_t *qc, uid_t uid, gid_t gid)
{
	struct ipc_server *s = qb_ipcs_connection_service_context_get(qc);

	if (!s)
		return -ESHUTDOWN;
	if (uid == 0 || uid == geteuid())
		return 0;
	log_notice("ipc %s: refused a client with uid %u (only root or uid %u may connect)",
		   s->name, (unsigned)uid, (unsigned)geteuid());
	return -EACCES;
}

static int32_t ipc_closed(qb_ipcs_connection_t *qc)
{
	struct ipc_conn *conn = qb_ipcs_context_get(qc);

	if (conn)
		ipc_conn_release(conn);
	return 0;
}

static void ipc_destroyed(qb_ipcs_connection_t *qc)
{
	struct ipc_conn *conn = qb_ipcs_context_get(qc);

	if (conn)
		ipc_conn_release(conn);
}

static struct qb_ipcs_service_handlers ipc_service_handlers = {
	.connection_accept = ipc_accept,
	.connection_created = NULL,
	.msg_process = ipc_msg_process,
	.connection_closed = ipc_closed,
	.connection_destroyed = ipc_destroyed,
};

/* ---- server lifetime ---- */

/*
 * libqb keeps the rings of each connection in a directory
 * /dev/shm/qb-SERVERPID-CLIENTPID-FD-XXXXXX. A server killed while clients
 * were connected leaves those behind (about 800 KiB each), and nothing else
 * removes them. At start we remove the ones of our service whose server
 * process is gone: a directory holding exactly libqb's ring files for NAME.
 */
#define IPC_SHM_DIR "/dev/shm"

static bool ipc_sweep_is_ours(const char *file, const char *name)
{
	static const char *const kinds[] = {"request", "response", "event"};
	static const char *const parts[] = {"header", "data"};
	char want[NAME_MAX + 1];
	size_t k, p;

	for (k = 0; k < ARRAY_SIZE(kinds); k++)
		for (p = 0; p < ARRAY_SIZE(parts); p++) {
			snprintf(want, sizeof(want), "qb-%s-%s-%s", kinds[k], name, parts[p]);
			if (strcmp(file, want) == 0)
				return true;
		}
	return false;
}

/* Removes SHM/DIR if it holds nothing but NAME's ring files; returns true if removed. */
static bool ipc_sweep_dir(int shm, const char *dir, const char *name)
{
	int fd = openat(shm, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	bool ours = true;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (ours && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			ours = ipc_sweep_is_ours(e->d_name, name);
	rewinddir(d);
	while (ours && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(fd, e->d_name, 0);
	closedir(d);
	return ours && unlinkat(shm, dir, AT_REMOVEDIR) == 0;
}

static void ipc_sweep_stale(const char *name)
{
	DIR *d = opendir(IPC_SHM_DIR);
	unsigned removed = 0;
	struct dirent *e;
	int pid;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (sscanf(e->d_name, "qb-%d-", &pid) != 1 || pid <= 0 || pid == getpid())
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		removed += ipc_sweep_dir(dirfd(d), e->d_name, name);
	}
	closedir(d);
	if (removed)
		log_info("ipc: removed %u connection director%s of '%s' left in " IPC_SHM_DIR
			 " by a clusterd that is gone",
			 removed, removed == 1 ? "y" : "ies", name);
}

static void ipc_loop_release(void)
{
	if (--ipc_loop_users == 0)
		ipc_loop = NULL;
}

int ipc_server_start(struct ipc_server **out, qb_loop_t *loop, const char *name,
		     const struct ipc_handlers *h, void *arg, char *err, size_t errlen)
{
	struct ipc_server *s;
	int rc;

	name = name ? name : IPC_SERVICE_DEFAULT;
	if (!*name || strlen(name) >= IPC_SERVICE_NAME_MAX) {
		snprintf(err, errlen, "IPC service name '%s': 1 to %d characters", name,
			 IPC_SERVICE_NAME_MAX - 1);
		return -EINVAL;
	}
	if (ipc_loop && ipc_loop != loop) {
		snprintf(err, errlen, "IPC servers of one process must share one qb_loop");
		return -EBUSY;
	}
	ipc_sweep_stale(name);
	s = calloc(1, sizeof(*s));
	if (!s)
		goto err_nomem;
	s->loop = loop;
	s->h = *h;
	s->arg = arg;
	snprintf(s->name, sizeof(s->name), "%s", name);
	list_init(&s->conns);
	list_init(&s->pending);
	s->svc = qb_ipcs_create(name, 0, QB_IPC_NATIVE, &ipc_service_handlers);
	if (!s->svc)
		goto err_free;
	qb_ipcs_service_context_set(s->svc, s);
	qb_ipcs_enforce_buffer_size(s->svc, IPC_MAX_MSG);
	qb_ipcs_poll_handlers_set(s->svc, &ipc_poll_handlers);
	ipc_loop = loop;
	ipc_loop_users++;
	rc = qb_ipcs_run(s->svc); /* destroys the service itself on failure */
	if (rc < 0) {
		if (rc == -EADDRINUSE)
			snprintf(err, errlen,
				 "IPC service '%s' is already served in this network namespace "
				 "(another clusterd running?)",
				 name);
		else
			snprintf(err, errlen, "cannot publish IPC service '%s': %s", name,
				 strerror(-rc));
		ipc_loop_release();
		free(s);
		return rc;
	}
	log_info("ipc: serving '%s'", name);
	*out = s;
	return 0;

err_free:
	free(s);
err_nomem:
	snprintf(err, errlen, "cannot create IPC service '%s': out of memory", name);
	return -ENOMEM;
}

void ipc_server_stop(struct ipc_server *s)
{
	struct list_node *pos, *tmp;

	if (!s)
		return;
	if (s->flush_armed)
		qb_loop_timer_del(s->loop, s->flush_timer);
	s->flush_armed = false;
	/* Callbacks that still come (a late authentication) find no server. */
	qb_ipcs_service_context_set(s->svc, NULL);
	qb_ipcs_destroy(s->svc);
	/* Connections libqb has not released yet: drop our state of them now. */
	list_for_each_safe(pos, tmp, &s->conns)
	{
		ipc_conn_release(list_entry(pos, struct ipc_conn, node));
	}
	ipc_loop_release();
	log_info("ipc: stopped serving '%s'", s->name);
	free(s);
}

/* ---- client ---- */

struct ipc_client {
	qb_ipcc_connection_t *qc;
	uint32_t next_req_id;
	uint8_t *buf;
	size_t buflen;
};

static int64_t ipc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ipc_left_ms(int64_t deadline)
{
	int64_t left = deadline - ipc_now_ms();

	return left > 0 ? (int)left : 0;
}

/* Waits until fd is readable or the deadline passes: 1 readable, 0 timeout, -errno. */
static int ipc_wait_fd(int fd, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int rc;

	do {
		rc = poll(&pfd, 1, ipc_left_ms(deadline));
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc;
}

int ipc_client_open(struct ipc_client **out, const char *name, int timeout_ms)
{
	int64_t deadline = ipc_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct ipc_client *c;
	int fd = -1, rc, rc2;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->buflen = IPC_MAX_MSG;
	c->buf = malloc(c->buflen);
	if (!c->buf) {
		rc = -ENOMEM;
		goto err_free;
	}
	/* The async form, so a server that accepted but does not answer cannot hold us. */
	errno = 0;
	c->qc = qb_ipcc_connect_async(name ? name : IPC_SERVICE_DEFAULT, IPC_MAX_MSG, &fd);
	if (!c->qc) {
		rc = errno ? -errno : -ECONNREFUSED;
		goto err_free;
	}
	rc = ipc_wait_fd(fd, deadline);
	/*
	 * Continue even after a timeout: on the non-blocking setup socket it
	 * then fails without waiting, and a failed continue frees the
	 * connection (qb_ipcc_disconnect() would not close the socket yet).
	 */
	rc2 = qb_ipcc_connect_continue(c->qc);
	if (rc2 < 0) {
		rc = rc < 0 ? rc : rc == 0 ? -ETIMEDOUT : rc2;
		goto err_free;
	}
	*out = c;
	return 0;

err_free:
	free(c->buf);
	free(c);
	return rc;
}

void ipc_client_close(struct ipc_client *c)
{
	if (!c)
		return;
	qb_ipcc_disconnect(c->qc);
	free(c->buf);
	free(c);
}

static int ipc_client_send(struct ipc_client *c, struct json_object *req, uint32_t req_id,
			   int64_t deadline)
{
	struct qb_ipc_request_header qh;
	uint8_t ph[IPC_PROTO_HDR_LEN];
	struct iovec iov[3];
	const char *txt;
	size_t len;
	ssize_t n;

	txt = json_object_to_json_string_length(req, IPC_JSON_FLAGS, &len);
	if (!txt)
		return -ENOMEM;
	if (len > IPC_MAX_MSG - IPC_REQ_PREFIX)
		return -EMSGSIZE;
	memset(&qh, 0, sizeof(qh));
	qh.id = IPC_MSG_REQUEST;
	qh.size = (int32_t)(IPC_REQ_PREFIX + len);
	ipc_proto_hdr_put(ph, req_id, (uint32_t)len);
	iov[0] = (struct iovec){&qh, sizeof(qh)};
	iov[1] = (struct iovec){ph, sizeof(ph)};
	iov[2] = (struct iovec){(void *)txt, len};
	for (;;) {
		n = qb_ipcc_sendv(c->qc, iov, 3);
		if (n >= 0)
			return 0;
		if (n != -EAGAIN)
			return (int)n;
		if (ipc_left_ms(deadline) == 0)
			return -EAGAIN;
		/* The server's request ring is full: it is not reading. */
		poll(NULL, 0, 10);
	}
}

/*
 * Decodes a received response or event: checks both headers and parses the
 * JSON object. Returns 0 with *doc and *req_id, or -EPROTO.
 */
static int ipc_client_decode(const uint8_t *buf, size_t len, int32_t want_id, uint32_t *req_id,
			     struct json_object **doc)
{
	struct qb_ipc_response_header qh;
	struct ipc_proto_info info;
	int err;

	if (len < IPC_RESP_PREFIX)
		return -EPROTO;
	memcpy(&qh, buf, sizeof(qh));
	if (qh.id != want_id || qh.size != (int32_t)len)
		return -EPROTO;
	if (ipc_proto_hdr_get(buf + sizeof(qh), len - sizeof(qh), &info))
		return -EPROTO;
	*doc = ipc_parse((const char *)buf + IPC_RESP_PREFIX, info.json_len, &err);
	*req_id = info.req_id;
	return *doc ? 0 : (err == -ENOMEM ? -ENOMEM : -EPROTO);
}

/* Receives the next response to req_id before the deadline (stale ones are skipped). */
static int ipc_client_recv(struct ipc_client *c, uint32_t req_id, int64_t deadline,
			   struct json_object **resp)
{
	uint32_t got;
	ssize_t n;
	int left, rc;

	for (;;) {
		left = ipc_left_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		n = qb_ipcc_recv(c->qc, c->buf, c->buflen, MIN(left, IPC_CLIENT_SLICE_MS));
		if (n == -EAGAIN || n == -ETIMEDOUT)
			continue;
		if (n < 0)
			return n == -ENOMEM ? -ENOMEM : -ENOTCONN;
		rc = ipc_client_decode(c->buf, (size_t)n, IPC_MSG_RESPONSE, &got, resp);
		if (rc)
			return rc;
		if (got == req_id)
			return 0;
		json_object_put(*resp);
	}
}

static bool ipc_json_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

int ipc_client_call(struct ipc_client *c, struct json_object *req, int timeout_ms,
		    struct json_object **resp)
{
	int64_t deadline = ipc_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	uint32_t req_id = ++c->next_req_id;
	struct json_object *first, *v;
	int64_t wait_ms = 0;
	int rc;

	rc = ipc_client_send(c, req, req_id, deadline);
	if (rc)
		return rc == -EMSGSIZE || rc == -ENOMEM || rc == -EAGAIN ? rc : -ENOTCONN;
	rc = ipc_client_recv(c, req_id, deadline, &first);
	if (rc)
		return rc;
	if (!ipc_json_bool(first, "ok") || !ipc_json_bool(first, "pending")) {
		*resp = first;
		return 0;
	}
	/* Accepted; the result comes when the operation ends, which it told us is within wait_ms. */
	if (json_object_object_get_ex(first, "wait_ms", &v))
		wait_ms = json_object_get_int64(v);
	json_object_put(first);
	wait_ms = wait_ms < 0 ? 0 : MIN(wait_ms, 3600 * 1000);
	rc = ipc_client_recv(c, req_id, ipc_now_ms() + wait_ms + MAX(timeout_ms, 0), resp);
	return rc == -ETIMEDOUT ? -EINPROGRESS : rc;
}

int ipc_client_event_next(struct ipc_client *c, int timeout_ms, struct json_object **ev)
{
	int64_t deadline = ipc_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	uint32_t req_id;
	ssize_t n;
	int left;

	for (;;) {
		left = timeout_ms < 0 ? IPC_CLIENT_SLICE_MS : ipc_left_ms(deadline);
		n = qb_ipcc_event_recv(c->qc, c->buf, c->buflen, MIN(left, IPC_CLIENT_SLICE_MS));
		if (n >= 0)
			break;
		if (n != -EAGAIN && n != -ETIMEDOUT)
			return n == -ENOMEM ? -ENOMEM : -ENOTCONN;
		if (timeout_ms >= 0 && ipc_left_ms(deadline) == 0)
			return 0;
	}
	return ipc_client_decode(c->buf, (size_t)n, IPC_MSG_EVENT, &req_id, ev) ?: 1;
}
