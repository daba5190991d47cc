# shellcheck shell=bash
# Shared by the clusterd scenarios s10-s15 (source it after lib.sh): a
# two-node cluster running clusterd on both nodes (tests/cluster/node.conf.in),
# clusterctl on either node, and the client's view through iscsi-alua.
#   s1_require                 exit 77 unless root, corosync, jq and the binaries
#   s1_begin                   cl_begin + a scratch dir + the cluster settings
#   s1_node_conf [SED]         node.conf.in for the next up, edited by SED
#   s1_up                      harness up, then wait until both nodes are synced
#   ctl NODE ARGS...           clusterctl on NODE
#   ctl_json NODE              clusterctl status --json on NODE (empty if it fails)
#   ao_of NODE                 the AO node id of lun0 as NODE sees it ("null": none)
#   lun_view NODE              "AO STATE1 STATE2" of lun0 in one clusterctl call
#   alua_snapshot FILE [N...]  iscsi-alua --json from the client on the portals of
#                              nodes N (default 1 2) into FILE; its exit status
#   poller_start FILE ARGS...  iscsi-alua --poll --json in the background on all 4
#                              paths; returns once POLLER_PATHS (4) of them answer
#   poller_stop                SIGTERM it and wait for its summary line
#   show_status NODE           clusterctl status, indented, for the log
#   expect TEXT CMD...         check that counts a failure but goes on
# Conditions given to wait_for are eval'ed inside it: they must not use the
# names of its locals (t0, cond, deadline).
# shellcheck disable=SC2034 # variables are used by the scenarios
# shellcheck disable=SC2016 # single-quoted conditions are evaluated later

S1_TOP=$(cd "$CL_LIB_DIR/../.." && pwd)
CLUSTERCTL=${CLUSTERCTL:-$S1_TOP/build/clusterctl}
ISCSI_ALUA=${ISCSI_ALUA:-$S1_TOP/build/tools/iscsi-alua}
export CL_CLUSTERD=${CL_CLUSTERD:-$S1_TOP/build/clusterd}
S1_TMP=
POLLER_PID=
POLLER_FILE=

s1_require() {
	cl_require service
	[ -x "$CLUSTERCTL" ] || skip "no build/clusterctl (run make -j1)"
	[ -x "$ISCSI_ALUA" ] || skip "no build/tools/iscsi-alua (run make -j1)"
	command -v jq >/dev/null || skip "no jq (apt-get install jq)"
	return 0
}

s1__on_exit() {
	local rc=$?
	[ -n "$POLLER_PID" ] && kill -TERM "$POLLER_PID" 2>/dev/null && wait "$POLLER_PID"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -s "${POLLER_FILE:-}" ]; then
		echo "== client timeline (iscsi-alua --poll, last 60 events)"
		poller_timeline | tail -n 60
	fi
	if [ -n "$S1_TMP" ] && [ "${S1_KEEP:-0}" = 1 ]; then
		echo "== scratch files kept in $S1_TMP"
	elif [ -n "$S1_TMP" ]; then
		rm -rf "$S1_TMP"
	fi
	(exit "$rc")
	cl__on_exit
}

# s1_begin: cl_begin, a scratch dir, the cluster settings (node.conf.in)
s1_begin() {
	cl_begin
	trap s1__on_exit EXIT
	S1_TMP=$(mktemp -d "/tmp/clusterd-${CL_PREFIX}-s1.XXXXXX") || exit 1
	s1_node_conf ""
	export CL_NODE_CONF_IN=$S1_TMP/node.conf.in
	# shellcheck disable=SC2016 # expanded by the harness, per node
	export CL_SERVICE='exec "$CL_CLUSTERD" -c "$CL_NODE_CONF"'
	# shellcheck disable=SC2016
	export CL_SERVICE_READY='ss -Hltn | grep -q " $CL_NODE_ADDR_A:$CL_PORT "'
	eval "$(cl env | grep -E '^CL_(NODE[12]_ADDR_[AB]|IQN|PORT)=')"
	IQN=$CL_IQN
	PORT=$CL_PORT
}

# s1_node_conf [SED_SCRIPT]: render node.conf.in for the next `up`: @TOP@
# becomes the repository root, then SED_SCRIPT edits it (e.g. another agent)
s1_node_conf() {
	sed -e "s|@TOP@|$S1_TOP|g" -e "${1:-}" "$CL_LIB_DIR/node.conf.in" >"$S1_TMP/node.conf.in"
}

ctl() {
	local node=$1
	shift
	cl_nexec "$node" "$CLUSTERCTL" "$@"
}

ctl_json() { ctl "$1" status --json 2>/dev/null; }

# jq_ctl NODE FILTER: FILTER applied to NODE's status document
jq_ctl() { ctl_json "$1" | jq -r "$2" 2>/dev/null; }

ao_of() { jq_ctl "$1" '.luns[0].ao_node'; }

# synced NODE "IDS": NODE's clusterd is synced, quorate, and exactly IDS are online
synced() {
	[ "$(jq_ctl "$1" '[.phase, .quorate, ([.nodes[] | select(.online) | .id] | join(" "))] | join(",")')" = "synced,true,$2" ]
}

# tpg_state NODE TPG: the state of port group TPG of lun0 as NODE's clusterd has it
tpg_state() { jq_ctl "$1" ".luns[0].tpgs[] | select(.id == $2) | .state"; }

# expect TEXT CMD...: like check, but a failure is counted without ending the
# scenario (for findings after which the rest is still worth checking)
expect() {
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		CL_FAILED=$((CL_FAILED + 1))
		echo "  FAIL: $what"
	fi
}

# lun_view NODE: "AO STATE1 STATE2" of lun0 as NODE's clusterd has it in one
# call, e.g. "1 ao ano" (AO node, then the states of groups 1 and 2)
lun_view() {
	jq_ctl "$1" '.luns[0] | "\(.ao_node) \([.tpgs | sort_by(.id)[] | .state] | join(" "))"'
}

s1_up() {
	local t0
	t0=$(now_ms)
	cl up >/dev/null || fail "harness up"
	wait_for 'synced node1 "1 2" && synced node2 "1 2"' 15 ||
		fail "clusterd not synced with both nodes online after ${WAITED_MS} ms"
	wait_for '[ "$(ao_of node1)" != null ] && [ "$(ao_of node1)" = "$(ao_of node2)" ]' 10 ||
		fail "no AO node agreed within ${WAITED_MS} ms"
	mark "up: corosync + clusterd on both nodes, synced with an AO node after $(ms_since "$t0") ms"
}

# urls [N...]: the client's iSCSI URLs of the portals of nodes N (default 1 2)
urls() {
	local nodes=${*:-1 2} n net a out=""
	for n in $nodes; do
		for net in A B; do
			a=CL_NODE${n}_ADDR_$net
			out="$out iscsi://${!a}:$PORT/$IQN/0"
		done
	done
	echo "${out# }"
}

alua_snapshot() {
	local file=$1
	shift
	# shellcheck disable=SC2046
	cl_nexec client "$ISCSI_ALUA" --json --timeout 2000 $(urls "$@") >"$file"
}

# poller_start FILE ARGS...: iscsi-alua --poll --json ARGS on all four paths
poller_start() {
	POLLER_FILE=$1
	shift
	# shellcheck disable=SC2046
	# not through a function: $! must be iscsi-alua itself (ip netns exec execs it)
	ip netns exec "$(cl_ns client)" "$ISCSI_ALUA" --json --timeout 1500 "$@" $(urls 1 2) \
		>"$POLLER_FILE" 2>&1 &
	POLLER_PID=$!
	wait_for '[ "$(jq -s "[.[] | select(.type == \"rtpg\")] | map(.path) | unique | length" "$POLLER_FILE" 2>/dev/null)" -ge "${POLLER_PATHS:-4}" ]' 10 ||
		fail "iscsi-alua did not reach ${POLLER_PATHS:-4} paths within ${WAITED_MS} ms: $(tail -n 3 "$POLLER_FILE")"
}

poller_stop() {
	[ -n "$POLLER_PID" ] || return 0
	kill -TERM "$POLLER_PID" 2>/dev/null
	wait "$POLLER_PID"
	POLLER_RC=$?
	POLLER_PID=
}

# poller_summary FILTER: FILTER applied to the poller's summary object
poller_summary() { jq -r "select(.type == \"summary\") | $1" "$POLLER_FILE"; }

# poller_events FILTER: FILTER applied to the poller's event stream (jq -s)
poller_events() { jq -rs "$1" "$POLLER_FILE"; }

# poller_timeline: the poller's events as text, for the log
poller_timeline() {
	jq -r '"    \(.t_ms | tostring | (" " * (6 - length)) + .) ms  \(if .path then "path\(.path) " else "" end)\(.text)"' \
		"$POLLER_FILE" 2>/dev/null
}

# kill_until_ao DEAD SURVIVOR: harness kill node DEAD (everything in it), then
# wait until SURVIVOR's clusterd has its own group AO (clusterctl every 50 ms);
# sets KILL_MS (when the kill was started) and FAILOVER_MS (how long it took)
kill_until_ao() {
	KILL_MS=$(now_ms)
	cl kill "node$1" >/dev/null || fail "harness kill node$1"
	wait_for "[ \"\$(ao_of node$2)\" = $2 ] && [ \"\$(tpg_state node$2 $2)\" = ao ]" 15 0.05 ||
		fail "node$2 did not become AO within 15 s: $(ctl_json "node$2" | jq -c '.luns[0], .fence_history, .failed_actions')"
	FAILOVER_MS=$(ms_since "$KILL_MS")
}

show_status() {
	echo "  -- clusterctl status on $1:"
	ctl "$1" status 2>&1 | sed 's/^/     /'
}

# node_of_tpg ID: node name of target port group ID (the group id is the node id)
node_name() { echo "node$1"; }
other_id() { echo $((3 - $1)); }
