/* SPDX-License-Identifier: MIT */
/*
 * clusterd's local control interface: a libqb IPC server that runs on the
 * control thread's qb_loop and answers clusterctl, and the client side that
 * clusterctl uses. The messages are JSON documents (clusterd/ipc_proto.h).
 *
 * Server. The daemon supplies a table of handlers; the server decodes each
 * request, calls the matching handler on the loop thread and sends its answer.
 * Nothing in here blocks: a request is answered from the handler's return, or
 * later with ipc_server_reply() when the handler has to wait for something (a
 * fence agent). Events published with ipc_server_publish_event() go to every
 * connection that asked for them (`clusterctl events`); a subscriber that
 * stops reading is queued for, then disconnected, never waited for.
 *
 * Access: only root or the user clusterd runs as may connect (checked by
 * libqb from the peer's socket credentials).
 *
 * Client. Blocking calls with a deadline, for clusterctl and tests; never call
 * them on the control thread.
 */
#ifndef CLUSTERD_IPC_H
#define CLUSTERD_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <qb/qbloop.h>

struct json_object;
struct ipc_server;
struct ipc_client;

#define IPC_SERVICE_DEFAULT "clusterd"
#define IPC_TEXT_MAX	    256

/*
 * What a handler answers besides its return code. The server zeroes it and
 * sets id before calling the handler.
 */
struct ipc_reply {
	/* Set by the server: the handle for ipc_server_reply() after -EINPROGRESS. */
	uint64_t id;
	/* With -EINPROGRESS: the longest the final answer may take (e.g. the agent timeout). */
	uint32_t wait_ms;
	/* On success, optional: a one-line summary clusterctl prints. */
	char message[IPC_TEXT_MAX];
	/* On failure: what went wrong (one line; strerror() of the code when empty). */
	char error[IPC_TEXT_MAX];
	/* On failure, optional: what the operator can do about it. */
	char hint[IPC_TEXT_MAX];
	/* Optional JSON object whose members are added to the response; the server takes it. */
	struct json_object *data;
};

/*
 * The daemon's side. Every handler runs on the loop thread and must not block.
 * Admin handlers return:
 *   0             done; r->message (and r->data) describe it
 *   -errno        refused or failed; r->error and r->hint say why and what to do
 *   -EINPROGRESS  answer later: the handler keeps r->id, sets r->wait_ms, and
 *                 calls ipc_server_reply(s, r->id, ...) exactly once
 * NODE arguments are what the user typed: a node name or a decimal node id.
 * A NULL handler answers "not supported by this clusterd".
 */
struct ipc_handlers {
	/*
	 * Builds the status document (docs/clusterctl.8.md); the server puts it.
	 * NULL: unavailable. Must not wait for the data plane: report the last
	 * snapshot it posted (sessions, ALUA versions), not a fresh query.
	 */
	struct json_object *(*status)(void *arg);
	int (*move)(void *arg, const char *lun, const char *node, struct ipc_reply *r);
	/* on: standby (not eligible for AO); !on: online again. */
	int (*standby)(void *arg, const char *node, bool on, struct ipc_reply *r);
	int (*fence)(void *arg, const char *node, struct ipc_reply *r);
	/* Runs the node's agent with status/monitor only; usually -EINPROGRESS. */
	int (*fence_test)(void *arg, const char *node, struct ipc_reply *r);
};

/*
 * Publishes the service NAME (NULL: IPC_SERVICE_DEFAULT) on LOOP and starts
 * answering requests with H (copied) and ARG. Every server of a process must
 * use the same loop (libqb's poll hooks carry no context). First removes the
 * ring directories a killed server of the same NAME left in /dev/shm. Returns 0 with
 * *out set, or -errno with a sentence in err (e.g. -EADDRINUSE: another
 * clusterd already serves that name in this network namespace).
 * Thread: the loop's thread, before or while the loop runs.
 */
int ipc_server_start(struct ipc_server **out, qb_loop_t *loop, const char *name,
		     const struct ipc_handlers *h, void *arg, char *err, size_t errlen);

/*
 * Sends the final answer to a request whose handler returned -EINPROGRESS:
 * rc and r as a handler would return them (r may be NULL; r->data is taken).
 * Returns 0, or -ENOENT when id is unknown or its client has gone (nothing is
 * sent; that is not an error for the caller). Thread: the loop's thread.
 */
int ipc_server_reply(struct ipc_server *s, uint64_t id, int rc, struct ipc_reply *r);

/*
 * Sends event EV (a JSON object with at least "type"; "message" optional) to
 * every subscriber, adding "seq" and, unless present, "time". Takes EV (puts
 * it). Never blocks: a subscriber that cannot take it now gets it queued; one
 * whose queue is full is disconnected. Handlers may publish too. NULL s: EV
 * is put. Thread: the loop's thread.
 */
void ipc_server_publish_event(struct ipc_server *s, struct json_object *ev);

/* True when at least one client listens to events (lets callers skip building them). */
bool ipc_server_has_subscribers(const struct ipc_server *s);

/*
 * Withdraws the service, disconnects every client (deferred requests are
 * dropped: do not call ipc_server_reply() afterwards) and frees s. NULL is a
 * no-op. Thread: the loop's thread, not from inside a handler.
 */
void ipc_server_stop(struct ipc_server *s);

/*
 * Helpers for handlers: fill r->error/r->hint (hint may be NULL) and return
 * rc, so a handler can `return ipc_reply_fail(r, -EBUSY, "...", "...", ...)`;
 * or fill r->message. Thread: any (they only write into r).
 */
int ipc_reply_fail(struct ipc_reply *r, int rc, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void ipc_reply_msg(struct ipc_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Connects to service NAME, waiting at most timeout_ms. Returns 0 with *out
 * set, or -errno: -ECONNREFUSED nobody serves NAME (here: in this network
 * namespace), -EACCES the server refused our credentials, -ETIMEDOUT no
 * answer in time, other -errno from the system. Thread: any but the loop's.
 */
int ipc_client_open(struct ipc_client **out, const char *name, int timeout_ms);

/*
 * Sends REQ (a JSON object, not taken) and waits for the final response, at
 * most timeout_ms for the first answer; after a "pending" answer, at most its
 * wait_ms plus timeout_ms more. Returns 0 with *resp (the caller puts it;
 * check its "ok"), or -EAGAIN the server took no request in time (not
 * sent), -ETIMEDOUT sent but no answer, -EINPROGRESS accepted but no final
 * answer in time, -ENOTCONN the server went away, -EPROTO an answer we cannot
 * read, -EMSGSIZE request too large, -ENOMEM.
 */
int ipc_client_call(struct ipc_client *c, struct json_object *req, int timeout_ms,
		    struct json_object **resp);

/*
 * Waits at most timeout_ms (-1: no limit) for the next event of a subscribed
 * connection (see IPC_CMD_EVENTS). Returns 1 with *ev (the caller puts it),
 * 0 on timeout, -ENOTCONN when the server went away, -EPROTO.
 */
int ipc_client_event_next(struct ipc_client *c, int timeout_ms, struct json_object **ev);

void ipc_client_close(struct ipc_client *c);

#endif
