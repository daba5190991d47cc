#!/bin/bash
# Real-client check: qemu-img (Debian qemu-utils + qemu-block-extra, libiscsi
# inside) copies a 256 MiB random image into a LUN over iscsi:// and back out;
# the sha256 of what went in and what came out must be equal.
# The LUN lives on disk (/var/tmp) so the O_DIRECT path is the one exercised.
# Usage: qemu-roundtrip.sh [CLUSTERD_BINARY]
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
bin=${1:-build/clusterd}
work=$(mktemp -d /var/tmp/clusterd-qemu.XXXXXX)
iqn=iqn.2026-01.org.clusterd.test:qemu
port=$(free_port 24260)
pid=
cleanup() {
	[ -n "$pid" ] && stop_pid "$pid" 10
	rm -rf "$work"
}
trap cleanup EXIT
command -v qemu-img >/dev/null || { echo "qemu-img missing: install qemu-utils qemu-block-extra"; exit 1; }

head -c 256M /dev/urandom >"$work/in.raw"
"$bin" --standalone --iqn "$iqn" --portal 127.0.0.1:$port --lun "$work/lun.img,size=256M" \
	>"$work/target.log" 2>&1 &
pid=$!
wait_port "$port" 10 || { echo "target did not start:"; cat "$work/target.log"; exit 1; }
url="iscsi://127.0.0.1:$port/$iqn/0"
t0=$(date +%s.%N)
qemu-img convert -n -f raw -O raw "$work/in.raw" "$url" || { echo "qemu-img convert into the LUN failed"; tail "$work/target.log"; exit 1; }
t1=$(date +%s.%N)
qemu-img convert -f raw -O raw "$url" "$work/out.raw" || { echo "qemu-img convert out of the LUN failed"; tail "$work/target.log"; exit 1; }
t2=$(date +%s.%N)
in=$(sha256sum <"$work/in.raw" | cut -d' ' -f1)
out=$(sha256sum <"$work/out.raw" | cut -d' ' -f1)
back=$(sha256sum <"$work/lun.img" | cut -d' ' -f1)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "qemu-img in: %.2f s, out: %.2f s\n", b - a, c - b }'
echo "sha256 source image:     $in"
echo "sha256 read back (iSCSI): $out"
echo "sha256 backing file:     $back"
stop_pid "$pid" 10
st=$?
pid=
if [ "$st" -ne 0 ]; then
	echo "the target did not stop cleanly on SIGTERM (exit status $st); its log:"
	tail -20 "$work/target.log"
	exit 1
fi
echo "target stopped cleanly on SIGTERM (exit 0)"
if [ "$in" = "$out" ] && [ "$in" = "$back" ]; then
	echo "qemu-img round trip: identical"
	exit 0
fi
echo "qemu-img round trip: MISMATCH"
exit 1
