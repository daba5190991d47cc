#!/bin/bash
# s01 (long, ~30 s): the two corosync links are redundant.
#   once knet's links have settled, one link down (NIC down on net A, then
#   bridge port down on net B) changes nothing: same ring id, same members,
#   knet reports that link disconnected and fails over to the other one
#   both links of node2 down -> the nodes lose each other, both stay quorate
#   both up again -> merged
#   then, for information only (not asserted): a link-down right after the
#   links came back, while knet's pong timeout is still backed off, usually
#   costs a ring re-formation (see README "Pitfalls")
# Exit 0 pass, 1 fail, 77 cannot run here.
# shellcheck disable=SC2016,SC2317 # conditions are strings evaluated by wait_for
# shellcheck disable=SC2119 # cl_require takes no script arguments
set -uo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1

cl_require
cl_begin

# corosync needs token + consensus (2.2 s at token 1000) of silence to
# change the ring: watching this long proves that nothing changed
QUIET_S=3
SETTLE_MS=11000 # knet's pong-timeout backoff is 10 steps of 1 s

all_links_up() {
	cl_link_connected node1 2 0 && cl_link_connected node1 2 1 &&
		cl_link_connected node2 1 0 && cl_link_connected node2 1 1
}

# last_link_up_ms: epoch ms of the last "link: N is up" in both logs
last_link_up_ms() {
	local n t last=0
	for n in node1 node2; do
		t=$(grep -E 'link: [01] is up' \
			"${CL_RUN_DIR:-/tmp/clusterd-cluster-$CL_PREFIX}/$n/corosync.log" | tail -n 1 |
			sed -nE 's/^([A-Z][a-z]{2} +[0-9]+ [0-9:]+\.[0-9]+) .*/\1/p' | date -f - +%s%3N)
		[ -n "$t" ] && [ "$t" -gt "$last" ] && last=$t
	done
	echo "$last"
}

# single_link_failure NET LINKNO DOWN_VERB UP_VERB
single_link_failure() {
	local net=$1 link=$2 down=$3 up=$4 ring t0
	ring=$(cl_ring_id node1)
	t0=$(now_ms)
	cl "$down" node2 "$net" >/dev/null || fail "harness $down node2 $net"
	mark "$down node2 $net"
	wait_for "! cl_link_connected node1 2 $link" 10 ||
		fail "node1 still reports link $link to node2 connected after ${WAITED_MS} ms"
	mark "node1: knet link $link to node2 down after ${WAITED_MS} ms"
	sleep "$QUIET_S"
	check "no ring change during the link failure (ring $ring)" test "$(cl_ring_id node1)" = "$ring"
	check "node1 members [1 2]" cl_members_are node1 "1 2"
	check "node2 members [1 2]" cl_members_are node2 "1 2"
	check "node1 reports the other link ($((1 - link))) connected" cl_link_connected node1 2 $((1 - link))
	t0=$(now_ms)
	cl "$up" node2 "$net" >/dev/null || fail "harness $up node2 $net"
	wait_for "cl_link_connected node1 2 $link && cl_link_connected node2 1 $link" 15 ||
		fail "link $link not connected again after ${WAITED_MS} ms"
	mark "$up node2 $net: knet link $link connected again after ${WAITED_MS} ms"
}

t0=$(now_ms)
cl up >/dev/null || fail "harness up"
mark "up: both nodes quorate after $(ms_since "$t0") ms"
check "all four knet links connected" wait_for all_links_up 10
wait_for '[ $(($(now_ms) - $(last_link_up_ms))) -ge $SETTLE_MS ]' 30 1 ||
	fail "links did not settle"
mark "links settled (${SETTLE_MS} ms since the last link came up)"

single_link_failure A 0 link-down link-up
# link 1 never carried the token (passive mode prefers link 0, which is
# connected again), so its failure needs no settling of link 0
single_link_failure B 1 port-down port-up

# both links of node2
t0=$(now_ms)
if ! cl link-down node2 A >/dev/null || ! cl port-down node2 B >/dev/null; then
	fail "cutting both links"
fi
mark "link-down node2 A + port-down node2 B"
wait_for 'cl_members_are node1 "1" && cl_members_are node2 "2"' 10 ||
	fail "both links down, but the nodes still see each other after ${WAITED_MS} ms"
mark "nodes lost each other after ${WAITED_MS} ms"
check "node1 quorate alone" cl_quorate node1
check "node2 quorate alone" cl_quorate node2
t0=$(now_ms)
if ! cl link-up node2 A >/dev/null || ! cl port-up node2 B >/dev/null; then
	fail "restoring both links"
fi
wait_for 'cl_members_are node1 "1 2" && cl_members_are node2 "1 2"' 15 ||
	fail "no merge ${WAITED_MS} ms after both links came back"
mark "merged ${WAITED_MS} ms after both links came back"

# information only: a link failure while knet's timeout is still backed off
check "links connected again" wait_for all_links_up 15
ring=$(cl_ring_id node1)
cl link-down node2 A >/dev/null
mark "info: link-down node2 A $(($(now_ms) - $(last_link_up_ms))) ms after the last link came up"
sleep "$QUIET_S"
if [ "$(cl_ring_id node1)" = "$ring" ]; then
	mark "info: no ring change"
else
	mark "info: ring re-formed ($ring -> $(cl_ring_id node1)), members $(cl_quorum node1)"
fi
cl link-up node2 A >/dev/null

cl down >/dev/null || fail "harness down"
mark "down"
cl_end
