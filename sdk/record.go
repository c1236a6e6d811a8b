package sdk

import (
	"encoding/json"
	"fmt"
	"time"
)

// Endpoint is one side of a connection. Later capture sources add workload
// names (pod, service, namespace); the fields here are the ones every source
// can fill.
type Endpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
	// Name is a human name for the endpoint (a pod or service), when known.
	Name string `json:"name,omitempty"`
	// Namespace is the Kubernetes namespace, when known.
	Namespace string `json:"namespace,omitempty"`
	// Process is the local process behind this end, when live capture
	// learned it from the kernel's socket events; nil for a remote end and
	// for captures read from files.
	Process *Process `json:"process,omitempty"`

	// K8s is the Kubernetes context of the address at the record's time,
	// set when the store has a workload history (package kube); the host
	// never sets it and plugins never see it. Embedded, so its fields sit
	// beside ip and port in JSON; a pointer, so Endpoint stays comparable.
	*K8s
}

// Process is a local process at one end of a connection, as the kernel's
// socket events named it during live capture.
type Process struct {
	// PID is the process (thread group) id; 0 when only the cgroup is known
	// (the connection predates capture, or no system call named it).
	PID int `json:"pid,omitempty"`
	// Comm is the process's command name as the kernel keeps it (at most
	// 15 bytes).
	Comm string `json:"comm,omitempty"`
	// CgroupID is the cgroup v2 id of the socket (the inode number of its
	// cgroup directory); the Kubernetes side maps it to a pod.
	CgroupID uint64 `json:"cgroup_id,omitempty"`
}

// K8s names what held an address in a Kubernetes cluster at one time.
type K8s struct {
	// Pod is the pod that held the address (or whose container owned the
	// socket).
	Pod string `json:"pod,omitempty"`
	// Service is the service the address belongs to: the service of a
	// ClusterIP, or the first service (by name) whose endpoints list the
	// pod.
	Service string `json:"service,omitempty"`
	// Node is the pod's node, or the node itself for a node address
	// (hostNetwork pods resolve to their node).
	Node string `json:"node,omitempty"`
	// WorkloadKind and Workload name the pod's controller after owners
	// are followed (ReplicaSet → Deployment, Job → CronJob): Deployment,
	// StatefulSet, DaemonSet, CronJob, Job, ReplicaSet, or empty for a
	// bare pod.
	WorkloadKind string `json:"workload_kind,omitempty"`
	Workload     string `json:"workload,omitempty"`
	// Labels are the labels of the pod (or service, or node).
	Labels map[string]string `json:"labels,omitempty"`
	// NamespaceLabels are the labels the pod's (or service's) namespace
	// carried at the record's time; empty for a node, and when namespaces
	// could not be watched.
	NamespaceLabels map[string]string `json:"namespace_labels,omitempty"`
}

// String renders the endpoint as ip:port, bracketing IPv6 addresses.
func (e Endpoint) String() string {
	for i := 0; i < len(e.IP); i++ {
		if e.IP[i] == ':' {
			return fmt.Sprintf("[%s]:%d", e.IP, e.Port)
		}
	}
	return fmt.Sprintf("%s:%d", e.IP, e.Port)
}

// Header is one header line, as sent.
type Header struct {
	Name  string
	Value string
}

// Message is one side of an exchange: the request or the response.
type Message struct {
	// Headers in wire order; duplicates are kept.
	Headers []Header
	// Body is a bounded preview of the payload: text as text, binary as
	// base64 with Encoding set to "base64".
	Body string
	// Encoding is "base64" when Body holds binary data, empty for text.
	Encoding string
	// BodyTruncated reports that Body is shorter than the payload.
	BodyTruncated bool
	// BodySize is the payload size in bytes after transfer decoding
	// (de-chunked), before content decoding.
	BodySize int64
	// Size is the number of bytes the message took on the wire.
	Size int64
	// Fields holds protocol-specific fields; they appear inline in JSON.
	// Inside a wasm guest, Set keeps fields in a list instead (see Set), so
	// guest code reads them with Get.
	Fields map[string]any

	// set holds the fields Set adds inside a wasm guest, in order; it
	// encodes as the Object it is.
	set Object
	// encoded holds the fields as a guest encoded them (a JSON object),
	// when DecodeRecordLazy left them so; Fields is then nil.
	encoded string
}

// EncodedFields returns the message's fields as the JSON object a guest
// encoded, when DecodeRecordLazy kept them encoded and nothing decoded
// them since; ok is false otherwise (read Fields then).
func (m *Message) EncodedFields() (js string, ok bool) {
	if m == nil || m.encoded == "" {
		return "", false
	}
	return m.encoded, true
}

// DecodeFields builds Fields from fields DecodeRecordLazy kept encoded; it
// does nothing when there are none. The text was checked when the record
// was decoded, so an error here means a change of encoding/json, not of
// the input.
func (m *Message) DecodeFields() error {
	// A guest never holds encoded fields (it decodes no records), and the
	// constant keeps the decoder out of its module.
	if guestFieldList || m == nil || m.encoded == "" {
		return nil
	}
	fields, err := decodeFields([]byte(m.encoded))
	if err != nil {
		return fmt.Errorf("%w: fields: %v", ErrBadRecord, err)
	}
	m.Fields, m.encoded = fields, ""
	return nil
}

// DecodeFields decodes the fields of both messages (Message.DecodeFields),
// for code that reads Fields of a record decoded by DecodeRecordLazy.
func (r *Record) DecodeFields() error {
	if err := r.Request.DecodeFields(); err != nil {
		return err
	}
	return r.Response.DecodeFields()
}

// Set records a protocol-specific field and returns m for chaining.
//
// Inside a wasm guest the field goes to a list that AppendRecord encodes,
// not to the Fields map: a Go map costs a guest a microsecond to create and
// more to encode, and leaving the HTTP dissector's one field out of its
// records made the wasm pipeline 24% faster (BENCHMARKS.md). Natively, and
// so for the host and for tests, Set fills Fields as it always did.
func (m *Message) Set(key string, v any) *Message {
	if guestFieldList {
		if m.set == nil {
			// Room for a typical message's fields in one allocation.
			m.set = make(Object, 0, 8)
		}
		m.set = append(m.set, Member{key, v})
		return m
	}
	m.setMap(key, v)
	return m
}

// Reset empties m for reuse and keeps the storage of its fields, for a
// dissector whose emitter copies (see Copier).
func (m *Message) Reset() {
	clear(m.set)
	clear(m.Fields)
	*m = Message{set: m.set[:0], Fields: m.Fields}
}

// encodedMap is the map encoded fields stand for, or nil.
func (m *Message) encodedMap() map[string]any {
	if guestFieldList || m.encoded == "" {
		return nil
	}
	fields, _ := decodeFields([]byte(m.encoded))
	return fields
}

func (m *Message) setMap(key string, v any) {
	if m.encoded != "" {
		m.Fields, m.encoded = m.encodedMap(), ""
	}
	if m.Fields == nil {
		m.Fields = make(map[string]any, 4)
	}
	m.Fields[key] = v
}

// Get returns a protocol-specific field, wherever Set put it.
func (m *Message) Get(key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if v, ok := m.set.Get(key); ok {
		return v, true
	}
	if m.encoded != "" {
		v, ok := m.encodedMap()[key]
		return v, ok
	}
	v, ok := m.Fields[key]
	return v, ok
}

// fieldMap is every field as one map: Fields with the listed fields over
// it. It allocates only when there is a list.
func (m *Message) fieldMap() map[string]any {
	if m.encoded != "" {
		return m.encodedMap()
	}
	if len(m.set) == 0 {
		return m.Fields
	}
	all := make(map[string]any, len(m.Fields)+len(m.set))
	for k, v := range m.Fields {
		all[k] = v
	}
	for _, f := range m.set {
		all[f.Key] = f.Value
	}
	return all
}

// Header returns the first value of the named header, compared without
// regard to ASCII case, and whether it was present.
func (m *Message) Header(name string) (string, bool) {
	if m == nil {
		return "", false
	}
	for _, h := range m.Headers {
		if equalFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

var messageFixed = map[string]bool{"headers": true, "body": true, "encoding": true, "body_truncated": true, "body_size": true, "size": true}

// MarshalJSON writes the fixed fields and inlines Fields beside them.
// Headers become an object; repeated names are joined with ", " as RFC 9110
// allows for list-valued fields.
func (m Message) MarshalJSON() ([]byte, error) {
	fields := m.fieldMap()
	out := make(map[string]any, 6+len(fields))
	for k, v := range fields {
		if !messageFixed[k] {
			out[k] = v
		}
	}
	if len(m.Headers) > 0 {
		h := make(map[string]string, len(m.Headers))
		for _, x := range m.Headers {
			if prev, ok := h[x.Name]; ok {
				h[x.Name] = prev + ", " + x.Value
			} else {
				h[x.Name] = x.Value
			}
		}
		out["headers"] = h
	}
	if m.Body != "" {
		out["body"] = m.Body
	}
	if m.Encoding != "" {
		out["encoding"] = m.Encoding
	}
	if m.BodyTruncated {
		out["body_truncated"] = true
	}
	out["body_size"] = m.BodySize
	out["size"] = m.Size
	return json.Marshal(out)
}

// UnmarshalJSON is the inverse of MarshalJSON. Header order is not
// preserved across a JSON round trip; names are sorted.
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = Message{}
	for k, v := range raw {
		var err error
		switch k {
		case "headers":
			var h map[string]string
			err = json.Unmarshal(v, &h)
			for _, name := range sortedKeys(h) {
				m.Headers = append(m.Headers, Header{Name: name, Value: h[name]})
			}
		case "body":
			err = json.Unmarshal(v, &m.Body)
		case "encoding":
			err = json.Unmarshal(v, &m.Encoding)
		case "body_truncated":
			err = json.Unmarshal(v, &m.BodyTruncated)
		case "body_size":
			err = json.Unmarshal(v, &m.BodySize)
		case "size":
			err = json.Unmarshal(v, &m.Size)
		default:
			var x any
			err = json.Unmarshal(v, &x)
			m.Set(k, x)
		}
		if err != nil {
			return fmt.Errorf("message field %q: %w", k, err)
		}
	}
	return nil
}

// Record is one request/response exchange (or one one-way message where the
// protocol has no reply): the record contract that storage, filters and MCP
// depend on. A dissector fills the protocol part; the host fills ID, the
// endpoints, Stream, Dissector and ElapsedMs.
type Record struct {
	ID        string    `json:"id"`
	Protocol  string    `json:"protocol"`
	Timestamp time.Time `json:"timestamp"`
	// ElapsedMs runs from the first byte of the request to the last byte of
	// the response; nil when there was no response.
	ElapsedMs *float64 `json:"elapsed_ms,omitempty"`
	Src       Endpoint `json:"src"`
	Dst       Endpoint `json:"dst"`
	// Stream identifies the connection (or UDP flow) the exchange used.
	Stream    string `json:"stream"`
	Dissector string `json:"dissector"`
	// TLS marks a record dissected from plaintext captured inside a TLS
	// library (a decrypted HTTPS call), not from the packets on the wire.
	TLS bool `json:"tls,omitempty"`
	// RequestDir is the direction the request travelled in. The host uses it
	// to say which endpoint is the client (Src) when the capture missed the
	// handshake. (It and Failed sit beside TLS to share its word: the
	// record and its two messages then fit the allocator's 640-byte size
	// class, not 704: RATIONALE.md, "Plugin records: a smaller record,
	// inlined readers".)
	RequestDir Direction `json:"-"`
	// Failed marks an exchange the dissector judged failed; Error may say
	// how.
	Failed bool `json:"failed"`

	Method     string `json:"method,omitempty"`
	Path       string `json:"path,omitempty"`
	Status     int    `json:"status"`
	StatusText string `json:"status_text,omitempty"`
	// Error notes what went wrong in the traffic or in parsing it
	// (malformed input, a reset, bytes missing from the capture, no
	// response). It may be set on a record that is not Failed: a response the
	// capture missed is not a failed call.
	Error   string `json:"error,omitempty"`
	Summary string `json:"summary,omitempty"`

	Request  *Message `json:"request,omitempty"`
	Response *Message `json:"response,omitempty"`

	// End is when the last byte of the response was seen; zero without a
	// response. The host turns it into ElapsedMs.
	End time.Time `json:"-"`
}

// recordJSON fixes the order of a record's JSON fields: identity and time
// first, then the exchange, then the payloads.
type recordJSON struct {
	ID         string   `json:"id"`
	Protocol   string   `json:"protocol"`
	Timestamp  string   `json:"timestamp"`
	ElapsedMs  *float64 `json:"elapsed_ms,omitempty"`
	Src        Endpoint `json:"src"`
	Dst        Endpoint `json:"dst"`
	Stream     string   `json:"stream"`
	Dissector  string   `json:"dissector"`
	TLS        bool     `json:"tls,omitempty"`
	Method     string   `json:"method,omitempty"`
	Path       string   `json:"path,omitempty"`
	Status     int      `json:"status"`
	StatusText string   `json:"status_text,omitempty"`
	Failed     bool     `json:"failed"`
	Error      string   `json:"error,omitempty"`
	Summary    string   `json:"summary,omitempty"`
	Request    *Message `json:"request,omitempty"`
	Response   *Message `json:"response,omitempty"`
}

// MarshalJSON renders Timestamp as RFC 3339 with nanoseconds in UTC.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{
		ID: r.ID, Protocol: r.Protocol, Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano),
		ElapsedMs: r.ElapsedMs, Src: r.Src, Dst: r.Dst, Stream: r.Stream, Dissector: r.Dissector, TLS: r.TLS,
		Method: r.Method, Path: r.Path, Status: r.Status, StatusText: r.StatusText, Failed: r.Failed,
		Error: r.Error, Summary: r.Summary, Request: r.Request, Response: r.Response,
	})
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (r *Record) UnmarshalJSON(b []byte) error {
	type plain Record
	var aux struct {
		plain
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*r = Record(aux.plain)
	if aux.Timestamp != "" {
		t, err := time.Parse(time.RFC3339Nano, aux.Timestamp)
		if err != nil {
			return fmt.Errorf("record timestamp: %w", err)
		}
		r.Timestamp = t
	}
	return nil
}
