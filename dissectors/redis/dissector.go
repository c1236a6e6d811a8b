package redis

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.1.0"

// Limits on what one connection may hold, so that hostile traffic cannot
// make the dissector's memory or time grow without bound.
const (
	maxLine     = 64 << 10  // a type line or an inline command (Redis's own inline limit)
	maxDepth    = 64        // nesting of aggregates
	maxBulk     = 512 << 20 // Redis's proto-max-bulk-len default
	maxElems    = 1 << 28   // elements one aggregate may announce
	maxArgs     = 32        // top-level elements kept per message
	argPreview  = 512       // bytes kept of each of those elements
	bodyPreview = 16 << 10  // bytes of the rendered preview
	scalarCap   = 1 << 10   // bytes of one scalar inside the rendered preview
	maxPending  = 1024      // commands waiting for a reply
)

// Dissector implements sdk.Dissector for Redis.
type Dissector struct{}

// New returns the Redis dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "redis",
		Version:     Version,
		Description: "Redis RESP2/RESP3: pipelining, inline commands, pub/sub and pushes, attributes, RESP3 streamed strings and aggregates, streamed large values",
		Protocols:   []string{"redis"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{6379, 6380, 16379, 26379},
		Fields: []sdk.FieldSpec{
			{Name: "redis_command", Type: "string", Description: "command name in upper case (with the subcommand for container commands)"},
			{Name: "redis_args", Type: "list", Description: "the command's arguments after the name, first 32, each cut to 512 bytes"},
			{Name: "redis_inline", Type: "bool", Description: "the command was sent as a plain text line rather than a RESP array"},
			{Name: "redis_response_type", Type: "string", Description: "RESP type of the reply: simple_string, error, integer, bulk_string, array, null, boolean, double, big_number, bulk_error, verbatim_string, map, set, push"},
			{Name: "redis_response", Type: "string", Description: "bounded text rendering of the reply"},
			{Name: "redis_attributes", Type: "bool", Description: "the reply carried RESP3 attributes"},
			{Name: "redis_streamed", Type: "bool", Description: "the reply was a RESP3 streamed string or aggregate (length \"?\")"},
			{Name: "redis_missing_bytes", Type: "int", Description: "bytes of the message lost from the capture"},
		},
	}
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
