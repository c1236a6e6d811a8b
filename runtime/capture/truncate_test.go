package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// corpusDir finds the shared corpus of real third-party captures, which is
// not part of the repository.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBESHARK_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("capture corpus not found at %s (set KUBESHARK_CORPUS to run this test against real captures)", dir)
	}
	return dir
}

func corpusFiles(t testing.TB) []string {
	dir := corpusDir(t)
	var files []string
	for _, pat := range []string{"*/*.pcap", "*/*.pcapng", "*/*.pcap.gz", "*/*.pcapng.gz"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Skipf("no captures in %s", dir)
	}
	return files
}

// layout describes where records end in an uncompressed capture: ends[i]
// is the end of packet i's record, and boundaries holds every offset at
// which the file could stop cleanly (the end of any record or block).
type layout struct {
	ends       []int64
	boundaries map[int64]bool
}

// fileLayout walks the records of data independently of the reader under
// test, so that a wrong offset in FileSource cannot hide itself.
func fileLayout(t *testing.T, data []byte) layout {
	t.Helper()
	l := layout{boundaries: map[int64]bool{}}
	if binary.LittleEndian.Uint32(data) == 0x0a0d0d0a {
		order := binary.ByteOrder(binary.LittleEndian)
		if binary.BigEndian.Uint32(data[8:]) == 0x1a2b3c4d {
			order = binary.BigEndian
		}
		for off := int64(0); off+12 <= int64(len(data)); {
			typ := order.Uint32(data[off:])
			n := int64(order.Uint32(data[off+4:]))
			if n < 12 {
				t.Fatalf("bad pcapng block length %d at %d", n, off)
			}
			off += n
			l.boundaries[off] = true
			if typ == 6 || typ == 3 || typ == 2 {
				l.ends = append(l.ends, off)
			}
		}
		return l
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if data[0] == 0xa1 {
		order = binary.BigEndian
	}
	l.boundaries[24] = true
	for off := int64(24); off+16 <= int64(len(data)); {
		off += 16 + int64(order.Uint32(data[off+8:]))
		l.boundaries[off] = true
		l.ends = append(l.ends, off)
	}
	return l
}

// checkTruncation cuts data at cut and expects exactly the packets whose
// records end before the cut, then a TruncatedError at the first byte after
// the last complete packet (or a clean end if the cut is on a boundary).
func checkTruncation(t *testing.T, full []Packet, l layout, data []byte, cut int64, compress bool) {
	t.Helper()
	b := data[:cut]
	if compress {
		b = gz(t, b)
	}
	// In memory: thousands of cuts are checked, and OpenFile's own
	// handling of files is covered elsewhere.
	path := "cut.pcap"
	wantN := 0
	for wantN < len(l.ends) && l.ends[wantN] <= cut {
		wantN++
	}
	var wantOff int64
	switch {
	case wantN < len(full):
		wantOff = full[wantN].Offset
	default:
		wantOff = l.ends[len(l.ends)-1]
	}
	s, err := NewSource(path, bytes.NewReader(b))
	if err != nil {
		// Cut inside the file header.
		var te *TruncatedError
		if !errors.As(err, &te) || te.Offset != 0 {
			t.Fatalf("cut at %d: open: %v", cut, err)
		}
		if wantN != 0 {
			t.Fatalf("cut at %d: open failed but %d packets were complete", cut, wantN)
		}
		return
	}
	defer s.Close()
	got, err := readAll(t, s)
	if len(got) != wantN {
		t.Fatalf("cut at %d: %d packets, want %d (err %v)", cut, len(got), wantN, err)
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, full[i].Data) || got[i].Offset != full[i].Offset {
			t.Fatalf("cut at %d: packet %d differs from the uncut file", cut, i)
		}
	}
	if l.boundaries[cut] {
		if err != nil {
			t.Fatalf("cut at %d (a record boundary): %v", cut, err)
		}
		return
	}
	var te *TruncatedError
	if !errors.As(err, &te) || !errors.Is(err, ErrTruncated) {
		t.Fatalf("cut at %d: got %v, want a TruncatedError", cut, err)
	}
	if te.Offset != wantOff {
		t.Fatalf("cut at %d: truncated at %d, want %d (%v)", cut, te.Offset, wantOff, err)
	}
	if te.Path != path {
		t.Fatalf("path %q", te.Path)
	}
}

func cutPoints(full []Packet, size int64) []int64 {
	cuts := []int64{size - 1}
	for i, p := range full {
		if i > 3 && i != len(full)-1 && i%17 != 0 {
			continue
		}
		cuts = append(cuts, p.Offset+5, p.Offset+17, p.Offset+int64(p.CaptureLength)/2+16)
	}
	var out []int64
	for _, c := range cuts {
		if c > 0 && c < size {
			out = append(out, c)
		}
	}
	// Spread a bounded number of cuts over big files to keep the test fast.
	const maxCuts = 24
	if len(out) > maxCuts {
		step := float64(len(out)) / maxCuts
		thin := make([]int64, 0, maxCuts)
		for i := 0; i < maxCuts; i++ {
			thin = append(thin, out[int(float64(i)*step)])
		}
		out = thin
	}
	return out
}

func TestTruncatedSynthetic(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"pcap", writePcap(t, false, layers.LinkTypeEthernet)},
		{"pcap big endian", bigEndian(writePcap(t, true, layers.LinkTypeEthernet))},
		{"pcapng", writePcapng(t, layers.LinkTypeEthernet, layers.LinkTypeRaw)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenFile(writeFile(t, "full", tt.data))
			if err != nil {
				t.Fatal(err)
			}
			full, err := readAll(t, s)
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			l := fileLayout(t, tt.data)
			for cut := int64(1); cut < int64(len(tt.data)); cut += 3 {
				checkTruncation(t, full, l, tt.data, cut, cut%2 == 0)
			}
		})
	}
}

func TestTruncatedCorpus(t *testing.T) {
	files := corpusFiles(t)
	for i, f := range files {
		if testing.Short() && i%10 != 0 {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s, err := OpenFile(f)
			if err != nil {
				t.Fatal(err)
			}
			full, err := readAll(t, s)
			s.Close()
			if err != nil {
				t.Fatalf("reading the whole file: %v", err)
			}
			if len(full) == 0 {
				t.Skip("no packets")
			}
			l := fileLayout(t, data)
			for j, cut := range cutPoints(full, int64(len(data))) {
				checkTruncation(t, full, l, data, cut, j%3 == 0)
			}
		})
	}
}

func TestReadCorpus(t *testing.T) {
	for _, f := range corpusFiles(t) {
		s, err := OpenFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		n := 0
		for {
			if _, err := s.Next(t.Context()); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("%s after %d packets: %v", f, n, err)
				}
				break
			}
			n++
		}
		s.Close()
	}
}
