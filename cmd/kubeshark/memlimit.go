package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the Go heap's soft limit when GOMEMLIMIT is not
// set. Left alone, the collector lets the heap grow to twice what is live
// before collecting: an import of 100,000 small records, with ~200 MB live
// at its peak (badger's memtables, wazero's decoded modules, batches in
// flight), reached 470 MB of heap and 790 MB resident. With the limit the
// collector runs sooner as the heap nears it (33 collections instead of
// 12), the same import peaks at 580 MB resident, and its CPU time is
// within the noise. It is a soft limit: a command that needs more live
// heap gets it, at the price of more frequent collection, which Go caps
// at about half the CPU. GOMEMLIMIT (e.g. GOMEMLIMIT=1GiB) overrides it.
//
// 224 MiB rather than 256 since built-in modules are no longer read whole
// and a record is two store keys, not three: a million-record import's
// live heap peaks at ~150-200 MB (badger's compaction arenas, the packet
// log's duplicate index, memtables), and 224 took 30 MB off its peak RSS
// (476-478 -> 445-446 MB) at the same CPU in two pairs of runs, as for
// the small import (BENCHMARKS.md); 192 took 35 MB more for ~9% more CPU.
const defaultMemoryLimit = 224 << 20

// setMemoryLimit applies defaultMemoryLimit unless the user chose one.
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
}
