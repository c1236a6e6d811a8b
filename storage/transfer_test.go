package storage

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// A record carried between processes arrives as it left: what JSON would
// lose (header order and duplicates, End, RequestDir) included, and the
// processes and Kubernetes context a worker's records carry to a cluster
// hub.
func TestAppendDecodeRecord(t *testing.T) {
	ms := 12.5
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 123456789, time.UTC)
	rec := &sdk.Record{ID: NewID(t0, 42), Protocol: "http", Timestamp: t0, ElapsedMs: &ms, End: t0.Add(12500 * time.Microsecond),
		Src: sdk.Endpoint{IP: "10.0.0.1", Port: 40000, Name: "web", Namespace: "shop",
			Process: &sdk.Process{PID: 42, Comm: "curl", CgroupID: 7},
			K8s: &sdk.K8s{Pod: "web-1", Node: "n1", WorkloadKind: "Deployment", Workload: "web", Labels: map[string]string{"app": "web", "tier": "front"},
				NamespaceLabels: map[string]string{"team": "payments"}}},
		Dst:    sdk.Endpoint{IP: "fd00::3", Port: 8080, K8s: &sdk.K8s{Service: "api"}},
		Stream: "s1", Dissector: "http", TLS: true, Method: "POST", Path: "/a", Status: 503, StatusText: "Service Unavailable",
		Failed: true, Error: "upstream", Summary: "POST /a → 503", RequestDir: sdk.DirB,
		Request: &sdk.Message{Headers: []sdk.Header{{Name: "X-B", Value: "2"}, {Name: "X-A", Value: "1"}, {Name: "X-B", Value: "3"}},
			Body: `{"q":1}`, BodySize: 7, Size: 120, Fields: map[string]any{"query": map[string]any{"q": []any{"1"}}}},
		Response: &sdk.Message{Body: "AAEC", Encoding: "base64", BodyTruncated: true, BodySize: 9000, Size: 9100}}
	got, err := DecodeRecord(AppendRecord(nil, rec))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rec) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, rec)
	}
	b := AppendRecord(nil, rec)
	for _, bad := range [][]byte{nil, {0xff}, b[:len(b)-1], append(append([]byte(nil), b...), 0)} {
		if _, err := DecodeRecord(bad); err == nil || !strings.Contains(err.Error(), "storage: record") {
			t.Errorf("decoding %d bytes of %d: %v", len(bad), len(b), err)
		}
	}
}
