#!/bin/bash
# Local two-node cluster for tests: network namespaces, two bridged networks,
# a real corosync per node and (optionally) a per-node service (clusterd).
# Run `harness.sh help` for the verbs and variables; README.md next to this
# file explains the topology and the partition semantics.
#
# Everything lives in network namespaces named $CL_PREFIX-*, and all files
# in one run directory. Nothing is created in the root network namespace and
# no traffic leaves the namespaces. Processes are ended only by the PIDs this
# harness recorded or by being inside one of its own namespaces.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)

CL_PREFIX=${CL_PREFIX:-cl}
if ! [[ $CL_PREFIX =~ ^[a-z][a-z0-9]{0,15}$ ]]; then
	echo "harness: CL_PREFIX '$CL_PREFIX' must be [a-z][a-z0-9]{0,15}" >&2
	exit 2
fi
RUN=${CL_RUN_DIR:-/tmp/clusterd-cluster-$CL_PREFIX}

NODES=(node1 node2)
HOSTS=(node1 node2 client)
NETS=(A B)

# Settings that `up` records in $RUN/config.env so that later verbs (and
# other shells) use the same cluster; a variable set in the environment
# still wins over the recorded value.
CONFIG_VARS=(CL_TOKEN CL_TOTEM_OPTS CL_IFACE_OPTS CL_QUORUM_OPTS CL_DEBUG CL_CLUSTER_NAME CL_NET_A CL_NET_B
	CL_SERVICE CL_SERVICE_ARGS CL_SERVICE_READY CL_NODE_CONF_IN CL_CLUSTERD CL_IQN
	CL_LUN_SIZE CL_PORT CL_UP_TIMEOUT CL_STOP_TIMEOUT CL_DOWN_GRACE)

config_load() {
	local v
	local -A keep=()
	for v in "${CONFIG_VARS[@]}"; do
		[ -n "${!v+x}" ] && keep[$v]=${!v}
	done
	# shellcheck disable=SC1091
	[ -r "$RUN/config.env" ] && . "$RUN/config.env"
	for v in "${!keep[@]}"; do
		printf -v "$v" '%s' "${keep[$v]}"
	done
	CL_TOKEN=${CL_TOKEN:-1000}
	CL_TOTEM_OPTS=${CL_TOTEM_OPTS:-}
	CL_IFACE_OPTS=${CL_IFACE_OPTS-}
	CL_QUORUM_OPTS=${CL_QUORUM_OPTS:-}
	CL_DEBUG=${CL_DEBUG:-off}
	CL_CLUSTER_NAME=${CL_CLUSTER_NAME:-clusterd}
	CL_NET_A=${CL_NET_A:-10.201.0}
	CL_NET_B=${CL_NET_B:-10.202.0}
	CL_SERVICE=${CL_SERVICE:-none}
	CL_SERVICE_ARGS=${CL_SERVICE_ARGS:-}
	CL_SERVICE_READY=${CL_SERVICE_READY:-}
	CL_NODE_CONF_IN=${CL_NODE_CONF_IN:-}
	CL_CLUSTERD=${CL_CLUSTERD:-$TOP/build/clusterd}
	CL_IQN=${CL_IQN:-iqn.2026-01.org.clusterd:cluster}
	CL_LUN_SIZE=${CL_LUN_SIZE:-64M}
	CL_PORT=${CL_PORT:-3260}
	CL_UP_TIMEOUT=${CL_UP_TIMEOUT:-30}
	CL_STOP_TIMEOUT=${CL_STOP_TIMEOUT:-10}
	CL_DOWN_GRACE=${CL_DOWN_GRACE:-3}
}

config_save() {
	local v
	for v in "${CONFIG_VARS[@]}"; do
		printf '%s=%q\n' "$v" "${!v}"
	done >"$RUN/config.env"
}

# ---------------------------------------------------------------- naming

ns_of() { echo "$CL_PREFIX-$1"; }   # node1, node2, client
sw_of() { echo "$CL_PREFIX-net$1"; } # the namespace holding bridge br0 of net A or B
all_ns() { echo "$(ns_of node1) $(ns_of node2) $(ns_of client) $(sw_of A) $(sw_of B)"; }

host_num() {
	case $1 in
	node1) echo 1 ;;
	node2) echo 2 ;;
	client) echo 100 ;;
	esac
}

# addr HOST NET: the host's address on network A or B (exists only in our namespaces)
addr() {
	local base
	if [ "$2" = A ]; then base=$CL_NET_A; else base=$CL_NET_B; fi
	echo "$base.$(host_num "$1")"
}

die() {
	echo "harness: $*" >&2
	exit 1
}

# node_arg ARG [any]: node1|node2 (also 1|2); with "any" also client
node_arg() {
	case $1 in
	1 | node1) echo node1 ;;
	2 | node2) echo node2 ;;
	client)
		[ "${2:-}" = any ] || die "'client' has no cluster services"
		echo client
		;;
	*) die "unknown node '$1' (node1, node2${2:+ or client})" ;;
	esac
}

net_arg() {
	case $1 in
	A | a | 0) echo A ;;
	B | b | 1) echo B ;;
	*) die "unknown network '$1' (A or B)" ;;
	esac
}

# ---------------------------------------------------------------- output

ts() {
	local t=$EPOCHREALTIME
	printf '%(%H:%M:%S)T.%s' "${t%.*}" "${t#*.}" | cut -c1-12
}

say() {
	local line
	line="$(ts) [$CL_PREFIX] $*"
	[ -d "$RUN" ] && echo "$line" >>"$RUN/harness.log"
	[ "${CL_QUIET:-0}" = 1 ] || echo "$line"
}

# ---------------------------------------------------------------- processes

# pid_running PID: exists and is not a zombie. Daemons started here outlive
# this script and are reaped by PID 1, which may do it late, so kill -0 alone
# would still succeed on a dead one.
pid_running() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# pid_in_ns PID NS: PID runs inside network namespace NS. That is the guard
# against PID reuse: anything inside our namespaces was started by us.
pid_in_ns() {
	local ino
	ino=$(stat -L -c %i "/run/netns/$2" 2>/dev/null) || return 1
	[ "$(readlink "/proc/$1/ns/net" 2>/dev/null)" = "net:[$ino]" ]
}

# pidfile_live FILE NS: prints the recorded PID if it is running in NS
pidfile_live() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	pid_running "$pid" && pid_in_ns "$pid" "$2" && echo "$pid"
}

ns_exists() { [ -e "/run/netns/$1" ]; }
ns_pids() { ns_exists "$1" && ip netns pids "$1" 2>/dev/null; }

# wait_gone DEADLINE_MS PID...: until none of the PIDs runs; 1 on timeout
wait_gone() {
	local deadline=$1 p left
	shift
	while :; do
		left=0
		for p in "$@"; do pid_running "$p" && left=1; done
		[ $left = 0 ] && return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

now_ms() {
	local t=$EPOCHREALTIME
	echo $((${t%.*} * 1000 + 10#${t#*.} / 1000))
}

# shm_clean PID...: libqb leaves its shared-memory rings (server pid first,
# then client pid) and corosync its blackbox behind when SIGKILLed. Remove
# exactly those of the given (dead) PIDs.
shm_clean() {
	local f name p
	[ $# -gt 0 ] || return 0
	for f in /dev/shm/qb-*; do
		[ -e "$f" ] || continue
		name=${f##*/}
		for p in "$@"; do
			# qb-SERVER-CLIENT-N-XXXX (IPC), qb-NAME-SERVER-... (blackbox and others)
			if [[ $name =~ ^qb-($p-[0-9]+-[0-9]+-|[0-9]+-$p-[0-9]+-|[a-z_]+-$p-) ]]; then
				rm -rf "$f"
				break
			fi
		done
	done
}

# kill_ns NS SIGNAL: signal everything inside NS; with KILL, repeat until
# empty (5 s deadline) and clean the victims' /dev/shm files. Prints the PIDs.
kill_ns() {
	local ns=$1 sig=$2 pids all="" deadline
	deadline=$(($(now_ms) + 5000))
	while :; do
		pids=$(ns_pids "$ns" | tr '\n' ' ')
		[ -z "${pids// /}" ] && break
		# shellcheck disable=SC2086
		kill -s "$sig" $pids 2>/dev/null
		all="$all $pids"
		[ "$sig" = KILL ] || break
		[ "$(now_ms)" -lt "$deadline" ] || {
			echo "harness: $ns still has processes after SIGKILL: $pids" >&2
			break
		}
		sleep 0.02
	done
	# shellcheck disable=SC2086
	[ "$sig" = KILL ] && shm_clean $all
	echo "${all# }"
}

# close_fds: used in a subshell right before exec'ing a daemon, so that it
# does not hold the caller's pipes open (a `$(harness.sh up)` would hang).
close_fds() {
	local fd
	for fd in "/proc/$BASHPID/fd"/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	return 0
}

# ---------------------------------------------------------------- network

net_create() {
	local net sw host ns
	for net in "${NETS[@]}"; do
		sw=$(sw_of "$net")
		ip netns add "$sw" || return 1
		ip -n "$sw" link set lo up
		ip -n "$sw" link add br0 type bridge || return 1
		ip -n "$sw" link set br0 up
	done
	for host in "${HOSTS[@]}"; do
		ns=$(ns_of "$host")
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		for net in "${NETS[@]}"; do
			sw=$(sw_of "$net")
			# both ends are created directly in their namespaces
			ip link add "eth$net" netns "$ns" type veth peer name "$host" netns "$sw" ||
				return 1
			ip -n "$ns" addr add "$(addr "$host" "$net")/24" dev "eth$net"
			ip -n "$ns" link set "eth$net" up
			ip -n "$sw" link set "$host" master br0 up
		done
	done
	echo none >"$RUN/partition"
}

# render TEMPLATE NODE: fill in the @KEY@ placeholders of a template
render() {
	local t
	t=$(cat "$1") || return 1
	t=${t//@CLUSTER_NAME@/$CL_CLUSTER_NAME}
	t=${t//@TOKEN@/$CL_TOKEN}
	t=${t//@TOTEM_OPTS@/${CL_TOTEM_OPTS:-	# (no extra totem options: CL_TOTEM_OPTS)}}
	t=${t//@IFACE_OPTS@/${CL_IFACE_OPTS:-		# (no extra link options: CL_IFACE_OPTS)}}
	t=${t//@QUORUM_OPTS@/${CL_QUORUM_OPTS:-	# (no extra quorum options: CL_QUORUM_OPTS)}}
	t=${t//@DEBUG@/$CL_DEBUG}
	t=${t//@STATE_DIR@/$RUN/$2/state}
	t=${t//@NODE1_ADDR_A@/$(addr node1 A)}
	t=${t//@NODE1_ADDR_B@/$(addr node1 B)}
	t=${t//@NODE2_ADDR_A@/$(addr node2 A)}
	t=${t//@NODE2_ADDR_B@/$(addr node2 B)}
	t=${t//@CLIENT_ADDR_A@/$(addr client A)}
	t=${t//@CLIENT_ADDR_B@/$(addr client B)}
	t=${t//@NODE@/$2}
	t=${t//@NODE_ID@/$(host_num "$2")}
	t=${t//@ADDR_A@/$(addr "$2" A)}
	t=${t//@ADDR_B@/$(addr "$2" B)}
	t=${t//@NODE_DIR@/$RUN/$2}
	t=${t//@RUN_DIR@/$RUN}
	t=${t//@SHARED_DIR@/$RUN/shared}
	t=${t//@PORT@/$CL_PORT}
	t=${t//@IQN@/$CL_IQN}
	t=${t//@PREFIX@/$CL_PREFIX}
	printf '%s\n' "$t"
}

# ---------------------------------------------------------------- corosync

corosync_start() {
	local node=$1 d=$RUN/$1 ns pid
	ns=$(ns_of "$node")
	if pid=$(pidfile_live "$d/corosync.pid" "$ns"); then
		say "$node corosync already running (pid $pid)"
		return 0
	fi
	echo "--- $(ts) harness: start" >>"$d/corosync.log"
	# corosync takes a lock on /var/run/corosync.pid that no option moves.
	# `ip netns exec` gives the command a private mount namespace, so a bind
	# mount of the node's own run/ over /run is seen by this corosync only.
	# ip, sh and corosync exec one another: $! is corosync's PID.
	(
		close_fds
		# shellcheck disable=SC2016
		exec ip netns exec "$ns" sh -c 'mount --bind "$1/run" /run && exec corosync -f -c "$1/corosync.conf"' \
			sh "$d"
	) >>"$d/corosync.log" 2>&1 </dev/null &
	echo $! >"$d/corosync.pid"
	say "$node corosync started (pid $!)"
}

# corosync_wait_ipc NODE TIMEOUT_S: until corosync answers on its IPC (cmap)
corosync_wait_ipc() {
	local node=$1 ns deadline pid
	ns=$(ns_of "$node")
	deadline=$(($(now_ms) + $2 * 1000))
	until timeout 2 ip netns exec "$ns" corosync-cmapctl -g totem.cluster_name >/dev/null 2>&1; do
		if ! pid=$(pidfile_live "$RUN/$node/corosync.pid" "$ns"); then
			echo "harness: $node corosync exited; end of $RUN/$node/corosync.log:" >&2
			tail -n 15 "$RUN/$node/corosync.log" >&2
			return 1
		fi
		[ "$(now_ms)" -lt "$deadline" ] || {
			echo "harness: $node corosync (pid $pid) not answering after $2 s" >&2
			return 1
		}
		sleep 0.05
	done
}

# quorum_line NODE: "quorate members" e.g. "yes 1 2", "no 2" or "down"
quorum_line() {
	local out q m
	out=$(timeout 3 ip netns exec "$(ns_of "$1")" corosync-quorumtool -s -p 2>/dev/null)
	case $? in
	0 | 2) ;; # 2 = not quorate
	*)
		echo down
		return
		;;
	esac
	q=$(awk '/^Quorate:/ {print tolower($2)}' <<<"$out")
	# membership table: "         1          1 node1 (local)" after the Nodeid header
	m=$(awk '/^ *Nodeid/ {t=1; next} t && $1 ~ /^[0-9]+$/ {print $1}' <<<"$out" | sort -n | tr '\n' ' ')
	echo "${q:-unknown} ${m% }"
}

# ---------------------------------------------------------------- service

service_cmd() {
	case $CL_SERVICE in
	none) return 1 ;;
	standalone)
		# Stand-in until cluster mode exists: one standalone target per
		# node, a portal on each network, relative port ids unique in the
		# cluster (node1: 1,2; node2: 3,4), target portal group tag = node
		# id, one LUN on the shared backing file (same LU id on both nodes,
		# derived from the IQN).
		# shellcheck disable=SC2016
		echo 'exec "$CL_CLUSTERD" --standalone --iqn "$CL_IQN"' \
			'--portal "$CL_NODE_ADDR_A:$CL_PORT,tpgt=$CL_NODE_ID,rel_port_id=$((2 * CL_NODE_ID - 1))"' \
			'--portal "$CL_NODE_ADDR_B:$CL_PORT,tpgt=$CL_NODE_ID,rel_port_id=$((2 * CL_NODE_ID))"' \
			'--lun "$CL_SHARED_DIR/lun0.img,size=$CL_LUN_SIZE" $CL_SERVICE_ARGS'
		;;
	*) echo "$CL_SERVICE" ;;
	esac
}

service_ready_cmd() {
	if [ -n "$CL_SERVICE_READY" ]; then
		echo "$CL_SERVICE_READY"
	elif [ "$CL_SERVICE" = standalone ]; then
		# shellcheck disable=SC2016
		echo 'ss -Hltn | grep -q " $CL_NODE_ADDR_A:$CL_PORT " && ss -Hltn | grep -q " $CL_NODE_ADDR_B:$CL_PORT "'
	else
		echo true
	fi
}

# node_env NODE: the environment the service command and its ready check
# see, one VAR=value per line
node_env() {
	local node=$1
	printf '%s\n' "CL_NODE=$node" "CL_NODE_ID=$(host_num "$node")" "CL_NS=$(ns_of "$node")" \
		"CL_NODE_DIR=$RUN/$node" "CL_NODE_CONF=$RUN/$node/node.conf" "CL_RUN_DIR=$RUN" \
		"CL_SHARED_DIR=$RUN/shared" "CL_NODE_ADDR_A=$(addr "$node" A)" \
		"CL_NODE_ADDR_B=$(addr "$node" B)" "CL_TOP=$TOP" "CL_PREFIX=$CL_PREFIX" \
		"CL_HARNESS=$HERE/harness.sh" "CL_CLUSTERD=$CL_CLUSTERD" "CL_IQN=$CL_IQN" \
		"CL_PORT=$CL_PORT" "CL_LUN_SIZE=$CL_LUN_SIZE" "CL_SERVICE_ARGS=$CL_SERVICE_ARGS"
}

service_start() {
	local node=$1 d=$RUN/$1 ns cmd pid kv
	cmd=$(service_cmd) || return 0
	ns=$(ns_of "$node")
	if pid=$(pidfile_live "$d/service.pid" "$ns"); then
		say "$node service already running (pid $pid)"
		return 0
	fi
	echo "$cmd" >"$d/service.cmd"
	echo "--- $(ts) harness: start: $cmd" >>"$d/service.log"
	(
		close_fds
		while IFS= read -r kv; do export "${kv?}"; done < <(node_env "$node")
		cd "$d" || exit 1
		exec ip netns exec "$ns" sh -c "$cmd"
	) >>"$d/service.log" 2>&1 </dev/null &
	echo $! >"$d/service.pid"
	say "$node service started (pid $!)"
}

# service_wait NODE TIMEOUT_S: until the ready check passes inside the node
service_wait() {
	local node=$1 ns deadline ready envs
	ready=$(service_ready_cmd)
	service_cmd >/dev/null || return 0
	ns=$(ns_of "$node")
	deadline=$(($(now_ms) + $2 * 1000))
	mapfile -t envs < <(node_env "$node")
	until env "${envs[@]}" timeout 3 ip netns exec "$ns" sh -c "$ready" >/dev/null 2>&1; do
		if ! pidfile_live "$RUN/$node/service.pid" "$ns" >/dev/null; then
			echo "harness: $node service exited; end of $RUN/$node/service.log:" >&2
			tail -n 15 "$RUN/$node/service.log" >&2
			return 1
		fi
		[ "$(now_ms)" -lt "$deadline" ] || {
			echo "harness: $node service not ready after $2 s ($ready)" >&2
			return 1
		}
		sleep 0.05
	done
	# a service that fails right after start must not pass as ready
	sleep 0.2
	pidfile_live "$RUN/$node/service.pid" "$ns" >/dev/null && return 0
	echo "harness: $node service exited right after start; end of $RUN/$node/service.log:" >&2
	tail -n 15 "$RUN/$node/service.log" >&2
	return 1
}

# stop_pidfile NODE WHAT: SIGTERM the recorded PID, SIGKILL after the timeout
stop_pidfile() {
	local node=$1 what=$2 f=$RUN/$1/$2.pid ns pid t0
	ns=$(ns_of "$node")
	if ! pid=$(pidfile_live "$f" "$ns"); then
		rm -f "$f"
		return 0
	fi
	t0=$(now_ms)
	# CONT too: a frozen daemon handles SIGTERM only once it runs again
	kill -TERM "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null
	if wait_gone $((t0 + CL_STOP_TIMEOUT * 1000)) "$pid"; then
		say "$node $what (pid $pid) stopped by SIGTERM in $(($(now_ms) - t0)) ms"
	else
		kill -KILL "$pid" 2>/dev/null
		wait_gone $(($(now_ms) + 5000)) "$pid"
		shm_clean "$pid"
		say "$node $what (pid $pid) ignored SIGTERM for ${CL_STOP_TIMEOUT} s: SIGKILLed"
	fi
	rm -f "$f"
}

# ---------------------------------------------------------------- verbs

require_env() {
	local why=""
	[ "$(id -u)" = 0 ] || why="not root"
	[ -z "$why" ] && ! command -v ip >/dev/null && why="no ip (iproute2)"
	[ -z "$why" ] && ! command -v corosync >/dev/null && why="no corosync (apt-get install corosync)"
	[ -z "$why" ] && ! command -v corosync-quorumtool >/dev/null && why="no corosync-quorumtool"
	[ -z "$why" ] && ! command -v bridge >/dev/null && why="no bridge (iproute2)"
	if [ -z "$why" ] && ! ip netns list >/dev/null 2>&1; then why="ip netns does not work here"; fi
	if [ -n "$why" ]; then
		echo "harness: cannot run: $why" >&2
		exit 77
	fi
}

verb_up() {
	local node t0
	require_env
	if [ "$CL_SERVICE" = standalone ] && [ ! -x "$CL_CLUSTERD" ]; then
		die "CL_SERVICE=standalone needs $CL_CLUSTERD (run make -j1 first)"
	fi
	t0=$(now_ms)
	CL_QUIET=1 verb_down stale
	mkdir -p "$RUN/shared" "$RUN/client" || die "cannot create $RUN"
	config_save
	for node in "${NODES[@]}"; do
		mkdir -p "$RUN/$node/run" "$RUN/$node/state"
		render "$HERE/corosync.conf.in" "$node" >"$RUN/$node/corosync.conf" || die "render failed"
		if [ -n "$CL_NODE_CONF_IN" ]; then
			render "$CL_NODE_CONF_IN" "$node" >"$RUN/$node/node.conf" ||
				die "cannot render $CL_NODE_CONF_IN"
		fi
	done
	[ "$CL_SERVICE" = standalone ] && truncate -s "$CL_LUN_SIZE" "$RUN/shared/lun0.img"
	net_create || die "building the namespaces failed"
	say "up: namespaces $(all_ns); run dir $RUN"
	for node in "${NODES[@]}"; do
		# the config check looks for the local address: run it in the netns
		ip netns exec "$(ns_of "$node")" corosync -t -c "$RUN/$node/corosync.conf" \
			>"$RUN/$node/config-check.log" 2>&1 ||
			{
				cat "$RUN/$node/config-check.log" >&2
				die "corosync -t rejected $RUN/$node/corosync.conf"
			}
	done
	[ "${CL_NOSTART:-0}" = 1 ] && return 0
	for node in "${NODES[@]}"; do corosync_start "$node"; done
	for node in "${NODES[@]}"; do corosync_wait_ipc "$node" "$CL_UP_TIMEOUT" || exit 1; done
	for node in "${NODES[@]}"; do service_start "$node"; done
	for node in "${NODES[@]}"; do
		verb_wait_quorate "$node" "$CL_UP_TIMEOUT" >/dev/null || exit 1
	done
	for node in "${NODES[@]}"; do service_wait "$node" "$CL_UP_TIMEOUT" || exit 1; done
	say "up: both nodes quorate$(service_cmd >/dev/null && echo ', services ready')" \
		"$(($(now_ms) - t0)) ms after start"
}

# down [stale]: idempotent; also cleans what a SIGKILLed run left behind
verb_down() {
	local node ns f pid pids=() killed="" t0 n=0
	t0=$(now_ms)
	# 1. clean stop of what we recorded (service first, then corosync)
	if [ "$CL_DOWN_GRACE" -gt 0 ]; then
		for f in service corosync; do
			for node in "${NODES[@]}"; do
				pid=$(pidfile_live "$RUN/$node/$f.pid" "$(ns_of "$node")") || continue
				kill -TERM "$pid" 2>/dev/null && pids+=("$pid") && kill -CONT "$pid"
			done
			[ ${#pids[@]} -gt 0 ] && wait_gone $(($(now_ms) + CL_DOWN_GRACE * 1000)) "${pids[@]}"
		done
	fi
	# 2. whatever still runs inside our namespaces is ours: SIGKILL it
	for ns in $(all_ns); do
		ns_exists "$ns" || continue
		killed="$killed $(kill_ns "$ns" KILL)"
		ip netns del "$ns" 2>/dev/null || ip netns del "$ns" || echo "harness: cannot delete netns $ns" >&2
		n=$((n + 1))
	done
	# 3. a clean stop removes its own /dev/shm files; the killed ones did not
	for f in "$RUN"/node*/corosync.pid "$RUN"/node*/service.pid; do
		[ -s "$f" ] && ! pid_running "$(cat "$f")" && shm_clean "$(cat "$f")"
	done
	killed=$(xargs <<<"$killed")
	if [ "${CL_KEEP:-0}" = 1 ]; then
		rm -f "$RUN"/node*/*.pid
	else
		rm -rf "$RUN"
	fi
	if [ "${1:-}" = stale ] && [ $n -gt 0 ]; then
		echo "harness: removed $n stale namespaces of prefix '$CL_PREFIX'${killed:+ and SIGKILLed pids $killed}" >&2
	fi
	say "down: $n namespaces removed${killed:+, SIGKILLed $killed}, $(($(now_ms) - t0)) ms"
	return 0
}

verb_start() {
	local node
	node=$(node_arg "$1") || exit 1
	ns_exists "$(ns_of "$node")" || die "not up (no namespace $(ns_of "$node"))"
	corosync_start "$node"
	corosync_wait_ipc "$node" "$CL_UP_TIMEOUT" || exit 1
	service_start "$node"
	service_wait "$node" "$CL_UP_TIMEOUT" || exit 1
}

verb_stop() {
	local node
	node=$(node_arg "$1") || exit 1
	stop_pidfile "$node" service
	stop_pidfile "$node" corosync
}

verb_kill() {
	local node pids
	node=$(node_arg "$1") || exit 1
	pids=$(kill_ns "$(ns_of "$node")" KILL)
	rm -f "$RUN/$node/corosync.pid" "$RUN/$node/service.pid"
	say "$node SIGKILLed: ${pids:-nothing was running}"
}

# off NODE: power the node off as a fence would: SIGKILL everything in it
# and set both its NICs down (its peer sees both links die, the client loses
# its portals). on NODE: NICs up, then start it again.
verb_off() {
	local node net
	node=$(node_arg "$1") || exit 1
	verb_kill "$node"
	for net in "${NETS[@]}"; do ip -n "$(ns_of "$node")" link set "eth$net" down; done
	say "$node off (NICs down)"
}

verb_on() {
	local node net
	node=$(node_arg "$1") || exit 1
	for net in "${NETS[@]}"; do ip -n "$(ns_of "$node")" link set "eth$net" up; done
	say "$node on (NICs up)"
	verb_start "$node"
}

# freeze/thaw NODE: SIGSTOP/SIGCONT everything in the node (a hung node)
verb_freeze() {
	local node pids
	node=$(node_arg "$1") || exit 1
	pids=$(kill_ns "$(ns_of "$node")" "$2")
	say "$node SIG$2: ${pids:-nothing was running}"
}

verb_link() {
	local host net state=$3
	host=$(node_arg "$1" any) || exit 1
	net=$(net_arg "$2") || exit 1
	ip -n "$(ns_of "$host")" link set "eth$net" "$state" || die "link set failed"
	say "$host eth$net (net $net, $(addr "$host" "$net")) $state"
}

verb_port() {
	local host net state=$3
	host=$(node_arg "$1" any) || exit 1
	net=$(net_arg "$2") || exit 1
	ip -n "$(sw_of "$net")" link set "$host" "$state" || die "port set failed"
	say "bridge port of $host on net $net $state"
}

ports_set() {
	local net host
	for net in "${NETS[@]}"; do
		for host in "${HOSTS[@]}"; do
			ip -n "$(sw_of "$net")" link set "$host" up
			bridge -n "$(sw_of "$net")" link set dev "$host" isolated off
		done
	done
}

# partition [both|node1|node2]: cut node1 <-> node2 on both networks.
#   both (default): the client still reaches BOTH nodes (bridge port
#          isolation: isolated ports cannot talk to each other, only to
#          non-isolated ones). The split brain an HA stack must survive.
#   node1|node2: the client stays with that node; the other node's bridge
#          ports go down, so it is cut from everyone (cable pull).
verb_partition() {
	local side=${1:-both} net other
	[ -s "$RUN/partition" ] || die "not up"
	ports_set
	case $side in
	both)
		for net in "${NETS[@]}"; do
			bridge -n "$(sw_of "$net")" link set dev node1 isolated on || die "isolation failed"
			bridge -n "$(sw_of "$net")" link set dev node2 isolated on || die "isolation failed"
		done
		say "partition: node1 <-> node2 cut on nets A and B; client reaches both"
		;;
	node1 | node2 | 1 | 2)
		side=$(node_arg "$side")
		if [ "$side" = node1 ]; then other=node2; else other=node1; fi
		for net in "${NETS[@]}"; do
			ip -n "$(sw_of "$net")" link set "$other" down || die "port down failed"
		done
		say "partition: $other cut from everyone on nets A and B; client reaches $side only"
		;;
	*) die "partition [both|node1|node2]" ;;
	esac
	echo "$side" >"$RUN/partition"
}

verb_heal() {
	[ -s "$RUN/partition" ] || die "not up"
	ports_set
	echo none >"$RUN/partition"
	say "heal: all bridge ports up, no isolation"
}

verb_wait_quorate() {
	local node ns deadline t0 q
	node=$(node_arg "$1") || exit 1
	ns=$(ns_of "$node")
	t0=$(now_ms)
	deadline=$((t0 + ${2:-$CL_UP_TIMEOUT} * 1000))
	until q=$(quorum_line "$node") && [ "${q%% *}" = yes ]; do
		[ "$(now_ms)" -lt "$deadline" ] || {
			echo "harness: $node not quorate after ${2:-$CL_UP_TIMEOUT} s ($q)" >&2
			return 1
		}
		sleep 0.05
	done
	echo "$node quorate (members ${q#yes }) after $(($(now_ms) - t0)) ms"
}

# wait-members NODE "IDS" [TIMEOUT]: until NODE's membership is exactly IDS
verb_wait_members() {
	local node want deadline t0 q
	node=$(node_arg "$1") || exit 1
	want=$(echo "$2" | tr ' ' '\n' | sort -n | tr '\n' ' ')
	want=${want% }
	t0=$(now_ms)
	deadline=$((t0 + ${3:-$CL_UP_TIMEOUT} * 1000))
	until q=$(quorum_line "$node") && [ "${q#* }" = "$want" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || {
			echo "harness: $node members are not [$want] after ${3:-$CL_UP_TIMEOUT} s ($q)" >&2
			return 1
		}
		sleep 0.02
	done
	echo "$node members [$want] after $(($(now_ms) - t0)) ms"
}

link_state() {
	ip -n "$1" -br link show dev "$2" 2>/dev/null | awk '{print $2}'
}

verb_status() {
	local node ns pid net host q st sw
	if ! ns_exists "$(ns_of node1)"; then
		echo "cluster '$CL_PREFIX': down"
		return 3
	fi
	echo "cluster '$CL_PREFIX': run dir $RUN, token $CL_TOKEN ms, service $CL_SERVICE," \
		"partition: $(cat "$RUN/partition" 2>/dev/null || echo '?')"
	for host in "${HOSTS[@]}"; do
		ns=$(ns_of "$host")
		printf '%-7s netns %-14s' "$host" "$ns"
		for net in "${NETS[@]}"; do
			printf ' eth%s %s %-5s' "$net" "$(addr "$host" "$net")" "$(link_state "$ns" "eth$net")"
		done
		echo
		[ "$host" = client ] && continue
		if pid=$(pidfile_live "$RUN/$host/corosync.pid" "$ns"); then
			q=$(quorum_line "$host")
			st="corosync pid $pid, quorate ${q%% *}, members [${q#* }]"
		else
			st="corosync not running"
		fi
		if service_cmd >/dev/null; then
			if pid=$(pidfile_live "$RUN/$host/service.pid" "$ns"); then
				st="$st; service pid $pid"
			else
				st="$st; service not running"
			fi
		fi
		echo "        $st; other pids in netns: $(ns_pids "$ns" | grep -vxF -e "$(cat "$RUN/$host/corosync.pid" 2>/dev/null)" -e "$(cat "$RUN/$host/service.pid" 2>/dev/null)" | tr '\n' ' ')"
	done
	for net in "${NETS[@]}"; do
		sw=$(sw_of "$net")
		printf 'net %s (%s.0/24, bridge in netns %s):' "$net" "$(addr node1 "$net" | cut -d. -f1-3)" "$sw"
		for host in "${HOSTS[@]}"; do
			st=$(link_state "$sw" "$host")
			bridge -n "$sw" -d link show dev "$host" 2>/dev/null | grep -q 'isolated on' && st="$st,isolated"
			printf ' %s %s' "$host" "$st"
		done
		echo
	done
}

verb_env() {
	local host net
	echo "CL_PREFIX=$CL_PREFIX"
	echo "CL_RUN_DIR=$RUN"
	echo "CL_PORT=$CL_PORT"
	echo "CL_IQN=$CL_IQN"
	echo "CL_SERVICE=$(printf '%q' "$CL_SERVICE")"
	for host in "${HOSTS[@]}"; do
		echo "CL_NS_${host^^}=$(ns_of "$host")"
		for net in "${NETS[@]}"; do echo "CL_${host^^}_ADDR_$net=$(addr "$host" "$net")"; done
	done
}

verb_log() {
	local host what=${2:-corosync}
	host=$(node_arg "$1") || exit 1
	[ -r "$RUN/$host/$what.log" ] || die "no $RUN/$host/$what.log"
	cat "$RUN/$host/$what.log"
}

usage() {
	cat <<'EOF'
usage: tests/cluster/harness.sh VERB [ARGS]

  up                     build namespaces + networks, start corosync (and the
                         service) on both nodes, wait until both are quorate
                         (and the services ready). Removes leftovers of the
                         same prefix first.
  down                   stop everything and remove namespaces and run dir;
                         idempotent, also after a SIGKILLed run
  start NODE             start corosync, then the service, on NODE
  stop NODE              clean stop: SIGTERM service, then corosync
                         (SIGKILL after CL_STOP_TIMEOUT s)
  kill NODE              crash: SIGKILL everything in NODE's namespace
  off NODE               power-off as a fence would: kill + both NICs down
  on NODE                both NICs up, then start
  freeze NODE | thaw NODE  SIGSTOP / SIGCONT everything in NODE's namespace
  link-down HOST NET     set HOST's NIC on net A|B down (inside HOST)
  link-up HOST NET
  port-down HOST NET     set HOST's bridge port on net A|B down (cable pull)
  port-up HOST NET
  partition [SIDE]       cut node1 <-> node2 on both nets. SIDE both (default):
                         the client still reaches both nodes; node1|node2: the
                         client stays with that node, the other one is cut off
  heal                   undo partition (all bridge ports up, no isolation)
  exec HOST CMD...       run CMD inside HOST's namespace (HOST: node1 node2 client)
  wait-quorate NODE [S]  wait until NODE is quorate
  wait-members NODE "IDS" [S]  wait until NODE's membership is exactly IDS ("1 2")
  quorum NODE            print "yes|no MEMBERS..." or "down"
  pids NODE              PIDs inside NODE's namespace
  log NODE [corosync|service]  print the node's log
  status                 namespaces, links, bridge ports, processes, quorum
  env                    shell assignments: prefix, run dir, namespaces, addresses

NODE is node1|node2 (or 1|2); HOST is NODE or client; NET is A|B.

Variables (recorded by `up` in $RUN/config.env; the environment wins):
  CL_PREFIX=cl           namespace prefix: CL_PREFIX-node1, -node2, -client,
                         -netA, -netB. One prefix per concurrent run.
  CL_RUN_DIR=/tmp/clusterd-cluster-$CL_PREFIX   configs, logs, pid files
  CL_NET_A=10.201.0 CL_NET_B=10.202.0   /24s inside the namespaces:
                         node1 .1, node2 .2, client .100
  CL_TOKEN=1000          totem token (ms)
  CL_TOTEM_OPTS, CL_QUORUM_OPTS   extra lines for totem {} / quorum {}
                         (e.g. CL_QUORUM_OPTS='wait_for_all: 0')
  CL_DEBUG=off           corosync debug logging (on|off|trace)
  CL_SERVICE=none        per-node service: none (corosync only); standalone
                         (build/clusterd --standalone, portal on both nets,
                         one LUN on the shared file); or a sh command run in
                         the node's namespace (start it with exec), e.g.
                         'exec "$CL_CLUSTERD" -c "$CL_NODE_CONF"'. It sees
                         CL_NODE CL_NODE_ID CL_NS CL_NODE_DIR CL_NODE_CONF
                         CL_RUN_DIR CL_SHARED_DIR CL_NODE_ADDR_A CL_NODE_ADDR_B
                         CL_TOP CL_CLUSTERD CL_IQN CL_PORT CL_LUN_SIZE
                         CL_PREFIX CL_HARNESS (this script, e.g. for a
                         fence agent: "$CL_HARNESS" off node2).
  CL_SERVICE_READY       sh command (same environment, in the namespace) that
                         succeeds once the service is ready; default for
                         standalone: both portals listen
  CL_SERVICE_ARGS        extra arguments for the standalone stand-in
  CL_NODE_CONF_IN        template rendered per node to $RUN/NODE/node.conf
                         (@NODE@ @NODE_ID@ @ADDR_A@ @ADDR_B@ @NODE1_ADDR_A@ ...
                         @NODE_DIR@ @RUN_DIR@ @SHARED_DIR@ @PORT@ @IQN@)
  CL_CLUSTERD=build/clusterd  CL_IQN  CL_PORT=3260  CL_LUN_SIZE=64M
  CL_UP_TIMEOUT=30 CL_STOP_TIMEOUT=10 CL_DOWN_GRACE=3 (s; 0 = SIGKILL at once)
  CL_NOSTART=1 (up builds only)  CL_KEEP=1 (down keeps the run dir)
  CL_QUIET=1 (no progress lines)
EOF
}

# ---------------------------------------------------------------- main

config_load
verb=${1:-help}
[ $# -gt 0 ] && shift
need() { [ $# -ge "$1" ] || die "$verb: missing argument (see harness.sh help)"; }
case $verb in
up) verb_up ;;
down) verb_down ;;
start) need 2 "$@" && verb_start "$1" ;;
stop) need 2 "$@" && verb_stop "$1" ;;
kill) need 2 "$@" && verb_kill "$1" ;;
off) need 2 "$@" && verb_off "$1" ;;
on) need 2 "$@" && verb_on "$1" ;;
freeze) need 2 "$@" && verb_freeze "$1" STOP ;;
thaw) need 2 "$@" && verb_freeze "$1" CONT ;;
link-down) need 3 "$@" && verb_link "$1" "$2" down ;;
link-up) need 3 "$@" && verb_link "$1" "$2" up ;;
port-down) need 3 "$@" && verb_port "$1" "$2" down ;;
port-up) need 3 "$@" && verb_port "$1" "$2" up ;;
partition) verb_partition "${1:-both}" ;;
heal) verb_heal ;;
exec)
	need 3 "$@"
	host=$(node_arg "$1" any) || exit 1
	shift
	exec ip netns exec "$(ns_of "$host")" "$@"
	;;
wait-quorate) need 2 "$@" && verb_wait_quorate "$@" ;;
wait-members) need 3 "$@" && verb_wait_members "$@" ;;
quorum) need 2 "$@" && quorum_line "$(node_arg "$1")" ;;
pids) need 2 "$@" && ns_pids "$(ns_of "$(node_arg "$1" any)")" ;;
log) need 2 "$@" && verb_log "$@" ;;
status) verb_status ;;
env) verb_env ;;
help | -h | --help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
