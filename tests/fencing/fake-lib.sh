# Shared by the fake fence agents in this folder (sourced, POSIX sh).
# Reads the fence-agents stdin protocol: "name=value" lines until EOF, '#'
# comments, last value wins, unknown names ignored. Sets opt_<name> for the
# names the fakes know. Every fake appends what it received to $opt_record
# (when given) as "--- <pid>" followed by the raw lines, so tests can check
# the exact text clusterd wrote.
opt_action= opt_plug= opt_port= opt_state= opt_record= opt_pidfile= opt_delay= opt_rc=
opt_counter= opt_fail_times= opt_bytes=
fake_raw=
while IFS= read -r line || [ -n "$line" ]; do
	fake_raw="$fake_raw$line
"
	case $line in
	'#'* | '') continue ;;
	esac
	val=${line#*=}
	case ${line%%=*} in
	action | option) opt_action=$val ;;
	plug) opt_plug=$val ;;
	port) opt_port=$val ;;
	state) opt_state=$val ;;
	record) opt_record=$val ;;
	pidfile) opt_pidfile=$val ;;
	delay) opt_delay=$val ;;
	rc) opt_rc=$val ;;
	counter) opt_counter=$val ;;
	fail_times) opt_fail_times=$val ;;
	bytes) opt_bytes=$val ;;
	esac
done
if [ -n "$opt_record" ]; then
	printf -- '--- %s\n%s' "$$" "$fake_raw" >>"$opt_record"
fi

# fake_power ACTION: a well-behaved agent's answer, with the power state kept
# in $opt_state (a missing file means off, so "exit 2 on status" is the default).
fake_power() {
	case $1 in
	off)
		[ -n "$opt_state" ] && echo off >"$opt_state"
		echo "Success: Powered OFF"
		exit 0
		;;
	on)
		[ -n "$opt_state" ] && echo on >"$opt_state"
		echo "Success: Powered ON"
		exit 0
		;;
	reboot)
		[ -n "$opt_state" ] && echo on >"$opt_state"
		echo "Success: Rebooted"
		exit 0
		;;
	status)
		if [ -n "$opt_state" ] && [ "$(cat "$opt_state" 2>/dev/null)" = on ]; then
			echo "Status: ON"
			exit 0
		fi
		echo "Status: OFF"
		exit 2
		;;
	monitor)
		exit 0
		;;
	metadata)
		echo '<?xml version="1.0" ?>'
		echo '<resource-agent name="fence_fake" shortdesc="test double"><parameters/><actions><action name="off"/></actions></resource-agent>'
		exit 0
		;;
	*)
		echo "Failed: unknown action $1" >&2
		exit 1
		;;
	esac
}
