package kafka

import (
	"encoding/binary"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.0.0"

// Limits on what one connection may hold.
const (
	maxMessage  = 100 << 20 // largest message size accepted (the broker default)
	holdLimit   = 64 << 10  // bytes of a message held for parsing; the rest is skipped
	maxPending  = 1024      // requests waiting for a response
	bodyPreview = 4 << 10   // request body bytes kept as the preview
)

// Dissector implements sdk.Dissector for Kafka.
type Dissector struct{}

// New returns the Kafka dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "kafka",
		Version:     Version,
		Description: "Apache Kafka: request/response pairing by correlation id, classic and flexible versions, topics and error codes",
		Protocols:   []string{"kafka"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{9092, 9093, 9094, 29092},
		Fields: []sdk.FieldSpec{
			{Name: "kafka_api_key", Type: "int", Description: "numeric API key of the request"},
			{Name: "kafka_api_key_name", Type: "string", Description: "API name, e.g. Produce, Fetch, Metadata"},
			{Name: "kafka_api_version", Type: "int", Description: "API version of the request"},
			{Name: "kafka_correlation_id", Type: "int", Description: "correlation id pairing request and response"},
			{Name: "kafka_client_id", Type: "string", Description: "client id from the request header"},
			{Name: "kafka_topics", Type: "list", Description: "topic names the request names"},
			{Name: "kafka_all_topics", Type: "bool", Description: "a Metadata request for every topic"},
			{Name: "kafka_topics_note", Type: "string", Description: "why topics were not parsed (unsupported version, topic ids)"},
			{Name: "kafka_error_code", Type: "int", Description: "first non-zero error code in the response, else 0"},
			{Name: "kafka_error_name", Type: "string", Description: "name of kafka_error_code"},
			{Name: "kafka_response_parsed", Type: "bool", Description: "false when the response body of this API/version is not read for error codes"},
		},
	}
}

// Probe recognises a whole Kafka request header: a plausible size, a known
// API key with a version that API has, and a printable client id. A
// response carries nothing checkable beyond its size, so it only gets a
// weak FromServer guess.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	switch v := classify(data); v {
	case lookRequest:
		conf := uint8(75)
		size := int(binary.BigEndian.Uint32(data))
		if len(data) < 4+size && int16(binary.BigEndian.Uint16(data[12:])) <= 0 {
			// Without a client id the header is mostly zero bytes, which
			// other binary protocols' first frames also are (an HTTP/2
			// SETTINGS frame reads as Produce v0): wait for the whole
			// message, whose body can be checked.
			return sdk.Probe{Confidence: 40, NeedMore: true}
		}
		if len(data) >= 4+size {
			// A response with a small correlation id can pass for a
			// request header; its body cannot pass for a request's.
			if !bodyParses(data[4 : 4+size]) {
				return sdk.Probe{Confidence: 20, FromServer: true}
			}
			if len(data) == 4+size {
				// The segment is exactly one message: the framing agrees.
				conf = 85
			}
		}
		return sdk.Probe{Confidence: conf}
	case lookMaybe:
		return sdk.Probe{Confidence: 10, NeedMore: true}
	case lookResponse:
		return sdk.Probe{Confidence: 20, FromServer: true}
	}
	return sdk.Probe{}
}

type look uint8

const (
	lookNone look = iota
	lookMaybe
	lookRequest
	lookResponse
)

// classify judges the start of a stream direction.
func classify(data []byte) look {
	if len(data) < 4 {
		if len(data) > 0 && data[0] != 0 {
			return lookNone
		}
		return lookMaybe
	}
	size := int(binary.BigEndian.Uint32(data))
	if size < 8 || size > maxMessage {
		return lookNone
	}
	if k := validRequest(data); k != lookNone {
		return k
	}
	// A response: the size must be all there is, or the next message must
	// start right after it with a sane size too.
	if len(data) >= 4+size {
		rest := data[4+size:]
		if len(rest) == 0 || len(rest) >= 4 && binary.BigEndian.Uint32(rest) <= maxMessage {
			return lookResponse
		}
	}
	return lookNone
}

// bodyParses parses a whole request where the dissector knows the body.
func bodyParses(msg []byte) bool {
	req, r, ok := parseHeader(msg)
	if !ok {
		return false
	}
	switch req.key {
	case keyProduce:
		r2 := *r
		if req.version >= 3 {
			r2.skipStr()
		}
		if acks := r2.i16(); acks < -1 || acks > 1 {
			return false
		}
	case keyApiVersions:
		if req.version >= 3 {
			a, b := r.str(), r.str()
			return r.ok() && printable([]byte(a)) && printable([]byte(b))
		}
		// Before v3 the body is empty, though librdkafka pads it.
		return true
	}
	req.parseTopics(r)
	return r.ok()
}

// validRequest checks the header of a request at the start of data.
func validRequest(data []byte) look {
	if len(data) < 4 {
		return lookMaybe
	}
	size := int(binary.BigEndian.Uint32(data))
	if size < 10 || size > maxMessage {
		return lookNone
	}
	if len(data) < 14 {
		return lookMaybe
	}
	key := int16(binary.BigEndian.Uint16(data[4:]))
	version := int16(binary.BigEndian.Uint16(data[6:]))
	corr := int32(binary.BigEndian.Uint32(data[8:]))
	a, ok := lookupAPI(key)
	if !ok || version < 0 || version > a.max || corr < 0 {
		return lookNone
	}
	n := int(int16(binary.BigEndian.Uint16(data[12:])))
	if n < -1 || 10+n > size || n > maxString {
		return lookNone
	}
	if n > 0 {
		if len(data) < 14+n {
			if len(data) >= holdLimit {
				return lookNone
			}
			if !printable(data[14:]) {
				return lookNone
			}
			return lookMaybe
		}
		if !printable(data[14 : 14+n]) {
			return lookNone
		}
	}
	if a.flexible >= 0 && version >= a.flexible {
		// Header v2 ends with tagged fields: nearly always none.
		at := 14 + max(n, 0)
		if 10+max(n, 0) >= size {
			return lookNone
		}
		if len(data) <= at {
			return lookMaybe
		}
		if data[at] > 8 {
			return lookNone
		}
	}
	return lookRequest
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
