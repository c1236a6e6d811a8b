package storage

import (
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// TestIndexEntry: an index entry decodes to what was encoded, a query
// term matches every spelling of its address and nothing else, and an
// entry stays under the value threshold (so it lives in the tables) even
// with two full IPv6 addresses.
func TestIndexEntry(t *testing.T) {
	for _, tt := range []struct {
		name      string
		src, dst  string
		port      uint16
		match     []IndexTerm // must pass
		mismatch  []IndexTerm // must not
		underSize bool
	}{
		{"ipv4", "10.0.0.3", "10.0.1.2", 80,
			[]IndexTerm{{Kind: IndexSrcIP, Str: "10.0.0.3"}, {Kind: IndexDstIP, Str: "10.0.1.2"}, {Kind: IndexDstIPPort, Str: "10.0.1.2", Num: 80}},
			[]IndexTerm{{Kind: IndexSrcIP, Str: "10.0.1.2"}, {Kind: IndexDstIPPort, Str: "10.0.1.2", Num: 81}, {Kind: IndexDstIP, Str: "::ffff:10.0.1.2"}}, true},
		{"ipv6 spelled long", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8:85a3:1234:5678:8a2e:370:7335", 443,
			[]IndexTerm{{Kind: IndexSrcIP, Str: "2001:db8:85a3::8a2e:370:7334"}, {Kind: IndexDstIPPort, Str: "2001:db8:85a3:1234:5678:8a2e:370:7335", Num: 443}},
			[]IndexTerm{{Kind: IndexSrcIP, Str: "2001:db8:85a3::8a2e:370:7335"}}, true},
		{"ipv4-mapped", "::ffff:10.0.0.3", "0:0:0:0:0:ffff:a00:102", 80,
			[]IndexTerm{{Kind: IndexSrcIP, Str: "::ffff:10.0.0.3"}, {Kind: IndexDstIP, Str: "::ffff:10.0.1.2"}},
			[]IndexTerm{{Kind: IndexSrcIP, Str: "10.0.0.3"}}, true},
		{"zoned and names", "fe80::1%eth0", "db.internal", 5432,
			[]IndexTerm{{Kind: IndexSrcIP, Str: "fe80::1%eth0"}, {Kind: IndexDstIPPort, Str: "db.internal", Num: 5432}},
			[]IndexTerm{{Kind: IndexSrcIP, Str: "fe80::1"}, {Kind: IndexDstIP, Str: "db.internal.example"}}, false},
		{"no endpoints", "", "", 0,
			nil,
			[]IndexTerm{{Kind: IndexSrcIP, Str: ""}, {Kind: IndexDstIP, Str: "10.0.1.2"}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &sdk.Record{Protocol: "HTTP2", Status: -3, Failed: true, Src: sdk.Endpoint{IP: tt.src, Port: 1}, Dst: sdk.Endpoint{IP: tt.dst, Port: tt.port}}
			v := appendIndexValue(nil, rec)
			if tt.underSize && len(v) >= 64 {
				t.Errorf("entry is %d bytes, not under the 64-byte value threshold", len(v))
			}
			var e indexEntry
			if err := decodeIndexValue(v, &e); err != nil {
				t.Fatal(err)
			}
			if string(e.protocol) != "http2" || e.status != -3 || e.flags&idxFailed == 0 || e.dstPort != tt.port {
				t.Errorf("decoded %+v", e)
			}
			common := []IndexTerm{{Kind: IndexProtocol, Str: "Http2"}, {Kind: IndexStatus, Num: -3}, {Kind: IndexFailed}}
			for _, term := range append(common, tt.match...) {
				if !matcherTests(termsOnly{term})[0].match(&e) {
					t.Errorf("%s does not match", term)
				}
			}
			for _, term := range tt.mismatch {
				if matcherTests(termsOnly{term})[0].match(&e) {
					t.Errorf("%s matches", term)
				}
			}
			// Every truncation is an error, not a wrong answer.
			for n := 0; n < len(v); n++ {
				if decodeIndexValue(v[:n], &e) == nil {
					t.Errorf("entry cut to %d of %d bytes decodes", n, len(v))
				}
			}
		})
	}
}

// termsOnly is a Matcher with given index terms and nothing else.
type termsOnly []IndexTerm

func (m termsOnly) Match(*sdk.Record) (bool, error) { return true, nil }
func (m termsOnly) IndexTerms() []IndexTerm         { return m }
func (m termsOnly) Reads() RecordParts              { return 0 }
func (m termsOnly) String() string {
	var s []string
	for _, t := range m {
		s = append(s, t.String())
	}
	return strings.Join(s, " && ")
}
