package redis

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

const (
	cli = sdk.DirA
	srv = sdk.DirB
)

func open() *sdktest.Driver {
	return sdktest.Open(New(), sdk.ConnInfo{ID: 1, PortA: 40000, PortB: 6379, Oriented: true})
}

// brief renders the fields most tests care about in one comparable line.
func brief(r *sdk.Record) string {
	s := strings.TrimSpace(r.Method + " " + r.Path)
	switch {
	case r.Response != nil:
		s += " -> " + fmt.Sprint(r.Response.Fields["redis_response"])
	case r.RequestDir == srv:
		s += " (push)"
	default:
		s += " -> none"
	}
	if r.Failed {
		s += " failed:" + r.StatusText
	}
	return strings.TrimSpace(s)
}

func briefs(rs []*sdk.Record) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, brief(r))
	}
	return out
}

// step is one delivery: a direction and its bytes ("" with gap > 0 is a
// loss).
type step struct {
	dir  sdk.Direction
	data string
	gap  int
}

func c(s string) step { return step{dir: cli, data: s} }
func s(s string) step { return step{dir: srv, data: s} }

func run(steps []step) *sdktest.Driver {
	dr := open()
	for i, st := range steps {
		if st.gap > 0 {
			dr.Gap(st.dir, st.gap, int64(i+1))
			continue
		}
		dr.Feed(st.dir, []byte(st.data), int64(i+1))
	}
	dr.Close(int64(len(steps) + 1))
	return dr
}

func TestExchanges(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"set get", []step{
			c("*3\r\n$3\r\nSET\r\n$4\r\nuser\r\n$2\r\nhi\r\n"), s("+OK\r\n"),
			c("*2\r\n$3\r\nget\r\n$4\r\nuser\r\n"), s("$2\r\nhi\r\n"),
		}, []string{"SET user -> OK", "GET user -> hi"}},
		{"pipeline in one segment", []step{
			c("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$4\r\nMGET\r\n$1\r\na\r\n"),
			s("+PONG\r\n:7\r\n*1\r\n$-1\r\n"),
		}, []string{"PING -> PONG", "INCR n -> 7", "MGET a -> [(nil)]"}},
		{"inline", []step{c("set test 1\r\nget test\r\n\r\n"), s("+OK\r\n$1\r\n1\r\n")},
			[]string{"SET test -> OK", "GET test -> 1"}},
		{"error", []step{c("*2\r\n$4\r\nLPOP\r\n$1\r\nk\r\n"), s("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")},
			[]string{"LPOP k -> WRONGTYPE Operation against a key holding the wrong kind of value failed:WRONGTYPE"}},
		{"bulk error", []step{c("*1\r\n$4\r\nPING\r\n"), s("!21\r\nSYNTAX invalid syntax\r\n")},
			[]string{"PING -> SYNTAX invalid syntax failed:SYNTAX"}},
		{"two-word command", []step{c("*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\napp\r\n*3\r\n$6\r\nconfig\r\n$3\r\nget\r\n$7\r\nmaxmem*\r\n"), s("+OK\r\n*0\r\n")},
			[]string{"CLIENT SETNAME -> OK", "CONFIG GET -> []"}},
		{"resp3 types", []step{
			c("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"),
			s("%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n"),
			c("*1\r\n$1\r\nX\r\n"), s("~3\r\n#t\r\n,3.14\r\n(12345678901234567890\r\n"),
			c("*1\r\n$1\r\nY\r\n"), s("=15\r\ntxt:Some string\r\n"),
			c("*1\r\n$1\r\nZ\r\n"), s("_\r\n"),
		}, []string{"HELLO -> {server redis proto 3}", "X -> [true 3.14 12345678901234567890]", "Y -> txt:Some string", "Z -> (nil)"}},
		{"attributes", []step{
			c("FAKE COMMAND\r\n"), s("*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n"),
			c("FAKE2 COMMAND2\r\n"), s("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n"),
		}, []string{"FAKE -> [1 2 3]", "FAKE2 -> [2039123 9543892]"}},
		{"pubsub resp2", []step{
			c("*3\r\n$9\r\nSUBSCRIBE\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"),
			s("*3\r\n$9\r\nsubscribe\r\n$3\r\nfoo\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$3\r\nbar\r\n:2\r\n"),
			s("*3\r\n$7\r\nmessage\r\n$3\r\nfoo\r\n$5\r\nhello\r\n"),
			s("*4\r\n$8\r\npmessage\r\n$2\r\nf*\r\n$3\r\nfoo\r\n$2\r\nhi\r\n"),
		}, []string{"SUBSCRIBE foo -> [subscribe foo 1]", "MESSAGE foo (push)", "PMESSAGE foo (push)"}},
		{"push resp3", []step{
			c("*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n"), s(">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"),
			s(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n"),
			c("*1\r\n$4\r\nPING\r\n"), s(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n+PONG\r\n"),
		}, []string{"SUBSCRIBE c -> [subscribe c 1]", "MESSAGE c (push)", "INVALIDATE (push)", "PING -> PONG"}},
		{"message array before subscribing is data", []step{
			c("*3\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n"), s("*2\r\n$7\r\nmessage\r\n$1\r\nx\r\n"),
		}, []string{"LRANGE l -> [message x]"}},
		{"client reply off", []step{
			c("*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n"),
			s("+OK\r\n"),
		}, []string{"CLIENT REPLY -> none", "SET a -> none", "CLIENT REPLY -> OK"}},
		{"no response", []step{c("*1\r\n$4\r\nPING\r\n")}, []string{"PING -> none"}},
		{"response without request", []step{s("+OK\r\n"), c("*1\r\n$4\r\nPING\r\n"), s("+PONG\r\n")},
			[]string{"-> OK", "PING -> PONG"}},
		{"split everywhere", []step{c("*2\r"), c("\n$3\r\nGE"), c("T\r\n$1\r\nk\r"), c("\n"), s("$5\r\nhel"), s("lo\r"), s("\n")},
			[]string{"GET k -> hello"}},
		{"malformed reply resyncs", []step{c("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"), s("$x\r\n+PONG\r\n")},
			[]string{"PING ->  failed:", "PING -> PONG"}},
		{"gap in bulk", []step{c("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), s("$10\r\nab"), {dir: srv, gap: 4}, s("cdef\r\n")},
			[]string{"GET k -> abcdef…"}},
		{"gap between commands", []step{c("*1\r\n$4\r\nPING\r\n"), {dir: cli, gap: 14}, c("*1\r\n$4\r\nPING\r\n"), s("+PONG\r\n+A\r\n+B\r\n")},
			[]string{"PING -> PONG", "-> A", "PING -> B"}},
		{"eval key", []step{c("*4\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n1\r\n$3\r\nkey\r\n"), s(":1\r\n")},
			[]string{"EVAL key -> 1"}},
		{"xread key", []step{c("*4\r\n$5\r\nXREAD\r\n$7\r\nSTREAMS\r\n$2\r\ns1\r\n$1\r\n0\r\n"), s("*-1\r\n")},
			[]string{"XREAD s1 -> (nil)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := run(tt.steps)
			got := briefs(dr.Records)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("records:\n got  %q\n want %q", got, tt.want)
			}
			for _, r := range dr.Records {
				if r.Protocol != "redis" {
					t.Fatalf("protocol %q", r.Protocol)
				}
			}
		})
	}
}
