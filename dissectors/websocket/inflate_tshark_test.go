package websocket

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// TestPermessageDeflateTshark checks the decoded previews against the
// text sent and against Wireshark, which reads the extension's parameters
// from the handshake and inflates with zlib: an implementation independent
// of ours. A capture is written with one connection per way of
// negotiating the extension, each with compressed messages both ways.
//
// Wireshark (4.0, and its source as of this writing) picks the server_* parameters
// for the messages sent to the server's port, that is, for the client's
// messages, the other way round from RFC 7692 §7.1.1; with symmetric
// parameters that does not matter, so only those connections are
// compared with it.
func TestPermessageDeflateTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: no independent decoder to compare with")
	}
	if testing.Short() {
		t.Skip("runs tshark")
	}
	msgs := []string{
		`{"op":"subscribe","channel":"orders","symbol":"BTC-USD"}`,
		`{"op":"subscribe","channel":"trades","symbol":"BTC-USD"}`,
		`{"op":"subscribe","channel":"orders","symbol":"ETH-USD"}`,
		strings.Repeat(`{"op":"ping"}`, 20),
		`{"op":"unsubscribe","channel":"orders","symbol":"BTC-USD"}`,
	}
	conns := []struct {
		name, offer, accept string
		clientTake, srvTake bool
		wireshark           bool // Wireshark reads these parameters right
	}{
		{"context takeover", "permessage-deflate; client_max_window_bits", "permessage-deflate", true, true, true},
		{"no context takeover", "permessage-deflate; client_no_context_takeover; server_no_context_takeover", "permessage-deflate; client_no_context_takeover; server_no_context_takeover", false, false, true},
		{"server keeps context, client does not", "permessage-deflate", "permessage-deflate; client_no_context_takeover", false, true, false},
	}
	var sent []string
	for _, m := range msgs {
		sent = append(sent, m, strings.ToUpper(m))
	}
	path := filepath.Join(t.TempDir(), "pmd.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := synth.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	var ours [][]string
	for i, cc := range conns {
		at := start.Add(time.Duration(i) * time.Minute)
		conn := w.Conn(netip.MustParseAddrPort(fmt.Sprintf("10.0.0.1:%d", 40000+i)), netip.MustParseAddrPort("10.0.0.2:80"), at)
		send := func(client bool, p []byte) {
			at = at.Add(time.Millisecond)
			var err error
			if client {
				err = conn.Client(p, at)
			} else {
				err = conn.Server(p, at)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		send(true, []byte("GET /feed HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: "+cc.offer+"\r\n\r\n"))
		send(false, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: "+cc.accept+"\r\n\r\n"))
		c, s := newSender(t, cc.clientTake), newSender(t, cc.srvTake)
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: uint64(i), Oriented: true})
		for j, m := range msgs {
			cf := compressed(frame(true, opText, true, c.deflate([]byte(m))))
			sf := compressed(frame(true, opText, false, s.deflate([]byte(strings.ToUpper(m)))))
			send(true, cf)
			send(false, sf)
			dr.Feed(cli, cf, int64(2*j+1))
			dr.Feed(srv, sf, int64(2*j+2))
		}
		if err := conn.Close(at.Add(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		dr.Close(100)
		var texts []string
		for _, r := range dr.Records {
			if r.Request.Encoding != "" || r.Error != "" {
				t.Fatalf("%s: %s", cc.name, describe(r))
			}
			texts = append(texts, r.Request.Body)
		}
		ours = append(ours, texts)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-r", path, "-Y", "websocket", "-T", "fields", "-E", "separator=|", "-e", "tcp.stream", "-e", "websocket.payload.text").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	theirs := make([][]string, len(conns))
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		stream, text, _ := strings.Cut(l, "|")
		var n int
		if _, err := fmt.Sscan(stream, &n); err != nil || n >= len(conns) {
			t.Fatalf("tshark line %q", l)
		}
		theirs[n] = append(theirs[n], text)
	}
	for i, cc := range conns {
		if !reflect.DeepEqual(ours[i], sent) {
			t.Errorf("%s:\n ours  %q\n sent  %q", cc.name, ours[i], sent)
		}
		if cc.wireshark && !reflect.DeepEqual(theirs[i], sent) {
			t.Errorf("%s:\n tshark  %q\n sent    %q", cc.name, theirs[i], sent)
		}
	}
}
