#!/bin/bash
# Records real memcached traffic on loopback into testdata/sample.pcap (or
# $1): Debian's memcached on 127.0.0.1:$PORT (11311 unless set), tcpdump
# capturing it, and two clients speaking the text protocol through bash's
# /dev/tcp: one sends a whole batch of commands in one write (pipelined) and
# reads every reply, the other asks one command at a time. Needs memcached,
# tcpdump and the right to capture (root or CAP_NET_RAW).
#
# testdata/records.golden holds the records the plugin makes of exactly this
# conversation, so change both together (`make golden`).
set -euo pipefail
out=${1:-testdata/sample.pcap}
port=${PORT:-11311}
user=()
[ "$(id -u)" = 0 ] && user=(-u root) # memcached refuses root without -u
memcached -l 127.0.0.1 -p "$port" -U 0 "${user[@]}" &
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
kill -0 $server 2>/dev/null || { echo "memcached did not start on port $port (in use? PORT= picks another)" >&2; exit 1; }
# tcpdump says "listening on" once it captures; traffic before that is lost.
# --immediate-mode: without it packets wait in the kernel ring for a block
# timeout, and the last ones die with tcpdump when the script ends.
for _ in $(seq 100); do grep -q "listening on" "$dumplog" && break; sleep 0.1; done
grep -q "listening on" "$dumplog" || { echo "tcpdump did not start:" >&2; cat "$dumplog" >&2; exit 1; }

# Pipelined: every command in one write, then every reply. quit makes the
# server close the connection, so cat ends when the replies do.
exec 3<>/dev/tcp/127.0.0.1/$port
batch=$(mktemp)
printf '%s\r\n' \
	'set user:1 0 0 5' 'alice' \
	'set user:2 42 3600 3' 'bob' \
	'add user:1 0 0 1' 'x' \
	'get user:1 user:2 user:3' \
	'gets user:2' \
	'get nobody' \
	'set hits 0 0 1' '0' \
	'incr hits 5' \
	'decr hits 2' \
	'incr nobody 1' \
	'incr user:1 1' \
	'append user:1 0 0 6' ' smith' \
	'touch user:2 60' \
	'delete user:2' \
	'delete user:2' \
	'set quiet 0 0 2 noreply' 'hi' \
	'bogus command' \
	'version' \
	'quit' >"$batch"
cat "$batch" >&3 # one write: bash's printf would write line by line
cat <&3 >/dev/null
exec 3>&-

# One at a time, as most clients do.
exec 3<>/dev/tcp/127.0.0.1/$port
for cmd in 'get user:1' 'get quiet' 'flush_all' 'get user:1'; do
	printf '%s\r\n' "$cmd" >&3
	while IFS= read -r -u 3 line; do
		case $line in END* | OK* | ERROR* | *_ERROR*) break ;; esac
	done
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
