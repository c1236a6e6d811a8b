package mysql

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type phase uint8

const (
	phaseUnknown   phase = iota // mid-stream: the handshake was not seen
	phaseHandshake              // greeting seen, HandshakeResponse due
	phaseAuth                   // authentication exchange
	phaseCommand                // commands and their responses
)

// Response states of the current command.
type rstate uint8

const (
	rsFirst      rstate = iota // the first packet of a response (or of the next result set)
	rsColumns                  // column definitions
	rsColumnsEOF               // the EOF after column definitions, unless CLIENT_DEPRECATE_EOF
	rsRows                     // rows until EOF / OK / ERR
	rsPrepare                  // parameter and column definitions after a COM_STMT_PREPARE OK
	rsFieldList                // column definitions until EOF (COM_FIELD_LIST)
	rsAuth                     // COM_CHANGE_USER authentication until OK / ERR
)

// op is one command and what its response said so far.
type op struct {
	cmd       byte
	method    string
	path      string
	ts        int64
	reqSize   int64
	responded bool
	respSize  int64
	end       int64
	st        rstate
	cols      int // column definitions still due
	eofs      int // EOF packets still due (COM_STMT_PREPARE)
	stmtID    uint32
	hasStmt   bool
	rows      int64
	columns   []string
	ok        *okPacket
	err       *errPacket
	user      string
	table     string
	schema    string
}

// session is the connection's protocol state.
type session struct {
	c             *conn
	phase         phase
	serverVersion string
	serverCaps    uint32
	clientCaps    uint32
	deprecateEOF  bool
	capsKnown     bool
	compressed    bool
	user          string
	schema        string
	login         *op
	cur           *op
	statements    map[uint32]string
	stmtOrder     []uint32
}

func (s *session) charge(dir sdk.Direction, n int) {
	if dir == s.c.client {
		if s.cur != nil {
			s.cur.reqSize += int64(n)
		}
		return
	}
	if s.cur != nil {
		s.cur.respSize += int64(n)
	}
}

func (s *session) flush(note string) {
	if s.cur != nil {
		o := s.cur
		s.cur = nil
		s.emit(o, note)
	}
}

// packet handles one packet; p may be a prefix of a packet of size bytes.
func (s *session) packet(dir sdk.Direction, seq byte, p []byte, size int, cont bool, ts, last int64) bool {
	if dir == s.c.client {
		return s.clientPacket(seq, p, size, cont, ts)
	}
	return s.serverPacket(seq, p, size, cont, last)
}

func (s *session) clientPacket(seq byte, p []byte, size int, cont bool, ts int64) bool {
	if cont || len(p) == 0 {
		s.charge(s.c.client, size)
		return false
	}
	switch s.phase {
	case phaseHandshake:
		if seq != 1 {
			break
		}
		hr, ok := parseHandshakeResponse(p)
		if ok && len(p) == 32 && hr.caps&capSSL != 0 {
			// SSLRequest: the rest of the connection is TLS.
			s.c.done = true
			s.c.out.Switch("tls")
			return true
		}
		s.clientCaps = hr.caps
		s.capsKnown = ok
		s.deprecateEOF = s.serverCaps&hr.caps&capDeprecateEOF != 0
		s.user, s.schema = hr.user, hr.schema
		s.phase = phaseAuth
		s.login = &op{method: "LOGIN", ts: ts, reqSize: int64(size), user: hr.user, schema: hr.schema}
		return false
	case phaseAuth:
		if s.login != nil {
			s.login.reqSize += int64(size)
		}
		if seq != 0 {
			return false
		}
		// A command: the end of authentication was not seen.
		s.phase = phaseCommand
	}
	if seq != 0 {
		// LOCAL INFILE contents, or authentication data of COM_CHANGE_USER.
		s.charge(s.c.client, size)
		return false
	}
	if commandName(p[0]) == "" && s.phase == phaseUnknown {
		return false
	}
	s.phase = phaseCommand
	s.flush(noResponse)
	o := &op{cmd: p[0], method: methodName(p[0]), ts: ts, reqSize: int64(size)}
	arg := p[1:]
	switch o.cmd {
	case comQuery:
		o.path = sqlText(s.queryText(arg))
	case comStmtPrepare:
		o.path = sqlText(arg)
	case comInitDB:
		o.path = sqlText(arg)
		o.schema = o.path
	case comFieldList:
		o.table = string(cstr(arg))
	case comChangeUser:
		o.user = string(cstr(arg))
	case comStmtExecute, comStmtClose, comStmtReset, comStmtSendLongData, comStmtFetch:
		if len(arg) >= 4 {
			o.stmtID, o.hasStmt = le4(arg), true
			if o.cmd == comStmtExecute {
				o.path = s.statements[o.stmtID]
			}
			if o.cmd == comStmtClose {
				delete(s.statements, o.stmtID)
			}
		}
	}
	if oneWay(o.cmd) {
		s.emit(o, "")
		return true
	}
	s.cur = o
	return true
}

// queryText strips the query attributes a client sends with
// CLIENT_QUERY_ATTRIBUTES; when they cannot be walked, the whole argument
// is kept.
func (s *session) queryText(arg []byte) []byte {
	const capQueryAttributes = 0x08000000
	if s.clientCaps&capQueryAttributes == 0 {
		return arg
	}
	if q, ok := skipQueryAttributes(arg); ok {
		return q
	}
	return arg
}

func sqlText(b []byte) string {
	if len(b) > maxSQL {
		b = b[:maxSQL]
	}
	return string(b)
}

func (s *session) serverPacket(seq byte, p []byte, size int, cont bool, last int64) bool {
	if cont || len(p) == 0 {
		s.charge(s.c.client.Reverse(), size)
		return false
	}
	if seq == 0 && p[0] == 0x0a && s.phase <= phaseHandshake {
		if g, ok := parseGreeting(p); ok {
			s.serverVersion, s.serverCaps = g.version, g.caps
			s.phase = phaseHandshake
			return false
		}
	}
	if s.phase == phaseAuth {
		if s.login != nil {
			s.login.responded = true
			s.login.respSize += int64(size)
			s.login.end = last
		}
		switch p[0] {
		case 0x00:
			s.phase = phaseCommand
			s.login = nil
			if s.serverCaps&s.clientCaps&capCompress != 0 {
				s.compressed = true
				s.c.halves[0].compressed, s.c.halves[1].compressed = true, true
			}
		case 0xff:
			if o := s.login; o != nil {
				e := parseErr(p)
				o.err = &e
				s.login = nil
				s.emit(o, "")
			}
			s.phase = phaseCommand
			return true
		}
		return false
	}
	o := s.cur
	if o == nil {
		return false
	}
	o.responded = true
	o.respSize += int64(size)
	o.end = last
	switch o.st {
	case rsFirst:
		return s.first(o, p)
	case rsColumns:
		if len(o.columns) < maxColumns && o.rows == 0 && o.ok == nil {
			o.columns = append(o.columns, columnName(p))
		}
		o.cols--
		if o.cols <= 0 {
			o.st = rsColumnsEOF
			if s.deprecateEOF {
				o.st = rsRows
			}
		}
		return false
	case rsColumnsEOF:
		o.st = rsRows
		if isEOF(p) && len(p) == 5 {
			return false
		}
		return s.row(o, p)
	case rsRows:
		return s.row(o, p)
	case rsPrepare:
		if isEOF(p) {
			o.eofs--
		} else {
			o.cols--
		}
		if o.cols <= 0 && o.eofs <= 0 {
			return s.done(o)
		}
		return false
	case rsFieldList:
		if p[0] == 0xff {
			e := parseErr(p)
			o.err = &e
			return s.done(o)
		}
		if isEOF(p) {
			return s.done(o)
		}
		if len(o.columns) < maxColumns {
			o.columns = append(o.columns, columnName(p))
		}
		return false
	case rsAuth:
		return s.first(o, p)
	}
	return false
}

// first handles the first packet of a response or of a following result
// set.
func (s *session) first(o *op, p []byte) bool {
	switch {
	case p[0] == 0xff:
		e := parseErr(p)
		o.err = &e
		return s.done(o)
	case p[0] == 0x00 && o.cmd == comStmtPrepare && len(p) >= 12:
		id := le4(p[1:])
		s.remember(id, o.path)
		o.stmtID, o.hasStmt = id, true
		ncols, nparams := le2(p[5:]), le2(p[7:])
		o.cols = ncols + nparams
		if !s.deprecateEOF {
			o.eofs = btoi(ncols > 0) + btoi(nparams > 0)
		}
		if o.cols == 0 {
			return s.done(o)
		}
		o.st = rsPrepare
		return false
	case p[0] == 0x00 && len(p) >= 7:
		k, ok := parseOK(p)
		if ok {
			s.addOK(o, k)
		}
		if o.cmd == comInitDB {
			s.schema = o.schema
		}
		if o.cmd == comChangeUser {
			s.user = o.user
		}
		if ok && k.status&0x0008 != 0 && (o.cmd == comQuery || o.cmd == comStmtExecute) {
			return false
		}
		return s.done(o)
	case p[0] == 0xfe && (o.cmd == comChangeUser || o.st == rsAuth) && len(p) >= 2:
		o.st = rsAuth
		return false
	case p[0] == 0x01 && o.st == rsAuth:
		return false
	case isEOF(p):
		return s.done(o)
	case p[0] == 0xfb && o.cmd == comQuery:
		// LOCAL INFILE: the client sends the file, then the server answers.
		return false
	}
	switch o.cmd {
	case comQuery, comStmtExecute:
		n, _, ok := lenenc(p)
		if !ok || n == 0 || len(p) > 9 {
			return s.done(o)
		}
		o.cols = int(min(n, 1<<16))
		o.st = rsColumns
	case comFieldList:
		o.st = rsFieldList
		if len(o.columns) < maxColumns {
			o.columns = append(o.columns, columnName(p))
		}
	case comStmtFetch:
		o.st = rsRows
		return s.row(o, p)
	default:
		// COM_STATISTICS answers with a bare string; others we do not
		// follow end here too.
		return s.done(o)
	}
	return false
}

// row handles a packet where rows flow: a row, or the end of the set.
func (s *session) row(o *op, p []byte) bool {
	switch {
	case p[0] == 0xff:
		e := parseErr(p)
		o.err = &e
		return s.done(o)
	case p[0] == 0xfe && (len(p) < 9 || s.deprecateEOF && len(p) < 0xffffff):
		status := 0
		if len(p) == 5 {
			status = le2(p[3:])
		} else if k, ok := parseOK(p); ok {
			status = k.status
			if s.deprecateEOF || len(p) >= 7 {
				s.addOK(o, k)
			}
		}
		if status&0x0008 != 0 {
			o.st = rsFirst
			return false
		}
		return s.done(o)
	}
	o.rows++
	return false
}

func (s *session) addOK(o *op, k okPacket) {
	if o.ok == nil {
		o.ok = &k
		return
	}
	o.ok.affected += k.affected
	if k.insertID != 0 {
		o.ok.insertID = k.insertID
	}
}

func (s *session) done(o *op) bool {
	if s.cur == o {
		s.cur = nil
	}
	s.emit(o, "")
	return true
}

// remember maps a prepared statement id to its SQL, forgetting the oldest
// beyond maxStatements.
func (s *session) remember(id uint32, sql string) {
	if _, ok := s.statements[id]; !ok {
		for len(s.statements) >= maxStatements && len(s.stmtOrder) > 0 {
			delete(s.statements, s.stmtOrder[0])
			s.stmtOrder = s.stmtOrder[1:]
		}
		if len(s.stmtOrder) >= 4*maxStatements {
			kept := s.stmtOrder[:0]
			for _, x := range s.stmtOrder {
				if _, ok := s.statements[x]; ok {
					kept = append(kept, x)
				}
			}
			s.stmtOrder = kept
		}
		s.stmtOrder = append(s.stmtOrder, id)
	}
	s.statements[id] = sql
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
