package capture

import (
	"context"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Packet is one captured frame as stored in the capture file.
type Packet struct {
	// Timestamp is when the frame was captured, in UTC.
	Timestamp time.Time
	// Data is the captured bytes starting at the link-layer header. It may
	// alias an internal buffer that is valid only until the next Next call.
	Data []byte
	// LinkType says how to decode Data; in pcapng it can differ per packet.
	LinkType layers.LinkType
	// CaptureLength is len(Data); Length is the frame's length on the wire,
	// larger than CaptureLength when the capture used a snap length.
	CaptureLength, Length int
	// Offset is the byte offset of this packet's record in the
	// (decompressed) file, so an error can point at the bytes at fault.
	Offset int64
}

// Source produces captured frames in file order.
type Source interface {
	// Next returns the next frame, io.EOF after the last one, or an error
	// describing why the rest of the capture cannot be read.
	Next(ctx context.Context) (Packet, error)
	// Close releases the underlying file.
	Close() error
}
