package main

import (
	"strings"
	"testing"
)

// Samples as `perf script -F ip,sym,dso` prints them (abridged from a
// profile of the beanstalk example).
const perfSamples = `	    7f138c8990cc [unknown] (/tmp/perf-30881.map)
	    7f138c89e761 [unknown] (/tmp/perf-30881.map)
	    7f13d5e0227c [unknown] (/tmp/perf-30881.map)

	           93048 runtime.memmove+0x20 (/tmp/kubeshark-bench)
	    7f13d5e0227c [unknown] (/tmp/perf-30881.map)

	           9309e runtime.memmove+0x4e (/tmp/kubeshark-bench)
	          415e99 github.com/kubeshark-wasm/kubeshark/runtime/wasm.(*instance).write+0x39 (/tmp/kubeshark-bench)
	          415f00 github.com/kubeshark-wasm/kubeshark/runtime/wasm.(*instance).Feed+0x80 (/tmp/kubeshark-bench)

	          1ed4ef github.com/kubeshark-wasm/kubeshark/sdk.(*fieldsDecoder).skipStr+0x2f (/tmp/kubeshark-bench)
	          1ed500 github.com/kubeshark-wasm/kubeshark/sdk.checkFields+0x10 (/tmp/kubeshark-bench)
	          1ed600 github.com/kubeshark-wasm/kubeshark/runtime/wasm.hostEmit+0x10 (/tmp/kubeshark-bench)
	          1ed700 github.com/tetratelabs/wazero/internal/engine/wazevo.(*callEngine).callWithStack+0x10 (/tmp/kubeshark-bench)

	          1ed800 github.com/tetratelabs/wazero/internal/engine/wazevo.(*callEngine).callWithStack+0x99 (/tmp/kubeshark-bench)
	          1ed900 github.com/kubeshark-wasm/kubeshark/runtime/wasm.(*instance).invoke+0x10 (/tmp/kubeshark-bench)

	          1eda00 runtime.scanObject+0x10 (/tmp/kubeshark-bench)
	          1edb00 runtime.gcBgMarkWorker+0x10 (/tmp/kubeshark-bench)

	          1edc00 github.com/kubeshark-wasm/kubeshark/dissectors/workload.Feed+0x10 (/tmp/kubeshark-bench)

	ffffffff81000c82 asm_exc_page_fault+0x22 ([kernel.kallsyms])
`

func TestSplitPerf(t *testing.T) {
	counts, total, err := splitPerf(strings.NewReader(perfSamples))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"guest": 2, "copyin": 1, "decode": 1, "calls": 1, "gc": 1, "pipeline": 1, "other": 1}
	if total != 8 {
		t.Errorf("total %d samples, want 8", total)
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("bucket %s: %d samples, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
	for k := range counts {
		known := false
		for _, b := range splitBuckets {
			known = known || b.key == k
		}
		if !known {
			t.Errorf("bucket %q is not printed", k)
		}
	}
}
