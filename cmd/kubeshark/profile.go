package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// startProfiles writes a CPU profile of the whole command to
// $KUBESHARK_CPUPROFILE and heap profiles to $KUBESHARK_MEMPROFILE (at
// the end: what was allocated in all) and $KUBESHARK_MEMPROFILE.peak (what
// was live when the heap was largest), for the benchmark
// (cmd/kubeshark-bench -profile) and for anyone measuring a command as a
// user runs it. Environment variables rather than flags: they are a
// developer's tool, not part of any command's interface. The returned
// function stops and writes them.
func startProfiles() (stop func(), err error) {
	cpu, heap := os.Getenv("KUBESHARK_CPUPROFILE"), os.Getenv("KUBESHARK_MEMPROFILE")
	done := make(chan struct{})
	var peakDone chan struct{}
	if heap != "" {
		peakDone = make(chan struct{})
		go func() {
			defer close(peakDone)
			peakProfile(heap+".peak", done)
		}()
	}
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
		close(done)
		if peakDone != nil {
			<-peakDone
		}
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

// peakProfile writes the heap profile to path whenever the live heap
// after a collection has grown by a tenth over the largest seen, until
// done: the last one written shows what held the peak.
func peakProfile(path string, done <-chan struct{}) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		live := sample[0].Value.Uint64()
		if live < peak+peak/10 {
			continue
		}
		peak = live
		if h, err := os.Create(path); err == nil {
			pprof.Lookup("heap").WriteTo(h, 0)
			h.Close()
		}
	}
}
