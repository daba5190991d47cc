/* SPDX-License-Identifier: MIT */
/*
 * alua.c: table versions, 2A/06 unit attentions, access gating per state
 * (SPC-4 5.9.2.4) and the state of ports a table does not list.
 */
#include "tests/unit/scsi_fixture.h"

static uint8_t buf[FX_BUF];

/* Port 1 in TPG 1 with state s1, port 2 in TPG 2 with state s2. */
static void set_states(struct fx *fx, uint64_t version, uint8_t s1, uint8_t s2)
{
	struct alua_table tab = {.version = version, .ntpgs = 2};

	tab.tpg[0] = (struct alua_tpg){.id = 1, .state = s1, .nports = 1, .rel_port = {1}};
	tab.tpg[1] = (struct alua_tpg){.id = 2, .state = s2, .nports = 1, .rel_port = {2}};
	scsi_lu_set_alua(fx->lu, &tab);
}

static void clear_uas(struct fx *fx)
{
	for (int i = 0; i < 3; i++)
		memset(fx->n[i]->ua, 0, sizeof(fx->n[i]->ua));
}

static void test_standalone_table(void **state)
{
	struct alua_table tab;
	uint16_t ports[ALUA_MAX_PORTS + 2];

	for (unsigned i = 0; i < ALUA_MAX_PORTS + 2; i++)
		ports[i] = (uint16_t)(i + 1);
	alua_table_standalone(&tab, ports, ALUA_MAX_PORTS + 2);
	assert_int_equal(tab.version, 1);
	assert_int_equal(tab.ntpgs, 1);
	assert_int_equal(tab.tpg[0].id, 1);
	assert_int_equal(tab.tpg[0].state, ALUA_AO);
	assert_false(tab.tpg[0].pref);
	assert_int_equal(tab.tpg[0].nports, ALUA_MAX_PORTS);
	assert_int_equal(tab.tpg[0].rel_port[ALUA_MAX_PORTS - 1], ALUA_MAX_PORTS);
}

static void test_port_state(void **state)
{
	struct fx *fx = fx_new();

	/* never set: everything active/optimized */
	assert_int_equal(alua_port_state(fx->lu, 1), ALUA_AO);
	assert_int_equal(alua_port_state(fx->lu, 77), ALUA_AO);
	assert_true(alua_port_known(fx->lu, 77));
	set_states(fx, 1, ALUA_ANO, ALUA_STANDBY);
	assert_int_equal(alua_port_state(fx->lu, 1), ALUA_ANO);
	assert_int_equal(alua_port_state(fx->lu, 2), ALUA_STANDBY);
	/* a port the authority did not list has no access */
	assert_int_equal(alua_port_state(fx->lu, 77), ALUA_UNAVAILABLE);
	assert_false(alua_port_known(fx->lu, 77));
	assert_ptr_equal(scsi_lu_alua(fx->lu), &fx->lu->alua);
	assert_int_equal(alua_port_tpg(fx->lu, 2)->id, 2);
	assert_null(alua_port_tpg(fx->lu, 3));
	fx_free(fx);
}

static void test_versions_and_ua(void **state)
{
	struct fx *fx = fx_new();
	struct scsi_cmd c;

	set_states(fx, 5, ALUA_AO, ALUA_AO);
	/* from "no table" (AO everywhere) to AO: no change, no UA */
	for (int i = 0; i < 3; i++)
		assert_int_equal(fx->n[i]->ua[0], 0);
	/* port 2 goes standby: every I_T nexus hears of it, also those on port 1
	 * whose own group did not change (each initiator re-reads the table) */
	set_states(fx, 6, ALUA_AO, ALUA_STANDBY);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fx->n[i]->ua[0], 1u << UA_ALUA_CHANGED);
	fx_cmd(fx, 2, fx_inquiry, 6, buf, &c); /* INQUIRY does not take it */
	fx_assert_good(&c);
	fx_cmd(fx, 2, fx_tur, 6, buf, &c);
	fx_assert_sense(&c, SK_UNIT_ATTENTION, 0x2a, 0x06);
	clear_uas(fx);
	/* an older table is ignored */
	set_states(fx, 4, ALUA_UNAVAILABLE, ALUA_UNAVAILABLE);
	assert_int_equal(alua_port_state(fx->lu, 1), ALUA_AO);
	assert_int_equal(fx->n[0]->ua[0], 0);
	/* the same version is taken (idempotent re-send) */
	set_states(fx, 6, ALUA_AO, ALUA_STANDBY);
	assert_int_equal(fx->n[2]->ua[0], 0);
	/* transitioning: no UA yet; the final state brings it */
	set_states(fx, 7, ALUA_TRANSITIONING, ALUA_STANDBY);
	assert_int_equal(fx->n[0]->ua[0], 0);
	assert_int_equal(fx->n[1]->ua[0], 0);
	set_states(fx, 8, ALUA_STANDBY, ALUA_AO);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fx->n[i]->ua[0], 1u << UA_ALUA_CHANGED);
	/* scsi_tgt_set_alua reaches every LU */
	clear_uas(fx);
	{
		struct scsi_lu *lu1 = fx_add_lu(fx, 1, 4096, 512, false, false);
		struct alua_table tab = {.version = 9, .ntpgs = 1};

		tab.tpg[0] = (struct alua_tpg){
			.id = 3, .state = ALUA_OFFLINE, .nports = 2, .rel_port = {1, 2}};
		clear_uas(fx);
		scsi_tgt_set_alua(fx->t, &tab);
		assert_int_equal(alua_port_state(fx->lu, 1), ALUA_OFFLINE);
		assert_int_equal(alua_port_state(lu1, 2), ALUA_OFFLINE);
		assert_int_equal(fx->n[0]->ua[lu1->slot], 1u << UA_ALUA_CHANGED);
	}
	fx_free(fx);
}

/* Which of these commands a state lets through, and the sense of the others. */
static const struct {
	const char *name;
	uint8_t cdb[12];
	uint8_t len;
	bool standby, unavail;
} gate[] = {
	{"TEST UNIT READY", {0x00}, 6, false, false},
	{"READ(10)", {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 10, false, false},
	{"WRITE(10)", {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 10, false, false},
	{"INQUIRY", {0x12, 0, 0, 0, 96, 0}, 6, true, true},
	{"REPORT LUNS", {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0}, 12, true, true},
	{"REQUEST SENSE", {0x03, 0, 0, 0, 18, 0}, 6, true, true},
	{"RTPG", {0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 12, true, true},
	{"RSOC", {0xa3, 0x0c, 1, 0x12, 0, 0, 0, 0, 1, 0, 0, 0}, 12, true, true},
	{"MODE SENSE(6)", {0x1a, 0, 0x3f, 0, 0xff, 0}, 6, true, false},
	{"MODE SELECT(6)", {0x15, 0x10, 0, 0, 0, 0}, 6, true, false},
	{"PR IN", {0x5e, 0x00, 0, 0, 0, 0, 0, 0, 64, 0}, 10, true, false},
	{"RESERVE(6)", {0x16}, 6, false, false},
	{"START STOP UNIT", {0x1b, 0, 0, 0, 1, 0}, 6, false, false},
};

static void check_gate(struct fx *fx, uint8_t st, uint8_t ascq)
{
	struct scsi_cmd c;

	for (unsigned i = 0; i < sizeof(gate) / sizeof(gate[0]); i++) {
		bool ok;

		switch (st) {
		case ALUA_AO:
		case ALUA_ANO:
			ok = true;
			break;
		case ALUA_STANDBY:
			ok = gate[i].standby;
			break;
		default:
			ok = gate[i].unavail;
			break;
		}
		fx_cmd(fx, 0, gate[i].cdb, gate[i].len, buf, &c);
		if (ok) {
			if (c.status != SAM_STAT_GOOD)
				fail_msg("%s refused in state %x", gate[i].name, st);
		} else {
			if (c.status != SAM_STAT_CHECK_CONDITION)
				fail_msg("%s ran in state %x", gate[i].name, st);
			fx_assert_sense(&c, SK_NOT_READY, 0x04, ascq);
		}
		if (gate[i].cdb[0] == 0x16 && c.status == SAM_STAT_GOOD)
			fx->lu->resv6_holder = NULL;
	}
}

static void test_gating(void **state)
{
	struct fx *fx = fx_new();
	static const struct {
		uint8_t state, ascq;
	} s[] = {
		{ALUA_AO, 0},	      {ALUA_ANO, 0},
		{ALUA_STANDBY, 0x0b}, {ALUA_UNAVAILABLE, 0x0c},
		{ALUA_OFFLINE, 0x0c}, {ALUA_TRANSITIONING, 0x0a},
	};

	for (unsigned i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		set_states(fx, 10 + i, s[i].state, ALUA_AO);
		clear_uas(fx);
		check_gate(fx, s[i].state, s[i].ascq);
		/* the other port is unaffected */
		{
			struct scsi_cmd c;

			fx_cmd(fx, 2, fx_tur, 6, buf, &c);
			fx_assert_good(&c);
		}
	}
	fx_free(fx);
}

static void test_rtpg_buffer(void **state)
{
	struct fx *fx = fx_new();
	uint8_t b[64];
	uint32_t n;

	set_states(fx, 1, ALUA_AO, ALUA_STANDBY);
	memset(b, 0xee, sizeof(b));
	n = alua_build_rtpg(fx->lu, false, b, 10);
	assert_int_equal(n, 4 + 12 + 12);
	assert_int_equal(get_be32(b), 24);
	assert_int_equal(b[10], 0xee); /* nothing beyond cap */
	n = alua_build_rtpg(fx->lu, true, b, sizeof(b));
	assert_int_equal(n, 8 + 24);
	assert_int_equal(get_be32(b), 28);
	assert_int_equal(b[4], 0x10);
	assert_int_equal(b[8], ALUA_AO);
	assert_int_equal(b[20], ALUA_STANDBY);
	assert_int_equal(alua_build_rtpg(fx->lu, false, NULL, 0), 28);
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standalone_table), cmocka_unit_test(test_port_state),
		cmocka_unit_test(test_versions_and_ua),	 cmocka_unit_test(test_gating),
		cmocka_unit_test(test_rtpg_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
