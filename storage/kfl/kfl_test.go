package kfl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testManifests resemble the built-in dissectors' manifests.
var testManifests = []sdk.Manifest{
	{Name: "http1", Protocols: []string{"http"}, Fields: []sdk.FieldSpec{
		{Name: "http_version", Type: "string", Description: "request line version"},
		{Name: "request.headers", Type: "map", Description: "covered by the core"},
		{Name: "response.interim", Type: "list", Description: "1xx codes"},
		{Name: "missing_bytes", Type: "int", Description: "bytes lost"},
	}},
	{Name: "http2", Protocols: []string{"http2", "grpc"}, Fields: []sdk.FieldSpec{
		{Name: "grpc_method", Type: "string", Description: "gRPC method"},
		{Name: "grpc_status", Type: "int", Description: "gRPC status"},
		{Name: "trailers", Type: "map", Description: "trailers"},
		{Name: "missing_bytes", Type: "int", Description: "DATA bytes lost"},
	}},
	{Name: "redis", Protocols: []string{"redis"}, Fields: []sdk.FieldSpec{
		{Name: "redis_command", Type: "string", Description: "command"},
		{Name: "redis_args", Type: "list", Description: "arguments"},
		{Name: "redis_inline", Type: "bool", Description: "inline command"},
	}},
	{Name: "dns", Protocols: []string{"dns"}, Fields: []sdk.FieldSpec{
		{Name: "dns_questions", Type: "list", Description: "questions"},
		{Name: "dns_id", Type: "int", Description: "transaction id"},
	}},
	{Name: "kafka", Protocols: []string{"kafka"}, Fields: []sdk.FieldSpec{
		{Name: "kafka_api_key_name", Type: "string", Description: "API"},
		{Name: "kafka_topics", Type: "list", Description: "topics"},
	}},
	{Name: "mongodb", Protocols: []string{"mongodb"}, Fields: []sdk.FieldSpec{
		{Name: "mongodb_ok", Type: "float", Description: "ok"},
		{Name: "missing_bytes", Type: "string", Description: "a conflicting type"},
	}},
	{Name: "tls", Protocols: []string{"tls"}, Fields: []sdk.FieldSpec{
		{Name: "request.tls_sni", Type: "string", Description: "SNI"},
		{Name: "response.tls_version", Type: "string", Description: "version"},
		{Name: "bad-name", Type: "string", Description: "not an identifier"},
		{Name: "other.thing", Type: "string", Description: "neither side"},
	}},
	{Name: "gopher", Protocols: []string{"gopher", "not-an-ident"}},
}

func testEnv(t testing.TB) *Env {
	t.Helper()
	e, err := NewEnv(testManifests)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func f64(v float64) *float64 { return &v }

func httpRec() *sdk.Record {
	r := &sdk.Record{
		ID: "x", Protocol: "http", Timestamp: t0, ElapsedMs: f64(12.5),
		Src:    sdk.Endpoint{IP: "10.0.0.1", Port: 40000, Namespace: "web"},
		Dst:    sdk.Endpoint{IP: "10.0.1.2", Port: 80, Name: "users", Namespace: "prod"},
		Stream: "s1", Dissector: "http1@1.0.0", Method: "GET", Path: "/api/v1/users?id=7",
		Status: 503, StatusText: "Service Unavailable", Failed: true, Summary: "GET /api/v1/users",
		Error: "",
		Request: &sdk.Message{Headers: []sdk.Header{
			{Name: "Host", Value: "users"}, {Name: "User-Agent", Value: "curl/8.5"},
			{Name: "Accept", Value: "a"}, {Name: "accept", Value: "b"},
		}, Body: `{"q":1}`, BodySize: 7, Size: 120},
		Response: &sdk.Message{Headers: []sdk.Header{{Name: "Content-Type", Value: "application/json"}},
			Body: `{"error":"down"}`, BodySize: 16, Size: 200},
	}
	r.Request.Set("http_version", "HTTP/1.1")
	r.Response.Set("interim", []any{100.0})
	r.Response.Set("missing_bytes", 3)
	return r
}

func redisRec() *sdk.Record {
	r := &sdk.Record{Protocol: "redis", Timestamp: t0.Add(time.Second), Method: "GET", Path: "session:1",
		Src: sdk.Endpoint{IP: "10.0.0.2", Port: 50000}, Dst: sdk.Endpoint{IP: "10.0.1.3", Port: 6379},
		Request:  (&sdk.Message{}).Set("redis_command", "GET").Set("redis_args", []any{"session:1"}),
		Response: &sdk.Message{}}
	return r
}

func dnsRec() *sdk.Record {
	// Fields as storage decodes them from JSON: numbers are float64.
	return &sdk.Record{Protocol: "dns", Timestamp: t0, Method: "A", Path: "www.example.com",
		Dst: sdk.Endpoint{IP: "10.96.0.10", Port: 53},
		Request: (&sdk.Message{}).Set("dns_questions", []any{map[string]any{"name": "www.example.com", "type": "A"}}).
			Set("dns_id", 4660.0)}
}

func grpcRec() *sdk.Record {
	return &sdk.Record{Protocol: "grpc", Method: "POST", Path: "/helloworld.Greeter/SayHello", Status: 200,
		Request:  (&sdk.Message{}).Set("grpc_method", "SayHello"),
		Response: (&sdk.Message{}).Set("grpc_status", int64(14)).Set("trailers", map[string]any{"grpc-status": "14"})}
}

func tlsRec() *sdk.Record {
	return &sdk.Record{Protocol: "tls", Method: "ClientHello",
		Request:  (&sdk.Message{}).Set("tls_sni", "api.example.com"),
		Response: (&sdk.Message{}).Set("tls_version", "TLS 1.3").Set("tls_sni", "wrong side")}
}

func TestMatch(t *testing.T) {
	e := testEnv(t)
	timeNow = func() time.Time { return t0.Add(2 * time.Minute) }
	defer func() { timeNow = time.Now }()
	noResp := &sdk.Record{Protocol: "http", Method: "GET", Path: "/x", Timestamp: t0,
		Request: &sdk.Message{}}
	https := httpRec()
	https.TLS = true
	// A live call between two local processes, and one whose client only
	// is local.
	local := redisRec()
	local.Src.Process = &sdk.Process{PID: 100, Comm: "redis-cli", CgroupID: 7}
	local.Dst.Process = &sdk.Process{PID: 200, Comm: "redis-server", CgroupID: 9}
	outbound := httpRec()
	outbound.Src.Process = &sdk.Process{PID: 300, Comm: "curl", CgroupID: 11}
	// Named from a workload history, the namespaces with their labels.
	named := httpRec()
	named.Src.K8s = &sdk.K8s{Pod: "web-1", Labels: map[string]string{"app": "web"}, NamespaceLabels: map[string]string{"team": "storefront"}}
	named.Dst.K8s = &sdk.K8s{Service: "users", NamespaceLabels: map[string]string{"team": "payments", "tier": "gold"}}
	recs := map[string]*sdk.Record{"http": httpRec(), "https": https, "redis": redisRec(), "dns": dnsRec(), "grpc": grpcRec(), "tls": tlsRec(), "noresp": noResp, "empty": {},
		"local": local, "outbound": outbound, "named": named}
	for _, tc := range []struct {
		expr string
		rec  string
		want bool
	}{
		{`src.process == "redis-cli" && src.pid == 100 && dst.pid == 200 && dst.cgroup_id == 9`, "local", true},
		{`local_process_name == "redis-cli" && remote_process_name == "redis-server"`, "local", true},
		{`local_process_name == "curl" && remote_process_name == "" && dst.pid == 0 && src.cgroup_id == 11`, "outbound", true},
		{`src.pid != 0 || local_process_name != ""`, "http", false},
		// protocol flags
		{`http`, "http", true},
		{`http`, "redis", false},
		{`http2`, "grpc", false},
		{`grpc`, "grpc", true},
		{`redis && !http`, "redis", true},
		{`dns`, "dns", true},
		{`tls`, "tls", true},
		// tls: decrypted calls (KFL2's `http && tls`), and handshakes
		{`http && tls`, "https", true},
		{`http && tls`, "http", false},
		{`tls`, "https", true},
		{`tls && !http`, "https", false},
		{`http && !tls`, "http", true},
		{`postgres || postgresql || mysql || kafka || amqp || mongodb || mqtt || websocket || ws`, "http", false},
		{`gopher`, "http", false},
		// core variables
		{`protocol == "http"`, "http", true},
		{`method == "GET"`, "http", true},
		{`path == "/api/v1/users"`, "http", true}, // KFL2's path has no query string
		{`url == "/api/v1/users?id=7"`, "http", true},
		{`query_string["id"] == "7"`, "http", true},
		{`url.contains("/users")`, "http", true},
		{`status_code == 503`, "http", true},
		{`status >= 500 && status < 600`, "http", true},
		{`status_code == 0`, "empty", true},
		{`status_text == "Service Unavailable"`, "http", true},
		{`failed`, "http", true},
		{`failed`, "redis", false},
		{`error == ""`, "http", true},
		{`summary.startsWith("GET ")`, "http", true},
		{`stream == "s1"`, "http", true},
		{`dissector.startsWith("http1")`, "http", true},
		{`elapsed_time == 12500`, "http", true},
		{`elapsed_ms == 12.5`, "http", true},
		{`elapsed_ms > 12`, "http", true},
		{`elapsed_time == 0 && elapsed_ms == 0.0 && !has_response`, "noresp", true},
		{`has_response`, "http", true},
		{`timestamp == timestamp("2025-06-01T12:00:00Z")`, "http", true},
		{`timestamp > now() - duration("5m")`, "http", true},
		{`timestamp > now() - duration("1m")`, "http", false},
		{`now() == timestamp("2025-06-01T12:02:00Z")`, "empty", true},
		{`src.ip == "10.0.0.1" && src.port == 40000`, "http", true},
		{`dst.ip == "10.0.1.2" && dst.port == 80`, "http", true},
		{`dst.name == "users" && src.name == ""`, "http", true},
		{`src.pod.namespace == "web" && dst.pod.namespace == "prod" && dst.service.namespace == "prod" && src.service.namespace == "web"`, "http", true},
		{`src.pod.name == "" && dst.pod.name == "" && src.service.name == "" && dst.service.name == ""`, "http", true},
		{`"prod" in namespaces && "web" in namespaces && size(namespaces) == 2`, "http", true},
		{`src.namespace.labels["team"] == "storefront" && dst.namespace.labels["team"] == "payments"`, "named", true},
		{`src.namespace == "web" && src.namespace.startsWith("w") && map_get(dst.namespace.labels, "tier", "") == "gold"`, "named", true},
		{`local_namespace_labels["team"] == "storefront" && remote_namespace_labels == {"team": "payments", "tier": "gold"}`, "named", true},
		{`local_labels["app"] == "web" && !("app" in local_namespace_labels)`, "named", true},
		{`"team" in dst.namespace.labels || "team" in src.namespace.labels`, "http", false}, // no history: no labels
		{`size(src.namespace.labels) == 0 && map_get(remote_namespace_labels, "team", "none") == "none"`, "http", true},
		{`size(namespaces) == 0`, "redis", true},
		// headers: lower-case names, repeated ones joined
		{`request.headers["user-agent"] == "curl/8.5"`, "http", true},
		{`map_get(request.headers, "user-agent", "").contains("curl")`, "http", true},
		{`map_get(request.headers, "User-Agent", "none") == "none"`, "http", true},
		{`map_get(request.headers, "user-agent", "").contains("curl")`, "redis", false},
		{`request.headers["accept"] == "a, b"`, "http", true},
		{`"content-type" in response.headers`, "http", true},
		{`response.headers.exists(k, k.startsWith("content-"))`, "http", true},
		{`size(request.headers) == 0`, "noresp", true},
		{`size(response.headers) == 0`, "noresp", true},
		// bodies and sizes
		{`request.body.contains("q")`, "http", true},
		{`response.body.matches("\"error\":\\s*\"down\"")`, "http", true},
		{`response.body == ""`, "redis", true},
		{`request_body_size == 7 && response_body_size == 16`, "http", true},
		{`request_size == 120 && response_size == 200`, "http", true},
		{`response_body_size == 0`, "noresp", true},
		// manifest fields, on and off their protocol
		{`redis_type == "GET"`, "redis", true},              // KFL2: the verb
		{`redis_command == "GET session:1"`, "redis", true}, // KFL2: the command line
		{`redis_key == "session:1"`, "redis", true},
		{`redis_type == "GET"`, "http", false},
		{`redis_command == ""`, "http", true},
		{`"session:1" in redis_args`, "redis", true},
		{`size(redis_args) == 0 && !redis_inline`, "http", true},
		{`http_version == "HTTP/1.1"`, "http", true},
		{`response.interim == [100]`, "http", true},
		{`size(response.interim) == 0`, "redis", true},
		{`grpc && grpc_status != 0 && grpc_method == "SayHello"`, "grpc", true},
		{`grpc_status == 0`, "http", true},
		{`map_get(trailers, "grpc-status", "") == "14"`, "grpc", true},
		{`dns_id == 4660`, "dns", true},
		{`"www.example.com" in dns_questions`, "dns", true}, // KFL2: names
		{`dns_questions.exists(q, q.endsWith("example.com")) && "A" in dns_question_types`, "dns", true},
		{`request.dns_questions.exists(q, q.name == "www.example.com")`, "dns", true}, // the dissector's objects
		{`dns && path.endsWith("example.com")`, "dns", true},
		{`kafka_api_key_name == "" && size(kafka_topics) == 0`, "dns", true},
		{`mongodb_ok == 0.0`, "http", true},
		{`missing_bytes == 3`, "http", true}, // declared int and string: dyn
		{`request.tls_sni == "api.example.com" && response.tls_version == "TLS 1.3"`, "tls", true},
		{`request.tls_sni == ""`, "http", true},
		// operators and macros
		{`method in ["GET", "HEAD"]`, "http", true},
		{`status_code / 100 == 5`, "http", true},
		{`failed ? status_code >= 500 : false`, "http", true},
		{`size(path) > 5`, "http", true},
		{`[1, 2, 3].all(x, x > 0)`, "empty", true},
		{`string(status_code) == "503"`, "http", true},
		{``, "empty", true},
		{`  `, "http", true},
	} {
		p, err := e.Compile(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		got, err := p.Match(recs[tc.rec])
		if err != nil || got != tc.want {
			t.Errorf("%s on %s: %v, %v; want %v", tc.expr, tc.rec, got, err, tc.want)
		}
	}
}

func TestMatchErrors(t *testing.T) {
	e := testEnv(t)
	// m[key] on a missing key is an evaluation error: the caller (storage)
	// leaves the record out.
	p := e.MustCompile(`request.headers["x-missing"] == "1"`)
	if ok, err := p.Match(httpRec()); ok || err == nil || !strings.Contains(err.Error(), "x-missing") {
		t.Fatalf("got %v, %v", ok, err)
	}
}

func TestCompileErrors(t *testing.T) {
	e := testEnv(t)
	for _, tc := range []struct{ expr, want string }{
		{`status>>5`, `kfl: 1:8: Syntax error: extraneous input '>'`},
		{`http && status_code >=`, `kfl: 1:22: the filter ends with '>=', which needs something after it`},
		{`http && stauts == 500`, `kfl: 1:9: undeclared reference to 'stauts' (did you mean 'status'?)`},
		{`http &&` + "\n" + `  stauts == 1`, `kfl: 2:3: undeclared reference to 'stauts' (did you mean 'status'?)`},
		{`src.ipp == "1.2.3.4"`, `kfl: 1:1: undeclared reference to 'src.ipp' (did you mean 'src.ip'?)`},
		{`request.header["a"] == "b"`, `kfl: 1:1: undeclared reference to 'request.header' (did you mean 'request.headers'?)`},
		{`path.contans("x")`, `kfl: 1:6: undeclared reference to 'contans' (did you mean 'contains'?)`},
		{`redis_comand == "GET"`, `kfl: 1:1: undeclared reference to 'redis_comand' (did you mean 'redis_command'?)`},
		{`map_gett(request.headers, "a", "") == ""`, `kfl: 1:1: undeclared reference to 'map_gett' (did you mean 'map_get'?)`},
		{`zzzqqq`, `kfl: 1:1: undeclared reference to 'zzzqqq'`},
		{`status_code + 1`, `kfl: 1:1: a filter must be a bool expression, this one is int`},
		{`  path`, `kfl: 1:3: a filter must be a bool expression, this one is string`},
		{`status_code == "500"`, `kfl: 1:13: found no matching overload for '_==_' applied to '(int, string)'`},
	} {
		_, err := e.Compile(tc.expr)
		var ke *Error
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, ErrBadFilter) || !errors.Is(err, storage.ErrBadFilter) || !errors.As(err, &ke) {
			t.Errorf("%q: got %v\n want prefix %s", tc.expr, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: message has several lines: %q", tc.expr, err)
		}
	}
	// Undeclared lets a caller retry with a larger Env.
	core, _ := NewEnv(nil)
	_, err := core.Compile(`redis && "GET" in redis_args`)
	var ke *Error
	if !errors.As(err, &ke) || !slices.Equal(ke.Undeclared(), []string{"redis_args"}) {
		t.Fatalf("core env: %v", err)
	}
	_, err = core.Compile(`status>>5`)
	if !errors.As(err, &ke) || ke.Undeclared() != nil {
		t.Fatalf("a syntax error is not only undeclared names: %v", err)
	}
}

func TestSuggest(t *testing.T) {
	e := testEnv(t)
	for _, tc := range []struct{ q, bare, want string }{
		{"stauts", "stauts", "status"},
		{"statuscode", "statuscode", "status_code"},
		{"dst.pod.nmae", "dst.pod.nmae", "dst.pod.name"},
		{"grcp", "grcp", "grpc"},
		{"xx", "xx", ""},
		{"completely_different", "completely_different", ""},
	} {
		if got := e.suggest(tc.q, tc.bare); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
	if levenshtein("kitten", "sitting") != 3 || levenshtein("stauts", "status") != 1 || levenshtein("", "abc") != 3 || levenshtein("abc", "abc") != 0 {
		t.Fatal("levenshtein")
	}
}

func TestIndexTerms(t *testing.T) {
	e := testEnv(t)
	for _, tc := range []struct {
		expr string
		want string
	}{
		{`http`, "[protocol=http]"},
		{`http && status_code >= 500`, "[protocol=http]"},
		{`ws && postgresql`, "[protocol=websocket protocol=postgres]"},
		{`protocol == "dns"`, "[protocol=dns]"},
		{`"dns" == protocol`, "[protocol=dns]"},
		{`status_code == 404`, "[status=404]"},
		{`status == 404 && method == "GET"`, "[status=404]"},
		{`failed`, "[failed]"},
		{`failed == true`, "[failed]"},
		{`failed == false`, "[]"},
		{`!failed`, "[]"},
		{`src.ip == "10.0.0.1"`, "[src.ip=10.0.0.1]"},
		{`dst.ip == "10.0.0.1"`, "[dst.ip=10.0.0.1]"},
		{`dst.port == 80`, "[]"},
		{`dst.port == 80 && dst.ip == "10.0.0.1"`, "[dst.ip=10.0.0.1 dst=10.0.0.1:80]"},
		{`dst.ip == ""`, "[]"},
		{`http && (status_code == 500 && failed)`, "[protocol=http status=500 failed]"},
		{`http || dns`, "[]"},
		{`!(http && failed)`, "[]"},
		{`status_code != 500`, "[]"},
		{`redis_command == "GET"`, "[]"},
		{`http ? failed : true`, "[]"},
		{``, "[]"},
	} {
		p, err := e.Compile(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := fmt.Sprint(p.IndexTerms()); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.expr, got, tc.want)
		}
	}
}

func TestReads(t *testing.T) {
	e := testEnv(t)
	for _, tc := range []struct {
		expr string
		want storage.RecordParts
	}{
		{`http && status_code == 500 && src.ip == "1" && timestamp > now()`, 0},
		{`map_get(request.headers, "a", "") == ""`, storage.ReadsMessages},
		{`response_body_size > 10`, storage.ReadsMessages},
		{`redis_command == "GET"`, storage.ReadsMessages},
		{`request.body.contains("x")`, storage.ReadsBodies},
		{`response.body.contains("x") && size(response.headers) > 0`, storage.ReadsBodies | storage.ReadsMessages},
	} {
		p := e.MustCompile(tc.expr)
		if p.Reads() != tc.want {
			t.Errorf("%s: reads %b, want %b", tc.expr, p.Reads(), tc.want)
		}
		if p.String() != tc.expr {
			t.Errorf("String() = %q", p.String())
		}
	}
}

func TestEnvDeclarations(t *testing.T) {
	e := testEnv(t)
	names := e.Names()
	for _, want := range []string{"http", "gopher", "grpc_status", "request.tls_sni", "response.tls_version", "missing_bytes", "response.interim"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not declared", want)
		}
	}
	for _, not := range []string{"bad-name", "other.thing", "not-an-ident", nowVar} {
		if slices.Contains(names, not) {
			t.Errorf("%s declared", not)
		}
	}
	if v := e.vars["missing_bytes"]; v.typeName != "dyn" || len(v.dissectors) != 3 {
		t.Errorf("missing_bytes: %+v", v)
	}
	if v := e.vars["request.headers"]; v.group != groupCore {
		t.Errorf("request.headers taken from a manifest")
	}
}

func TestReference(t *testing.T) {
	e := testEnv(t)
	ref := e.Reference()
	for _, want := range []string{
		"# KFL", "| `status_code` | int |", "| `request.headers` | map<string,string> |", "| `elapsed_time` | int |",
		"| `src.pod.name` | string |", "| `namespaces` | list<string> |", "| `ws` | websocket |",
		"### redis (redis)", "| `redis_command` | string | command (core variable) |", "### http2 (http2, grpc)", "| `grpc_status` | int |",
		"| `request.headers` | map<string,string> | covered by the core (core variable) |",
		"| `missing_bytes` | dyn |", "bad-name (tls)", "`map_get(m, key, default)`", "microseconds",
		"`map_get(request.headers, \"user-agent\", \"\").contains(\"curl\")`",
	} {
		if !strings.Contains(ref, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
	for _, v := range e.order {
		if !strings.Contains(ref, "`"+v.name+"`") {
			t.Errorf("reference lacks variable %s", v.name)
		}
	}
	// What failed means for HTTP: the dissectors set it for status ≥ 400
	// (dissectors/http1, dissectors/http2), and the reference and the
	// README say so (issue 15, item 7).
	if !strings.Contains(ref, "HTTP status ≥ 400") || strings.Contains(ref, "5xx") {
		t.Errorf("the reference's `failed` does not say HTTP status ≥ 400")
	}
	if readme, err := os.ReadFile("../../README.md"); err != nil || !strings.Contains(string(readme), "`failed` is set for status ≥ 400") {
		t.Errorf("README does not say `failed` is set for status ≥ 400 (%v)", err)
	}
	if len(Examples) < 10 {
		t.Errorf("%d examples", len(Examples))
	}
	for _, ex := range Examples {
		if _, err := e.Compile(ex.Expr); err != nil {
			t.Errorf("example %s: %v", ex.Expr, err)
		}
	}
}

func TestConcurrentMatch(t *testing.T) {
	e := testEnv(t)
	p := e.MustCompile(`http && map_get(request.headers, "user-agent", "").contains("curl") && status_code >= 500`)
	recs := []*sdk.Record{httpRec(), redisRec(), dnsRec()}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				r := recs[i%len(recs)]
				ok, err := p.Match(r)
				if err != nil || ok != (r.Protocol == "http") {
					t.Errorf("%s: %v %v", r.Protocol, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestStoreQuery runs KFL programs through a real store: the index terms
// narrow the scan and the results are those of evaluating every record.
func TestStoreQuery(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recs []*sdk.Record
	for i := 0; i < 400; i++ {
		var r *sdk.Record
		switch i % 4 {
		case 0, 1:
			r = httpRec()
			r.Status = []int{200, 404, 500, 503}[i%4+i/4%2*2]
			r.Failed = r.Status >= 500
			r.Dst.Port = uint16(80 + i%2)
			r.TLS = i%8 == 0
		case 2:
			r = redisRec()
		default:
			r = dnsRec()
		}
		r.ID = ""
		r.Timestamp = t0.Add(time.Duration(i) * time.Millisecond)
		recs = append(recs, r)
	}
	if err := st.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	e := testEnv(t)
	for _, expr := range []string{
		`http && status_code >= 500`,
		`status_code == 500`,
		`failed && dst.ip == "10.0.1.2" && dst.port == 81`,
		`redis && redis_type == "GET" && "session:1" in redis_args`,
		`dns && dns_id == 4660 && request.dns_questions.exists(q, q.name.endsWith("example.com"))`,
		`dns && dns_questions.exists(q, q.endsWith("example.com"))`,
		`map_get(request.headers, "user-agent", "").contains("curl") && response.body.contains("down")`,
		`request.headers["accept"] == "a, b"`, // errs on records without the header: left out
		`protocol == "http" && response.headers["content-type"] == "application/json" && !failed`,
		`http && tls`, // the flag survives storage, and is no second protocol term
		`http && !tls`,
	} {
		p := e.MustCompile(expr)
		var want []time.Time
		for _, r := range recs {
			// Records as storage returns them: Fields round-tripped
			// through JSON.
			if ok, _ := p.Match(r); ok {
				want = append(want, r.Timestamp)
			}
		}
		page, err := st.Query(ctx, storage.Query{Match: p})
		if err != nil {
			t.Fatal(err)
		}
		var got []time.Time
		for _, r := range page.Records {
			got = append(got, r.Timestamp)
			if r.Response != nil && r.Response.Body != "" {
				t.Fatalf("%s: bodies returned without WithBodies", expr)
			}
		}
		if len(want) == 0 || !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s: got %d records, want %d", expr, len(got), len(want))
		}
	}
}

// benchRecords builds n varied records.
func benchRecords(n int) []*sdk.Record {
	out := make([]*sdk.Record, n)
	for i := range out {
		var r *sdk.Record
		switch i % 4 {
		case 0, 1:
			r = httpRec()
			r.Status = []int{200, 404, 500, 503, 201}[i%5]
		case 2:
			r = redisRec()
		default:
			r = dnsRec()
		}
		out[i] = r
	}
	return out
}

// BenchmarkMatch reports ns per record (ns/op is per 100k-record pass
// divided by 100k via the custom metric).
func BenchmarkMatch(b *testing.B) {
	e := testEnv(b)
	recs := benchRecords(100_000)
	for _, bc := range []struct{ name, expr string }{
		{"flag", `http`},
		{"simple", `http && status_code >= 500`},
		{"string", `method == "GET" && path.startsWith("/api/")`},
		{"header", `map_get(request.headers, "user-agent", "").contains("curl")`},
		{"field", `redis && redis_type == "GET"`},
		{"complex", `(http || grpc) && status_code >= 500 && elapsed_time > 1000 && !url.contains("/health") && dst.port == 80`},
		{"regex", `path.matches("^/api/v[0-9]+/users")`},
	} {
		p := e.MustCompile(bc.expr)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; i < b.N; i++ {
				r := recs[i%len(recs)]
				if ok, err := p.Match(r); err != nil {
					b.Fatal(err)
				} else if ok {
					n++
				}
			}
			_ = n
		})
	}
}

// Common mistakes are named, with the filter as KFL writes it (issue 15,
// item 6); the suggestion given compiles.
func TestCommonMistakeHints(t *testing.T) {
	env, err := NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ expr, want, suggestion string }{
		{`method = "GET"`, `kfl: 1:8: '=' is not a comparison: KFL compares with '=='`, `method == "GET"`},
		{`status_code = 500 && http`, `'=' is not a comparison`, `status_code == 500 && http`},
		{`path.contains("a=b") && method="GET"`, `'=' is not a comparison`, `path.contains("a=b") && method=="GET"`},
		{`http &&`, `kfl: 1:7: the filter ends with '&&', which needs something after it (e.g. http && method == "GET")`, ``},
		{`http && status_code ==`, `the filter ends with '=='`, ``},
		{`request.path == "/x"`, `undeclared reference to 'request.path': KFL calls 'request.path' 'path'`, `path == "/x"`},
		{`response.status_code >= 500`, `KFL calls 'response.status_code' 'status_code'`, `status_code >= 500`},
		{`http.method == "GET"`, `'http.method' is Wireshark's syntax`, `http && method == "GET"`},
		{`http.request.method == "POST" || http.response.code == 500`, `Wireshark's syntax`, `http && (method == "POST" || status_code == 500)`},
		{`ip.src == "10.0.0.1" && tcp.dstport == 80`, `'ip.src' is Wireshark's syntax`, `src.ip == "10.0.0.1" && dst.port == 80`},
		{`dns.qry.name contains "example"`, `KFL calls functions as methods`, `dns && path.contains("example")`},
		{`http.host contains "api"`, `Wireshark's syntax`, `http && map_get(request.headers, "host", "").contains("api")`},
		{`http and not failed`, `KFL writes and, or, not as &&, ||, !`, `http && ! failed`},
		{`method == GET`, `undeclared reference to 'GET': strings need quotes`, `method == "GET"`},
		// Not a known mistake: the parser's message and our typo suggestion stand.
		{`http && stauts == 500`, `kfl: 1:9: undeclared reference to 'stauts' (did you mean 'status'?)`, ``},
		{`zzzqqq == 1`, `kfl: 1:1: undeclared reference to 'zzzqqq'`, ``},
	} {
		_, err := env.Compile(tc.expr)
		if err == nil {
			t.Errorf("%s: compiled", tc.expr)
			continue
		}
		msg := err.Error()
		if !errors.Is(err, ErrBadFilter) || !strings.Contains(msg, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.expr, msg, tc.want)
		}
		if strings.Contains(msg, "request.ja3") || strings.Contains(msg, "Syntax error") {
			t.Errorf("%s: raw parser output or a wrong suggestion: %s", tc.expr, msg)
		}
		_, got, ok := strings.Cut(msg, "; did you mean: ")
		if tc.suggestion == "" {
			if ok {
				t.Errorf("%s: unexpected suggestion %q", tc.expr, got)
			}
			continue
		}
		if got != tc.suggestion {
			t.Errorf("%s: suggests %q, want %q", tc.expr, got, tc.suggestion)
		}
		if _, err := env.Compile(got); err != nil {
			t.Errorf("%s: the suggestion %q does not compile: %v", tc.expr, got, err)
		}
	}
}
