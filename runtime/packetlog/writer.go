package packetlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// ErrClosed is returned by Write and Flush after Close.
var ErrClosed = errors.New("packetlog: writer closed")

// writeBufferSize bounds what a crash can lose between flushes; pcapgo's
// NgWriter reuses a bufio.Writer of at least 4 KiB instead of wrapping it.
const writeBufferSize = 256 << 10

// Writer appends packets to the log, each packet once: a packet the log
// already holds (the same capture imported again, or an overlapping
// capture of the same traffic) is counted and skipped (see dedupe.go). It
// is safe for concurrent use, so several imports can be teed into one log.
type Writer struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu          sync.Mutex
	sealed      []chunkInfo // in write order
	sealedBytes int64
	cur         *activeChunk // nil until the next packet
	nextSeq     uint64
	closed      bool
	dedupe      dedupe
	counts      Counts
	// ops does the file work off the caller's goroutine (fileops.go);
	// started with the first chunk, stopped by Close.
	ops *fileOps
}

// Counts says what a Writer was given since it was opened.
type Counts struct {
	// Written is how many packets were appended, Duplicates how many were
	// skipped because the log already held them.
	Written, Duplicates int64
}

// Sub returns the counts since an earlier reading.
func (c Counts) Sub(before Counts) Counts {
	return Counts{Written: c.Written - before.Written, Duplicates: c.Duplicates - before.Duplicates}
}

// Counts returns what Write has appended and skipped since Open; take the
// difference of two readings (Counts.Sub) for one import.
func (w *Writer) Counts() Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts
}

// activeChunk is the open chunk file and its pcapng writer. Its buffered
// bytes reach the file through the Writer's fileOps.
type activeChunk struct {
	info   chunkInfo
	f      *os.File
	cw     *countingWriter
	bw     *bufio.Writer
	ng     *pcapgo.NgWriter
	ifaces map[layers.LinkType]int // interface index per link type
}

// size counts buffered bytes too: they are the chunk's, flushed or not.
func (a *activeChunk) size() int64 { return a.cw.n + int64(a.bw.Buffered()) }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Open opens (creating it if needed) the log in dir for appending. Chunks
// left open by a crashed writer are scanned, cut after their last complete
// packet and sealed; the log is then trimmed to opts.MaxBytes.
func Open(ctx context.Context, dir string, opts Options) (*Writer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("packetlog: creating %s: %w", dir, err)
	}
	chunks, err := listChunks(dir)
	if err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, opts: opts, log: opts.Logger, dedupe: newDedupe()}
	for _, c := range chunks {
		w.nextSeq = max(w.nextSeq, c.seq+1)
		if c.open {
			if c, err = w.recover(ctx, c); err != nil {
				return nil, err
			}
			if c.packets == 0 {
				continue
			}
		}
		w.sealed = append(w.sealed, c)
		w.sealedBytes += c.size
	}
	if err := w.evict(); err != nil {
		return nil, err
	}
	w.dedupe.bounds(w.sealed)
	return w, nil
}

// recover seals a chunk a previous writer left open.
func (w *Writer) recover(ctx context.Context, c chunkInfo) (chunkInfo, error) {
	info, good, damage, err := scanChunk(ctx, c.path)
	if err != nil {
		return chunkInfo{}, fmt.Errorf("packetlog: recovering %s: %w", c.path, err)
	}
	info.seq = c.seq
	if info.packets == 0 {
		w.log.Info("packetlog: removing empty chunk left open", "path", c.path, "damage", damage)
		if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return chunkInfo{}, fmt.Errorf("packetlog: removing empty chunk: %w", err)
		}
		return info, nil
	}
	if damage != nil {
		// Cut the partial block so the sealed file is a clean pcapng.
		w.log.Warn("packetlog: chunk left open ends in a damaged block; cutting it off", "path", c.path, "at", good, "packets_kept", info.packets, "err", damage)
		if err := os.Truncate(c.path, good); err != nil {
			return chunkInfo{}, fmt.Errorf("packetlog: cutting %s at byte %d: %w", c.path, good, err)
		}
		info.size = good
	} else {
		info.size = c.size
		w.log.Info("packetlog: sealing chunk left open", "path", c.path, "packets", info.packets)
	}
	info.path = filepath.Join(w.dir, sealedName(info))
	if err := os.Rename(c.path, info.path); err != nil {
		return chunkInfo{}, fmt.Errorf("packetlog: sealing %s: %w", c.path, err)
	}
	return info, nil
}

// Dir is the directory the log lives in.
func (w *Writer) Dir() string { return w.dir }

// Write appends one packet, unless the log already holds it. p.Data is
// copied into the write buffer, so it may be reused as soon as Write
// returns. A Length below the captured length (some writers leave it zero)
// is raised to it. The file is written by another goroutine; a failure to
// write an earlier packet, or to seal or evict a chunk, is returned by the
// next Write (or Flush, or Close).
func (w *Writer) Write(p capture.Packet) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.ops != nil {
		if err := w.ops.failed(); err != nil {
			return fmt.Errorf("packetlog: %w", err)
		}
	}
	var k packetKey
	if !w.opts.NoDedupe {
		k = w.dedupe.key(p)
		if w.holds(context.Background(), k) {
			w.counts.Duplicates++
			return nil
		}
	}
	ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(p.Data), Length: max(p.Length, len(p.Data))}
	// An enhanced packet block without options: 32 bytes around the
	// padded data.
	block := 32 + int64(len(p.Data)+3)&^3
	if w.cur != nil && w.cur.info.packets > 0 && w.cur.size()+block > w.opts.ChunkSize {
		if err := w.seal(); err != nil {
			return err
		}
	}
	if w.cur == nil {
		if err := w.startChunk(p.LinkType); err != nil {
			return err
		}
	}
	a := w.cur
	idx, ok := a.ifaces[p.LinkType]
	if !ok {
		var err error
		if idx, err = a.ng.AddInterface(ngInterface(p.LinkType)); err != nil {
			return fmt.Errorf("packetlog: %s: adding interface for link type %d: %w", a.info.path, p.LinkType, err)
		}
		a.ifaces[p.LinkType] = idx
	}
	ci.InterfaceIndex = idx
	if err := a.ng.WritePacket(ci, p.Data); err != nil {
		return fmt.Errorf("packetlog: %s: writing packet: %w", a.info.path, err)
	}
	a.info.add(p.Timestamp)
	if !w.opts.NoDedupe {
		w.dedupe.cur.add(k)
	}
	w.counts.Written++
	return w.evict()
}

func ngInterface(lt layers.LinkType) pcapgo.NgInterface {
	return pcapgo.NgInterface{
		Name:                capture.LinkTypeName(lt),
		Description:         "kubeshark packet log",
		LinkType:            lt,
		TimestampResolution: 9,
	}
}

func (w *Writer) startChunk(lt layers.LinkType) error {
	seq := w.nextSeq
	path := filepath.Join(w.dir, openName(seq))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("packetlog: creating chunk: %w", err)
	}
	a := &activeChunk{info: chunkInfo{seq: seq, path: path, open: true}, f: f, ifaces: map[layers.LinkType]int{lt: 0}}
	if w.ops == nil {
		w.ops = newFileOps(maxQueuedWrites)
	}
	a.cw = &countingWriter{w: queuedFile{q: w.ops, f: f}}
	a.bw = bufio.NewWriterSize(a.cw, writeBufferSize)
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "kubeshark packetlog"}}
	if a.ng, err = pcapgo.NewNgWriterInterface(a.bw, ngInterface(lt), opts); err != nil {
		w.ops.do(func() error {
			f.Close()
			os.Remove(path)
			return nil
		})
		return fmt.Errorf("packetlog: %s: writing pcapng header: %w", path, err)
	}
	w.nextSeq++
	w.cur = a
	return nil
}

// seal flushes the open chunk and queues its fsync, close and rename to
// a name carrying its time range; they happen in order with the chunk's
// writes and the file work queued after them (the next chunk's writes,
// evictions), so that the caller does not wait for the disk. A failure is
// reported by a later call (see Write). The chunk is dropped from the
// writer even on error, so that a failing disk does not make every later
// Write fail on it again.
func (w *Writer) seal() error {
	a := w.cur
	w.cur = nil
	if err := a.bw.Flush(); err != nil {
		a.f.Close()
		return fmt.Errorf("packetlog: sealing %s: %w", a.info.path, err)
	}
	info := a.info
	info.open, info.size = false, a.cw.n
	info.path = filepath.Join(w.dir, sealedName(info))
	noSync := w.opts.NoSync
	w.ops.do(func() error {
		var err error
		if !noSync {
			err = a.f.Sync()
		}
		if cerr := a.f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(a.info.path, info.path)
		}
		if err != nil {
			return fmt.Errorf("sealing %s: %w", a.info.path, err)
		}
		return nil
	})
	w.sealed = append(w.sealed, info)
	w.sealedBytes += info.size
	w.dedupe.sealed(info.seq)
	w.dedupe.bounds(w.sealed)
	return nil
}

// evict deletes the oldest sealed chunks while the log is over its cap.
func (w *Writer) evict() error {
	total := w.sealedBytes
	if w.cur != nil {
		total += w.cur.size()
	}
	for total > w.opts.MaxBytes && len(w.sealed) > 0 {
		c := w.sealed[0]
		remove := func() error {
			if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("evicting %s: %w", c.path, err)
			}
			return nil
		}
		if w.ops == nil {
			// Open trimming what an earlier writer left.
			if err := remove(); err != nil {
				return fmt.Errorf("packetlog: %w", err)
			}
		} else {
			w.ops.do(remove)
		}
		w.log.Debug("packetlog: evicted chunk", "path", c.path, "bytes", c.size, "packets", c.packets)
		w.sealed = w.sealed[1:]
		w.sealedBytes -= c.size
		total -= c.size
		w.dedupe.evicted(c.seq)
		w.dedupe.bounds(w.sealed)
	}
	return nil
}

// Dropped says what DropBefore deleted.
type Dropped struct {
	Packets, Bytes int64
	Chunks         int
}

// DropBefore deletes the packets older than cutoff, for age retention, and
// reports what went. Chunks entirely older are deleted; a chunk that
// straddles the cutoff is rewritten without its older packets. The open
// chunk is sealed first when it holds older packets, so that an import of
// an old capture does not keep its packets past the limit.
func (w *Writer) DropBefore(cutoff time.Time) (Dropped, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var d Dropped
	if w.closed {
		return d, ErrClosed
	}
	if w.cur != nil && w.cur.info.packets > 0 && w.cur.info.min.Before(cutoff) {
		if err := w.seal(); err != nil {
			return d, err
		}
	}
	// The sealed chunks are read and removed here: their files must be
	// as the queue leaves them.
	if err := w.settled(); err != nil {
		return d, err
	}
	kept := w.sealed[:0]
	var err error
	for _, c := range w.sealed {
		if err != nil || c.packets == 0 || !c.min.Before(cutoff) {
			kept = append(kept, c)
			continue
		}
		nc := chunkInfo{}
		if !c.max.Before(cutoff) {
			var terr error
			if nc, terr = w.trim(c, cutoff); terr != nil {
				err = terr
				kept = append(kept, c)
				continue
			}
		}
		if rerr := os.Remove(c.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = fmt.Errorf("packetlog: dropping %s: %w", c.path, rerr)
			kept = append(kept, c)
			continue
		}
		w.dedupe.evicted(c.seq)
		d.Packets += c.packets - nc.packets
		d.Bytes += c.size - nc.size
		w.sealedBytes -= c.size - nc.size
		if nc.packets > 0 {
			kept = append(kept, nc)
		} else {
			d.Chunks++
		}
	}
	clear(w.sealed[len(kept):])
	w.sealed = kept
	w.dedupe.bounds(w.sealed)
	return d, err
}

// trim writes the packets of sealed chunk c at or after cutoff to a new
// chunk file with the same seq and returns it; c's file is left for the
// caller to delete. A chunk left with no packet is returned empty, with
// no file.
func (w *Writer) trim(c chunkInfo, cutoff time.Time) (chunkInfo, error) {
	cr, err := openChunk(c.path)
	if err != nil {
		return chunkInfo{}, fmt.Errorf("packetlog: trimming %s: %w", c.path, err)
	}
	defer cr.close()
	tmp := filepath.Join(w.dir, fmt.Sprintf("%s%010d.trim.tmp", chunkPrefix, c.seq))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return chunkInfo{}, fmt.Errorf("packetlog: trimming %s: %w", c.path, err)
	}
	fail := func(err error) (chunkInfo, error) {
		f.Close()
		os.Remove(tmp)
		return chunkInfo{}, fmt.Errorf("packetlog: trimming %s: %w", c.path, err)
	}
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, writeBufferSize)
	var ng *pcapgo.NgWriter
	ifaces := map[layers.LinkType]int{}
	info := chunkInfo{seq: c.seq}
	for {
		p, err := cr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A sealed chunk ends cleanly; keep what precedes damage.
			w.log.Warn("packetlog: damaged chunk trimmed up to the damage", "err", err)
			break
		}
		if p.Timestamp.Before(cutoff) {
			continue
		}
		if ng == nil {
			opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "kubeshark packetlog"}}
			if ng, err = pcapgo.NewNgWriterInterface(bw, ngInterface(p.LinkType), opts); err != nil {
				return fail(err)
			}
			ifaces[p.LinkType] = 0
		}
		idx, ok := ifaces[p.LinkType]
		if !ok {
			if idx, err = ng.AddInterface(ngInterface(p.LinkType)); err != nil {
				return fail(err)
			}
			ifaces[p.LinkType] = idx
		}
		ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(p.Data), Length: max(p.Length, len(p.Data)), InterfaceIndex: idx}
		if err := ng.WritePacket(ci, p.Data); err != nil {
			return fail(err)
		}
		info.add(p.Timestamp)
	}
	if info.packets == 0 {
		f.Close()
		os.Remove(tmp)
		return chunkInfo{seq: c.seq}, nil
	}
	err = ng.Flush()
	if err == nil && !w.opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return chunkInfo{}, fmt.Errorf("packetlog: trimming %s: %w", c.path, err)
	}
	info.size = cw.n
	info.path = filepath.Join(w.dir, sealedName(info))
	if err := os.Rename(tmp, info.path); err != nil {
		os.Remove(tmp)
		return chunkInfo{}, fmt.Errorf("packetlog: trimming %s: %w", c.path, err)
	}
	return info, nil
}

// Flush writes buffered packets to the open chunk file, and waits for
// the file work queued before (sealed chunks renamed, evicted ones
// removed), so that readers (including ones in other processes) see them
// and a crash cannot lose them.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// Push hands the buffered packets to the goroutine that writes the file,
// without waiting for them to reach it: readers see them moments later.
// A live source's tee pushes whenever the source is idle, which under
// load is several times a second; waiting there for the disk would stop
// the reading of packets each time.
func (w *Writer) Push() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.cur == nil {
		return nil
	}
	if err := w.cur.bw.Flush(); err != nil {
		return fmt.Errorf("packetlog: flushing %s: %w", w.cur.info.path, err)
	}
	if err := w.ops.failed(); err != nil {
		return fmt.Errorf("packetlog: %w", err)
	}
	return nil
}

func (w *Writer) flushLocked() error {
	if w.closed {
		return ErrClosed
	}
	if w.cur != nil {
		if err := w.cur.bw.Flush(); err != nil {
			return fmt.Errorf("packetlog: flushing %s: %w", w.cur.info.path, err)
		}
	}
	return w.settled()
}

// settled waits for the queued file work and returns its unreported
// failure.
func (w *Writer) settled() error {
	if w.ops == nil {
		return nil
	}
	if err := w.ops.wait(); err != nil {
		return fmt.Errorf("packetlog: %w", err)
	}
	return nil
}

// Close seals the open chunk. Later Writes fail with ErrClosed; Readers
// keep working.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var err error
	if w.cur != nil {
		err = w.seal()
	}
	if w.ops != nil {
		if cerr := w.ops.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("packetlog: %w", cerr))
		}
	}
	return err
}

// snapshot flushes and returns the chunks as they are now, the open one
// last with its in-memory time range.
func (w *Writer) snapshot() ([]chunkInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append([]chunkInfo(nil), w.sealed...)
	if w.closed || w.cur == nil {
		return out, nil
	}
	if err := w.flushLocked(); err != nil {
		return nil, err
	}
	info := w.cur.info
	info.size = w.cur.cw.n
	return append(out, info), nil
}
