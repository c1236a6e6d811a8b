package packetlog

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// sliceSource hands out packets through one reused buffer, as
// capture.FileSource does, then ends with end (io.EOF if nil).
type sliceSource struct {
	ps     []capture.Packet
	buf    []byte
	end    error
	closed bool
}

func (s *sliceSource) Next(context.Context) (capture.Packet, error) {
	if len(s.ps) == 0 {
		if s.end != nil {
			return capture.Packet{}, s.end
		}
		return capture.Packet{}, io.EOF
	}
	p := s.ps[0]
	s.ps = s.ps[1:]
	s.buf = append(s.buf[:0], p.Data...)
	p.Data = s.buf
	return p, nil
}

func (s *sliceSource) Close() error { s.closed = true; return nil }

func TestTee(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		end     error
		closeW  bool // close the writer first: logging fails
		wantErr error
		logged  int
	}{
		{"all packets logged", nil, false, io.EOF, 30},
		{"source error passes through", boom, false, boom, 30},
		{"log failure ends the read", nil, true, ErrClosed, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openLog(t, dir, Options{ChunkSize: 1 << 10, MaxBytes: 1 << 20})
			ps := mixed(30, 50)
			src := &sliceSource{ps: slices.Clone(ps), end: tc.end}
			if tc.closeW {
				w.Close()
			}
			tee := Tee(src, w)
			var got []capture.Packet
			var err error
			for {
				var p capture.Packet
				if p, err = tee.Next(ctx); err != nil {
					break
				}
				got = append(got, p)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Next ended with %v, want %v", err, tc.wantErr)
			}
			if tc.logged > 0 && len(got) != len(ps) {
				t.Errorf("Tee passed on %d packets, want %d", len(got), len(ps))
			}
			if err := tee.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if !src.closed {
				t.Error("Close did not close the source")
			}
			// Close flushed: a reader of the directory alone sees the
			// packets, though the writer is still open.
			logged := readAll(t, NewReader(dir, Options{}), Window{})
			if len(logged) != tc.logged {
				t.Fatalf("log holds %d packets, want %d", len(logged), tc.logged)
			}
			for i := range logged {
				samePacket(t, logged[i], ps[i])
			}
			w.Close()
		})
	}
}

func TestTeeOverCaptureFile(t *testing.T) {
	ctx := context.Background()
	// A pcapng export of one log, read by capture and teed into another.
	src := openLog(t, t.TempDir(), Options{ChunkSize: 1 << 20, MaxBytes: 4 << 20})
	ps := mixed(20, 64)
	write(t, src, ps...)
	path := t.TempDir() + "/in.pcapng"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Reader().Export(ctx, f, Window{}, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	src.Close()

	fs, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 1 << 20, MaxBytes: 4 << 20})
	tee := Tee(fs, w)
	n := 0
	for {
		_, err := tee.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	tee.Close()
	w.Close()
	got := readAll(t, NewReader(dir, Options{}), Window{})
	if n != len(ps) || len(got) != len(ps) {
		t.Fatalf("teed %d, logged %d, want %d", n, len(got), len(ps))
	}
	for i := range ps {
		samePacket(t, got[i], ps[i])
	}
	if got[1].LinkType != layers.LinkTypeRaw {
		t.Errorf("link type of packet 1 = %v, want Raw", got[1].LinkType)
	}
}
