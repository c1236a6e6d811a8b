// Package analysis computes the figures the MCP tools return about stored
// traffic. It sits at the read end of the data flow (pcap → reassembly →
// wasm dissectors → storage → here → MCP): every function scans the records
// of a time window once through [Source] (a *storage.Store), one page at a
// time, and aggregates them in memory with bounded state, so the cost is one
// sequential read of the window and memory does not grow with its size.
//
// [Stats], [Compare] and the baseline of [Anomalies] go further where the
// source is a [MinuteCache] (a *storage.Store is) and the query has no
// filter: they read per-minute rollups cached with the store instead of
// the records, so that their cost follows the window's minutes rather than
// its records (rollup.go). [WarmRollups] builds the rollups ahead of the
// queries.
//
// The functions and what they answer:
//
//   - [Stats]: per endpoint (or server, client, protocol) counts, error
//     rates, latency percentiles, bytes, status codes and a time series.
//   - [Compare]: the same figures for two windows side by side, ranked by
//     how much they changed.
//   - [Anomalies]: what got worse in a target window against a baseline,
//     ranked so that the root of a failure cascade comes first.
//   - [ServiceMap] and [Dependencies]: who calls whom, and who is affected
//     when a node fails.
//   - [SearchPayloads], [FindSensitiveData], [FindUnauthenticated]: payload
//     and header inspection.
//   - [Endpoints]: the hosts and ports seen, as clients and as servers.
//
// Every result is a plain JSON-ready struct (snake_case tags, no maps with
// non-string keys) with a one-line Summary for people, and every list in it
// is capped, with a Truncated flag saying when more existed.
//
// Endpoints are grouped by [Template]: ids in HTTP paths become
// placeholders and SQL literals become ?, so that /orders/1 and /orders/2,
// or WHERE id = 5 and WHERE id = 7, count as one endpoint.
package analysis
