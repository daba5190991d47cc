#!/bin/bash
# Bad-input suite: starts two standalone targets on free 127.0.0.1 ports
#   A: no authentication, an allow list, a short login timeout (hostile input,
#      the healthy session, slowloris, connect cycles, log checks)
#   B: CHAP and a small session limit (failed CHAP, too many sessions)
# runs build/tools/iscsi-badinput against them, then checks that both targets
# are still alive and stop cleanly on SIGTERM (exit 0). The last line is
# "N passed, N failed" (the tool's cases plus these checks).
# Usage: run-badinput.sh [CLUSTERD_BINARY]
#   env: BADINPUT_TOOL (default: tools/iscsi-badinput beside the binary),
#        BADINPUT_ARGS (extra tool options, e.g. "--only snack,tmf-unknown-task"),
#        KEEP_LOG=DIR (keep the target logs)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
bin=${1:-build/clusterd}
tool=${BADINPUT_TOOL:-$(dirname "$bin")/tools/iscsi-badinput}
work=$(mktemp -d /tmp/clusterd-badinput.XXXXXX)
img_a=/dev/shm/clusterd-badinput-a-$$.img
img_b=/dev/shm/clusterd-badinput-b-$$.img
iqn_a=iqn.2026-01.org.clusterd.test:badinput
iqn_b=iqn.2026-01.org.clusterd.test:badinput-chap
init=iqn.2026-01.org.clusterd.test:badinput-initiator
healthy=iqn.2026-01.org.clusterd.test:badinput-healthy
denied=iqn.2026-01.org.clusterd.test:badinput-intruder
chap_user=badinput
chap_secret=badinput-secret-0123
max_sessions=3
login_timeout_ms=2000
pid_a=
pid_b=
passed=0
failed=0

cleanup() {
	[ -n "$pid_a" ] && kill -0 "$pid_a" 2>/dev/null && stop_pid "$pid_a" 5 >/dev/null 2>&1
	[ -n "$pid_b" ] && kill -0 "$pid_b" 2>/dev/null && stop_pid "$pid_b" 5 >/dev/null 2>&1
	[ -n "${KEEP_LOG:-}" ] && mkdir -p "$KEEP_LOG" && cp "$work"/*.log "$KEEP_LOG"/ 2>/dev/null
	rm -rf "$work" "$img_a" "$img_b"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

check() {
	# check NAME VERDICT(0 ok) WHAT
	if [ "$2" -eq 0 ]; then
		echo "PASS $1: $3"
		passed=$((passed + 1))
	else
		echo "FAIL $1: $3"
		failed=$((failed + 1))
	fi
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

if [ ! -x "$bin" ] || [ ! -x "$tool" ]; then
	echo "badinput: need $bin and $tool (make all)" >&2
	check build 1 "binaries missing"
	finish
fi

port_a=$(free_port 24260)
port_b=$(free_port $((port_a + 1)))
"$bin" --standalone --iqn "$iqn_a" --portal "127.0.0.1:$port_a" --lun "$img_a,size=64M" \
	--allow "$init" --allow "$healthy" --login-timeout "$login_timeout_ms" \
	>"$work/target-a.log" 2>&1 &
pid_a=$!
"$bin" --standalone --iqn "$iqn_b" --portal "127.0.0.1:$port_b" --lun "$img_b,size=16M" \
	--chap "$chap_user:$chap_secret" --max-sessions "$max_sessions" \
	>"$work/target-b.log" 2>&1 &
pid_b=$!
if ! wait_port "$port_a" 10 || ! wait_port "$port_b" 10; then
	echo "badinput: a target did not start; logs:"
	tail -20 "$work/target-a.log" "$work/target-b.log"
	check start 1 "targets did not start"
	finish
fi

echo "badinput: target A $iqn_a on 127.0.0.1:$port_a (pid $pid_a)," \
	"target B (CHAP) on 127.0.0.1:$port_b (pid $pid_b)"
timeout 110 "$tool" --portal "127.0.0.1:$port_a" --iqn "$iqn_a" --pid "$pid_a" \
	--log "$work/target-a.log" --initiator "$init" --healthy "$healthy" --denied "$denied" \
	--login-timeout-ms "$login_timeout_ms" \
	--chap-portal "127.0.0.1:$port_b" --chap-iqn "$iqn_b" --chap-user "$chap_user" \
	--chap-secret "$chap_secret" --max-sessions "$max_sessions" ${BADINPUT_ARGS:-} \
	>"$work/tool.out" 2>&1
tool_rc=$?
# Everything but the tool's own total line; its counts are added to ours.
grep -v '^[0-9]* passed, [0-9]* failed$' "$work/tool.out"
tp=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1/p' "$work/tool.out" | tail -1)
tf=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\2/p' "$work/tool.out" | tail -1)
if [ -z "$tp" ]; then
	check iscsi-badinput 1 "the tool ended without a summary (exit $tool_rc)"
else
	passed=$((passed + tp))
	failed=$((failed + tf))
	if [ "$tool_rc" -ne 0 ] && [ "$tf" -eq 0 ]; then
		check iscsi-badinput 1 "the tool exited $tool_rc"
	fi
fi

for t in a b; do
	eval "pid=\$pid_$t"
	if kill -0 "$pid" 2>/dev/null; then
		check "target-$t-alive" 0 "target $t still running after the suite"
	else
		wait "$pid"
		check "target-$t-alive" 1 "target $t died (exit $?); last log lines:"
		tail -20 "$work/target-$t.log" | sed 's/^/    /'
		eval "pid_$t="
		continue
	fi
	start=$(date +%s%N)
	kill -TERM "$pid"
	rc=
	for _ in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			rc=$?
			break
		fi
		sleep 0.1
	done
	ms=$((($(date +%s%N) - start) / 1000000))
	if [ -z "$rc" ]; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		check "target-$t-sigterm" 1 "target $t still running 10 s after SIGTERM"
	else
		check "target-$t-sigterm" "$rc" "target $t exited $rc ${ms} ms after SIGTERM (want 0)"
	fi
	eval "pid_$t="
done
lines=$(wc -l <"$work/target-a.log")
echo "badinput: target A log: $lines lines"
finish
