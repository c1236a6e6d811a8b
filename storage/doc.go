// Package storage keeps dissected records on disk. It sits between the
// protocol dissectors and the readers: the capture runtime hands it batches of
// [sdk.Record] values produced by the WebAssembly dissectors, and the CLI and
// the MCP server read them back with [Store.Query], [Store.Get] and
// [Store.Summary].
//
// Records live in a badger key-value store. Keys are ordered by record time
// (see keys.go), so time-range listing is a sequential scan, and a handful of
// secondary indexes let common equality filters skip records that cannot
// match. Bodies are kept apart from the rest of the record so that listing
// never pays for them. Retention by age and by on-disk size runs in the
// background, and on demand ([Store.ApplyRetention]) when a command finishes
// writing.
//
// Every minute of records has an epoch that changes whenever a Put or
// retention changes the minute ([Store.MinuteEpochs]); readers cache values
// derived from a minute's records under it ([Store.PutDerived],
// [Store.GetDerived]), and know them stale once it changes (epochs.go).
//
// Queries take a [Matcher] (the CEL-based KFL language in storage/kfl
// implements it, and tells the planner which index terms it implies) and/or
// the small [ParseFilter] language kept for internal use and tests.
package storage
