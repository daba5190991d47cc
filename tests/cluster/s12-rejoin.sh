#!/bin/bash
# s12: the fenced node comes back (issue 3, "done when" 3):
#   after s11's situation (the AO node killed, fenced by the survivor with
#   fence_netns, the survivor AO), `harness.sh on` brings the fenced node's
#   NICs up and starts its corosync and clusterd, as a power-on would. It
#   rejoins, both nodes sync, the returning node becomes ANO, and the survivor
#   stays AO all along: no RTPG sample on the survivor's paths says anything
#   but AO while the node rejoins, and the client never sees two AO groups.
#   Measured: start-to-member, start-to-ANO, and the longest I/O pause on the
#   survivor's AO path while the peer rejoins.
# Exit 0 pass, 1 fail, 77 cannot run here.
# shellcheck disable=SC2016 # single-quoted conditions are evaluated later
set -uo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1
# shellcheck source=tests/cluster/s1-common.sh
. "$CL_LIB_DIR/s1-common.sh" || exit 1

s1_require
s1_begin
s1_up
ao=$(ao_of node1)
sv=$(other_id "$ao")
mark "node$ao is AO; kill it"
kill_until_ao "$ao" "$sv"
mark "node$sv AO $FAILOVER_MS ms after the kill (fenced node$ao: $(jq_ctl "node$sv" '.fence_history | last | .result'))"
check "node$ao fenced" test "$(jq_ctl "node$sv" ".nodes[] | select(.id == $ao) | .fenced")" = true
show_status "node$sv"

poll=$S1_TMP/poll.json
POLLER_PATHS=2 poller_start "$poll" --poll 50 --io 50 --duration 120
wait_for 'grep -q "\"type\":\"io_path\"" "$poll"' 5 || fail "iscsi-alua started no I/O"
sleep 0.3
mark "iscsi-alua polling (node$sv's paths up, node$ao's retrying), I/O every 50 ms"

t_on=$(now_ms)
cl on "node$ao" >/dev/null || fail "harness on node$ao"
mark "on node$ao (NICs up, corosync and clusterd started) after $(ms_since "$t_on") ms"
wait_for 'synced node1 "1 2" && synced node2 "1 2"' 30 ||
	fail "not synced with both nodes within ${WAITED_MS} ms"
member_ms=$(ms_since "$t_on")
mark "both clusterds synced with nodes 1 and 2 online, $member_ms ms after the start"
wait_for '[ "$(ao_of node$ao) $(tpg_state node$ao $ao) $(tpg_state node$ao $sv)" = "$sv ano ao" ] &&
	[ "$(ao_of node$sv) $(tpg_state node$sv $ao) $(tpg_state node$sv $sv)" = "$sv ano ao" ]' 10 ||
	fail "node$ao did not become ANO within ${WAITED_MS} ms"
ano_ms=$(ms_since "$t_on")
mark "node$ao ANO and node$sv AO on both nodes, $ano_ms ms after the start"
wait_for '[ "$(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $ao and .own_state == \"ano\" and .epoch_ms >= $t_on)] | map(.path) | unique | length")" = 2 ]' 10 ||
	fail "the client did not see node$ao's two paths ANO within ${WAITED_MS} ms"
mark "the client sees node$ao's paths ANO"
sleep 0.5
poller_stop

check "node$ao online and no longer counted as fenced" test \
	"$(jq_ctl "node$sv" ".nodes[] | select(.id == $ao) | \"\(.online) \(.fenced)\"")" = "true false"
check "node$sv stayed AO in every RTPG sample on its paths" test \
	"$(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $sv) | .own_state] | unique | join(\",\")")" = ao
check "node$sv's clusterd: AO node unchanged" test "$(ao_of "node$sv")" = "$sv"
check "the client never saw two AO groups at once" test "$(poller_summary .dual_ao)" = 0
check "I/O data intact" test "$(poller_summary .io_mismatches)" = 0
check "I/O kept going" test "$(poller_summary .io_since_last_ok_ms)" -lt 1000
pause=$(poller_summary .io_max_pause_ms)
mark "longest I/O pause while node$ao rejoined: $pause ms"
check "node$ao's fence is still in the history" test \
	"$(jq_ctl "node$sv" "[.fence_history[] | select(.target == $ao and .result == \"ok\")] | length")" -ge 1

snap=$S1_TMP/after.json
alua_snapshot "$snap"
rc=$?
jq -r '.checks[] | "    \(if .ok then "PASS" else "FAIL" end) \(.name): \(.detail)"' "$snap"
check "iscsi-alua on all four portals: checks pass" test "$rc" = 0
check "AO on node$sv's paths, ANO on node$ao's" test \
	"$(jq -r '[.paths[] | "\(.tpg_id):\(.state)"] | unique | join(" ")' "$snap")" = \
	"$([ "$sv" = 1 ] && echo "1:ao 2:ano" || echo "1:ano 2:ao")"
echo "== client timeline (iscsi-alua --poll, t from its start)"
poller_timeline
show_status "node$ao"
echo "failover_ms=$FAILOVER_MS member_ms=$member_ms ano_ms=$ano_ms io_pause_ms=$pause"
cl_end
