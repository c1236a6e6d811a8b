package dns

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
	"golang.org/x/net/dns/dnsmessage"
)

// TestRecordFromMessages checks that a record built from whole messages is
// the one the dissector emits for the same messages over UDP, apart from
// the times and direction the caller fills in.
func TestRecordFromMessages(t *testing.T) {
	q := buildQuery(t, 0, "www.example.com.", dnsmessage.TypeA)
	r := buildResponse(t, 0, "www.example.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "192.0.2.1", "192.0.2.2", "192.0.2.3")
	sf := buildResponse(t, 0, "www.example.com.", dnsmessage.TypeA, dnsmessage.RCodeServerFailure)
	tests := []struct {
		name        string
		query, resp []byte
		note        string
		wantErr     string
	}{
		{"pair", q, r, "", ""},
		{"servfail", q, sf, "", ""},
		{"query only", q, nil, "", "no response captured"},
		{"response only", nil, r, "", "response without a captured query"},
		{"query only with note", q, nil, "HTTP 500", "HTTP 500"},
		{"query not dns", []byte{1, 2}, r, "", "query: not a DNS message (2 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RecordFromMessages(tt.query, tt.resp, tt.note)
			if err != nil {
				t.Fatal(err)
			}
			dr := sdktest.Open(under(t), sdk.ConnInfo{UDP: true, Oriented: true})
			if tt.query != nil && len(tt.query) >= 12 {
				dr.Feed(sdk.DirA, tt.query, 1)
			}
			if tt.resp != nil {
				dr.Feed(sdk.DirB, tt.resp, 2)
			}
			dr.Close(3)
			if len(dr.Records) != 1 {
				t.Fatalf("%d records", len(dr.Records))
			}
			want := *dr.Records[0]
			want.Timestamp, want.End, want.RequestDir = got.Timestamp, got.End, got.RequestDir
			want.Error = tt.wantErr
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(&want)
			if string(gj) != string(wj) {
				t.Fatalf("record\n got %s\nwant %s", gj, wj)
			}
			if !got.Timestamp.IsZero() || !got.End.IsZero() {
				t.Fatalf("times set: %v %v", got.Timestamp, got.End)
			}
		})
	}
	for _, bad := range [][2][]byte{{nil, nil}, {{1}, nil}, {{1}, {2, 3}}} {
		if _, err := RecordFromMessages(bad[0], bad[1], ""); !errors.Is(err, ErrNotDNS) {
			t.Fatalf("%v: err %v", bad, err)
		}
	}
}

// moduleRecords is what the DNS module emits for query (direction A) and
// response (direction B), either nil, on a new UDP flow.
func moduleRecords(t testing.TB, query, response []byte) []*sdk.Record {
	dr := sdktest.Open(under(t), sdk.ConnInfo{UDP: true, Oriented: true})
	if query != nil {
		dr.Feed(sdk.DirA, query, 1)
	}
	if response != nil {
		dr.Feed(sdk.DirB, response, 2)
	}
	dr.Close(3)
	if dr.Misbehaved != "" {
		t.Fatal(dr.Misbehaved)
	}
	return dr.Records
}

// sameAsModule reports how RecordFromMessages (the Go code, which the
// HTTP/2 dissector's DNS over HTTPS records come from) differs from the
// DNS module (the C code) on the same messages, apart from the times and
// direction its caller fills in: "" when alike.
func sameAsModule(t testing.TB, query, response []byte) string {
	recs := moduleRecords(t, query, response)
	if len(recs) != 1 {
		return fmt.Sprintf("the module made %d records", len(recs))
	}
	got, err := RecordFromMessages(query, response, "")
	if err != nil {
		return err.Error()
	}
	// Both as the host holds them: through the wire encoding, fields
	// decoded (the module's are already).
	if got, err = sdk.DecodeRecord(sdk.AppendRecord(nil, got)); err != nil {
		return err.Error()
	}
	want := *recs[0]
	want.Timestamp, want.End, want.RequestDir = got.Timestamp, got.End, got.RequestDir
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(&want)
	if string(gj) != string(wj) {
		return fmt.Sprintf("RecordFromMessages\n %s\nthe module\n %s", gj, wj)
	}
	return ""
}

// TestRecordFromMessagesMatchesModule holds the two renderings of a DNS
// message equal on the parse vectors, whole and damaged: each one alone,
// as the query or the response its QR bit says it is.
func TestRecordFromMessagesMatchesModule(t *testing.T) {
	msgs, damaged := parseVectors(t)
	checked := 0
	for _, msg := range append(msgs, damaged...) {
		q, r := msg, []byte(nil)
		if msg[2]&0x80 != 0 {
			q, r = nil, msg
		}
		if d := sameAsModule(t, q, r); d != "" {
			t.Fatalf("% x: %s", msg, d)
		}
		checked++
	}
	if checked < 100 {
		t.Fatalf("only %d messages checked", checked)
	}
}
