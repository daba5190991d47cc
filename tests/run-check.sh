#!/bin/bash
# `make check`: every test suite, one summary. Runs from the repository root
# after the Makefile has built the binaries.
#   1. unit tests (cmocka), plain build
#   2. the same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. fuzz corpora replayed through every fuzz target (ASan + UBSan)
#   4. functional suites against a running target: bad input, qemu-img round
#      trip, libiscsi compliance (iscsi-test-cu -t ALL)
# Prints each suite's result and a last line "N passed, N failed".
# CHECK_ONLY=unit runs 1-3; CHECK_LONG=1 adds the slow suites.
set -u
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
failures=()
log_dir=build/check-logs
mkdir -p "$log_dir"

tally_cmocka() {
	# tally_cmocka NAME LOGFILE EXIT: counts cmocka's [ PASSED ]/[ FAILED ] lines.
	local name=$1 log=$2 rc=$3 p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or exited badly without a cmocka verdict
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("$name")
	printf '  %-40s %4d passed %4d failed\n' "$name" "$p" "$f"
}

run_units() {
	local dir=$1 label=$2 t name rc
	echo "== unit tests ($label)"
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		timeout 300 "$t" >"$log_dir/$name.$label.log" 2>&1
		rc=$?
		grep -E '^\[  (PASSED|FAILED) |^\[  ERROR' "$log_dir/$name.$label.log" | sed 's/^/    /'
		tally_cmocka "$name ($label)" "$log_dir/$name.$label.log" "$rc"
	done
}

run_one() {
	# run_one NAME COMMAND...: a suite that passes or fails as a whole, unless it
	# prints its own "N passed, N failed" line, which is then added up.
	local name=$1 log rc p f
	shift
	log="$log_dir/$(echo "$name" | tr ' /' '__').log"
	echo "== $name"
	"$@" >"$log" 2>&1
	rc=$?
	sed 's/^/    /' "$log" | tail -40
	p=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p' "$log" | tail -1)
	if [ -z "$p" ]; then
		if [ "$rc" -eq 0 ]; then p=1; f=0; else p=0; f=1; fi
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("$name")
	printf '  %-40s %4d passed %4d failed\n' "$name" "$p" "$f"
}

replay_fuzz() {
	local r name corpus rc=0
	for r in build-asan/fuzz/replay_*; do
		[ -x "$r" ] || continue
		name=${r##*/replay_}
		corpus=tests/fuzz/corpus/$name
		if [ ! -d "$corpus" ]; then
			echo "no corpus for fuzz target $name ($corpus)"
			rc=1
			continue
		fi
		"$r" "$corpus" || rc=1
	done
	return $rc
}

start=$(date +%s)
run_units build plain
run_units build-asan asan+ubsan
run_one "fuzz corpus replay (asan+ubsan)" replay_fuzz
command -v clang-format >/dev/null && run_one "format (clang-format)" make -s check-format
if [ "${CHECK_ONLY:-}" != unit ]; then
	[ -x tests/badinput/run-badinput.sh ] &&
		run_one "bad-input suite" tests/badinput/run-badinput.sh build/clusterd
	[ -x tests/functional/qemu-roundtrip.sh ] &&
		run_one "qemu-img round trip" tests/functional/qemu-roundtrip.sh build/clusterd
	run_one "compliance (iscsi-test-cu -t ALL)" tests/compliance/run-compliance.sh build/clusterd
	[ -x tests/cluster/run.sh ] &&
		run_one "two-node cluster scenarios (namespaces, real corosync)" \
			env CL_PREFIX="ck$$" CL_LONG="${CHECK_LONG:-}" tests/cluster/run.sh
	[ -x tests/corosync/run-cs-adapter.sh ] &&
		run_one "corosync adapter (real corosync in a netns)" tests/corosync/run-cs-adapter.sh \
			build/tools/cs-adapter-probe
	if [ -n "${CHECK_LONG:-}" ] && [ -x build-asan/clusterd ]; then
		# The daemon itself under ASan+UBSan, against the hostile and the
		# compliance clients: any memory error aborts it and fails the suite.
		run_one "bad-input suite (daemon under asan+ubsan)" env BADINPUT_TOOL=build/tools/iscsi-badinput \
			tests/badinput/run-badinput.sh build-asan/clusterd
		run_one "compliance (daemon under asan+ubsan)" tests/compliance/run-compliance.sh \
			build-asan/clusterd
	fi
	if [ -n "${CHECK_LONG:-}" ]; then
		for s in tests/long/*.sh; do
			[ -x "$s" ] && run_one "long: $(basename "$s" .sh)" "$s" build/clusterd
		done
	fi
fi
echo
echo "make check: $(( $(date +%s) - start )) s; logs in $log_dir"
for f in "${failures[@]}"; do
	echo "FAILED: $f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
