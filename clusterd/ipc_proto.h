/* SPDX-License-Identifier: MIT */
/*
 * The clusterctl <-> clusterd protocol: JSON documents carried over libqb IPC.
 *
 * Every message is one libqb IPC message (libqb's own header first, in host
 * order, because libqb reads it), then our fixed 16-byte header, then the JSON
 * text (UTF-8, not NUL-terminated, exactly json_len bytes):
 *
 *   request   = struct qb_ipc_request_header  (id IPC_MSG_REQUEST, size = total)
 *               struct ipc_proto_hdr
 *               JSON object
 *   response  = struct qb_ipc_response_header (id IPC_MSG_RESPONSE, size = total)
 *               struct ipc_proto_hdr          (req_id echoes the request's)
 *               JSON object
 *   event     = struct qb_ipc_response_header (id IPC_MSG_EVENT, size = total)
 *               struct ipc_proto_hdr          (req_id 0)
 *               JSON object
 *
 * struct ipc_proto_hdr (big-endian, read and written only through the helpers
 * below):
 *
 *   0  magic     "CLCT"
 *   4  version   IPC_PROTO_VERSION; a peer refuses other versions with an error
 *   6  flags     0 (reserved; sent as 0, ignored on receipt)
 *   8  req_id    chosen by the client, echoed in every response to that request
 *  12  json_len  bytes of JSON that follow
 *
 * The version is never renumbered for compatible additions: new commands and
 * new JSON members are additions, and both sides ignore members they do not
 * know. A change that breaks old readers bumps IPC_PROTO_VERSION.
 *
 * Requests (one JSON object; "cmd" names the command, arguments are members):
 *
 *   {"cmd": "status"}
 *   {"cmd": "move",       "lun": NAME, "node": NODE}
 *   {"cmd": "standby",    "node": NODE}
 *   {"cmd": "online",     "node": NODE}
 *   {"cmd": "fence",      "node": NODE}
 *   {"cmd": "fence-test", "node": NODE}
 *   {"cmd": "events"}                       subscribe this connection to events
 *
 * NODE is what the user typed: a node name or a decimal node id.
 *
 * Responses:
 *
 *   {"ok": true, "message": str?, ...}      done; "message" is a one-line summary
 *   {"ok": true, "status": {...}}           the answer to "status"
 *   {"ok": false, "error": str, "hint": str?, "errno": str?}
 *   {"ok": true, "pending": true, "wait_ms": n}
 *        accepted; the final response (ok or not) to the same req_id follows
 *        within about wait_ms (a fence agent is running)
 *
 * Events (after a successful "events" request, on the event channel):
 *
 *   {"seq": n, "time": "2024-05-01T12:00:00.123Z", "type": str, "message": str?, ...}
 *   The first event after subscribing has type "hello" and marks the start of
 *   the stream; it carries no change.
 *
 * The status document itself is described in docs/clusterctl.8.md.
 */
#ifndef CLUSTERD_IPC_PROTO_H
#define CLUSTERD_IPC_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <qb/qbipc_common.h>
#include "lib/byteorder.h"

#define IPC_PROTO_MAGIC	  0x434c4354u /* "CLCT" */
#define IPC_PROTO_VERSION 1
#define IPC_PROTO_HDR_LEN 16

/* libqb message ids (qb_ipc_*_header.id); libqb reserves the negative ones. */
enum ipc_msg_id {
	IPC_MSG_REQUEST = 1,
	IPC_MSG_RESPONSE = 2,
	IPC_MSG_EVENT = 3,
};

/*
 * Largest message either side sends, libqb headers included. It sizes the
 * libqb ring buffers of each connection; the largest document is the status
 * of a full configuration (CL_MAX_LUNS LUNs, sessions, fence history), which
 * stays well under this.
 */
#define IPC_MAX_MSG (256 * 1024)

#define IPC_REQ_PREFIX	(sizeof(struct qb_ipc_request_header) + IPC_PROTO_HDR_LEN)
#define IPC_RESP_PREFIX (sizeof(struct qb_ipc_response_header) + IPC_PROTO_HDR_LEN)

/* Command names, as in the "cmd" member of a request. */
#define IPC_CMD_STATUS	   "status"
#define IPC_CMD_MOVE	   "move"
#define IPC_CMD_STANDBY	   "standby"
#define IPC_CMD_ONLINE	   "online"
#define IPC_CMD_FENCE	   "fence"
#define IPC_CMD_FENCE_TEST "fence-test"
#define IPC_CMD_EVENTS	   "events"

#define IPC_EVENT_HELLO "hello"

struct ipc_proto_info {
	uint16_t version;
	uint32_t req_id;
	uint32_t json_len;
};

/* Writes our header into p (IPC_PROTO_HDR_LEN bytes). */
static inline void ipc_proto_hdr_put(uint8_t *p, uint32_t req_id, uint32_t json_len)
{
	put_be32(p, IPC_PROTO_MAGIC);
	put_be16(p + 4, IPC_PROTO_VERSION);
	put_be16(p + 6, 0);
	put_be32(p + 8, req_id);
	put_be32(p + 12, json_len);
}

/*
 * Parses our header at the start of (buf, len), the bytes after libqb's
 * header. Returns 0 with *out filled, -EPROTO when it is not our header or the
 * JSON length does not match the bytes present (out->req_id is then valid only
 * if len >= 12), -EPROTONOSUPPORT for another protocol version (out->version
 * and out->req_id are filled so the caller can answer with an error).
 */
static inline int ipc_proto_hdr_get(const uint8_t *buf, size_t len, struct ipc_proto_info *out)
{
	out->version = 0;
	out->req_id = 0;
	out->json_len = 0;
	if (len < IPC_PROTO_HDR_LEN || get_be32(buf) != IPC_PROTO_MAGIC)
		return -EPROTO;
	out->version = get_be16(buf + 4);
	out->req_id = get_be32(buf + 8);
	out->json_len = get_be32(buf + 12);
	if (out->version != IPC_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (out->json_len != len - IPC_PROTO_HDR_LEN)
		return -EPROTO;
	return 0;
}

#endif
