// Package pipeline is the data plane's assembly line: capture source →
// link/IP decode → flow sharding → per-worker TCP/UDP reassembly → protocol
// detection by content → dissector instances (engine) → record sink
// (storage). Beside the dissectors, every segment of a connection feeds its
// flow tracker (runtime/flow), and when the connection closes its sdk.Flow
// goes to the sink too, after the connection's records, if the sink is a
// FlowSink.
//
// Each flow is placed, when first seen, on the least-loaded of one worker
// per CPU and stays there (balance.go); each worker owns its reassembler and one instance of every dissector, so no
// instance is ever called concurrently and a connection's state lives in
// exactly one place. The worker's reassembly.Handler methods are also the
// seam for capture sources that deliver reassembled stream bytes directly
// (eBPF socket tracing), which skip the packet stages: RunPlaintext
// (plaintext.go) feeds TLS plaintext from bpf/tls through them, and the
// packet path then drops what the same connections' encrypted packets
// would record twice.
//
// The dissector set may change while a run goes on (SetDissectors: a
// plugin installed into a running tap): each worker adopts the new set
// when it opens its next stream, and streams already claimed finish with
// their dissector. A stream whose dissector faults goes back to detection
// without it; ties between probes go to built-ins, and a plugin claiming
// what another dissector claims is reported; Config.DecodeAs and
// SetDecodeAs pin ports to a dissector without probing. Among built-ins
// alone, a probe whose bound (engine.ProbeBounder, a prefilter) cannot
// beat a claim already made is not asked, so its module is not compiled.
package pipeline
