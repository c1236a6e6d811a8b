package decode

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

// corpusFiles lists the shared corpus of real third-party captures, which
// is not part of the repository.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	dir := os.Getenv("KUBESHARK_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("capture corpus not found at %s (set KUBESHARK_CORPUS to run this test against real captures)", dir)
	}
	var files []string
	filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.Contains(e.Name(), ".pcap") {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	if len(files) == 0 {
		t.Skipf("no captures in %s", dir)
	}
	return files
}

// decodeFile decodes a whole capture and returns the decoder's stats, the
// number of Decode errors and the number of segments.
func decodeFile(t testing.TB, path string) (st Stats, errs, segs int) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer src.Close()
	d := New(Options{})
	var seg packet.Segment
	for {
		p, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		ok, err := d.Decode(p, &seg)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			errs++
			continue
		}
		if ok {
			segs++
			if !seg.Src.IsValid() || !seg.Dst.IsValid() || len(seg.Payload) > seg.WireLen {
				t.Fatalf("bad segment %v → %v, %d payload bytes, wire length %d", seg.Src, seg.Dst, len(seg.Payload), seg.WireLen)
			}
		}
	}
	return d.Stats(), errs, segs
}

func TestDecodeCorpus(t *testing.T) {
	var total Stats
	for _, f := range corpusFiles(t) {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			st, errs, segs := decodeFile(t, f)
			if uint64(errs) != st.Malformed {
				t.Fatalf("%d errors but %d counted malformed", errs, st.Malformed)
			}
			if segs == 0 && st.Packets > 0 && st.NonIP+st.NonTransport+st.Malformed+st.IPv4Fragments+st.IPv6Fragments == 0 {
				t.Fatalf("no segments and nothing counted: %+v", st)
			}
			if st.Malformed > 0 {
				t.Logf("%d malformed of %d packets", st.Malformed, st.Packets)
			}
			total.Packets += st.Packets
			total.Malformed += st.Malformed
			total.Reassembled += st.Reassembled
			total.IPv4Fragments += st.IPv4Fragments
			total.IPv6Fragments += st.IPv6Fragments
		})
	}
	t.Logf("corpus: %+v", total)
}

// TestDecodeCorpusFragments checks that the corpus captures known to hold
// fragmented datagrams are reassembled.
func TestDecodeCorpusFragments(t *testing.T) {
	for _, f := range corpusFiles(t) {
		name := filepath.Base(f)
		if !strings.Contains(name, "fragment") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			st, _, _ := decodeFile(t, f)
			if st.IPv4Fragments+st.IPv6Fragments == 0 || st.Reassembled == 0 {
				t.Fatalf("no reassembly: %+v", st)
			}
			t.Logf("%+v", st)
		})
	}
}
