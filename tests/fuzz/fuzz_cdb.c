/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary CDB bytes and a small data-out through
 * scsi_cmd_prepare()/scsi_cmd_exec() on a bdev_mem LU, the way the transport
 * drives them.
 *
 * Input: byte 0 picks the scene (below), bytes 1..16 are the CDB (zero padded),
 * the rest is data-out. Each input gets a fresh target, so state cannot leak
 * between inputs; one reactor and buffer pool are shared (set up once).
 *
 *   bit 0-1  ALUA state of the nexus' port: AO, standby, unavailable, transitioning
 *   bit 2    address LUN 1 (not configured)
 *   bit 3    another nexus holds an Exclusive Access persistent reservation
 *   bit 4    another nexus holds RESERVE(6)
 *   bit 5    read-only LU
 *   bit 6    leave the POWER ON unit attention pending
 *   bit 7    run the command twice (the second sees the first one's effects)
 *
 * Invariants that must hold for any input trap: prepare/exec return values,
 * done() exactly once for PENDING and never for DONE, data-in within the
 * allocation length and buffer, sense only with CHECK CONDITION.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bufpool.h"
#include "lib/reactor.h"
#include "target/scsi/scsi_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_XFER (SCSI_MAX_XFER_BYTES + 65536)
#define FUZZ_PORT1    "iqn.1994-05.com.example:fuzz1,i,0x23d000000001"
#define FUZZ_PORT2    "iqn.1994-05.com.example:fuzz2,i,0x23d000000002"

static struct scsi_exec_ctx fuzz_ctx;
static unsigned fuzz_done_calls;

static void fuzz_setup_once(void)
{
	static const struct bufpool_class classes[] = {{65536, 4}, {1u << 20, 2}};

	if (fuzz_ctx.reactor)
		return;
	if (reactor_create(&fuzz_ctx.reactor, 64) || bufpool_create(&fuzz_ctx.bufpool, classes, 2))
		abort();
}

static void fuzz_done(struct scsi_cmd *c)
{
	fuzz_done_calls++;
}

static void fuzz_check(const struct scsi_cmd *c)
{
	if (c->data_in_len > c->xfer_len || c->data_in_len > c->buf_cap)
		__builtin_trap();
	if (c->sense_len > SCSI_SENSE_MAX)
		__builtin_trap();
	if (c->sense_len && c->status != SAM_STAT_CHECK_CONDITION)
		__builtin_trap();
}

/* One command like the transport runs it; returns after completion. */
static void fuzz_run(struct scsi_nexus *n, uint64_t lun, const uint8_t *cdb, const uint8_t *out,
		     size_t out_len)
{
	struct scsi_cmd c;
	uint8_t *buf = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	c.nexus = n;
	c.ctx = &fuzz_ctx;
	c.lun = lun;
	memcpy(c.cdb, cdb, 16);
	c.buf_index = -1;
	c.done = fuzz_done;
	c.edtl = 65536;
	rc = scsi_cmd_prepare(&c);
	if (rc == SCSI_DONE) {
		fuzz_check(&c);
		return;
	}
	if (rc != SCSI_OK || (c.dir == SCSI_DIR_NONE && c.xfer_len))
		__builtin_trap();
	/* The transport cannot buffer more than this: it fails such commands itself. */
	if (c.xfer_len > FUZZ_MAX_XFER)
		return;
	if (c.xfer_len) {
		buf = calloc(1, c.xfer_len);
		if (!buf)
			abort();
		c.buf = buf;
		c.buf_cap = c.xfer_len;
	}
	if (c.dir == SCSI_DIR_WRITE) {
		if (out && buf)
			memcpy(buf, out, out_len < c.xfer_len ? out_len : c.xfer_len);
		c.data_out_len = c.xfer_len;
	}
	fuzz_done_calls = 0;
	rc = scsi_cmd_exec(&c);
	if (rc == SCSI_PENDING) {
		for (unsigned i = 0; i < 100000 && !fuzz_done_calls; i++)
			reactor_poll_once(fuzz_ctx.reactor, false);
		if (fuzz_done_calls != 1)
			__builtin_trap();
	} else if (rc != SCSI_DONE || fuzz_done_calls) {
		__builtin_trap();
	}
	/* nothing may complete twice later on */
	reactor_poll_once(fuzz_ctx.reactor, false);
	if (rc == SCSI_PENDING && fuzz_done_calls != 1)
		__builtin_trap();
	fuzz_check(&c);
	free(buf);
}

static void fuzz_scene(struct scsi_lu *lu, struct scsi_nexus *me, struct scsi_nexus *other,
		       uint8_t scene)
{
	static const uint8_t states[4] = {ALUA_AO, ALUA_STANDBY, ALUA_UNAVAILABLE,
					  ALUA_TRANSITIONING};
	struct alua_table tab = {.version = 1, .ntpgs = 2};

	tab.tpg[0] = (struct alua_tpg){
		.id = 1, .state = states[scene & 3], .nports = 1, .rel_port = {1}};
	tab.tpg[1] = (struct alua_tpg){.id = 2, .state = ALUA_AO, .nports = 1, .rel_port = {2}};
	scsi_lu_set_alua(lu, &tab);
	if (scene & 0x08) {
		struct pr_out_req q = {.sa = PR_OUT_REGISTER, .sa_key = 7, .rel_port_id = 2};
		struct pr_result res;

		memcpy(q.initiator_port, FUZZ_PORT2, sizeof(FUZZ_PORT2));
		pr_apply(&lu->pr, &q, &res);
		q.sa = PR_OUT_RESERVE;
		q.key = 7;
		q.type = PR_TYPE_EA;
		pr_apply(&lu->pr, &q, &res);
	}
	if (scene & 0x10)
		lu->resv6_holder = other;
	if (!(scene & 0x40))
		memset(me->ua, 0, sizeof(me->ua));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scsi_lu_config cfg = {.lun = 0, .lu_id = 0x42, .thin = true};
	struct scsi_nexus *me, *other;
	struct scsi_tgt *t;
	struct scsi_lu *lu;
	struct bdev *b;
	uint8_t cdb[16] = {0};
	uint8_t scene;

	if (size < 2)
		return 0;
	fuzz_setup_once();
	scene = data[0];
	memcpy(cdb, &data[1], size - 1 < 16 ? size - 1 : 16);
	if (scsi_tgt_create(&t, "iqn.2024-01.org.clusterd:fuzz", NULL, NULL))
		abort();
	if (bdev_mem_create(&b, 64 * 1024, 512))
		abort();
	cfg.bdev = b;
	cfg.read_only = scene & 0x20;
	if (scsi_tgt_add_lu(t, &cfg, &lu) ||
	    scsi_nexus_create(&me, t, "iqn.1994-05.com.example:fuzz1", FUZZ_PORT1, 1) ||
	    scsi_nexus_create(&other, t, "iqn.1994-05.com.example:fuzz2", FUZZ_PORT2, 2))
		abort();
	fuzz_scene(lu, me, other, scene);
	for (int i = 0; i < ((scene & 0x80) ? 2 : 1); i++)
		fuzz_run(me, (scene & 0x04) ? 1 : 0, cdb, size > 17 ? &data[17] : NULL,
			 size > 17 ? size - 17 : 0);
	scsi_tgt_destroy(t);
	return 0;
}
