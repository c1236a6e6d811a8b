package templates

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Server is whose paths are learned together: one family of protocols
// (all HTTP versions share their paths) on one server address.
type Server struct {
	Family string
	// Host is the server's workload ("namespace/name" or "name") when the
	// capture source named it, else its IP: the replicas of one workload
	// serve the same paths (HostOf).
	Host string
	Port uint16
}

// HostOf is the Host of the server end e of a call.
func HostOf(e *sdk.Endpoint) string {
	switch {
	case e.Name == "":
		return e.IP
	case e.Namespace == "":
		return e.Name
	}
	return e.Namespace + "/" + e.Name
}

// Family names the protocols whose paths are learned together: "http" for
// HTTP/1, HTTP/2 and WebSocket (one server answers the same paths over
// each), "redis" for Redis keys, and "" for protocols whose paths are not
// learned: gRPC methods, DNS names, SQL statements and topics are either
// a fixed vocabulary or already normalised by Template.
func Family(protocol, path string) string {
	switch strings.ToLower(protocol) {
	case "http", "http2", "websocket":
		if strings.HasPrefix(path, "/") {
			return "http"
		}
	case "redis":
		if path != "" {
			return "redis"
		}
	}
	return ""
}

// Learner collects the shaped paths (Template's results) of calls per
// server, to learn templates from. The zero value is ready to use; it is
// not safe for concurrent use.
type Learner struct {
	paths map[Server]map[string]struct{}
}

// AddShaped adds a path already through Template, seen on the server
// host:port for protocol. Paths of protocols without a Family are ignored.
func (l *Learner) AddShaped(protocol, host string, port uint16, shaped string) {
	f := Family(protocol, shaped)
	if f == "" {
		return
	}
	if l.paths == nil {
		l.paths = map[Server]map[string]struct{}{}
	}
	s := Server{f, host, port}
	m := l.paths[s]
	if m == nil {
		m = map[string]struct{}{}
		l.paths[s] = m
	}
	m[shaped] = struct{}{}
}

// Add adds a raw path (a record's Path) seen on host:port for protocol.
func (l *Learner) Add(protocol, host string, port uint16, path string) {
	l.AddShaped(protocol, host, port, Template(protocol, path))
}

// AddRecord adds the path of a stored call.
func (l *Learner) AddRecord(r *sdk.Record) {
	l.Add(r.Protocol, HostOf(&r.Dst), r.Dst.Port, r.Path)
}

// Learn learns each server's templates from the paths added so far. The
// result does not depend on the order the paths were added in.
func (l *Learner) Learn() *Set {
	s := &Set{learned: make(map[Server]map[string]string, len(l.paths))}
	for srv, m := range l.paths {
		ps := make([]string, 0, len(m))
		for p := range m {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		if srv.Family == "redis" {
			s.learned[srv] = LearnKeys(ps)
		} else {
			s.learned[srv] = LearnTemplates(ps)
		}
	}
	return s
}

// Set is the templates learned per server. A nil *Set knows no server: its
// templates are Template's alone.
type Set struct {
	learned map[Server]map[string]string
}

// Of is the template of a call of protocol to host:port with path: the
// learned template of its shaped path on that server, or, for a path the
// set has not seen (a call newer than the learning), the shaped path.
func (s *Set) Of(protocol, host string, port uint16, path string) string {
	shaped := Template(protocol, path)
	if s == nil {
		return shaped
	}
	return s.OfShaped(protocol, host, port, shaped)
}

// OfShaped is Of for a path already through Template.
func (s *Set) OfShaped(protocol, host string, port uint16, shaped string) string {
	if s == nil {
		return shaped
	}
	f := Family(protocol, shaped)
	if f == "" {
		return shaped
	}
	if t, ok := s.learned[Server{f, host, port}][shaped]; ok {
		return t
	}
	return shaped
}

// OfRecord is the template of a stored call.
func (s *Set) OfRecord(r *sdk.Record) string {
	return s.Of(r.Protocol, HostOf(&r.Dst), r.Dst.Port, r.Path)
}

// Servers is how many servers the set learned from.
func (s *Set) Servers() int {
	if s == nil {
		return 0
	}
	return len(s.learned)
}

// setEntry is one server's learned templates in a Set's encoding.
type setEntry struct {
	Server
	Templates map[string]string `json:"templates"`
}

// MarshalBinary encodes the set, so that it can be cached beside the data
// it was learned from.
func (s *Set) MarshalBinary() ([]byte, error) {
	var es []setEntry
	if s != nil {
		for srv, m := range s.learned {
			es = append(es, setEntry{srv, m})
		}
	}
	return json.Marshal(es)
}

// UnmarshalBinary decodes what MarshalBinary encoded.
func (s *Set) UnmarshalBinary(b []byte) error {
	var es []setEntry
	if err := json.Unmarshal(b, &es); err != nil {
		return fmt.Errorf("templates: decode a learned set: %w", err)
	}
	s.learned = make(map[Server]map[string]string, len(es))
	for _, e := range es {
		s.learned[e.Server] = e.Templates
	}
	return nil
}
