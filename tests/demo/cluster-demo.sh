#!/bin/bash
# `make demo` / `make demo-down`: a two-node clusterd cluster on this machine.
# Each node is a network namespace with its own corosync and clusterd, joined
# by two bridged networks (tests/cluster/harness.sh); a third namespace is the
# client. Both nodes serve one LUN (a shared backing file). The demo shows the
# cluster status from both nodes and the client's view of all four paths.
set -u
cd "$(dirname "$0")/../.." || exit 1
export CL_PREFIX=${DEMO_PREFIX:-demo}
export CL_KEEP=1
harness=tests/cluster/harness.sh
conf=/tmp/clusterd-demo-node.conf.in

need_root() {
	if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v corosync >/dev/null; then
		echo "demo: the two-node demo needs root, iproute2 and corosync (./configure --install-deps);"
		echo "      'make demo-standalone' runs a single target without them."
		exit 1
	fi
}

case "${1:-up}" in
up)
	need_root
	sed -e "s|@TOP@|$PWD|g" -e "s|^size = 64M|size = 1G|" tests/cluster/node.conf.in >"$conf"
	"$harness" down >/dev/null 2>&1
	echo "demo: starting two nodes (corosync + clusterd each) in network namespaces $CL_PREFIX-node1, $CL_PREFIX-node2"
	CL_NODE_CONF_IN="$conf" CL_SERVICE='exec "$CL_CLUSTERD" -c "$CL_NODE_CONF"' \
		CL_SERVICE_READY='ss -Hltn | grep -q " $CL_NODE_ADDR_A:$CL_PORT "' \
		"$harness" up || { echo "demo: the cluster did not come up; logs in /tmp/clusterd-cluster-$CL_PREFIX"; exit 1; }
	# Wait for the first decision: both nodes synced with an AO node.
	for _ in $(seq 100); do
		"$harness" exec node1 build/clusterctl status --json 2>/dev/null | grep -q '"ao_node": *[0-9]' && break
		sleep 0.1
	done
	for n in node1 node2; do
		echo
		echo "\$ ip netns exec $CL_PREFIX-$n clusterctl status"
		"$harness" exec "$n" build/clusterctl status
	done
	echo
	echo "\$ ip netns exec $CL_PREFIX-client iscsi-ls -s iscsi://10.201.0.1:3260   # discovery lists all four portals"
	"$harness" exec client iscsi-ls -s iscsi://10.201.0.1:3260
	if [ -x build/tools/iscsi-alua ]; then
		echo
		echo "\$ ip netns exec $CL_PREFIX-client iscsi-alua <the four paths>   # RTPG on every path"
		"$harness" exec client build/tools/iscsi-alua \
			iscsi://10.201.0.1:3260/iqn.2026-01.org.clusterd:cluster/0 \
			iscsi://10.202.0.1:3260/iqn.2026-01.org.clusterd:cluster/0 \
			iscsi://10.201.0.2:3260/iqn.2026-01.org.clusterd:cluster/0 \
			iscsi://10.202.0.2:3260/iqn.2026-01.org.clusterd:cluster/0
	else
		echo
		echo "\$ iscsi-readcapacity16 on a path of each node"
		"$harness" exec client iscsi-readcapacity16 iscsi://10.201.0.1:3260/iqn.2026-01.org.clusterd:cluster/0 | tail -2
		"$harness" exec client iscsi-readcapacity16 iscsi://10.201.0.2:3260/iqn.2026-01.org.clusterd:cluster/0 | tail -2
	fi
	cat <<TXT

demo: the cluster is running (logs in /tmp/clusterd-cluster-$CL_PREFIX).
  status:     ip netns exec $CL_PREFIX-node1 $PWD/build/clusterctl status
  switchover: ip netns exec $CL_PREFIX-node1 $PWD/build/clusterctl move lun0 node2
  crash test: $harness kill node1      (node2 fences node1 with fence_netns and becomes AO)
  a client:   ip netns exec $CL_PREFIX-client iscsi-inq iscsi://10.201.0.1:3260/iqn.2026-01.org.clusterd:cluster/0
  stop it:    make demo-down
TXT
	;;
down)
	"$harness" down
	rm -f "$conf"
	;;
*)
	echo "usage: cluster-demo.sh up|down" >&2
	exit 2
	;;
esac
