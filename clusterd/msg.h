/* SPDX-License-Identifier: MIT */
/*
 * clusterd's CPG messages: the wire format, all of it, in this one header
 * (DRBD's rule). Fixed layout, big-endian through lib/byteorder.h, packed
 * structs with their sizes asserted. Sans-I/O: cl_msg_encode() writes into a
 * caller's buffer, cl_msg_decode() reads (buf, len) into a struct cl_msg.
 *
 * Every message = 32-byte header + one fixed-size body:
 *
 *   0  magic       "CLSD" (0x434c5344)
 *   4  version     protocol version of the body layout (CL_PROTO_VERSION)
 *   6  type        enum cl_msg_type
 *   8  sender      corosync node id of the sender
 *  12  reserved    0
 *  16  change_seq  sender's change counter when it sent (cl_state.change_seq)
 *  24  len         whole message, header included
 *  28  crc32c      CRC32C (lib/crc32c.h) of the whole message with this field 0
 *
 * The header layout never changes. A message whose version we do not speak is
 * refused with -EPROTONOSUPPORT after its header was checked (so the log can
 * say who sent what), never half-parsed. HELLO is always sent with version 1
 * and its body never changes, so nodes of any version can read each other's
 * supported range. Types and enum values are never renumbered; a new field
 * means a new version.
 */
#ifndef CLUSTERD_MSG_H
#define CLUSTERD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/compiler.h"
#include "clusterd/model.h"

#define CL_MSG_MAGIC	 0x434c5344u /* "CLSD" */
#define CL_PROTO_VERSION 1
#define CL_PROTO_MIN	 1
#define CL_WIRE_NODES	 4   /* per-node slots in STATE */
#define CL_WIRE_LUNS	 64  /* per-LUN slots in STATE */
#define CL_MSG_MAX	 512 /* no message is longer */

_Static_assert(CL_MAX_NODES <= CL_WIRE_NODES, "STATE has a slot per node");
_Static_assert(CL_MAX_LUNS <= CL_WIRE_LUNS, "STATE has a slot per LUN");

enum cl_msg_type {
	CL_MSG_HELLO = 1,	  /* protocol range, sent by every member when someone joins */
	CL_MSG_STATE = 2,	  /* the sender's view, once per confchg (sync barrier) */
	CL_MSG_QUORUM = 3,	  /* the sender's votequorum verdict changed */
	CL_MSG_MOVE = 4,	  /* admin: planned switchover of a LUN to a node */
	CL_MSG_MOVE_COMMIT = 5,	  /* the old AO has gone TRANSITIONING: switch now */
	CL_MSG_STANDBY = 6,	  /* admin: node not eligible for AO */
	CL_MSG_ONLINE = 7,	  /* admin: node eligible again */
	CL_MSG_FENCE_REQUEST = 8, /* the fencer is about to run the agent */
	CL_MSG_FENCE_RESULT = 9,  /* what the agent did */
	CL_MSG_TYPE_END,
};

/* HELLO flags */
#define CL_HELLO_STATEFUL 0x1
/* STATE flags */
#define CL_STATE_STATEFUL 0x1 /* the sender was SYNCED before: its view counts */
#define CL_STATE_QUORATE  0x2 /* the sender's votequorum says quorate */
/* STATE per-node flags */
#define CL_STATE_NODE_STANDBY  0x1
#define CL_STATE_NODE_PROCDOWN 0x2

/* ---- wire layout (version 1) ---- */

struct cl_wire_hdr {
	uint8_t magic[4];
	uint8_t version[2];
	uint8_t type[2];
	uint8_t sender[4];
	uint8_t reserved[4];
	uint8_t change_seq[8];
	uint8_t len[4];
	uint8_t crc[4];
} __packed;
_Static_assert(sizeof(struct cl_wire_hdr) == 32, "header is 32 bytes");

struct cl_wire_hello {
	uint8_t proto_min[2];
	uint8_t proto_max[2];
	uint8_t flags[4];
	uint8_t reserved[8];
} __packed;
_Static_assert(sizeof(struct cl_wire_hello) == 16, "HELLO body");

struct cl_wire_state_node {
	uint8_t id[4]; /* 0: unused slot */
	uint8_t state; /* enum cl_node_state */
	uint8_t flags; /* CL_STATE_NODE_* */
	uint8_t reserved[2];
	uint8_t fencer[4];
	uint8_t fence_attempts[4];
} __packed;
_Static_assert(sizeof(struct cl_wire_state_node) == 16, "STATE node slot");

struct cl_wire_state {
	uint8_t flags[4];
	uint8_t config_digest[4];
	uint8_t epoch[8];
	uint8_t nmembers[2]; /* the membership this STATE answers */
	uint8_t nnodes[2];
	uint8_t nluns[2];
	uint8_t reserved[2];
	uint8_t members[CL_WIRE_NODES][4];
	struct cl_wire_state_node nodes[CL_WIRE_NODES];
	uint8_t ao[CL_WIRE_LUNS][4]; /* AO node id per LUN index, 0: none */
} __packed;
_Static_assert(sizeof(struct cl_wire_state) == 360, "STATE body");

struct cl_wire_quorum {
	uint8_t quorate; /* 0 or 1 */
	uint8_t reserved[7];
} __packed;
_Static_assert(sizeof(struct cl_wire_quorum) == 8, "QUORUM body");

struct cl_wire_move {
	uint8_t cookie[4]; /* requester's id for the reply */
	uint8_t lun[4];
	uint8_t node[4];
	uint8_t reserved[4];
} __packed;
_Static_assert(sizeof(struct cl_wire_move) == 16, "MOVE body");

struct cl_wire_move_commit {
	uint8_t lun[4];
	uint8_t from[4];
	uint8_t to[4];
	uint8_t reserved[4];
} __packed;
_Static_assert(sizeof(struct cl_wire_move_commit) == 16, "MOVE_COMMIT body");

struct cl_wire_node_req { /* STANDBY, ONLINE */
	uint8_t cookie[4];
	uint8_t node[4];
	uint8_t reserved[8];
} __packed;
_Static_assert(sizeof(struct cl_wire_node_req) == 16, "STANDBY/ONLINE body");

struct cl_wire_fence_request {
	uint8_t cookie[4]; /* admin requests only */
	uint8_t target[4];
	uint8_t fencer[4];
	uint8_t attempt[4];
	uint8_t reason; /* enum cl_fence_reason */
	uint8_t reserved[7];
} __packed;
_Static_assert(sizeof(struct cl_wire_fence_request) == 24, "FENCE_REQUEST body");

struct cl_wire_fence_result {
	uint8_t target[4];
	uint8_t fencer[4];
	uint8_t attempt[4];
	uint8_t result; /* enum cl_fence_result */
	uint8_t reserved[3];
	uint8_t t_start_ms[8];
	uint8_t t_end_ms[8];
	uint8_t agent[CL_AGENT_MAX]; /* NUL-terminated, zero-padded */
} __packed;
_Static_assert(sizeof(struct cl_wire_fence_result) == 64, "FENCE_RESULT body");

/* ---- decoded form ---- */

struct cl_msg_hello {
	uint16_t proto_min, proto_max;
	uint32_t flags;
};

struct cl_msg_state_node {
	uint32_t id;
	uint8_t state;
	uint8_t flags;
	uint32_t fencer;
	uint32_t fence_attempts;
};

struct cl_msg_state {
	uint32_t flags;
	uint32_t config_digest;
	uint64_t epoch;
	uint16_t nmembers, nnodes, nluns;
	uint32_t members[CL_WIRE_NODES];
	struct cl_msg_state_node nodes[CL_WIRE_NODES];
	uint32_t ao[CL_WIRE_LUNS];
};

struct cl_msg_quorum {
	bool quorate;
};

struct cl_msg_move {
	uint32_t cookie, lun, node;
};

struct cl_msg_move_commit {
	uint32_t lun, from, to;
};

struct cl_msg_node_req {
	uint32_t cookie, node;
};

struct cl_msg_fence_request {
	uint32_t cookie, target, fencer, attempt;
	uint8_t reason;
};

struct cl_msg {
	uint16_t version; /* decode: as received; encode: ignored (CL_PROTO_VERSION) */
	uint16_t type;
	uint32_t sender;
	uint64_t change_seq;
	union {
		struct cl_msg_hello hello;
		struct cl_msg_state state;
		struct cl_msg_quorum quorum;
		struct cl_msg_move move;
		struct cl_msg_move_commit commit;
		struct cl_msg_node_req node; /* STANDBY, ONLINE */
		struct cl_msg_fence_request fence_req;
		struct cl_fence_record fence_res; /* agent NUL-terminated */
	};
};

/*
 * Wire length of a version-1 message of this type, header included; 0 for an
 * unknown type. Any thread.
 */
size_t cl_msg_size(uint16_t type);

/*
 * Encodes m (version CL_PROTO_VERSION, m->version ignored) into buf.
 * Returns the bytes written, -EINVAL for an unknown type or counts above the
 * wire slots (nmembers, nnodes, nluns) or an agent name without room for its
 * NUL, -EMSGSIZE when len is too small. Any thread.
 */
int cl_msg_encode(const struct cl_msg *m, void *buf, size_t len);

/*
 * Decodes one whole message (CPG delivers messages whole). Returns 0, or
 *   -EMSGSIZE        shorter than a header, or len differs from the header's len
 *   -EBADMSG         bad magic, bad crc32c, wrong body size for its type, or a
 *                    field out of range (counts, enum values, unterminated agent)
 *   -EPROTONOSUPPORT a version we do not speak
 *   -ENOMSG          a type we do not know
 * For -EPROTONOSUPPORT and -ENOMSG, out's version, type, sender and change_seq
 * are filled (the header was sound) so the refusal can be logged. Any thread.
 */
int cl_msg_decode(const void *buf, size_t len, struct cl_msg *out);

/* Recomputes the crc32c of an encoded message in place (tests craft bad ones). */
void cl_msg_seal(void *buf, size_t len);

/* "HELLO", "STATE", ...; "?" for unknown types. */
const char *cl_msg_type_name(uint16_t type);

#endif
