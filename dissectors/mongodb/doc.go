// Package mongodb is the MongoDB wire protocol dissector: OP_MSG, the
// legacy opcodes (OP_QUERY/OP_REPLY, OP_INSERT, OP_UPDATE, OP_DELETE,
// OP_GET_MORE, OP_KILL_CURSORS) and OP_COMPRESSED (snappy, zlib, zstd).
//
// One record per request, paired with the reply whose responseTo is the
// request's requestID. Method is the command name (the first key of the
// command document), Path is "db.collection". A small BSON reader renders
// the command as relaxed Extended JSON for the body preview.
package mongodb
