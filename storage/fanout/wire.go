package fanout

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// The worker protocol. Every path is under Prefix and needs the hub's
// bearer token. Requests and the small answers are JSON; the streams of
// records and flows are frames (below), in the order asked for, closed by
// an end frame. A stream that stops before its end frame was cut (the
// worker stopped or the connection broke), which the reader reports as that
// node's failure rather than as a short answer.
const (
	// Prefix is where the worker routes live on a hub.
	Prefix = "/api/v1/worker/"

	pathRecords  = Prefix + "records" // POST recordsRequest → stream of records
	pathFlows    = Prefix + "flows"   // POST flowsRequest → stream of flows
	pathRecord   = Prefix + "records/"
	pathFlow     = Prefix + "flows/"
	pathSummary  = Prefix + "summary"  // GET → summaryResponse (?only=bounds: First and Last)
	pathEpochs   = Prefix + "epochs"   // POST epochsRequest → epochsResponse
	pathDisabled = Prefix + "disabled" // PUT disabledRequest
)

// A stream is a sequence of frames: a kind byte, the payload's length as a
// uvarint, the payload. A record is storage.AppendRecord's encoding (the
// store's own, which keeps header order, End and RequestDir, and costs a
// few microseconds where JSON costs tens); a flow is its JSON, which is how
// the store keeps flows; an end frame carries the number of items sent as
// a uvarint; an error frame, the worker's message.
const (
	frameRecord byte = 'r'
	frameFlow   byte = 'f'
	frameEnd    byte = 'e'
	frameError  byte = 'x'
	// maxFrame bounds one frame: a record with both bodies at their cap is
	// far smaller, so a larger length is a broken stream, not a big record.
	maxFrame = 64 << 20
	// streamType is the streams' media type.
	streamType = "application/vnd.kubeshark.worker-stream"
)

// appendFrame appends one frame to b.
func appendFrame(b []byte, kind byte, payload []byte) []byte {
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// frameReader reads frames, reusing one buffer.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next frame; its payload is valid until the next call.
// io.EOF means the stream ended cleanly between frames.
func (fr *frameReader) next() (byte, []byte, error) {
	kind, err := fr.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(fr.r)
	if err != nil {
		return 0, nil, unexpected(err)
	}
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes (at most %d)", n, maxFrame)
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	fr.buf = fr.buf[:n]
	if _, err := io.ReadFull(fr.r, fr.buf); err != nil {
		return 0, nil, unexpected(err)
	}
	return kind, fr.buf, nil
}

// unexpected turns an end of input inside a frame into ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// recordsRequest is storage.Query on the wire. The filters travel as the
// text they were parsed from; the worker compiles them with its own
// dissectors' fields.
type recordsRequest struct {
	Filter     string    `json:"filter,omitempty"`
	KFL        string    `json:"kfl,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Until      time.Time `json:"until,omitzero"`
	Newest     bool      `json:"newest,omitempty"`
	Cursor     string    `json:"cursor,omitempty"`
	Limit      int       `json:"limit,omitempty"`
	WithBodies bool      `json:"with_bodies,omitempty"`
	SizesOnly  bool      `json:"sizes_only,omitempty"`
}

// flowsRequest is storage.FlowQuery on the wire, without its Match (a Go
// function): the hub applies it to the flows it receives.
type flowsRequest struct {
	Since  time.Time `json:"since,omitzero"`
	Until  time.Time `json:"until,omitzero"`
	Cursor string    `json:"cursor,omitempty"`
}

// summaryResponse is storage.Summary, FlowBounds and the disabled
// dissectors of one worker.
type summaryResponse struct {
	Node       string         `json:"node"`
	Total      int            `json:"total"`
	ByProtocol map[string]int `json:"by_protocol"`
	Failed     int            `json:"failed"`
	First      time.Time      `json:"first,omitzero"`
	Last       time.Time      `json:"last,omitzero"`
	FlowFirst  time.Time      `json:"flow_first,omitzero"`
	FlowLast   time.Time      `json:"flow_last,omitzero"`
	FlowCount  int            `json:"flow_count"`
	Disabled   []string       `json:"disabled"`
}

type epochsRequest struct {
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// epochsResponse maps a Unix minute (in decimal) to its epoch.
type epochsResponse struct {
	Epochs map[string]uint64 `json:"epochs"`
}

type disabledRequest struct {
	Names []string `json:"names"`
}

// errorResponse is the body of every non-2xx answer, as the hub writes it.
type errorResponse struct {
	Error string `json:"error"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs above are encoded
	}
	return b
}
