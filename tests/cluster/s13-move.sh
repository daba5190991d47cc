#!/bin/bash
# s13: planned switchover (issue 3, "done when" 4):
#   `clusterctl move lun0 NODE` swaps the roles, then a second move swaps them
#   back. During each move iscsi-alua polls TUR + RTPG on all four paths every
#   10 ms and writes + reads back 4 KiB on an AO path every 20 ms. Asserted:
#   both clusterds agree on the new AO node, the client's RTPG shows it, every
#   path gets UNIT ATTENTION 2A/06 (ASYMMETRIC ACCESS STATE CHANGED) on a
#   command before its RTPG shows the new final state (a transitioning state
#   in between may come without one: its UA comes with the final state), never
#   two AO groups at once, and the data read back is what was written.
#   Measured: move-to-AO as clusterctl and the client see it, and the longest
#   I/O pause (time between two successful WRITE+READ pairs).
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
show_status node1

# path ids of node N's two portals in urls 1 2 order: node1 1 2, node2 3 4
paths_of() { if [ "$1" = 1 ]; then echo "1 2"; else echo "3 4"; fi; }

# ua_before_final PATH STATE SINCE_MS: PATH saw 2A/06 after SINCE_MS before
# its first RTPG showing its own group in STATE
# shellcheck disable=SC2317 # called through check
ua_before_final() {
	local seq tok
	seq=$(poller_events "[.[] | select(.path == $1 and .epoch_ms >= $3 and (.type == \"rtpg\" or .type == \"sense\"))]
		| map(if .type == \"sense\" then .sense.code else \"rtpg:\" + .own_state end) | join(\" \")")
	UA_SEQ[$1]=$seq
	for tok in $seq; do
		[ "$tok" = 2A/06 ] && return 0
		[ "$tok" = "rtpg:$2" ] && return 1
	done
	return 1
}

MOVES=()
PAUSES=()
for round in 1 2; do
	from=$(ao_of node1)
	to=$(other_id "$from")
	poll=$S1_TMP/poll$round.json
	poller_start "$poll" --poll 10 --io 20 --duration 120
	wait_for 'grep -q "\"type\":\"io_path\"" "$poll"' 5 || fail "iscsi-alua started no I/O"
	sleep 0.5
	t_move=$(now_ms)
	out=$(ctl "node$from" move lun0 "node$to" 2>&1)
	rc=$?
	mark "move $round: clusterctl move lun0 node$to on node$from: exit $rc ($out)"
	check "move $round: clusterctl move accepted" test "$rc" = 0
	# shellcheck disable=SC2034 # used in the wait_for condition
	want=$([ "$to" = 1 ] && echo "1 ao ano" || echo "2 ano ao")
	wait_for '[ "$(lun_view node$to)" = "$want" ] && [ "$(lun_view node$from)" = "$want" ]' 10 0.02 ||
		fail "move $round: node$to not AO on both nodes within ${WAITED_MS} ms"
	move_ms=$(ms_since "$t_move")
	mark "move $round: both clusterds say node$to AO, node$from ANO, after $move_ms ms"
	wait_for '[ "$(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $to and .own_state == \"ao\" and .epoch_ms >= $t_move)] | map(.path) | unique | length")" = 2 ]' 5 ||
		fail "move $round: the client did not see node$to's paths AO"
	client_ms=$(($(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $to and .own_state == \"ao\" and .epoch_ms >= $t_move) | .epoch_ms] | max") - t_move))
	mark "move $round: the client's RTPG shows node$to AO on both its paths $client_ms ms after the command"
	sleep 0.5
	poller_stop
	declare -A UA_SEQ=()
	for p in $(paths_of "$from"); do
		check "move $round: path$p (old AO) got 2A/06 before its RTPG showed ano" ua_before_final "$p" ano "$t_move"
		echo "    path$p after the move: ${UA_SEQ[$p]}"
	done
	for p in $(paths_of "$to"); do
		check "move $round: path$p (new AO) got 2A/06 before its RTPG showed ao" ua_before_final "$p" ao "$t_move"
		echo "    path$p after the move: ${UA_SEQ[$p]}"
	done
	check "move $round: never two AO groups at once" test "$(poller_summary .dual_ao)" = 0
	check "move $round: I/O data intact" test "$(poller_summary .io_mismatches)" = 0
	check "move $round: I/O continues on node$to" test "$(poller_summary .io_since_last_ok_ms)" -lt 500
	pause=$(poller_summary .io_max_pause_ms)
	mark "move $round: longest I/O pause $pause ms (I/O every 20 ms; $(poller_summary .io_errors) failed I/Os)"
	echo "== client timeline, move $round (iscsi-alua --poll 10, from its start; TUR GOOD lines omitted)"
	poller_timeline | grep -v "TEST UNIT READY: GOOD"
	MOVES+=("$move_ms/$client_ms")
	PAUSES+=("$pause")
done

snap=$S1_TMP/after.json
alua_snapshot "$snap"
check "after both moves: iscsi-alua checks pass on all four paths" test "$?" = 0
check "after both moves: node$(ao_of node1) AO again on the client's paths" test \
	"$(jq -r '[.paths[] | "\(.tpg_id):\(.state)"] | unique | join(" ")' "$snap")" = \
	"$([ "$(ao_of node1)" = 1 ] && echo "1:ao 2:ano" || echo "1:ano 2:ao")"
show_status node1
echo "move_ms(clusterctl/client)=${MOVES[*]} io_pause_ms=${PAUSES[*]}"
cl_end
