package kfl

import (
	"fmt"
	"strings"
)

// Examples are the worked examples of the reference; the tests compile
// every one of them.
var Examples = []struct{ Expr, What string }{
	{`http && status_code >= 500`, "HTTP/1.x server errors (status_code is per protocol: alone, >= 500 also matches MySQL error 1045)"},
	{`failed`, "failed calls of any protocol, each by its own rules: the protocol-neutral error filter"},
	{`(http || http2 || grpc) && failed`, "failed calls of every HTTP flavour"},
	{`http && method == "POST" && url.contains("/api")`, "POSTs to an API path"},
	{`map_get(request.headers, "user-agent", "").contains("curl")`, "requests sent by curl (no error where the header is absent)"},
	{`"authorization" in request.headers`, "requests that carry credentials"},
	{`dns && path.endsWith("example.com")`, "DNS lookups of a domain (the query name is the path)"},
	{`redis && redis_type == "GET" && redis_key.startsWith("session:")`, "Redis GETs of session keys (redis_type is the verb, redis_command the whole line, as in Kubeshark)"},
	{`dns && dns_response && status_code != 0`, "failed DNS lookups (Kubeshark's example, unchanged)"},
	{`postgresql && !postgresql_success && postgresql_query.contains("INSERT")`, "failed PostgreSQL inserts"},
	{`grpc && grpc_status != 0`, "failed gRPC calls"},
	{`elapsed_time > 500000`, "slower than 500 ms (elapsed_time is in microseconds)"},
	{`elapsed_ms > 500.0 && !failed`, "the same in milliseconds, successful calls only"},
	{`timestamp > now() - duration("5m")`, "the last five minutes"},
	{`dst.ip == "10.0.0.7" && dst.port == 5432`, "one server (served from the ip:port index)"},
	{`path.matches("^/api/v[0-9]+/users/[0-9]+$")`, "a regular expression (RE2)"},
	{`kafka && kafka_topics.exists(t, t.startsWith("orders"))`, "a list field with a macro"},
}

// Reference renders the language as Markdown: every variable with its type
// and meaning, the protocol flags, the fields of each dissector, the
// functions, and worked examples. The MCP resource kubeshark://kfl serves
// it.
func (e *Env) Reference() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# KFL: the filter language\n\n")
	w("A filter is a boolean [CEL](https://cel.dev) expression over one record (one request/response exchange); ")
	w("the variable names are those of Kubeshark's KFL2, so its examples work unchanged. An empty filter matches every record. ")
	w("Expressions are type-checked when compiled: a misspelt name or a comparison of a string with a number is an error that names its line and column.\n\n")
	w("Operators: `== != < <= > >=`, `&& || !`, `+ - * / %%`, `in` (list membership, map key), `cond ? a : b`.\n\n")

	w("## Variables\n\n| Variable | Type | Meaning |\n|---|---|---|\n")
	for _, v := range e.order {
		if v.group == groupCore {
			w("| `%s` | %s | %s |\n", v.name, v.typeName, mdCell(v.doc))
		}
	}
	w("\n### Kubernetes\n\nDeclared for compatibility; filled when the capture source knows the workloads (a pcap import leaves them empty).\n\n| Variable | Type | Meaning |\n|---|---|---|\n")
	for _, v := range e.order {
		if v.group == groupK8s {
			w("| `%s` | %s | %s |\n", v.name, v.typeName, mdCell(v.doc))
		}
	}
	w("\n### Kubeshark's KFL2 names\n\nEvery variable of Kubeshark's KFL2 reference is declared, so its published filters run unchanged. ")
	w("Those for facts no record here carries (L4 entries, which are `list_l4_flows`' flows; SCTP, ICMP, LDAP, RADIUS, Diameter; raw payload entries) hold their type's zero value, as KFL2 gives an entry that lacks them. ")
	w("Two names keep this store's meaning: `http` is HTTP/1.x only (add `http2` and `grpc`), and `tls` is a TLS handshake record, not eBPF-decrypted traffic. ")
	w("`id`, `conn_id` and `flow_id` are strings here.\n\n| Variable | Type | Meaning |\n|---|---|---|\n")
	for _, v := range e.order {
		if v.group == groupKubeshark {
			w("| `%s` | %s | %s |\n", v.name, v.typeName, mdCell(v.doc))
		}
	}
	w("\n### Protocol flags\n\nBooleans, true when the record's `protocol` is the one named; `http` is HTTP/1.x only (HTTP/2 is `http2`, gRPC is `grpc`). Put one first: storage serves it from an index.\n\n| Flag | Protocol |\n|---|---|\n")
	for _, v := range e.order {
		if v.group == groupProtocol {
			w("| `%s` | %s |\n", v.name, v.protocol)
		}
	}

	w("\n## Dissector fields\n\nEach dissector declares the fields its records carry. A field is read from the request's fields, then the response's ")
	w("(`request.NAME` and `response.NAME` read only that message); where a record lacks it, it has its type's zero value ")
	w("(`\"\"`, `0`, `0.0`, `false`, `[]`, `{}`), so `redis_type == \"GET\"` is simply false on an HTTP record. ")
	w("Lists and maps hold dynamic values: compare their elements with `==`, or use `exists`, `in`, `map_get`.\n")
	if len(e.manifests) == 0 {
		w("\n(No dissector manifests were loaded into this environment.)\n")
	}
	for _, m := range e.manifests {
		if len(m.Fields) == 0 {
			continue
		}
		w("\n### %s", m.Name)
		if len(m.Protocols) > 0 {
			w(" (%s)", strings.Join(m.Protocols, ", "))
		}
		w("\n\n| Field | Type | Meaning |\n|---|---|---|\n")
		for _, f := range m.Fields {
			v := e.vars[f.Name]
			switch {
			case v == nil:
				w("| `%s` | — | %s (not filterable: see below) |\n", f.Name, mdCell(f.Description))
			case v.group != groupField:
				w("| `%s` | %s | %s (core variable) |\n", f.Name, v.typeName, mdCell(f.Description))
			default:
				w("| `%s` | %s | %s |\n", f.Name, v.typeName, mdCell(f.Description))
			}
		}
	}
	if len(e.skipped) > 0 {
		w("\nNot filterable: %s.\n", strings.Join(e.skipped, "; "))
	}

	w("\n## Functions\n\n| Function | Meaning |\n|---|---|\n")
	for _, f := range [][2]string{
		{"`s.contains(x)`, `s.startsWith(x)`, `s.endsWith(x)`", "substring tests (case-sensitive)"},
		{"`s.matches(re)`", "RE2 regular expression search (anchor with ^ and $)"},
		{"`size(x)`", "length of a string, list or map"},
		{"`map_get(m, key, default)`", "`m[key]`, or `default` where the map has no such key (`m[key]` alone is an error there, and a record whose filter errs is left out)"},
		{"`key in m`, `x in list`", "map key / list membership"},
		{"`list.exists(x, p)`, `list.all(x, p)`, `list.exists_one(x, p)`, `list.filter(x, p)`, `list.map(x, f)`", "CEL's macros over lists (and map keys)"},
		{"`has(m.key)`", "map key presence"},
		{"`now()`", "the time the filter was compiled (one value for a whole query)"},
		{"`duration(\"5m\")`, `timestamp(\"2024-05-01T14:00:00Z\")`", "CEL durations and timestamps; `timestamp - duration`, comparisons"},
		{"`int(x)`, `double(x)`, `string(x)`", "conversions"},
	} {
		w("| %s | %s |\n", f[0], mdCell(f[1]))
	}

	w("\n## Examples\n\n")
	for _, ex := range Examples {
		w("- `%s` — %s\n", ex.Expr, ex.What)
	}
	w("\n## Notes\n\n")
	w("- `elapsed_time` is in **microseconds**, as in Kubeshark (`elapsed_time > 5000000` is over 5 s); `elapsed_ms` is the same in milliseconds as a double. Both are 0 where no response was seen (`has_response` tells).\n")
	w("- Strings compare exactly: `protocol` and header names are lower case; methods are as sent (`\"GET\"`).\n")
	w("- Header names are lower-cased; repeated headers are joined with `, `.\n")
	w("- Bodies (`request.body`, `response.body`) are previews (possibly truncated, base64 for binary payloads) and cost a lookup per record examined: combine them with a selective term.\n")
	w("- Top-level `&&` terms of the forms `http` (any protocol flag), `protocol == \"x\"`, `status_code == N`, `failed`, `src.ip == \"…\"`, `dst.ip == \"…\"` (with `dst.port == N`) are served from storage indexes; the rest is evaluated on each candidate record.\n")
	return b.String()
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}
