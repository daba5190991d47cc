#!/bin/bash
# s15: fencing that does not work (issue 3, "done when" 5, second half):
#   with a fence agent that fails (tests/fencing/fence_fake_fail: exit 1) and
#   then one that hangs (fence_fake_hang, killed after fence_timeout), the AO
#   node is killed. The survivor must not take over: a node that left
#   uncleanly counts as fenced only when the agent succeeds. Asserted for
#   each agent: the survivor's clusterd never reports itself AO (sampled every
#   200 ms) and the client never sees its paths AO (iscsi-alua --poll 50), the
#   LUN stays transitioning with no AO node, the fence history shows the
#   failed (or timed-out) attempts, and `clusterctl status` lists the failed
#   action with a hint, in the JSON document and in the text view.
#   S15_WATCH_S: how long the survivor is watched after the first failed
#   attempt (default 4 s). S15_AGENTS: which agents (default "fail hang").
# Exit 0 pass, 1 fail, 77 cannot run here.
# shellcheck disable=SC2016 # single-quoted conditions are evaluated later
set -uo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1
# shellcheck source=tests/cluster/s1-common.sh
. "$CL_LIB_DIR/s1-common.sh" || exit 1

WATCH_S=${S15_WATCH_S:-4}
AGENTS=${S15_AGENTS:-fail hang}

s1_require
s1_begin

for variant in $AGENTS; do
	agent=$S1_TOP/tests/fencing/fence_fake_$variant
	[ -x "$agent" ] || fail "no test agent $agent"
	case $variant in
	hang) tmo=2s want=timeout ;;
	*) tmo=3s want=failed ;;
	esac
	s1_node_conf "s|^fence_agent = .*|fence_agent = $agent|; s|^fence_timeout = .*|fence_timeout = $tmo|"
	s1_up
	a=$(ao_of node1)
	b=$(other_id "$a")
	mark "[$variant] fence agent fence_fake_$variant (fence_timeout $tmo, fence_retries 1); node$a is AO"

	poll=$S1_TMP/poll-$variant.json
	poller_start "$poll" --poll 50 --duration 600
	t_kill=$(now_ms)
	cl kill "node$a" >/dev/null || fail "harness kill node$a"
	mark "[$variant] kill node$a"
	wait_for '[ "$(jq_ctl node$b "[.fence_history[] | select(.target == $a and .result == \"$want\")] | length")" -ge 1 ]' 30 0.1 ||
		fail "[$variant] no fence attempt with result $want within ${WAITED_MS} ms"
	mark "[$variant] node$b's first fence attempt against node$a ended ($want) $(ms_since "$t_kill") ms after the kill"
	wait_for '[ "$(jq_ctl node$b ".failed_actions | length")" -ge 1 ]' 15 0.1 ||
		fail "[$variant] no failed action listed within ${WAITED_MS} ms"
	mark "[$variant] clusterctl lists a failed action $(ms_since "$t_kill") ms after the kill"

	# watch the survivor: it must never become AO
	bad=0 samples=0
	t_end=$(($(now_ms) + WATCH_S * 1000))
	while [ "$(now_ms)" -lt "$t_end" ]; do
		# "AO STATE1 STATE2": node b neither AO node nor its group AO
		v=$(lun_view "node$b")
		samples=$((samples + 1))
		# shellcheck disable=SC2086 # split into its three words
		set -- $v
		if [ $# != 3 ] || [ "$1" = "$b" ] || [ "$(eval echo "\${$((b + 1))}")" = ao ]; then
			bad=$((bad + 1))
			echo "    node$b says: $v"
		fi
		sleep 0.2
	done
	poller_stop
	doc=$(ctl_json "node$b")
	mark "[$variant] watched node$b for ${WATCH_S} s more ($samples samples): lun0 $(jq -r '.luns[0] | "ao_node \(.ao_node), \([.tpgs[] | "\(.id):\(.state)"] | join(" ")), reason: \(.reason // "-")"' <<<"$doc")"

	expect "[$variant] node$b never reported itself or its group AO in $samples samples" test "$bad" = 0
	# clusterctl(8): ao_node is "null while there is none", with a reason
	expect "[$variant] status: lun0 has no AO node (ao_node null, got $(jq -c '.luns[0].ao_node' <<<"$doc"))" \
		test "$(jq -r '.luns[0].ao_node' <<<"$doc")" = null
	expect "[$variant] status: lun0 says why it has no AO node" \
		test -n "$(jq -r '.luns[0].reason // empty' <<<"$doc")"
	expect "[$variant] node$b's group is transitioning" test "$(jq -r --argjson b "$b" '.luns[0].tpgs[] | select(.id == $b) | .state' <<<"$doc")" = transitioning
	expect "[$variant] node$a is not counted as fenced" test \
		"$(jq -r --argjson a "$a" '.nodes[] | select(.id == $a) | "\(.online) \(.fenced)"' <<<"$doc")" = "false false"
	expect "[$variant] the client never saw node$b's paths AO after the kill" test \
		"$(poller_events "[.[] | select(.type == \"rtpg\" and .tpg == $b and .epoch_ms >= $t_kill and .own_state == \"ao\")] | length")" = 0
	expect "[$variant] the client's last RTPG on node$b's paths: transitioning" test \
		"$(poller_summary "[.paths[] | select(.tpg_id == $b) | .state] | join(\",\")")" = "transitioning,transitioning"
	expect "[$variant] the client saw NOT READY 04/0A on node$b's paths" test \
		"$(poller_summary "[.paths[] | select(.tpg_id == $b) | .not_ready_040a] | min")" -ge 1
	expect "[$variant] never two AO groups at once" test "$(poller_summary .dual_ao)" = 0
	hist=$(jq -c --argjson a "$a" '[.fence_history[] | select(.target == $a)]' <<<"$doc")
	echo "    fence history: $hist"
	expect "[$variant] every fence attempt against node$a failed ($want), none ok" test \
		"$(jq -r '[.[] | select(.result != "running") | .result] | unique | join(",")' <<<"$hist")" = "$want"
	if [ "$variant" = hang ]; then
		# fence_retries 1: two runs, each killed after fence_timeout (2 s)
		d=$(jq -r '[.[] | select(.result == "timeout") | .duration_ms] | min' <<<"$hist")
		expect "[hang] both runs were killed after fence_timeout: the attempt took $d ms (2 x 2 s + pause)" \
			eval '[ "$d" -ge 3900 ] && [ "$d" -le 7000 ]'
		expect "[hang] no hung agent left behind (at most the one of a running attempt)" \
			test "$(cl_nexec "node$b" pgrep -f fence_fake_hang | wc -l)" -le 1
	fi
	fa=$(jq -c '.failed_actions' <<<"$doc")
	echo "    failed actions: $fa"
	expect "[$variant] the failed action names the fence of node$a, why, and a hint" test \
		"$(jq -r '[.[] | select((.what | test("fenc")) and (.why | length > 0) and (.hint | length > 0))] | length' <<<"$fa")" -ge 1
	# the hint should end with what to do once the node is known to be off
	expect "[$variant] the hint is complete (names 'clusterctl fence ... --yes')" \
		eval 'jq -e "[.[].hint | test(\"clusterctl fence [^ ]+ --yes\")] | any" <<<"$fa" >/dev/null'
	# shellcheck disable=SC2034 # both used in the eval below
	text=$(ctl "node$b" status 2>&1) hint=$(jq -r '.[0].hint' <<<"$fa")
	expect "[$variant] the text view lists the failed action and its hint" \
		eval 'grep -q "^Failed actions" <<<"$text" && ! grep -q "^Failed actions: none" <<<"$text" && grep -qF "${hint:0:40}" <<<"$text"'
	show_status "node$b"
	echo "== client timeline [$variant] after the kill (TUR GOOD lines omitted)"
	jq -r --argjson t "$t_kill" 'select(.epoch_ms >= $t and .text != "TEST UNIT READY: GOOD") |
		"    +\(.epoch_ms - $t) ms  \(if .path then "path\(.path) " else "" end)\(.text)"' "$poll"
	CL_QUIET=1 cl down >/dev/null
done
cl_end
