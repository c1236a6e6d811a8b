package tls

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

type feed struct {
	dir  sdk.Direction
	data []byte
}

func TestConn(t *testing.T) {
	ch := realClientHello(t, "example.com", []string{"h2", "http/1.1"})
	sh := buildServerHello(0x0304, 0x1301, "h2", false)
	hrr := buildServerHello(0x0304, 0x1301, "", true)
	sh12 := buildServerHello(0x0303, 0xc02f, "", false)
	// Certificate (an empty chain) and ServerHelloDone.
	certMsgs := []byte{11, 0, 0, 3, 0, 0, 0, 14, 0, 0, 0}
	ccs := []byte{20, 3, 3, 0, 1, 1}
	alert := record(21, []byte{2, 40})
	appdata := record(23, make([]byte, 100))
	// The hello split over two records, each over two segments.
	chMsg := ch[5:]
	split := append(record(22, chMsg[:50]), record(22, chMsg[50:])...)

	type want struct {
		path, statusText string
		failed, response bool
		version          string
	}
	tests := []struct {
		name  string
		feeds []feed
		want  []want
	}{
		{"tls13", []feed{{0, ch}, {1, append(append(sh, ccs...), appdata...)}, {0, append(ccs, appdata...)}, {1, appdata}},
			[]want{{"example.com", "ServerHello", false, true, "TLS 1.3"}}},
		{"split records and segments", []feed{{0, split[:30]}, {0, split[30:70]}, {0, split[70:]}, {1, sh[:7]}, {1, sh[7:]}},
			[]want{{"example.com", "ServerHello", false, true, "TLS 1.3"}}},
		{"hello retry", []feed{{0, ch}, {1, append(hrr, ccs...)}, {0, append(ccs, ch...)}, {1, sh}, {0, appdata}},
			[]want{{"example.com", "HelloRetryRequest", false, true, "TLS 1.3"}, {"example.com", "ServerHello", false, true, "TLS 1.3"}}},
		{"alert", []feed{{0, ch}, {1, alert}}, []want{{"example.com", "handshake_failure", true, true, ""}}},
		// TLS 1.2: the record waits for the client's verdict on the
		// certificate, which travels in plaintext.
		{"tls12 accepted", []feed{{0, ch}, {1, append(sh12, record(22, certMsgs)...)}, {0, append(record(22, []byte{16, 0, 0, 2, 0, 0}), ccs...)}, {1, append(ccs, appdata...)}},
			[]want{{"example.com", "ServerHello", false, true, "TLS 1.2"}}},
		{"tls12 certificate refused", []feed{{0, ch}, {1, append(sh12, record(22, certMsgs)...)}, {0, record(21, []byte{2, 42})}},
			[]want{{"example.com", "bad_certificate", true, true, "TLS 1.2"}}},
		{"tls12 expired", []feed{{0, ch}, {1, sh12}, {1, record(22, certMsgs)}, {0, record(21, []byte{2, 45})}},
			[]want{{"example.com", "certificate_expired", true, true, "TLS 1.2"}}},
		{"tls12 cut short", []feed{{0, ch}, {1, sh12}}, []want{{"example.com", "ServerHello", false, true, "TLS 1.2"}}},
		{"plaintext answer", []feed{{0, ch}, {1, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")}}, []want{{"example.com", "", true, false, ""}}},
		{"no answer", []feed{{0, ch}}, []want{{"example.com", "", false, false, ""}}},
		{"mid-stream", []feed{{0, appdata}, {1, appdata}, {0, appdata}}, nil},
		{"server hello without client hello", []feed{{1, sh}, {0, appdata}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
			ts := int64(1000)
			for _, f := range tt.feeds {
				dr.Feed(f.dir, f.data, ts)
				ts += 1000
			}
			dr.Close(ts)
			if dr.Rejected() {
				t.Fatal("rejected")
			}
			if len(dr.Records) != len(tt.want) {
				t.Fatalf("%d records, want %d", len(dr.Records), len(tt.want))
			}
			for i, w := range tt.want {
				r := dr.Records[i]
				got := want{r.Path, r.StatusText, r.Failed, r.Response != nil, ""}
				if r.Response != nil {
					got.version, _ = r.Response.Fields["tls_version"].(string)
				}
				if got != w {
					t.Errorf("record %d: got %+v want %+v (error %q)", i, got, w, r.Error)
				}
				if r.Method != "ClientHello" || r.Protocol != "tls" || r.Status != 0 {
					t.Errorf("record %d: %s %s %d", i, r.Protocol, r.Method, r.Status)
				}
				if r.Request.Size != int64(len(ch)) && tt.name != "split records and segments" {
					t.Errorf("request size %d, want %d", r.Request.Size, len(ch))
				}
				ja4, _ := r.Request.Fields["ja4"].(string)
				if !strings.HasPrefix(ja4, "t13d") || len(ja4) != 36 {
					t.Errorf("ja4 %q", ja4)
				}
				if _, err := json.Marshal(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestFingerprints checks JA3 and JA4 against a hand-built hello whose
// inputs are known, including GREASE values that must be ignored.
func TestFingerprints(t *testing.T) {
	ch := &clientHello{
		version:    0x0303,
		ciphers:    []int{0x0a0a, 0x1301, 0x1302, 0xc02b},
		extensions: []int{0x1a1a, 0x0000, 0x0017, 0x0010, 0x002b, 0x000d, 0x000a, 0x000b},
		hasSNI:     true,
		alpn:       []string{"h2", "http/1.1"},
		versions:   []int{0x2a2a, 0x0304, 0x0303},
		groups:     []int{0x3a3a, 29, 23},
		points:     []int{0},
		sigAlgs:    []int{0x0403, 0x0804},
	}
	s, h := ja3(ch)
	if s != "771,4865-4866-49195,0-23-16-43-13-10-11,29-23,0" {
		t.Errorf("ja3 string %q", s)
	}
	if len(h) != 32 {
		t.Errorf("ja3 hash %q", h)
	}
	// a: t 13 d 03 ciphers 07 extensions h2.
	// b: sha256("1301,1302,c02b")[:12].
	// c: sha256("000a,000b,000d,0017,002b_0403,0804")[:12].
	want := "t13d0307h2_" + truncHash("1301,1302,c02b", false) + "_" + truncHash("000a,000b,000d,0017,002b_0403,0804", false)
	if got := ja4(ch); got != want {
		t.Errorf("ja4 %q want %q", got, want)
	}
	noExt := &clientHello{version: 0x0301, ciphers: []int{0x002f}}
	if got := ja4(noExt); got != "t10i010000_"+truncHash("002f", false)+"_000000000000" {
		t.Errorf("ja4 without extensions %q", got)
	}
}
