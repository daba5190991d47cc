/* SPDX-License-Identifier: MIT */
/*
 * CPG message codec (layout in msg.h). Pure: no I/O, no globals.
 */
#include <errno.h>
#include <string.h>

#include "clusterd/msg.h"
#include "lib/byteorder.h"
#include "lib/crc32c.h"

#define HDR_LEN sizeof(struct cl_wire_hdr)

static const size_t body_size[CL_MSG_TYPE_END] = {
	[CL_MSG_HELLO] = sizeof(struct cl_wire_hello),
	[CL_MSG_STATE] = sizeof(struct cl_wire_state),
	[CL_MSG_QUORUM] = sizeof(struct cl_wire_quorum),
	[CL_MSG_MOVE] = sizeof(struct cl_wire_move),
	[CL_MSG_MOVE_COMMIT] = sizeof(struct cl_wire_move_commit),
	[CL_MSG_STANDBY] = sizeof(struct cl_wire_node_req),
	[CL_MSG_ONLINE] = sizeof(struct cl_wire_node_req),
	[CL_MSG_FENCE_REQUEST] = sizeof(struct cl_wire_fence_request),
	[CL_MSG_FENCE_RESULT] = sizeof(struct cl_wire_fence_result),
};

static const char *const type_names[CL_MSG_TYPE_END] = {
	[CL_MSG_HELLO] = "HELLO",
	[CL_MSG_STATE] = "STATE",
	[CL_MSG_QUORUM] = "QUORUM",
	[CL_MSG_MOVE] = "MOVE",
	[CL_MSG_MOVE_COMMIT] = "MOVE_COMMIT",
	[CL_MSG_STANDBY] = "STANDBY",
	[CL_MSG_ONLINE] = "ONLINE",
	[CL_MSG_FENCE_REQUEST] = "FENCE_REQUEST",
	[CL_MSG_FENCE_RESULT] = "FENCE_RESULT",
};

size_t cl_msg_size(uint16_t type)
{
	if (type == 0 || type >= CL_MSG_TYPE_END)
		return 0;
	return HDR_LEN + body_size[type];
}

const char *cl_msg_type_name(uint16_t type)
{
	if (type == 0 || type >= CL_MSG_TYPE_END)
		return "?";
	return type_names[type];
}

static uint32_t msg_crc(const uint8_t *buf, size_t len)
{
	static const uint8_t zero[4];
	size_t off = offsetof(struct cl_wire_hdr, crc);
	uint32_t crc;

	crc = crc32c(0, buf, off);
	crc = crc32c(crc, zero, sizeof(zero));
	return crc32c(crc, buf + off + 4, len - off - 4);
}

void cl_msg_seal(void *buf, size_t len)
{
	struct cl_wire_hdr *h = buf;

	if (len >= HDR_LEN)
		put_be32(h->crc, msg_crc(buf, len));
}

/* ---- encode ---- */

static void enc_state_node(struct cl_wire_state_node *w, const struct cl_msg_state_node *n)
{
	put_be32(w->id, n->id);
	w->state = n->state;
	w->flags = n->flags;
	put_be32(w->fencer, n->fencer);
	put_be32(w->fence_attempts, n->fence_attempts);
}

static int enc_state(struct cl_wire_state *w, const struct cl_msg_state *s)
{
	unsigned i;

	if (s->nmembers > CL_WIRE_NODES || s->nnodes > CL_WIRE_NODES || s->nluns > CL_WIRE_LUNS)
		return -EINVAL;
	put_be32(w->flags, s->flags);
	put_be32(w->config_digest, s->config_digest);
	put_be64(w->epoch, s->epoch);
	put_be16(w->nmembers, s->nmembers);
	put_be16(w->nnodes, s->nnodes);
	put_be16(w->nluns, s->nluns);
	for (i = 0; i < s->nmembers; i++)
		put_be32(w->members[i], s->members[i]);
	for (i = 0; i < s->nnodes; i++)
		enc_state_node(&w->nodes[i], &s->nodes[i]);
	for (i = 0; i < s->nluns; i++)
		put_be32(w->ao[i], s->ao[i]);
	return 0;
}

static int enc_fence_result(struct cl_wire_fence_result *w, const struct cl_fence_record *r)
{
	size_t n = strnlen(r->agent, CL_AGENT_MAX);

	if (n == CL_AGENT_MAX)
		return -EINVAL;
	put_be32(w->target, r->target);
	put_be32(w->fencer, r->fencer);
	put_be32(w->attempt, r->attempt);
	w->result = r->result;
	put_be64(w->t_start_ms, r->t_start_ms);
	put_be64(w->t_end_ms, r->t_end_ms);
	memcpy(w->agent, r->agent, n);
	return 0;
}

static void enc_fence_request(struct cl_wire_fence_request *w, const struct cl_msg_fence_request *r)
{
	put_be32(w->cookie, r->cookie);
	put_be32(w->target, r->target);
	put_be32(w->fencer, r->fencer);
	put_be32(w->attempt, r->attempt);
	w->reason = r->reason;
}

static int enc_body(const struct cl_msg *m, uint8_t *b)
{
	switch (m->type) {
	case CL_MSG_HELLO: {
		struct cl_wire_hello *w = (void *)b;
		put_be16(w->proto_min, m->hello.proto_min);
		put_be16(w->proto_max, m->hello.proto_max);
		put_be32(w->flags, m->hello.flags);
		return 0;
	}
	case CL_MSG_STATE:
		return enc_state((void *)b, &m->state);
	case CL_MSG_QUORUM:
		((struct cl_wire_quorum *)b)->quorate = m->quorum.quorate ? 1 : 0;
		return 0;
	case CL_MSG_MOVE: {
		struct cl_wire_move *w = (void *)b;
		put_be32(w->cookie, m->move.cookie);
		put_be32(w->lun, m->move.lun);
		put_be32(w->node, m->move.node);
		return 0;
	}
	case CL_MSG_MOVE_COMMIT: {
		struct cl_wire_move_commit *w = (void *)b;
		put_be32(w->lun, m->commit.lun);
		put_be32(w->from, m->commit.from);
		put_be32(w->to, m->commit.to);
		return 0;
	}
	case CL_MSG_STANDBY:
	case CL_MSG_ONLINE: {
		struct cl_wire_node_req *w = (void *)b;
		put_be32(w->cookie, m->node.cookie);
		put_be32(w->node, m->node.node);
		return 0;
	}
	case CL_MSG_FENCE_REQUEST:
		enc_fence_request((void *)b, &m->fence_req);
		return 0;
	case CL_MSG_FENCE_RESULT:
		return enc_fence_result((void *)b, &m->fence_res);
	}
	return -EINVAL;
}

int cl_msg_encode(const struct cl_msg *m, void *buf, size_t len)
{
	size_t size = cl_msg_size(m->type);
	struct cl_wire_hdr *h = buf;
	int ret;

	if (!size)
		return -EINVAL;
	if (len < size)
		return -EMSGSIZE;
	memset(buf, 0, size);
	ret = enc_body(m, (uint8_t *)buf + HDR_LEN);
	if (ret)
		return ret;
	put_be32(h->magic, CL_MSG_MAGIC);
	put_be16(h->version, CL_PROTO_VERSION);
	put_be16(h->type, m->type);
	put_be32(h->sender, m->sender);
	put_be64(h->change_seq, m->change_seq);
	put_be32(h->len, (uint32_t)size);
	cl_msg_seal(buf, size);
	return (int)size;
}

/* ---- decode ---- */

static int dec_state_node(const struct cl_wire_state_node *w, struct cl_msg_state_node *n)
{
	n->id = get_be32(w->id);
	n->state = w->state;
	n->flags = w->flags;
	n->fencer = get_be32(w->fencer);
	n->fence_attempts = get_be32(w->fence_attempts);
	return n->state <= CL_NODE_FENCED ? 0 : -EBADMSG;
}

static int dec_state(const struct cl_wire_state *w, struct cl_msg_state *s)
{
	unsigned i;

	s->flags = get_be32(w->flags);
	s->config_digest = get_be32(w->config_digest);
	s->epoch = get_be64(w->epoch);
	s->nmembers = get_be16(w->nmembers);
	s->nnodes = get_be16(w->nnodes);
	s->nluns = get_be16(w->nluns);
	if (s->nmembers > CL_WIRE_NODES || s->nnodes > CL_WIRE_NODES || s->nluns > CL_WIRE_LUNS)
		return -EBADMSG;
	for (i = 0; i < s->nmembers; i++)
		s->members[i] = get_be32(w->members[i]);
	for (i = 0; i < s->nnodes; i++)
		if (dec_state_node(&w->nodes[i], &s->nodes[i]))
			return -EBADMSG;
	for (i = 0; i < s->nluns; i++)
		s->ao[i] = get_be32(w->ao[i]);
	return 0;
}

static int dec_fence_request(const struct cl_wire_fence_request *w, struct cl_msg_fence_request *r)
{
	r->cookie = get_be32(w->cookie);
	r->target = get_be32(w->target);
	r->fencer = get_be32(w->fencer);
	r->attempt = get_be32(w->attempt);
	r->reason = w->reason;
	if (r->reason < CL_FENCE_LOST || r->reason > CL_FENCE_ADMIN)
		return -EBADMSG;
	return 0;
}

static int dec_fence_result(const struct cl_wire_fence_result *w, struct cl_fence_record *r)
{
	if (!memchr(w->agent, 0, sizeof(w->agent)))
		return -EBADMSG;
	r->target = get_be32(w->target);
	r->fencer = get_be32(w->fencer);
	r->attempt = get_be32(w->attempt);
	r->result = w->result;
	r->t_start_ms = get_be64(w->t_start_ms);
	r->t_end_ms = get_be64(w->t_end_ms);
	memcpy(r->agent, w->agent, sizeof(r->agent));
	return r->result <= CL_FENCE_ERROR ? 0 : -EBADMSG;
}

static int dec_body(const uint8_t *b, struct cl_msg *m)
{
	switch (m->type) {
	case CL_MSG_HELLO: {
		const struct cl_wire_hello *w = (const void *)b;
		m->hello.proto_min = get_be16(w->proto_min);
		m->hello.proto_max = get_be16(w->proto_max);
		m->hello.flags = get_be32(w->flags);
		return m->hello.proto_min <= m->hello.proto_max ? 0 : -EBADMSG;
	}
	case CL_MSG_STATE:
		return dec_state((const void *)b, &m->state);
	case CL_MSG_QUORUM: {
		uint8_t q = ((const struct cl_wire_quorum *)b)->quorate;
		m->quorum.quorate = q;
		return q <= 1 ? 0 : -EBADMSG;
	}
	case CL_MSG_MOVE: {
		const struct cl_wire_move *w = (const void *)b;
		m->move.cookie = get_be32(w->cookie);
		m->move.lun = get_be32(w->lun);
		m->move.node = get_be32(w->node);
		return 0;
	}
	case CL_MSG_MOVE_COMMIT: {
		const struct cl_wire_move_commit *w = (const void *)b;
		m->commit.lun = get_be32(w->lun);
		m->commit.from = get_be32(w->from);
		m->commit.to = get_be32(w->to);
		return 0;
	}
	case CL_MSG_STANDBY:
	case CL_MSG_ONLINE: {
		const struct cl_wire_node_req *w = (const void *)b;
		m->node.cookie = get_be32(w->cookie);
		m->node.node = get_be32(w->node);
		return 0;
	}
	case CL_MSG_FENCE_REQUEST:
		return dec_fence_request((const void *)b, &m->fence_req);
	case CL_MSG_FENCE_RESULT:
		return dec_fence_result((const void *)b, &m->fence_res);
	}
	return -ENOMSG;
}

/* Header checks that hold for every version: length, magic, crc. */
static int dec_header(const uint8_t *buf, size_t len, struct cl_msg *out)
{
	const struct cl_wire_hdr *h = (const void *)buf;

	if (len < HDR_LEN)
		return -EMSGSIZE;
	if (get_be32(h->magic) != CL_MSG_MAGIC)
		return -EBADMSG;
	if (get_be32(h->len) != len)
		return -EMSGSIZE;
	if (get_be32(h->crc) != msg_crc(buf, len))
		return -EBADMSG;
	out->version = get_be16(h->version);
	out->type = get_be16(h->type);
	out->sender = get_be32(h->sender);
	out->change_seq = get_be64(h->change_seq);
	return 0;
}

int cl_msg_decode(const void *buf, size_t len, struct cl_msg *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	ret = dec_header(buf, len, out);
	if (ret)
		return ret;
	if (out->version < CL_PROTO_MIN || out->version > CL_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (!cl_msg_size(out->type))
		return -ENOMSG;
	if (len != cl_msg_size(out->type))
		return -EBADMSG;
	return dec_body((const uint8_t *)buf + HDR_LEN, out);
}
