#!/bin/bash
# s10: the cluster comes up (issue 3, "done when" 1):
#   both nodes online and quorate, clusterd synced on both with one AO node
#   for lun0, the same port-group table on both nodes (AO on one node, ANO on
#   the other); the client logs in through all four portals (iscsi-alua) and
#   every path names the same LU NAA and reports the identical RTPG table,
#   which is the table clusterctl shows; SendTargets on either node lists all
#   four portals.
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

for n in node1 node2; do
	check "$n: clusterd synced and quorate, nodes 1 and 2 online" synced "$n" "1 2"
	check "$n: quorum 2 of 2 votes" \
		test "$(jq_ctl "$n" '"\(.quorum.total_votes)/\(.quorum.expected_votes)"')" = 2/2
done
ao=$(ao_of node1)
check "both nodes name the same AO node ($ao)" test "$(ao_of node2)" = "$ao"
check "the AO node is a node (1 or 2)" eval '[ "$ao" = 1 ] || [ "$ao" = 2 ]'
other=$(other_id "$ao")
mark "lun0 is AO on node$ao"
tables=()
for n in node1 node2; do
	tables+=("$(jq_ctl "$n" '.luns[0].tpgs | map({id, node, state, ports: [.ports[].id]}) | tostring')")
	check "$n: exactly one port group AO" \
		test "$(jq_ctl "$n" '[.luns[0].tpgs[] | select(.state == "ao")] | length')" = 1
	check "$n: group $ao ao, group $other ano" \
		test "$(tpg_state "$n" "$ao") $(tpg_state "$n" "$other")" = "ao ano"
done
check "clusterctl shows the same table on both nodes" test "${tables[0]}" = "${tables[1]}"

snap=$S1_TMP/snapshot.json
alua_snapshot "$snap"
rc=$?
mark "iscsi-alua on the four portals: exit $rc"
jq -r '.paths[] | "    path\(.path) \(.portal): tpg \(.tpg_id) port \(.rel_port) \(.state)  NAA \(.naa)"' "$snap"
jq -r '.checks[] | "    \(if .ok then "PASS" else "FAIL" end) \(.name): \(.detail)"' "$snap"
check "iscsi-alua: all its checks pass (exit 0)" test "$rc" = 0
check "four paths logged in" test "$(jq '[.paths[] | select(.connected)] | length' "$snap")" = 4
check "one LU NAA on all four paths" \
	test "$(jq -r '[.paths[].naa] | unique | select(length == 1 and .[0] != "") | length' "$snap")" = 1
check "identical RTPG table on all four paths" \
	test "$(jq '[.paths[].rtpg] | unique | length' "$snap")" = 1
check "AO paths are node$ao's, ANO paths node$other's" test "$(jq -r --argjson ao "$ao" \
	'[.paths[] | "\(.tpg_id):\(.state)"] | unique | join(" ")' "$snap")" = \
	"$( [ "$ao" = 1 ] && echo "1:ao 2:ano" || echo "1:ano 2:ao")"
client_table=$(jq -c '.paths[0].rtpg.tpgs | map({id, state, ports})' "$snap")
ctl_table=$(jq_ctl node1 '.luns[0].tpgs | map({id, state, ports: [.ports[].id]}) | tostring')
check "the client's RTPG table is clusterctl's table" test "$client_table" = "$ctl_table"

if command -v iscsi-ls >/dev/null; then
	for n in 1 2; do
		a=CL_NODE${n}_ADDR_A
		seen=$(cl_nexec client iscsi-ls -s "iscsi://${!a}:$PORT" 2>/dev/null |
			sed -n 's/.*Portal:\([0-9.]*:[0-9]*\),\([0-9]*\).*/\1,\2/p' | sort | tr '\n' ' ')
		want="$CL_NODE1_ADDR_A:$PORT,1 $CL_NODE1_ADDR_B:$PORT,2 $CL_NODE2_ADDR_A:$PORT,3 $CL_NODE2_ADDR_B:$PORT,4 "
		want=$(tr ' ' '\n' <<<"$want" | grep . | sort | tr '\n' ' ')
		check "SendTargets on node$n lists all four portals ($seen)" test "$seen" = "$want"
	done
fi
show_status node2
cl_end
