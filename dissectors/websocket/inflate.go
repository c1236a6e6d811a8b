package websocket

import (
	"compress/flate"
	"errors"
	"io"
	"strconv"
)

// Limits on permessage-deflate decoding, per side of a connection.
const (
	windowSize       = 32 << 10  // DEFLATE's largest LZ77 window (RFC 1951): the history a sender may refer back to
	maxInflateInput  = 256 << 10 // compressed payload bytes kept per message for decoding
	maxInflateOutput = 4 << 20   // bytes one message may decompress to before decoding stops
	minRead          = 4 << 10   // free room below which the history buffer is compacted
)

// deflateTail is put back after a message's payload: RFC 7692 §7.2.1 has
// the sender strip the 0x00 0x00 0xff 0xff that ends a sync flush, and the
// final empty stored block after it makes a whole message end in io.EOF
// rather than in an unexpected EOF, which is kept to tell a cut-off
// message.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// inflater undoes permessage-deflate (RFC 7692) for the messages one side
// sends. The handshake that negotiated the extension went to the HTTP/1
// dissector, and the "websocket" hint it hands over carries none of its
// parameters, so whether the sender keeps its LZ77 context from message to
// message is unknown. Decoding every message with the side's earlier
// output as history is right either way: a sender with
// *_no_context_takeover never refers to it, and a smaller
// *_max_window_bits only shortens the distances it uses.
//
// When a message cannot be decoded whole (a capture gap, a message over
// the limits, corrupt data), the history is dropped rather than guessed:
// decoding starts afresh with none, so a later message that refers to the
// lost output fails with an error instead of decoding to wrong bytes,
// and one that does not (every message of a no_context_takeover sender)
// decodes as before.
type inflater struct {
	fr   io.ReadCloser // flate decompressor, reset for each message
	src  msgReader
	hist []byte // the side's latest decoded output; its last windowSize bytes are the history
	lost bool   // the history is unknown: some output of this side was not decoded
}

// inflation is the outcome of decoding one message.
type inflation struct {
	preview []byte // the first bodyPreview decoded bytes
	size    int64  // bytes decoded
	whole   bool   // the whole message was decoded: size is its decompressed length
	note    string // why the message was decoded only in part
	err     string // why it could not be decoded; preview is then unusable
}

// inflate decodes a message's payload. complete says payload is all of
// the message, so that it must decode to the end; otherwise the decoded
// prefix is the preview and the history is lost.
func (f *inflater) inflate(payload []byte, complete bool) inflation {
	f.src = msgReader{b: payload}
	if complete {
		f.src.tail = deflateTail
	}
	if len(f.hist) > windowSize {
		f.hist = f.hist[:copy(f.hist, f.hist[len(f.hist)-windowSize:])]
	}
	if f.fr == nil {
		f.fr = flate.NewReaderDict(&f.src, f.hist)
	} else if err := f.fr.(flate.Resetter).Reset(&f.src, f.hist); err != nil {
		f.forget()
		return inflation{err: "resetting the decompressor: " + err.Error()}
	}
	if cap(f.hist) < 2*windowSize {
		f.hist = append(make([]byte, 0, 2*windowSize), f.hist...)
	}
	var out inflation
	for {
		if cap(f.hist)-len(f.hist) < minRead {
			// The decompressor copied the history in Reset, so the buffer
			// can be compacted under it.
			f.hist = f.hist[:copy(f.hist, f.hist[len(f.hist)-windowSize:])]
		}
		n, err := f.fr.Read(f.hist[len(f.hist):cap(f.hist)])
		got := f.hist[len(f.hist) : len(f.hist)+n]
		f.hist = f.hist[:len(f.hist)+n]
		if room := bodyPreview - len(out.preview); room > 0 {
			out.preview = append(out.preview, got[:min(n, room)]...)
		}
		out.size += int64(n)
		switch {
		case err == nil && out.size > maxInflateOutput:
			out.note = "decompression stopped after " + strconv.Itoa(maxInflateOutput) + " bytes"
			f.forget()
			return out
		case err == nil:
			continue
		case errors.Is(err, io.EOF) && complete:
			out.whole = true
			// After a loss, the history is whole again once it holds a
			// full window of output decoded since.
			f.lost = f.lost && len(f.hist) < windowSize
			return out
		case !complete && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
			// A cut-off message: what decoded is right, but the rest of
			// its output, which later messages may refer to, is unknown.
			f.forget()
			return out
		}
		why := "permessage-deflate payload could not be decompressed: " + err.Error()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			why = "permessage-deflate payload ends inside a DEFLATE block"
		}
		if f.lost {
			why += " (it may refer to earlier output of its sender that the capture lost)"
		}
		f.forget()
		return inflation{err: why}
	}
}

// forget drops the history: the next message is decoded without one.
func (f *inflater) forget() {
	f.hist = f.hist[:0]
	f.lost = true
}

// msgReader reads a message's payload, then the tail put back after it.
// It is a flate.Reader, so the decompressor reads it without a bufio
// buffer of its own.
type msgReader struct {
	b    []byte
	tail string
}

func (r *msgReader) Read(p []byte) (int, error) {
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		return n, nil
	}
	if len(r.tail) > 0 {
		n := copy(p, r.tail)
		r.tail = r.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

func (r *msgReader) ReadByte() (byte, error) {
	if len(r.b) > 0 {
		c := r.b[0]
		r.b = r.b[1:]
		return c, nil
	}
	if len(r.tail) > 0 {
		c := r.tail[0]
		r.tail = r.tail[1:]
		return c, nil
	}
	return 0, io.EOF
}
