// Package postgres is the PostgreSQL frontend/backend protocol (v3)
// dissector. The wasm/ subdirectory builds it into a WebAssembly module; its
// tests run natively.
//
// One record per simple query ('Q', with every result until ReadyForQuery)
// and one per Execute of the extended protocol, whose Path is the SQL of the
// prepared statement the executed portal was bound from. Statement and
// portal names are resolved per connection. A login that fails and a
// CancelRequest get records of their own; a successful login only lends its
// user and database to the records that follow. An SSLRequest answered 'S'
// hands the connection to the TLS dissector.
package postgres
