// Command memcached is a kubeshark dissector plugin for memcached's text
// protocol (https://github.com/memcached/memcached/blob/master/doc/protocol.txt):
// storage (set, add, replace, append, prepend, cas), retrieval (get, gets,
// gat, gats), delete, incr, decr, touch and the small administrative
// commands (version, stats, flush_all, verbosity). Clients pipeline freely,
// so requests queue per connection and each reply answers the oldest
// request that expects one; a request sent with "noreply" becomes a record
// at once.
//
// Each request/reply becomes a record: method = the command, path = the
// key(s), status_text = the reply's keyword (STORED, NOT_FOUND, END...),
// failed = ERROR, CLIENT_ERROR or SERVER_ERROR. The manifest's fields are
// what filters can ask about
// (`kubeshark calls --filter 'memcached && memcached_hits == 0'`).
package main

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type dissector struct{}

func (dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name: "memcached", Version: "0.1.0", Description: "memcached text protocol (get/set/delete/incr..., pipelined)",
		Protocols: []string{"memcached"}, Transports: []string{"tcp"},
		Fields: []sdk.FieldSpec{
			{Name: "memcached_command", Type: "string", Description: "the command (get, set, delete, incr...)"},
			{Name: "memcached_key", Type: "string", Description: "the first key the command names"},
			{Name: "memcached_keys", Type: "int", Description: "how many keys the command names"},
			{Name: "memcached_flags", Type: "int", Description: "the client flags a storage command stores"},
			{Name: "memcached_exptime", Type: "int", Description: "the expiry a storage, touch or gat command sets (seconds, or a Unix time)"},
			{Name: "memcached_bytes", Type: "int", Description: "the length of the value a storage command sends"},
			{Name: "memcached_noreply", Type: "bool", Description: "the client asked for no reply"},
			{Name: "memcached_delta", Type: "int", Description: "what incr or decr adds or subtracts"},
			{Name: "memcached_result", Type: "string", Description: "the reply's keyword: STORED, NOT_STORED, EXISTS, NOT_FOUND, DELETED, TOUCHED, END, OK, ERROR..."},
			{Name: "memcached_hits", Type: "int", Description: "how many VALUEs a retrieval returned (0 is a miss)"},
			{Name: "memcached_value_bytes", Type: "int", Description: "the bytes of data a retrieval returned"},
			{Name: "memcached_counter", Type: "int", Description: "the new value incr or decr returned"},
		},
	}
}

// commands the client may send, and how a reply to each ends.
type replyKind int

const (
	replyLine    replyKind = iota // one line: STORED, DELETED, a number, VERSION x, OK...
	replyValues                   // VALUE blocks then END
	replyStats                    // STAT lines then END
	replyStorage                  // one line, but the request carries a data block
)

var commands = map[string]replyKind{
	"get": replyValues, "gets": replyValues, "gat": replyValues, "gats": replyValues,
	"set": replyStorage, "add": replyStorage, "replace": replyStorage, "append": replyStorage,
	"prepend": replyStorage, "cas": replyStorage,
	"delete": replyLine, "incr": replyLine, "decr": replyLine, "touch": replyLine,
	"version": replyLine, "flush_all": replyLine, "verbosity": replyLine,
	"stats": replyStats,
}

// Probe judges the first bytes of a stream: a known command followed by a
// space or CRLF from the client. The server never speaks first.
func (dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	word := data
	if i := bytes.IndexAny(data, " \r"); i >= 0 {
		word = data[:i]
	} else if len(data) < 10 {
		for c := range commands {
			if strings.HasPrefix(c, string(data)) {
				return sdk.Probe{NeedMore: true}
			}
		}
		return sdk.Probe{}
	} else {
		return sdk.Probe{}
	}
	if _, ok := commands[string(word)]; ok && bytes.Contains(data, []byte("\r\n")) {
		return sdk.Probe{Confidence: 80}
	} else if ok {
		return sdk.Probe{NeedMore: true}
	}
	return sdk.Probe{}
}

func (dissector) Open(_ sdk.ConnInfo, out sdk.Emitter) sdk.Conn { return &conn{out: out} }

// request is one command waiting for its reply.
type request struct {
	rec  *sdk.Record
	kind replyKind
	at   int64 // when the request began (ns), to pass over replies older than it
}

type conn struct {
	out     sdk.Emitter
	pending []request
}

// Feed parses whole commands or replies and leaves a partial one for the
// next call, asking for the bytes a data block still needs.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	if dir == sdk.DirA {
		return c.feedRequests(data, first)
	}
	return c.feedReplies(data, first, last)
}

func (c *conn) feedRequests(data []byte, at int64) (int, int) {
	used := 0
	for {
		i := bytes.Index(data[used:], []byte("\r\n"))
		if i < 0 {
			return used, 0
		}
		args := strings.Fields(string(data[used : used+i]))
		if len(args) == 0 {
			return -1, 0
		}
		kind, ok := commands[args[0]]
		if !ok && !isWord(args[0]) {
			return -1, 0 // not memcached: stop feeding this connection
		}
		// A word the server does not know is still a command: the server
		// answers it with ERROR, and so it must be matched to keep the
		// replies that follow in step.
		end := used + i + 2
		r := &sdk.Record{Protocol: "memcached", Method: args[0], Timestamp: time.Unix(0, at), RequestDir: sdk.DirA,
			Request: &sdk.Message{}}
		r.Request.Set("memcached_command", args[0])
		keys := args[1:]
		noreply := len(args) > 1 && args[len(args)-1] == "noreply"
		switch args[0] {
		case "set", "add", "replace", "append", "prepend", "cas":
			if len(args) < 5 {
				return -1, 0
			}
			n, err := strconv.Atoi(args[4])
			if err != nil || n < 0 {
				return -1, 0
			}
			if len(data)-end < n+2 {
				return used, end + n + 2 // the data block is not all here yet
			}
			keys = args[1:2]
			r.Request.Set("memcached_flags", atoi(args[2]))
			r.Request.Set("memcached_exptime", atoi(args[3]))
			r.Request.Set("memcached_bytes", n)
			r.Request.BodySize = int64(n)
			end += n + 2
		case "incr", "decr":
			if len(args) >= 3 {
				r.Request.Set("memcached_delta", atoi(args[2]))
			}
			keys = args[1:min(2, len(args))]
		case "delete":
			keys = args[1:min(2, len(args))]
		case "touch":
			if len(args) >= 3 {
				r.Request.Set("memcached_exptime", atoi(args[2]))
			}
			keys = args[1:min(2, len(args))]
		case "gat", "gats":
			if len(args) >= 2 {
				r.Request.Set("memcached_exptime", atoi(args[1]))
				keys = args[2:]
			}
		case "get", "gets":
		case "quit": // the server closes the connection without a reply
			noreply = true
			keys = nil
		default: // version, stats, flush_all, verbosity: arguments are not keys
			keys = nil
		}
		if noreply && len(keys) > 0 && keys[len(keys)-1] == "noreply" {
			keys = keys[:len(keys)-1]
		}
		if len(keys) > 0 {
			r.Path = strings.Join(keys, " ")
			r.Request.Set("memcached_key", keys[0])
			r.Request.Set("memcached_keys", len(keys))
		}
		used = end
		if noreply {
			r.End = r.Timestamp
			if args[0] == "quit" {
				r.Summary = "quit"
			} else {
				r.Request.Set("memcached_noreply", true)
				r.Summary = "noreply"
			}
			c.out.Emit(r)
			continue
		}
		c.pending = append(c.pending, request{r, kind, at})
	}
}

func (c *conn) feedReplies(data []byte, first, last int64) (int, int) {
	used := 0
	for len(c.pending) > 0 {
		p := c.pending[0]
		// A reply that began before the oldest waiting request was sent
		// answers a request the capture lost (a gap before it): paired
		// with this one it would put a wrong result on every record after
		// it, so it is passed over. The first reply of an offer began at
		// first exactly (the host offers again at once after each one); a
		// later one began by last at the latest.
		began := first
		if used > 0 {
			began = last
		}
		orphan := began < p.at
		var n, need int
		var ok bool
		if orphan {
			n, need, ok = orphanReply(data[used:])
		} else {
			n, need, ok = c.reply(p, data[used:])
		}
		if !ok {
			return -1, 0
		}
		if n == 0 {
			if need > 0 {
				need += used
			}
			return used, need
		}
		used += n
		if orphan {
			continue
		}
		c.pending = c.pending[1:]
		p.rec.End = time.Unix(0, last)
		c.out.Emit(p.rec)
	}
	// Bytes left with no request waiting: the host may offer a reply
	// before the request it answers (each direction is reassembled on its
	// own), so keep them until the request comes.
	return used, 0
}

// valueBlock reads a VALUE line's size (rest is the line after "VALUE "):
// the data block and its CRLF start at next, in a buffer of n bytes. need
// is the bytes the buffer must hold when the block is not all there; !ok
// when the line is no VALUE line.
func valueBlock(rest string, n, next int) (size, need int, ok bool) {
	f := strings.Fields(rest)
	if len(f) < 3 {
		return 0, 0, false
	}
	size, err := strconv.Atoi(f[2])
	if err != nil || size < 0 {
		return 0, 0, false
	}
	if n-next < size+2 {
		return size, next + size + 2, true
	}
	return size, 0, true
}

// orphanReply is the extent of a reply whose request the capture lost:
// VALUE blocks and STAT lines up to their END, or one line; 0 when it is
// not all here (with the bytes it needs when known), !ok when the bytes
// are no memcached reply.
func orphanReply(data []byte) (n, need int, ok bool) {
	used := 0
	for {
		i := bytes.Index(data[used:], []byte("\r\n"))
		if i < 0 {
			return 0, 0, true
		}
		next := used + i + 2
		word, rest, _ := strings.Cut(string(data[used:used+i]), " ")
		switch word {
		case "VALUE":
			size, need, ok := valueBlock(rest, len(data), next)
			if !ok || need > 0 {
				return 0, need, ok
			}
			used = next + size + 2
		case "STAT":
			used = next
		default: // END after values or stats, or a reply of one line
			return next, 0, true
		}
	}
}

// reply parses the reply to p at the start of data: the bytes it took (0
// when it is not all here, with the bytes it needs when known), or !ok when
// the bytes are no memcached reply.
func (c *conn) reply(p request, data []byte) (n, need int, ok bool) {
	r := p.rec
	resp := &sdk.Message{}
	used, hits, valueBytes := 0, 0, 0
	for {
		i := bytes.Index(data[used:], []byte("\r\n"))
		if i < 0 {
			return 0, 0, true
		}
		line := string(data[used : used+i])
		next := used + i + 2
		word, rest, _ := strings.Cut(line, " ")
		switch {
		case word == "ERROR" || word == "CLIENT_ERROR" || word == "SERVER_ERROR":
			r.Failed, r.Error = true, line
		case p.kind == replyValues && word == "VALUE":
			size, need, ok := valueBlock(rest, len(data), next)
			if !ok || need > 0 {
				return 0, need, ok
			}
			hits++
			valueBytes += size
			used = next + size + 2
			continue
		case p.kind == replyStats && word == "STAT":
			used = next
			continue
		case (p.kind == replyValues || p.kind == replyStats) && word != "END":
			return 0, 0, false
		case r.Method == "incr" || r.Method == "decr":
			if v, err := strconv.ParseUint(word, 10, 64); err == nil && rest == "" {
				resp.Set("memcached_counter", int(v))
				word = "OK"
			}
		}
		if p.kind == replyValues && !r.Failed {
			resp.Set("memcached_hits", hits)
			resp.Set("memcached_value_bytes", valueBytes)
			resp.BodySize = int64(valueBytes)
			if hits == 0 {
				r.Summary = "miss"
			}
		}
		r.StatusText = word
		resp.Set("memcached_result", word)
		r.Response = resp
		return next, 0, true
	}
}

// isWord reports whether s could be a command a client mistyped: short,
// lower-case letters, digits and '_'; anything else is not memcached.
func isWord(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Gap: bytes were lost; what we were waiting for can no longer be matched.
func (c *conn) Gap(sdk.Direction, int, int64) { c.pending = nil }

// Close emits the requests that never saw a reply, so a command the server
// dropped (or the capture cut) is still visible.
func (c *conn) Close(ts int64) {
	for _, p := range c.pending {
		p.rec.Summary = "no reply"
		c.out.Emit(p.rec)
	}
	c.pending = nil
}

func init() { sdk.Register(dissector{}) }

func main() {}
