package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// repeatCapture writes the capture at src times over into dst, each copy
// after the one before in time and with its client ports shifted, so that
// every copy's connections are new ones: the records of a long run of the
// same real traffic, for measuring an import at a million records without
// recording one for minutes. The server port is the lower port of each
// TCP segment; checksums are adjusted, not recomputed (RFC 1624), so they
// stay as right or wrong as tcpdump recorded them on loopback.
func repeatCapture(src, dst string, times int) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	type pkt struct {
		ci   time.Time
		data []byte
	}
	var pkts []pkt
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		pkts = append(pkts, pkt{ci.Timestamp, data})
	}
	if len(pkts) == 0 {
		return fmt.Errorf("%s: no packets", src)
	}
	span := pkts[len(pkts)-1].ci.Sub(pkts[0].ci) + time.Second
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	w := pcapgo.NewWriter(out)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		out.Close()
		return err
	}
	for k := range times {
		for _, p := range pkts {
			b := append([]byte(nil), p.data...)
			shiftClientPort(b, r.LinkType(), uint16(k))
			ci := captureInfo(p.ci.Add(time.Duration(k)*span), len(b))
			if err := w.WritePacket(ci, b); err != nil {
				out.Close()
				return err
			}
		}
	}
	return out.Close()
}

// shiftClientPort adds k to the higher (client) port of an IPv4 TCP
// segment and adjusts its checksum.
func shiftClientPort(b []byte, link layers.LinkType, k uint16) {
	off := 0
	switch link {
	case layers.LinkTypeEthernet:
		if len(b) < 14 || binary.BigEndian.Uint16(b[12:]) != 0x0800 {
			return
		}
		off = 14
	case layers.LinkTypeLinuxSLL:
		off = 16
	case layers.LinkTypeRaw:
	default:
		return
	}
	if len(b) < off+20 || b[off]>>4 != 4 || b[off+9] != 6 {
		return
	}
	t := off + int(b[off]&0xf)*4
	if len(b) < t+18 || k == 0 {
		return
	}
	sp, dp := binary.BigEndian.Uint16(b[t:]), binary.BigEndian.Uint16(b[t+2:])
	at := t
	if dp > sp {
		at = t + 2
	}
	old := binary.BigEndian.Uint16(b[at:])
	nw := old + k
	if nw < old || nw < 1024 {
		nw = 1024 + k
	}
	binary.BigEndian.PutUint16(b[at:], nw)
	// RFC 1624: HC' = ~(~HC + ~m + m').
	sum := uint32(^binary.BigEndian.Uint16(b[t+16:])) + uint32(^old) + uint32(nw)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[t+16:], ^uint16(sum))
}

func captureInfo(ts time.Time, n int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: ts, CaptureLength: n, Length: n}
}
