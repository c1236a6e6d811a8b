package reassembly

import "github.com/kubeshark-wasm/kubeshark/runtime/packet"

// addUDP hands each datagram over whole: datagrams carry their own framing,
// so there is nothing to order or buffer.
func (a *Assembler) addUDP(s *packet.Segment) {
	c := a.lookup(s)
	if c == nil {
		c = a.open(s, s.Src, s.Dst, false)
	}
	d := c.dirOf(s.Src)
	a.touch(c, s.Timestamp)
	ds := &c.Dirs[d]
	ds.Packets++
	if a.seg != nil {
		a.seg.Segment(c, d, s)
	}
	if len(s.Payload) == 0 {
		return
	}
	ds.Bytes += uint64(len(s.Payload))
	a.stats.BytesDelivered += uint64(len(s.Payload))
	a.h.Data(c, d, s.Payload, s.Timestamp)
}
