package packetlog

import (
	"fmt"
	"log/slog"
)

// Defaults for Options: 16 MiB chunks make eviction fine-grained (1/64 of
// the default cap) while keeping the file count of a full log small.
const (
	DefaultChunkSize int64 = 16 << 20
	DefaultMaxBytes  int64 = 1 << 30
)

// Options configures a Writer (and the logging of a Reader). The zero value
// uses the defaults.
type Options struct {
	// ChunkSize is the size at which a chunk file is sealed and the next one
	// started. A chunk exceeds it only when a single packet does.
	ChunkSize int64
	// MaxBytes caps the total size of the chunk files; the oldest chunks are
	// deleted to stay below it. It must be at least ChunkSize.
	MaxBytes int64
	// NoDedupe skips the duplicate check of Write: for a writer whose
	// packets cannot already be in the log (a live capture's, always newer
	// than what the log holds, its local duplicates dropped by the
	// source), the check only hashed every byte and kept the keys of up
	// to 2M packets (23 MB live in tap's 30-minute soak).
	NoDedupe bool
	// NoSync skips the fsync when a chunk is sealed, trading durability of
	// the sealed chunks on power loss for speed (tests, tmpfs, and live
	// capture, whose log turns over in seconds under load).
	NoSync bool
	// Logger receives recovery and eviction notices and damaged-chunk
	// warnings; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < o.ChunkSize {
		return o, fmt.Errorf("packetlog: MaxBytes %d is below ChunkSize %d", o.MaxBytes, o.ChunkSize)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
