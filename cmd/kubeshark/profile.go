package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes a CPU profile of the whole command to
// $KUBESHARK_CPUPROFILE and a heap profile at its end to
// $KUBESHARK_MEMPROFILE, for the benchmark (cmd/kubeshark-bench -profile)
// and for anyone measuring a command as a user runs it. Environment
// variables rather than flags: they are a developer's tool, not part of
// any command's interface. The returned function stops and writes them.
func startProfiles() (stop func(), err error) {
	cpu, heap := os.Getenv("KUBESHARK_CPUPROFILE"), os.Getenv("KUBESHARK_MEMPROFILE")
	var f *os.File
	if cpu != "" {
		if f, err = os.Create(cpu); err != nil {
			return nil, fmt.Errorf("KUBESHARK_CPUPROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("KUBESHARK_CPUPROFILE: %w", err)
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		if heap == "" {
			return
		}
		h, err := os.Create(heap)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubeshark: KUBESHARK_MEMPROFILE:", err)
			return
		}
		defer h.Close()
		runtime.GC()
		// alloc_space in this profile is what the command allocated in
		// all; inuse_space what was live at its end.
		pprof.Lookup("allocs").WriteTo(h, 0)
	}, nil
}
