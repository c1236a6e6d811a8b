package dns

import "github.com/kubeshark-wasm/kubeshark/sdk"

// Version is the dissector's version.
const Version = "1.0.0"

// Limits that keep hostile traffic from growing a record (c/dns.c has the
// same, and one more: 256 queries waiting for a response per connection).
const (
	maxRecords  = 64  // resource records rendered per section
	maxRDText   = 512 // bytes of one rendered rdata string
	maxQuestion = 64  // questions a plausible message carries
)

// Manifest is the manifest of the built-in DNS module (c/dns.wasm), what
// its describe export returns, known to the host without compiling the
// module. dissectors.TestBuiltinManifests holds the two equal.
func Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "dns",
		Version:     Version,
		Description: "DNS over UDP and TCP (also mDNS and LLMNR): queries paired with responses by id",
		Protocols:   []string{"dns"},
		Transports:  []string{"udp", "tcp"},
		PortHints:   []uint16{53, 5353, 5355, 853},
		Fields:      FieldSpecs(),
	}
}

// fieldSpecs documents the fields of DNS records.
var fieldSpecs = []sdk.FieldSpec{
	{Name: "dns_id", Type: "int", Description: "message id that pairs a query with its response"},
	{Name: "dns_opcode", Type: "string", Description: "header opcode: QUERY, NOTIFY, UPDATE, …"},
	{Name: "dns_flags", Type: "map", Description: "header flags qr, aa, tc, rd, ra, ad, cd as booleans"},
	{Name: "dns_questions", Type: "list", Description: "question section: {name, type, class}"},
	{Name: "dns_answers", Type: "list", Description: "response answer section: {name, type, ttl, data} with data as text"},
	{Name: "dns_authorities", Type: "list", Description: "response authority section, same shape as dns_answers"},
	{Name: "dns_additionals", Type: "list", Description: "additional section without the OPT pseudo-record"},
	{Name: "dns_edns", Type: "map", Description: "EDNS(0) OPT record: udp_size, do, version, extended_rcode, options"},
	{Name: "dns_section_counts", Type: "map", Description: "header counts: qd, an, ns, ar"},
}

// FieldSpecs returns the fields DNS records carry, for the manifest of a
// dissector that also emits DNS records (see RecordFromMessages).
func FieldSpecs() []sdk.FieldSpec { return append([]sdk.FieldSpec(nil), fieldSpecs...) }
