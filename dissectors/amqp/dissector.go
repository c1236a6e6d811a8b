package amqp

import (
	"bytes"
	"encoding/binary"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.0.0"

// Limits on what one connection may hold.
const (
	maxFrame    = 128 << 20 // largest frame size accepted
	holdLimit   = 64 << 10  // bytes of a frame held for parsing; the rest is skipped
	maxPending  = 1024      // methods waiting for a reply, and contents in flight
	bodyPreview = 16 << 10  // message body bytes kept as the preview
)

// Dissector implements sdk.Dissector for AMQP 0-9-1.
type Dissector struct{}

// New returns the AMQP 0-9-1 dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "amqp",
		Version:     Version,
		Description: "AMQP 0-9-1 (RabbitMQ): methods paired with their -Ok replies, published and delivered messages with properties and body",
		Protocols:   []string{"amqp"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{5672},
		Fields: []sdk.FieldSpec{
			{Name: "amqp_channel", Type: "int", Description: "channel number"},
			{Name: "amqp_class", Type: "string", Description: "method class, e.g. Basic"},
			{Name: "amqp_method", Type: "string", Description: "Class.Method, e.g. Basic.Publish"},
			{Name: "amqp_exchange", Type: "string", Description: "exchange name (empty for the default exchange)"},
			{Name: "amqp_routing_key", Type: "string", Description: "routing key"},
			{Name: "amqp_queue", Type: "string", Description: "queue name"},
			{Name: "amqp_consumer_tag", Type: "string", Description: "consumer tag"},
			{Name: "amqp_reply_code", Type: "int", Description: "reply code of Close or Return"},
			{Name: "amqp_reply_text", Type: "string", Description: "reply text of Close or Return"},
			{Name: "amqp_delivery_tag", Type: "int", Description: "delivery tag of Deliver, Get-Ok, Ack, Nack, Reject"},
			{Name: "amqp_properties", Type: "map", Description: "content properties (content_type, headers, delivery_mode, ...)"},
			{Name: "amqp_arguments", Type: "map", Description: "other method arguments (flags, argument tables, tune values)"},
		},
	}
}

// Probe recognises the protocol header, or a whole frame with its
// frame-end octet where the size puts it.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	if len(data) < len(protocolHeader) {
		if bytes.HasPrefix(protocolHeader, data) {
			return sdk.Probe{Confidence: 10, NeedMore: true}
		}
	} else if bytes.HasPrefix(data, protocolHeader) {
		return sdk.Probe{Confidence: 100}
	}
	if len(data) == 0 || !knownFrame(data[0]) {
		return sdk.Probe{}
	}
	if len(data) < 7 {
		return sdk.Probe{Confidence: 5, NeedMore: true}
	}
	ch := binary.BigEndian.Uint16(data[1:])
	size := int(binary.BigEndian.Uint32(data[3:]))
	if size > holdLimit {
		return sdk.Probe{}
	}
	if len(data) < size+8 {
		return sdk.Probe{Confidence: 5, NeedMore: true}
	}
	if data[size+7] != frameEnd {
		return sdk.Probe{}
	}
	p := data[7 : 7+size]
	switch data[0] {
	case frameMethod:
		if len(p) < 4 {
			return sdk.Probe{}
		}
		cls, id := binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:])
		if _, ok := methodName(cls, id); !ok || cls == classConnection && ch != 0 || cls != classConnection && ch == 0 {
			return sdk.Probe{}
		}
		if m := parseMethod(p); m.malformed {
			return sdk.Probe{}
		}
		return sdk.Probe{Confidence: 75, FromServer: fromServer(cls, id)}
	case frameHeader:
		if len(p) < 14 || binary.BigEndian.Uint16(p) != classBasic || ch == 0 {
			return sdk.Probe{}
		}
		return sdk.Probe{Confidence: 60}
	case frameHeartbeat:
		if size != 0 || ch != 0 {
			return sdk.Probe{}
		}
		return sdk.Probe{Confidence: 55}
	}
	// A body frame alone says little.
	if ch == 0 || size == 0 {
		return sdk.Probe{}
	}
	return sdk.Probe{Confidence: 40}
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
