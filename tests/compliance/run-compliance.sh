#!/bin/bash
# Compliance run: starts our standalone target on 127.0.0.1 with two portals
# and a 1 GiB LUN on tmpfs, runs libiscsi's `iscsi-test-cu -d -t ALL` with two
# initiator names and the second portal as the multipath URL, prints the
# per-suite summary, and fails when any test fails, when fewer than
# MIN_PASSED pass, or when a test that passes on tgt does not pass here.
# Usage: run-compliance.sh [CLUSTERD_BINARY]   (env: MIN_PASSED, KEEP_LOG=DIR)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
bin=${1:-build/clusterd}
min_passed=${MIN_PASSED:-180}
work=$(mktemp -d /tmp/clusterd-cu.XXXXXX)
img=/dev/shm/clusterd-cu-$$.img
iqn=iqn.2026-01.org.clusterd.test:compliance
p1=$(free_port 23260)
p2=$(free_port $((p1 + 1)))
pid=
cleanup() {
	[ -n "$pid" ] && stop_pid "$pid" 10
	[ -n "${KEEP_LOG:-}" ] && mkdir -p "$KEEP_LOG" && cp "$work"/*.log "$KEEP_LOG"/ 2>/dev/null
	rm -rf "$work" "$img"
}
trap cleanup EXIT

"$bin" --standalone --iqn "$iqn" --portal 127.0.0.1:$p1 --portal 127.0.0.1:$p2 \
	--lun "$img,size=1G" >"$work/target.log" 2>&1 &
pid=$!
if ! wait_port "$p1" 10 || ! wait_port "$p2" 5; then
	echo "compliance: the target did not start; its log:" >&2
	cat "$work/target.log" >&2
	exit 1
fi
echo "compliance: iscsi-test-cu -d -t ALL against $iqn on 127.0.0.1:$p1 and :$p2"
start=$(date +%s)
stdbuf -oL timeout 900 iscsi-test-cu -d -t ALL \
	-i iqn.2026-01.org.clusterd.test:initiator-1 -I iqn.2026-01.org.clusterd.test:initiator-2 \
	"iscsi://127.0.0.1:$p1/$iqn/0" "iscsi://127.0.0.1:$p2/$iqn/0" >"$work/cu.log" 2>&1
echo "compliance: iscsi-test-cu finished in $(( $(date +%s) - start )) s"
python3 "$here/cu-summary.py" "$work/cu.log" --must-pass "$here/tgt-passing.txt" | tee "$work/summary.log"
rc=${PIPESTATUS[0]}
passed=$(sed -n 's/^compliance: \([0-9]*\) passed.*/\1/p' "$work/summary.log")
if [ "${passed:-0}" -lt "$min_passed" ]; then
	echo "compliance: only ${passed:-0} tests passed, at least $min_passed required"
	rc=1
fi
if ! kill -0 "$pid" 2>/dev/null; then
	echo "compliance: the target died during the run; its log:"
	tail -50 "$work/target.log"
	rc=1
else
	stop_pid "$pid" 10
	st=$?
	pid=
	if [ "$st" -ne 0 ]; then
		echo "compliance: the target did not stop cleanly on SIGTERM (exit status $st)"
		tail -20 "$work/target.log"
		rc=1
	fi
fi
skipped=$(sed -n 's/^compliance: [0-9]* passed, [0-9]* failed, \([0-9]*\) skipped/\1/p' "$work/summary.log")
nfailed=$(sed -n 's/^compliance: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$work/summary.log")
# Last line for the make-check tally (a run-level failure counts as one more).
[ "$rc" -ne 0 ] && [ "${nfailed:-0}" -eq 0 ] && nfailed=1
echo "${passed:-0} passed, ${nfailed:-1} failed, ${skipped:-0} skipped"
exit "$rc"
