package tls

import (
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// buildV2ClientHello builds a CLIENT-HELLO in SSL 2.0 framing, as RFC 5246
// Appendix E.2 lays it out: header, type 1, version, the three lengths,
// then cipher specs, session id and challenge.
func buildV2ClientHello(version int, specs []int, sessionID, challenge int) []byte {
	msg := []byte{v2ClientHello, byte(version >> 8), byte(version),
		byte(3 * len(specs) >> 8), byte(3 * len(specs)), byte(sessionID >> 8), byte(sessionID),
		byte(challenge >> 8), byte(challenge)}
	for _, s := range specs {
		msg = append(msg, byte(s>>16), byte(s>>8), byte(s))
	}
	for i := range sessionID + challenge {
		msg = append(msg, byte(0x40+i))
	}
	return append([]byte{0x80 | byte(len(msg)>>8), byte(len(msg))}, msg...)
}

// buildV2ServerHello builds an SSL 2.0 SERVER-HELLO accepting specs.
func buildV2ServerHello(specs []int) []byte {
	cert := []byte{0x30, 0x03, 0x02, 0x01, 0x00}
	msg := []byte{v2ServerHello, 0, 1, 0, 2, 0, byte(len(cert)), 0, byte(3 * len(specs)), 0, 16}
	msg = append(msg, cert...)
	for _, s := range specs {
		msg = append(msg, byte(s>>16), byte(s>>8), byte(s))
	}
	msg = append(msg, make([]byte, 16)...)
	return append([]byte{0x80 | byte(len(msg)>>8), byte(len(msg))}, msg...)
}

// compatSpecs is what an OpenSSL 0.9.8-era client offered: SSL 2.0 kinds
// first, then TLS suites, then the renegotiation SCSV.
var compatSpecs = []int{0x010080, 0x0700c0, 0x000039, 0x000035, 0x00002f, 0x0000ff}

func TestProbeSSLv2(t *testing.T) {
	compat := buildV2ClientHello(0x0301, compatSpecs, 0, 16)
	tls12 := buildV2ClientHello(0x0303, []int{0x00c02f, 0x00009c}, 0, 32)
	pure := buildV2ClientHello(0x0002, []int{0x010080, 0x060040}, 16, 16)
	mutate := func(b []byte, i int, v byte) []byte {
		b = append([]byte(nil), b...)
		b[i] = v
		return b
	}
	tests := []struct {
		name      string
		data      []byte
		confident bool
		needMore  bool
	}{
		{"compatible TLS 1.0 hello", compat, true, false},
		{"compatible TLS 1.2 hello, 32-byte challenge", tls12, true, false},
		{"SSL 2.0 hello with session id", pure, true, false},
		{"fixed part only", compat[:11], true, false},
		{"header only", compat[:2], false, true},
		{"up to the version", compat[:5], false, true},
		{"one byte short of the fixed part", compat[:10], false, true},

		{"version TLS 1.3", mutate(compat, 4, 4), false, false},
		{"version 0x0102", mutate(compat, 3, 1), false, false},
		{"version byte ruled out early", mutate(compat, 3, 7)[:4], false, false},
		{"SSL 2.0 SERVER-HELLO", buildV2ServerHello([]int{0x010080}), false, false},
		{"message type 2", mutate(compat, 2, 2), false, false},
		{"header length one too long", mutate(compat, 1, compat[1]+1), false, false},
		{"cipher specs not a multiple of 3", mutate(compat, 6, 17), false, false},
		{"challenge of 15 bytes", buildV2ClientHello(0x0301, compatSpecs, 0, 15), false, false},
		{"challenge of 33 bytes", buildV2ClientHello(0x0301, compatSpecs, 0, 33), false, false},
		{"session id of 48 bytes", buildV2ClientHello(0x0301, compatSpecs, 48, 16), false, false},
		{"no cipher specs", buildV2ClientHello(0x0301, nil, 0, 16), false, false},
		{"short header length", []byte{0x80, 0x10, 1, 3, 1}, false, false},

		// Other protocols whose first byte may have the high bit set.
		{"websocket text frame", append([]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}, "hello"...), false, false},
		{"mqtt suback", []byte{0x90, 0x03, 0x00, 0x01, 0x00, 0x90, 0x03, 0x00, 0x02, 0x01, 0x00}, false, false},
		{"mongodb header of a 64 KiB message", []byte{0x85, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xdd, 0x07, 0x00, 0x00}, false, false},
		{"dns over tcp, long message", []byte{0x80, 0x40, 0x01, 0x03, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}, false, false},
		{"binary noise", []byte{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4}, false, false},
		// And the ASCII protocols a TLS probe must leave alone.
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, false},
		{"ssh", []byte("SSH-2.0-OpenSSH_9.6\r\n"), false, false},
		{"smtp banner", []byte("220 mail.example.com ESMTP\r\n"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New().Probe(0, tt.data)
			if got := p.Confidence >= 50; got != tt.confident {
				t.Errorf("confidence %d", p.Confidence)
			}
			if p.NeedMore != tt.needMore {
				t.Errorf("NeedMore %v", p.NeedMore)
			}
			if p.FromServer {
				t.Error("FromServer")
			}
			if tt.confident && (p.Confidence >= 90 || p.Confidence < 60) {
				t.Errorf("SSLv2 hello confidence %d, want between a mid-stream record's and a TLS hello's", p.Confidence)
			}
		})
	}
}

func TestConnSSLv2(t *testing.T) {
	compat := buildV2ClientHello(0x0301, compatSpecs, 0, 16)
	pure := buildV2ClientHello(0x0002, []int{0x010080, 0x0700c0, 0x060040}, 0, 16)
	sh := buildServerHello(0x0301, 0x002f, "", false)
	sh[1], sh[2], sh[9], sh[10] = 3, 1, 3, 1 // record and hello version TLS 1.0
	appdata := record(23, make([]byte, 50))
	ccs := []byte{20, 3, 1, 0, 1, 1}

	type want struct {
		statusText, respVersion, respCipher, errText string
		failed                                       bool
		reqVersion                                   string
		suites                                       int
		v2Ciphers                                    []string
		ja3String, ja3                               string
		respV2Ciphers                                []string
	}
	compatWant := want{statusText: "ServerHello", respVersion: "TLS 1.0", respCipher: "TLS_RSA_WITH_AES_128_CBC_SHA",
		reqVersion: "TLS 1.0", suites: 4, v2Ciphers: []string{"SSL_CK_RC4_128_WITH_MD5", "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"},
		ja3String: "769,65664-458944-57-53-47-255,,,", ja3: "4261754ee6f2faceb42d969f40813dea"}
	pureHello := want{reqVersion: "SSL 2.0", v2Ciphers: []string{"SSL_CK_RC4_128_WITH_MD5", "SSL_CK_DES_192_EDE3_CBC_WITH_MD5", "SSL_CK_DES_64_CBC_WITH_MD5"},
		ja3String: "2,65664-458944-393280,,,", ja3: "3cabd375f299be3eeb5f047616196d8a"}
	with := func(w want, f func(*want)) want { f(&w); return w }

	tests := []struct {
		name  string
		feeds []feed
		want  []want
	}{
		{"compatible hello, TLS answer", []feed{{0, compat}, {1, append(append(sh, ccs...), appdata...)}, {0, append(ccs, appdata...)}},
			[]want{compatWant}},
		{"compatible hello one byte at a time", func() []feed {
			var fs []feed
			for _, b := range compat {
				fs = append(fs, feed{0, []byte{b}})
			}
			return append(fs, feed{1, sh})
		}(), []want{compatWant}},
		{"compatible hello, alert", []feed{{0, compat}, {1, record(21, []byte{2, 70})}},
			[]want{with(compatWant, func(w *want) {
				w.statusText, w.respVersion, w.respCipher, w.failed = "protocol_version", "", "", true
			})}},
		{"compatible hello, plaintext answer", []feed{{0, compat}, {1, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")}},
			[]want{with(compatWant, func(w *want) {
				w.statusText, w.respVersion, w.respCipher, w.failed, w.errText = "", "", "", true, "server did not answer in TLS"
			})}},
		{"compatible hello, no answer", []feed{{0, compat}},
			[]want{with(compatWant, func(w *want) {
				w.statusText, w.respVersion, w.respCipher, w.errText = "", "", "", "no response captured"
			})}},
		{"SSL 2.0 hello, SSL 2.0 SERVER-HELLO", []feed{{0, pure}, {1, buildV2ServerHello([]int{0x010080, 0x0700c0})}, {0, []byte{0x80, 0x05, 2, 1, 0, 0x80, 0}}},
			[]want{with(pureHello, func(w *want) {
				w.statusText, w.respVersion = "ServerHello", "SSL 2.0"
				w.respV2Ciphers = []string{"SSL_CK_RC4_128_WITH_MD5", "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"}
			})}},
		{"SSL 2.0 hello, ERROR", []feed{{0, pure}, {1, []byte{0x80, 0x03, 0, 0, 1}}},
			[]want{with(pureHello, func(w *want) { w.statusText, w.failed = "no_cipher", true })}},
		{"SSL 2.0 SERVER-HELLO with bad lengths", []feed{{0, pure}, {1, []byte{0x80, 0x0c, 4, 0, 1, 0, 2, 0, 0, 0, 4, 0, 0, 1, 2, 3}}},
			[]want{with(pureHello, func(w *want) {
				w.statusText, w.failed, w.errText = "ServerHello", true, "malformed SSLv2 SERVER-HELLO"
			})}},
		// A TLS record began a (never finished) ClientHello: a CLIENT-HELLO after it is not one.
		{"SSLv2 framing is only for first messages", []feed{{0, record(22, []byte{1, 0, 1, 0})}, {0, compat}, {1, sh}}, nil},
		{"SERVER-HELLO without a CLIENT-HELLO", []feed{{1, buildV2ServerHello([]int{0x010080})}, {0, []byte{0x80, 0x05, 2, 1, 0, 0x80, 0}}}, nil},
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
			if dr.Rejected() || dr.Misbehaved != "" {
				t.Fatalf("rejected %v, misbehaved %q", dr.Rejected(), dr.Misbehaved)
			}
			if len(dr.Records) != len(tt.want) {
				t.Fatalf("%d records, want %d", len(dr.Records), len(tt.want))
			}
			for i, w := range tt.want {
				r := dr.Records[i]
				req := r.Request.Fields
				got := want{statusText: r.StatusText, errText: r.Error, failed: r.Failed}
				got.reqVersion, _ = req["tls_version"].(string)
				got.suites, _ = req["tls_cipher_suites"].(int)
				got.v2Ciphers, _ = req["tls_sslv2_ciphers"].([]string)
				got.ja3String, _ = req["ja3_string"].(string)
				got.ja3, _ = req["ja3"].(string)
				if r.Response != nil {
					got.respVersion, _ = r.Response.Fields["tls_version"].(string)
					got.respCipher, _ = r.Response.Fields["tls_cipher_suite"].(string)
					got.respV2Ciphers, _ = r.Response.Fields["tls_sslv2_ciphers"].([]string)
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("record %d:\n got  %+v\n want %+v", i, got, w)
				}
				if r.Method != "ClientHello" || r.Path != "" || r.Protocol != "tls" || r.Timestamp.UnixNano() != 1000 {
					t.Errorf("record %d: %s %s %q at %d", i, r.Protocol, r.Method, r.Path, r.Timestamp.UnixNano())
				}
				if v, _ := req["tls_sslv2_hello"].(bool); !v {
					t.Error("tls_sslv2_hello not set")
				}
				for _, k := range []string{"ja4", "tls_sni", "tls_alpn", "tls_supported_versions"} {
					if v, ok := req[k]; ok {
						t.Errorf("%s = %v on an SSLv2-format hello", k, v)
					}
				}
				if r.Request.Size != int64(len(compat)) && r.Request.Size != int64(len(pure)) {
					t.Errorf("request size %d, want the hello's", r.Request.Size)
				}
			}
		})
	}
}

// TestConnSSLv2Malformed feeds CLIENT-HELLOs whose lengths the probe would
// have refused (the host may claim a stream by the other direction): a
// failed record, nothing read after it.
func TestConnSSLv2Malformed(t *testing.T) {
	bad := buildV2ClientHello(0x0301, compatSpecs, 0, 16)
	bad[6]-- // cipher specs one byte shorter than the message holds
	tooNew := buildV2ClientHello(0x0304, compatSpecs, 0, 16)
	for _, hello := range [][]byte{bad, tooNew} {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		dr.Feed(0, hello, 1)
		dr.Feed(1, buildServerHello(0x0301, 0x002f, "", false), 2)
		dr.Close(3)
		if len(dr.Records) != 1 {
			t.Fatalf("%d records", len(dr.Records))
		}
		r := dr.Records[0]
		if !r.Failed || r.Error == "" || r.Request.Fields["ja3"] != nil {
			t.Errorf("failed %v error %q fields %v", r.Failed, r.Error, r.Request.Fields)
		}
	}
}

// TestReplaySSLv2 runs an SSLv2-compatible handshake through the host's
// detection (probe, claim, orientation) as the corpus tests do.
func TestReplaySSLv2(t *testing.T) {
	hello := buildV2ClientHello(0x0303, []int{0x00c02f, 0x00009c, 0x00002f}, 0, 32)
	sh := buildServerHello(0x0303, 0xc02f, "", false)
	segs := []dissectortest.Segment{
		{Dir: 0, Data: hello[:7]}, {Dir: 0, Data: hello[7:]},
		{Dir: 1, Data: sh}, {Dir: 0, Data: record(23, make([]byte, 30))},
	}
	recs := dissectortest.Replay(New(), segs)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r.StatusText != "ServerHello" || r.Response.Fields["tls_cipher_suite"] != "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" ||
		r.Request.Fields["tls_version"] != "TLS 1.2" || r.Request.Fields["ja3_string"] != "771,49199-156-47,,," {
		t.Fatalf("%+v\nrequest %v\nresponse %v", r, r.Request.Fields, r.Response.Fields)
	}
}
