package capture

import (
	"io"
	"sync/atomic"
)

// countingReader counts the bytes that pass through it. Reading the pcap
// through it (with the bufio.Reader above it subtracting what it has
// buffered) is how record offsets are known without forking pcapgo.
type countingReader struct {
	r io.Reader
	n atomic.Int64 // atomic: Progress is read from a progress-bar goroutine
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
