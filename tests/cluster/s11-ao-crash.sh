#!/bin/bash
# s11: crash of the AO node (issue 3, "done when" 2):
#   `harness.sh kill` SIGKILLs everything in the AO node's namespace (corosync,
#   clusterd). The survivor notices the loss, waits the lost node's
#   fence_delay (it is not the AO side), fences it with fence_netns, and only
#   then becomes AO. Measured: time from the kill to the survivor's clusterd
#   reporting AO (clusterctl status --json every 50 ms) and to the client's
#   RTPG showing it (iscsi-alua --poll 50), with the steps in between (corosync
#   noticing the loss, the fence agent's start and end from the fence history).
#   Asserted: the fence history shows fence_netns with result ok, the killed
#   node counts as fenced, the client sees the survivor's paths AO and never
#   two AO groups, and kill-to-AO <= S11_MAX_MS (3500 ms with token 1000 and
#   the 500 ms fence_delay of node.conf.in).
# Exit 0 pass, 1 fail, 77 cannot run here.
# shellcheck disable=SC2016 # single-quoted conditions are evaluated later
set -uo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1
# shellcheck source=tests/cluster/s1-common.sh
. "$CL_LIB_DIR/s1-common.sh" || exit 1

MAX_MS=${S11_MAX_MS:-3500}

s1_require
s1_begin
s1_up
ao=$(ao_of node1)
sv=$(other_id "$ao")
mark "node$ao is AO; node$sv will survive"
show_status "node$sv"

poll=$S1_TMP/poll.json
poller_start "$poll" --poll 50 --io 50 --duration 120
wait_for 'grep -q "\"type\":\"io_path\"" "$poll"' 5 || fail "iscsi-alua started no I/O"
sleep 0.3
mark "iscsi-alua polling all four paths (TUR + RTPG every 50 ms, I/O every 50 ms)"

t_kill=$(now_ms)
cl kill "node$ao" >/dev/null || fail "harness kill node$ao"
mark "kill node$ao (SIGKILL of everything in its namespace)"
wait_for '[ "$(ao_of node$sv)" = "$sv" ] && [ "$(tpg_state node$sv $sv)" = ao ]' 15 0.05 ||
	fail "node$sv did not become AO within 15 s: $(ctl_json "node$sv" | jq -c '.luns[0], .fence_history, .failed_actions')"
ao_ms=$(ms_since "$t_kill")
mark "node$sv's clusterd reports AO $ao_ms ms after the kill"

wait_for '[ "$(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $sv and .own_state == \"ao\" and .epoch_ms >= $t_kill)] | length")" -ge 2 ]' 5 ||
	fail "the client did not see node$sv's paths AO within ${WAITED_MS} ms"
client_ms=$(($(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $sv and .own_state == \"ao\" and .epoch_ms >= $t_kill) | .epoch_ms] | min") - t_kill))
mark "the client's RTPG shows node$sv AO $client_ms ms after the kill"
sleep 0.3
poller_stop

# where the time went
detect=$(cl_log_time "node$sv" "Members\[1\]: $sv *\$" "$t_kill")
doc=$(ctl_json "node$sv")
hist=$(jq -c --argjson t "$ao" '[.fence_history[] | select(.target == $t)] | last' <<<"$doc")
iso_ms() { date -d "$1" +%s%3N 2>/dev/null; }
f_start=$(iso_ms "$(jq -r '.started // empty' <<<"$hist")")
f_end=$(iso_ms "$(jq -r '.finished // empty' <<<"$hist")")
[ -n "$detect" ] && mark "  node$sv's corosync logged the loss at +$((detect - t_kill)) ms"
[ -n "$f_start" ] && mark "  fence agent started at +$((f_start - t_kill)) ms, finished at +$((f_end - t_kill)) ms"
echo "== kill-to-AO: clusterctl $ao_ms ms, client RTPG $client_ms ms" \
	"(corosync loss +$(( ${detect:-t_kill} - t_kill )) ms, fence +$(( ${f_start:-t_kill} - t_kill ))..+$(( ${f_end:-t_kill} - t_kill )) ms)"

check "fence history: node$sv fenced node$ao with fence_netns, result ok ($hist)" \
	test "$(jq -r --argjson by "$sv" '"\(.by == $by) \(.agent | endswith("fence_netns")) \(.action) \(.result)"' <<<"$hist")" = "true true off ok"
check "node$ao counts as fenced" \
	test "$(jq -r --argjson n "$ao" '.nodes[] | select(.id == $n) | "\(.online) \(.fenced)"' <<<"$doc")" = "false true"
check "the fence finished before node$sv became AO" eval '[ -n "$f_end" ] && [ $((f_end - t_kill)) -le "$ao_ms" ]'
check "node$ao's namespace is empty" test -z "$(cl pids "node$ao")"
check "node$sv: exactly one group AO (its own)" test "$(jq -r '[.luns[0].tpgs[] | select(.state == "ao") | .id] | join(" ")' <<<"$doc")" = "$sv"
check "no failed actions" test "$(jq '.failed_actions | length' <<<"$doc")" = 0
check "kill to AO within $MAX_MS ms ($ao_ms ms)" test "$ao_ms" -le "$MAX_MS"
check "the client never saw two AO groups at once" test "$(poller_summary .dual_ao)" = 0
check "I/O data intact" test "$(poller_summary .io_mismatches)" = 0
check "I/O resumed on node$sv's AO path" test "$(poller_summary '.io_since_last_ok_ms')" -lt 1000
mark "longest I/O pause: $(poller_summary .io_max_pause_ms) ms"

snap=$S1_TMP/after.json
alua_snapshot "$snap" "$sv"
check "iscsi-alua on node$sv's two portals: checks pass, AO" \
	test "$?:$(jq -r '[.paths[].state] | join(",")' "$snap")" = "0:ao,ao"
echo "== client timeline (iscsi-alua --poll, t from its start)"
poller_timeline
show_status "node$sv"
echo "kill_to_ao_ms=$ao_ms client_ms=$client_ms"
cl_end
