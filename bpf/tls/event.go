package tls

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"
)

// Kind says what an Event reports.
type Kind uint8

const (
	// Data is plaintext a process sent or received.
	Data Kind = iota
	// Closed is the process closing a socket that carried plaintext.
	Closed
)

// Direction is the way plaintext moved, seen from the traced process.
type Direction uint8

const (
	// Sent is plaintext the process wrote (towards Remote).
	Sent Direction = iota
	// Received is plaintext the process read (from Remote).
	Received
)

func (d Direction) String() string {
	if d == Received {
		return "received"
	}
	return "sent"
}

// Library names the TLS implementation an Event came from.
const (
	OpenSSL = "openssl"
	Go      = "go"
)

// Event is one piece of plaintext, or the close of a connection that
// carried some.
type Event struct {
	Kind Kind
	// Time is when the bytes existed: for sent data when the library call
	// began, for received data when it returned; for Closed when close was
	// called. Events arrive in the order calls return, which may differ
	// (Plaintext puts them back in Time order).
	Time time.Time
	PID  uint32
	TID  uint32
	Comm string
	FD   int32
	// Conn is the library's connection object (an SSL* or a *tls.Conn) in
	// the process: with PID, it tells connections apart over fd reuse.
	Conn uint64
	// Local and Remote are the socket's addresses, from the process's side.
	Local, Remote netip.AddrPort
	Direction     Direction
	// Data is a copy owned by the receiver.
	Data []byte
	// Truncated counts bytes of the same call that were not captured
	// (beyond the per-call cap); they follow Data in the stream.
	Truncated int
	Library   string
}

// Record layout shared with tls.c (struct event); both targets are little
// endian.
const (
	hdrSize     = 112
	chunkSize   = 16384
	maxChunks   = 4
	callCapture = chunkSize * maxChunks

	kindData   = 0
	kindClose  = 1
	kindExec   = 2
	kindExit   = 3
	familyIPv4 = 2
	familyIPv6 = 10
)

// raw is a decoded ring-buffer record before its socket is interpreted.
type raw struct {
	ts, conn, total, offset uint64
	pid, tid                uint32
	fd                      int32
	kind, dir, lib          uint8
	comm                    string
	local, remote           netip.AddrPort
	data                    []byte
}

func parseRaw(b []byte) (raw, bool) {
	if len(b) < hdrSize {
		return raw{}, false
	}
	le := binary.LittleEndian
	r := raw{
		ts:     le.Uint64(b[0:]),
		conn:   le.Uint64(b[8:]),
		total:  le.Uint64(b[16:]),
		offset: le.Uint64(b[24:]),
		pid:    le.Uint32(b[32:]),
		tid:    le.Uint32(b[36:]),
		fd:     int32(le.Uint32(b[40:])),
		kind:   b[48],
		dir:    b[49],
		lib:    b[50],
	}
	n := le.Uint32(b[44:])
	comm := b[56:72]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	r.comm = string(comm)
	t := b[72:112]
	lport, rport := le.Uint16(t[34:]), le.Uint16(t[36:])
	switch le.Uint16(t[32:]) {
	case familyIPv4:
		r.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(t[0:4])), lport)
		r.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(t[16:20])), rport)
	case familyIPv6:
		r.local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(t[0:16])).Unmap(), lport)
		r.remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(t[16:32])).Unmap(), rport)
	}
	if int(n) > len(b)-hdrSize {
		return raw{}, false
	}
	r.data = b[hdrSize : hdrSize+int(n)]
	return r, true
}
