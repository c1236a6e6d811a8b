#!/bin/bash
# Records real memcached binary-protocol traffic on loopback into
# testdata/sample.pcap (or $1): Debian's memcached with -B binary on
# 127.0.0.1:$PORT (11312 unless set), tcpdump capturing it, and two clients
# that build the 24-byte-header packets with printf and speak through
# bash's /dev/tcp. The first sends its whole batch in one write
# (pipelined, with quiet commands) and reads until quit closes the
# connection; the second ends with quitq, which gets no reply. Needs
# memcached, tcpdump and the right to capture (root or CAP_NET_RAW).
#
# testdata/records.golden holds the records the plugin makes of exactly this
# conversation, so change both together (`make golden`).
set -euo pipefail
out=${1:-testdata/sample.pcap}
port=${PORT:-11312}
user=()
[ "$(id -u)" = 0 ] && user=(-u root) # memcached refuses root without -u
memcached -B binary -l 127.0.0.1 -p "$port" -U 0 "${user[@]}" &
server=$!
dumplog=$(mktemp)
# -B 65536 (KiB): in immediate mode each slot of tcpdump's kernel ring holds
# a whole snap length (256 KiB), so the default 2 MiB ring is 7 packets deep
# and a busy machine overran it, losing packets from the middle of a
# conversation (15-50 of 120 in 3 of 8 runs at load 3).
tcpdump -i lo -U --immediate-mode -B 65536 -w "$out" tcp port "$port" 2>"$dumplog" &
dump=$!
batch=$(mktemp)
trap 'kill $server $dump 2>/dev/null; wait 2>/dev/null || true; rm -f "$batch" "$dumplog"' EXIT
until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.1; done
kill -0 $server 2>/dev/null || { echo "memcached did not start on port $port (in use? PORT= picks another)" >&2; exit 1; }
# tcpdump says "listening on" once it captures; traffic before that is lost.
# --immediate-mode: without it packets wait in the kernel ring for a block
# timeout, and the last ones die with tcpdump when the script ends.
for _ in $(seq 100); do grep -q "listening on" "$dumplog" && break; sleep 0.1; done
grep -q "listening on" "$dumplog" || { echo "tcpdump did not start:" >&2; cat "$dumplog" >&2; exit 1; }

# pkt OPCODE OPAQUE KEY VALUE [EXTRAS-HEX]: one request packet on stdout.
# Header: magic 0x80, opcode, key length, extras length, data type 0,
# vbucket 0, total body length, opaque, CAS 0.
pkt() {
	local op=$1 opaque=$2 key=$3 value=$4 extras=${5:-}
	local hex
	printf -v hex '80%02x%04x%02x000000%08x%08x0000000000000000%s' \
		"$op" "${#key}" $((${#extras} / 2)) $((${#extras} / 2 + ${#key} + ${#value})) "$opaque" "$extras"
	printf "$(sed 's/../\\x&/g' <<<"$hex")"
	printf '%s%s' "$key" "$value"
}
flags5=0000000500000000          # flags 5, expiry 0
by5from10=0000000000000005000000000000000a00000000 # delta 5, initial 10, expiry 0
by20=0000000000000014000000000000000000000000
{
	pkt 0x01 1 user:1 alice "$flags5"      # set
	pkt 0x02 2 user:1 x "$flags5"          # add: the key exists
	pkt 0x00 3 user:1 ''                   # get: a hit
	pkt 0x09 4 nobody ''                   # getq: a miss, no reply
	pkt 0x0d 5 user:1 ''                   # getkq: a hit, a reply
	pkt 0x11 6 quiet hi "$flags5"          # setq: no reply
	pkt 0x00 7 nobody ''                   # get: a miss
	pkt 0x05 8 hits '' "$by5from10"        # increment: creates hits = 10
	pkt 0x05 9 hits '' "$by5from10"        # increment: 15
	pkt 0x05 10 user:1 '' "$by5from10"     # increment a string: an error
	pkt 0x06 11 hits '' "$by20"            # decrement: stops at 0
	pkt 0x0e 12 user:1 ' smith'            # append
	pkt 0x1c 13 user:1 '' 0000003c         # touch, 60 s
	pkt 0x04 14 user:1 ''                  # delete
	pkt 0x14 15 user:1 ''                  # deleteq: not found, so a reply
	pkt 0x0a 16 '' ''                      # noop
	pkt 0x0b 17 '' ''                      # version
	pkt 0x07 18 '' ''                      # quit: a reply, then the server closes
} >"$batch"
exec 3<>/dev/tcp/127.0.0.1/$port
cat "$batch" >&3
cat <&3 >/dev/null
exec 3>&-

{
	pkt 0x00 1 quiet ''                    # get what setq stored
	pkt 0x11 2 later 'x' "$flags5"         # setq
	pkt 0x17 3 '' ''                       # quitq: closes without a reply
} >"$batch"
exec 3<>/dev/tcp/127.0.0.1/$port
cat "$batch" >&3
cat <&3 >/dev/null
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
