/* SPDX-License-Identifier: MIT */
/*
 * pr.c: every PERSISTENT RESERVE OUT service action and type with three I_T
 * nexuses (n0, n1 on port 1, n2 on port 2), the conflict matrix, the unit
 * attentions SPC-4 5.13 asks for, PR IN data byte for byte, SPC-2
 * RESERVE/RELEASE with the CRH exceptions, and pr_apply() as a pure function.
 */
#include "tests/unit/scsi_fixture.h"

static uint8_t buf[FX_BUF];

#define KA 0x1111111111111111ull
#define KB 0x2222222222222222ull
#define KC 0x3333333333333333ull

static void prout_pl(struct fx *fx, struct scsi_nexus *n, uint8_t sa, uint8_t scope_type,
		     const uint8_t *pl, uint32_t len, struct scsi_cmd *c)
{
	uint8_t cdb[10] = {0x5f, sa, scope_type};

	put_be32(&cdb[5], len);
	fx_run(fx, n, 0, cdb, 10, pl, len, buf, c);
}

static void prout(struct fx *fx, int nx, uint8_t sa, uint8_t type, uint64_t key, uint64_t sakey,
		  uint8_t flags, struct scsi_cmd *c)
{
	uint8_t pl[24] = {0};

	put_be64(pl, key);
	put_be64(&pl[8], sakey);
	pl[20] = flags;
	prout_pl(fx, fx->n[nx], sa, type, pl, 24, c);
}

static void prout_ok(struct fx *fx, int nx, uint8_t sa, uint8_t type, uint64_t key, uint64_t sakey)
{
	struct scsi_cmd c;

	prout(fx, nx, sa, type, key, sakey, 0, &c);
	fx_assert_good(&c);
}

static void prin(struct fx *fx, int nx, uint8_t sa, uint16_t alloc, struct scsi_cmd *c)
{
	uint8_t cdb[10] = {0x5e, sa, 0, 0, 0, 0, 0, (uint8_t)(alloc >> 8), (uint8_t)alloc, 0};

	fx_cmd(fx, nx, cdb, 10, buf, c);
	fx_assert_good(c);
}

static void clear_uas(struct fx *fx)
{
	for (int i = 0; i < 3; i++)
		memset(fx->n[i]->ua, 0, sizeof(fx->n[i]->ua));
}

static uint32_t ua_of(struct fx *fx, int nx)
{
	return fx->n[nx]->ua[fx->lu->slot];
}

static void test_register_and_read_keys(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t exp[24] = {0, 0, 0, 4, 0, 0, 0, 16};

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout(fx, 0, PR_OUT_REGISTER, 0, KC, KB, 0, &c); /* wrong key */
	fx_assert_conflict(&c);
	prout_ok(fx, 0, PR_OUT_REGISTER, 0, KA, KB);	 /* change key */
	prout(fx, 1, PR_OUT_REGISTER, 0, KA, KC, 0, &c); /* unregistered with a key */
	fx_assert_conflict(&c);
	prout_ok(fx, 1, PR_OUT_REGISTER_IGNORE, 0, 0x9999, KC);
	prout_ok(fx, 2, PR_OUT_REGISTER, 0, 0, 0); /* unregistered, key 0: no-op */
	put_be64(&exp[8], KB);
	put_be64(&exp[16], KC);
	prin(fx, 2, 0x00, 64, &c);
	assert_int_equal(c.data_in_len, 24);
	assert_memory_equal(buf, exp, 24);
	/* truncated: the additional length still tells the whole list */
	prin(fx, 2, 0x00, 8, &c);
	assert_int_equal(c.data_in_len, 8);
	assert_memory_equal(buf, exp, 8);
	/* unregister */
	prout_ok(fx, 1, PR_OUT_REGISTER, 0, KC, 0);
	prin(fx, 0, 0x00, 64, &c);
	assert_int_equal(get_be32(buf), 5);
	assert_int_equal(get_be32(&buf[4]), 8);
	assert_int_equal(get_be64(&buf[8]), KB);
	/* no PR unit attention was raised by any of this */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ua_of(fx, i), 0);
	fx_free(fx);
}

static void test_param_checks(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t pl[24] = {0};

	prout(fx, 0, PR_OUT_REGISTER, 0, 0, KA, 0x01, &c); /* APTPL */
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_int_equal(c.sense[15], 0x88);
	assert_int_equal(get_be16(&c.sense[16]), 20);
	prout(fx, 0, PR_OUT_REGISTER, 0, 0, KA, 0x08, &c); /* SPEC_I_PT */
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	prout_pl(fx, fx->n[0], PR_OUT_REGISTER, 0, pl, 23, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	prout_pl(fx, fx->n[0], PR_OUT_REGISTER, 0, pl, 28, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout(fx, 0, PR_OUT_RESERVE, 0x10 | PR_TYPE_WE, KA, 0, 0, &c); /* scope */
	fx_assert_cdb_field(&c, 0x24, 2, 7);
	prout(fx, 0, PR_OUT_RESERVE, 0x02, KA, 0, 0, &c); /* type 2 is obsolete */
	fx_assert_cdb_field(&c, 0x24, 2, 3);
	prout(fx, 0, PR_OUT_RESERVE, PR_TYPE_WE, KA, 0, 0x01, &c); /* APTPL ignored here */
	fx_assert_good(&c);
	assert_int_equal(fx->lu->pr.generation, 1);
	fx_free(fx);
}

static void test_reserve_and_read_reservation(void **state)
{
	static const uint8_t types[] = {PR_TYPE_WE,    PR_TYPE_EA,    PR_TYPE_WE_RO,
					PR_TYPE_EA_RO, PR_TYPE_WE_AR, PR_TYPE_EA_AR};
	struct fx *fx = fx_new();
	struct scsi_cmd c;

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout_ok(fx, 1, PR_OUT_REGISTER, 0, 0, KB);
	prin(fx, 0, 0x01, 64, &c);
	assert_int_equal(c.data_in_len, 8);
	assert_memory_equal(buf, "\x00\x00\x00\x02\x00\x00\x00\x00", 8);
	for (unsigned i = 0; i < sizeof(types); i++) {
		uint8_t t = types[i];
		bool ar = t == PR_TYPE_WE_AR || t == PR_TYPE_EA_AR;
		uint8_t exp[24] = {0, 0, 0, 2, 0, 0, 0, 16};

		prout_ok(fx, 0, PR_OUT_RESERVE, t, KA, 0);
		prout_ok(fx, 0, PR_OUT_RESERVE, t, KA, 0); /* again: same type is fine */
		put_be64(&exp[8], ar ? 0 : KA);
		exp[21] = t;
		prin(fx, 2, 0x01, 64, &c);
		assert_int_equal(c.data_in_len, 24);
		assert_memory_equal(buf, exp, 24);
		prout(fx, 0, PR_OUT_RESERVE, t == PR_TYPE_WE ? PR_TYPE_EA : PR_TYPE_WE, KA, 0, 0,
		      &c);
		fx_assert_conflict(&c);
		/* a registrant is a holder of an all-registrants reservation */
		prout(fx, 1, PR_OUT_RESERVE, t, KB, 0, 0, &c);
		if (ar)
			fx_assert_good(&c);
		else
			fx_assert_conflict(&c);
		prout(fx, 0, PR_OUT_RESERVE, t, KB, 0, 0, &c); /* wrong key */
		fx_assert_conflict(&c);
		prout(fx, 2, PR_OUT_RESERVE, t, 0, 0, 0, &c); /* unregistered */
		fx_assert_conflict(&c);
		prout_ok(fx, 0, PR_OUT_RELEASE, t, KA, 0);
		clear_uas(fx);
	}
	assert_int_equal(fx->lu->pr.generation, 2); /* RESERVE/RELEASE do not count */
	fx_free(fx);
}

/* Access for (registered non-holder n1, unregistered n2): read, write, mode sense. */
static void check_access(struct fx *fx, uint8_t type, bool r1, bool w1, bool r2, bool w2)
{
	struct scsi_cmd c;
	static const uint8_t rluns[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
	const struct {
		int nx;
		const uint8_t *cdb;
		size_t len;
		bool ok;
	} t[] = {
		{0, fx_read10, 10, true}, {0, fx_write10, 10, true}, {0, fx_msense6, 6, true},
		{1, fx_read10, 10, r1},	  {1, fx_write10, 10, w1},   {1, fx_msense6, 6, w1},
		{2, fx_read10, 10, r2},	  {2, fx_write10, 10, w2},   {2, fx_msense6, 6, w2},
		{2, fx_tur, 6, true},	  {2, fx_inquiry, 6, true},  {2, rluns, 12, true},
		{2, fx_rsense, 6, true},
	};

	prout_ok(fx, 0, PR_OUT_RESERVE, type, KA, 0);
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fx_cmd(fx, t[i].nx, t[i].cdb, t[i].len, buf, &c);
		if (t[i].ok && c.status != SAM_STAT_GOOD)
			fail_msg("type %u: n%d opcode %02x refused", type, t[i].nx, t[i].cdb[0]);
		if (!t[i].ok && c.status != SAM_STAT_RESERVATION_CONFLICT)
			fail_msg("type %u: n%d opcode %02x ran", type, t[i].nx, t[i].cdb[0]);
	}
	prout_ok(fx, 0, PR_OUT_RELEASE, type, KA, 0);
	clear_uas(fx);
}

static void test_conflict_matrix(void **state)
{
	struct fx *fx = fx_new();

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout_ok(fx, 1, PR_OUT_REGISTER, 0, 0, KB);
	/*                         reg read, reg write, unreg read, unreg write */
	check_access(fx, PR_TYPE_WE, true, false, true, false);
	check_access(fx, PR_TYPE_EA, false, false, false, false);
	check_access(fx, PR_TYPE_WE_RO, true, true, true, false);
	check_access(fx, PR_TYPE_EA_RO, true, true, false, false);
	check_access(fx, PR_TYPE_WE_AR, true, true, true, false);
	check_access(fx, PR_TYPE_EA_AR, true, true, false, false);
	fx_free(fx);
}

static void test_release(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout_ok(fx, 1, PR_OUT_REGISTER, 0, 0, KB);
	prout_ok(fx, 0, PR_OUT_RELEASE, PR_TYPE_WE, KA, 0);    /* nothing reserved: GOOD */
	prout(fx, 2, PR_OUT_RELEASE, PR_TYPE_WE, 0, 0, 0, &c); /* unregistered */
	fx_assert_conflict(&c);
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_WE, KA, 0);
	prout(fx, 0, PR_OUT_RELEASE, PR_TYPE_EA, KA, 0, 0, &c); /* wrong type */
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x04);
	prout_ok(fx, 1, PR_OUT_RELEASE, PR_TYPE_WE, KB, 0); /* not the holder: no-op */
	assert_true(fx->lu->pr.reserved);
	prout_ok(fx, 0, PR_OUT_RELEASE, PR_TYPE_WE, KA, 0);
	assert_false(fx->lu->pr.reserved);
	assert_int_equal(ua_of(fx, 1), 0); /* WE/EA release tells nobody */
	/* registrants-only: the other registrants get 2A/04, the unregistered nothing */
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_WE_RO, KA, 0);
	prout_ok(fx, 0, PR_OUT_RELEASE, PR_TYPE_WE_RO, KA, 0);
	assert_int_equal(ua_of(fx, 0), 0);
	assert_int_equal(ua_of(fx, 1), 1u << UA_RESERVATIONS_RELEASED);
	assert_int_equal(ua_of(fx, 2), 0);
	fx_cmd(fx, 1, fx_tur, 6, buf, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x2a, 0x04);
	/* all-registrants: same */
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_EA_AR, KA, 0);
	prout_ok(fx, 1, PR_OUT_RELEASE, PR_TYPE_EA_AR, KB, 0);
	assert_false(fx->lu->pr.reserved);
	assert_int_equal(ua_of(fx, 0), 1u << UA_RESERVATIONS_RELEASED);
	assert_int_equal(ua_of(fx, 1), 0);
	fx_free(fx);
}

/* libiscsi ProutReserve.Ownership*: the holder unregisters. */
static void test_holder_unregisters(void **state)
{
	static const struct {
		uint8_t type;
		bool stays, ua;
	} t[] = {
		{PR_TYPE_WE, false, false},   {PR_TYPE_EA, false, false},
		{PR_TYPE_WE_RO, false, true}, {PR_TYPE_EA_RO, false, true},
		{PR_TYPE_WE_AR, true, false}, {PR_TYPE_EA_AR, true, false},
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct fx *fx = fx_new();

		prout_ok(fx, 0, PR_OUT_REGISTER_IGNORE, 0, 0, KA);
		prout_ok(fx, 1, PR_OUT_REGISTER_IGNORE, 0, 0, KB);
		prout_ok(fx, 0, PR_OUT_RESERVE, t[i].type, KA, 0);
		prout_ok(fx, 0, PR_OUT_REGISTER, 0, KA, 0);
		assert_int_equal(fx->lu->pr.reserved, t[i].stays);
		assert_int_equal(ua_of(fx, 1), t[i].ua ? 1u << UA_RESERVATIONS_RELEASED : 0);
		assert_int_equal(ua_of(fx, 0), 0);
		assert_int_equal(ua_of(fx, 2), 0);
		if (t[i].stays) {
			/* the last registrant's release ends it; nobody is left to tell */
			prout_ok(fx, 1, PR_OUT_RELEASE, t[i].type, KB, 0);
			assert_false(fx->lu->pr.reserved);
		}
		clear_uas(fx);
		prout_ok(fx, 1, PR_OUT_REGISTER, 0, KB, 0);
		assert_false(fx->lu->pr.reserved);
		fx_free(fx);
	}
	/* all-registrants: the reservation ends with the last registration */
	{
		struct fx *fx = fx_new();

		prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
		prout_ok(fx, 1, PR_OUT_REGISTER, 0, 0, KB);
		prout_ok(fx, 1, PR_OUT_RESERVE, PR_TYPE_WE_AR, KB, 0);
		prout_ok(fx, 1, PR_OUT_REGISTER, 0, KB, 0);
		assert_true(fx->lu->pr.reserved);
		prout_ok(fx, 0, PR_OUT_REGISTER, 0, KA, 0);
		assert_false(fx->lu->pr.reserved);
		fx_free(fx);
	}
}

static void test_clear(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout_ok(fx, 1, PR_OUT_REGISTER, 0, 0, KB);
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_EA, KA, 0);
	prout(fx, 2, PR_OUT_CLEAR, 0, 0, 0, 0, &c);
	fx_assert_conflict(&c);
	prout(fx, 1, PR_OUT_CLEAR, 0, KA, 0, 0, &c); /* not its key */
	fx_assert_conflict(&c);
	prout_ok(fx, 1, PR_OUT_CLEAR, 0, KB, 0);
	assert_false(fx->lu->pr.reserved);
	assert_int_equal(fx->lu->pr.generation, 3);
	assert_int_equal(ua_of(fx, 0), 1u << UA_RESERVATIONS_PREEMPTED);
	assert_int_equal(ua_of(fx, 1), 0);
	assert_int_equal(ua_of(fx, 2), 0);
	prin(fx, 2, 0x00, 64, &c);
	assert_int_equal(get_be32(&buf[4]), 0);
	fx_free(fx);
}

static void test_preempt_registrations(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;

	/* libiscsi ProutPreempt.RemoveRegistration: no reservation */
	prout_ok(fx, 0, PR_OUT_REGISTER_IGNORE, 0, 0, KA);
	prout_ok(fx, 1, PR_OUT_REGISTER_IGNORE, 0, 0, KB);
	prout(fx, 1, PR_OUT_PREEMPT, PR_TYPE_EA, KB, KC, 0, &c); /* no such key */
	fx_assert_conflict(&c);
	prout(fx, 1, PR_OUT_PREEMPT, PR_TYPE_EA, KB, 0, 0, &c); /* key 0, no reservation */
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	prout_ok(fx, 1, PR_OUT_PREEMPT, PR_TYPE_EA, KB, KA);
	assert_int_equal(fx->lu->pr.generation, 3);
	assert_false(fx->lu->pr.reserved);
	assert_int_equal(ua_of(fx, 0), 1u << UA_REGISTRATIONS_PREEMPTED);
	assert_int_equal(ua_of(fx, 1), 0);
	prin(fx, 1, 0x00, 64, &c);
	assert_int_equal(get_be32(&buf[4]), 8);
	assert_int_equal(get_be64(&buf[8]), KB);
	assert_int_equal(fx->aborts, 0);
	fx_free(fx);
}

static void test_preempt_holder(void **state)
{
	struct fx *fx = fx_new();

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout_ok(fx, 1, PR_OUT_REGISTER, 0, 0, KB);
	prout_ok(fx, 2, PR_OUT_REGISTER, 0, 0, KC);
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_WE, KA, 0);
	/* n1 takes over with a new type: n0 loses its registration, n2 its reservation */
	prout_ok(fx, 1, PR_OUT_PREEMPT_ABORT, PR_TYPE_EA, KB, KA);
	assert_true(fx->lu->pr.reserved);
	assert_int_equal(fx->lu->pr.type, PR_TYPE_EA);
	assert_int_equal(fx->lu->pr.reg[fx->lu->pr.holder].key, KB);
	assert_int_equal(ua_of(fx, 0), 1u << UA_REGISTRATIONS_PREEMPTED);
	assert_int_equal(ua_of(fx, 1), 0);
	assert_int_equal(ua_of(fx, 2), 1u << UA_RESERVATIONS_RELEASED);
	assert_int_equal(fx->aborts, 1);
	assert_ptr_equal(fx->abort_keep, fx->n[1]);
	clear_uas(fx);
	/* preempting a non-holder's key leaves the reservation alone */
	prout_ok(fx, 1, PR_OUT_PREEMPT, PR_TYPE_EA, KB, KC);
	assert_int_equal(fx->lu->pr.type, PR_TYPE_EA);
	assert_int_equal(ua_of(fx, 2), 1u << UA_REGISTRATIONS_PREEMPTED);
	assert_int_equal(fx->aborts, 1);
	fx_free(fx);
}

static void test_preempt_all_registrants(void **state)
{
	struct fx *fx = fx_new();

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout_ok(fx, 1, PR_OUT_REGISTER, 0, 0, KB);
	prout_ok(fx, 2, PR_OUT_REGISTER, 0, 0, KC);
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_WE_AR, KA, 0);
	prout_ok(fx, 2, PR_OUT_PREEMPT, PR_TYPE_EA_RO, KC, 0);
	assert_int_equal(fx->lu->pr.type, PR_TYPE_EA_RO);
	assert_int_equal(fx->lu->pr.reg[fx->lu->pr.holder].key, KC);
	assert_int_equal(ua_of(fx, 0), 1u << UA_REGISTRATIONS_PREEMPTED);
	assert_int_equal(ua_of(fx, 1), 1u << UA_REGISTRATIONS_PREEMPTED);
	assert_int_equal(ua_of(fx, 2), 0);
	fx_free(fx);
}

static void test_register_and_move(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t pl[76] = {0};
	static const char tid_port[] = FX_PORT2;

	assert_int_equal(sizeof(tid_port), 47);

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	/* destination: FX_PORT2 through relative port 1 (that is n1) */
	put_be64(pl, KA);
	put_be64(&pl[8], KC);
	pl[17] = 0x02; /* UNREG */
	put_be16(&pl[18], 1);
	put_be32(&pl[20], 52);
	pl[24] = 0x45;
	put_be16(&pl[26], 48);
	memcpy(&pl[28], tid_port, sizeof(tid_port));
	prout_pl(fx, fx->n[0], PR_OUT_REGISTER_MOVE, PR_TYPE_WE, pl, 76, &c);
	fx_assert_conflict(&c); /* no reservation to move */
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_WE, KA, 0);
	pl[17] = 0x03; /* APTPL */
	prout_pl(fx, fx->n[0], PR_OUT_REGISTER_MOVE, PR_TYPE_WE, pl, 76, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	pl[17] = 0x02;
	pl[24] = 0x05; /* format 00b: no ISID, not enough to name an I_T nexus */
	prout_pl(fx, fx->n[0], PR_OUT_REGISTER_MOVE, PR_TYPE_WE, pl, 76, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	pl[24] = 0x45;
	put_be32(&pl[20], 56); /* TransportID longer than the list */
	prout_pl(fx, fx->n[0], PR_OUT_REGISTER_MOVE, PR_TYPE_WE, pl, 76, &c);
	fx_assert_sense(&c, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	put_be32(&pl[20], 52);
	prout_pl(fx, fx->n[1], PR_OUT_REGISTER_MOVE, PR_TYPE_WE, pl, 76, &c); /* not holder */
	fx_assert_conflict(&c);
	prout_pl(fx, fx->n[0], PR_OUT_REGISTER_MOVE, PR_TYPE_WE, pl, 76, &c);
	fx_assert_good(&c);
	/* n1 now holds WE with KC; n0 is gone */
	prin(fx, 1, 0x01, 64, &c);
	assert_int_equal(get_be64(&buf[8]), KC);
	assert_int_equal(buf[21], PR_TYPE_WE);
	prin(fx, 1, 0x00, 64, &c);
	assert_int_equal(get_be32(&buf[4]), 8);
	fx_cmd(fx, 1, fx_write10, 10, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 0, fx_write10, 10, buf, &c);
	fx_assert_conflict(&c);
	assert_int_equal(fx->lu->pr.generation, 2);
	fx_free(fx);
}

static void test_report_caps_and_full_status(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	static const uint8_t caps[8] = {0x00, 0x08, 0x14, 0x90, 0xea, 0x01, 0x00, 0x00};
	/* each descriptor: 24 bytes + TransportID of 4 + 48 (46-char port name, NUL, pad) */
	uint8_t exp[8 + 2 * 76] = {0, 0, 0, 2, 0, 0, 0, 152};
	uint8_t *d = &exp[8];

	prin(fx, 0, 0x02, 64, &c);
	assert_int_equal(c.data_in_len, 8);
	assert_memory_equal(buf, caps, 8);

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout(fx, 2, PR_OUT_REGISTER, 0, 0, KB, 0x04, &c); /* ALL_TG_PT */
	fx_assert_good(&c);
	prout_ok(fx, 2, PR_OUT_RESERVE, PR_TYPE_WE_RO, KB, 0);
	/* n0: port 1, not holder; TransportID "<port>\0" padded to 36 */
	put_be64(d, KA);
	put_be16(&d[18], 1);
	put_be32(&d[20], 52);
	memcpy(&d[24], "\x45\x00\x00\x30" FX_PORT1, 4 + sizeof(FX_PORT1) - 1);
	d += 76;
	put_be64(d, KB);
	d[12] = 0x03; /* ALL_TG_PT, R_HOLDER */
	d[13] = PR_TYPE_WE_RO;
	put_be32(&d[20], 52);
	memcpy(&d[24], "\x45\x00\x00\x30" FX_PORT3, 4 + sizeof(FX_PORT3) - 1);
	prin(fx, 1, 0x03, 1024, &c);
	assert_int_equal(c.data_in_len, sizeof(exp));
	assert_memory_equal(buf, exp, sizeof(exp));
	prin(fx, 1, 0x03, 30, &c);
	assert_int_equal(c.data_in_len, 30);
	assert_memory_equal(buf, exp, 30);
	fx_free(fx);
}

static void test_all_tg_pt(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_nexus *other_port;
	struct scsi_cmd c;

	/* the same initiator port through target port 2 */
	assert_int_equal(scsi_nexus_create(&other_port, fx->t, FX_INI1, FX_PORT1, 2), 0);
	memset(other_port->ua, 0, sizeof(other_port->ua));
	prout(fx, 0, PR_OUT_REGISTER, 0, 0, KA, 0x04, &c);
	fx_assert_good(&c);
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_EA_RO, KA, 0);
	fx_run(fx, other_port, 0, fx_write10, 10, NULL, 0, buf, &c);
	fx_assert_good(&c); /* registered through every port */
	fx_cmd(fx, 2, fx_write10, 10, buf, &c);
	fx_assert_conflict(&c);
	/* without ALL_TG_PT, port 2 is another I_T nexus */
	prout_ok(fx, 0, PR_OUT_CLEAR, 0, KA, 0);
	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_EA_RO, KA, 0);
	fx_run(fx, other_port, 0, fx_write10, 10, NULL, 0, buf, &c);
	fx_assert_conflict(&c);
	fx_free(fx);
}

static const uint8_t reserve6[6] = {0x16};
static const uint8_t release6[6] = {0x17};

/* libiscsi Reserve6.2Initiators */
static void test_reserve6_two_initiators(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	static const uint8_t rluns[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
	static const uint8_t prin_keys[10] = {0x5e, 0, 0, 0, 0, 0, 0, 0, 64, 0};

	fx_cmd(fx, 0, reserve6, 6, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 0, reserve6, 6, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 1, reserve6, 6, buf, &c);
	fx_assert_conflict(&c);
	fx_cmd(fx, 1, release6, 6, buf, &c); /* not the holder: no-op */
	fx_assert_good(&c);
	assert_ptr_equal(fx->lu->resv6_holder, fx->n[0]);
	fx_cmd(fx, 0, fx_msense6, 6, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 1, fx_msense6, 6, buf, &c);
	fx_assert_conflict(&c);
	fx_cmd(fx, 1, fx_tur, 6, buf, &c);
	fx_assert_conflict(&c);
	fx_cmd(fx, 1, fx_read10, 10, buf, &c);
	fx_assert_conflict(&c);
	fx_cmd(fx, 1, fx_inquiry, 6, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 1, rluns, 12, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 1, fx_rsense, 6, buf, &c);
	fx_assert_good(&c);
	/* SPC-2 5.5.1: PR commands conflict while a RESERVE exists, even for the holder */
	fx_cmd(fx, 0, prin_keys, 10, buf, &c);
	fx_assert_conflict(&c);
	prout(fx, 0, PR_OUT_REGISTER, 0, 0, KA, 0, &c);
	fx_assert_conflict(&c);
	fx_cmd(fx, 0, release6, 6, buf, &c);
	fx_assert_good(&c);
	assert_null(fx->lu->resv6_holder);
	fx_cmd(fx, 1, reserve6, 6, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 1, release6, 6, buf, &c);
	fx_assert_good(&c);
	fx_free(fx);
}

static void test_reserve10(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;
	uint8_t r10[10] = {0x56}, rel10[10] = {0x57};

	fx_cmd(fx, 2, r10, 10, buf, &c);
	fx_assert_good(&c);
	fx_cmd(fx, 0, r10, 10, buf, &c);
	fx_assert_conflict(&c);
	fx_cmd(fx, 0, reserve6, 6, buf, &c);
	fx_assert_conflict(&c);
	fx_cmd(fx, 2, rel10, 10, buf, &c);
	fx_assert_good(&c);
	r10[1] = 0x10; /* third-party reservations are not supported */
	fx_cmd(fx, 0, r10, 10, buf, &c);
	fx_assert_cdb_field(&c, 0x24, 1, 4);
	fx_free(fx);
}

/* SPC-4 5.13.3 with CRH=1 */
static void test_reserve6_with_registrations(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;

	prout_ok(fx, 0, PR_OUT_REGISTER, 0, 0, KA);
	fx_cmd(fx, 0, reserve6, 6, buf, &c); /* registered, no reservation */
	fx_assert_conflict(&c);
	fx_cmd(fx, 2, reserve6, 6, buf, &c); /* registrations exist */
	fx_assert_conflict(&c);
	fx_cmd(fx, 2, release6, 6, buf, &c);
	fx_assert_conflict(&c);
	prout_ok(fx, 1, PR_OUT_REGISTER, 0, 0, KB);
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_WE_RO, KA, 0);
	fx_cmd(fx, 0, reserve6, 6, buf, &c); /* the holder: GOOD, nothing done */
	fx_assert_good(&c);
	fx_cmd(fx, 1, reserve6, 6, buf, &c); /* registrant under RO: GOOD, nothing done */
	fx_assert_good(&c);
	fx_cmd(fx, 1, release6, 6, buf, &c);
	fx_assert_good(&c);
	assert_null(fx->lu->resv6_holder);
	assert_true(fx->lu->pr.reserved);
	prout_ok(fx, 0, PR_OUT_RELEASE, PR_TYPE_WE_RO, KA, 0);
	prout_ok(fx, 0, PR_OUT_RESERVE, PR_TYPE_WE, KA, 0);
	assert_int_equal(ua_of(fx, 1), 1u << UA_RESERVATIONS_RELEASED);
	clear_uas(fx);
	fx_cmd(fx, 1, reserve6, 6, buf, &c); /* registrant, WE held by n0 */
	fx_assert_conflict(&c);
	fx_free(fx);
}

static void test_pr_apply_pure(void **state)
{
	struct pr_state a, b;
	struct pr_out_req q;
	struct pr_result ra, rb;
	static const struct {
		uint8_t sa, type;
		const char *port;
		uint64_t key, sa_key;
		uint8_t status;
	} seq[] = {
		{PR_OUT_REGISTER, 0, FX_PORT1, 0, KA, PR_GOOD},
		{PR_OUT_REGISTER_IGNORE, 0, FX_PORT2, 7, KB, PR_GOOD},
		{PR_OUT_RESERVE, PR_TYPE_EA, FX_PORT2, KB, 0, PR_GOOD},
		{PR_OUT_RESERVE, PR_TYPE_EA, FX_PORT1, KA, 0, PR_CONFLICT},
		{PR_OUT_PREEMPT, PR_TYPE_WE, FX_PORT1, KA, KB, PR_GOOD},
		{PR_OUT_RELEASE, PR_TYPE_EA, FX_PORT1, KA, 0, PR_INVALID_RELEASE},
		{PR_OUT_REGISTER, 0, FX_PORT3, 0, KC, PR_GOOD},
		{PR_OUT_CLEAR, 0, FX_PORT3, KC, 0, PR_GOOD},
	};

	pr_init(&a);
	pr_init(&b);
	for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		memset(&q, 0, sizeof(q));
		q.sa = seq[i].sa;
		q.type = seq[i].type;
		q.key = seq[i].key;
		q.sa_key = seq[i].sa_key;
		snprintf(q.initiator_port, sizeof(q.initiator_port), "%s", seq[i].port);
		q.rel_port_id = 1;
		pr_apply(&a, &q, &ra);
		pr_apply(&b, &q, &rb);
		assert_int_equal(ra.status, seq[i].status);
		/* same requests, same order: same state and effects */
		assert_memory_equal(&a, &b, sizeof(a));
		assert_memory_equal(&ra, &rb, sizeof(ra));
		if (seq[i].sa == PR_OUT_PREEMPT) {
			int s = pr_find(&a, FX_PORT2, 1);

			assert_int_equal(s, -1);
			assert_int_equal(ra.ua[1], UA_REGISTRATIONS_PREEMPTED + 1);
			/* the removed slot still names its I_T nexus for the UA pass */
			assert_true(pr_reg_matches(&a.reg[1], FX_PORT2, 1));
		}
	}
	assert_int_equal(a.generation, 5);
	assert_false(a.reserved);
	assert_int_equal(pr_find(&a, FX_PORT1, 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_read_keys),
		cmocka_unit_test(test_param_checks),
		cmocka_unit_test(test_reserve_and_read_reservation),
		cmocka_unit_test(test_conflict_matrix),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_holder_unregisters),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_preempt_registrations),
		cmocka_unit_test(test_preempt_holder),
		cmocka_unit_test(test_preempt_all_registrants),
		cmocka_unit_test(test_register_and_move),
		cmocka_unit_test(test_report_caps_and_full_status),
		cmocka_unit_test(test_all_tg_pt),
		cmocka_unit_test(test_reserve6_two_initiators),
		cmocka_unit_test(test_reserve10),
		cmocka_unit_test(test_reserve6_with_registrations),
		cmocka_unit_test(test_pr_apply_pure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
