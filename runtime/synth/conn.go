package synth

import (
	"hash/fnv"
	"net/netip"
	"time"
)

// mss is the segment size used for data: Ethernet's 1500-byte MTU less
// IPv4 and TCP headers. IPv6 segments use the same size so both address
// families split a payload identically.
const mss = 1460

// Conn is one TCP conversation in a capture. Its methods write frames
// immediately and are safe for concurrent use (a relay records both
// directions from two goroutines); calls on different Conns of one Writer
// interleave in the file as they are made.
type Conn struct {
	w              *Writer
	client, server netip.AddrPort
	cseq, sseq     uint32 // next sequence number of each side
	closed         bool
	err            error // from the handshake, reported by the next call
}

// Conn starts a TCP conversation, writing SYN, SYN-ACK and ACK at start.
// Initial sequence numbers are derived from the addresses, so the same
// input gives the same capture.
func (w *Writer) Conn(client, server netip.AddrPort, start time.Time) *Conn {
	return w.ConnRTT(client, server, start, 0, 0)
}

// ConnRTT is Conn with a handshake that takes time, as one across a
// network does: the SYN-ACK follows the SYN by serverRTT and the ACK
// follows the SYN-ACK by clientRTT, so the capture's handshake RTT is their
// sum.
func (w *Writer) ConnRTT(client, server netip.AddrPort, start time.Time, serverRTT, clientRTT time.Duration) *Conn {
	h := fnv.New32a()
	h.Write([]byte(client.String() + ">" + server.String()))
	c := &Conn{w: w, client: client, server: server, cseq: h.Sum32(), sseq: h.Sum32() * 2654435761}
	w.mu.Lock()
	defer w.mu.Unlock()
	c.err = c.handshake(start, serverRTT, clientRTT)
	return c
}

func (c *Conn) handshake(at time.Time, serverRTT, clientRTT time.Duration) error {
	if err := c.w.tcpSegment(segment{src: c.client, dst: c.server, flags: flagSYN, seq: c.cseq, mss: true}, nil, at); err != nil {
		return err
	}
	c.cseq++
	if err := c.w.tcpSegment(segment{src: c.server, dst: c.client, flags: flagSYN | flagACK, seq: c.sseq, ack: c.cseq, mss: true}, nil, at.Add(serverRTT)); err != nil {
		return err
	}
	c.sseq++
	return c.w.tcpSegment(segment{src: c.client, dst: c.server, flags: flagACK, seq: c.cseq, ack: c.sseq}, nil, at.Add(serverRTT+clientRTT))
}

// Client writes data sent by the client at the given time.
func (c *Conn) Client(p []byte, at time.Time) error { return c.send(true, p, at) }

// Server writes data sent by the server at the given time.
func (c *Conn) Server(p []byte, at time.Time) error { return c.send(false, p, at) }

// send splits p into MSS-sized segments, PSH on the last, and has the peer
// acknowledge every second segment and the last one, like delayed ACKs.
func (c *Conn) send(fromClient bool, p []byte, at time.Time) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return errClosed
	}
	src, dst, seq, ack := c.client, c.server, &c.cseq, &c.sseq
	if !fromClient {
		src, dst, seq, ack = c.server, c.client, &c.sseq, &c.cseq
	}
	for i := 0; len(p) > 0; i++ {
		n := min(len(p), mss)
		flags := uint8(flagACK)
		if n == len(p) {
			flags |= flagPSH
		}
		if err := c.w.tcpSegment(segment{src: src, dst: dst, flags: flags, seq: *seq, ack: *ack}, p[:n], at); err != nil {
			return err
		}
		*seq += uint32(n)
		p = p[n:]
		if i%2 == 1 || len(p) == 0 {
			if err := c.w.tcpSegment(segment{src: dst, dst: src, flags: flagACK, seq: *ack, ack: *seq}, nil, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close writes the client's FIN, the server's FIN-ACK and the client's
// final ACK. Further calls on c return an error.
func (c *Conn) Close(at time.Time) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return errClosed
	}
	c.closed = true
	if err := c.w.tcpSegment(segment{src: c.client, dst: c.server, flags: flagFIN | flagACK, seq: c.cseq, ack: c.sseq}, nil, at); err != nil {
		return err
	}
	c.cseq++
	if err := c.w.tcpSegment(segment{src: c.server, dst: c.client, flags: flagFIN | flagACK, seq: c.sseq, ack: c.cseq}, nil, at); err != nil {
		return err
	}
	c.sseq++
	return c.w.tcpSegment(segment{src: c.client, dst: c.server, flags: flagACK, seq: c.cseq, ack: c.sseq}, nil, at)
}
