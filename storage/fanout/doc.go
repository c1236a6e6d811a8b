// Package fanout answers storage queries across the nodes of a cluster. It
// sits beside storage at the read end of the data flow (capture → dissectors
// → storage → here → MCP): each node (a `kubeshark tap` worker) keeps its
// own store, and the hub reads them all as if they were one.
//
// The two halves speak one protocol over HTTP (wire.go): JSON requests,
// and answers streamed as length-prefixed frames holding records in the
// store's own binary encoding:
//
//   - [WorkerHandler], mounted by every worker's hub under
//     /api/v1/worker/, streams the records or flows of a query from the
//     worker's store in time order, and answers the small questions
//     (one record, summary, minute epochs) with JSON.
//   - [Cluster], used by the central hub, implements what the MCP tools
//     read from a store (Query, Get, Flows, Flow, Summary, Bounds, the
//     minute cache of the rollups) by asking every worker its [Discovery]
//     names at once and merging the answers: records by id, which orders
//     them by time across stores, flows by start time, counts added.
//
// Merged pages are what one store holding every node's data would give:
// the same records in the same order, the same limits, and cursors that
// are a single store's cursors (ids order records across stores, so "after
// this id" means the same on every node). Aggregates are computed from the
// merged records (the rollups on the hub, per minute), so they are exact.
//
// A node that fails is never hidden nor fatal: every call made through a
// context from [Track] records per node whether it answered and how much it
// contributed, and [Report.Warning] says which nodes are missing from the
// answer ("node w2 did not answer (…); results are from 2 of 3 nodes").
package fanout
