package capture

import (
	"errors"
	"fmt"
)

// ErrNotCapture means the input is neither a pcap nor a pcapng file (nor a
// gzip-compressed one of those).
var ErrNotCapture = errors.New("not a pcap or pcapng file")

// ErrUnsupportedLinkType means the capture holds frames of a link type the
// decoder cannot take apart (only Ethernet, Linux SLL/SLL2, raw IP and BSD
// loopback are supported).
var ErrUnsupportedLinkType = errors.New("unsupported link type")

// ErrTruncated means the capture ends in the middle of a record, which is
// what a capture copied while still being written, or cut by a size limit,
// looks like. Every complete record before the cut has been returned.
var ErrTruncated = errors.New("truncated capture")

// ErrCorrupt means a record header is inconsistent (for example its capture
// length exceeds the snap length), so the reader cannot find the next record.
var ErrCorrupt = errors.New("corrupt capture")

// TruncatedError reports where a truncated capture stops making sense, so a
// user can cut the file at that offset (or recapture) instead of guessing.
type TruncatedError struct {
	// Path is the file name as given to OpenFile.
	Path string
	// Offset is the byte offset, in the decompressed stream, of the first
	// incomplete record.
	Offset int64
	// Err is the underlying read error, typically io.ErrUnexpectedEOF.
	Err error
}

// Error formats as `capture.pcap: truncated at byte 123456: unexpected EOF`.
func (e *TruncatedError) Error() string {
	return fmt.Sprintf("%s: truncated at byte %d: %v", e.Path, e.Offset, e.Err)
}

// Is makes errors.Is(err, ErrTruncated) true for every TruncatedError.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }

// Unwrap exposes the underlying read error.
func (e *TruncatedError) Unwrap() error { return e.Err }

// ErrIdle is what a live Source's Next returns, with the current time in
// Packet.Timestamp and no data, when no packet has come for a while or it is
// time to pass buffered work on: the caller hands on what it holds (the
// pipeline flushes its batches and idle flows, so records are stored while
// capture goes on) and calls Next again. File sources never return it.
var ErrIdle = errors.New("no packet for now")
