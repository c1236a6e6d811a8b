package postgres

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type opKind uint8

const (
	opQuery opKind = iota // simple query: a record, answered up to ReadyForQuery
	opExecute
	opFunc
	opParse
	opBind
	opDescribe
	opClose
	opSync
)

// op is one frontend message that the backend will answer, in the order
// the answers come. Queries, Executes and function calls become records.
type op struct {
	kind      opKind
	method    string
	sql       string
	stmt      string
	portal    string
	params    []any
	ts        int64
	reqSize   int64
	responded bool
	respSize  int64
	end       int64
	tags      []string
	rows      int64
	columns   []string
	err       *pgError
	notices   []string
	copyBytes int64
	copying   bool
}

func (o *op) record() bool { return o.kind <= opFunc }

// portal is a bound statement, remembered until closed.
type portal struct {
	sql, stmt string
	params    []any
}

// session is the connection's protocol state: who logged in, what is
// prepared and which frontend messages still wait for their answer.
type session struct {
	c          *conn
	user       string
	database   string
	app        string
	login      *op // StartupMessage whose outcome is not known yet
	authMethod string
	queue      []*op
	statements names[string]
	portals    names[portal]
	batchTS    int64 // first byte of the extended-protocol messages leading to the next Execute
	batchSize  int64
}

func (s *session) init(c *conn) {
	s.c = c
	s.statements.init()
	s.portals.init()
}

func (s *session) push(o *op) {
	if len(s.queue) >= maxPending {
		old := s.queue[0]
		s.queue = s.queue[1:]
		if old.record() {
			s.emit(old, noResponse)
		}
	}
	s.queue = append(s.queue, o)
}

func (s *session) head() *op {
	if len(s.queue) == 0 {
		return nil
	}
	return s.queue[0]
}

func (s *session) pop() *op {
	o := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	return o
}

// damaged notes lost framing; pairing cannot be trusted past it.
func (s *session) damaged(dir sdk.Direction, why string) {
	s.flush("malformed: "+why, 0)
}

// flush emits every record still waiting, with note as its error.
func (s *session) flush(note string, ts int64) {
	for len(s.queue) > 0 {
		o := s.pop()
		if o.record() {
			s.emit(o, note)
		}
	}
	s.batchTS, s.batchSize = 0, 0
	if s.login != nil && note == noResponse && s.login.responded {
		// The server answered the login and the connection ended before
		// ReadyForQuery: nothing failed that a record should report.
		s.login = nil
	}
}

func (s *session) batch(ts int64, size int) {
	if s.batchTS == 0 {
		s.batchTS = ts
	}
	s.batchSize += int64(size)
}

// untyped handles StartupMessage, SSLRequest, GSSENCRequest and
// CancelRequest.
func (s *session) untyped(msg []byte, ts, last int64) bool {
	c := s.c
	switch code := be32(msg[4:]); {
	case code == codeSSL || code == codeGSSENC:
		c.halves[c.client.Reverse()].sslAnswer = true
		c.halves[c.client].untyped = true
	case code == codeCancel && len(msg) == 16:
		c.halves[c.client].untyped = false
		o := &op{method: "CANCEL", ts: ts, reqSize: 16}
		r := s.base(o)
		r.Request.Set("pg_cancel_pid", be32(msg[8:]))
		r.Summary = "CancelRequest for backend " + itoa(int64(be32(msg[8:])))
		c.out.Emit(r)
		return true
	case code>>16 == 3:
		c.halves[c.client].untyped = false
		params, _ := parseStartup(msg[8:])
		s.user, s.database, s.app = params["user"], params["database"], params["application_name"]
		if s.database == "" {
			s.database = s.user
		}
		s.login = &op{method: "STARTUP", ts: ts, reqSize: int64(len(msg))}
	default:
		c.halves[c.client].untyped = false
		c.halves[c.client].resync = true
	}
	return false
}

// sslAccepted is called when the stream turns to TLS or GSS encryption.
func (s *session) sslAccepted() { s.login = nil }

// message handles one typed message; body may be a prefix of a message of
// size bytes when truncated.
func (s *session) message(dir sdk.Direction, t byte, body []byte, size int, truncated bool, ts, last int64) bool {
	if dir == s.c.client {
		return s.frontend(t, body, size, truncated, ts)
	}
	return s.backend(t, body, size, last)
}

func text(b []byte, truncated bool) string {
	if i := indexNUL(b); i >= 0 {
		b = b[:i]
	}
	if len(b) > maxSQL {
		b = b[:maxSQL]
	}
	return string(b)
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

func (s *session) frontend(t byte, body []byte, size int, truncated bool, ts int64) bool {
	switch t {
	case 'Q':
		s.push(&op{kind: opQuery, method: "QUERY", sql: text(body, truncated), ts: ts, reqSize: int64(size)})
		return true
	case 'P':
		s.batch(ts, size)
		name, rest, _ := cstring(body)
		sql := text(rest, truncated)
		s.statements.set(string(name), sql)
		s.push(&op{kind: opParse, sql: sql, stmt: string(name), ts: ts, reqSize: int64(size)})
	case 'B':
		s.batch(ts, size)
		b, _ := parseBind(body)
		sql, _ := s.statements.get(b.statement)
		s.portals.set(b.portal, portal{sql: sql, stmt: b.statement, params: b.params})
		s.push(&op{kind: opBind})
	case 'D':
		s.batch(ts, size)
		s.push(&op{kind: opDescribe})
	case 'E':
		s.batch(ts, size)
		name, _, _ := cstring(body)
		p, _ := s.portals.get(string(name))
		s.push(&op{kind: opExecute, method: "EXECUTE", sql: p.sql, stmt: p.stmt, portal: string(name), params: p.params, ts: s.batchTS, reqSize: s.batchSize})
		s.batchTS, s.batchSize = 0, 0
		return true
	case 'S':
		s.push(&op{kind: opSync})
		s.batchTS, s.batchSize = 0, 0
	case 'H':
		s.batch(ts, size)
	case 'C':
		s.batch(ts, size)
		if len(body) > 1 {
			name, _, _ := cstring(body[1:])
			if body[0] == 'S' {
				s.statements.del(string(name))
			} else {
				s.portals.del(string(name))
			}
		}
		s.push(&op{kind: opClose})
	case 'F':
		s.push(&op{kind: opFunc, method: "FUNCTION_CALL", ts: ts, reqSize: int64(size)})
		return true
	case 'd', 'c', 'f':
		// COPY FROM STDIN data belongs to the query that started the copy.
		for i := len(s.queue) - 1; i >= 0; i-- {
			if o := s.queue[i]; o.record() {
				o.reqSize += int64(size)
				if t == 'd' {
					o.copyBytes += int64(size - 5)
				}
				break
			}
		}
	case 'p':
		if s.login != nil {
			s.login.reqSize += int64(size)
		}
	}
	return false
}

func (s *session) backend(t byte, body []byte, size int, last int64) bool {
	if s.login != nil {
		switch t {
		case 'R', 'S', 'K', 'N':
			s.login.responded = true
			s.login.respSize += int64(size)
			s.login.end = last
			if t == 'R' && len(body) >= 4 {
				if m := authName(be32(body)); m != "" {
					s.authMethod = m
				}
			}
			return false
		case 'E':
			o := s.login
			s.login = nil
			o.responded = true
			o.respSize += int64(size)
			o.end = last
			o.err, _ = parseFields(body)
			if o.err == nil {
				o.err = &pgError{message: "malformed ErrorResponse"}
			}
			s.emit(o, "")
			return true
		case 'Z':
			s.login = nil
			return false
		}
	}
	o := s.head()
	if o == nil {
		return false
	}
	switch t {
	case 'Z':
		for len(s.queue) > 0 {
			o := s.pop()
			o.charge(size, last)
			s.finish(o, "")
			if o.kind == opQuery || o.kind == opSync {
				break
			}
		}
		return true
	case 'E':
		e, ok := parseFields(body)
		if !ok {
			e = &pgError{message: "malformed ErrorResponse"}
		}
		o.charge(size, last)
		if o.kind == opQuery {
			// ReadyForQuery still follows; keep the first error.
			if o.err == nil {
				o.err = e
			}
			return false
		}
		// The backend skips the rest of the batch up to Sync.
		stop := false
		for len(s.queue) > 0 && s.head().kind != opSync && s.head().kind != opQuery {
			x := s.pop()
			if x.err == nil {
				x.err = e
			}
			x.responded = true
			x.end = last
			stop = s.finish(x, "") || stop
		}
		return stop
	case 'N':
		if o.record() && len(o.notices) < 16 {
			if n, ok := parseFields(body); ok {
				o.notices = append(o.notices, n.severity+" "+n.code+": "+n.message)
			}
		}
		o.charge(size, last)
		return false
	case 'S', 'A', 'K', 'R', 'v':
		// Asynchronous messages answer no request.
		return false
	}
	// Anything else answers the oldest request; messages that answer
	// extended-protocol steps before it move the queue along.
	switch t {
	case '1':
		return s.advance(opParse, size, last)
	case '2':
		return s.advance(opBind, size, last)
	case '3':
		return s.advance(opClose, size, last)
	case 't', 'n':
		if o.kind == opDescribe {
			o.charge(size, last)
			if t == 'n' {
				s.pop()
			}
		}
		return false
	case 'T':
		cols, _ := parseRowDescription(body)
		if o.kind == opDescribe {
			s.pop()
			// The columns describe what the next Execute returns.
			for _, x := range s.queue {
				if x.kind == opExecute {
					x.columns = cols
					break
				}
				if x.kind == opSync {
					break
				}
			}
			return false
		}
		if o.record() {
			o.charge(size, last)
			o.columns = cols
		}
		return false
	}
	if !o.record() {
		s.skipSteps()
		if o = s.head(); o == nil || !o.record() {
			return false
		}
	}
	o.charge(size, last)
	switch t {
	case 'D':
		o.rows++
	case 'C':
		if len(o.tags) < 32 {
			o.tags = append(o.tags, text(body, false))
		}
		if o.kind == opExecute {
			s.finish(s.pop(), "")
			return true
		}
	case 'I':
		if o.kind == opExecute {
			s.finish(s.pop(), "")
			return true
		}
	case 's':
		o.tags = append(o.tags, "(portal suspended)")
		s.finish(s.pop(), "")
		return true
	case 'G', 'H', 'W':
		o.copying = true
	case 'd':
		o.copyBytes += int64(size - 5)
	case 'V':
		if o.kind == opFunc {
			s.finish(s.pop(), "")
			return true
		}
	}
	return false
}

func (o *op) charge(size int, last int64) {
	o.responded = true
	o.respSize += int64(size)
	o.end = last
}

// advance pops the extended-protocol step a completion message answers.
func (s *session) advance(kind opKind, size int, last int64) bool {
	stop := false
	for len(s.queue) > 0 {
		o := s.head()
		if o.kind == kind {
			o.charge(size, last)
			stop = s.finish(s.pop(), "") || stop
			return stop
		}
		if o.kind != opDescribe && o.kind != opParse && o.kind != opBind && o.kind != opClose {
			return stop
		}
		stop = s.finish(s.pop(), "") || stop
	}
	return stop
}

// skipSteps drops unanswered extended-protocol steps in front of the
// request a result belongs to (a capture that missed their answers).
func (s *session) skipSteps() {
	for len(s.queue) > 0 {
		switch s.head().kind {
		case opParse, opBind, opDescribe, opClose:
			s.finish(s.pop(), "")
		default:
			return
		}
	}
}

// finish emits o if it is a record, or a Parse that no Execute of its
// batch used: an explicit prepare is a round trip of its own. It reports whether it emitted.
func (s *session) finish(o *op, note string) bool {
	if o.kind == opParse {
		for _, x := range s.queue {
			if x.kind == opExecute {
				return false
			}
			if x.kind == opSync || x.kind == opQuery {
				break
			}
		}
		o.method = "PREPARE"
	} else if !o.record() {
		return false
	}
	s.emit(o, note)
	return true
}

func authName(code int) string {
	switch code {
	case 0:
		return ""
	case 2:
		return "kerberos"
	case 3:
		return "cleartext"
	case 5:
		return "md5"
	case 7, 8:
		return "gss"
	case 9:
		return "sspi"
	case 10, 11, 12:
		return "sasl"
	}
	return ""
}
