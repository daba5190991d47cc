/* SPDX-License-Identifier: MIT */
/*
 * spc.c: byte-exact responses of INQUIRY (standard and every VPD page), REPORT
 * LUNS, MODE SENSE/SELECT, REPORT SUPPORTED OPERATION CODES, REPORT TARGET PORT
 * GROUPS, and the sense of each invalid CDB.
 */
#include "tests/unit/scsi_fixture.h"

static uint8_t buf[FX_BUF];

static void inquiry(struct fx *fx, int nexus, uint8_t evpd, uint8_t page, uint16_t alloc,
		    struct scsi_cmd *c)
{
	uint8_t cdb[6] = {0x12, evpd, page, (uint8_t)(alloc >> 8), (uint8_t)alloc, 0};

	assert_int_equal(fx_cmd(fx, nexus, cdb, 6, buf, c), SCSI_DONE);
}

static void test_inquiry_standard(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t exp[96] = {0x00, 0x00, 0x06, 0x12, 91, 0x10, 0x00, 0x02};

	memcpy(&exp[8], "CLUSTERDTEST-DISK       0.1 ", 28);
	put_be16(&exp[58], 0x00a0);
	put_be16(&exp[60], 0x0960);
	put_be16(&exp[62], 0x0460);
	put_be16(&exp[64], 0x04c0);
	inquiry(fx, 0, 0, 0, 260, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 96);
	assert_memory_equal(buf, exp, 96);

	/* every allocation length truncates, never overruns */
	for (uint16_t a = 0; a < 100; a++) {
		inquiry(fx, 0, 0, 0, a, &c);
		fx_assert_good(&c);
		assert_int_equal(c.data_in_len, a < 96 ? a : 96);
		assert_memory_equal(buf, exp, c.data_in_len);
		assert_int_equal(buf[c.data_in_len], 0xa5);
	}
	/* two ports in the table: MULTIP */
	{
		uint16_t ports[2] = {1, 2};
		struct alua_table tab;

		alua_table_standalone(&tab, ports, 2);
		scsi_lu_set_alua(fx->lu, &tab);
		inquiry(fx, 0, 0, 0, 96, &c);
		assert_int_equal(buf[6], 0x10);
	}
	fx_free(fx);
}

static void test_inquiry_invalid(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;

	inquiry(fx, 0, 0, 0x80, 255, &c); /* page code without EVPD */
	fx_assert_cdb_field(&c, 0x24, 2, 7);
	inquiry(fx, 0, 1, 0x86, 255, &c); /* unsupported page */
	fx_assert_cdb_field(&c, 0x24, 2, 7);
	inquiry(fx, 0, 0x03, 0, 255, &c); /* CmdDt */
	fx_assert_cdb_field(&c, 0x24, 1, 1);
	fx_free(fx);
}

static void test_vpd_supported_serial(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	static const uint8_t sup[] = {0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};
	static const uint8_t ser[] = {0x00, 0x80, 0x00, 0x10, '0', '1', '2', '3', '4', '5',
				      '6',  '7',  '8',	'9',  'a', 'b', 'c', 'd', 'e', 'f'};

	inquiry(fx, 0, 1, 0x00, 255, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, sizeof(sup));
	assert_memory_equal(buf, sup, sizeof(sup));
	/* every page it lists can be read */
	for (unsigned i = 4; i < sizeof(sup); i++) {
		inquiry(fx, 0, 1, sup[i], 255, &c);
		fx_assert_good(&c);
		assert_int_equal(buf[1], sup[i]);
		assert_int_equal(c.data_in_len, get_be16(&buf[2]) + 4);
	}
	inquiry(fx, 0, 1, 0x80, 255, &c);
	assert_int_equal(c.data_in_len, sizeof(ser));
	assert_memory_equal(buf, ser, sizeof(ser));
	inquiry(fx, 0, 1, 0x80, 3, &c);
	assert_int_equal(c.data_in_len, 3);
	fx_free(fx);
}

static void test_vpd_device_id(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t exp[100] = {0x00, 0x83, 0x00, 96, 0x01, 0x03, 0x00, 16};
	uint8_t *p = &exp[24];

	memcpy(&exp[8], fx->lu->naa, 16);
	memcpy(p,
	       "\x02\x01\x00\x18"
	       "CLUSTERD0123456789abcdef",
	       28);
	p += 28;
	memcpy(p, "\x51\x94\x00\x04\x00\x00\x00\x02", 8); /* relative port 2 (nexus 2) */
	p += 8;
	memcpy(p, "\x51\x95\x00\x04\x00\x00\x00\x01", 8); /* TPG 1 (no table yet) */
	p += 8;
	memcpy(p, "\x53\xa8\x00\x1c" FX_TGT_NAME "\0", 32);

	inquiry(fx, 2, 1, 0x83, 255, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, sizeof(exp));
	assert_memory_equal(buf, exp, sizeof(exp));
	/* the NAA designator really is NAA 6 with our company id and lu_id */
	assert_memory_equal(&buf[8], "\x65\xac\x1d", 3);
	assert_int_equal(get_be64(&buf[16]), FX_LU_ID);

	/* the TPG designator names the group of the port the command came through */
	{
		struct alua_table tab = {.version = 2, .ntpgs = 2};

		tab.tpg[0] =
			(struct alua_tpg){.id = 7, .state = ALUA_AO, .nports = 1, .rel_port = {1}};
		tab.tpg[1] = (struct alua_tpg){
			.id = 9, .state = ALUA_STANDBY, .nports = 1, .rel_port = {2}};
		scsi_lu_set_alua(fx->lu, &tab);
		memset(fx->n[2]->ua, 0, sizeof(fx->n[2]->ua));
		inquiry(fx, 2, 1, 0x83, 255, &c);
		fx_assert_good(&c);
		assert_int_equal(get_be16(&buf[66]), 9);
		memset(fx->n[0]->ua, 0, sizeof(fx->n[0]->ua));
		inquiry(fx, 0, 1, 0x83, 255, &c);
		assert_int_equal(get_be16(&buf[58]), 1);
		assert_int_equal(get_be16(&buf[66]), 7);
	}
	fx_free(fx);
}

static void test_vpd_block_pages(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_lu *full = fx_add_lu(fx, 1, 1 << 20, 4096, false, false);
	struct scsi_cmd c;
	/* WSNZ=0 (byte 4): WRITE SAME with 0 blocks runs to the end of the LU. */
	uint8_t bl[64] = {0x00, 0xb0, 0x00, 0x3c, 0x00, 128,  0x00, 0x08, 0x00, 0x00, 0x08, 0x00,
			  0x00, 0x00, 0x08, 0x00,			  /* 1 MiB / 512 */
			  0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, /* unmap LBAs 1M */
			  0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x08, /* 64 desc, gran 8 */
			  0x80, 0x00, 0x00, 0x00, 0,	0,    0,    0,	  0x00, 0x00, 0x80, 0x00};
	uint8_t bdc[64] = {0x00, 0xb1, 0x00, 0x3c, 0x00, 0x01};
	static const uint8_t lbp_thin[8] = {0x00, 0xb2, 0x00, 0x04, 0x00, 0xe4, 0x02, 0x00};
	static const uint8_t lbp_full[8] = {0x00, 0xb2, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00};

	inquiry(fx, 0, 1, 0xb0, 64, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 64);
	assert_memory_equal(buf, bl, 64);
	inquiry(fx, 0, 1, 0xb1, 255, &c);
	assert_int_equal(c.data_in_len, 64);
	assert_memory_equal(buf, bdc, 64);
	inquiry(fx, 0, 1, 0xb2, 255, &c);
	assert_int_equal(c.data_in_len, 8);
	assert_memory_equal(buf, lbp_thin, 8);

	/* fully provisioned, 4096-byte blocks: no UNMAP limits, sizes in 4 KiB blocks */
	memset(fx->n[0]->ua, 0, sizeof(fx->n[0]->ua));
	fx_run(fx, fx->n[0], 1, (const uint8_t[6]){0x12, 1, 0xb0, 0, 64, 0}, 6, NULL, 0, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(buf[7], 1);		  /* granularity 1 block */
	assert_int_equal(get_be32(&buf[8]), 256); /* 1 MiB */
	assert_int_equal(get_be32(&buf[20]), 0);
	assert_int_equal(get_be32(&buf[24]), 0);
	assert_int_equal(get_be32(&buf[32]), 0);
	assert_int_equal(get_be64(&buf[36]), (16u << 20) / 4096);
	fx_run(fx, fx->n[0], 1, (const uint8_t[6]){0x12, 1, 0xb2, 0, 64, 0}, 6, NULL, 0, buf, &c);
	assert_memory_equal(buf, lbp_full, 8);
	(void)full;
	fx_free(fx);
}

static void test_report_luns(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t cdb[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
	static const uint8_t exp[32] = {0, 0, 0,    24,	  0, 0,	   0,	 0, 0x00, 0x00, 0,
					0, 0, 0,    0,	  0, 0x00, 0x05, 0, 0,	  0,	0,
					0, 0, 0x41, 0x2c, 0, 0,	   0,	 0, 0,	  0};

	fx_add_lu(fx, 300, 4096, 512, false, false);
	fx_add_lu(fx, 5, 4096, 512, false, false);
	/* 3F/0E pending: REPORT LUNS is not stopped by it and clears it */
	assert_int_not_equal(fx->n[0]->ua[fx->lu->slot] & (1u << UA_LUNS_CHANGED), 0);
	fx_cmd(fx, 0, cdb, 12, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 32);
	assert_memory_equal(buf, exp, 32);
	assert_int_equal(fx->n[0]->ua[fx->lu->slot] & (1u << UA_LUNS_CHANGED), 0);

	cdb[2] = 0x02;
	fx_cmd(fx, 0, cdb, 12, buf, &c);
	assert_memory_equal(buf, exp, 32);
	cdb[2] = 0x01; /* well-known LUs only: none */
	fx_cmd(fx, 0, cdb, 12, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 8);
	assert_int_equal(get_be32(buf), 0);
	cdb[2] = 0x10;
	fx_cmd(fx, 0, cdb, 12, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 2, 7);
	cdb[2] = 0;
	cdb[8] = 0;
	cdb[9] = 15; /* allocation length < 16 */
	fx_cmd(fx, 0, cdb, 12, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 6, -1);
	cdb[9] = 16;
	fx_cmd(fx, 0, cdb, 12, buf, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 16);
	assert_int_equal(get_be32(buf), 24);
	fx_free(fx);
}

static const uint8_t ms_bd512[8] = {0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00};
static const uint8_t ms_caching[20] = {0x08, 0x12, 0x04};
static const uint8_t ms_control[12] = {0x0a, 0x0a, 0x02, 0x10, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t ms_control_ext[32] = {0x4a, 0x01, 0x00, 0x1c};
static const uint8_t ms_iec[12] = {0x1c, 0x0a, 0x08};

static void msense6(struct fx *fx, uint8_t b1, uint8_t b2, uint8_t sub, uint8_t alloc,
		    struct scsi_cmd *c)
{
	uint8_t cdb[6] = {0x1a, b1, b2, sub, alloc, 0};

	fx_cmd(fx, 0, cdb, 6, buf, c);
}

static void test_mode_sense6(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t exp[128] = {55, 0x00, 0x10, 0x08};

	memcpy(&exp[4], ms_bd512, 8);
	memcpy(&exp[12], ms_caching, 20);
	memcpy(&exp[32], ms_control, 12);
	memcpy(&exp[44], ms_iec, 12);
	msense6(fx, 0, 0x3f, 0, 255, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 56);
	assert_memory_equal(buf, exp, 56);

	/* all pages and subpages */
	msense6(fx, 0, 0x3f, 0xff, 255, &c);
	assert_int_equal(c.data_in_len, 88);
	assert_int_equal(buf[0], 87);
	assert_memory_equal(&buf[44], ms_control_ext, 32);
	assert_memory_equal(&buf[76], ms_iec, 12);

	/* DBD: no block descriptor; one page */
	msense6(fx, 0x08, 0x08, 0, 255, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 24);
	assert_memory_equal(buf, "\x17\x00\x10\x00", 4);
	assert_memory_equal(&buf[4], ms_caching, 20);

	/* control page and its subpages */
	msense6(fx, 0x08, 0x0a, 0xff, 255, &c);
	assert_int_equal(c.data_in_len, 4 + 12 + 32);
	msense6(fx, 0x08, 0x0a, 0x01, 255, &c);
	assert_int_equal(c.data_in_len, 4 + 32);
	assert_memory_equal(&buf[4], ms_control_ext, 32);

	/* changeable: only SWP */
	msense6(fx, 0x08, 0x40 | 0x3f, 0, 255, &c);
	fx_assert_good(&c);
	assert_memory_equal(&buf[4], "\x08\x12\x00\x00", 4);
	assert_memory_equal(&buf[24], "\x0a\x0a\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00", 12);
	assert_memory_equal(&buf[36], "\x1c\x0a\x00\x00", 4);
	/* default equals current here */
	msense6(fx, 0x08, 0x80 | 0x0a, 0, 255, &c);
	assert_memory_equal(&buf[4], ms_control, 12);
	/* saved: not supported */
	msense6(fx, 0, 0xc0 | 0x3f, 0, 255, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x39, 0x00);
	/* unknown page / subpage */
	msense6(fx, 0, 0x19, 0, 255, &c);
	fx_assert_cdb_field(&c, 0x24, 2, 5);
	msense6(fx, 0, 0x08, 0x02, 255, &c);
	fx_assert_cdb_field(&c, 0x24, 3, -1);
	msense6(fx, 0, 0x3f, 0x05, 255, &c);
	fx_assert_cdb_field(&c, 0x24, 3, -1);
	/* allocation length: 4 bytes of a 56-byte answer, length field intact */
	msense6(fx, 0, 0x3f, 0, 4, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 4);
	assert_memory_equal(buf, exp, 4);
	assert_int_equal(buf[4], 0xa5);
	fx_free(fx);
}

static void test_mode_sense10(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t cdb[10] = {0x5a, 0x10, 0x08, 0, 0, 0, 0, 0x01, 0x00, 0};
	static const uint8_t hdr[8] = {0x00, 42, 0x00, 0x10, 0x01, 0x00, 0x00, 16};
	static const uint8_t bdl[16] = {0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0x02, 0};

	fx_cmd(fx, 0, cdb, 10, buf, &c); /* LLBAA: long descriptor */
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 8 + 16 + 20);
	assert_memory_equal(buf, hdr, 8);
	assert_memory_equal(&buf[8], bdl, 16);
	assert_memory_equal(&buf[24], ms_caching, 20);
	cdb[1] = 0; /* short descriptor */
	fx_cmd(fx, 0, cdb, 10, buf, &c);
	assert_memory_equal(buf, "\x00\x22\x00\x10\x00\x00\x00\x08", 8);
	assert_memory_equal(&buf[8], ms_bd512, 8);
	cdb[1] = 0x18; /* LLBAA with DBD: nothing */
	fx_cmd(fx, 0, cdb, 10, buf, &c);
	assert_memory_equal(buf, "\x00\x1a\x00\x10\x00\x00\x00\x00", 8);

	/* write-protected LU: WP in the device-specific parameter */
	fx->lu->swp = true;
	fx_cmd(fx, 0, cdb, 10, buf, &c);
	assert_int_equal(buf[3], 0x90);
	fx_free(fx);
}

static void mselect6(struct fx *fx, int nexus, const uint8_t *data, uint8_t len, struct scsi_cmd *c)
{
	uint8_t cdb[6] = {0x15, 0x10, 0, 0, len, 0};

	fx_run(fx, fx->n[nexus], 0, cdb, 6, data, len, buf, c);
}

static void test_mode_select(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t pl[64] = {0, 0, 0, 8};
	uint8_t cdb10[10] = {0x55, 0x10, 0, 0, 0, 0, 0, 0, 0, 0};

	/* what we report is accepted back (PS bit ignored) */
	memcpy(&pl[4], ms_bd512, 8);
	memcpy(&pl[12], ms_caching, 20);
	pl[12] |= 0x80;
	mselect6(fx, 0, pl, 32, &c);
	fx_assert_good(&c);
	/* WCE is not changeable */
	pl[14] = 0;
	mselect6(fx, 0, pl, 32, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_int_equal(get_be16(&c.sense[16]), 14);
	/* wrong block length in the descriptor */
	pl[14] = 0x04;
	pl[10] = 0x10;
	mselect6(fx, 0, pl, 32, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	/* truncated page */
	memcpy(&pl[4], ms_bd512, 8);
	mselect6(fx, 0, pl, 30, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	/* unknown page */
	pl[12] = 0x19;
	mselect6(fx, 0, pl, 32, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	/* SP=1: saving is not supported */
	fx_run(fx, fx->n[0], 0, (const uint8_t[6]){0x15, 0x11, 0, 0, 4, 0}, 6, pl, 4, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 1, 0);
	/* empty parameter list: nothing to do */
	mselect6(fx, 0, pl, 0, &c);
	fx_assert_good(&c);

	/* SWP on through MODE SELECT(10): writes refused, others told once */
	memset(pl, 0, sizeof(pl));
	memcpy(&pl[8], ms_control, 12);
	pl[12] = 0x08;
	cdb10[8] = 20;
	fx_run(fx, fx->n[0], 0, cdb10, 10, pl, 20, buf, &c);
	fx_assert_good(&c);
	assert_true(fx->lu->swp);
	fx_cmd(fx, 0, fx_write10, 10, buf, &c);
	fx_assert_sense(&c, SK_DATA_PROTECT, 0x27, 0x00);
	fx_cmd(fx, 0, fx_read10, 10, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 1, fx_tur, 6, buf, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x2a, 0x01);
	msense6(fx, 0x08, 0x0a, 0, 255, &c);
	assert_int_equal(buf[2], 0x90);
	assert_int_equal(buf[8], 0x08);
	/* and off again */
	pl[12] = 0;
	fx_run(fx, fx->n[0], 0, cdb10, 10, pl, 20, buf, &c);
	fx_assert_good(&c);
	assert_false(fx->lu->swp);
	/* a bad second page changes nothing from the first */
	memset(pl, 0, sizeof(pl));
	memcpy(&pl[4], ms_control, 12);
	pl[8] = 0x08;
	memcpy(&pl[16], ms_iec, 12);
	pl[18] = 0;
	mselect6(fx, 0, pl, 28, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_false(fx->lu->swp);
	fx_free(fx);
}

static void test_tur_start_stop(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t ssu[6] = {0x1b, 0, 0, 0, 0x00, 0};

	fx_cmd(fx, 0, fx_tur, 6, buf, &c);
	fx_assert_good(&c);
	/* stop: the volatile cache is flushed first, asynchronously */
	assert_int_equal(fx_cmd(fx, 0, ssu, 6, buf, &c), SCSI_PENDING);
	assert_int_equal(fx->bdev->submits, 1);
	assert_int_equal(fx->bdev->pending->op, BDEV_FLUSH);
	assert_int_equal(fx->done_calls, 0);
	assert_false(list_empty(&fx->lu->inflight));
	fx_bdev_complete(fx->bdev, 0);
	assert_int_equal(fx->done_calls, 1);
	fx_assert_good(&c);
	assert_true(list_empty(&fx->lu->inflight));
	fx_cmd(fx, 0, fx_tur, 6, buf, &c);
	fx_assert_sense(&c, SK_NOT_READY, 0x04, 0x02);
	/* a failed flush is a write error */
	assert_int_equal(fx_cmd(fx, 0, ssu, 6, buf, &c), SCSI_PENDING);
	fx_bdev_complete(fx->bdev, -EIO);
	fx_assert_sense(&c, SK_MEDIUM_ERROR, 0x0c, 0x00);
	/* NO_FLUSH: done at once */
	ssu[4] = 0x04;
	assert_int_equal(fx_cmd(fx, 0, ssu, 6, buf, &c), SCSI_DONE);
	fx_assert_good(&c);
	/* start */
	ssu[4] = 0x01;
	fx_cmd(fx, 0, ssu, 6, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 0, fx_tur, 6, buf, &c);
	fx_assert_good(&c);
	/* LOEJ: no removable medium */
	ssu[4] = 0x02;
	fx_cmd(fx, 0, ssu, 6, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 4, 1);
	/* a power condition changes nothing */
	ssu[4] = 0x30;
	fx_cmd(fx, 0, ssu, 6, buf, &c);
	fx_assert_good(&c);
	assert_false(fx->lu->stopped);
	/* IMMED and reserved bits */
	ssu[1] = 0x01;
	ssu[4] = 0x01;
	fx_cmd(fx, 0, ssu, 6, buf, &c);
	fx_assert_good(&c);
	ssu[4] = 0x08;
	fx_cmd(fx, 0, ssu, 6, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 4, 3);
	fx_free(fx);
}

static void test_prevent_allow(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t cdb[6] = {0x1e, 0, 0, 0, 1, 0};

	fx_cmd(fx, 0, cdb, 6, buf, &c);
	fx_assert_good(&c);
	assert_true(fx->lu->removal_prevented);
	cdb[4] = 0;
	fx_cmd(fx, 0, cdb, 6, buf, &c);
	fx_assert_good(&c);
	assert_false(fx->lu->removal_prevented);
	cdb[4] = 2;
	fx_cmd(fx, 0, cdb, 6, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 4, 1);
	fx_free(fx);
}

static void rsoc(struct fx *fx, uint8_t opts, uint8_t op, uint16_t sa, uint32_t alloc,
		 struct scsi_cmd *c)
{
	uint8_t cdb[12] = {0xa3, 0x0c, opts, op, (uint8_t)(sa >> 8), (uint8_t)sa};

	put_be32(&cdb[6], alloc);
	fx_cmd(fx, 0, cdb, 12, buf, c);
}

static void test_rsoc_all(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	unsigned n = spc_ops_count + sbc_ops_count + pr_ops_count;
	static const uint8_t first[16] = {0x00, 0, 0x00, 0x00, 0, 0x00, 0x00, 6,
					  0x03, 0, 0x00, 0x00, 0, 0x00, 0x00, 6};
	static const uint8_t rtpg[8] = {0xa3, 0, 0x00, 0x0a, 0, 0x01, 0x00, 12};

	rsoc(fx, 0, 0, 0, 4096, &c);
	fx_assert_good(&c);
	assert_int_equal(get_be32(buf), 8 * n);
	assert_int_equal(c.data_in_len, 4 + 8 * n);
	assert_memory_equal(&buf[4], first, 16);
	assert_memory_equal(&buf[4 + 8 * 10], rtpg, 8);
	/* every descriptor matches the dispatcher's table */
	for (unsigned i = 0; i < n; i++) {
		const struct scsi_op_desc *d = scsi_op_at(i);
		const uint8_t *p = &buf[4 + 8 * i];

		assert_int_equal(p[0], d->opcode);
		assert_int_equal(get_be16(&p[2]), d->has_sa ? d->sa : 0);
		assert_int_equal(p[5], d->has_sa ? 1 : 0);
		assert_int_equal(get_be16(&p[6]), d->cdb_len);
	}
	/* RCTD: 20-byte descriptors with a 10-byte timeouts descriptor */
	rsoc(fx, 0x80, 0, 0, 4096, &c);
	fx_assert_good(&c);
	assert_int_equal(get_be32(buf), 20 * n);
	assert_memory_equal(&buf[4],
			    "\x00\x00\x00\x00\x00\x02\x00\x06\x00\x0a\x00\x00"
			    "\x00\x00\x00\x00\x00\x00\x00\x1e",
			    20);
	/* truncated */
	rsoc(fx, 0, 0, 0, 10, &c);
	assert_int_equal(c.data_in_len, 10);
	assert_int_equal(get_be32(buf), 8 * n);
	/* bad reporting options */
	rsoc(fx, 4, 0, 0, 4096, &c);
	fx_assert_cdb_field(&c, 0x24, 2, 2);
	fx_free(fx);
}

static void test_rsoc_one(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	static const uint8_t inq[10] = {0, 0x03, 0, 6, 0x12, 0x01, 0xff, 0xff, 0xff, 0x00};
	static const uint8_t rtpg[16] = {0, 0x03, 0,	12,   0xa3, 0xea, 0, 0,
					 0, 0,	  0xff, 0xff, 0xff, 0xff, 0, 0};
	static const uint8_t prout[14] = {0, 0x83, 0,	 10,   0x5f, 0x06, 0xff,
					  0, 0,	   0xff, 0xff, 0xff, 0xff, 0};

	rsoc(fx, 1, 0x12, 0, 512, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 10);
	assert_memory_equal(buf, inq, 10);
	rsoc(fx, 1, 0xa3, 0x0a, 512, &c); /* has service actions: option 1 is wrong */
	fx_assert_cdb_field(&c, 0x24, 3, -1);
	rsoc(fx, 2, 0xa3, 0x0a, 512, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 16);
	assert_memory_equal(buf, rtpg, 16);
	rsoc(fx, 2, 0x12, 0, 512, &c); /* no service actions: option 2 is wrong */
	fx_assert_cdb_field(&c, 0x24, 4, -1);
	rsoc(fx, 0x82, 0x5f, 0x06, 512, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 14 + 12);
	assert_memory_equal(buf, prout, 14);
	assert_int_equal(get_be16(&buf[14]), 10);
	/* not supported: opcode, or service action */
	rsoc(fx, 1, 0xc5, 0, 512, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 4);
	assert_memory_equal(buf, "\x00\x01\x00\x00", 4);
	rsoc(fx, 2, 0xa3, 0x05, 512, &c);
	assert_memory_equal(buf, "\x00\x01\x00\x00", 4);
	rsoc(fx, 2, 0xa4, 0x0a, 512, &c); /* SET TARGET PORT GROUPS: consistent with 20/00 */
	assert_memory_equal(buf, "\x00\x01\x00\x00", 4);
	/* option 3: service action ignored for an opcode without any */
	rsoc(fx, 3, 0x12, 0x55, 512, &c);
	assert_memory_equal(buf, inq, 10);
	fx_free(fx);
}

static void rtpg(struct fx *fx, uint8_t fmt, uint32_t alloc, struct scsi_cmd *c)
{
	uint8_t cdb[12] = {0xa3, (uint8_t)(fmt << 5 | 0x0a)};

	put_be32(&cdb[6], alloc);
	fx_cmd(fx, 0, cdb, 12, buf, c);
}

static void test_rtpg(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	struct alua_table tab = {.version = 3, .ntpgs = 2};
	static const uint8_t exp[32] = {
		0x00, 0x00, 0x00, 28, 0x80 | ALUA_AO, 0xcf, 0x00, 0x01, 0, 0x02, 0, 2, 0, 0, 0, 1,
		0,    0,    0,	  3,  ALUA_STANDBY,   0xcf, 0x00, 0x02, 0, 0x02, 0, 1, 0, 0, 0, 2,
	};
	static const uint8_t implicit[12] = {0, 0, 0, 8, 0x00, 0xcf, 0, 1, 0, 0x02, 0, 0};

	rtpg(fx, 0, 512, &c); /* no table yet: group 1, active/optimized */
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 12);
	assert_memory_equal(buf, implicit, 12);

	tab.tpg[0] = (struct alua_tpg){
		.id = 1, .state = ALUA_AO, .pref = true, .nports = 2, .rel_port = {1, 3}};
	tab.tpg[1] =
		(struct alua_tpg){.id = 2, .state = ALUA_STANDBY, .nports = 1, .rel_port = {2}};
	scsi_lu_set_alua(fx->lu, &tab);
	/* group 2 changed: every I_T nexus hears of it first (UA 2A/06), also the
	 * one on port 1 whose own group stayed active/optimized */
	rtpg(fx, 0, 512, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x2a, 0x06);
	rtpg(fx, 0, 512, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 32);
	assert_memory_equal(buf, exp, 32);
	rtpg(fx, 1, 512, &c);
	fx_assert_good(&c);
	assert_int_equal(c.data_in_len, 36);
	assert_memory_equal(buf, "\x00\x00\x00\x20\x10\x00\x00\x00", 8);
	assert_memory_equal(&buf[8], &exp[4], 28);
	rtpg(fx, 0, 6, &c);
	assert_int_equal(c.data_in_len, 6);
	assert_memory_equal(buf, exp, 6);
	rtpg(fx, 2, 512, &c);
	fx_assert_cdb_field(&c, 0x24, 1, 7);
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inquiry_standard),
		cmocka_unit_test(test_inquiry_invalid),
		cmocka_unit_test(test_vpd_supported_serial),
		cmocka_unit_test(test_vpd_device_id),
		cmocka_unit_test(test_vpd_block_pages),
		cmocka_unit_test(test_report_luns),
		cmocka_unit_test(test_mode_sense6),
		cmocka_unit_test(test_mode_sense10),
		cmocka_unit_test(test_mode_select),
		cmocka_unit_test(test_tur_start_stop),
		cmocka_unit_test(test_prevent_allow),
		cmocka_unit_test(test_rsoc_all),
		cmocka_unit_test(test_rsoc_one),
		cmocka_unit_test(test_rtpg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
