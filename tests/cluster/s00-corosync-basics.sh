#!/bin/bash
# s00: the two-node corosync cluster of the harness behaves as the design
# assumes (knet, two links, token 1000, two_node: 1):
#   up -> both quorate with members [1 2]
#   kill node2 (SIGKILL everything in it) -> node1 sees it leave, stays quorate
#   start node2 -> it rejoins, both quorate
#   partition (node1 <-> node2 cut on both nets, client reaches both)
#     -> each side alone and still quorate: the split brain clusterd must fence
#   heal -> merged again
#   stop node2 (clean SIGTERM) -> node1 sees it leave at once
#   down -> no namespace, process or run dir left
# Prints detection/rejoin/merge times, measured two ways: when a poll first
# saw the change, and when corosync logged it (no polling error).
# With CL_SERVICE=standalone it also checks the client's view of the portals.
# Exit 0 pass, 1 fail, 77 cannot run here.
# shellcheck disable=SC2016 # single-quoted conditions are evaluated later
set -uo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1

cl_require
[ "${CL_SERVICE:-none}" = standalone ] && cl_require service
cl_begin

H=$(cl env | sed -n 's/^CL_\(NODE[12]_ADDR_[AB]\)=/\1=/p')
eval "$H"
PORT=${CL_PORT:-3260}
service=0
[ "${CL_SERVICE:-none}" != none ] && service=1

# portals_seen_by_client: prints the portals the client reaches, e.g. "1A 1B 2A 2B"
portals_seen_by_client() {
	local seen="" n net a
	for n in 1 2; do
		for net in A B; do
			a=NODE${n}_ADDR_$net
			cl_tcp_reach client "${!a}" "$PORT" && seen="$seen ${n}$net"
		done
	done
	echo "${seen# }"
}

# report LABEL NODE LOG_REGEX T0 POLL_MS: record when a poll saw a change and
# when NODE's corosync logged it
report() {
	local label=$1 node=$2 re=$3 t0=$4 poll=$5 logt
	logt=$(cl_log_time "$node" "$re" "$t0")
	if [ -n "$logt" ]; then
		mark "$label: seen by poll after $poll ms, logged by $node's corosync after $((logt - t0)) ms"
		TIMES+=("$label: poll $poll ms, corosync log $((logt - t0)) ms")
	else
		mark "$label: seen by poll after $poll ms"
		TIMES+=("$label: poll $poll ms")
	fi
}
TIMES=()

# ---- up
t0=$(now_ms)
cl up >/dev/null || fail "harness up"
mark "up: both nodes quorate after $(ms_since "$t0") ms"
check "node1 quorate, members [1 2]" wait_for 'cl_members_are node1 "1 2" && cl_quorate node1' 5
check "node2 quorate, members [1 2]" wait_for 'cl_members_are node2 "1 2" && cl_quorate node2' 5
check "both knet links 1<->2 connected" wait_for \
	'cl_link_connected node1 2 0 && cl_link_connected node1 2 1 && cl_link_connected node2 1 0 && cl_link_connected node2 1 1' 10
if [ $service = 1 ]; then
	check "client reaches all four portals" test "$(portals_seen_by_client)" = "1A 1B 2A 2B"
fi

# ---- crash of node2
t0=$(now_ms)
cl kill node2 >/dev/null || fail "harness kill node2"
mark "kill node2 (SIGKILL of everything in its namespace)"
wait_for 'cl_members_are node1 "1"' 10 || fail "node1 still sees node2 after ${WAITED_MS} ms"
report "node2 crash detected" node1 'Members\[1\]: 1 *$' "$t0" "$(ms_since "$t0")"
check "node1 stays quorate alone (two_node)" cl_quorate node1
check "node2's namespace is empty" test -z "$(cl pids node2)"
if [ $service = 1 ]; then
	check "client reaches node1's portals only" test "$(portals_seen_by_client)" = "1A 1B"
fi

# ---- restart of node2
t0=$(now_ms)
cl start node2 >/dev/null || fail "harness start node2"
mark "start node2"
wait_for 'cl_members_are node1 "1 2"' 15 || fail "node2 did not rejoin within ${WAITED_MS} ms"
report "node2 rejoined" node1 'Members\[2\]: 1 2 *$' "$t0" "$(ms_since "$t0")"
check "node2 quorate again with members [1 2]" wait_for 'cl_members_are node2 "1 2" && cl_quorate node2' 5
if [ $service = 1 ]; then
	check "client reaches all four portals again" test "$(portals_seen_by_client)" = "1A 1B 2A 2B"
fi

# ---- partition: both networks cut between the nodes, client sees both
t0=$(now_ms)
cl partition >/dev/null || fail "harness partition"
mark "partition (node1 <-> node2 cut on A and B; client reaches both)"
wait_for 'cl_members_are node1 "1"' 10 || fail "node1 still sees node2 after ${WAITED_MS} ms"
poll1=$(ms_since "$t0")
wait_for 'cl_members_are node2 "2"' 10 || fail "node2 still sees node1 after ${WAITED_MS} ms"
report "partition seen by node1" node1 'Members\[1\]: 1 *$' "$t0" "$poll1"
report "partition seen by node2" node2 'Members\[1\]: 2 *$' "$t0" "$(ms_since "$t0")"
check "node1 alone and quorate (two_node split brain)" cl_quorate node1
check "node2 alone and quorate (two_node split brain)" cl_quorate node2
if [ $service = 1 ]; then
	check "client still reaches all four portals" test "$(portals_seen_by_client)" = "1A 1B 2A 2B"
	check "node1 cannot reach node2's portal A" eval '! cl_tcp_reach node1 "$NODE2_ADDR_A" "$PORT" 1'
fi

# ---- heal
t0=$(now_ms)
cl heal >/dev/null || fail "harness heal"
mark "heal"
wait_for 'cl_members_are node1 "1 2" && cl_members_are node2 "1 2"' 15 ||
	fail "no merge within ${WAITED_MS} ms ($(cl_quorum node1) / $(cl_quorum node2))"
report "merged after heal" node1 'Members\[2\]: 1 2 *$' "$t0" "$(ms_since "$t0")"
check "both quorate after the merge" eval 'cl_quorate node1 && cl_quorate node2'

# ---- clean stop of node2
t0=$(now_ms)
cl stop node2 >/dev/null &
stopper=$!
mark "stop node2 (SIGTERM)"
wait_for 'cl_members_are node1 "1"' 10 || fail "node1 still sees node2 ${WAITED_MS} ms after SIGTERM"
report "node2 clean leave seen" node1 'Members\[1\]: 1 *$' "$t0" "$(ms_since "$t0")"
wait "$stopper" || fail "harness stop node2"
check "node1 quorate after the clean leave" cl_quorate node1

# ---- down leaves nothing behind
run_dir=${CL_RUN_DIR:-/tmp/clusterd-cluster-$CL_PREFIX}
t0=$(now_ms)
cl down >/dev/null || fail "harness down"
mark "down ($(ms_since "$t0") ms)"
check "no namespace of prefix $CL_PREFIX left" \
	eval '! ip netns list | grep -Eq "^$CL_PREFIX-(node1|node2|client|netA|netB)( |$)"'
check "run dir removed" test ! -e "$run_dir"
check "down again is a no-op" eval 'cl down >/dev/null'

echo "== measured"
printf '  %s\n' "${TIMES[@]}"
cl_end
