package kfl

import (
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// status_code is each protocol's own number: MySQL's "access denied" is
// error 1045, which `status_code >= 500` matches like an HTTP 5xx. The
// reference says so and points to `failed`, the protocol-neutral filter,
// which matches failures of every protocol and nothing else.
func TestStatusCodeIsPerProtocolFailedIsNeutral(t *testing.T) {
	e := testEnv(t)
	http503 := &sdk.Record{Protocol: "http", Status: 503, Failed: true, Response: &sdk.Message{}}
	http200 := &sdk.Record{Protocol: "http", Status: 200, Response: &sdk.Message{}}
	mysql1045 := &sdk.Record{Protocol: "mysql", Status: 1045, Failed: true, StatusText: "Access denied", Response: &sdk.Message{}}
	dnsServfail := &sdk.Record{Protocol: "dns", Status: 2, Failed: true, Response: &sdk.Message{}}
	for _, tc := range []struct {
		expr string
		want []bool // http503, http200, mysql1045, dnsServfail
	}{
		{`status_code >= 500`, []bool{true, false, true, false}},
		{`http && status_code >= 500`, []bool{true, false, false, false}},
		{`failed`, []bool{true, false, true, true}},
	} {
		p := e.MustCompile(tc.expr)
		for i, r := range []*sdk.Record{http503, http200, mysql1045, dnsServfail} {
			if got, err := p.Match(r); err != nil || got != tc.want[i] {
				t.Errorf("%s on %s %d: %v %v, want %v", tc.expr, r.Protocol, r.Status, got, err, tc.want[i])
			}
		}
	}
	ref := e.Reference()
	row := ""
	for _, line := range strings.Split(ref, "\n") {
		if strings.HasPrefix(line, "| `status_code` |") {
			row = line
		}
	}
	for _, want := range []string{"depends on the protocol", "MySQL error number", "1045", "http && status_code >= 500", "failed"} {
		if !strings.Contains(row, want) {
			t.Errorf("the reference's status_code row lacks %q: %s", want, row)
		}
	}
	if !strings.Contains(ref, "`failed`") || !strings.Contains(ref, "protocol-neutral") {
		t.Error("the reference does not name failed as the protocol-neutral error filter")
	}
}
