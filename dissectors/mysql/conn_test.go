package mysql

import (
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

type step struct {
	dir  sdk.Direction
	data []byte
	gap  int
}

func run(steps []step) *sdktest.Driver {
	dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
	ts := int64(1000)
	for _, s := range steps {
		if s.gap > 0 {
			dr.Gap(s.dir, s.gap, ts)
		} else {
			dr.Feed(s.dir, s.data, ts)
		}
		ts += 1000
	}
	dr.Close(ts)
	return dr
}

func c(b ...[]byte) step { return step{dir: sdk.DirA, data: cat(b...)} }
func s(b ...[]byte) step { return step{dir: sdk.DirB, data: cat(b...)} }

type want struct {
	method, path, err string
	status            int
	failed, response  bool
	fields            map[string]any
}

const baseCaps = capProtocol41 | capSecureConn | capPluginAuth | capConnectWithDB

func login(caps uint32) []step {
	return []step{s(greetingPkt(caps)), c(responsePkt(caps, "alice", "shop")), s(okPkt(2, 0, 0))}
}

func with(caps uint32, more ...step) []step { return append(login(caps), more...) }

func TestConn(t *testing.T) {
	resultSet := s(pkt(1, []byte{2}), colDef(2, "id"), colDef(3, "name"), eofPkt(4), rowPkt(5, "1", "a"), rowPkt(6, "2", "b"), eofPkt(7))
	tests := []struct {
		name    string
		steps   []step
		want    []want
		switch_ string
	}{
		{"query result set", with(baseCaps, c(query("SELECT id, name FROM t")), resultSet),
			[]want{{method: "COM_QUERY", path: "SELECT id, name FROM t", response: true, fields: map[string]any{"mysql_rows": 2, "mysql_columns": []string{"id", "name"}, "mysql_user": "alice", "mysql_schema": "shop", "mysql_server_version": "8.0.32"}}}, ""},
		{"deprecate eof", with(baseCaps|capDeprecateEOF, c(query("SELECT id FROM t")), s(pkt(1, []byte{1}), colDef(2, "id"), rowPkt(3, "1"), pkt(4, []byte{0xfe, 0, 0, 2, 0, 0, 0}))),
			[]want{{method: "COM_QUERY", path: "SELECT id FROM t", response: true, fields: map[string]any{"mysql_rows": 1}}}, ""},
		{"insert ok", with(baseCaps, c(query("INSERT INTO t VALUES (1)")), s(okPkt(1, 1, 9))),
			[]want{{method: "COM_QUERY", path: "INSERT INTO t VALUES (1)", response: true, fields: map[string]any{"mysql_affected_rows": 1, "mysql_last_insert_id": 9}}}, ""},
		{"error", with(baseCaps, c(query("SELECT * FROM nope")), s(errPkt(1, 1146, "42S02", "Table 'shop.nope' doesn't exist"))),
			[]want{{method: "COM_QUERY", path: "SELECT * FROM nope", status: 1146, failed: true, response: true, fields: map[string]any{"mysql_sql_state": "42S02"}}}, ""},
		{"prepared", with(baseCaps,
			c(pkt(0, []byte{comStmtPrepare}, []byte("SELECT ? + 1"))), s(pkt(1, []byte{0}, le(5, 4), le(1, 2), le(1, 2), []byte{0, 0, 0}), colDef(2, "?"), eofPkt(3), colDef(4, "x"), eofPkt(5)),
			c(pkt(0, []byte{comStmtExecute}, le(5, 4), []byte{0}, le(1, 4), []byte{0, 1, 3, 0}, le(41, 4))), s(pkt(1, []byte{1}), colDef(2, "x"), eofPkt(3), pkt(4, []byte{0, 0, 42, 0, 0, 0, 0, 0, 0, 0}), eofPkt(5)),
			c(pkt(0, []byte{comStmtClose}, le(5, 4)))),
			[]want{
				{method: "COM_STMT_PREPARE", path: "SELECT ? + 1", response: true, fields: map[string]any{"mysql_statement_id": 5}},
				{method: "COM_STMT_EXECUTE", path: "SELECT ? + 1", response: true, fields: map[string]any{"mysql_rows": 1}},
				{method: "COM_STMT_CLOSE"},
			}, ""},
		{"init db ping quit", with(baseCaps, c(pkt(0, []byte{comInitDB}, []byte("other"))), s(okPkt(1, 0, 0)), c(pkt(0, []byte{comPing})), s(okPkt(1, 0, 0)), c(pkt(0, []byte{comQuit}))),
			[]want{{method: "COM_INIT_DB", path: "other", response: true}, {method: "COM_PING", response: true, fields: map[string]any{"mysql_schema": "other"}}, {method: "COM_QUIT"}}, ""},
		{"login failed", []step{s(greetingPkt(baseCaps)), c(responsePkt(baseCaps, "bob", "")), s(errPkt(2, 1045, "28000", "Access denied"))},
			[]want{{method: "LOGIN", status: 1045, failed: true, response: true, fields: map[string]any{"mysql_user": "bob"}}}, ""},
		{"auth switch", []step{s(greetingPkt(baseCaps)), c(responsePkt(baseCaps, "bob", "")), s(pkt(2, []byte{0xfe}, []byte("caching_sha2_password\x00salt"))), c(pkt(3, make([]byte, 32))), s(pkt(4, []byte{1, 3})), s(okPkt(5, 0, 0)), c(query("SELECT 1")), s(okPkt(1, 0, 0))},
			[]want{{method: "COM_QUERY", path: "SELECT 1", response: true}}, ""},
		{"ssl request", []step{s(greetingPkt(baseCaps | capSSL)), c(pkt(1, le(baseCaps|capSSL, 4), le(1<<24, 4), []byte{33}, make([]byte, 23))), c([]byte{0x16, 3, 1, 0, 5})}, nil, "tls"},
		{"compressed", with(baseCaps|capCompress, c(compress(0, query("SELECT 1"), false)), s(compress(1, cat(pkt(1, []byte{1}), colDef(2, "1"), eofPkt(3), rowPkt(4, "1"), eofPkt(5)), true))),
			[]want{{method: "COM_QUERY", path: "SELECT 1", response: true, fields: map[string]any{"mysql_rows": 1, "mysql_compressed": true}}}, ""},
		{"compressed mid-stream", []step{c(compress(0, query("SELECT 2"), false)), s(compress(1, okPkt(1, 0, 0), true))},
			[]want{{method: "COM_QUERY", path: "SELECT 2", response: true}}, ""},
		{"mid-stream", []step{c(pkt(0, []byte{comPing})), s(okPkt(1, 0, 0)), c(query("SELECT 1")), resultSet},
			[]want{{method: "COM_PING", response: true}, {method: "COM_QUERY", path: "SELECT 1", response: true, fields: map[string]any{"mysql_rows": 2}}}, ""},
		{"no response", with(baseCaps, c(query("SELECT SLEEP(100)"))),
			[]want{{method: "COM_QUERY", path: "SELECT SLEEP(100)", err: "no response captured"}}, ""},
		// A result set cut off by the end of the capture has a response;
		// the record must not say that none was captured.
		{"result set, end not captured", with(baseCaps, c(query("SELECT id FROM t")), s(pkt(1, []byte{1}), colDef(2, "id"), eofPkt(3), rowPkt(4, "1"))),
			[]want{{method: "COM_QUERY", path: "SELECT id FROM t", response: true, err: "response incomplete: its end was not captured", fields: map[string]any{"mysql_rows": 1}}}, ""},
		{"gap resyncs", with(baseCaps, c([]byte{0x20, 0, 0, 0, 3, 'S'}), step{dir: sdk.DirA, gap: 30}, c([]byte("junk"), query("SELECT 3")), s(okPkt(1, 0, 0))),
			[]want{{method: "COM_QUERY", path: "SELECT 3", response: true}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := run(tt.steps)
			if dr.Switched() != tt.switch_ {
				t.Fatalf("switch %q, want %q", dr.Switched(), tt.switch_)
			}
			if len(dr.Records) != len(tt.want) {
				for _, r := range dr.Records {
					t.Logf("%+v", r)
				}
				t.Fatalf("%d records, want %d", len(dr.Records), len(tt.want))
			}
			for i, w := range tt.want {
				r := dr.Records[i]
				if r.Protocol != "mysql" || r.Method != w.method || r.Path != w.path || r.Status != w.status || r.Failed != w.failed || r.Error != w.err || (r.Response != nil) != w.response {
					t.Errorf("record %d: %s %q status %d failed %v error %q response %v; want %+v", i, r.Method, r.Path, r.Status, r.Failed, r.Error, r.Response != nil, w)
				}
				if r.Timestamp.IsZero() || w.response && r.End.Before(r.Timestamp) || r.Summary == "" {
					t.Errorf("record %d: times %v..%v summary %q", i, r.Timestamp, r.End, r.Summary)
				}
				for k, v := range w.fields {
					got, ok := r.Request.Fields[k]
					if !ok && r.Response != nil {
						got, ok = r.Response.Fields[k]
					}
					if !ok || mustJSON(got) != mustJSON(v) {
						t.Errorf("record %d: field %s = %v, want %v", i, k, got, v)
					}
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestOversizedPacket checks that a packet bigger than what is buffered is
// streamed, not held.
func TestOversizedPacket(t *testing.T) {
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = 'x'
	}
	row := pkt(4, []byte{0xfd, byte(len(big)), byte(len(big) >> 8), byte(len(big) >> 16)}, big)
	dr := run(with(baseCaps, c(query("SELECT big")), s(pkt(1, []byte{1}), colDef(2, "b"), eofPkt(3), row, eofPkt(5))))
	if dr.Rejected() || len(dr.Records) != 1 || dr.Records[0].Response.Fields["mysql_rows"] != int64(1) {
		t.Fatalf("rejected %v records %+v", dr.Rejected(), dr.Records)
	}
}
