// Package plugintest holds the test helpers shared by the plugin store's
// tests and the CLI's: the pingpong test plugin built from source, a
// capture of real pingpong traffic, key pairs and an in-memory OCI registry
// on loopback.
package plugintest

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/plugins"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
)

var (
	mu    sync.Mutex
	built []byte
)

// PingPong returns the pingpong plugin (plugins/testdata/pingpong) built to
// WebAssembly, once per test process.
func PingPong(tb testing.TB) []byte {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if built == nil {
		built = dissectortest.BuildDir(tb, "plugins/testdata/pingpong")
	}
	return built
}

// WritePingPong writes the module to dir/pingpong.wasm and returns the path.
func WritePingPong(tb testing.TB, dir string) string {
	tb.Helper()
	p := filepath.Join(dir, "pingpong.wasm")
	if err := os.WriteFile(p, PingPong(tb), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Capture records conns real TCP connections on loopback, each sending
// the PING names given and reading the PONGs, through synth's relay, and
// writes the capture to path. The server answers each PING with the count
// of PINGs it has seen on that connection.
func Capture(tb testing.TB, path string, conns int, names ...string) {
	tb.Helper()
	ln := listen(tb)
	defer ln.Close()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w, err := synth.NewWriter(f)
	if err != nil {
		tb.Fatal(err)
	}
	relay, err := synth.NewRelay(ln.Addr().String(), w, synth.RelayOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for range conns {
		c, err := net.Dial("tcp", relay.Addr())
		if err != nil {
			tb.Fatal(err)
		}
		r := bufio.NewReader(c)
		for _, name := range names {
			fmt.Fprintf(c, "PING %s\n", name)
			if _, err := r.ReadString('\n'); err != nil {
				tb.Fatalf("pingpong client: %v", err)
			}
		}
		c.Close()
	}
	relay.Close()
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// Keys writes a password-less key pair to dir/NAME.key and dir/NAME.pub and
// returns their paths and the key id.
func Keys(tb testing.TB, dir, name string) (priv, pub, id string) {
	tb.Helper()
	pb, sb, id, err := plugins.GenerateKey("")
	if err != nil {
		tb.Fatal(err)
	}
	priv, pub = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(priv, sb, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(pub, pb, 0o644); err != nil {
		tb.Fatal(err)
	}
	return priv, pub, id
}

// SignFile signs the module at path with the private key at priv and writes
// path.minisig.
func SignFile(tb testing.TB, priv, path string) []byte {
	tb.Helper()
	k, err := plugins.ReadPrivateKey(priv, "")
	if err != nil {
		tb.Fatal(err)
	}
	code, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	sig := plugins.Sign(k, code, path)
	if err := os.WriteFile(path+".minisig", sig, 0o644); err != nil {
		tb.Fatal(err)
	}
	return sig
}

// Registry serves go-containerregistry's in-memory registry on loopback
// and returns its host:port: a real registry implementation, in process.
// wrap, when not nil, stands between clients and the registry (to make it
// lie).
func Registry(tb testing.TB, wrap func(http.Handler) http.Handler) string {
	tb.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// listen starts a pingpong server on loopback; it serves until the
// listener is closed.
func listen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				n := 0
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if !strings.HasPrefix(line, "PING ") {
						return
					}
					n++
					fmt.Fprintf(c, "PONG %d\n", n)
				}
			}()
		}
	}()
	return ln
}

// Server runs a pingpong server on loopback until the test ends and
// returns its address: real traffic for a live capture.
func Server(tb testing.TB) string {
	tb.Helper()
	ln := listen(tb)
	tb.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// Client is one pingpong connection.
type Client struct {
	c net.Conn
	r *bufio.Reader
}

// Dial opens a pingpong connection to addr.
func Dial(tb testing.TB, addr string) *Client {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &Client{c: c, r: bufio.NewReader(c)}
}

// Ping sends PING name and reads the PONG.
func (c *Client) Ping(tb testing.TB, name string) {
	tb.Helper()
	if _, err := fmt.Fprintf(c.c, "PING %s\n", name); err != nil {
		tb.Fatalf("pingpong client: %v", err)
	}
	if _, err := c.r.ReadString('\n'); err != nil {
		tb.Fatalf("pingpong client: %v", err)
	}
}

// Close hangs up.
func (c *Client) Close() error { return c.c.Close() }
