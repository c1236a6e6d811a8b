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
const defaultMemoryLimit = 256 << 20

// setMemoryLimit applies defaultMemoryLimit unless the user chose one.
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
}
