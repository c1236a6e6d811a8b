package mysql

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.0.0"

// Limits on what one connection may hold, so that hostile traffic cannot
// make the dissector's memory grow without bound.
const (
	maxBuffered   = 64 << 10  // packet bytes held to parse; the rest of a bigger packet is skipped
	maxCompressed = 128 << 10 // compressed packets larger than this are skipped, not inflated
	maxInflated   = 1 << 20   // decompressed bytes held per direction
	maxPending    = 256       // commands waiting for a response
	maxStatements = 1024      // prepared statements remembered
	maxSQL        = 16 << 10  // bytes of SQL text kept in Path
	maxColumns    = 256       // column names kept per result set
)

// Capability flags that change how the conversation is parsed.
const (
	capConnectWithDB = 0x00000008
	capCompress      = 0x00000020
	capProtocol41    = 0x00000200
	capSSL           = 0x00000800
	capSecureConn    = 0x00008000
	capPluginAuth    = 0x00080000
	capLenencAuth    = 0x00200000
	capDeprecateEOF  = 0x01000000
)

// Dissector implements sdk.Dissector for the MySQL protocol.
type Dissector struct{}

// New returns the MySQL dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "mysql",
		Version:     Version,
		Description: "MySQL/MariaDB client/server protocol: handshake, commands, result sets, prepared statements, compression",
		Protocols:   []string{"mysql"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{3306, 3307, 33060, 6033, 4000},
		Fields: []sdk.FieldSpec{
			{Name: "mysql_command", Type: "string", Description: "command name, e.g. COM_QUERY"},
			{Name: "mysql_user", Type: "string", Description: "user from the HandshakeResponse or COM_CHANGE_USER"},
			{Name: "mysql_schema", Type: "string", Description: "default schema of the connection (handshake, COM_INIT_DB)"},
			{Name: "mysql_server_version", Type: "string", Description: "server version from the initial handshake"},
			{Name: "mysql_statement_id", Type: "int", Description: "prepared statement id (COM_STMT_*)"},
			{Name: "mysql_table", Type: "string", Description: "table of a COM_FIELD_LIST"},
			{Name: "mysql_affected_rows", Type: "int", Description: "affected rows from the OK packet"},
			{Name: "mysql_last_insert_id", Type: "int", Description: "last insert id from the OK packet"},
			{Name: "mysql_rows", Type: "int", Description: "rows returned in result sets"},
			{Name: "mysql_columns", Type: "list", Description: "column names of the (first) result set"},
			{Name: "mysql_error_code", Type: "int", Description: "error code from the ERR packet"},
			{Name: "mysql_sql_state", Type: "string", Description: "SQLSTATE from the ERR packet"},
			{Name: "mysql_error_message", Type: "string", Description: "message from the ERR packet"},
			{Name: "mysql_compressed", Type: "bool", Description: "the connection uses the compressed protocol"},
		},
	}
}

// Probe recognises the server's initial handshake and client commands.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	return probe(data)
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
