package mysql

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Notes for commands whose answer was not seen whole.
const (
	// noResponse is the note of a command still waiting when the next
	// command starts or the connection ends.
	noResponse = "no response captured"
	// endNotCaptured replaces noResponse for a command whose answer began
	// but did not end within the capture.
	endNotCaptured = "its end was not captured"
)

// emit turns o into a record; note explains a missing or cut response.
func (s *session) emit(o *op, note string) {
	r := &sdk.Record{
		Protocol:   "mysql",
		Method:     o.method,
		Path:       o.path,
		Timestamp:  nanos(o.ts),
		RequestDir: s.c.client,
		Request:    &sdk.Message{Size: o.reqSize},
	}
	req := r.Request
	if o.method != "LOGIN" {
		req.Set("mysql_command", o.method)
	}
	if u := firstNonEmpty(o.user, s.user); u != "" {
		req.Set("mysql_user", u)
	}
	if sc := firstNonEmpty(o.schema, s.schema); sc != "" {
		req.Set("mysql_schema", sc)
	}
	if s.serverVersion != "" {
		req.Set("mysql_server_version", s.serverVersion)
	}
	if o.hasStmt {
		req.Set("mysql_statement_id", int64(o.stmtID))
	}
	if o.table != "" {
		req.Set("mysql_table", o.table)
	}
	if s.compressed {
		req.Set("mysql_compressed", true)
	}
	outcome := ""
	switch {
	case o.responded:
		resp := &sdk.Message{Size: o.respSize}
		r.Response = resp
		r.End = nanos(o.end)
		if o.ok != nil {
			resp.Set("mysql_affected_rows", int64(o.ok.affected))
			resp.Set("mysql_last_insert_id", int64(o.ok.insertID))
		}
		if o.rows > 0 || len(o.columns) > 0 {
			resp.Set("mysql_rows", o.rows)
			outcome = strconv.FormatInt(o.rows, 10) + " rows"
		}
		if len(o.columns) > 0 {
			resp.Set("mysql_columns", o.columns)
		}
		r.StatusText = "OK"
		if o.ok != nil && outcome == "" {
			outcome = "OK, " + strconv.FormatUint(o.ok.affected, 10) + " affected"
		}
		if e := o.err; e != nil {
			r.Failed = true
			r.Status = e.code
			r.StatusText = e.state
			resp.Set("mysql_error_code", e.code)
			resp.Set("mysql_sql_state", e.state)
			resp.Set("mysql_error_message", e.message)
			outcome = "ERR " + strconv.Itoa(e.code) + ": " + e.message
		}
		switch note {
		case "":
		case noResponse:
			// The answer began but its end was not captured: saying that
			// no response was captured would contradict the response shown.
			r.Error = "response incomplete: " + endNotCaptured
		default:
			r.Error = "response incomplete: " + note
		}
	case oneWay(o.cmd) && o.method != "LOGIN":
		outcome = "no response expected"
	default:
		r.Error = note
		outcome = note
	}
	what := o.method
	if o.path != "" {
		what += " " + short(o.path, 60)
	}
	if outcome != "" {
		what += " → " + short(outcome, 80)
	}
	r.Summary = what
	s.c.out.Emit(r)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// short cuts s to n bytes on a rune boundary, on one line.
func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
