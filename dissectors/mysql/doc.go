// Package mysql is the MySQL client/server protocol dissector. The wasm/
// subdirectory builds it into a WebAssembly module; its tests run natively.
//
// One record per command (COM_QUERY, COM_STMT_EXECUTE, …) with its whole
// response: OK, ERR, or result sets counted row by row until their EOF (or
// the OK that replaces it under CLIENT_DEPRECATE_EOF). The handshake is
// parsed for the server version, the user and schema and the capabilities
// that change the framing (CLIENT_DEPRECATE_EOF, CLIENT_COMPRESS); an
// SSLRequest hands the connection to the TLS dissector. Prepared statement
// ids are resolved to their SQL per connection. A failed login gets a
// record of its own.
package mysql
