package packetlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

const (
	chunkPrefix = "chunk_"
	openSuffix  = ".open.pcapng"
	chunkSuffix = ".pcapng"
)

// chunkInfo describes one chunk file. For a sealed chunk it all comes from
// the file name; for an open one from the Writer or from a scan.
type chunkInfo struct {
	seq      uint64
	path     string
	open     bool
	min, max time.Time // zero when the chunk holds no packet
	packets  int64
	size     int64
}

func openName(seq uint64) string {
	return fmt.Sprintf("%s%010d%s", chunkPrefix, seq, openSuffix)
}

func sealedName(c chunkInfo) string {
	return fmt.Sprintf("%s%010d_%d_%d_%d%s", chunkPrefix, c.seq, c.min.UnixNano(), c.max.UnixNano(), c.packets, chunkSuffix)
}

// parseName recognises a chunk file name; other files in the directory are
// not the log's and are left alone.
func parseName(name string) (chunkInfo, bool) {
	if !strings.HasPrefix(name, chunkPrefix) {
		return chunkInfo{}, false
	}
	if rest, ok := strings.CutSuffix(name[len(chunkPrefix):], openSuffix); ok {
		seq, err := strconv.ParseUint(rest, 10, 64)
		return chunkInfo{seq: seq, open: true}, err == nil
	}
	rest, ok := strings.CutSuffix(name[len(chunkPrefix):], chunkSuffix)
	if !ok {
		return chunkInfo{}, false
	}
	f := strings.Split(rest, "_")
	if len(f) != 4 {
		return chunkInfo{}, false
	}
	seq, err1 := strconv.ParseUint(f[0], 10, 64)
	lo, err2 := strconv.ParseInt(f[1], 10, 64)
	hi, err3 := strconv.ParseInt(f[2], 10, 64)
	n, err4 := strconv.ParseInt(f[3], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil || n <= 0 {
		return chunkInfo{}, false
	}
	return chunkInfo{seq: seq, min: time.Unix(0, lo).UTC(), max: time.Unix(0, hi).UTC(), packets: n}, true
}

// listChunks returns the chunk files of dir in write order. Open chunks
// come back with only seq, path and size filled in.
func listChunks(dir string) ([]chunkInfo, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		// Nothing was ever logged here (imports with --packets-size 0, a
		// new data directory): an empty log, not an error.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("packetlog: listing %s: %w", dir, err)
	}
	var out []chunkInfo
	for _, e := range ents {
		c, ok := parseName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		st, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // evicted or sealed since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("packetlog: stat %s: %w", e.Name(), err)
		}
		c.path, c.size = filepath.Join(dir, e.Name()), st.Size()
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b chunkInfo) int {
		if a.seq != b.seq {
			return cmpUint(a.seq, b.seq)
		}
		// A chunk sealed between ReadDir's entries can show up twice;
		// prefer the sealed name, which then sorts first and wins below.
		return boolRank(a.open) - boolRank(b.open)
	})
	return slices.CompactFunc(out, func(a, b chunkInfo) bool { return a.seq == b.seq }), nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readBufferSize matches runtime/capture's: pcapgo reuses a bufio.Reader at
// least this large instead of wrapping it again, which keeps offsets exact.
const readBufferSize = 256 << 10

// countingReader counts the bytes read from the file, so that with the
// bufio.Reader's buffered count the offset of each block is known.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// errDamaged marks a chunk that ends in a partial or inconsistent block:
// everything before it was read, nothing after it can be.
var errDamaged = errors.New("damaged chunk")

// chunkReader reads the packets of one chunk file. The log's own files are
// read with pcapgo directly rather than capture.FileSource so that packets
// of any link type come back, not only those runtime/decode supports.
type chunkReader struct {
	path string
	f    *os.File
	cr   *countingReader
	br   *bufio.Reader
	ng   *pcapgo.NgReader // nil: the file ended inside its section header
	good int64            // offset just past the last complete packet block
}

func openChunk(path string) (*chunkReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file; callers test ErrNotExist
	}
	c := &chunkReader{path: path, f: f, cr: &countingReader{r: f}}
	c.br = bufio.NewReaderSize(c.cr, readBufferSize)
	c.ng, err = pcapgo.NewNgReader(c.br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	switch {
	case err == nil:
		c.good = c.offset()
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		c.ng = nil // an empty or cut section header: a chunk without packets
	default:
		f.Close()
		return nil, fmt.Errorf("packetlog: %s: section header: %w: %w", path, errDamaged, err)
	}
	return c, nil
}

func (c *chunkReader) offset() int64 { return c.cr.n - int64(c.br.Buffered()) }

// next returns the next packet, io.EOF at a clean end, or an error
// wrapping errDamaged. Data is valid until the following call.
func (c *chunkReader) next() (capture.Packet, error) {
	if c.ng == nil {
		return capture.Packet{}, io.EOF
	}
	start := c.offset()
	data, ci, err := c.ng.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return capture.Packet{}, io.EOF
		}
		return capture.Packet{}, fmt.Errorf("packetlog: %s: block at byte %d: %w: %w", c.path, start, errDamaged, err)
	}
	c.good = c.offset()
	lt := layers.LinkTypeEthernet
	if len(ci.AncillaryData) > 0 {
		lt, _ = ci.AncillaryData[0].(layers.LinkType)
	}
	return capture.Packet{
		Timestamp:     ci.Timestamp.UTC(),
		Data:          data,
		LinkType:      lt,
		CaptureLength: ci.CaptureLength,
		Length:        ci.Length,
		Offset:        start,
	}, nil
}

func (c *chunkReader) close() error { return c.f.Close() }

// scanChunk reads a whole chunk for its time range and count. damage is
// nil for a clean chunk; otherwise good is where the intact part ends.
func scanChunk(ctx context.Context, path string) (info chunkInfo, good int64, damage error, err error) {
	c, err := openChunk(path)
	if errors.Is(err, errDamaged) {
		return chunkInfo{path: path}, 0, err, nil
	}
	if err != nil {
		return chunkInfo{}, 0, nil, err
	}
	defer c.close()
	info.path = path
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return chunkInfo{}, 0, nil, err
			}
		}
		p, err := c.next()
		if errors.Is(err, io.EOF) {
			return info, c.good, nil, nil
		}
		if err != nil {
			return info, c.good, err, nil
		}
		info.add(p.Timestamp)
	}
}

// add accounts one packet of time t.
func (c *chunkInfo) add(t time.Time) {
	if c.packets == 0 || t.Before(c.min) {
		c.min = t
	}
	if c.packets == 0 || t.After(c.max) {
		c.max = t
	}
	c.packets++
}
