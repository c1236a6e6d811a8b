package packetlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// Window is the half-open time range [Since, Until). A zero Since means
// from the oldest packet, a zero Until up to the newest.
type Window struct {
	Since, Until time.Time
}

// Contains reports whether t falls in the window.
func (w Window) Contains(t time.Time) bool {
	return (w.Since.IsZero() || !t.Before(w.Since)) && (w.Until.IsZero() || t.Before(w.Until))
}

// overlaps reports whether a chunk holding packets from lo to hi
// (inclusive) can have any in the window.
func (w Window) overlaps(lo, hi time.Time) bool {
	return (w.Until.IsZero() || lo.Before(w.Until)) && (w.Since.IsZero() || !hi.Before(w.Since))
}

// Reader reads the log. It is safe for concurrent use; each Packets call
// or Export has its own position.
type Reader struct {
	dir  string
	live *Writer // nil: read what is on disk
	log  *slog.Logger
}

// NewReader reads the log in dir as it is on disk, for example one written
// by another process or left by a crashed one (whose open chunk is read up
// to its damage). Only opts.Logger is used.
func NewReader(dir string, opts Options) *Reader {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{dir: dir, log: log}
}

// Reader returns a Reader of this writer's log that first flushes the
// writer, so that it sees every packet written before each call, and takes
// the open chunk's time range from memory instead of scanning it.
func (w *Writer) Reader() *Reader {
	return &Reader{dir: w.dir, live: w, log: w.log}
}

// chunks lists the chunks in write order with their time ranges.
func (r *Reader) chunks(ctx context.Context) ([]chunkInfo, error) {
	if r.live != nil {
		return r.live.snapshot()
	}
	cs, err := listChunks(r.dir)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		if !c.open {
			continue
		}
		// Written by another process or left by a crash: only a scan
		// tells what it holds. It is at most one chunk size.
		info, _, _, err := scanChunk(ctx, c.path)
		if errors.Is(err, os.ErrNotExist) {
			continue // sealed or evicted meanwhile; listed again on retry
		}
		if err != nil {
			return nil, fmt.Errorf("packetlog: scanning %s: %w", c.path, err)
		}
		info.seq, info.open, info.size = c.seq, true, c.size
		cs[i] = info
	}
	return cs, nil
}

// Bounds summarises what the log holds.
type Bounds struct {
	// Oldest and Newest are the earliest and latest packet times held;
	// both are zero for an empty log.
	Oldest, Newest time.Time
	// Bytes is the size of the chunk files, Packets the packets in them,
	// Chunks the number of files.
	Bytes, Packets int64
	Chunks         int
}

// Boundaries reports the time range, size and packet count of the log.
// It reads only file names, plus, for a Reader not made by a Writer, the
// chunk left open.
func (r *Reader) Boundaries(ctx context.Context) (Bounds, error) {
	cs, err := r.chunks(ctx)
	if err != nil {
		return Bounds{}, err
	}
	var b Bounds
	for _, c := range cs {
		b.Bytes += c.size
		b.Chunks++
		if c.packets == 0 {
			continue
		}
		if b.Packets == 0 || c.min.Before(b.Oldest) {
			b.Oldest = c.min
		}
		if b.Packets == 0 || c.max.After(b.Newest) {
			b.Newest = c.max
		}
		b.Packets += c.packets
	}
	return b, nil
}

// Packets returns a capture.Source of the packets whose time falls in
// win, in the order they were written (which, for imports of several
// files, need not be time order). Chunks evicted while it runs are
// skipped; a damaged chunk ends at its damage with a warning logged.
func (r *Reader) Packets(ctx context.Context, win Window) (*Cursor, error) {
	cs, err := r.chunks(ctx)
	if err != nil {
		return nil, err
	}
	c := &Cursor{r: r, win: win}
	for _, ch := range cs {
		if ch.packets > 0 && win.overlaps(ch.min, ch.max) {
			c.chunks = append(c.chunks, ch)
		}
	}
	return c, nil
}

// Cursor iterates packets of the log; it implements capture.Source and,
// like other sources, is for one goroutine.
type Cursor struct {
	r      *Reader
	win    Window
	chunks []chunkInfo
	cur    *chunkReader
	info   chunkInfo
}

var _ capture.Source = (*Cursor)(nil)

// Next returns the next packet in the window or io.EOF. Data is valid
// until the next call.
func (c *Cursor) Next(ctx context.Context) (capture.Packet, error) {
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return capture.Packet{}, err
			}
		}
		if c.cur == nil {
			if len(c.chunks) == 0 {
				return capture.Packet{}, io.EOF
			}
			c.info, c.chunks = c.chunks[0], c.chunks[1:]
			cr, err := c.open(c.info)
			if err != nil {
				return capture.Packet{}, err
			}
			if cr == nil {
				continue // evicted
			}
			c.cur = cr
		}
		p, err := c.cur.next()
		if err == nil {
			if c.win.Contains(p.Timestamp) {
				return p, nil
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			// A chunk being written can end in a block flushed only in part;
			// anywhere else a partial block is damage worth reporting.
			if !c.info.open {
				c.r.log.Warn("packetlog: damaged chunk read up to the damage", "err", err)
			}
		}
		c.cur.close()
		c.cur = nil
	}
}

// open opens a chunk, following it if it was sealed (renamed) since it
// was listed; (nil, nil) means it was evicted.
func (c *Cursor) open(info chunkInfo) (*chunkReader, error) {
	cr, err := openChunk(info.path)
	if errors.Is(err, os.ErrNotExist) && info.open {
		cs, lerr := listChunks(c.r.dir)
		if lerr != nil {
			return nil, lerr
		}
		for _, ch := range cs {
			if ch.seq == info.seq {
				cr, err = openChunk(ch.path)
				break
			}
		}
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case errors.Is(err, errDamaged):
		c.r.log.Warn("packetlog: skipping damaged chunk", "err", err)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("packetlog: opening chunk: %w", err)
	}
	return cr, nil
}

// Close releases the chunk being read.
func (c *Cursor) Close() error {
	c.chunks = nil
	if c.cur == nil {
		return nil
	}
	err := c.cur.close()
	c.cur = nil
	return err
}

// Export writes the packets of win that match (all of them if match is
// nil) to out as one pcapng file with an interface per link type, in the
// order they were written, and returns how many it wrote. A window with
// no packet still yields a valid (empty) pcapng file. On error (for
// example a cancelled ctx) out may hold a partial file.
func (r *Reader) Export(ctx context.Context, out io.Writer, win Window, match func(capture.Packet) bool) (n int, err error) {
	cur, err := r.Packets(ctx, win)
	if err != nil {
		return 0, err
	}
	defer cur.Close()
	var ng *pcapgo.NgWriter
	ifaces := map[layers.LinkType]int{}
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "kubeshark packetlog export"}}
	for {
		p, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		if match != nil && !match(p) {
			continue
		}
		if ng == nil {
			if ng, err = pcapgo.NewNgWriterInterface(out, ngInterface(p.LinkType), opts); err != nil {
				return n, fmt.Errorf("packetlog: export: writing pcapng header: %w", err)
			}
			ifaces[p.LinkType] = 0
		}
		idx, ok := ifaces[p.LinkType]
		if !ok {
			if idx, err = ng.AddInterface(ngInterface(p.LinkType)); err != nil {
				return n, fmt.Errorf("packetlog: export: adding interface for link type %d: %w", p.LinkType, err)
			}
			ifaces[p.LinkType] = idx
		}
		ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(p.Data), Length: max(p.Length, len(p.Data)), InterfaceIndex: idx}
		if err := ng.WritePacket(ci, p.Data); err != nil {
			return n, fmt.Errorf("packetlog: export: writing packet: %w", err)
		}
		n++
	}
	if ng == nil {
		// pcapgo always writes one interface; Ethernet is as good as any
		// for a file without packets.
		if ng, err = pcapgo.NewNgWriterInterface(out, ngInterface(layers.LinkTypeEthernet), opts); err != nil {
			return 0, fmt.Errorf("packetlog: export: writing pcapng header: %w", err)
		}
	}
	if err := ng.Flush(); err != nil {
		return n, fmt.Errorf("packetlog: export: %w", err)
	}
	return n, nil
}
