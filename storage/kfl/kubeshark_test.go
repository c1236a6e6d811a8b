package kfl_test

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/amqp"
	"github.com/kubeshark-wasm/kubeshark/dissectors/dns"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http2"
	"github.com/kubeshark-wasm/kubeshark/dissectors/kafka"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mongodb"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mqtt"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mysql"
	"github.com/kubeshark-wasm/kubeshark/dissectors/postgres"
	"github.com/kubeshark-wasm/kubeshark/dissectors/redis"
	"github.com/kubeshark-wasm/kubeshark/dissectors/tls"
	"github.com/kubeshark-wasm/kubeshark/dissectors/websocket"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
)

// kfl2Reference is every variable of Kubeshark's KFL2 reference with the
// type it gives, transcribed from skills/kfl/references/kfl2-reference.md
// in github.com/kubeshark/kubeshark (commit d3ac79a2, "Last synced with
// kfl2 repo: 2026-05-08"), table by table in the order it lists them.
var kfl2Reference = []struct{ name, typ string }{
	// Most commonly used, network-level, identity and metadata.
	{"status_code", "int"}, {"method", "string"}, {"path", "string"}, {"dst.pod.namespace", "string"}, {"dst.service.name", "string"}, {"src.pod.name", "string"}, {"elapsed_time", "int"}, {"dns_questions", "[]string"}, {"namespaces", "[]string"},
	{"src.ip", "string"}, {"dst.ip", "string"}, {"src.port", "int"}, {"dst.port", "int"}, {"protocol", "string"},
	{"id", "int"}, {"node_id", "string"}, {"index", "int"}, {"stream", "string"}, {"timestamp", "timestamp"}, {"worker", "string"},
	// Cross-reference and capture source.
	{"conn_id", "int"}, {"flow_id", "int"}, {"has_pcap", "bool"},
	{"capture_source", "string"}, {"capture_backend", "string"}, {"capture_source_code", "int"}, {"capture", "map"},
	// Protocol detection flags.
	{"http", "bool"}, {"redis", "bool"}, {"dns", "bool"}, {"kafka", "bool"}, {"tls", "bool"}, {"amqp", "bool"}, {"tcp", "bool"}, {"ldap", "bool"}, {"udp", "bool"}, {"ws", "bool"}, {"sctp", "bool"}, {"gql", "bool"}, {"icmp", "bool"}, {"gqlv1", "bool"}, {"grpc", "bool"}, {"gqlv2", "bool"}, {"mongodb", "bool"}, {"mysql", "bool"}, {"postgresql", "bool"}, {"diameter", "bool"}, {"radius", "bool"}, {"conn", "bool"}, {"flow", "bool"}, {"tcp_conn", "bool"}, {"tcp_flow", "bool"}, {"udp_conn", "bool"}, {"udp_flow", "bool"},
	// HTTP.
	{"url", "string"}, {"http_version", "string"}, {"query_string", "map[string]string"}, {"request.headers", "map[string]string"}, {"response.headers", "map[string]string"}, {"request.cookies", "map[string]string"}, {"response.cookies", "map[string]string"}, {"request_headers_size", "int"}, {"request_body_size", "int"}, {"response_headers_size", "int"}, {"response_body_size", "int"},
	// DNS, TLS.
	{"dns_answers", "[]string"}, {"dns_question_types", "[]string"}, {"dns_request", "bool"}, {"dns_response", "bool"}, {"dns_request_length", "int"}, {"dns_response_length", "int"}, {"dns_total_size", "int"},
	{"tls_summary", "string"}, {"tls_info", "string"}, {"tls_request_size", "int"}, {"tls_response_size", "int"}, {"tls_total_size", "int"},
	// TCP, UDP, SCTP, ICMP, WebSocket.
	{"tcp_method", "string"}, {"tcp_payload", "bytes"}, {"tcp_error_type", "string"}, {"tcp_error_message", "string"},
	{"udp_length", "int"}, {"udp_checksum", "int"}, {"udp_payload", "bytes"},
	{"sctp_checksum", "int"}, {"sctp_chunk_type", "string"}, {"sctp_length", "int"},
	{"icmp_type", "string"}, {"icmp_version", "int"}, {"icmp_length", "int"},
	{"ws_opcode", "string"}, {"ws_request", "bool"}, {"ws_response", "bool"}, {"ws_request_payload_data", "string"}, {"ws_request_payload_length", "int"}, {"ws_response_payload_length", "int"},
	// Redis, Kafka, AMQP, LDAP, RADIUS, Diameter.
	{"redis_type", "string"}, {"redis_command", "string"}, {"redis_key", "string"}, {"redis_request_size", "int"}, {"redis_response_size", "int"}, {"redis_total_size", "int"},
	{"kafka_api_key", "int"}, {"kafka_api_key_name", "string"}, {"kafka_client_id", "string"}, {"kafka_size", "int"}, {"kafka_request", "bool"}, {"kafka_response", "bool"}, {"kafka_request_summary", "string"}, {"kafka_request_size", "int"}, {"kafka_response_size", "int"},
	{"amqp_method", "string"}, {"amqp_summary", "string"}, {"amqp_request", "bool"}, {"amqp_response", "bool"}, {"amqp_request_length", "int"}, {"amqp_response_length", "int"}, {"amqp_total_size", "int"},
	{"ldap_type", "string"}, {"ldap_summary", "string"}, {"ldap_request", "bool"}, {"ldap_response", "bool"}, {"ldap_request_length", "int"}, {"ldap_response_length", "int"}, {"ldap_total_size", "int"},
	{"radius_code", "int"}, {"radius_code_name", "string"}, {"radius_request", "bool"}, {"radius_response", "bool"}, {"radius_request_authenticator", "string"}, {"radius_request_length", "int"}, {"radius_response_length", "int"}, {"radius_total_size", "int"},
	{"diameter_method", "string"}, {"diameter_summary", "string"}, {"diameter_request", "bool"}, {"diameter_response", "bool"}, {"diameter_request_length", "int"}, {"diameter_response_length", "int"}, {"diameter_total_size", "int"},
	// MongoDB, MySQL, PostgreSQL, gRPC.
	{"mongodb_command", "string"}, {"mongodb_database", "string"}, {"mongodb_collection", "string"}, {"mongodb_opcode", "string"}, {"mongodb_request_size", "int"}, {"mongodb_response_size", "int"}, {"mongodb_total_size", "int"}, {"mongodb_success", "bool"}, {"mongodb_error_code", "int"}, {"mongodb_error_message", "string"}, {"mongodb_error_code_name", "string"},
	{"mysql_command", "string"}, {"mysql_query", "string"}, {"mysql_database", "string"}, {"mysql_statement_id", "int"}, {"mysql_request_size", "int"}, {"mysql_response_size", "int"}, {"mysql_total_size", "int"}, {"mysql_success", "bool"}, {"mysql_error_code", "int"}, {"mysql_error_message", "string"},
	{"postgresql_command", "string"}, {"postgresql_query", "string"}, {"postgresql_database", "string"}, {"postgresql_user", "string"}, {"postgresql_request_size", "int"}, {"postgresql_response_size", "int"}, {"postgresql_total_size", "int"}, {"postgresql_success", "bool"}, {"postgresql_error_code", "string"}, {"postgresql_error_message", "string"},
	{"grpc_method", "string"}, {"grpc_status", "int"},
	// L4 connection and flow tracking.
	{"conn_state", "string"}, {"conn_local_pkts", "int"}, {"conn_local_bytes", "int"}, {"conn_remote_pkts", "int"}, {"conn_remote_bytes", "int"}, {"conn_l7_detected", "[]string"}, {"conn_group_id", "int"},
	{"flow_state", "string"}, {"flow_local_pkts", "int"}, {"flow_local_bytes", "int"}, {"flow_remote_pkts", "int"}, {"flow_remote_bytes", "int"}, {"flow_local_pps", "int"}, {"flow_local_bps", "int"}, {"flow_remote_pps", "int"}, {"flow_remote_bps", "int"}, {"flow_l7_detected", "[]string"}, {"flow_group_id", "int"},
	// Kubernetes.
	{"src.pod.namespace", "string"}, {"dst.pod.name", "string"}, {"src.service.name", "string"}, {"src.service.namespace", "string"}, {"dst.service.namespace", "string"},
	{"src.name", "string"}, {"dst.name", "string"}, {"src.namespace", "string"}, {"dst.namespace", "string"},
	{"pods", "[]string"}, {"services", "[]string"},
	{"local_labels", "map[string]string"}, {"local_annotations", "map[string]string"}, {"remote_labels", "map[string]string"}, {"remote_annotations", "map[string]string"},
	{"node", "map"}, {"node_name", "string"}, {"node_ip", "string"}, {"local_node_name", "string"}, {"remote_node_name", "string"},
	{"local_process_name", "string"}, {"remote_process_name", "string"},
	{"src.dns", "string"}, {"dst.dns", "string"}, {"dns_resolutions", "[]string"},
	{"local_resolution_status", "string"}, {"remote_resolution_status", "string"},
}

// typeDifferences are the variables whose type differs from KFL2's, and
// why: our ids are strings.
var typeDifferences = map[string]string{
	"id":      "record ids are ULID-like strings",
	"conn_id": "the stream id, a string",
	"flow_id": "the stream id, a string",
}

// kfl2Filters are filters from Kubeshark's published material, verbatim:
// skills/kfl/SKILL.md, skills/kfl/references/kfl2-reference.md,
// skills/network-rca/SKILL.md and skills/security-audit/SKILL.md.
var kfl2Filters = []string{
	`http && status_code != 200`, `http && !path.contains("/health")`, `!(src.pod.namespace == "kube-system")`,
	`src.pod.name == "orders-594487879c-7ddxf"`, `dst.service.namespace == "payments"`,
	`src.name == "api-gateway"`, `dst.name.contains("payment")`, `src.namespace == "production"`,
	`map_get(local_labels, "app", "") == "checkout"`, `map_get(remote_labels, "version", "") == "canary"`,
	`node_name == "ip-10-0-25-170.ec2.internal"`, `local_process_name == "nginx"`, `remote_process_name.contains("postgres")`,
	`src.dns == "api.example.com"`, `dst.dns.contains("redis")`,
	`http && status_code >= 400 && status_code < 500`, `http && method == "POST" && path.contains("/orders")`,
	`http && url.matches(".*/api/v[0-9]+/users.*")`, `http && elapsed_time > 5000000`, `http && response_body_size > 1000000`,
	`http && "authorization" in request.headers`, `http && request.headers["content-type"] == "application/json"`,
	`gql && method == "POST" && status_code >= 400`, `tls && http && status_code >= 500`,
	`dns && "api.external-service.com" in dns_questions`, `dns && dns_response && status_code != 0`,
	`dns && "A" in dns_question_types`, `dns && size(dns_questions) > 1`,
	`redis && redis_type == "GET"`, `redis && redis_key.startsWith("session:")`, `redis && redis_command.contains("DEL")`, `redis && redis_total_size > 10000`,
	`kafka && kafka_api_key_name == "PRODUCE"`, `kafka && kafka_client_id == "payment-processor"`, `kafka && kafka_request_summary.contains("orders")`, `kafka && kafka_size > 10000`,
	`mongodb && mongodb_command == "find"`, `mongodb && !mongodb_success`, `mongodb && mongodb_error_code != 0`, `mongodb && mongodb_total_size > 10000`,
	`mysql && mysql_command == "COM_QUERY"`, `mysql && mysql_query.contains("SELECT")`, `mysql && mysql_database == "orders_db"`, `mysql && !mysql_success`, `mysql && mysql_total_size > 10000`,
	`postgresql && postgresql_query.contains("SELECT")`, `postgresql && postgresql_database == "orders_db"`, `postgresql && postgresql_user == "admin"`,
	`postgresql && !postgresql_success`, `postgresql && postgresql_error_code != ""`, `postgresql && postgresql_total_size > 10000`,
	`grpc && grpc_method == "SayHello"`, `grpc && grpc_status == 14`, `grpc && grpc_method.contains("Create")`, `grpc && elapsed_time > 1000000`,
	`amqp && amqp_method == "basic.publish"`, `ldap && ldap_type == "bind"`, `radius && radius_code_name == "Access-Request"`, `diameter && diameter_method.contains("Credit")`,
	`tcp && tcp_error_type != ""`, `udp && udp_length > 1000`,
	`conn && conn_state == "open"`, `conn && conn_local_bytes > 1000000`, `conn && "HTTP" in conn_l7_detected`, `tcp_conn && conn_state == "closed"`,
	`conn && conn_state == "open" && conn_local_bytes > 1000000`, `tcp_flow && flow_local_bps > 5000000`,
	`src.service.name == "api-gateway" && dst.pod.namespace == "production"`,
	`map_get(local_labels, "app", "") == "checkout" && "production" in namespaces`,
	`src.service.namespace != dst.service.namespace`, `dns && src.pod.namespace == "k8s-mule"`,
	`dns && dns_response && size(dns_answers) == 0`, `http && !dst.pod.namespace.startsWith("kube")`,
	`http && dst.port == 443 && path.startsWith("/api")`, `dst.ip == "169.254.169.254"`,
	`http && (path == "/.env" || path == "/actuator/info" || path == "/server-info" || path == "/version")`,
	`redis && redis_command.contains("CONFIG SET dir")`, `capture["source"] == "ebpf_tls"`, `has_pcap && timestamp > timestamp("2026-01-01T00:00:00Z")`,
}

func builtinManifests() []sdk.Manifest {
	return []sdk.Manifest{http1.Manifest(), http2.New().Manifest(), dns.Manifest(), redis.New().Manifest(), kafka.New().Manifest(),
		amqp.New().Manifest(), mongodb.New().Manifest(), mysql.New().Manifest(), postgres.New().Manifest(), tls.New().Manifest(),
		websocket.New().Manifest(), mqtt.New().Manifest()}
}

// TestKubesharkReferenceVariables holds the declared variables against
// KFL2's reference: every one is declared, with its type, with and without
// the built-in dissectors' manifests, and every published filter compiles.
func TestKubesharkReferenceVariables(t *testing.T) {
	ourType := map[string]string{"int": "int", "string": "string", "bool": "bool", "[]string": "list<string>",
		"map[string]string": "map<string,string>", "map": "map<string,string>", "bytes": "bytes", "timestamp": "timestamp"}
	for _, manifests := range [][]sdk.Manifest{nil, builtinManifests()} {
		env, err := kfl.NewEnv(manifests)
		if err != nil {
			t.Fatal(err)
		}
		types := env.Types()
		for _, v := range kfl2Reference {
			got, ok := types[v.name]
			switch {
			case !ok:
				t.Errorf("%d manifests: KFL2 variable %s (%s) is not declared", len(manifests), v.name, v.typ)
			case typeDifferences[v.name] != "":
				if got != "string" {
					t.Errorf("%s: %s, want string (%s)", v.name, got, typeDifferences[v.name])
				}
			case got != ourType[v.typ]:
				t.Errorf("%d manifests: %s is %s, KFL2 has %s", len(manifests), v.name, got, v.typ)
			}
		}
		for _, f := range kfl2Filters {
			if _, err := env.Compile(f); err != nil {
				t.Errorf("%d manifests: Kubeshark's filter %s: %v", len(manifests), f, err)
			}
		}
	}
	if len(kfl2Reference) != 218 {
		t.Fatalf("the transcription holds %d variables; the reference lists 218", len(kfl2Reference))
	}
}

// TestKubesharkVariablesMean checks the variables that stand for facts our
// records carry under other names.
func TestKubesharkVariablesMean(t *testing.T) {
	env, err := kfl.NewEnv(builtinManifests())
	if err != nil {
		t.Fatal(err)
	}
	pgOK := &sdk.Record{Protocol: "postgres", Method: "SELECT", Path: "SELECT * FROM users WHERE id = $1",
		Request:  (&sdk.Message{Size: 60}).Set("pg_user", "app").Set("pg_database", "shop"),
		Response: (&sdk.Message{Size: 140}).Set("pg_command_tag", "SELECT 1")}
	pgErr := &sdk.Record{Protocol: "postgres", Method: "INSERT", Path: "INSERT INTO users VALUES (1)", Failed: true, Status: 1,
		Request:  (&sdk.Message{Size: 40}).Set("pg_user", "app"),
		Response: (&sdk.Message{Size: 90}).Set("pg_error", map[string]any{"code": "23505", "message": "duplicate key value violates unique constraint"})}
	dnsNX := &sdk.Record{Protocol: "dns", Method: "A", Path: "nope.example.com", Status: 3, Failed: true,
		Request:  (&sdk.Message{Size: 34}).Set("dns_questions", []sdk.Object{{{Key: "name", Value: "nope.example.com"}, {Key: "type", Value: "A"}}}),
		Response: (&sdk.Message{Size: 34}).Set("dns_answers", []any{})}
	dnsOK := &sdk.Record{Protocol: "dns", Method: "AAAA", Path: "www.example.com",
		Request:  (&sdk.Message{Size: 33}).Set("dns_questions", []any{map[string]any{"name": "www.example.com", "type": "AAAA"}}),
		Response: (&sdk.Message{Size: 61}).Set("dns_answers", []any{map[string]any{"name": "www.example.com", "type": "AAAA", "data": "2001:db8::1"}})}
	redisRec := &sdk.Record{Protocol: "redis", Method: "CONFIG", Path: "SET",
		Request:  (&sdk.Message{Size: 50}).Set("redis_command", "CONFIG").Set("redis_args", []any{"SET", "dir", "/tmp"}),
		Response: &sdk.Message{Size: 5}}
	httpRec := &sdk.Record{Protocol: "http", Method: "GET", Path: "/api/users?id=7&x=1", Status: 200,
		Request: &sdk.Message{Size: 120, Headers: []sdk.Header{{Name: "Cookie", Value: "session=abc; theme=dark"}}}, Response: &sdk.Message{Size: 300, BodySize: 200,
			Headers: []sdk.Header{{Name: "Set-Cookie", Value: "token=xyz; Path=/"}}}}
	httpRec.Request.Set("version", "HTTP/1.1")
	grpcRec := &sdk.Record{Protocol: "grpc", Method: "POST", Path: "/helloworld.Greeter/SayHello",
		Request: (&sdk.Message{}).Set("grpc_method", "SayHello"), Response: (&sdk.Message{}).Set("grpc_status", 14)}
	for _, tc := range []struct {
		expr string
		rec  *sdk.Record
		want bool
	}{
		{`postgresql && postgresql_success && postgresql_query.contains("FROM users")`, pgOK, true},
		{`postgresql_command == "SELECT" && postgresql_user == "app" && postgresql_database == "shop"`, pgOK, true},
		{`postgresql_total_size == 200 && postgresql_error_code == ""`, pgOK, true},
		{`!postgresql_success && postgresql_error_code == "23505" && postgresql_error_message.contains("duplicate")`, pgErr, true},
		{`postgresql_success`, pgErr, false},
		{`dns && dns_response && status_code != 0`, dnsNX, true},
		{`dns && dns_response && size(dns_answers) == 0`, dnsNX, true},
		{`dns && dns_response && status_code != 0`, dnsOK, false},
		{`"www.example.com" in dns_questions && "AAAA" in dns_question_types && "2001:db8::1" in dns_answers`, dnsOK, true},
		{`dns_request && dns_request_length == 33 && dns_total_size == 94`, dnsOK, true},
		{`dns_response`, httpRec, false},
		{`redis_type == "CONFIG" && redis_command == "CONFIG SET dir /tmp" && redis_key == "SET"`, redisRec, true},
		{`redis && redis_command.contains("CONFIG SET dir")`, redisRec, true},
		{`path == "/api/users" && url == "/api/users?id=7&x=1" && query_string["id"] == "7"`, httpRec, true},
		{`http_version == "HTTP/1.1" && request.cookies["session"] == "abc" && response.cookies["token"] == "xyz"`, httpRec, true},
		{`response_headers_size == 100`, httpRec, true},
		{`grpc && grpc_status == 14 && grpc_method == "SayHello" && http_version == "HTTP/2"`, grpcRec, true},
		{`conn || flow || tcp || has_pcap`, httpRec, false},
	} {
		p, err := env.Compile(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		got, err := p.Match(tc.rec)
		if err != nil || got != tc.want {
			t.Errorf("%s on %s %s: %v, %v; want %v", tc.expr, tc.rec.Protocol, tc.rec.Path, got, err, tc.want)
		}
	}
}
