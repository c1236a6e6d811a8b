#!/bin/bash
# Records real beanstalkd traffic on loopback into testdata/sample.pcap (or
# $1): Debian's beanstalkd on 127.0.0.1:$PORT (11310 unless set), tcpdump
# capturing it, and two clients speaking the protocol through bash's
# /dev/tcp: a producer that sends its whole batch in one write (pipelined)
# and a worker that asks one command at a time. Needs beanstalkd, tcpdump
# and the right to capture (root or CAP_NET_RAW).
#
# testdata/records.golden holds the records the plugin makes of exactly this
# conversation, so change both together (`make golden`).
set -euo pipefail
out=${1:-testdata/sample.pcap}
port=${PORT:-11310}
beanstalkd -l 127.0.0.1 -p "$port" &
server=$!
dumplog=$(mktemp)
# -B 65536 (KiB): in immediate mode each slot of tcpdump's kernel ring holds
# a whole snap length (256 KiB), so the default 2 MiB ring is 7 packets deep
# and a busy machine overran it, losing packets from the middle of a
# conversation (15-50 of 120 in 3 of 8 runs at load 3).
tcpdump -i lo -U --immediate-mode -B 65536 -w "$out" tcp port "$port" 2>"$dumplog" &
dump=$!
trap 'kill $server $dump 2>/dev/null; wait 2>/dev/null || true; rm -f "$dumplog" "${batch:-}"' EXIT
until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.1; done
kill -0 $server 2>/dev/null || { echo "beanstalkd did not start on port $port (in use? PORT= picks another)" >&2; exit 1; }
# tcpdump says "listening on" once it captures; traffic before that is lost.
# --immediate-mode: without it packets wait in the kernel ring for a block
# timeout, and the last ones die with tcpdump when the script ends.
for _ in $(seq 100); do grep -q "listening on" "$dumplog" && break; sleep 0.1; done
grep -q "listening on" "$dumplog" || { echo "tcpdump did not start:" >&2; cat "$dumplog" >&2; exit 1; }

# The producer: every command in one write, then every reply, up to the
# last one (UNKNOWN_COMMAND, to frobnicate); then it hangs up. (Not with
# quit in the batch: beanstalkd closes at once on quit and drops replies
# it has not sent yet.)
batch=$(mktemp)
printf '%s\r\n' \
	'use emails' \
	'put 0 0 60 11' 'hello world' \
	'put 100 0 60 5' 'hello' \
	'put 0 30 60 7' 'delayed' \
	'list-tube-used' \
	'stats-tube emails' \
	'frobnicate' >"$batch"
exec 3<>/dev/tcp/127.0.0.1/$port
cat "$batch" >&3 # one write: bash's printf would write line by line
while IFS= read -r -u 3 line; do [[ $line == UNKNOWN_COMMAND* ]] && break; done
exec 3>&-

# The worker: one command at a time, reading each reply (and the job body
# RESERVED and FOUND carry).
exec 3<>/dev/tcp/127.0.0.1/$port
ask() {
	printf '%s\r\n' "$1" >&3
	IFS= read -r -u 3 reply
	case $reply in RESERVED* | FOUND* | OK*) IFS= read -r -u 3 _ ;; esac
}
for cmd in 'use emails' 'watch emails' 'ignore default' \
	'reserve-with-timeout 0' 'delete 1' \
	'reserve-with-timeout 0' 'bury 2 0' 'kick 1' 'peek 2' \
	'reserve-with-timeout 0' 'release 2 10 0' 'delete 99' \
	'reserve-with-timeout 0' 'delete 2' \
	'reserve-with-timeout 0'; do
	ask "$cmd"
done
exec 3>&-
# tcpdump writes each packet as it reads it (-U); on a busy machine it can
# lag behind, and what it has not read when it stops is lost. So stop it
# only once the file has not grown for a second, and wait for it to exit.
size=-1 still=0
for _ in $(seq 100); do
	now=$(stat -c %s "$out")
	if [ "$now" = "$size" ]; then still=$((still + 1)); else still=0 size=$now; fi
	[ $still -ge 5 ] && break
	sleep 0.2
done
kill -INT $dump
wait $dump || true
# A capture with a hole would show the plugin a conversation that never
# happened: refuse it, saying why.
dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$dumplog")
if [ "${dropped:-0}" != 0 ]; then
	echo "tcpdump dropped $dropped packets (the machine was too busy): run testdata/capture.sh again" >&2
	exit 1
fi
echo "wrote $out"
