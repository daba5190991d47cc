#!/bin/bash
# run-cs-adapter.sh [PROBE]: the corosync adapter (clusterd/corosync.h)
# against a real single-node corosync.
#
# Builds a network namespace clcs-<pid> with loopback and a veth pair whose
# both ends stay inside it (the node address exists nowhere else), starts
# corosync there with its config and state_dir in a private work dir and a
# private /run (corosync's pid lock /run/corosync.pid is hard-coded, so a
# bind mount in a private mount namespace keeps it off the host's), then runs
# PROBE (default build/tools/cs-adapter-probe) in the namespace. The probe
# checks join, its own confchg, 1000 messages delivered back in order (then
# 200 x 16 KiB, which makes corosync push back), quorum and votequorum, peers leaving with LEAVE and PROCDOWN, cs_close() inside a
# callback, and finally SIGKILLs corosync by PID and times lost(). A second,
# short round stops corosync gracefully (SIGTERM) instead.
#
# Prints the probe's "ok/FAIL" lines and a last line "N passed, N failed".
# Exit 0 when all passed, 1 on failure, 77 when it cannot run here (not root,
# no corosync). Cleans up on any exit: only the PIDs it started and whatever
# runs inside its own namespace, then the namespace and the work dir.
set -u
cd "$(dirname "$0")/../.." || exit 1

probe=${1:-build/tools/cs-adapter-probe}
count=${CS_PROBE_COUNT:-1000}
big_count=${CS_PROBE_BIG_COUNT:-200}
big_size=${CS_PROBE_BIG_SIZE:-16384}
lost_limit_ms=${CS_LOST_LIMIT_MS:-5000}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (network namespace, bind mount over /run)"
	exit 77
fi
for tool in corosync corosync-quorumtool ip unshare; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not found (Debian: apt-get install corosync iproute2 util-linux)"
		exit 77
	fi
done
if [ ! -x "$probe" ]; then
	echo "probe $probe is not built (make)"
	exit 1
fi
probe=$(realpath "$probe")

ns=clcs-$$
addr=10.79.0.1
work=$(mktemp -d "/tmp/clcs-$$.XXXXXX") || exit 1
cs_pid=
cs_pids=()
passed=0
failed=0

result() {
	# result OK|FAIL TEXT
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	echo "$1 $2"
}

# is_ours PID COMM: PID still runs COMM (a guard against PID reuse) and is
# not a zombie waiting to be reaped.
is_ours() {
	local stat
	[ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

cleanup() {
	local p pid tries
	for pid in "${cs_pids[@]}"; do
		is_ours "$pid" corosync || continue
		kill -TERM "$pid" 2>/dev/null
		for tries in $(seq 50); do
			is_ours "$pid" corosync || break
			sleep 0.1
		done
		is_ours "$pid" corosync && kill -KILL "$pid" 2>/dev/null
	done
	# Everything left in our namespace was started by this script.
	for p in $(ip netns pids "$ns" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null
	# A SIGKILLed corosync leaves its IPC rings and blackbox: remove them by its PID only.
	for pid in "${cs_pids[@]}"; do
		rm -rf /dev/shm/qb-"$pid"-* /dev/shm/qb-corosync-"$pid"-*
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- namespace: lo up, a veth pair inside it carrying the node address ----
ip netns add "$ns" || exit 1
ip -n "$ns" link set lo up &&
	ip -n "$ns" link add cs0 type veth peer name cs1 &&
	ip -n "$ns" addr add "$addr/24" dev cs0 &&
	ip -n "$ns" link set cs0 up &&
	ip -n "$ns" link set cs1 up || {
	echo "FAIL could not set up namespace $ns"
	exit 1
}

# start_corosync DIR: a corosync in $ns with its config, state_dir and /run
# under DIR; sets cs_pid. Returns 1 (after logging) when it does not become
# quorate.
start_corosync() {
	local dir=$1 tries
	mkdir -p "$dir/state" "$dir/run"
	sed -e "s|@WORK@|$dir|g" -e "s|@ADDR@|$addr|g" tests/corosync/corosync.conf.in \
		>"$dir/corosync.conf"
	# ip netns exec, unshare (no --fork) and sh all exec, so $! is corosync's PID.
	ip netns exec "$ns" unshare -m --propagation private \
		sh -c 'mount --bind "$1/run" /run && exec corosync -f -c "$1/corosync.conf"' \
		sh "$dir" >"$dir/corosync.log" 2>&1 </dev/null &
	cs_pid=$!
	cs_pids+=("$cs_pid")
	# bash still reaps it; disowned, it prints no "Killed" notice when the probe kills it
	disown "$cs_pid"
	for tries in $(seq 100); do
		if ip netns exec "$ns" corosync-quorumtool -s >/dev/null 2>&1 &&
			is_ours "$cs_pid" corosync; then
			result ok "corosync $cs_pid started in $ns and quorate"
			return 0
		fi
		is_ours "$cs_pid" corosync || [ "$tries" -lt 5 ] || break
		sleep 0.1
	done
	result FAIL "corosync did not start or become quorate; its log:"
	sed 's/^/    /' "$dir/corosync.log" | tail -20
	return 1
}

# run_probe LOG ARGS...: the probe in $ns against corosync $cs_pid; adds its tally.
run_probe() {
	local log=$1 rc p f
	shift
	timeout 180 ip netns exec "$ns" "$probe" -c cstest -k "$cs_pid" -L "$lost_limit_ms" "$@" \
		>"$log" 2>&1
	rc=$?
	grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$log"
	p=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p' "$log" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		result FAIL "probe exited with status $rc without a verdict"
	fi
}

# corosync_gone: the probe killed or stopped corosync $cs_pid; it must be gone.
corosync_gone() {
	local tries
	for tries in $(seq 50); do
		is_ours "$cs_pid" corosync || break
		sleep 0.1
	done
	if is_ours "$cs_pid" corosync; then
		result FAIL "corosync $cs_pid still runs after the probe"
	else
		result ok "corosync $cs_pid is gone"
	fi
}

# Round 1: everything, ending with a crash of corosync (SIGKILL).
echo "== round 1: corosync crashes (SIGKILL)"
start_corosync "$work/r1" || { echo "$passed passed, $failed failed"; exit 1; }
run_probe "$work/r1/probe.log" -v -n "$count" -b "$big_count" -s "$big_size" -S KILL
corosync_gone

# Round 2: a short run ending with a graceful stop (what a package upgrade or
# `systemctl restart corosync` does); the adapter must report it the same way.
echo "== round 2: corosync stops gracefully (SIGTERM)"
if start_corosync "$work/r2"; then
	run_probe "$work/r2/probe.log" -v -n 100 -b 10 -s "$big_size" -S TERM
	corosync_gone
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
