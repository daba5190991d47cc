/* SPDX-License-Identifier: MIT */
/*
 * scsi.c: objects, the dispatcher's common checks, unit attentions, sense
 * helpers, the errno table and resets.
 */
#include "tests/unit/scsi_fixture.h"

static uint8_t buf[FX_BUF];

static void test_objects(void **state)
{
	struct fx *fx = fx_new();
	struct fx_bdev *b = fx_bdev_new(4096, 512);
	struct scsi_lu_config cfg = {.lun = 0, .bdev = &b->b};
	struct scsi_lu *lu5;

	assert_string_equal(scsi_tgt_name(fx->t), FX_TGT_NAME);
	assert_int_equal(scsi_tgt_add_lu(fx->t, &cfg, NULL), -EEXIST);
	cfg.lun = 16384;
	assert_int_equal(scsi_tgt_add_lu(fx->t, &cfg, NULL), -EINVAL);
	cfg.lun = 5;
	b->b.block_size = 1024;
	assert_int_equal(scsi_tgt_add_lu(fx->t, &cfg, NULL), -EINVAL);
	b->b.block_size = 512;
	b->b.size = 1000;
	assert_int_equal(scsi_tgt_add_lu(fx->t, &cfg, NULL), -EINVAL);
	b->b.size = 4096;
	b->b.read_only = true;
	assert_int_equal(scsi_tgt_add_lu(fx->t, &cfg, &lu5), 0);
	assert_true(lu5->read_only);
	assert_false(lu5->thin); /* not asked for */
	assert_int_equal(lu5->nblocks, 8);
	assert_int_equal(lu5->block_shift, 9);
	assert_string_equal(lu5->vendor, "CLUSTERD");
	assert_string_equal(lu5->product, "VIRTUAL-DISK");
	assert_string_equal(lu5->serial, "0000000000000000");
	assert_int_equal(scsi_tgt_lu_count(fx->t), 2);
	assert_ptr_equal(scsi_tgt_find_lu(fx->t, 5), lu5);
	assert_null(scsi_tgt_find_lu(fx->t, 6));
	assert_ptr_equal(scsi_tgt_lu_at(fx->t, 0), fx->lu);
	assert_ptr_equal(scsi_tgt_lu_at(fx->t, 1), lu5);
	assert_null(scsi_tgt_lu_at(fx->t, 2));
	assert_ptr_equal(scsi_lu_bdev(lu5), &b->b);
	assert_int_equal(scsi_lu_lun(lu5), 5);
	/* existing nexuses: power on for the new LU, LUNs changed for the old one */
	assert_int_equal(fx->n[0]->ua[lu5->slot], 1u << UA_POWER_ON);
	assert_int_equal(fx->n[0]->ua[fx->lu->slot], 1u << UA_LUNS_CHANGED);
	/* NAA: 6, company id 5AC1D0, extension = lu_id */
	assert_int_equal(fx->lu->naa[0], 0x65);
	assert_int_equal(fx->lu->naa[1], 0xac);
	assert_int_equal(fx->lu->naa[2], 0x1d);
	assert_int_equal(fx->lu->naa[3] >> 4, 0x0);
	assert_int_equal(get_be64(&fx->lu->naa[8]), FX_LU_ID);
	assert_string_equal(fx->lu->serial, "0123456789abcdef");
	fx_free(fx);
}

static void test_new_nexus_power_on_ua(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_nexus *n;
	struct scsi_cmd c;

	assert_int_equal(scsi_nexus_create(&n, fx->t, FX_INI1, FX_PORT1, 1), 0);
	/* INQUIRY neither reports nor clears it */
	assert_int_equal(fx_run(fx, n, 0, fx_inquiry, 6, NULL, 0, buf, &c), SCSI_DONE);
	fx_assert_good(&c);
	assert_int_equal(fx_run(fx, n, 0, fx_tur, 6, NULL, 0, buf, &c), SCSI_DONE);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x29, 0x00);
	assert_int_equal(c.data_in_len, 0);
	assert_int_equal(fx_run(fx, n, 0, fx_tur, 6, NULL, 0, buf, &c), SCSI_DONE);
	fx_assert_good(&c);
	scsi_nexus_destroy(n);
	fx_free(fx);
}

static void test_ua_order_and_request_sense(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;

	scsi_ua_raise(fx->n[0], fx->lu, UA_ALUA_CHANGED);
	scsi_ua_raise(fx->n[0], fx->lu, UA_LUN_RESET);
	scsi_ua_raise(fx->n[0], fx->lu, UA_POWER_ON);
	scsi_ua_raise(fx->n[0], fx->lu, UA_REGISTRATIONS_PREEMPTED);
	/* one at a time, highest priority first */
	fx_cmd(fx, 0, fx_tur, 6, buf, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x29, 0x00);
	fx_cmd(fx, 0, fx_read10, 10, buf, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x29, 0x03);
	/* REQUEST SENSE returns the next one as data, GOOD, and clears it */
	assert_int_equal(fx_cmd(fx, 0, fx_rsense, 6, buf, &c), SCSI_DONE);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 18);
	assert_int_equal(buf[0], 0x70);
	assert_int_equal(buf[2], SK_UNIT_ATTENTION);
	assert_int_equal(buf[7], 10);
	assert_int_equal(buf[12], 0x2a);
	assert_int_equal(buf[13], 0x05);
	fx_cmd(fx, 0, fx_tur, 6, buf, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x2a, 0x06);
	fx_cmd(fx, 0, fx_tur, 6, buf, &c);
	fx_assert_good(&c);
	/* other nexuses never had any */
	fx_cmd(fx, 1, fx_tur, 6, buf, &c);
	fx_assert_good(&c);
	fx_free(fx);
}

static void test_request_sense_formats(void **state)
{
	struct fx *fx = fx_new();
	static const uint8_t desc[6] = {0x03, 0x01, 0, 0, 0xff, 0};
	static const uint8_t short_alloc[6] = {0x03, 0, 0, 0, 4, 0};
	static const uint8_t fixed_none[18] = {0x70, 0, 0, 0, 0, 0, 0, 10};
	static const uint8_t desc_ua[8] = {0x72, 0x06, 0x29, 0x02, 0, 0, 0, 0};
	struct scsi_cmd c;

	fx_cmd(fx, 0, fx_rsense, 6, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 18);
	assert_memory_equal(buf, fixed_none, 18);

	scsi_ua_raise(fx->n[0], fx->lu, UA_BUS_RESET);
	fx_cmd(fx, 0, desc, 6, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 8);
	assert_memory_equal(buf, desc_ua, 8);

	fx_cmd(fx, 0, short_alloc, 6, buf, &c);
	assert_int_equal(c.data_in_len, 4);
	assert_int_equal(buf[4], 0xa5); /* untouched beyond the allocation length */

	/* LUN not configured: sense data 25/00, GOOD */
	fx_run(fx, fx->n[0], 9, fx_rsense, 6, NULL, 0, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(buf[2], SK_ILLEGAL_REQUEST);
	assert_int_equal(buf[12], 0x25);
	fx_free(fx);
}

static void test_unknown_opcode_and_sa(void **state)
{
	struct fx *fx = fx_new();
	static const uint8_t vendor_op[6] = {0xc0};
	static const uint8_t bad_sa[12] = {0xa3, 0x1f, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
	static const uint8_t stpg[12] = {0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
	static const uint8_t prin_sa4[10] = {0x5e, 0x04, 0, 0, 0, 0, 0, 0, 64, 0};
	struct scsi_cmd c;

	fx_cmd(fx, 0, vendor_op, 6, buf, &c);
	fx_assert_cdb_field(&c, 0x20, 0, 7);
	fx_cmd(fx, 0, bad_sa, 12, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 1, 4);
	/* SET TARGET PORT GROUPS: implicit ALUA only, MAINTENANCE OUT unsupported */
	fx_cmd(fx, 0, stpg, 12, buf, &c);
	fx_assert_cdb_field(&c, 0x20, 0, 7);
	for (uint8_t sa = 4; sa < 0x20; sa++) {
		uint8_t cdb[10];

		memcpy(cdb, prin_sa4, 10);
		cdb[1] = sa;
		fx_cmd(fx, 0, cdb, 10, buf, &c);
		fx_assert_cdb_field(&c, 0x24, 1, 4);
	}
	fx_free(fx);
}

static void test_reserved_bits(void **state)
{
	struct fx *fx = fx_new();
	uint8_t cdb[16];
	struct scsi_cmd c;

	memcpy(cdb, fx_tur, 6);
	cdb[1] = 0x20;
	fx_cmd(fx, 0, cdb, 6, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 1, 5);
	memcpy(cdb, fx_tur, 6);
	cdb[5] = 0x04; /* NACA: not supported */
	fx_cmd(fx, 0, cdb, 6, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 5, 2);
	memcpy(cdb, fx_inquiry, 6);
	cdb[1] = 0x02; /* CmdDt (obsolete) */
	fx_cmd(fx, 0, cdb, 6, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 1, 1);
	memcpy(cdb, fx_msense6, 6);
	cdb[1] = 0x10; /* LLBAA exists only in MODE SENSE(10) */
	fx_cmd(fx, 0, cdb, 6, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 1, 4);
	fx_free(fx);
}

static void test_lun_not_configured(void **state)
{
	struct fx *fx = fx_new();
	static const uint8_t rluns[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
	struct scsi_cmd c;

	fx_run(fx, fx->n[0], 7, fx_tur, 6, NULL, 0, buf, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x25, 0x00);
	fx_run(fx, fx->n[0], 7, fx_read10, 10, NULL, 0, buf, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x25, 0x00);
	/* even an unknown opcode: the LUN is what is wrong */
	fx_run(fx, fx->n[0], 7, (const uint8_t[6]){0xc0}, 6, NULL, 0, buf, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x25, 0x00);
	fx_run(fx, fx->n[0], 7, fx_inquiry, 6, NULL, 0, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(buf[0], 0x7f);
	fx_run(fx, fx->n[0], 7, rluns, 12, NULL, 0, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(get_be32(buf), 8);
	fx_free(fx);
}

static void test_write_protect_and_stopped(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_lu *ro = fx_add_lu(fx, 1, 4096, 512, false, true);
	struct scsi_cmd c;

	memset(fx->n[0]->ua, 0, sizeof(fx->n[0]->ua));
	fx_run(fx, fx->n[0], 1, fx_write10, 10, buf, 512, buf, &c);
	fx_assert_sense(&c, SK_DATA_PROTECT, 0x27, 0x00);
	fx_run(fx, fx->n[0], 1, fx_read10, 10, NULL, 0, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(c.dir, SCSI_DIR_READ);
	assert_int_equal(c.xfer_len, 512);
	(void)ro;

	fx->lu->stopped = true;
	fx_cmd(fx, 0, fx_tur, 6, buf, &c);
	fx_assert_sense(&c, SK_NOT_READY, 0x04, 0x02);
	fx_cmd(fx, 0, fx_read10, 10, buf, &c);
	fx_assert_sense(&c, SK_NOT_READY, 0x04, 0x02);
	fx_cmd(fx, 0, fx_inquiry, 6, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 0, fx_rsense, 6, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(buf[2], SK_NOT_READY);
	assert_int_equal(buf[12], 0x04);
	assert_int_equal(buf[13], 0x02);
	fx_free(fx);
}

static void test_errno_table(void **state)
{
	static const struct {
		int err;
		uint8_t dir, status, key, asc, ascq;
	} t[] = {
		{0, SCSI_DIR_READ, SAM_STAT_GOOD, 0, 0, 0},
		{-EIO, SCSI_DIR_READ, SAM_STAT_CHECK_CONDITION, SK_MEDIUM_ERROR, 0x11, 0x00},
		{-EIO, SCSI_DIR_WRITE, SAM_STAT_CHECK_CONDITION, SK_MEDIUM_ERROR, 0x0c, 0x00},
		{-EIO, SCSI_DIR_NONE, SAM_STAT_CHECK_CONDITION, SK_MEDIUM_ERROR, 0x0c, 0x00},
		{-ENOSPC, SCSI_DIR_WRITE, SAM_STAT_CHECK_CONDITION, SK_DATA_PROTECT, 0x27, 0x07},
		{-EROFS, SCSI_DIR_WRITE, SAM_STAT_CHECK_CONDITION, SK_DATA_PROTECT, 0x27, 0x00},
		{-ECANCELED, SCSI_DIR_READ, SAM_STAT_CHECK_CONDITION, SK_ABORTED_COMMAND, 0, 0},
		{-ENOMEM, SCSI_DIR_READ, SAM_STAT_BUSY, 0, 0, 0},
		{-EBUSY, SCSI_DIR_WRITE, SAM_STAT_BUSY, 0, 0, 0},
		{-EAGAIN, SCSI_DIR_WRITE, SAM_STAT_BUSY, 0, 0, 0},
		{-EINVAL, SCSI_DIR_WRITE, SAM_STAT_CHECK_CONDITION, SK_HARDWARE_ERROR, 0x44, 0},
		{-ENODEV, SCSI_DIR_READ, SAM_STAT_CHECK_CONDITION, SK_HARDWARE_ERROR, 0x44, 0},
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct scsi_cmd c = {.dir = t[i].dir, .data_in_len = 77};

		scsi_cmd_set_errno(&c, t[i].err);
		assert_int_equal(c.status, t[i].status);
		if (t[i].status != SAM_STAT_CHECK_CONDITION) {
			assert_int_equal(c.sense_len, 0);
			continue;
		}
		fx_assert_sense(&c, t[i].key, t[i].asc, t[i].ascq);
		assert_int_equal(c.data_in_len, 0);
	}
}

static void test_sense_field_pointer(void **state)
{
	struct scsi_cmd c = {0};

	scsi_cmd_set_sense_field(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00, false, 0x1234, -1);
	assert_int_equal(c.sense[15], 0x80);
	assert_int_equal(c.sense[16], 0x12);
	assert_int_equal(c.sense[17], 0x34);
	scsi_cmd_set_sense_field(&c, SK_ILLEGAL_REQUEST, 0x24, 0x00, true, 4, 3);
	assert_int_equal(c.sense[15], 0xcb);
	assert_int_equal(get_be16(&c.sense[16]), 4);
}

static void test_put_data_truncates(void **state)
{
	uint8_t b[8];
	struct scsi_cmd c = {.buf = b, .buf_cap = sizeof(b), .xfer_len = 4};
	static const uint8_t data[6] = {1, 2, 3, 4, 5, 6};

	memset(b, 0, sizeof(b));
	scsi_cmd_put_data(&c, data, 6);
	assert_int_equal(c.data_in_len, 4);
	assert_memory_equal(b, data, 4);
	assert_int_equal(b[4], 0);
	/* no buffer at all (xfer_len 0) */
	c.buf = NULL;
	c.buf_cap = 0;
	c.xfer_len = 0;
	scsi_cmd_put_data(&c, data, 6);
	assert_int_equal(c.data_in_len, 0);
	/* a buffer shorter than xfer_len is never overrun */
	c.buf = b;
	c.buf_cap = 2;
	c.xfer_len = 6;
	scsi_cmd_put_data(&c, data, 6);
	assert_int_equal(c.data_in_len, 2);
}

static void test_lu_reset(void **state)
{
	struct fx *fx = fx_new();
	static const uint8_t reserve6[6] = {0x16};
	struct scsi_cmd c;

	fx_cmd(fx, 1, reserve6, 6, buf, &c);
	fx_assert_good(&c);
	fx->lu->pr.reserved = true; /* PR state must survive */
	fx->lu->pr.type = PR_TYPE_WE_AR;
	fx->lu->removal_prevented = true;
	assert_int_equal(scsi_lu_reset(fx->lu, fx->n[0]), 0);
	assert_int_equal(fx->aborts, 1);
	assert_ptr_equal(fx->abort_lu, fx->lu);
	assert_null(fx->abort_keep);
	assert_null(fx->lu->resv6_holder);
	assert_false(fx->lu->removal_prevented);
	assert_true(fx->lu->pr.reserved);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fx->n[i]->ua[fx->lu->slot], 1u << UA_LUN_RESET);
	fx->lu->pr.reserved = false;
	fx_cmd(fx, 0, fx_tur, 6, buf, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x29, 0x03);
	fx_free(fx);
}

static void test_tgt_reset(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_lu *lu1 = fx_add_lu(fx, 1, 4096, 512, false, false);
	static const uint8_t reserve6[6] = {0x16};
	struct scsi_cmd c;

	for (int i = 0; i < 3; i++)
		memset(fx->n[i]->ua, 0, sizeof(fx->n[i]->ua));
	fx_run(fx, fx->n[2], 1, reserve6, 6, NULL, 0, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(scsi_tgt_reset(fx->t, fx->n[0]), 0);
	assert_int_equal(fx->aborts, 2);
	assert_null(lu1->resv6_holder);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fx->n[i]->ua[fx->lu->slot], 1u << UA_BUS_RESET);
		assert_int_equal(fx->n[i]->ua[lu1->slot], 1u << UA_BUS_RESET);
	}
	fx_run(fx, fx->n[2], 1, fx_tur, 6, NULL, 0, buf, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x29, 0x02);
	fx_free(fx);
}

static void test_nexus_loss_releases_reserve6(void **state)
{
	struct fx *fx = fx_new();
	static const uint8_t reserve6[6] = {0x16};
	struct scsi_cmd c;

	fx_cmd(fx, 2, reserve6, 6, buf, &c);
	fx_assert_good(&c);
	assert_ptr_equal(fx->lu->resv6_holder, fx->n[2]);
	scsi_nexus_destroy(fx->n[2]);
	fx->n[2] = NULL;
	assert_null(fx->lu->resv6_holder);
	fx_cmd(fx, 0, reserve6, 6, buf, &c);
	fx_assert_good(&c);
	fx_free(fx);
}

static void test_find_op_and_iteration(void **state)
{
	bool known;
	unsigned n = 0;
	const struct scsi_op_desc *d;

	d = scsi_find_op(0x12, 0x1f, &known);
	assert_non_null(d);
	assert_true(known);
	assert_string_equal(d->name, "INQUIRY");
	assert_null(scsi_find_op(0xa3, 0x05, &known));
	assert_true(known);
	assert_null(scsi_find_op(0xff, 0, &known));
	assert_false(known);
	while ((d = scsi_op_at(n)) != NULL) {
		/* every descriptor is reachable through the dispatcher's lookup */
		assert_ptr_equal(scsi_find_op(d->opcode, d->sa, NULL), d);
		assert_int_equal(d->usage[0], d->opcode);
		assert_true(d->cdb_len == 6 || d->cdb_len == 10 || d->cdb_len == 12 ||
			    d->cdb_len == 16);
		n++;
	}
	assert_int_equal(n, spc_ops_count + sbc_ops_count + pr_ops_count);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_new_nexus_power_on_ua),
		cmocka_unit_test(test_ua_order_and_request_sense),
		cmocka_unit_test(test_request_sense_formats),
		cmocka_unit_test(test_unknown_opcode_and_sa),
		cmocka_unit_test(test_reserved_bits),
		cmocka_unit_test(test_lun_not_configured),
		cmocka_unit_test(test_write_protect_and_stopped),
		cmocka_unit_test(test_errno_table),
		cmocka_unit_test(test_sense_field_pointer),
		cmocka_unit_test(test_put_data_truncates),
		cmocka_unit_test(test_lu_reset),
		cmocka_unit_test(test_tgt_reset),
		cmocka_unit_test(test_nexus_loss_releases_reserve6),
		cmocka_unit_test(test_find_op_and_iteration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
