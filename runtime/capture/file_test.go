package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/gzip"
)

// frames are arbitrary bytes: capture does not look inside them.
var frames = [][]byte{
	bytes.Repeat([]byte{0xaa}, 60),
	bytes.Repeat([]byte{0xbb}, 1514),
	bytes.Repeat([]byte{0xcc}, 7),
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)

func writePcap(t *testing.T, nanos bool, lt layers.LinkType) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w *pcapgo.Writer
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	} else {
		w = pcapgo.NewWriter(&buf)
	}
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Second), CaptureLength: len(f), Length: len(f) + i}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// bigEndian rewrites a little-endian pcap as a big-endian one, which pcapgo
// cannot write but SPARC and PowerPC machines did.
func bigEndian(le []byte) []byte {
	be := append([]byte(nil), le...)
	swap32 := func(b []byte) { binary.BigEndian.PutUint32(b, binary.LittleEndian.Uint32(b)) }
	swap16 := func(b []byte) { binary.BigEndian.PutUint16(b, binary.LittleEndian.Uint16(b)) }
	swap32(be[0:4])
	swap16(be[4:6])
	swap16(be[6:8])
	for _, o := range []int{8, 12, 16, 20} {
		swap32(be[o : o+4])
	}
	for off := 24; off < len(be); {
		for _, o := range []int{0, 4, 8, 12} {
			swap32(be[off+o : off+o+4])
		}
		off += 16 + int(binary.BigEndian.Uint32(be[off+8:off+12]))
	}
	return be
}

func writePcapng(t *testing.T, lts ...layers.LinkType) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "if0", LinkType: lts[0], SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, lt := range lts[1:] {
		if _, err := w.AddInterface(pcapgo.NgInterface{Name: "ifn", LinkType: lt, SnapLength: 65535}); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Second), CaptureLength: len(f), Length: len(f) + i, InterfaceIndex: i % len(lts)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll drains a source, returning copies of the packets and the final
// error (nil for a clean io.EOF).
func readAll(t *testing.T, s Source) ([]Packet, error) {
	t.Helper()
	var out []Packet
	for {
		p, err := s.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		p.Data = append([]byte(nil), p.Data...)
		out = append(out, p)
	}
}

func TestOpenFileFormats(t *testing.T) {
	tests := []struct {
		name      string
		data      func(t *testing.T) []byte
		linkTypes []layers.LinkType // per packet
		nanos     bool
	}{
		{"pcap micro", func(t *testing.T) []byte { return writePcap(t, false, layers.LinkTypeEthernet) }, []layers.LinkType{1, 1, 1}, false},
		{"pcap nano", func(t *testing.T) []byte { return writePcap(t, true, layers.LinkTypeLinuxSLL) }, []layers.LinkType{113, 113, 113}, true},
		{"pcap big endian micro", func(t *testing.T) []byte { return bigEndian(writePcap(t, false, layers.LinkTypeRaw)) }, []layers.LinkType{101, 101, 101}, false},
		{"pcap big endian nano", func(t *testing.T) []byte { return bigEndian(writePcap(t, true, layers.LinkTypeNull)) }, []layers.LinkType{0, 0, 0}, true},
		{"pcap gzip", func(t *testing.T) []byte { return gz(t, writePcap(t, true, layers.LinkTypeLinuxSLL2)) }, []layers.LinkType{276, 276, 276}, true},
		{"pcapng one interface", func(t *testing.T) []byte { return writePcapng(t, layers.LinkTypeEthernet) }, []layers.LinkType{1, 1, 1}, true},
		{"pcapng mixed interfaces", func(t *testing.T) []byte {
			return writePcapng(t, layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeIPv6)
		}, []layers.LinkType{1, 113, 229}, true},
		{"pcapng gzip", func(t *testing.T) []byte { return gz(t, writePcapng(t, layers.LinkTypeLoop, layers.LinkTypeIPv4)) }, []layers.LinkType{108, 228, 108}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.data(t)
			// A misleading extension proves detection is by content.
			path := writeFile(t, "capture.txt", raw)
			s, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			pkts, err := readAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkts) != len(frames) {
				t.Fatalf("got %d packets, want %d", len(pkts), len(frames))
			}
			for i, p := range pkts {
				if !bytes.Equal(p.Data, frames[i]) {
					t.Errorf("packet %d: data differs", i)
				}
				if p.LinkType != tt.linkTypes[i] {
					t.Errorf("packet %d: link type %d, want %d", i, p.LinkType, tt.linkTypes[i])
				}
				if p.CaptureLength != len(frames[i]) || p.Length != len(frames[i])+i {
					t.Errorf("packet %d: lengths %d/%d", i, p.CaptureLength, p.Length)
				}
				want := t0.Add(time.Duration(i) * time.Second)
				if !tt.nanos {
					want = want.Truncate(time.Microsecond)
				}
				if !p.Timestamp.Equal(want) {
					t.Errorf("packet %d: timestamp %v, want %v", i, p.Timestamp, want)
				}
			}
			read, total := s.Progress()
			if read != total || total != int64(len(raw)) {
				t.Errorf("progress %d/%d, want %d/%d", read, total, len(raw), len(raw))
			}
		})
	}
}

func TestOpenFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		want    error
		message string
	}{
		{"text", []byte("hello world, this is not a capture"), ErrNotCapture, `x: not a pcap or pcapng file (starts with "hello wo")`},
		{"empty", nil, ErrNotCapture, "x: not a pcap or pcapng file (empty)"},
		{"short magic", []byte{0xd4, 0xc3}, ErrTruncated, "truncated at byte 0"},
		{"short other", []byte{0x12, 0x34}, ErrNotCapture, `not a pcap or pcapng file (starts with "\x124")`},
		{"gzip text", nil, ErrNotCapture, "gzip-compressed, starts with"},
		{"unsupported link type", nil, ErrUnsupportedLinkType, "unsupported link type 105 (802.11)"},
		{"truncated file header", nil, ErrTruncated, "truncated at byte 0"},
		{"bad version", nil, ErrCorrupt, "corrupt capture"},
	}
	pcap := writePcap(t, false, layers.LinkTypeEthernet)
	wifi := writePcap(t, false, layers.LinkType(105))
	badVersion := append([]byte(nil), pcap...)
	badVersion[4] = 9
	tests[4].data = gz(t, []byte("plain text inside gzip"))
	tests[5].data = wifi
	tests[6].data = pcap[:20]
	tests[7].data = badVersion
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "x", tt.data)
			s, err := OpenFile(path)
			if err == nil {
				s.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v is not %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not contain %q", err, tt.message)
			}
			if !strings.Contains(err.Error(), path) && tt.want != ErrTruncated {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestOpenFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.pcap")
	_, err := OpenFile(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want a not-exist error naming %s", err, path)
	}
}

func TestPcapngUnsupportedInterface(t *testing.T) {
	// Packet 1 is on an 802.11 interface; packets 0 and 2 are Ethernet.
	path := writeFile(t, "mixed.pcapng", writePcapng(t, layers.LinkTypeEthernet, layers.LinkType(105)))
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s.Next(ctx)
	if !errors.Is(err, ErrUnsupportedLinkType) || !strings.Contains(err.Error(), "105") {
		t.Fatalf("got %v, want ErrUnsupportedLinkType naming 105", err)
	}
	p, err := s.Next(ctx)
	if err != nil || !bytes.Equal(p.Data, frames[2]) {
		t.Fatalf("after the unsupported packet: %v", err)
	}
	if _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want io.EOF", err)
	}
}

func TestNextHonoursContext(t *testing.T) {
	s, err := NewSource("mem", bytes.NewReader(writePcap(t, false, layers.LinkTypeEthernet)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestTruncatedFileMessage(t *testing.T) {
	data := writePcap(t, false, layers.LinkTypeEthernet)
	// Cut in the middle of the second packet's data: its record starts at
	// 24 (file header) + 16 + 60 (first record) = 100.
	path := writeFile(t, "capture.pcap", gz(t, data[:100+16+30]))
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pkts, err := readAll(t, s)
	if len(pkts) != 1 || !errors.Is(err, ErrTruncated) {
		t.Fatalf("%d packets, %v", len(pkts), err)
	}
	if want := path + ": truncated at byte 100: unexpected EOF"; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	if _, again := s.Next(context.Background()); again != err {
		t.Fatalf("error not sticky: %v", again)
	}
}
