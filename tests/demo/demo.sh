#!/bin/bash
# `make demo-standalone` / `make demo-standalone-down`: a standalone clusterd target on 127.0.0.1
# with a 1 GiB LUN, a libiscsi client logging in, and how to go on from there.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/common.sh
dir=${DEMO_DIR:-/var/tmp/clusterd-demo}
iqn=iqn.2026-01.org.clusterd:demo
pidfile=$dir/clusterd.pid

case "${1:-up}" in
up)
	mkdir -p "$dir"
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		echo "demo: already running (pid $(cat "$pidfile")); 'make demo-standalone-down' stops it"
		exit 0
	fi
	port=$(free_port 3260)
	echo "demo: starting clusterd --standalone on 127.0.0.1:$port with a 1 GiB LUN in $dir/lun0.img"
	build/clusterd --standalone --iqn $iqn --portal 127.0.0.1:$port \
		--lun "$dir/lun0.img,size=1G" >"$dir/clusterd.log" 2>&1 &
	echo $! >"$pidfile"
	echo "$port" >"$dir/port"
	if ! wait_port "$port" 10; then
		echo "demo: clusterd did not come up; its log:"
		cat "$dir/clusterd.log"
		exit 1
	fi
	url="iscsi://127.0.0.1:$port/$iqn/0"
	echo
	echo "\$ iscsi-ls -s iscsi://127.0.0.1:$port"
	iscsi-ls -s "iscsi://127.0.0.1:$port" || exit 1
	echo
	echo "\$ iscsi-inq $url"
	iscsi-inq "$url" || exit 1
	echo
	echo "\$ iscsi-readcapacity16 $url"
	iscsi-readcapacity16 "$url" || exit 1
	cat <<TXT

demo: the target is running (pid $(cat "$pidfile")), log in $dir/clusterd.log
  LUN URL:       $url
  discovery:     iscsi-ls -s iscsi://127.0.0.1:$port
  copy an image: qemu-img convert -n -f raw -O raw disk.raw $url
  compliance:    iscsi-test-cu -d -t ALL $url
  stop it:       make demo-standalone-down  (SIGTERM: sessions are logged out, in-flight I/O completes)
TXT
	;;
down)
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		stop_pid "$(cat "$pidfile")" 10
		echo "demo: clusterd stopped; last lines of its log:"
		tail -4 "$dir/clusterd.log"
	else
		echo "demo: not running"
	fi
	rm -f "$pidfile" "$dir/port"
	echo "demo: the LUN image stays in $dir/lun0.img (rm -r $dir to remove it)"
	;;
*)
	echo "usage: demo.sh up|down" >&2
	exit 2
	;;
esac
