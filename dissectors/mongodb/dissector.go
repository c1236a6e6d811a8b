package mongodb

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.0.0"

// Limits on what one connection may hold.
const (
	maxMessage = 48 << 20  // maxMessageSizeBytes of MongoDB servers
	holdLimit  = 128 << 10 // bytes of a message held for parsing; the rest is skipped
	maxPending = 1024      // requests waiting for a reply
)

// Dissector implements sdk.Dissector for the MongoDB wire protocol.
type Dissector struct{}

// New returns the MongoDB dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "mongodb",
		Version:     Version,
		Description: "MongoDB wire protocol: OP_MSG, legacy opcodes and OP_COMPRESSED; commands, namespaces and errors",
		Protocols:   []string{"mongodb"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{27017, 27018, 27019},
		Fields: []sdk.FieldSpec{
			{Name: "mongodb_op", Type: "string", Description: "opcode name, e.g. OP_MSG, OP_QUERY (the original opcode of OP_COMPRESSED)"},
			{Name: "mongodb_command", Type: "string", Description: "command name: the first key of the command document"},
			{Name: "mongodb_database", Type: "string", Description: "database ($db or the namespace prefix)"},
			{Name: "mongodb_collection", Type: "string", Description: "collection the command targets"},
			{Name: "mongodb_request_id", Type: "int", Description: "requestID of the message"},
			{Name: "mongodb_compressor", Type: "string", Description: "OP_COMPRESSED compressor: snappy, zlib, zstd, noop"},
			{Name: "mongodb_sequences", Type: "map", Description: "OP_MSG document sequences: identifier to document count"},
			{Name: "mongodb_ok", Type: "float", Description: "ok of the reply"},
			{Name: "mongodb_error_code", Type: "int", Description: "error code of the reply (or of its first write error)"},
			{Name: "mongodb_error", Type: "string", Description: "codeName or errmsg of the reply"},
			{Name: "mongodb_n", Type: "int", Description: "n of the reply (documents affected)"},
			{Name: "mongodb_documents", Type: "int", Description: "OP_REPLY numberReturned"},
		},
	}
}

// Probe recognises a message header with a known opcode whose body parses:
// a BSON document where the opcode puts one.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	return probe(data)
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
