# shellcheck shell=bash
# Helpers for the cluster scenario scripts (tests/cluster/s*.sh). Source it:
#   . "$(dirname "$0")/lib.sh"
#   cl_require            # exits 77 when this machine cannot run the cluster
#   cl_begin              # EXIT trap: on failure dump status + logs, always `down`
#   cl up ...             # any harness.sh verb
#   wait_for 'cl_members_are node1 "1"' 10 || fail "..."
#   cl_end                # timeline, "N passed, N failed", exit status
# Timestamps are epoch milliseconds (now_ms); the timeline prints them
# relative to cl_begin.

CL_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CL_HARNESS=$CL_LIB_DIR/harness.sh
CL_PREFIX=${CL_PREFIX:-cl}
export CL_PREFIX

CL_PASSED=0
CL_FAILED=0
CL_TIMELINE=()
CL_T0=
export WAITED_MS=0 # set by wait_for

# cl VERB ARGS...: run a harness verb
cl() { "$CL_HARNESS" "$@"; }

now_ms() {
	local t=$EPOCHREALTIME
	echo $((${t%.*} * 1000 + 10#${t#*.} / 1000))
}

# ms_since T0_MS
ms_since() { echo $(($(now_ms) - $1)); }

# fmt_ms MS: 2213 -> 2.213 s
fmt_ms() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }

skip() {
	echo "SKIP: ${0##*/}: $*"
	exit 77
}

# cl_require [service]: exit 77 unless root, ip netns, bridge and corosync
# work here; with "service" also a built clusterd.
cl_require() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, bind mounts)"
	command -v ip >/dev/null || skip "no ip (iproute2)"
	command -v bridge >/dev/null || skip "no bridge (iproute2)"
	command -v corosync >/dev/null || skip "no corosync (apt-get install corosync)"
	command -v corosync-quorumtool >/dev/null || skip "no corosync-quorumtool"
	ip netns list >/dev/null 2>&1 || skip "ip netns does not work here"
	if [ "${1:-}" = service ] && [ ! -x "${CL_CLUSTERD:-$CL_LIB_DIR/../../build/clusterd}" ]; then
		skip "no build/clusterd (run make -j1)"
	fi
	return 0
}

# cl_begin: start the clock and install the cleanup trap
cl_begin() {
	CL_T0=$(now_ms)
	trap cl__on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	echo "== ${0##*/}: prefix $CL_PREFIX, run dir ${CL_RUN_DIR:-/tmp/clusterd-cluster-$CL_PREFIX}"
}

cl__on_exit() {
	local rc=$? n
	trap - EXIT
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		echo "== ${0##*/} FAILED (exit $rc); cluster state before teardown:"
		cl status 2>&1 | sed 's/^/  /'
		for n in node1 node2; do
			for f in corosync service; do
				[ -s "${CL_RUN_DIR:-/tmp/clusterd-cluster-$CL_PREFIX}/$n/$f.log" ] || continue
				echo "-- last lines of $n $f.log"
				tail -n "${CL_LOG_LINES:-25}" "${CL_RUN_DIR:-/tmp/clusterd-cluster-$CL_PREFIX}/$n/$f.log" |
					sed 's/^/  /'
			done
		done
		if [ -n "${CL_ARTIFACTS:-}" ]; then
			mkdir -p "$CL_ARTIFACTS" &&
				cp -r "${CL_RUN_DIR:-/tmp/clusterd-cluster-$CL_PREFIX}" "$CL_ARTIFACTS/" 2>/dev/null &&
				echo "-- run dir copied to $CL_ARTIFACTS"
		fi
	fi
	CL_QUIET=1 cl down >/dev/null 2>&1
	exit "$rc"
}

# mark TEXT: a timeline entry, printed now and again by cl_end
mark() {
	local line
	line=$(printf '%9s  %s' "+$(fmt_ms "$(ms_since "$CL_T0")")" "$*")
	CL_TIMELINE+=("$line")
	echo "$line"
}

pass() {
	CL_PASSED=$((CL_PASSED + 1))
	echo "  ok: $*"
}

# fail TEXT: count a failure and stop the scenario (the trap tears down)
fail() {
	CL_FAILED=$((CL_FAILED + 1))
	echo "  FAIL: $*"
	cl_end
}

# check TEXT CMD...: pass or fail on CMD's status
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# wait_for CONDITION TIMEOUT_S [POLL_S]: evaluate the shell CONDITION until it
# succeeds; sets WAITED_MS (time until success, or until giving up)
wait_for() {
	local cond=$1 t0 deadline
	t0=$(now_ms)
	deadline=$((t0 + ${2:-10} * 1000))
	while :; do
		if eval "$cond"; then
			WAITED_MS=$(ms_since "$t0")
			return 0
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			WAITED_MS=$(ms_since "$t0")
			return 1
		fi
		sleep "${3:-0.02}"
	done
}

# cl_ns HOST: the network namespace of node1|node2|client
cl_ns() { echo "$CL_PREFIX-$1"; }

# cl_nexec HOST CMD...: run CMD in HOST's namespace (faster than `cl exec`)
cl_nexec() {
	local ns
	ns=$(cl_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# cl_quorum NODE: "yes 1 2", "no 2" (quorate? and the member ids) or "down"
# when corosync does not answer
cl_quorum() {
	local out rc q m
	out=$(timeout 3 ip netns exec "$(cl_ns "$1")" corosync-quorumtool -s -p 2>/dev/null)
	rc=$?
	# corosync-quorumtool -s exits 2 when not quorate, 1 when it cannot connect
	if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then
		echo down
		return 0
	fi
	q=$(awk '/^Quorate:/ {print tolower($2)}' <<<"$out")
	m=$(awk '/^ *Nodeid/ {t=1; next} t && $1 ~ /^[0-9]+$/ {print $1}' <<<"$out" | sort -n | tr '\n' ' ')
	echo "${q:-unknown} ${m% }"
}

cl_quorate() { [ "$(cl_quorum "$1" | cut -d' ' -f1)" = yes ]; }

# cl_members_are NODE "IDS": NODE's corosync membership is exactly IDS
cl_members_are() {
	local q
	q=$(cl_quorum "$1")
	[ "${q#* }" = "$2" ]
}

# cl_ring_id NODE: the current totem ring id (changes with every membership)
cl_ring_id() {
	timeout 3 ip netns exec "$(cl_ns "$1")" corosync-quorumtool -s 2>/dev/null |
		awk '/^Ring ID:/ {print $3}'
}

# cl_link_connected NODE PEER_ID LINK: knet says LINK (0|1) to PEER_ID is connected
cl_link_connected() {
	timeout 3 ip netns exec "$(cl_ns "$1")" corosync-cfgtool -s 2>/dev/null |
		awk -v l="$3" -v p="$2" '/^LINK ID/ {cur = $3} cur == l && $1 == "nodeid:" && $2 == p ":" {print $3}' |
		grep -qx connected
}

# cl_log_time NODE REGEX T0_MS: epoch ms of the first line of NODE's corosync
# log at or after T0_MS that matches REGEX (corosync logs hires timestamps
# like "Nov 25 02:57:44.204"); empty if none. Gives event times without the
# polling error of wait_for.
cl_log_time() {
	local log=${CL_RUN_DIR:-/tmp/clusterd-cluster-$CL_PREFIX}/$1/corosync.log
	grep -E "$2" "$log" 2>/dev/null | tail -n 50 |
		sed -nE 's/^([A-Z][a-z]{2} +[0-9]+ [0-9:]+\.[0-9]+) .*/\1/p' |
		date -f - +%s%3N 2>/dev/null | awk -v t0="$3" '$1 >= t0 {print; exit}'
}

# cl_tcp_reach HOST ADDR PORT [TIMEOUT_S]: a TCP connect from HOST's namespace
# succeeds within TIMEOUT_S (default 2; no ping on these machines, portals
# answer TCP)
cl_tcp_reach() {
	timeout "${4:-2}" ip netns exec "$(cl_ns "$1")" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

# cl_end: print the timeline and the tally; exit 0 only if nothing failed
cl_end() {
	local l
	echo "== timeline (${0##*/})"
	for l in "${CL_TIMELINE[@]}"; do echo "$l"; done
	echo "$CL_PASSED passed, $CL_FAILED failed"
	[ "$CL_FAILED" -eq 0 ] && exit 0
	exit 1
}
