package redis

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"path/filepath"
	"testing"
)

// TestCorpus checks the records made from the redis/ captures. tshark's
// oracle has no Redis row (its RESP dissector does not name commands), so
// the expectations were read off each stream (`tshark -z follow,tcp,…`).
func TestCorpus(t *testing.T) {
	dir := dissectortest.CorpusDir(t)
	tests := []struct {
		file    string
		records int
		keys    map[string]int
	}{
		{"deepflow_debug.pcap", 1, map[string]int{"LRANGE mylist": 1}},
		{"deepflow_error_reply.pcap", 1, map[string]int{"GET abcd": 1}},
		{"ndpi_resp_many_arrays.pcap", 4, map[string]int{"COMMAND": 1, "GET test": 1, "PING": 1, "SET test": 1}},
		{"tcpdump_infinite_loop_repro.pcapng", 0, nil},
		{"tcpdump_inline_commands.pcap", 12, map[string]int{"LPUSH test3": 5, "LRANGE test3": 1, "GET test4": 1}},
		{"tcpdump_malformed_resp.pcap", 21, map[string]int{"INCR z": 3, "PING": 9, "$0": 1}},
		{"tcpdump_redis_benchmark.pcap", 15, map[string]int{"LRANGE mylist": 4, "MSET key:000000000525": 1}},
		{"zeek_auth.pcap", 3, map[string]int{"AUTH": 3}},
		{"zeek_bulk_loading.pcap", 1001, map[string]int{"ECHO": 1, "SET Key999": 1}},
		{"zeek_client_reply_off_on.pcap", 8, map[string]int{"CLIENT REPLY": 3, "PING": 5}},
		{"zeek_django_cloud_port10625.pcapng", 158, map[string]int{"GET :1:factorial_50": 3}},
		{"zeek_large_req_resp.pcap", 5, map[string]int{"SET THOUSAND_X": 1, "GET THOUSAND_X": 1, "COMMAND DOCS": 1}},
		{"zeek_pipeline_with_commands.pcap", 4, map[string]int{"PING": 2, "SET HI": 1, "GET HI": 1}},
		{"zeek_pipelining.pcap", 3, map[string]int{"PING": 3}},
		{"zeek_pubsub.pcap", 10, map[string]int{"SUBSCRIBE Foo": 1, "MESSAGE Foo": 1, "PMESSAGE Foo": 1, "PMESSAGE FeeFooFiiFum": 1}},
		{"zeek_pubsub_resp3.pcap", 13, map[string]int{"HELLO": 2, "MESSAGE Foo": 1, "PMESSAGE Foobar": 1}},
		{"zeek_resp3_attributes.pcap", 2, map[string]int{"FAKE": 1, "FAKE2": 1}},
		{"zeek_set.pcap", 3, map[string]int{"SET test": 1, "SET one:1": 1, "SET two:2": 1}},
		{"zeek_starts_with_server.pcapng", 2, map[string]int{"SET hello": 1, "": 1}},
		{"zeek_streams.pcap", 4, map[string]int{"XADD race:france": 3, "XRANGE race:france": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			keys, recs := dissectortest.CorpusKeys(t, New(), filepath.Join(dir, "redis", tt.file))
			if len(recs) != tt.records {
				t.Errorf("%d records, want %d: %v", len(recs), tt.records, keys)
			}
			for k, n := range tt.keys {
				if keys[k] != n {
					t.Errorf("%q: %d records, want %d", k, keys[k], n)
				}
			}
		})
	}
}

// TestCorpusNegative checks that captures of other protocols, and traffic
// that only almost looks like RESP, make no Redis records.
func TestCorpusNegative(t *testing.T) {
	dir := dissectortest.CorpusDir(t)
	var files []string
	for _, pattern := range []string{"negative/*", "postgresql/*", "mysql/*", "mqtt/*", "kafka/*", "amqp/*", "mongodb/*"} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		files = append(files, m...)
	}
	for _, f := range files {
		if _, recs := dissectortest.CorpusKeys(t, New(), f); len(recs) > 0 {
			t.Errorf("%s: %d redis records, first %+v", f, len(recs), *recs[0])
		}
	}
}
