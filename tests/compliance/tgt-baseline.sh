#!/bin/bash
# Runs libiscsi's iscsi-test-cu -t ALL against Debian's tgtd (rdwr backing store
# on tmpfs, two portals) and writes the list of tests that pass there, which
# run-compliance.sh requires of us too. Usage: tgt-baseline.sh OUT_LIST
# Uses only 127.0.0.1; stops the tgtd it started (by PID) on exit.
set -u
out=${1:?usage: tgt-baseline.sh OUT_LIST}
work=$(mktemp -d /tmp/clusterd-tgt.XXXXXX)
img=/dev/shm/clusterd-tgt-$$.img
port1=${TGT_PORT1:-13290}
port2=${TGT_PORT2:-13291}
iqn=iqn.2026-01.org.clusterd.test:tgt-baseline
export TGT_IPC_SOCKET=$work/tgtd.sock
pid=
cleanup() {
	if [ -n "$pid" ]; then
		# tgtd ignores SIGTERM while targets exist: delete them first.
		tgtadm --lld iscsi --mode target --op delete --force --tid 1 >/dev/null 2>&1
		kill "$pid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -rf "$work" "$img"
}
trap cleanup EXIT
truncate -s 1G "$img"
tgtd -f --iscsi portal=127.0.0.1:$port1 >"$work/tgtd.log" 2>&1 &
pid=$!
for _ in $(seq 50); do tgtadm --lld iscsi --mode sys --op show >/dev/null 2>&1 && break; sleep 0.1; done
tgtadm --lld iscsi --mode target --op new --tid 1 --targetname $iqn
tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 -b "$img" --bstype rdwr
tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address 127.0.0.1
tgtadm --lld iscsi --mode portal --op new --param portal=127.0.0.1:$port2
stdbuf -oL iscsi-test-cu -d -t ALL iscsi://127.0.0.1:$port1/$iqn/1 iscsi://127.0.0.1:$port2/$iqn/1 \
	>"$work/cu.log" 2>&1
python3 "$(dirname "$0")/cu-summary.py" "$work/cu.log" --list "$work/list.txt"
{
	echo "# Tests that pass on tgt $(dpkg-query -W -f='${Version}' tgt 2>/dev/null) (rdwr on tmpfs, 2 portals),"
	echo "# libiscsi $(dpkg-query -W -f='${Version}' libiscsi-bin 2>/dev/null); written by tests/compliance/tgt-baseline.sh"
	awk '$2 == "passed" {print $1}' "$work/list.txt"
} >"$out"
echo "wrote $(grep -vc '^#' "$out") test names to $out"
