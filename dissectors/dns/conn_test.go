package dns

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
	"golang.org/x/net/dns/dnsmessage"
)

type feed struct {
	dir  sdk.Direction
	data []byte
	gap  int
}

func TestConn(t *testing.T) {
	qa := buildQuery(t, 1, "Example.COM.", dnsmessage.TypeA)
	ra := buildResponse(t, 1, "example.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "192.0.2.1", "192.0.2.2")
	q6 := buildQuery(t, 2, "example.com.", dnsmessage.TypeAAAA)
	r6 := buildResponse(t, 2, "example.com.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, "2001:db8::1")
	qnx := buildQuery(t, 3, "nope.example.", dnsmessage.TypeA)
	rnx := buildResponse(t, 3, "nope.example.", dnsmessage.TypeA, dnsmessage.RCodeNameError)
	qsf := buildQuery(t, 4, "broken.example.", dnsmessage.TypeTXT)
	rsf := buildResponse(t, 4, "broken.example.", dnsmessage.TypeTXT, dnsmessage.RCodeServerFailure)
	qunk := buildQuery(t, 5, "x.example.", dnsmessage.Type(65280))

	type want struct {
		method, path string
		status       int
		statusText   string
		failed       bool
		response     bool
		errSet       bool
	}
	tests := []struct {
		name  string
		udp   bool
		feeds []feed
		want  []want
	}{
		{"udp pair", true, []feed{{0, qa, 0}, {1, ra, 0}}, []want{{"A", "Example.COM", 0, "NOERROR", false, true, false}}},
		{"udp interleaved ids", true, []feed{{0, qa, 0}, {0, q6, 0}, {1, r6, 0}, {1, ra, 0}},
			[]want{{"AAAA", "example.com", 0, "NOERROR", false, true, false}, {"A", "Example.COM", 0, "NOERROR", false, true, false}}},
		{"nxdomain is failed", true, []feed{{0, qnx, 0}, {1, rnx, 0}}, []want{{"A", "nope.example", 3, "NXDOMAIN", true, true, false}}},
		{"servfail is failed", true, []feed{{0, qsf, 0}, {1, rsf, 0}}, []want{{"TXT", "broken.example", 2, "SERVFAIL", true, true, false}}},
		{"unknown type, no response", true, []feed{{0, qunk, 0}}, []want{{"TYPE65280", "x.example", 0, "", false, false, true}}},
		{"response only", true, []feed{{1, ra, 0}}, []want{{"A", "example.com", 0, "NOERROR", false, true, true}}},
		{"tcp pipelined in one segment", false, []feed{{0, append(tcpFrame(qa), tcpFrame(q6)...), 0}, {1, append(tcpFrame(r6), tcpFrame(ra)...), 0}},
			[]want{{"AAAA", "example.com", 0, "NOERROR", false, true, false}, {"A", "Example.COM", 0, "NOERROR", false, true, false}}},
		{"tcp byte split", false, []feed{{0, tcpFrame(qa)[:1], 0}, {0, tcpFrame(qa)[1:7], 0}, {0, tcpFrame(qa)[7:], 0}, {1, tcpFrame(ra)[:30], 0}, {1, tcpFrame(ra)[30:], 0}},
			[]want{{"A", "Example.COM", 0, "NOERROR", false, true, false}}},
		{"tcp gap resync", false, []feed{{0, tcpFrame(qa), 0}, {1, tcpFrame(ra)[:10], 0}, {1, nil, 17}, {1, append(tcpFrame(ra)[27:], tcpFrame(r6)...), 0}, {0, tcpFrame(q6), 0}},
			// The first response is lost to the gap; the AAAA response,
			// read after resynchronising, arrives before its query.
			[]want{{"AAAA", "example.com", 0, "NOERROR", false, true, true}, {"A", "Example.COM", 0, "", false, false, true}, {"AAAA", "example.com", 0, "", false, false, true}}},
		{"garbage udp", true, []feed{{0, []byte{1, 2, 3}, 0}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := sdktest.Open(under(t), sdk.ConnInfo{ID: 1, Oriented: true, UDP: tt.udp})
			ts := int64(1000)
			for _, f := range tt.feeds {
				if f.gap > 0 {
					dr.Gap(f.dir, f.gap, ts)
				} else {
					dr.Feed(f.dir, f.data, ts)
				}
				ts += 1000
			}
			dr.Close(ts)
			if len(dr.Records) != len(tt.want) {
				t.Fatalf("%d records, want %d: %+v", len(dr.Records), len(tt.want), dr.Records)
			}
			for i, w := range tt.want {
				r := dr.Records[i]
				got := want{r.Method, r.Path, r.Status, r.StatusText, r.Failed, r.Response != nil, r.Error != ""}
				if got != w {
					t.Errorf("record %d: got %+v want %+v (error %q)", i, got, w, r.Error)
				}
				if r.Protocol != "dns" || r.Timestamp.IsZero() {
					t.Errorf("record %d: protocol %q timestamp %v", i, r.Protocol, r.Timestamp)
				}
				if r.Response != nil && r.Request != nil && !r.End.After(r.Timestamp) {
					t.Errorf("record %d: end %v not after start %v", i, r.End, r.Timestamp)
				}
				if _, err := json.Marshal(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	dr := sdktest.Open(under(t), sdk.ConnInfo{ID: 1, Oriented: true, UDP: true})
	dr.Feed(0, buildQuery(t, 9, "example.com.", dnsmessage.TypeA), 10)
	dr.Feed(1, buildResponse(t, 9, "example.com.", dnsmessage.TypeA, 0, "192.0.2.7"), 20)
	dr.Close(30)
	r := dr.Records[0]
	if r.RequestDir != sdk.DirA || r.Timestamp.UnixNano() != 10 || r.End.UnixNano() != 20 {
		t.Fatalf("dir %v times %v %v", r.RequestDir, r.Timestamp.UnixNano(), r.End.UnixNano())
	}
	// Nested values are sdk.Objects; the host sees the JSON maps they
	// encode as.
	host, err := sdk.DecodeRecord(sdk.AppendRecord(nil, r))
	if err != nil {
		t.Fatal(err)
	}
	ans := host.Response.Fields["dns_answers"].([]any)
	if a := ans[0].(map[string]any); len(ans) != 1 || a["data"] != "192.0.2.7" || a["type"] != "A" || fmt.Sprint(a["ttl"]) != "300" {
		t.Fatalf("answers %v", ans)
	}
	edns := host.Request.Fields["dns_edns"].(map[string]any)
	if fmt.Sprint(edns["udp_size"]) != "1232" || edns["do"] != true {
		t.Fatalf("edns %v", edns)
	}
	if f := host.Request.Fields["dns_flags"].(map[string]any); f["rd"] != true || f["qr"] != false {
		t.Fatalf("flags %v", f)
	}
	if r.Summary != "A example.com → NOERROR 192.0.2.7" {
		t.Fatalf("summary %q", r.Summary)
	}
}

func TestPendingBounded(t *testing.T) {
	dr := sdktest.Open(under(t), sdk.ConnInfo{ID: 1, UDP: true})
	for i := range 3 * maxPending {
		dr.Feed(0, buildQuery(t, uint16(i), "example.com.", dnsmessage.TypeA), int64(i+1))
	}
	if got := len(dr.Records); got != 2*maxPending {
		t.Fatalf("%d records before close", got)
	}
	dr.Close(1 << 20)
	if got := len(dr.Records); got != 3*maxPending {
		t.Fatalf("%d records after close", got)
	}
}
