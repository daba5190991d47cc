#!/bin/bash
# Run cluster scenarios one after another and tally them.
#   tests/cluster/run.sh                 the fast set (for make check)
#   CL_LONG=1 tests/cluster/run.sh       fast + long set (for make check-long)
#   tests/cluster/run.sh s01-links.sh    just these
# Each scenario's output goes to $CL_LOG_DIR/NAME.log (default
# build/check-logs/cluster under the repository root). Prints one line per
# scenario and last "N passed, N failed" (the sum of the scenarios'
# assertion tallies; a scenario that dies without a tally counts as one
# failure). Skipped scenarios (exit 77) are reported and fail nothing.
# Exit 0 if nothing failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
FAST=(s00-corosync-basics.sh s10-cluster-up.sh s11-ao-crash.sh s12-rejoin.sh s13-move.sh)
LONG=(s01-links.sh s14-partition.sh s15-fence-fail.sh)

if [ $# -gt 0 ]; then
	scripts=("$@")
elif [ "${CL_LONG:-0}" = 1 ]; then
	scripts=("${FAST[@]}" "${LONG[@]}")
else
	scripts=("${FAST[@]}")
fi
log_dir=${CL_LOG_DIR:-$top/build/check-logs/cluster}
mkdir -p "$log_dir" || exit 1

passed=0
failed=0
skipped=0
for s in "${scripts[@]}"; do
	name=${s##*/}
	path=$s
	[ -e "$path" ] || path=$here/$name
	log=$log_dir/${name%.sh}.log
	t0=${EPOCHREALTIME/./}
	"$path" >"$log" 2>&1
	rc=$?
	secs=$(((${EPOCHREALTIME/./} - t0) / 1000000))
	tally=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1)
	p=${tally% *}
	f=${tally#* }
	[ -n "$tally" ] || { p=0; f=0; }
	case $rc in
	0) verdict=PASS ;;
	77)
		verdict="SKIP ($(grep -m1 '^SKIP' "$log" | sed 's/^SKIP: [^:]*: //'))"
		skipped=$((skipped + 1))
		;;
	*)
		verdict="FAIL (exit $rc, log $log)"
		[ "$f" -gt 0 ] || f=1
		;;
	esac
	passed=$((passed + p))
	failed=$((failed + f))
	printf '  %-28s %-6s %3d passed %3d failed  %3d s\n' "$name" "${verdict%% *}" "$p" "$f" "$secs"
	[ "$verdict" = PASS ] || echo "    ${verdict#* }"
done
[ "$skipped" -gt 0 ] && echo "  ($skipped scenario(s) skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
