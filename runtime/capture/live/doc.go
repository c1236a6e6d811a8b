// Package live is the capture.Source for `kubeshark tap`: packets taken
// from the running kernel by bpf/packets instead of read from a file. It
// sits where a capture file sits in the flow (live → runtime/decode →
// runtime/reassembly → dissectors → storage), so live traffic is dissected
// exactly as an imported capture is.
//
// It joins the kernel's chunks into packets, stamps them with wall-clock
// time, drops the second copy of a packet that went from one local socket
// to another (see Dedupe), splits GSO super-packets whose IP length field
// cannot hold their size, and returns capture.ErrIdle at least every
// FlushInterval so the pipeline stores records while capture goes on.
package live
