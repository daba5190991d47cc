#!/bin/bash
# s14: split brain (issue 3, "done when" 5, first half):
#   `harness.sh partition` cuts node1 <-> node2 on both networks while the
#   client still reaches all four portals. With two_node both halves stay
#   quorate and each wants to fence the other; the non-AO side waits the AO
#   node's fence_delay, so the AO side fences first and keeps serving.
#   iscsi-alua polls TUR + RTPG on all four paths every 20 ms during the whole
#   event (and I/O every 50 ms) and checks that no two groups of different
#   nodes are ever AO at the same time. Asserted per run: exactly one node is
#   fenced (its namespace is empty), the other is AO (clusterctl and the
#   client's RTPG), the AO side won, the fenced node's paths never reported
#   AO after the cut, no dual AO in any sample, the samples kept coming.
#   Then heal, power the fenced node on, wait until both are synced, repeat.
#   Odd runs start with node1 AO, even runs with node2 AO (clusterctl move), so
#   the AO side wins the race whether or not it has the lower id.
#   S14_RUNS runs (default 3; the issue's bar is 10 of 10).
# Exit 0 pass, 1 fail, 77 cannot run here.
# shellcheck disable=SC2016 # single-quoted conditions are evaluated later
set -uo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1
# shellcheck source=tests/cluster/s1-common.sh
. "$CL_LIB_DIR/s1-common.sh" || exit 1

RUNS=${S14_RUNS:-3}

s1_require
s1_begin
s1_up

# fenced_one: prints the id of each node that its peer's clusterd reports
# fenced (only a clusterd that still runs answers)
fenced_one() {
	local n out=""
	for n in 1 2; do
		[ "$(jq_ctl "node$(other_id "$n")" ".nodes[] | select(.id == $n) | .state")" = fenced ] &&
			out="$out $n"
	done
	out=${out# }
	[ -n "$out" ] && echo "$out"
}

ok_runs=0
RESULTS=()
for run in $(seq 1 "$RUNS"); do
	failed_before=$CL_FAILED
	# alternate the AO side, so that the race is won by node1 and by node2
	ao=$(ao_of node1)
	want=$((2 - run % 2))
	if [ "$ao" != "$want" ]; then
		ctl "node$ao" move lun0 "node$want" >/dev/null || fail "run $run: move lun0 node$want"
		wait_for '[ "$(ao_of node1) $(ao_of node2)" = "$want $want" ] && [ "$(tpg_state node$want $want)" = ao ]' 10 ||
			fail "run $run: move to node$want did not finish"
		ao=$want
	fi
	poll=$S1_TMP/poll$run.json
	poller_start "$poll" --poll 20 --io 50 --duration 600
	sleep 0.3
	t_cut=$(now_ms)
	cl partition >/dev/null || fail "harness partition"
	mark "run $run: partition (node$ao was AO)"
	wait_for '[ -n "$(fenced_one)" ]' 20 0.05 || fail "run $run: no node fenced within ${WAITED_MS} ms"
	loser=$(fenced_one)
	fence_ms=$(ms_since "$t_cut")
	check "run $run: exactly one node fenced (node$loser)" test "$loser" = 1 -o "$loser" = 2
	check "run $run: node$loser's namespace is empty" wait_for '[ -z "$(cl pids node$loser)" ]' 3
	winner=$(other_id "$loser")
	wait_for '[ "$(ao_of node$winner)" = "$winner" ] && [ "$(tpg_state node$winner $winner)" = ao ]' 10 0.05 ||
		fail "run $run: node$winner not AO within ${WAITED_MS} ms: $(lun_view "node$winner")"
	ao_ms=$(ms_since "$t_cut")
	mark "run $run: node$loser fenced (as its peer reports) after $fence_ms ms; node$winner AO after $ao_ms ms"
	wait_for '[ "$(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $winner and .epoch_ms >= $t_cut and .own_state == \"ao\")] | map(.path) | unique | length")" = 2 ] ||
		[ "$winner" = "$ao" ]' 5 || fail "run $run: the client did not see node$winner's paths AO"
	sleep 1
	poller_stop
	doc=$(ctl_json "node$winner")
	check "run $run: the AO side (node$ao) won the fence race" test "$winner" = "$ao"
	check "run $run: node$winner's fence history: fenced node$loser, ok" test \
		"$(jq -r --argjson l "$loser" '[.fence_history[] | select(.target == $l)] | last | "\(.result)"' <<<"$doc")" = ok
	check "run $run: exactly one AO group, node$winner's" test \
		"$(jq -r '[.luns[0].tpgs[] | select(.state == "ao") | .id] | join(" ")' <<<"$doc")" = "$winner"
	check "run $run: never two AO groups at once in any sample" test "$(poller_summary .dual_ao)" = 0
	check "run $run: node$loser's paths never said AO after the cut" test \
		"$(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $loser and .epoch_ms >= $t_cut and .own_state == \"ao\")] | length")" = 0
	check "run $run: the client's last RTPG on node$winner's paths says AO" test \
		"$(poller_summary "[.paths[] | select(.tpg_id == $winner) | .state] | join(\",\")")" = "ao,ao"
	gap=$(poller_summary "[.paths[] | select(.tpg_id == $winner) | .max_sample_gap_ms] | max")
	check "run $run: samples on node$winner's paths kept coming (longest gap $gap ms)" test "$gap" -lt 1000
	check "run $run: I/O data intact" test "$(poller_summary .io_mismatches)" = 0
	pause=$(poller_summary .io_max_pause_ms)
	mark "run $run: longest I/O pause $pause ms; $(poller_summary '[.paths[] | .samples] | add') RTPG samples"
	if [ "$run" -le 2 ]; then
		echo "== client timeline of run $run after the cut (TUR GOOD and sense lines omitted)"
		jq -r --argjson t "$t_cut" 'select(.epoch_ms >= $t and .type != "tur" and .type != "sense") |
			"    +\(.epoch_ms - $t) ms  \(if .path then "path\(.path) " else "" end)\(.text)"' "$poll"
	fi
	[ "$CL_FAILED" = "$failed_before" ] && ok_runs=$((ok_runs + 1))
	RESULTS+=("run $run: winner node$winner, fenced node$loser after $fence_ms ms, AO after $ao_ms ms, I/O pause $pause ms")

	cl heal >/dev/null || fail "harness heal"
	t_on=$(now_ms)
	cl on "node$loser" >/dev/null || fail "harness on node$loser"
	wait_for 'synced node1 "1 2" && synced node2 "1 2"' 30 ||
		fail "run $run: not synced with both nodes within ${WAITED_MS} ms after heal + on"
	wait_for '[ "$(lun_view node1)" = "$(lun_view node2)" ] && [ "$(ao_of node1)" = "$winner" ]' 10 ||
		fail "run $run: the nodes disagree after the rejoin: $(lun_view node1) / $(lun_view node2)"
	mark "run $run: healed, node$loser back and synced after $(ms_since "$t_on") ms; AO node$winner"
done
show_status node1
echo "== partition runs: $ok_runs of $RUNS without a failure"
for r in "${RESULTS[@]}"; do echo "    $r"; done
cl_end
