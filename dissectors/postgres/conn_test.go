package postgres

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
	method, path, statusText, err string
	failed, response              bool
	fields                        map[string]any
}

func TestConn(t *testing.T) {
	login := []step{c(startup("user", "alice", "database", "shop", "application_name", "psql")), s(loginOK())}
	tests := []struct {
		name    string
		steps   []step
		want    []want
		switch_ string
	}{
		{"simple select", append(login[:2:2], c(msg('Q', cs("SELECT id FROM t"))), s(rowDesc("id"), dataRow("1"), dataRow("2"), msg('C', cs("SELECT 2")), msg('Z', []byte("I")))),
			[]want{{method: "QUERY", path: "SELECT id FROM t", statusText: "SELECT 2", response: true, fields: map[string]any{"pg_rows": int64(2), "pg_user": "alice", "pg_database": "shop", "pg_command_tag": "SELECT 2"}}}, ""},
		{"multi statement", append(login[:2:2], c(msg('Q', cs("BEGIN; INSERT INTO t VALUES (1)"))), s(msg('C', cs("BEGIN")), msg('C', cs("INSERT 0 1")), msg('Z', []byte("T")))),
			[]want{{method: "QUERY", path: "BEGIN; INSERT INTO t VALUES (1)", statusText: "INSERT 0 1", response: true, fields: map[string]any{"pg_command_tag": "BEGIN; INSERT 0 1"}}}, ""},
		{"query error", append(login[:2:2], c(msg('Q', cs("SELECT * FROM nope"))), s(errResp("42P01", "relation \"nope\" does not exist"), msg('Z', []byte("I")))),
			[]want{{method: "QUERY", path: "SELECT * FROM nope", statusText: "42P01", failed: true, response: true}}, ""},
		{"extended", append(login[:2:2],
			c(parse("s1", "SELECT $1::int")), c(bindMsg("", "s1", "7")), c(msg('D', []byte("P\x00"))), c(execute("")), c(msg('S')),
			s(msg('1'), msg('2'), rowDesc("int4"), dataRow("7"), msg('C', cs("SELECT 1")), msg('Z', []byte("I"))),
			c(bindMsg("", "s1", "8")), c(execute("")), c(msg('S')),
			s(msg('2'), dataRow("8"), msg('C', cs("SELECT 1")), msg('Z', []byte("I")))),
			[]want{
				{method: "EXECUTE", path: "SELECT $1::int", statusText: "SELECT 1", response: true, fields: map[string]any{"pg_statement_name": "s1", "pg_params": []any{"7"}, "pg_columns": []string{"int4"}}},
				{method: "EXECUTE", path: "SELECT $1::int", statusText: "SELECT 1", response: true, fields: map[string]any{"pg_params": []any{"8"}}},
			}, ""},
		{"extended error skips batch", append(login[:2:2],
			c(parse("", "SELEC 1")), c(bindMsg("", "")), c(execute("")), c(msg('S')),
			s(errResp("42601", "syntax error"), msg('Z', []byte("I")))),
			[]want{{method: "EXECUTE", path: "SELEC 1", statusText: "42601", failed: true, response: true}}, ""},
		{"prepare only", append(login[:2:2], c(parse("p", "DELETE FROM t WHERE id=$1")), c(msg('D', []byte("Sp\x00"))), c(msg('S')),
			s(msg('1'), msg('t', u16(1), u32(23)), msg('n'), msg('Z', []byte("I")))),
			[]want{{method: "PREPARE", path: "DELETE FROM t WHERE id=$1", response: true}}, ""},
		{"login failure", []step{c(startup("user", "bob")), s(msg('R', u32(5), []byte("salt"))), c(msg('p', cs("md5abc"))), s(errResp("28P01", "password authentication failed"))},
			[]want{{method: "STARTUP", statusText: "28P01", failed: true, response: true, fields: map[string]any{"pg_auth": "md5", "pg_user": "bob"}}}, ""},
		{"ssl refused", []step{c(sslRequest()), s([]byte("N")), c(startup("user", "alice")), s(loginOK()), c(msg('Q', cs("SELECT 1"))), s(msg('C', cs("SELECT 1")), msg('Z', []byte("I")))},
			[]want{{method: "QUERY", path: "SELECT 1", statusText: "SELECT 1", response: true}}, ""},
		{"ssl accepted", []step{c(sslRequest()), s([]byte("S")), c([]byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0})}, nil, "tls"},
		{"cancel", []step{c(u32(16), u32(codeCancel), u32(1234), u32(99))},
			[]want{{method: "CANCEL", fields: map[string]any{"pg_cancel_pid": 1234}}}, ""},
		{"no response", append(login[:2:2], c(msg('Q', cs("SELECT pg_sleep(100)")))),
			[]want{{method: "QUERY", path: "SELECT pg_sleep(100)", err: "no response captured"}}, ""},
		// deepflow_error.pcap: the capture ends after the ErrorResponse,
		// before ReadyForQuery. The error is the query's outcome; the
		// record must not also claim that no response was captured.
		{"query error, ReadyForQuery not captured", append(login[:2:2], c(msg('Q', cs("asdsdfdsf;"))), s(errResp("42601", "syntax error at or near \"asdsdfdsf\""))),
			[]want{{method: "QUERY", path: "asdsdfdsf;", statusText: "42601", failed: true, response: true}}, ""},
		{"rows, end not captured", append(login[:2:2], c(msg('Q', cs("SELECT id FROM t"))), s(rowDesc("id"), dataRow("1"))),
			[]want{{method: "QUERY", path: "SELECT id FROM t", response: true, err: "response incomplete: its end was not captured", fields: map[string]any{"pg_rows": int64(1)}}}, ""},
		{"copy out", append(login[:2:2], c(msg('Q', cs("COPY t TO STDOUT"))), s(msg('H', []byte{0}, u16(0)), msg('d', []byte("1\n")), msg('d', []byte("2\n")), msg('c'), msg('C', cs("COPY 2")), msg('Z', []byte("I")))),
			[]want{{method: "QUERY", path: "COPY t TO STDOUT", statusText: "COPY 2", response: true, fields: map[string]any{"pg_copy_bytes": int64(4)}}}, ""},
		{"mid-stream query", []step{c(msg('Q', cs("SELECT 1"))), s(msg('C', cs("SELECT 1")), msg('Z', []byte("I")))},
			[]want{{method: "QUERY", path: "SELECT 1", statusText: "SELECT 1", response: true}}, ""},
		{"gap resyncs", append(login[:2:2], c([]byte("Q\x00\x00\x00\x10SEL")), step{dir: sdk.DirA, gap: 50}, c([]byte("garbage"), msg('Q', cs("SELECT 2"))), s(msg('C', cs("SELECT 1")), msg('Z', []byte("I")))),
			[]want{{method: "QUERY", path: "SELECT 2", statusText: "SELECT 1", response: true}}, ""},
		{"hostile length", []step{c(msg('Q', cs("SELECT 1"))), s([]byte("C\x7f\xff\xff\xffxx"))},
			[]want{{method: "QUERY", path: "SELECT 1", err: "malformed: malformed message header"}}, ""},
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
				if r.Protocol != "postgres" || r.Method != w.method || r.Path != w.path || r.StatusText != w.statusText || r.Failed != w.failed || r.Error != w.err || (r.Response != nil) != w.response {
					t.Errorf("record %d: %s %q status %q failed %v error %q response %v; want %+v", i, r.Method, r.Path, r.StatusText, r.Failed, r.Error, r.Response != nil, w)
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
				if _, err := json.Marshal(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestOversizedMessage checks that a message bigger than what is buffered
// is streamed, not held.
func TestOversizedMessage(t *testing.T) {
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = 'x'
	}
	steps := []step{c(msg('Q', cs("SELECT big"))), s(rowDesc("b"), dataRow(string(big)), msg('C', cs("SELECT 1")), msg('Z', []byte("I")))}
	dr := run(steps)
	if dr.Rejected() || len(dr.Records) != 1 || dr.Records[0].Response.Fields["pg_rows"] != int64(1) {
		t.Fatalf("rejected %v records %+v", dr.Rejected(), dr.Records)
	}
}
