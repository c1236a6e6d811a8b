package packets

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root (CI runs as root)")
	}
}

// TestLoopbackChunks attaches at the cgroup root and checks that a TCP
// exchange over loopback arrives as chunks carrying its bytes, seen by the
// egress hook of the sender and the ingress hook of the receiver.
func TestLoopbackChunks(t *testing.T) {
	requireRoot(t)
	root, err := CgroupRoot()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.AttachCgroup(root); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	marker := []byte("kubeshark-bpf-packets-marker-0123456789")
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 100)
		c.Read(buf)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(marker)
	c.Close()

	seen := map[Direction]int{}
	deadline := time.Now().Add(3 * time.Second)
	var ch Chunk
	for time.Now().Before(deadline) && (seen[Egress] == 0 || seen[Ingress] == 0) {
		err := p.ReadChunk(time.Now().Add(100*time.Millisecond), &ch)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.L2 || ch.Off != 0 || !ch.Last || int(ch.Len) != len(ch.Data) {
			continue
		}
		if len(ch.Data) > 0 && ch.Data[0]>>4 == 4 && containsBytes(ch.Data, marker) {
			seen[ch.Dir]++
			if ch.Cgroup == 0 {
				t.Errorf("%s chunk without a cgroup id", ch.Dir)
			}
		}
	}
	if seen[Egress] != 1 || seen[Ingress] != 1 {
		t.Fatalf("marker seen %v times by direction, want once at egress and once at ingress", seen)
	}
	cnt, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Packets == 0 {
		t.Errorf("counters: %+v, want packets counted", cnt)
	}
}

func containsBytes(b, sub []byte) bool {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return true
		}
	}
	return false
}

func TestParseChunkShort(t *testing.T) {
	var c Chunk
	for _, b := range [][]byte{make([]byte, 10), append(make([]byte, 36), 0xff, 0, 0, 0)} {
		if err := parseChunk(b, &c); !errors.Is(err, ErrShortRecord) {
			t.Errorf("parseChunk(%d bytes) = %v, want ErrShortRecord", len(b), err)
		}
	}
}

func TestConfigLimits(t *testing.T) {
	for _, c := range []Config{{SnapLen: MaxSnapLen + 1}, {RingBytes: 3 << 20}} {
		if err := c.defaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
