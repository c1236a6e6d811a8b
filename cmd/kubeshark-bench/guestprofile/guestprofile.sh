#!/bin/sh
# guestprofile.sh DIR [PASSES]: where a C plugin's guest code spends its
# instructions, per wasm function, per record of the plugin benchmark's
# workload (BENCHMARKS.md, issue 13, fifth pass). wazero's compiled code
# has no symbols for valgrind, so the module is translated to C by wasm2c
# (wabt) with explicit bounds checks, every wasm function kept out of line,
# and played by harness.c under callgrind, 1 and PASSES (default 4) passes;
# the difference divided by the records is printed per function (exclusive
# counts). The module is the one `kubeshark plugin build` makes (clang -O2,
# wasm-opt -O2 as clang runs it, then -O3), with its functions' names kept
# through wasm-opt's symbol map. Counts are the C compiler's code for the
# wasm, not wazero's (which runs ~1.5x as many), but the shares compare.
# Built without -msimd128 (the SDK's eight-byte paths): wabt 1.0.32's
# wasm2c output for SIMD does not compile here. CFLAGS adds clang flags.
# Run from the repository root; DIR is e.g. examples/beanstalk.
set -e
DIR=$(cd "$1" && pwd); NAME=$(basename "$DIR"); PASSES=${2:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/guestprofile.XXXXXX")
trap 'rm -rf "$T"' EXIT
go run ./cmd/kubeshark-bench -plugin-workload "$NAME=$T/workload"
# clang runs wasm-opt -O2 itself when it finds it on PATH, dropping the
# names: link without it on PATH, then run the same passes keeping a map.
LLVM=$(dirname "$(readlink -f "$(command -v clang)")")
mkdir "$T/bin"; ln -s "$(command -v wasm-ld)" "$T/bin/wasm-ld"; ln -s "$(command -v wasm-ld)" "$T/bin/wasm-ld-$(clang -dumpversion | cut -d. -f1)"
PATH="$T/bin:$LLVM" "$LLVM/clang" --target=wasm32-wasi -O2 -mbulk-memory -mexec-model=reactor $CFLAGS -o "$T/raw.wasm" -I "$DIR" "$DIR"/*.c
wasm-opt "$T/raw.wasm" -O2 --symbolmap="$T/map" -o "$T/o2.wasm"
wasm-opt "$T/o2.wasm" -O3 -g --strip-dwarf -o "$T/o3.wasm"
# -O3's name section names each function by its index in o2.wasm (imports
# not counted); the map gives that index's source name.
wasm2wat --enable-all "$T/o3.wasm" | python3 -c '
import re, sys
names = dict(l.rstrip("\n").split(":", 1) for l in open(sys.argv[1]))
def name(m):
    n = names.get(str(int(m.group(2)) + int(sys.argv[2])), m.group(2))
    return m.group(1) + "$" + re.sub(r"[^A-Za-z0-9_.]", "_", n)
sys.stdout.write(re.sub(r"(\(func |call )\$(\d+)\b", name, sys.stdin.read()))
' "$T/map" "$(wasm-objdump -x -j Import "$T/o2.wasm" | grep -c ' <- ')" > "$T/guest.wat"
wat2wasm --enable-all --debug-names "$T/guest.wat" -o "$T/guest.wasm"
(cd "$T" && wasm2c -n guest guest.wasm -o guest.c)
sed -i 's/^static \(.*\) w2c_\([A-Za-z0-9_]*\)(Z_guest_instance_t\* instance/static __attribute__((noinline)) \1 w2c_\2(Z_guest_instance_t* instance/' "$T/guest.c"
RT=/usr/share/wabt/wasm2c
clang -O2 -g0 -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -I"$RT" -I"$T" -o "$T/h" "$HERE/harness.c" "$T/guest.c" "$RT/wasm-rt-impl.c" -lm
for p in 1 "$PASSES"; do
	valgrind --tool=callgrind --callgrind-out-file="$T/c$p.out" "$T/h" "$T/workload" "$p" > "$T/o$p" 2>/dev/null
	callgrind_annotate "$T/c$p.out" 2>/dev/null | grep -v '=>' | sed -n 's/^ *\([0-9,]*\) *([^)]*) *\(guest\.c:w2c_\)\{0,1\}\([^ ]*\).*/\1 \3/p' | tr -d , > "$T/a$p"
done
R1=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$T/o1"); RN=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$T/o$PASSES")
echo "instructions per record, $NAME, passes $PASSES minus 1 ($((RN - R1)) records); wasm functions and the rest"
awk -v R=$((RN - R1)) 'NR == FNR { a[$2] = $1; next } { d = ($1 - a[$2]) / R; if (d >= 1) printf "%8.0f  %s\n", d, $2 }' "$T/a1" "$T/a$PASSES" | sort -rn | head -30 | sed "s|???:w2c_||; s|PROGRAM$|all: guest, harness, libc|"
