package kfl

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// kubesharkVariables are the variables of Kubeshark's KFL2 reference
// (skills/kfl/references/kfl2-reference.md in github.com/kubeshark/kubeshark)
// that the core variables do not already declare, computed from our
// records so that filters copied from Kubeshark's material compile and mean
// what they mean there. Where our dissectors record the same fact under
// another name (pg_database, mongodb_op, ...) the variable reads it; where
// no record of ours can carry the fact (L4 tracking entries, SCTP, ICMP,
// protocols without a dissector, Kubernetes metadata before a capture
// source resolves it) the variable is declared and holds its type's zero
// value, which is what KFL2 gives an entry that lacks it.
//
// Two names keep our meaning, as the reference notes: http is HTTP/1.x
// (http2 and grpc are their own flags, so that each flag is one storage
// index) and tls is a TLS handshake record (Kubeshark's tls marks traffic
// decrypted by eBPF TLS interception, which this capture does not do).
func kubesharkVariables() []*variable {
	msg := func(v *variable) *variable { v.reads |= storage.ReadsMessages; return v }
	k8s := func(v *variable) *variable { v.group = groupK8s; return v }
	sv := func(name, doc string, f func(r *sdk.Record) string) *variable {
		return &variable{name: name, typ: cel.StringType, typeName: "string", doc: doc,
			get: func(a *activation) ref.Val { return str(f(a.r)) }}
	}
	iv := func(name, doc string, f func(r *sdk.Record) int64) *variable {
		return &variable{name: name, typ: cel.IntType, typeName: "int", doc: doc,
			get: func(a *activation) ref.Val { return types.Int(f(a.r)) }}
	}
	bv := func(name, doc string, f func(r *sdk.Record) bool) *variable {
		return &variable{name: name, typ: cel.BoolType, typeName: "bool", doc: doc,
			get: func(a *activation) ref.Val { return types.Bool(f(a.r)) }}
	}
	lv := func(name, doc string, f func(r *sdk.Record) []string) *variable {
		return &variable{name: name, typ: cel.ListType(cel.StringType), typeName: "list<string>", doc: doc,
			get: func(a *activation) ref.Val {
				l := f(a.r)
				if len(l) == 0 {
					return emptyStrList
				}
				return types.NewStringList(types.DefaultTypeAdapter, l)
			}}
	}
	mv := func(name, doc string, f func(r *sdk.Record) map[string]string) *variable {
		return &variable{name: name, typ: cel.MapType(cel.StringType, cel.StringType), typeName: "map<string,string>", doc: doc,
			get: func(a *activation) ref.Val {
				m := f(a.r)
				if len(m) == 0 {
					return emptyStringMap
				}
				return types.NewStringStringMap(types.DefaultTypeAdapter, m)
			}}
	}
	bytesv := func(name, doc string) *variable {
		return &variable{name: name, typ: cel.BytesType, typeName: "bytes", doc: doc,
			get: func(*activation) ref.Val { return types.Bytes(nil) }}
	}
	noStr := func(*sdk.Record) string { return "" }
	noInt := func(*sdk.Record) int64 { return 0 }
	noBool := func(*sdk.Record) bool { return false }
	noList := func(*sdk.Record) []string { return nil }
	noMap := func(*sdk.Record) map[string]string { return nil }
	is := func(protocols ...string) func(r *sdk.Record) bool {
		return func(r *sdk.Record) bool {
			for _, p := range protocols {
				if r.Protocol == p {
					return true
				}
			}
			return false
		}
	}
	// Per-protocol request/response presence and sizes, as KFL2 has them
	// for most protocols.
	side := func(prefix string, protocols []string, lengthWord string) []*variable {
		on := is(protocols...)
		size := func(m func(r *sdk.Record) *sdk.Message) func(r *sdk.Record) int64 {
			return func(r *sdk.Record) int64 {
				if !on(r) || m(r) == nil {
					return 0
				}
				return m(r).Size
			}
		}
		req := func(r *sdk.Record) *sdk.Message { return r.Request }
		resp := func(r *sdk.Record) *sdk.Message { return r.Response }
		return []*variable{
			msg(bv(prefix+"_request", "the record has a "+prefix+" request", func(r *sdk.Record) bool { return on(r) && r.Request != nil })),
			msg(bv(prefix+"_response", "the record has a "+prefix+" response", func(r *sdk.Record) bool { return on(r) && r.Response != nil })),
			msg(iv(prefix+"_request_"+lengthWord, "request bytes on the wire (0 without one)", size(req))),
			msg(iv(prefix+"_response_"+lengthWord, "response bytes on the wire (0 without one)", size(resp))),
			msg(iv(prefix+"_total_size", "request + response bytes", func(r *sdk.Record) int64 { return size(req)(r) + size(resp)(r) })),
		}
	}
	dissected := func(prefix, proto string) []*variable {
		// A protocol we have no dissector for: declared, always zero.
		return []*variable{
			bv(prefix+"_request", "no "+proto+" dissector: always false", noBool),
			bv(prefix+"_response", "no "+proto+" dissector: always false", noBool),
			iv(prefix+"_request_length", "no "+proto+" dissector: always 0", noInt),
			iv(prefix+"_response_length", "no "+proto+" dissector: always 0", noInt),
			iv(prefix+"_total_size", "no "+proto+" dissector: always 0", noInt),
		}
	}
	var out []*variable
	add := func(vs ...*variable) { out = append(out, vs...) }

	// KFL2 names our dissectors record under the same name and meaning:
	// declared here too, so that a filter compiles whichever dissectors
	// are loaded.
	for _, f := range []struct{ name, typ, doc string }{
		{"kafka_api_key", "int", "Kafka API key number (0 = Produce, 1 = Fetch, ...)"},
		{"kafka_api_key_name", "string", `Kafka API name: "Produce", "Fetch", ...`},
		{"kafka_client_id", "string", "Kafka client id"},
		{"amqp_method", "string", `AMQP method, e.g. "basic.publish"`},
		{"mongodb_command", "string", `MongoDB command: "find", "insert", ...`},
		{"mongodb_database", "string", "MongoDB database"},
		{"mongodb_collection", "string", "MongoDB collection"},
		{"mongodb_error_code", "int", "MongoDB error code (0 without an error)"},
		{"mysql_command", "string", `MySQL command: "COM_QUERY", "COM_STMT_PREPARE", ...`},
		{"mysql_statement_id", "int", "MySQL prepared statement id"},
		{"mysql_error_code", "int", "MySQL error code (0 without an error)"},
		{"mysql_error_message", "string", "MySQL error message"},
		{"grpc_method", "string", `gRPC method from the path: "SayHello"`},
		{"grpc_status", "int", "gRPC status (0 OK, 14 UNAVAILABLE, ...; 0 on a record without one)"},
	} {
		kind, typ, typeName := fieldKind(f.typ)
		add(&variable{name: f.name, typ: typ, typeName: typeName, doc: f.doc, reads: storage.ReadsMessages,
			get: fieldGetter(f.name, sideEither, kind)})
	}

	// Identity, cross-reference and capture source.
	add(
		sv("id", "record id (a string here: ULID-like; KFL2's is an int)", func(r *sdk.Record) string { return r.ID }),
		sv("node_id", "node the record was captured on (empty for an imported capture)", noStr),
		iv("index", "entry index within its stream (always 0: one record per exchange)", noInt),
		sv("worker", "worker that captured the record (empty for an imported capture)", noStr),
		sv("conn_id", "the L4 connection of the record: its stream id (a string here)", func(r *sdk.Record) string { return r.Stream }),
		sv("flow_id", "the L4 flow of the record: its stream id (a string here; list_l4_flows)", func(r *sdk.Record) string { return r.Stream }),
		bv("has_pcap", "always false: raw packets are kept per connection in the packet log, exported with export_snapshot_pcap", noBool),
		sv("capture_source", `"unspecified" (imported capture) until live capture sets af_packet, ebpf or ebpf_tls`, func(*sdk.Record) string { return "unspecified" }),
		sv("capture_backend", "empty until live capture sets af_packet or ebpf", noStr),
		iv("capture_source_code", "0 (unspecified); 1 af_packet, 2 ebpf, 3 ebpf_tls", noInt),
		&variable{name: "capture", typ: cel.MapType(cel.StringType, cel.StringType), typeName: "map<string,string>",
			doc: `capture["source"], capture["backend"]`,
			get: func(*activation) ref.Val {
				return types.NewStringStringMap(types.DefaultTypeAdapter, map[string]string{"source": "unspecified", "backend": ""})
			}},
	)
	// Protocol flags we have no dissector or no entries for.
	for _, f := range []struct{ name, doc string }{
		{"tcp", "TCP payload entries of unknown protocol: not recorded (list_l4_flows has every TCP connection)"},
		{"udp", "UDP payload entries of unknown protocol: not recorded (list_l4_flows has every UDP flow)"},
		{"sctp", "no SCTP dissector"}, {"icmp", "no ICMP dissector"},
		{"ldap", "no LDAP dissector"}, {"radius", "no RADIUS dissector"}, {"diameter", "no Diameter dissector"},
		{"conn", "L4 connection entries are list_l4_flows' flows, not records"}, {"flow", "L4 flow entries are list_l4_flows' flows, not records"},
		{"tcp_conn", "see conn"}, {"tcp_flow", "see flow"}, {"udp_conn", "see conn"}, {"udp_flow", "see flow"},
	} {
		add(&variable{name: f.name, typ: cel.BoolType, typeName: "bool", group: groupProtocol, protocol: "(none)", doc: "always false: " + f.doc,
			get: func(*activation) ref.Val { return types.False }})
	}
	gql := func(r *sdk.Record) bool {
		if !is("http", "http2")(r) {
			return false
		}
		p, _, _ := strings.Cut(r.Path, "?")
		if strings.HasSuffix(strings.TrimSuffix(p, "/"), "/graphql") {
			return true
		}
		return r.Request != nil && strings.HasPrefix(header(r.Request, "content-type"), "application/graphql")
	}
	add(
		msg(bv("gql", "a GraphQL request: HTTP to a path ending in /graphql, or Content-Type application/graphql", gql)),
		msg(bv("gqlv1", "same as gql (versions are not told apart)", gql)),
		msg(bv("gqlv2", "same as gql (versions are not told apart)", gql)),
	)

	// HTTP.
	httpish := is("http", "http2", "grpc")
	add(
		msg(sv("http_version", `HTTP version: "HTTP/1.1", "HTTP/1.0" or "HTTP/2"`, func(r *sdk.Record) string {
			switch {
			case is("http2", "grpc")(r):
				return "HTTP/2"
			case r.Protocol == "http":
				for _, k := range []string{"version", "http_version"} {
					if v, ok := reqField(r, k); ok {
						return fmt.Sprint(v)
					}
				}
			}
			return ""
		})),
		mv("query_string", `the URL's query parameters (first value of each): query_string["id"]`, func(r *sdk.Record) map[string]string {
			if !httpish(r) {
				return nil
			}
			_, q, ok := strings.Cut(r.Path, "?")
			if !ok {
				return nil
			}
			vals, _ := url.ParseQuery(q)
			m := make(map[string]string, len(vals))
			for k, v := range vals {
				m[k] = v[0]
			}
			return m
		}),
		msg(mv("request.cookies", `request cookies by name: request.cookies["session"]`, func(r *sdk.Record) map[string]string {
			if r.Request == nil {
				return nil
			}
			h := http.Header{}
			for _, x := range r.Request.Headers {
				h.Add(x.Name, x.Value)
			}
			cs := (&http.Request{Header: h}).Cookies()
			m := make(map[string]string, len(cs))
			for _, c := range cs {
				m[c.Name] = c.Value
			}
			return m
		})),
		msg(mv("response.cookies", `cookies the response sets, by name: response.cookies["token"]`, func(r *sdk.Record) map[string]string {
			if r.Response == nil {
				return nil
			}
			h := http.Header{}
			for _, x := range r.Response.Headers {
				h.Add(x.Name, x.Value)
			}
			cs := (&http.Response{Header: h}).Cookies()
			m := make(map[string]string, len(cs))
			for _, c := range cs {
				m[c.Name] = c.Value
			}
			return m
		})),
		msg(iv("request_headers_size", "request bytes on the wire before the body", func(r *sdk.Record) int64 { return headSize(r.Request) })),
		msg(iv("response_headers_size", "response bytes on the wire before the body", func(r *sdk.Record) int64 { return headSize(r.Response) })),
	)

	// DNS. dns_questions and dns_answers are KFL2's lists of strings; the
	// dissector's full sections are request.dns_questions and
	// response.dns_answers.
	isDNS := is("dns")
	add(
		msg(lv("dns_questions", `question names (KFL2's list of strings): "example.com" in dns_questions; the full questions are request.dns_questions`, func(r *sdk.Record) []string {
			return objStrings(r, "dns_questions", "name", isDNS)
		})),
		msg(lv("dns_answers", "answer data as text (addresses, names); the full records are response.dns_answers", func(r *sdk.Record) []string {
			if !isDNS(r) || r.Response == nil {
				return nil
			}
			v, _ := r.Response.Fields["dns_answers"]
			return listStrings(v, "data")
		})),
		msg(lv("dns_question_types", `question record types: "AAAA" in dns_question_types`, func(r *sdk.Record) []string {
			return objStrings(r, "dns_questions", "type", isDNS)
		})),
		msg(&variable{name: "request.dns_questions", typ: cel.ListType(cel.DynType), typeName: "list",
			doc: "the query's question section as the dns dissector records it: {name, type, class}", reads: storage.ReadsMessages,
			get: fieldGetter("dns_questions", sideRequest, kindList)}),
		msg(&variable{name: "response.dns_answers", typ: cel.ListType(cel.DynType), typeName: "list",
			doc: "the response's answer section: {name, type, ttl, data}", reads: storage.ReadsMessages,
			get: fieldGetter("dns_answers", sideResponse, kindList)}),
	)
	add(side("dns", []string{"dns"}, "length")...)

	// TLS.
	isTLS := is("tls")
	add(
		sv("tls_summary", "the TLS handshake record's summary", func(r *sdk.Record) string {
			if !isTLS(r) {
				return ""
			}
			return r.Summary
		}),
		msg(sv("tls_info", `negotiated version and cipher suite, e.g. "TLS 1.3, TLS_AES_128_GCM_SHA256"`, func(r *sdk.Record) string {
			if !isTLS(r) || r.Response == nil {
				return ""
			}
			var parts []string
			for _, k := range []string{"tls_version", "tls_cipher_suite"} {
				if v, ok := r.Response.Fields[k]; ok && fmt.Sprint(v) != "" {
					parts = append(parts, fmt.Sprint(v))
				}
			}
			return strings.Join(parts, ", ")
		})),
	)
	tlsSide := side("tls", []string{"tls"}, "size")
	add(tlsSide[2], tlsSide[3], tlsSide[4])

	// TCP, UDP, SCTP, ICMP payload entries: not recorded.
	add(
		sv("tcp_method", "no raw TCP entries: always empty", noStr),
		bytesv("tcp_payload", "no raw TCP entries: always empty"),
		sv("tcp_error_type", `"stream" when the record's connection had a problem (a reset, missing bytes, no response), else empty`, func(r *sdk.Record) string {
			if r.Error != "" {
				return "stream"
			}
			return ""
		}),
		sv("tcp_error_message", "what went wrong on the connection (the record's error)", func(r *sdk.Record) string { return r.Error }),
		iv("udp_length", "no raw UDP entries: always 0", noInt),
		iv("udp_checksum", "no raw UDP entries: always 0", noInt),
		bytesv("udp_payload", "no raw UDP entries: always empty"),
		iv("sctp_checksum", "no SCTP dissector: always 0", noInt),
		sv("sctp_chunk_type", "no SCTP dissector: always empty", noStr),
		iv("sctp_length", "no SCTP dissector: always 0", noInt),
		sv("icmp_type", "no ICMP dissector: always empty", noStr),
		iv("icmp_version", "no ICMP dissector: always 0", noInt),
		iv("icmp_length", "no ICMP dissector: always 0", noInt),
	)

	// WebSocket.
	isWS := is("websocket")
	add(
		sv("ws_opcode", `frame type, lower case: "text", "binary", "close", "ping", "pong"`, func(r *sdk.Record) string {
			if !isWS(r) {
				return ""
			}
			return strings.ToLower(r.Method)
		}),
		msg(bv("ws_request", "the frame went client → server", func(r *sdk.Record) bool { return isWS(r) && r.Request != nil })),
		msg(bv("ws_response", "the frame went server → client", func(r *sdk.Record) bool { return isWS(r) && r.Response != nil })),
		&variable{name: "ws_request_payload_data", typ: cel.StringType, typeName: "string", reads: storage.ReadsBodies,
			doc: "client → server payload preview", get: func(a *activation) ref.Val {
				if !isWS(a.r) {
					return emptyString
				}
				return str(body(a.r.Request))
			}},
		msg(iv("ws_request_payload_length", "client → server payload bytes", func(r *sdk.Record) int64 {
			if !isWS(r) {
				return 0
			}
			return msgInt(r.Request, true)
		})),
		msg(iv("ws_response_payload_length", "server → client payload bytes", func(r *sdk.Record) int64 {
			if !isWS(r) {
				return 0
			}
			return msgInt(r.Response, true)
		})),
	)

	// Redis: redis_type is the verb, redis_command the whole command line.
	isRedis := is("redis")
	redisArgs := func(r *sdk.Record) []string {
		v, _ := reqField(r, "redis_args")
		return listStrings(v, "")
	}
	redisVerb := func(r *sdk.Record) string {
		if !isRedis(r) {
			return ""
		}
		if v, ok := reqField(r, "redis_command"); ok {
			return fmt.Sprint(v)
		}
		return r.Method
	}
	add(
		msg(sv("redis_type", `the command verb: "GET", "SET", "CONFIG"`, redisVerb)),
		msg(sv("redis_command", `the whole command line, e.g. "GET session:1234" (arguments as sent; redis_type is the verb alone)`, func(r *sdk.Record) string {
			verb := redisVerb(r)
			if verb == "" {
				return ""
			}
			return strings.Join(append([]string{verb}, redisArgs(r)...), " ")
		})),
		msg(sv("redis_key", "the first argument, cut to 64 bytes", func(r *sdk.Record) string {
			if !isRedis(r) {
				return ""
			}
			if a := redisArgs(r); len(a) > 0 {
				return cutString(a[0], 64)
			}
			return ""
		})),
	)
	redisSide := side("redis", []string{"redis"}, "size")
	add(redisSide[2], redisSide[3], redisSide[4])

	// Kafka.
	isKafka := is("kafka")
	kafkaSide := side("kafka", []string{"kafka"}, "size")
	add(kafkaSide...)
	add(
		msg(iv("kafka_size", "request bytes, else response bytes", func(r *sdk.Record) int64 {
			if !isKafka(r) {
				return 0
			}
			if r.Request != nil {
				return r.Request.Size
			}
			return msgInt(r.Response, false)
		})),
		sv("kafka_request_summary", "the request's topics, comma-separated", func(r *sdk.Record) string {
			if !isKafka(r) {
				return ""
			}
			return r.Path
		}),
	)

	// AMQP.
	isAMQP := is("amqp")
	add(side("amqp", []string{"amqp"}, "length")...)
	add(sv("amqp_summary", "the method's summary", func(r *sdk.Record) string {
		if !isAMQP(r) {
			return ""
		}
		return r.Summary
	}))

	// LDAP, RADIUS, Diameter: no dissectors.
	add(sv("ldap_type", "no LDAP dissector: always empty", noStr), sv("ldap_summary", "no LDAP dissector: always empty", noStr))
	add(dissected("ldap", "LDAP")...)
	add(iv("radius_code", "no RADIUS dissector: always 0", noInt), sv("radius_code_name", "no RADIUS dissector: always empty", noStr),
		sv("radius_request_authenticator", "no RADIUS dissector: always empty", noStr))
	add(dissected("radius", "RADIUS")...)
	add(sv("diameter_method", "no Diameter dissector: always empty", noStr), sv("diameter_summary", "no Diameter dissector: always empty", noStr))
	add(dissected("diameter", "Diameter")...)

	// MongoDB, MySQL, PostgreSQL: success, names and errors.
	isMongo, isMySQL, isPG := is("mongodb"), is("mysql"), is("postgres")
	fieldStr := func(on func(*sdk.Record) bool, key string) func(r *sdk.Record) string {
		return func(r *sdk.Record) string {
			if !on(r) {
				return ""
			}
			if v, ok := anyField(r, key); ok && v != nil {
				return fmt.Sprint(v)
			}
			return ""
		}
	}
	succeeded := func(on func(*sdk.Record) bool) func(r *sdk.Record) bool {
		return func(r *sdk.Record) bool { return on(r) && r.Response != nil && !r.Failed }
	}
	mongoSide := side("mongodb", []string{"mongodb"}, "size")
	add(
		msg(sv("mongodb_opcode", "wire opcode name (OP_MSG, OP_QUERY, ...)", fieldStr(isMongo, "mongodb_op"))),
		msg(bv("mongodb_success", "a reply came and reported ok", succeeded(isMongo))),
		msg(sv("mongodb_error_message", "the server's error message", fieldStr(isMongo, "mongodb_error"))),
		sv("mongodb_error_code_name", "the error's code name, from the status text", func(r *sdk.Record) string {
			if !isMongo(r) || !r.Failed {
				return ""
			}
			return r.StatusText
		}),
		mongoSide[2], mongoSide[3], mongoSide[4],
	)
	mysqlSide := side("mysql", []string{"mysql"}, "size")
	add(
		sv("mysql_query", "the SQL text (of the statement, for an execute)", func(r *sdk.Record) string {
			if !isMySQL(r) {
				return ""
			}
			return r.Path
		}),
		msg(sv("mysql_database", "the schema in use", fieldStr(isMySQL, "mysql_schema"))),
		msg(bv("mysql_success", "the server answered OK", succeeded(isMySQL))),
		mysqlSide[2], mysqlSide[3], mysqlSide[4],
	)
	pgErr := func(key string) func(r *sdk.Record) string {
		return func(r *sdk.Record) string {
			if !isPG(r) {
				return ""
			}
			v, _ := anyField(r, "pg_error")
			if s, ok := objValue(v, key); ok {
				return fmt.Sprint(s)
			}
			return ""
		}
	}
	pgSide := side("postgresql", []string{"postgres"}, "size")
	add(
		msg(sv("postgresql_command", `the command tag's verb ("SELECT", "INSERT", ...), else the request's method`, func(r *sdk.Record) string {
			if !isPG(r) {
				return ""
			}
			if v, ok := anyField(r, "pg_command_tag"); ok {
				if verb, _, _ := strings.Cut(fmt.Sprint(v), " "); verb != "" {
					return verb
				}
			}
			return r.Method
		})),
		sv("postgresql_query", "the SQL text", func(r *sdk.Record) string {
			if !isPG(r) {
				return ""
			}
			return r.Path
		}),
		msg(sv("postgresql_database", "the database of the session", fieldStr(isPG, "pg_database"))),
		msg(sv("postgresql_user", "the user of the session", fieldStr(isPG, "pg_user"))),
		msg(bv("postgresql_success", "the server answered without an error", succeeded(isPG))),
		msg(sv("postgresql_error_code", `SQLSTATE, a string: "23505"`, pgErr("code"))),
		msg(sv("postgresql_error_message", "the error's message", pgErr("message"))),
		pgSide[2], pgSide[3], pgSide[4],
	)

	// L4 tracking entries: not records.
	for _, p := range []string{"conn", "flow"} {
		add(sv(p+"_state", "L4 entries are list_l4_flows' flows: always empty on a record", noStr))
		for _, n := range []string{"local_pkts", "local_bytes", "remote_pkts", "remote_bytes", "group_id"} {
			add(iv(p+"_"+n, "L4 entries are list_l4_flows' flows: always 0 on a record", noInt))
		}
		add(lv(p+"_l7_detected", "L4 entries are list_l4_flows' flows: always empty on a record", noList))
	}
	for _, n := range []string{"local_pps", "local_bps", "remote_pps", "remote_bps"} {
		add(iv("flow_"+n, "L4 entries are list_l4_flows' flows: always 0 on a record", noInt))
	}

	// Kubernetes.
	add(
		k8s(sv("src.namespace", "client namespace", func(r *sdk.Record) string { return r.Src.Namespace })),
		k8s(sv("dst.namespace", "server namespace", func(r *sdk.Record) string { return r.Dst.Namespace })),
		k8s(lv("pods", "pod names of both ends", func(r *sdk.Record) []string { return both(r, func(k sdk.K8s) string { return k.Pod }) })),
		k8s(lv("services", "service names of both ends", func(r *sdk.Record) []string { return both(r, func(k sdk.K8s) string { return k.Service }) })),
		k8s(mv("local_labels", "labels of the local peer, the client (src): its pod's, or its service's or node's", func(r *sdk.Record) map[string]string { return k8sOf(&r.Src).Labels })),
		k8s(mv("local_annotations", "annotations of the local peer (as local_labels)", noMap)),
		k8s(mv("remote_labels", "labels of the remote peer, the server (dst), as local_labels", func(r *sdk.Record) map[string]string { return k8sOf(&r.Dst).Labels })),
		k8s(mv("remote_annotations", "annotations of the remote peer (as local_labels)", noMap)),
		// Not in KFL2: its local_labels are the peer's own.
		k8s(mv("local_namespace_labels", "labels of the local peer's (client's) namespace at the record's time; same as src.namespace.labels", func(r *sdk.Record) map[string]string { return k8sOf(&r.Src).NamespaceLabels })),
		k8s(mv("remote_namespace_labels", "labels of the remote peer's (server's) namespace; same as dst.namespace.labels", func(r *sdk.Record) map[string]string { return k8sOf(&r.Dst).NamespaceLabels })),
		k8s(&variable{name: "node", typ: cel.MapType(cel.StringType, cel.StringType), typeName: "map<string,string>",
			doc: `node.name (node["name"]): the local peer's node (the client's, else the server's); node["ip"] is empty`,
			get: func(a *activation) ref.Val {
				return types.NewStringStringMap(types.DefaultTypeAdapter, map[string]string{"name": localNode(a.r), "ip": ""})
			}}),
		k8s(sv("node_name", "the local peer's node (the client's, else the server's)", localNode)),
		k8s(sv("node_ip", "node IP (empty for an imported capture)", noStr)),
		k8s(sv("local_node_name", "node of the local peer (the client)", func(r *sdk.Record) string { return k8sOf(&r.Src).Node })),
		k8s(sv("remote_node_name", "node of the remote peer (the server)", func(r *sdk.Record) string { return k8sOf(&r.Dst).Node })),
		k8s(sv("local_process_name", "command name of the local peer's process (live capture: the client's when it is local, else the server's; empty for an imported capture)", func(r *sdk.Record) string {
			if r.Src.Process != nil {
				return r.Src.Process.Comm
			}
			return procOf(r.Dst).Comm
		})),
		k8s(sv("remote_process_name", "command name of the remote peer's process: the server's when both ends are local (live capture), else empty", func(r *sdk.Record) string {
			if r.Src.Process != nil {
				return procOf(r.Dst).Comm
			}
			return ""
		})),
		k8s(sv("src.dns", "DNS name of the client IP (empty until resolved)", noStr)),
		k8s(sv("dst.dns", "DNS name of the server IP (empty until resolved)", noStr)),
		k8s(lv("dns_resolutions", "DNS names of both ends (empty until resolved)", noList)),
		k8s(sv("local_resolution_status", `"" when the local peer was resolved`, noStr)),
		k8s(sv("remote_resolution_status", `"" when the remote peer was resolved`, noStr)),
	)
	return out
}

// header returns the first value of a header, by case-insensitive name.
func header(m *sdk.Message, name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func headSize(m *sdk.Message) int64 {
	if m == nil || m.Size < m.BodySize {
		return 0
	}
	return m.Size - m.BodySize
}

func reqField(r *sdk.Record, key string) (any, bool) {
	if r.Request == nil {
		return nil, false
	}
	v, ok := r.Request.Fields[key]
	return v, ok
}

// anyField reads a field from the request, then the response.
func anyField(r *sdk.Record, key string) (any, bool) {
	if v, ok := reqField(r, key); ok {
		return v, true
	}
	if r.Response == nil {
		return nil, false
	}
	v, ok := r.Response.Fields[key]
	return v, ok
}

// objValue reads key from an object as a dissector set it (sdk.Object) or
// as storage decoded it (map[string]any).
func objValue(v any, key string) (any, bool) {
	switch o := v.(type) {
	case sdk.Object:
		return o.Get(key)
	case map[string]any:
		x, ok := o[key]
		return x, ok
	}
	return nil, false
}

// listStrings turns a list field into strings: its elements, or with key
// the element objects' values under key.
func listStrings(v any, key string) []string {
	var out []string
	each := func(x any) {
		if key != "" {
			x, _ = objValue(x, key)
		}
		if x != nil {
			out = append(out, fmt.Sprint(x))
		}
	}
	switch l := v.(type) {
	case []any:
		for _, x := range l {
			each(x)
		}
	case []sdk.Object:
		for _, x := range l {
			each(x)
		}
	case []string:
		for _, x := range l {
			each(x)
		}
	}
	return out
}

// objStrings collects key from the objects of a list field, request first
// then response, without repeats.
func objStrings(r *sdk.Record, field, key string, on func(*sdk.Record) bool) []string {
	if !on(r) {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range []*sdk.Message{r.Request, r.Response} {
		if m == nil {
			continue
		}
		for _, s := range listStrings(m.Fields[field], key) {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
