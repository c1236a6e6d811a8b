package postgres

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// base builds the request half of o's record.
func (s *session) base(o *op) *sdk.Record {
	r := &sdk.Record{
		Protocol:   "postgres",
		Method:     o.method,
		Path:       o.sql,
		Timestamp:  nanos(o.ts),
		RequestDir: s.c.client,
		Request:    &sdk.Message{Size: o.reqSize},
	}
	req := r.Request
	if s.user != "" {
		req.Set("pg_user", s.user)
	}
	if s.database != "" {
		req.Set("pg_database", s.database)
	}
	if s.app != "" {
		req.Set("pg_application_name", s.app)
	}
	if o.kind == opExecute || o.kind == opParse {
		req.Set("pg_statement_name", o.stmt)
	}
	if o.kind == opExecute {
		req.Set("pg_portal", o.portal)
	}
	if len(o.params) > 0 {
		req.Set("pg_params", o.params)
	}
	if o.copyBytes > 0 && !o.copying {
		req.Set("pg_copy_bytes", o.copyBytes)
	}
	return r
}

// Notes for requests whose answer was not seen whole.
const (
	// noResponse is the note of requests still waiting when the
	// connection ends or the queue overflows.
	noResponse = "no response captured"
	// endNotCaptured replaces noResponse for a request whose answer began
	// but did not end within the capture.
	endNotCaptured = "its end was not captured"
)

// emit turns o into a record; note explains a missing or cut response.
func (s *session) emit(o *op, note string) {
	r := s.base(o)
	if o.method == "STARTUP" && s.authMethod != "" {
		r.Request.Set("pg_auth", s.authMethod)
	}
	outcome := ""
	if o.responded {
		resp := &sdk.Message{Size: o.respSize}
		r.Response = resp
		r.End = nanos(o.end)
		if len(o.tags) > 0 {
			tag := strings.Join(o.tags, "; ")
			resp.Set("pg_command_tag", tag)
			r.StatusText = o.tags[len(o.tags)-1]
			outcome = tag
		}
		if o.rows > 0 || len(o.columns) > 0 {
			resp.Set("pg_rows", o.rows)
		}
		if len(o.columns) > 0 {
			resp.Set("pg_columns", o.columns)
		}
		if o.copying {
			resp.Set("pg_copy_bytes", o.copyBytes)
		}
		if len(o.notices) > 0 {
			resp.Set("pg_notices", o.notices)
		}
		if o.err != nil {
			r.Failed = true
			r.StatusText = o.err.code
			resp.Set("pg_error", o.err.fields())
			outcome = strings.TrimSpace(o.err.severity + " " + o.err.code + ": " + o.err.message)
		}
		switch {
		case note == "":
		case note == noResponse && o.err != nil:
			// An ErrorResponse ends the request it answers (a simple query's
			// later statements are skipped); only the ReadyForQuery after
			// it was not captured, which reports no outcome.
		case note == noResponse:
			// The answer began but its end was not captured: saying that
			// no response was captured would contradict the response shown.
			r.Error = "response incomplete: " + endNotCaptured
		default:
			r.Error = "response incomplete: " + note
		}
	} else {
		r.Error = note
		outcome = note
	}
	what := o.method
	if o.sql != "" {
		what += " " + short(o.sql, 60)
	}
	if outcome != "" {
		what += " → " + short(outcome, 80)
	}
	r.Summary = what
	s.c.out.Emit(r)
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
