// Package templates turns the paths of calls into the endpoint templates
// calls are grouped and filtered by: /api/orders/12345 → /api/orders/{id},
// user:42 → user:{id}, SQL literals → ?. It sits below the record filter
// (storage/kfl, the template variable) and the analyses (storage/analysis:
// stats, anomalies, compare), which both need the same templates for the
// same calls.
//
// Templates come in two steps. [Template] reads one path alone and
// replaces the segments shaped like identifiers (numbers, UUIDs, hashes,
// tokens, emails, dates). [LearnTemplates] and [LearnKeys] then look at all
// the shaped paths of one server and replace a position where many values
// vary under the same prefix (/users/alice, /users/bob, ...) with
// {param}. A [Learner] collects the shaped paths of many servers and
// builds a [Set], which answers the template of any call.
package templates
