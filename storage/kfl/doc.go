// Package kfl implements KFL, the record filter language: boolean CEL
// expressions (cel.dev/cel-go) over the fields of an sdk.Record, with the
// variable names of Kubeshark's KFL2 so that its examples work unchanged:
//
//	http && status_code >= 500
//	dns && path.endsWith("example.com")
//	map_get(request.headers, "user-agent", "").contains("curl")
//	redis && redis_type == "GET"
//	timestamp > now() - duration("5m")
//
// An [Env] declares the variables: the record's own fields, one boolean per
// protocol, and the fields each dissector's manifest declares
// (sdk.Manifest.Fields). [Env.Compile] parses and type-checks an
// expression once; [Program.Match] evaluates it per record, resolving
// variables lazily from the record, so a filter that reads only `http` and
// `status_code` never builds a header map. A field declared by a manifest
// is read from the request's Fields, then the response's; where it is
// absent it has its type's zero value, so `redis_type == "GET"` is simply
// false on an HTTP record.
//
// A Program is a storage.Matcher: [Program.IndexTerms] lists the top-level
// conjuncts that storage can serve from its secondary indexes (`http`,
// `status_code == 500`, `dst.ip == "10.0.0.1" && dst.port == 80`, ...) so a
// query walks one index value instead of every record, and [Program.Reads]
// says whether the expression needs the messages or the bodies decoded.
//
// [Env.Reference] renders the whole language (variables, per-dissector
// fields, functions, examples) as Markdown for people and agents.
package kfl
