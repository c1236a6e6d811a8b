package capture

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/gzip"
)

// readBufferSize is large enough that bufio.NewReader inside pcapgo reuses
// our reader instead of wrapping it again (it only does so below 4096), and
// large enough to amortise syscalls on multi-gigabyte captures.
const readBufferSize = 256 << 10

var (
	magicGzip   = []byte{0x1f, 0x8b}
	magicPcapng = []byte{0x0a, 0x0d, 0x0d, 0x0a}
	pcapMagics  = [][]byte{
		{0xd4, 0xc3, 0xb2, 0xa1}, // microseconds, little endian
		{0xa1, 0xb2, 0xc3, 0xd4}, // microseconds, big endian
		{0x4d, 0x3c, 0xb2, 0xa1}, // nanoseconds, little endian
		{0xa1, 0xb2, 0x3c, 0x4d}, // nanoseconds, big endian
	}
)

// packetReader is what pcapgo's Reader and NgReader have in common.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// FileSource reads a pcap or pcapng file, possibly gzip-compressed.
// It is not safe for concurrent use, except Progress.
type FileSource struct {
	path string

	file  io.Closer
	gz    *gzip.Reader
	raw   *countingReader // compressed bytes, for Progress
	total int64

	// Offsets are dec.n - br.Buffered(): what the record parser has consumed.
	dec *countingReader
	br  *bufio.Reader

	rd       packetReader
	ng       bool
	linkType layers.LinkType // of a classic pcap; pcapng says per packet

	reported map[layers.LinkType]bool // unsupported pcapng link types already reported
	err      error                    // sticky: the stream cannot be resynchronised
}

var _ Source = (*FileSource)(nil)

// OpenFile opens a capture file, recognising its format by its first bytes.
// Errors wrap ErrNotCapture, ErrUnsupportedLinkType (classic pcap only;
// pcapng reports it per packet from Next), ErrTruncated, ErrCorrupt, or the
// os error for a missing or unreadable file.
func OpenFile(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError already names the file
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	s, err := newSource(path, f, f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// NewSource reads a capture from r (for example standard input); name is
// used in error messages. Progress reports a total of 0 since it is unknown.
func NewSource(name string, r io.Reader) (*FileSource, error) {
	return newSource(name, r, nil, 0)
}

func newSource(path string, r io.Reader, closer io.Closer, size int64) (*FileSource, error) {
	s := &FileSource{path: path, file: closer, total: size, raw: &countingReader{r: r}}
	s.dec = s.raw
	s.br = bufio.NewReaderSize(s.raw, readBufferSize)

	head, _ := s.br.Peek(len(magicGzip))
	compressed := bytes.Equal(head, magicGzip)
	if compressed {
		gz, err := gzip.NewReader(s.br)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, &TruncatedError{Path: path, Offset: 0, Err: fmt.Errorf("gzip header: %w", io.ErrUnexpectedEOF)}
			}
			return nil, fmt.Errorf("%s: gzip: %w", path, err)
		}
		s.gz = gz
		s.dec = &countingReader{r: gz}
		s.br = bufio.NewReaderSize(s.dec, readBufferSize)
	}

	head, err := s.br.Peek(8)
	if len(head) < 4 {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(head) > 0 && isMagicPrefix(head) {
			return nil, &TruncatedError{Path: path, Offset: 0, Err: fmt.Errorf("file header: %w", io.ErrUnexpectedEOF)}
		}
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotCapture, describeStart(head, compressed))
	}

	switch {
	case bytes.Equal(head[:4], magicPcapng):
		ng, err := pcapgo.NewNgReader(s.br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, s.headerError("pcapng", err)
		}
		s.rd, s.ng = ng, true
		s.reported = make(map[layers.LinkType]bool)
	case isPcapMagic(head[:4]):
		pr, err := pcapgo.NewReader(s.br)
		if err != nil {
			return nil, s.headerError("pcap", err)
		}
		s.rd, s.linkType = pr, pr.LinkType()
		if !Supported(s.linkType) {
			return nil, unsupportedLinkType(path, s.linkType)
		}
	default:
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotCapture, describeStart(head, compressed))
	}
	return s, nil
}

func isPcapMagic(b []byte) bool {
	for _, m := range pcapMagics {
		if bytes.Equal(b, m) {
			return true
		}
	}
	return false
}

// isMagicPrefix reports whether a file shorter than a magic number starts
// like a capture, which makes it a truncated capture rather than a stranger.
func isMagicPrefix(b []byte) bool {
	for _, m := range append(pcapMagics, magicPcapng) {
		if bytes.HasPrefix(m, b) {
			return true
		}
	}
	return false
}

// describeStart shows the first bytes of a rejected file the way a person
// would recognise them: text stays text, binary is escaped by %q.
func describeStart(head []byte, compressed bool) string {
	prefix := ""
	if compressed {
		prefix = "gzip-compressed, "
	}
	if len(head) == 0 {
		return prefix + "empty"
	}
	return fmt.Sprintf("%sstarts with %q", prefix, head)
}

func (s *FileSource) headerError(format string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &TruncatedError{Path: s.path, Offset: 0, Err: fmt.Errorf("%s file header: %w", format, io.ErrUnexpectedEOF)}
	}
	return fmt.Errorf("%s: %s file header: %w: %w", s.path, format, ErrCorrupt, err)
}

// offset is how far into the decompressed stream pcapgo has parsed.
func (s *FileSource) offset() int64 { return s.dec.n.Load() - int64(s.br.Buffered()) }

// Next returns the next packet. After a *TruncatedError or an ErrCorrupt
// error every further call returns the same error. An ErrUnsupportedLinkType
// error (pcapng only) is reported once per link type and is not fatal: the
// next call goes on with the packets of other interfaces.
func (s *FileSource) Next(ctx context.Context) (Packet, error) {
	if s.err != nil {
		return Packet{}, s.err
	}
	if err := ctx.Err(); err != nil {
		return Packet{}, err
	}
	for {
		start := s.offset()
		data, ci, err := s.rd.ZeroCopyReadPacketData()
		if err != nil {
			s.err = s.readError(start, err)
			return Packet{}, s.err
		}
		lt := s.linkType
		if s.ng {
			if len(ci.AncillaryData) > 0 {
				lt, _ = ci.AncillaryData[0].(layers.LinkType)
			}
			if !Supported(lt) {
				if s.reported[lt] {
					continue
				}
				s.reported[lt] = true
				return Packet{}, fmt.Errorf("packet at byte %d: %w", start, unsupportedLinkType(s.path, lt))
			}
		}
		return Packet{
			Timestamp:     ci.Timestamp,
			Data:          data,
			LinkType:      lt,
			CaptureLength: ci.CaptureLength,
			Length:        ci.Length,
			Offset:        start,
		}, nil
	}
}

// readError classifies a pcapgo read error. For classic pcap, pcapgo returns
// a bare io.EOF both at a clean end and, for records over 256 KiB, when the
// data after a complete record header is missing, so a moved offset tells
// them apart. NgReader only returns io.EOF at a block boundary, possibly
// after consuming trailing non-packet blocks, so its io.EOF is always clean.
func (s *FileSource) readError(start int64, err error) error {
	switch {
	case errors.Is(err, io.EOF) && (s.ng || s.offset() == start):
		return io.EOF
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &TruncatedError{Path: s.path, Offset: start, Err: io.ErrUnexpectedEOF}
	case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("%s: at byte %d: %w", s.path, start, err)
	default:
		return fmt.Errorf("%s: record at byte %d: %w: %w", s.path, start, ErrCorrupt, err)
	}
}

// Progress reports compressed bytes read so far and the file size, for a
// progress bar. It is safe to call from another goroutine. Because of read
// buffering, read runs ahead of the packets returned by up to 256 KiB.
func (s *FileSource) Progress() (read, total int64) {
	return s.raw.n.Load(), s.total
}

// Close closes the file. It does not close a reader given to NewSource.
func (s *FileSource) Close() error {
	var err error
	if s.gz != nil {
		err = s.gz.Close()
	}
	if s.file != nil {
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
