# Helpers shared by the functional test scripts (bash). Everything runs on
# 127.0.0.1 and stops only the processes it started, by PID.

# free_port BASE: first TCP port >= BASE that nothing listens on.
free_port() {
	local p=$1
	while ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
	echo "$p"
}

# wait_port PORT [SECONDS]: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 tries=$(( ${2:-10} * 10 ))
	while [ "$tries" -gt 0 ]; do
		if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# stop_pid PID [SECONDS]: SIGTERM, wait, then SIGKILL; returns the exit status.
stop_pid() {
	local pid=$1 tries=$(( ${2:-10} * 10 ))
	kill -TERM "$pid" 2>/dev/null || return 0
	while [ "$tries" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		tries=$((tries - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "process $pid did not stop within ${2:-10}s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}
