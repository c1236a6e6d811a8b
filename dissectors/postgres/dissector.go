package postgres

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.0.0"

// Limits on what one connection may hold, so that hostile traffic cannot
// make the dissector's memory grow without bound.
const (
	maxBuffered   = 64 << 10 // message bytes held to parse; the rest of a bigger message is skipped
	maxMessage    = 1 << 30  // larger length fields are framing damage, not messages
	maxPending    = 1024     // frontend messages waiting for the backend's answer
	maxStatements = 1024     // named prepared statements and portals remembered
	maxSQL        = 16 << 10 // bytes of SQL text kept in Path
	maxParams     = 32       // bind parameters previewed
	maxParamLen   = 256      // bytes previewed per bind parameter
	maxColumns    = 256      // column names kept from a RowDescription
)

// Protocol codes of the untyped messages a frontend may open with.
const (
	codeProtocol3 = 196608   // StartupMessage, protocol 3.0
	codeCancel    = 80877102 // CancelRequest
	codeSSL       = 80877103 // SSLRequest
	codeGSSENC    = 80877104 // GSSENCRequest
)

// Dissector implements sdk.Dissector for the PostgreSQL wire protocol.
type Dissector struct{}

// New returns the PostgreSQL dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "postgres",
		Version:     Version,
		Description: "PostgreSQL protocol 3.0: startup and authentication, simple and extended queries, COPY, errors, cancel requests",
		Protocols:   []string{"postgres"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{5432, 5433, 6432, 15432, 26257},
		Fields: []sdk.FieldSpec{
			{Name: "pg_user", Type: "string", Description: "user name from the connection's StartupMessage"},
			{Name: "pg_database", Type: "string", Description: "database from the connection's StartupMessage"},
			{Name: "pg_application_name", Type: "string", Description: "application_name from the StartupMessage"},
			{Name: "pg_statement_name", Type: "string", Description: "name of the prepared statement an Execute ran (empty for the unnamed one)"},
			{Name: "pg_portal", Type: "string", Description: "name of the portal an Execute ran"},
			{Name: "pg_params", Type: "list", Description: "preview of Bind parameter values (text, or base64 of binary ones; null for NULL)"},
			{Name: "pg_command_tag", Type: "string", Description: "CommandComplete tag(s), e.g. \"SELECT 3\", \"INSERT 0 1\"; several are joined with \"; \""},
			{Name: "pg_rows", Type: "int", Description: "DataRow messages returned"},
			{Name: "pg_columns", Type: "list", Description: "column names from RowDescription"},
			{Name: "pg_error", Type: "map", Description: "ErrorResponse: severity, code (SQLSTATE), message, detail"},
			{Name: "pg_notices", Type: "list", Description: "NoticeResponse messages seen during the exchange"},
			{Name: "pg_copy_bytes", Type: "int", Description: "CopyData payload bytes of a COPY"},
			{Name: "pg_auth", Type: "string", Description: "authentication method the server asked for (login records)"},
			{Name: "pg_cancel_pid", Type: "int", Description: "backend process id a CancelRequest targets"},
		},
	}
}

// Probe recognises the frontend's opening messages and well-formed typed
// messages of either side.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	return probe(data)
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
