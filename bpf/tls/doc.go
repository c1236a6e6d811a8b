// Package tls captures the plaintext of TLS connections from the kernel
// without kprobes: uprobes on OpenSSL's SSL_read/SSL_write (and their _ex
// forms) and on Go's crypto/tls (*Conn).Read/Write, with syscall
// tracepoints to learn the socket behind each call. It sits at the very
// start of the live data flow, beside the packet capture: its Events carry
// a connection's decrypted bytes and 5-tuple, and the caller feeds them to
// runtime/pipeline (Pipeline.RunPlaintext) so that the same dissectors run
// on them.
//
// The BPF program is tls.c; `go generate ./bpf/...` rebuilds the committed
// objects with clang (bpf2go).
package tls
