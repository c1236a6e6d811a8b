package mqtt

import (
	"encoding/json"
	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// TestCorpus compares the request keys of every mqtt/ capture with the
// tshark oracle (../../../shared/tools/tshark-oracle.py), replaying streams
// without the host (see corpus_test.go). The full pipeline comparison is
// dissectors.TestCorpusConformance.
func TestCorpus(t *testing.T) {
	dir := dissectortest.CorpusDir(t)
	oracle := filepath.Join(dir, "..", "tools", "tshark-oracle.py")
	files, _ := filepath.Glob(filepath.Join(dir, "mqtt", "*"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if filepath.Base(f) == "deepflow_roundtrip.pcap" {
				// Six segments are missing; tshark's follow output joins
				// the rest without saying where, so this replay cannot
				// report the gaps. The pipeline run (which does) matches.
				t.Skip("capture gaps are invisible to this replay")
			}
			out, err := exec.Command("python3", oracle, f).Output()
			if err != nil {
				t.Skipf("oracle: %v", err)
			}
			var v map[string]struct {
				Req map[string]int `json:"req"`
			}
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatal(err)
			}
			keys, _ := dissectortest.CorpusKeys(t, New(), f)
			delete(keys, "")
			want := v["mqtt"].Req
			if want == nil {
				want = map[string]int{}
			}
			if !reflect.DeepEqual(keys, want) {
				t.Errorf("requests:\n ours   %v\n tshark %v", keys, want)
			}
		})
	}
}

// TestCorpusNegative checks that captures of other protocols make no MQTT
// records.
func TestCorpusNegative(t *testing.T) {
	dir := dissectortest.CorpusDir(t)
	for _, pattern := range []string{"negative/*", "redis/*", "postgresql/*", "mysql/*", "kafka/*", "amqp/*", "mongodb/*"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range files {
			if _, recs := dissectortest.CorpusKeys(t, New(), f); len(recs) > 0 {
				t.Errorf("%s: %d mqtt records", f, len(recs))
			}
		}
	}
}
