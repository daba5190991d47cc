#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make bench: our iSCSI target against tgt, over loopback, interleaved, plus
# the local limit (fio io_uring on the same kind of file). Method and caveats:
# docs/BENCHMARKS.md. Run from the repository root after `make`.
#
# Everything listens on 127.0.0.1 only. Every process this script starts is
# remembered by PID and stopped on exit, whatever the exit path; its backing
# files are deleted. Results: build/bench/results-<date>.{md,csv} and logs.
#
# Environment (defaults in brackets):
#   BENCH_TARGETS   targets to run, in this order each round [ours tgt tgt-eq]
#                   ours = build/clusterd --standalone; tgt = tgtd with its
#                   default iSCSI keys; tgt-eq = tgtd with the keys ours
#                   negotiates (libiscsi's offer when ours is not run)
#   BENCH_MEDIA     backing files to use [shm disk]
#   BENCH_PAIRS     rounds per cell (A/B/A/B...) [3]
#   BENCH_RUNTIME   measured seconds per run [10]
#   BENCH_RAMP      unmeasured seconds before each run [2]
#   BENCH_WORKLOADS subset of: randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd1
#                   randwrite-4k-qd32 read-1m-qd8 write-1m-qd8 [all six]
#   BENCH_FIO       1: also run fio io_uring on the files [1]
#   BENCH_FIO_RUNS  fio runs per cell [1]
#   BENCH_CROSSCHECK  1: after each read run, run libiscsi's iscsi-perf with the
#                   same pattern against the same target, as a sanity check of
#                   iscsi-bench (iscsi-perf cannot write) [0]
#   BENCH_QUIET_LOAD / BENCH_QUIET_WAIT   quiet gate: load1 threshold [1.5] and
#                   longest wait in seconds [30]
#   BENCH_QUIET_BUSY  the gate also opens after 2 s in which the machine used
#                   less than this many CPUs [0.25] (load1 still carries our
#                   own previous run for a minute)
#   BENCH_PORT      first of three TCP ports (ours shm, ours disk, tgtd) [3290]
#   BENCH_DISK_DIR  directory for the disk-backed files [/var/tmp]
#   BENCH_SHM_DIR   tmpfs directory [/dev/shm]
#   BENCH_OUT       results directory [build/bench]
#   BENCH_BIN       iscsi-bench binary [build/bench/iscsi-bench]
#   CLUSTERD        our daemon [build/clusterd]; CLUSTERD_ARGS extra arguments
#   OURS_LUN        LUN number ours serves its --lun on [0]
#   TGT_BSTYPE_SHM / TGT_BSTYPE_DISK   tgt backing store [rdwr / aio]
#                   (aio is O_DIRECT, like our io_uring file backend)
set -euo pipefail

BENCH_TARGETS=${BENCH_TARGETS:-"ours tgt tgt-eq"}
BENCH_MEDIA=${BENCH_MEDIA:-"shm disk"}
BENCH_PAIRS=${BENCH_PAIRS:-3}
BENCH_RUNTIME=${BENCH_RUNTIME:-10}
BENCH_RAMP=${BENCH_RAMP:-2}
BENCH_WORKLOADS=${BENCH_WORKLOADS:-"randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd1 randwrite-4k-qd32 read-1m-qd8 write-1m-qd8"}
BENCH_FIO=${BENCH_FIO:-1}
BENCH_FIO_RUNS=${BENCH_FIO_RUNS:-1}
BENCH_CROSSCHECK=${BENCH_CROSSCHECK:-0}
BENCH_QUIET_LOAD=${BENCH_QUIET_LOAD:-1.5}
BENCH_QUIET_WAIT=${BENCH_QUIET_WAIT:-30}
BENCH_QUIET_BUSY=${BENCH_QUIET_BUSY:-0.25}
BENCH_PORT=${BENCH_PORT:-3290}
BENCH_DISK_DIR=${BENCH_DISK_DIR:-/var/tmp}
BENCH_SHM_DIR=${BENCH_SHM_DIR:-/dev/shm}
BENCH_OUT=${BENCH_OUT:-build/bench}
BENCH_BIN=${BENCH_BIN:-build/bench/iscsi-bench}
CLUSTERD=${CLUSTERD:-build/clusterd}
CLUSTERD_ARGS=${CLUSTERD_ARGS:-}
OURS_LUN=${OURS_LUN:-0}
TGT_BSTYPE_SHM=${TGT_BSTYPE_SHM:-rdwr}
TGT_BSTYPE_DISK=${TGT_BSTYPE_DISK:-aio}

ADDR=127.0.0.1 # the only address anything here ever binds or connects to
IQN_BASE=iqn.2024-01.test.clusterd.bench
SIZE_MB=1024
SUMMARY="$(dirname "$0")/bench-summary.py"
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS_MD=$BENCH_OUT/results-$STAMP.md
RESULTS_CSV=$BENCH_OUT/results-$STAMP.csv
LOGDIR=$BENCH_OUT/logs-$STAMP
KEYS_TSV=$LOGDIR/keys.tsv

WORK= # private temp dir (tgtd socket, fio job output)
declare -a FILES=() # backing files we created
declare -A PID=()   # role -> PID of a process we started
declare -A PORT=()  # role -> TCP port
declare -A URL=()   # "target media" -> iSCSI URL
declare -A TGT_TIDS=()
FAILED_RUNS=0
RUN_ID=0

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# ---- cleanup: only what we started, by PID ----------------------------------

stop_pid() { # name pid [grace seconds]
	local name=$1 pid=$2 grace=${3:-5} i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) ignored SIGTERM for ${grace}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

stop_tgtd() {
	local tid i pid=${PID[tgtd]:-}
	[[ -n $pid ]] || return 0
	# tgtd ignores SIGTERM while it has targets: delete them, then ask it to
	# shut down through its (private) management socket; signals come last.
	for tid in "${TGT_TIDS[@]}"; do
		tgtadm --lld iscsi --mode target --op delete --force --tid "$tid" >/dev/null 2>&1 || true
	done
	tgtadm --lld iscsi --mode system --op delete >/dev/null 2>&1 || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid tgtd "$pid" 5
	unset 'PID[tgtd]'
}

cleanup() {
	local rc=$? role f
	trap - EXIT INT TERM
	if [[ -n ${PID[client]:-} ]]; then
		# /usr/bin/time does not pass SIGTERM on to fio: signal its children too
		pkill -TERM -P "${PID[client]}" 2>/dev/null || true
		stop_pid client "${PID[client]}" 5
		unset 'PID[client]'
	fi
	stop_tgtd
	for role in "${!PID[@]}"; do
		stop_pid "$role" "${PID[$role]}" 5
	done
	for f in "${FILES[@]}"; do
		rm -f -- "$f"
	done
	[[ -n $WORK && -d $WORK ]] && rm -rf -- "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers -----------------------------------------------------------------

# Runs a client in the background and waits for it, so that a signal to this
# script is handled at once (bash defers traps while a foreground child runs).
run_child() { # out err cmd...
	local out=$1 err=$2 rc=0
	shift 2
	"$@" >"$out" 2>"$err" &
	PID[client]=$!
	wait "${PID[client]}" || rc=$?
	unset 'PID[client]'
	return "$rc"
}

need() { command -v "$1" >/dev/null 2>&1 || die "missing $1 ($2)"; }

has_target() { [[ " $BENCH_TARGETS " == *" $1 "* ]]; }

port_free() { [[ -z $(ss -ltnH "sport = :$1" 2>/dev/null) ]]; }

# Every listening socket of PID must be on 127.0.0.1.
check_loopback_only() { # role pid
	local addrs
	addrs=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$2," 'index($0, p) { print $4 }')
	[[ -n $addrs ]] || return 1
	if grep -qv "^$ADDR:" <<<"$addrs"; then
		die "$1 listens on $(tr '\n' ' ' <<<"$addrs"), not only on $ADDR"
	fi
}

wait_listen() { # role pid port log
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$2" 2>/dev/null || {
			tail -n 20 "$4" >&2 || true
			die "$1 exited during start-up (log: $4)"
		}
		if [[ -n $(ss -ltnH "src $ADDR:$3" 2>/dev/null) ]]; then
			check_loopback_only "$1" "$2" && return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$4" >&2 || true
	die "$1 is not listening on $ADDR:$3 after 10 s (log: $4)"
}

# Machine busy CPUs over the next second, from idle+iowait in /proc/stat.
busy_cpus_1s() {
	local a b n
	n=$(nproc)
	a=$(awk '/^cpu /{print $5 + $6}' /proc/stat)
	sleep 1
	b=$(awk '/^cpu /{print $5 + $6}' /proc/stat)
	awk -v a="$a" -v b="$b" -v n="$n" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { v = n - (b - a) / hz; if (v < 0) v = 0; printf "%.2f", v }'
}

# Quiet gate: wait (at most BENCH_QUIET_WAIT s) until load1 < BENCH_QUIET_LOAD,
# or until two consecutive seconds were nearly idle. Prints "load1 busy".
quiet_gate() {
	local t0=$SECONDS load busy idle=0
	while :; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		busy=$(busy_cpus_1s)
		if awk -v b="$busy" -v t="$BENCH_QUIET_BUSY" 'BEGIN { exit !(b < t) }'; then
			idle=$((idle + 1))
		else
			idle=0
		fi
		if awk -v l="$load" -v t="$BENCH_QUIET_LOAD" 'BEGIN { exit !(l < t) }' ||
			((idle >= 2)) || ((SECONDS - t0 >= BENCH_QUIET_WAIT)); then
			break
		fi
	done
	((SECONDS - t0 >= BENCH_QUIET_WAIT)) && log "quiet gate: gave up after ${BENCH_QUIET_WAIT}s (load1 $load, busy $busy)"
	echo "$load $busy"
}

workload_args() { # name -> "rw bs qd"
	case $1 in
	randread-4k-qd1) echo "randread 4096 1" ;;
	randread-4k-qd32) echo "randread 4096 32" ;;
	randwrite-4k-qd1) echo "randwrite 4096 1" ;;
	randwrite-4k-qd32) echo "randwrite 4096 32" ;;
	read-1m-qd8) echo "read 1048576 8" ;;
	write-1m-qd8) echo "write 1048576 8" ;;
	*) die "unknown workload $1" ;;
	esac
}

media_dir() { [[ $1 == shm ]] && echo "$BENCH_SHM_DIR" || echo "$BENCH_DISK_DIR"; }

# A fully written (not sparse) 1 GiB file, path left in BACKING. Not called in
# $(...): FILES must be updated in this shell, for cleanup. On disk it is
# written with O_DIRECT, so the page cache holds none of it afterwards.
BACKING=
make_backing() { # media name
	BACKING=$(media_dir "$1")/clusterd-bench-$STAMP-$2.img
	FILES+=("$BACKING")
	if [[ $1 == disk ]]; then
		dd if=/dev/zero of="$BACKING" bs=1M count=$SIZE_MB oflag=direct conv=fsync status=none
	else
		dd if=/dev/zero of="$BACKING" bs=1M count=$SIZE_MB status=none
	fi
}

target_pid() { # target media
	case $1 in
	ours) echo "${PID[ours-$2]}" ;;
	*) echo "${PID[tgtd]}" ;;
	esac
}

CSV_HEAD="run_id,utc,media,target,workload,round,rc,load1,busy_before,rw,bs,qd,fua,range,window_s,ios,errors,iops,mib_s,lat_mean_us,lat_p50_us,lat_p99_us,lat_p999_us,lat_max_us,client_user_s,client_sys_s,target_cpu_s,sys_busy_cpu_s"
CSV_EMPTY=",,,,,,,,,,,,,,,,,,"

# ---- targets -------------------------------------------------------------------

start_ours() { # media
	local m=$1 role=ours-$1 port path lg iqn
	port=${PORT[$role]}
	make_backing "$m" ours
	path=$BACKING
	iqn=$IQN_BASE:ours-$m
	lg=$LOGDIR/$role.log
	port_free "$port" || die "port $port is in use"
	# shellcheck disable=SC2086 # CLUSTERD_ARGS is a word list on purpose
	"$CLUSTERD" --standalone --iqn "$iqn" --portal "$ADDR:$port" \
		--lun "$path,size=1G" $CLUSTERD_ARGS 2>"$lg" >&2 &
	PID[$role]=$!
	wait_listen "$role" "${PID[$role]}" "$port" "$lg"
	URL["ours $m"]="iscsi://$ADDR:$port/$iqn/$OURS_LUN"
	log "ours on $m: pid ${PID[$role]}, ${URL["ours $m"]}"
}

start_tgtd() {
	local port=${PORT[tgtd]} lg=$LOGDIR/tgtd.log
	port_free "$port" || die "port $port is in use"
	export TGT_IPC_SOCKET=$WORK/tgtd-socket # private management socket
	tgtd -f --iscsi "portal=$ADDR:$port" >"$lg" 2>&1 &
	PID[tgtd]=$!
	wait_listen tgtd "${PID[tgtd]}" "$port" "$lg"
	log "tgtd: pid ${PID[tgtd]}, $ADDR:$port"
}

tgt_set_keys() { # tid keys...
	local tid=$1 kv
	shift
	for kv in "$@"; do
		tgtadm --lld iscsi --mode target --op update --tid "$tid" \
			--name "${kv%%=*}" --value "${kv#*=}" >/dev/null ||
			die "tgtadm cannot set ${kv} on tid $tid"
	done
}

add_tgt_target() { # tid target media path
	local tid=$1 t=$2 m=$3 path=$4 iqn bstype
	iqn=$IQN_BASE:$t-$m
	[[ $m == shm ]] && bstype=$TGT_BSTYPE_SHM || bstype=$TGT_BSTYPE_DISK
	tgtadm --lld iscsi --mode target --op new --tid "$tid" --targetname "$iqn" >/dev/null
	TGT_TIDS[$t-$m]=$tid
	tgtadm --lld iscsi --mode logicalunit --op new --tid "$tid" --lun 1 \
		-b "$path" --bstype "$bstype" >/dev/null
	tgtadm --lld iscsi --mode target --op bind --tid "$tid" --initiator-address "$ADDR" >/dev/null
	URL["$t $m"]="iscsi://$ADDR:${PORT[tgtd]}/$iqn/1"
	log "$t on $m: tid $tid, bstype $bstype, ${URL["$t $m"]}"
}

# The keys for tgt-eq: what ours answered at login, else what libiscsi offers.
# MaxXmitDataSegmentLength is tgt's own cap on the Data-In it sends.
eq_keys() { # media
	local k v out=() reply="" want
	[[ -n ${URL["ours $1"]:-} ]] && reply=$("$BENCH_BIN" --keys-only "${URL["ours $1"]}" 2>/dev/null || true)
	for want in InitialR2T=No ImmediateData=Yes FirstBurstLength=262144 MaxBurstLength=262144 \
		MaxOutstandingR2T=1 MaxRecvDataSegmentLength=262144; do
		k=${want%%=*}
		v=${want#*=}
		if [[ -n $reply ]]; then
			v=$(tr ' ' '\n' <<<"$reply" | sed -n "s/^$k=//p" | head -n1)
			# a key ours did not send takes its RFC 7143 default
			[[ -n $v ]] || case $k in
			MaxRecvDataSegmentLength) v=8192 ;;
			InitialR2T) v=Yes ;;
			ImmediateData) v=Yes ;;
			FirstBurstLength) v=65536 ;;
			MaxBurstLength) v=262144 ;;
			MaxOutstandingR2T) v=1 ;;
			esac
		fi
		out+=("$k=$v")
	done
	out+=("MaxXmitDataSegmentLength=262144")
	echo "${out[@]}"
}

record_keys() { # target media
	local keys
	keys=$("$BENCH_BIN" --keys-only "${URL["$1 $2"]}" 2>>"$LOGDIR/keys.err") ||
		die "cannot log in to $1 on $2 (${URL["$1 $2"]}); see $LOGDIR/keys.err"
	printf '%s\t%s\t%s\n' "$2" "$1" "$keys" >>"$KEYS_TSV"
}

# ---- runs ----------------------------------------------------------------------

run_iscsi() { # media workload target round
	local m=$1 w=$2 t=$3 round=$4 rw bs qd gate pid out rc=0 line
	read -r rw bs qd <<<"$(workload_args "$w")"
	pid=$(target_pid "$t" "$m")
	kill -0 "$pid" 2>/dev/null || die "$t ($m, pid $pid) is gone; see $LOGDIR"
	gate=$(quiet_gate)
	RUN_ID=$((RUN_ID + 1))
	out=$LOGDIR/run-$RUN_ID-$m-$w-$t.out
	run_child "$out" "$out.err" "$BENCH_BIN" --csv --rw "$rw" --bs "$bs" --qd "$qd" \
		--time "$BENCH_RUNTIME" --ramp "$BENCH_RAMP" --seed "$RUN_ID" --target-pid "$pid" \
		"${URL["$t $m"]}" || rc=$?
	line=$(tail -n 1 "$out")
	[[ $(wc -l <"$out") -eq 2 ]] || line=$CSV_EMPTY
	if ((rc != 0)); then
		FAILED_RUNS=$((FAILED_RUNS + 1))
		log "run $RUN_ID FAILED (exit $rc): $m $w $t: $(tail -n 3 "$out.err" | tr '\n' ' ')"
	fi
	echo "$RUN_ID,$(date -u +%FT%TZ),$m,$t,$w,$round,$rc,${gate/ /,},$line" >>"$RESULTS_CSV"
	log "run $RUN_ID: $m $w $t round $round: rc $rc, $(cut -d, -f9,10 <<<"$line" | tr , ' ') IOPS MiB/s (gate: load1/busy ${gate})"
}

# iscsi-perf: random or sequential READ(16)s, fixed in-flight count, no ramp.
run_perf() { # media workload target round
	local m=$1 w=$2 t=$3 round=$4 rw bs qd gate out rc=0 blk iops line rand=()
	read -r rw bs qd <<<"$(workload_args "$w")"
	[[ $rw == randread || $rw == read ]] || return 0
	[[ $rw == randread ]] && rand=(-r)
	blk=$(iscsi-readcapacity16 "${URL["$t $m"]}" 2>/dev/null | sed -n 's/^LOGICAL BLOCK LENGTH IN BYTES:\([0-9]*\).*/\1/p')
	[[ -n $blk ]] || die "iscsi-readcapacity16 failed on ${URL["$t $m"]}"
	gate=$(quiet_gate)
	RUN_ID=$((RUN_ID + 1))
	out=$LOGDIR/run-$RUN_ID-$m-$w-perf-$t.out
	run_child "$out" "$out.err" iscsi-perf -m "$qd" -b $((bs / blk)) -t "$BENCH_RUNTIME" \
		"${rand[@]}" "${URL["$t $m"]}" || rc=$?
	iops=$(tr '\r' '\n' <"$out" | sed -n 's/^ *iops average \([0-9]*\).*/\1/p' | tail -n 1)
	if [[ -z $iops ]] && ((rc == 0)); then rc=1; fi
	line=$CSV_EMPTY
	if ((rc == 0)); then
		line="$rw,$bs,$qd,0,,$BENCH_RUNTIME,,0,$iops,$(awk -v i="$iops" -v b="$bs" 'BEGIN { printf "%.2f", i * b / 1048576 }'),,,,,,,,,"
	else
		FAILED_RUNS=$((FAILED_RUNS + 1))
		log "iscsi-perf run $RUN_ID FAILED (exit $rc): $m $w $t"
	fi
	echo "$RUN_ID,$(date -u +%FT%TZ),$m,iscsi-perf:$t,$w,$round,$rc,${gate/ /,},$line" >>"$RESULTS_CSV"
	log "run $RUN_ID: $m $w iscsi-perf:$t round $round: rc $rc, $iops IOPS"
}

run_fio() { # media workload mode(direct|buffered) round
	local m=$1 w=$2 mode=$3 round=$4 rw bs qd gate out rc=0 direct=1 line
	read -r rw bs qd <<<"$(workload_args "$w")"
	[[ $mode == buffered ]] && direct=0
	gate=$(quiet_gate)
	RUN_ID=$((RUN_ID + 1))
	out=$LOGDIR/run-$RUN_ID-$m-$w-fio-$mode
	run_child "$out.log" "$out.err" /usr/bin/time -f '%U %S %e' -o "$out.time" \
		fio --name=bench --filename="${FIO_FILE[$m]}" --size=${SIZE_MB}M --ioengine=io_uring \
		--direct=$direct --rw="$rw" --bs="$bs" --iodepth="$qd" --norandommap \
		--randseed="$RUN_ID" --time_based --runtime="$BENCH_RUNTIME" --ramp_time="$BENCH_RAMP" \
		--output-format=json --output="$out.json" || rc=$?
	if ((rc == 0)); then
		line=$(python3 - "$out.json" "$out.time" "$rw" "$bs" "$qd" "$BENCH_RAMP" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
rw, bs, qd, ramp = sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
d = j["read"] if "read" in rw else j["write"]
u, s, e = (float(x) for x in open(sys.argv[2]).read().split()[-3:])
win = j["job_runtime"] / 1000.0
p = d["clat_ns"].get("percentile", {})
q = lambda k: p.get(k, 0) / 1000.0
# /usr/bin/time covers fio's whole life (ramp, set-up): scale CPU to the window
f = win / e if e > 0 else 1.0
print(f"{rw},{bs},{qd},0,{1 << 30},{win:.3f},{d['total_ios']},{j['error']},{d['iops']:.1f},"
      f"{d['bw_bytes'] / 1048576:.2f},{d['lat_ns']['mean'] / 1000:.1f},{q('50.000000'):.1f},"
      f"{q('99.000000'):.1f},{q('99.900000'):.1f},{d['lat_ns']['max'] / 1000:.1f},"
      f"{u * f:.3f},{s * f:.3f},,")
EOF
		) || rc=$?
	fi
	((rc == 0)) || {
		line=$CSV_EMPTY
		FAILED_RUNS=$((FAILED_RUNS + 1))
		log "fio run $RUN_ID FAILED: $m $w $mode (see $out.err)"
	}
	echo "$RUN_ID,$(date -u +%FT%TZ),$m,fio-$mode,$w,$round,$rc,${gate/ /,},$line" >>"$RESULTS_CSV"
	log "run $RUN_ID: $m $w fio-$mode: rc $rc, $(cut -d, -f9,10 <<<"$line" | tr , ' ') IOPS MiB/s"
}

# ---- main ----------------------------------------------------------------------

need tgtd "apt-get install tgt"
need tgtadm "apt-get install tgt"
need ss "iproute2"
need python3 "python3"
[[ -x $BENCH_BIN ]] || die "$BENCH_BIN not found: run make first (or set BENCH_BIN)"
if has_target ours; then
	[[ -x $CLUSTERD ]] || die "$CLUSTERD not found: run make, or BENCH_TARGETS='tgt tgt-eq' for tgt only"
fi
if [[ $BENCH_FIO == 1 ]]; then
	need fio "apt-get install fio"
	[[ -x /usr/bin/time ]] || die "missing /usr/bin/time (apt-get install time)"
fi
for m in $BENCH_MEDIA; do
	[[ $m == shm || $m == disk ]] || die "BENCH_MEDIA: unknown media $m"
done
for w in $BENCH_WORKLOADS; do workload_args "$w" >/dev/null; done

mkdir -p "$LOGDIR"
WORK=$(mktemp -d /tmp/clusterd-bench.XXXXXX)
PORT[ours-shm]=$BENCH_PORT
PORT[ours-disk]=$((BENCH_PORT + 1))
PORT[tgtd]=$((BENCH_PORT + 2))
echo "$CSV_HEAD" >"$RESULTS_CSV"

log "targets: $BENCH_TARGETS; media: $BENCH_MEDIA; $BENCH_PAIRS rounds x ${BENCH_RUNTIME}s (+${BENCH_RAMP}s ramp)"
for m in $BENCH_MEDIA; do
	has_target ours && start_ours "$m"
done
if has_target tgt || has_target tgt-eq; then
	start_tgtd
	tid=0
	for m in $BENCH_MEDIA; do
		make_backing "$m" tgt
		path=$BACKING
		for t in tgt tgt-eq; do
			has_target "$t" || continue
			tid=$((tid + 1))
			add_tgt_target "$tid" "$t" "$m" "$path" # tgt and tgt-eq share one file
			if [[ $t == tgt-eq ]]; then
				# shellcheck disable=SC2046 # one word per key
				tgt_set_keys "$tid" $(eq_keys "$m")
			fi
		done
	done
fi
declare -A FIO_FILE=()
if [[ $BENCH_FIO == 1 ]]; then
	for m in $BENCH_MEDIA; do
		make_backing "$m" fio
		FIO_FILE[$m]=$BACKING
	done
fi
for m in $BENCH_MEDIA; do
	for t in $BENCH_TARGETS; do record_keys "$t" "$m"; done
done

for m in $BENCH_MEDIA; do
	for w in $BENCH_WORKLOADS; do
		for ((round = 1; round <= BENCH_PAIRS; round++)); do
			for t in $BENCH_TARGETS; do
				run_iscsi "$m" "$w" "$t" "$round"
				if [[ $BENCH_CROSSCHECK == 1 ]]; then run_perf "$m" "$w" "$t" "$round"; fi
			done
		done
	done
done
if [[ $BENCH_FIO == 1 ]]; then
	for m in $BENCH_MEDIA; do
		modes=direct
		[[ $m == shm ]] && modes="direct buffered"
		for w in $BENCH_WORKLOADS; do
			for ((round = 1; round <= BENCH_FIO_RUNS; round++)); do
				for mode in $modes; do run_fio "$m" "$w" "$mode" "$round"; done
			done
		done
	done
fi

{
	echo "## Benchmark run $STAMP"
	echo
	echo "* host: $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
	echo "* commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (tree modified)')"
	echo "* client: iscsi-bench on libiscsi $(pkg-config --modversion libiscsi 2>/dev/null || echo '?'); tgt $(dpkg-query -W -f '${Version}' tgt 2>/dev/null || echo '?'); $(fio --version 2>/dev/null || echo 'no fio')"
	echo "* targets: $BENCH_TARGETS; media: $BENCH_MEDIA (shm = $BENCH_SHM_DIR tmpfs, disk = $BENCH_DISK_DIR); tgt bstype shm=$TGT_BSTYPE_SHM disk=$TGT_BSTYPE_DISK"
	echo "* $BENCH_PAIRS interleaved rounds per cell, ${BENCH_RUNTIME}s measured after ${BENCH_RAMP}s ramp; quiet gate load1 < $BENCH_QUIET_LOAD or 2 s below $BENCH_QUIET_BUSY busy CPUs (max ${BENCH_QUIET_WAIT}s)"
	echo "* raw data: $RESULTS_CSV; logs: $LOGDIR"
	echo
	python3 "$SUMMARY" "$RESULTS_CSV" "$KEYS_TSV"
} >"$RESULTS_MD"
cat "$RESULTS_MD"
log "results: $RESULTS_MD"
if ((FAILED_RUNS > 0)); then
	die "$FAILED_RUNS run(s) failed"
fi
