// Package tls captures the plaintext of TLS connections from the kernel
// without kprobes: uprobes on OpenSSL's SSL_read/SSL_write (and their _ex
// forms) and on Go's crypto/tls (*Conn).Read/Write, with syscall
// tracepoints to learn the socket behind each call. It sits at the very
// start of the live data flow, beside the packet capture: its Events carry
// a connection's decrypted bytes and 5-tuple, and Plaintext adapts them for
// runtime/pipeline's Pipeline.RunPlaintext, so that the same dissectors run
// on them.
//
// What it needs: root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN), a kernel
// with BTF (the fd→socket walk is CO-RE), uprobes and tracepoints; tracefs
// is mounted when missing. uprobe_multi links (Linux 6.6) are used for Go
// when the kernel has them.
//
// What it sees: every process that maps a libssl (libssl.so.1.1 or .3)
// from the usual library directories, from any process's maps at start, or
// from a process started later (looked at after its exec); every Go
// executable (register ABI: Go 1.17+ on amd64, 1.18+ on arm64) that links
// crypto/tls, with or without symbols. Connections made before Start are
// captured from their next exchange.
//
// Limits: OpenSSL linked statically into a program (no libssl mapped),
// BoringSSL, GnuTLS, NSS, rustls and Java's TLS are not hooked; kTLS
// (SSL_sendfile) bypasses SSL_write; the first read of an old connection
// served wholly from OpenSSL's buffer has no socket yet and is dropped
// (Stats.NoSocket); one call delivers at most 64 KiB, the rest is reported
// as Event.Truncated; for a Go tls.Conn over a net.Conn that is not a
// *net.TCPConn (a wrapper) the fd read is not checked: it is used only if
// it names an inet socket.
//
// The BPF program is tls.c; `go generate ./bpf/...` rebuilds the committed
// objects with clang-14 (bpf2go).
package tls
