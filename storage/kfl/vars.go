package kfl

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

var (
	emptyString    = types.String("")
	emptyStringMap = types.NewStringStringMap(types.DefaultTypeAdapter, map[string]string{})
	emptyDynMap    = types.NewDynamicMap(types.DefaultTypeAdapter, map[string]any{})
	emptyList      = types.NewDynamicList(types.DefaultTypeAdapter, []any{})
	emptyStrList   = types.NewStringList(types.DefaultTypeAdapter, []string{})
)

func str(s string) ref.Val {
	if s == "" {
		return emptyString
	}
	return types.String(s)
}

// coreVariables are the variables every Env declares, in reference order.
// Kubeshark's KFL2 names are used where one exists.
func coreVariables() []*variable {
	sv := func(name, doc string, f func(r *sdk.Record) string) *variable {
		return &variable{name: name, typ: cel.StringType, typeName: "string", doc: doc,
			get: func(a *activation) ref.Val { return str(f(a.r)) }}
	}
	iv := func(name, doc string, f func(r *sdk.Record) int64) *variable {
		return &variable{name: name, typ: cel.IntType, typeName: "int", doc: doc,
			get: func(a *activation) ref.Val { return types.Int(f(a.r)) }}
	}
	msg := func(v *variable) *variable { v.reads = storage.ReadsMessages; return v }
	k8s := func(v *variable) *variable { v.group = groupK8s; return v }
	return []*variable{
		sv("protocol", `protocol of the record, lower case: "http", "http2", "grpc", "dns", "redis", ...`, func(r *sdk.Record) string { return r.Protocol }),
		sv("method", "request method (HTTP method, DNS query type, Redis command, SQL command, ...)", func(r *sdk.Record) string { return r.Method }),
		sv("path", "request path or target without the query string, as in Kubeshark (HTTP path, DNS name, Kafka topic, SQL text, ...)", pathOnly),
		sv("url", "the request target with its query string (\"/api/users?id=123\"); same as path where there is no query", func(r *sdk.Record) string { return r.Path }),
		// Not in Kubeshark's KFL2, which has no endpoint templates.
		{name: "template", typ: cel.StringType, typeName: "string",
			doc: "the call's endpoint template, as stats and anomalies group calls: identifiers in the path become placeholders (/users/12345 → /users/{id}; /users/alice → /users/{param} where the server's stored paths show a parameter there), Redis keys likewise (user:{id}), SQL literals become ?; other paths (DNS names, topics) as they are",
			get: func(a *activation) ref.Val { return str(a.p.templateOf(a.r)) }},
		{name: "path_template", typ: cel.StringType, typeName: "string", doc: "same as template",
			get: func(a *activation) ref.Val { return str(a.p.templateOf(a.r)) }},
		{name: "endpoint", typ: cel.StringType, typeName: "string",
			doc: "method and template, as find_anomalies and get_api_stats name an endpoint: \"GET /users/{id}\", \"GET user:{id}\" (the template alone where there is no method)",
			get: func(a *activation) ref.Val {
				t := a.p.templateOf(a.r)
				if a.r.Method == "" {
					return str(t)
				}
				return str(a.r.Method + " " + t)
			}},
		iv("status_code", "the protocol's own response status, so its meaning depends on the protocol: HTTP status, gRPC status, DNS rcode, MySQL error number (access denied is 1045, which is also >= 500), Kafka and MongoDB error codes, AMQP reply code; 0 without a response and for protocols without one (PostgreSQL's SQLSTATE is in status_text). Pair it with a protocol (http && status_code >= 500); for failures of any protocol use failed", func(r *sdk.Record) int64 { return int64(r.Status) }),
		iv("status", "same as status_code", func(r *sdk.Record) int64 { return int64(r.Status) }),
		sv("status_text", "response status text or reason", func(r *sdk.Record) string { return r.StatusText }),
		{name: "failed", typ: cel.BoolType, typeName: "bool", doc: "the call failed by its protocol's rules: HTTP status ≥ 400, gRPC status other than OK (0), DNS rcode other than NOERROR (NXDOMAIN included), an SQL or MongoDB error, a Redis error reply, a Kafka error code, AMQP reply code ≥ 300, MQTT reason ≥ 0x80, a TLS alert or broken handshake, a malformed message; a call without a response is not failed (has_response says so); see RATIONALE.md",
			get: func(a *activation) ref.Val { return types.Bool(a.r.Failed) }},
		// As in Kubeshark's KFL2, `tls` is true on calls decrypted from TLS
		// (`http && tls` is HTTPS); it stays true on the TLS dissector's
		// handshake records too, which `tls` selected before decryption
		// existed. It is not served from the protocol index, which would
		// make `http && tls` ask for two protocols at once.
		{name: "tls", typ: cel.BoolType, typeName: "bool", doc: "the record was carried by TLS: a call decrypted from TLS plaintext capture (`http && tls` selects HTTPS calls), or a TLS handshake record (protocol tls)",
			get: func(a *activation) ref.Val { return types.Bool(a.r.TLS || a.r.Protocol == "tls") }},
		sv("error", "what went wrong in the traffic or its parsing (a reset, missing bytes, no response); empty when nothing did", func(r *sdk.Record) string { return r.Error }),
		sv("summary", "one-line summary of the exchange", func(r *sdk.Record) string { return r.Summary }),
		sv("stream", "connection (or UDP flow) the exchange used", func(r *sdk.Record) string { return r.Stream }),
		sv("dissector", "name of the dissector that produced the record", func(r *sdk.Record) string { return r.Dissector }),
		{name: "timestamp", typ: cel.TimestampType, typeName: "timestamp", doc: "when the request started (compare with now(), timestamp(\"...\"), duration(\"...\"))",
			get: func(a *activation) ref.Val { return types.Timestamp{Time: a.r.Timestamp} }},
		iv("elapsed_time", "request-to-response time in MICROseconds, as in Kubeshark (5 s = 5000000); 0 without a response", func(r *sdk.Record) int64 {
			if r.ElapsedMs == nil {
				return 0
			}
			return int64(math.Round(*r.ElapsedMs * 1000))
		}),
		{name: "elapsed_ms", typ: cel.DoubleType, typeName: "double", doc: "request-to-response time in milliseconds (as in the JSON output); 0.0 without a response",
			get: func(a *activation) ref.Val {
				if a.r.ElapsedMs == nil {
					return types.Double(0)
				}
				return types.Double(*a.r.ElapsedMs)
			}},
		{name: "has_response", typ: cel.BoolType, typeName: "bool", doc: "a response was seen (elapsed_time and status_code are 0 without one)",
			get: func(a *activation) ref.Val { return types.Bool(a.r.Response != nil) }},
		sv("src.ip", "client ip", func(r *sdk.Record) string { return r.Src.IP }),
		iv("src.port", "client port", func(r *sdk.Record) int64 { return int64(r.Src.Port) }),
		sv("dst.ip", "server ip", func(r *sdk.Record) string { return r.Dst.IP }),
		iv("dst.port", "server port", func(r *sdk.Record) int64 { return int64(r.Dst.Port) }),
		sv("src.process", "command name of the client's process when it is local (live capture: the kernel's comm, at most 15 bytes); empty otherwise", func(r *sdk.Record) string { return procOf(r.Src).Comm }),
		iv("src.pid", "pid of the client's process when it is local (live capture); 0 otherwise", func(r *sdk.Record) int64 { return int64(procOf(r.Src).PID) }),
		iv("src.cgroup_id", "cgroup v2 id of the client's socket when it is local (live capture); 0 otherwise", func(r *sdk.Record) int64 { return int64(procOf(r.Src).CgroupID) }),
		sv("dst.process", "command name of the server's process when it is local (live capture); empty otherwise", func(r *sdk.Record) string { return procOf(r.Dst).Comm }),
		iv("dst.pid", "pid of the server's process when it is local (live capture); 0 otherwise", func(r *sdk.Record) int64 { return int64(procOf(r.Dst).PID) }),
		iv("dst.cgroup_id", "cgroup v2 id of the server's socket when it is local (live capture); 0 otherwise", func(r *sdk.Record) int64 { return int64(procOf(r.Dst).CgroupID) }),
		msg(&variable{name: "request.headers", typ: cel.MapType(cel.StringType, cel.StringType), typeName: "map<string,string>",
			doc: "request headers by LOWER-CASE name; repeated headers joined with \", \" (use map_get for absent ones)",
			get: func(a *activation) ref.Val { return a.headers(a.r.Request, &a.reqH) }}),
		msg(&variable{name: "response.headers", typ: cel.MapType(cel.StringType, cel.StringType), typeName: "map<string,string>",
			doc: "response headers, as request.headers",
			get: func(a *activation) ref.Val { return a.headers(a.r.Response, &a.respH) }}),
		{name: "request.body", typ: cel.StringType, typeName: "string", reads: storage.ReadsBodies,
			doc: "request body preview (text; base64 for binary payloads); reading it costs a lookup per record",
			get: func(a *activation) ref.Val { return str(body(a.r.Request)) }},
		{name: "response.body", typ: cel.StringType, typeName: "string", reads: storage.ReadsBodies,
			doc: "response body preview, as request.body",
			get: func(a *activation) ref.Val { return str(body(a.r.Response)) }},
		msg(iv("request_body_size", "request payload bytes (after transfer decoding)", func(r *sdk.Record) int64 { return msgInt(r.Request, true) })),
		msg(iv("response_body_size", "response payload bytes (after transfer decoding)", func(r *sdk.Record) int64 { return msgInt(r.Response, true) })),
		msg(iv("request_size", "bytes the request took on the wire", func(r *sdk.Record) int64 { return msgInt(r.Request, false) })),
		msg(iv("response_size", "bytes the response took on the wire", func(r *sdk.Record) int64 { return msgInt(r.Response, false) })),
		k8s(sv("src.name", "client workload name (pod or service) when the capture source knows it", func(r *sdk.Record) string { return r.Src.Name })),
		k8s(sv("dst.name", "server workload name (pod or service) when the capture source knows it", func(r *sdk.Record) string { return r.Dst.Name })),
		k8s(sv("src.pod.name", "client pod (empty unless the store has a workload history: import --kubeconfig, tap/hub --kubernetes)", func(r *sdk.Record) string { return k8sOf(&r.Src).Pod })),
		k8s(sv("src.pod.namespace", "client namespace", func(r *sdk.Record) string { return r.Src.Namespace })),
		k8s(sv("src.service.name", "client service: its ClusterIP, or a service whose endpoints list the client pod", func(r *sdk.Record) string { return k8sOf(&r.Src).Service })),
		k8s(sv("src.service.namespace", "client namespace", func(r *sdk.Record) string { return r.Src.Namespace })),
		k8s(sv("dst.pod.name", "server pod (as src.pod.name)", func(r *sdk.Record) string { return k8sOf(&r.Dst).Pod })),
		k8s(sv("dst.pod.namespace", "server namespace", func(r *sdk.Record) string { return r.Dst.Namespace })),
		k8s(sv("dst.service.name", "server service: the ClusterIP called, or a service whose endpoints list the server pod", func(r *sdk.Record) string { return k8sOf(&r.Dst).Service })),
		k8s(sv("dst.service.namespace", "server namespace", func(r *sdk.Record) string { return r.Dst.Namespace })),
		// Not in Kubeshark's KFL2, which names no namespace labels: the
		// directional form beside src.namespace, and the local/remote form
		// beside local_labels (kubeshark.go).
		k8s(nsLabels("src.namespace.labels", "labels of the client's namespace at the record's time (src.namespace.labels[\"team\"] == \"payments\"; map_get for absent keys); empty unless the store has a workload history whose account may list namespaces", func(r *sdk.Record) *sdk.Endpoint { return &r.Src })),
		k8s(nsLabels("dst.namespace.labels", "labels of the server's namespace at the record's time, as src.namespace.labels", func(r *sdk.Record) *sdk.Endpoint { return &r.Dst })),
		k8s(&variable{name: "namespaces", typ: cel.ListType(cel.StringType), typeName: "list<string>",
			doc: "the namespaces of both ends (\"production\" in namespaces)",
			get: func(a *activation) ref.Val {
				s, d := a.r.Src.Namespace, a.r.Dst.Namespace
				switch {
				case s == "" && d == "":
					return emptyStrList
				case s == "" || s == d:
					return types.NewStringList(types.DefaultTypeAdapter, []string{d})
				case d == "":
					return types.NewStringList(types.DefaultTypeAdapter, []string{s})
				}
				return types.NewStringList(types.DefaultTypeAdapter, []string{s, d})
			}}),
	}
}

// pathOnly is an HTTP-family record's path without its query string; other
// protocols' paths (SQL text, topics) are kept whole, since "?" means
// something else there.
func pathOnly(r *sdk.Record) string {
	switch r.Protocol {
	case "http", "http2", "grpc", "websocket":
		if i := strings.IndexByte(r.Path, '?'); i >= 0 {
			return r.Path[:i]
		}
	}
	return r.Path
}

func body(m *sdk.Message) string {
	if m == nil {
		return ""
	}
	return m.Body
}

func msgInt(m *sdk.Message, bodySize bool) int64 {
	switch {
	case m == nil:
		return 0
	case bodySize:
		return m.BodySize
	}
	return m.Size
}

// headers returns m's headers as a CEL map with lower-case names, built once
// per record and kept in *cache.
func (a *activation) headers(m *sdk.Message, cache *ref.Val) ref.Val {
	if *cache != nil {
		return *cache
	}
	if m == nil || len(m.Headers) == 0 {
		*cache = emptyStringMap
		return emptyStringMap
	}
	h := make(map[string]string, len(m.Headers))
	for _, x := range m.Headers {
		name := lower(x.Name)
		if prev, ok := h[name]; ok {
			h[name] = prev + ", " + x.Value
		} else {
			h[name] = x.Value
		}
	}
	*cache = types.NewStringStringMap(types.DefaultTypeAdapter, h)
	return *cache
}

// lower lower-cases ASCII letters, allocating only when there is one.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// fieldSide says which message a manifest field is read from.
type fieldSide uint8

const (
	sideEither   fieldSide = iota // request, then response
	sideRequest                   // request.NAME
	sideResponse                  // response.NAME
)

// fieldType is a manifest field's declared type.
type fieldType uint8

const (
	kindDyn fieldType = iota
	kindString
	kindInt
	kindFloat
	kindBool
	kindList
	kindMap
)

// fieldKind maps sdk.FieldSpec.Type to a CEL type.
func fieldKind(t string) (fieldType, *cel.Type, string) {
	switch t {
	case "string":
		return kindString, cel.StringType, "string"
	case "int":
		return kindInt, cel.IntType, "int"
	case "float":
		return kindFloat, cel.DoubleType, "double"
	case "bool":
		return kindBool, cel.BoolType, "bool"
	case "list":
		return kindList, cel.ListType(cel.DynType), "list"
	case "map":
		return kindMap, cel.MapType(cel.StringType, cel.DynType), "map<string,dyn>"
	}
	return kindDyn, cel.DynType, "dyn"
}

func fieldGetter(key string, side fieldSide, k fieldType) func(*activation) ref.Val {
	return func(a *activation) ref.Val {
		var v any
		ok := false
		if side != sideResponse && a.r.Request != nil {
			v, ok = a.r.Request.Fields[key]
		}
		if !ok && side != sideRequest && a.r.Response != nil {
			v, ok = a.r.Response.Fields[key]
		}
		if !ok || v == nil {
			return zero(k)
		}
		return convert(v, k)
	}
}

func zero(k fieldType) ref.Val {
	switch k {
	case kindString:
		return emptyString
	case kindInt:
		return types.IntZero
	case kindFloat:
		return types.Double(0)
	case kindBool:
		return types.False
	case kindList:
		return emptyList
	case kindMap:
		return emptyDynMap
	}
	return types.NullValue
}

// convert turns a Fields value (as a dissector set it, or as JSON decoding
// in storage left it: float64, []any, map[string]any) into a CEL value of
// the declared kind; a value of another shape becomes the zero value.
func convert(v any, k fieldType) ref.Val {
	switch k {
	case kindString:
		switch x := v.(type) {
		case string:
			return str(x)
		case fmt.Stringer:
			return types.String(x.String())
		case bool, float64, float32, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8, json.Number:
			return types.String(fmt.Sprint(x))
		}
	case kindInt:
		if n, ok := toInt(v); ok {
			return types.Int(n)
		}
	case kindFloat:
		if f, ok := toFloat(v); ok {
			return types.Double(f)
		}
	case kindBool:
		if b, ok := v.(bool); ok {
			return types.Bool(b)
		}
	case kindList:
		switch x := v.(type) {
		case []string:
			return types.NewStringList(types.DefaultTypeAdapter, x)
		case []any:
			return types.NewDynamicList(types.DefaultTypeAdapter, x)
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			return types.DefaultTypeAdapter.NativeToValue(v)
		}
	case kindMap:
		switch x := v.(type) {
		case map[string]string:
			return types.NewStringStringMap(types.DefaultTypeAdapter, x)
		case map[string]any:
			return types.NewDynamicMap(types.DefaultTypeAdapter, x)
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String {
			return types.DefaultTypeAdapter.NativeToValue(v)
		}
	default:
		return types.DefaultTypeAdapter.NativeToValue(v)
	}
	return zero(k)
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint:
		return int64(x), true
	case uint64:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint8:
		return int64(x), true
	case float64:
		if x >= -1<<63 && x < 1<<63 {
			return int64(x), true
		}
	case float32:
		return int64(x), true
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, true
		}
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	if n, ok := toInt(v); ok {
		return float64(n), true
	}
	return 0, false
}

// nowMacro turns now() into the hidden variable holding the compile time.
var nowMacro = cel.GlobalMacro("now", 0, func(eh cel.MacroExprFactory, _ ast.Expr, _ []ast.Expr) (ast.Expr, *common.Error) {
	return eh.NewIdent(nowVar), nil
})

// mapGetFunction declares map_get(map, key, default): the value under key,
// or default when the map has no such key.
func mapGetFunction() cel.EnvOption {
	k, v := cel.TypeParamType("K"), cel.TypeParamType("V")
	return cel.Function("map_get",
		cel.Overload("map_get_map_key_default", []*cel.Type{cel.MapType(k, v), k, v}, v,
			cel.FunctionBinding(func(args ...ref.Val) ref.Val {
				m, ok := args[0].(traits.Mapper)
				if !ok {
					return types.MaybeNoSuchOverloadErr(args[0])
				}
				if x, found := m.Find(args[1]); found {
					return x
				}
				return args[2]
			})))
}

// procOf is an end's process, or the zero Process when it is remote or
// unknown.
func procOf(e sdk.Endpoint) *sdk.Process {
	if e.Process == nil {
		return &sdk.Process{}
	}
	return e.Process
}

// nsLabels declares a map variable holding the labels of an end's
// namespace.
func nsLabels(name, doc string, end func(*sdk.Record) *sdk.Endpoint) *variable {
	return &variable{name: name, typ: cel.MapType(cel.StringType, cel.StringType), typeName: "map<string,string>", doc: doc,
		get: func(a *activation) ref.Val {
			l := k8sOf(end(a.r)).NamespaceLabels
			if len(l) == 0 {
				return emptyStringMap
			}
			return types.NewStringStringMap(types.DefaultTypeAdapter, l)
		}}
}

// k8sOf is a copy of an endpoint's Kubernetes context, the zero value when
// it has none: a copy, so that no caller can change what another reads
// (its label maps are shared, and only read).
func k8sOf(e *sdk.Endpoint) sdk.K8s {
	if e.K8s == nil {
		return sdk.K8s{}
	}
	return *e.K8s
}

// localNode is the node a record was seen on as KFL2 means it: the local
// (client) peer's node, else the server's.
func localNode(r *sdk.Record) string {
	if n := k8sOf(&r.Src).Node; n != "" {
		return n
	}
	return k8sOf(&r.Dst).Node
}

// both lists the non-empty, distinct values f gives for the two ends.
func both(r *sdk.Record, f func(sdk.K8s) string) []string {
	s, d := f(k8sOf(&r.Src)), f(k8sOf(&r.Dst))
	switch {
	case s == "" && d == "":
		return nil
	case s == "" || s == d:
		return []string{d}
	case d == "":
		return []string{s}
	}
	return []string{s, d}
}
