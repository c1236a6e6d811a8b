#!/bin/sh
# jitprofile.sh DIR [FUNCTION...]: wazero's own machine code for an example
# plugin's guest, counted per wasm function and, for the FUNCTIONs named,
# per machine instruction, in executions per record of the plugin
# benchmark's workload (BENCHMARKS.md, issue 13, sixth pass). guestprofile.sh
# counts clang's code for the same wasm; this counts what wazero runs.
#
# The benchmark is built with wazero's perfmap tag (every compiled
# function's and block's address goes to /tmp/perf-PID.map) and its
# -plugin-child is run under callgrind --dump-instr=yes with 1 and 4
# passes of the workload, into an empty compilation cache, whose file
# (WAZEVO header, function offsets, machine code) gives each function's
# code to disassemble. GODEBUG=asyncpreemptoff=1: callgrind asserts on Go's
# preemption signals. A C plugin is built as `kubeshark plugin build` does
# (clang -O2 ... -msimd128, wasm-opt -O2 then -O3; CFLAGS adds flags), with
# its function names kept through wasm-opt's symbol map; a Rust plugin by
# `kubeshark plugin build`, whose name section has them. Run from the
# repository root; DIR is e.g. examples/beanstalk. Prints the functions
# (instructions a record, code size), then each FUNCTION's listing:
# executions a record, offset, instruction.
set -e
DIR=$(cd "$1" && pwd); NAME=$(basename "$DIR"); shift
T=$(mktemp -d "${TMPDIR:-/tmp}/jitprofile.XXXXXX")
trap 'rm -rf "$T"' EXIT
go build -tags perfmap -o "$T/bench" ./cmd/kubeshark-bench
if ls "$DIR"/*.c >/dev/null 2>&1; then
	LLVM=$(dirname "$(readlink -f "$(command -v clang)")")
	mkdir "$T/bin"; ln -s "$(command -v wasm-ld)" "$T/bin/wasm-ld"; ln -s "$(command -v wasm-ld)" "$T/bin/wasm-ld-$(clang -dumpversion | cut -d. -f1)"
	PATH="$T/bin:$LLVM" "$LLVM/clang" --target=wasm32-wasi -O2 -mbulk-memory -msimd128 -mexec-model=reactor $CFLAGS -o "$T/raw.wasm" -I "$DIR" "$DIR"/*.c
	wasm-opt "$T/raw.wasm" -O2 --symbolmap="$T/map" -o "$T/o2.wasm"
	wasm-opt "$T/o2.wasm" -O3 -g --strip-dwarf -o "$T/guest.wasm"
	IMPORTS=$(wasm-objdump -x -j Import "$T/o2.wasm" | grep -c ' <- ' || true)
else
	cp -r "$DIR" "$T/$NAME"; rm -rf "$T/$NAME/target" "$T/$NAME"/*.wasm
	go run ./cmd/kubeshark plugin build "$T/$NAME" >/dev/null
	mv "$T/$NAME/$NAME.wasm" "$T/guest.wasm"; touch "$T/map"
	IMPORTS=$(wasm-objdump -x -j Import "$T/guest.wasm" | grep -c ' <- ' || true)
fi
# names: defined function index -> name (the -O3 name section names a C
# function by its index in o2.wasm, which the symbol map resolves).
wasm-objdump -x -j name "$T/guest.wasm" 2>/dev/null | sed -n 's/.*func\[\([0-9]*\)\] <\([^>]*\)>.*/\1 \2/p' > "$T/rawnames"
for p in 1 4; do
	mkdir "$T/cache$p"
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$T/cg$p" \
		"$T/bench" -plugin-child "$NAME=$T/guest.wasm" -child-cache "$T/cache$p" -child-passes $p > "$T/out$p" 2>/dev/null &
	pid=$!; wait $pid
	mv "/tmp/perf-$pid.map" "$T/perf$p.map"
done
python3 - "$T" "$IMPORTS" "$NAME" "$@" <<'PY'
import sys, re, struct, subprocess, collections, glob, os
T, imports, name, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
symmap = dict(l.rstrip('\n').split(':', 1) for l in open(T + '/map') if ':' in l)
names = {}
for l in open(T + '/rawnames'):
    i, n = l.split(None, 1); i = int(i); n = n.strip()
    if i >= imports:
        names[i - imports] = symmap.get(str(int(n) + imports), n) if n.isdigit() else n
def records(p):
    return int(re.search(r'records=(\d+)', open('%s/out%d' % (T, p)).read()).group(1))
def counts(p):
    # Exclusive instruction counts per address (callgrind's compressed
    # positions; a call's inclusive cost line is skipped).
    cnt = collections.Counter(); pos = [0, 0]; skip = False
    for l in open('%s/cg%d' % (T, p)):
        if not l or l[0] not in '0123456789+-*c': continue
        if l.startswith('calls='): skip = True; continue
        if l[0] == 'c': continue
        t = l.split()
        if len(t) < 3: continue
        for k in (0, 1):
            pos[k] = pos[k] if t[k] == '*' else pos[k] + int(t[k]) if t[k][0] in '+-' else int(t[k], 0)
        if skip: skip = False; continue
        cnt[pos[0]] += int(t[2])
    starts = {}
    for l in open('%s/perf%d.map' % (T, p)):
        a, s, n = l.rstrip('\n').split(' ', 2)
        m = re.match(r'\[(\d+)/\d+\].*:L0$', n)
        if m: starts[int(m.group(1))] = int(a, 16)
    f = glob.glob('%s/cache%d/*/wazero-*/*' % (T, p))[0]
    b = open(f, 'rb').read(); o = 7 + b[6]
    n, = struct.unpack_from('<I', b, o); o += 4
    offs = list(struct.unpack_from('<%dQ' % n, b, o)); o += 8 * n
    el, = struct.unpack_from('<Q', b, o); o += 8
    exe = b[o:o + el]
    ends = offs[1:] + [el]
    per = {}
    for i in range(n):
        base = starts.get(i)
        per[i] = {off: cnt.get(base + off, 0) for off in range(ends[i] - offs[i])} if base is not None else {}
    return per, exe, offs, ends
p1, _, _, _ = counts(1)
p4, exe, offs, ends = counts(4)
R = records(4) - records(1)
open(T + '/exe.bin', 'wb').write(exe)
rows = []
for i in p4:
    d = sum(p4[i].values()) - sum(p1.get(i, {}).values())
    rows.append((d / R, names.get(i, str(i)), ends[i] - offs[i], i))
rows.sort(reverse=True)
print('wazero machine instructions per record, %s (%d records, 4 passes minus 1)' % (name, R))
print('%8.0f  all wasm functions' % sum(r[0] for r in rows))
for r in rows:
    if r[0] >= 1: print('%8.0f  %s (%d bytes of code)' % (r[0], r[1], r[2]))
for r in rows:
    if r[1] not in want: continue
    i = r[3]
    print('\n== %s: executions a record, offset, instruction' % r[1])
    dis = subprocess.run(['objdump', '-D', '-b', 'binary', '-m', 'i386:x86-64', '-M', 'intel',
                          '--start-address=%d' % offs[i], '--stop-address=%d' % ends[i], T + '/exe.bin'],
                         capture_output=True, text=True).stdout.splitlines()
    for l in dis:
        m = re.match(r'\s*([0-9a-f]+):\s*(?:[0-9a-f]{2} )+\s*(.*)', l)
        if not m: continue
        off = int(m.group(1), 16) - offs[i]
        c = (p4[i].get(off, 0) - p1.get(i, {}).get(off, 0)) / R
        print('%8.2f  %5x  %s' % (c, off, m.group(2).strip()))
PY
