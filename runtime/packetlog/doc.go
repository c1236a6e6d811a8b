// Package packetlog keeps the raw captured frames in a bounded FIFO on disk
// so that a later snapshot can export the packets of a time window as
// pcapng. It sits beside the pipeline rather than in it: Tee wraps the
// capture.Source an import or a live capture reads from (capture → Tee →
// runtime/decode → ...), and a Reader serves exports (for example to MCP)
// from the same directory.
//
// The log is a directory of chunk files, each a complete pcapng file that
// tshark or Wireshark can open. The chunk being written is named
// chunk_SEQ.open.pcapng; when it reaches the chunk size it is flushed,
// synced and renamed to chunk_SEQ_MIN_MAX_COUNT.pcapng, MIN and MAX being
// the earliest and latest packet time in it (Unix nanoseconds) and COUNT
// its packets. The name is the index: listing the directory tells every
// sealed chunk's time range, so a window query opens only the chunks it
// overlaps and no index file can go stale. Both times are kept, not just
// the first one, because imports of several files can append packets out
// of time order.
//
// The log holds each packet once. A packet is known by its time to the
// nanosecond and a hash of its link type, length and bytes; a Write of a
// packet the log already holds (the same capture imported again, or a
// capture overlapping one already logged) is counted and skipped. The
// check needs no index on disk: packets newer than every sealed chunk are
// checked against the open chunk's keys alone, and a sealed chunk's keys
// are read back from the file only when a packet falls in its time range,
// a few chunks' worth kept in memory (dedupe.go).
//
// When the files exceed the size cap the oldest chunks (lowest SEQ, i.e.
// first written) are deleted. The chunk being written is never deleted.
// DropBefore deletes the packets older than a time, for age retention:
// chunks entirely older are deleted, one straddling the time is rewritten
// (through a chunk_SEQ.trim.tmp file, renamed into place) without them.
//
// Crash safety: a crash can leave an open chunk whose last block is cut
// short, and loses what was still in the write buffer (Writer.Flush bounds
// that). Readers stop at the damage and keep what precedes it; the next
// Open of a Writer scans such a chunk, cuts the partial block off and
// seals it under its real time range.
//
// One Writer per directory: the package does not lock the directory
// against a second writing process.
package packetlog
