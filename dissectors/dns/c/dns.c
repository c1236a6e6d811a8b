/*
 * dns.c — the DNS dissector in C, through the C SDK (sdk/c/kubeshark.h).
 *
 * A line-by-line port of the Go dissector that was built in before it
 * (dissectors/dns: conn.go and probe.go, gone; message.go, names.go and
 * record.go, still there for RecordFromMessages and held equal to this) and
 * of the parts of golang.org/x/net/dns/dnsmessage it relied on (name
 * decompression, the typed resource parsers and their error texts),
 * written so that every record is byte for byte the record the Go guest
 * emitted: the wire encoding
 * is written here directly (names may hold NUL bytes, which ks_record's
 * strings cannot), and the fields' JSON as the Go SDK writes it (keys
 * sorted, HTML characters and invalid UTF-8 escaped as encoding/json does).
 * It is the built-in module's only source (c/README.md).
 *
 * Build: make wasm-c (dissectortest.BuildC's fixed command).
 */
#define KUBESHARK_IMPLEMENTATION
#include "kubeshark.h"

#include <stdlib.h>
#include <string.h>

#include "../../c/gotext.h"

#define VERSION "1.0.0"

/* Limits, as dissector.go has them. */
#define MAX_PENDING 256 /* queries waiting for a response per connection */
#define MAX_RECORDS 64  /* resource records rendered per section */
#define MAX_RDTEXT 512  /* bytes of one rendered rdata string */
#define MAX_QUESTION 64 /* questions a plausible message carries */

/* ---------------------------------------------------------------- manifest */

static const char *const protocols[] = {"dns", 0};
static const char *const transports[] = {"udp", "tcp", 0};
static const uint16_t ports[] = {53, 5353, 5355, 853};
static const ks_field fields[] = {
    {"dns_id", "int", "message id that pairs a query with its response"},
    {"dns_opcode", "string", "header opcode: QUERY, NOTIFY, UPDATE, \xe2\x80\xa6"},
    {"dns_flags", "map", "header flags qr, aa, tc, rd, ra, ad, cd as booleans"},
    {"dns_questions", "list", "question section: {name, type, class}"},
    {"dns_answers", "list", "response answer section: {name, type, ttl, data} with data as text"},
    {"dns_authorities", "list", "response authority section, same shape as dns_answers"},
    {"dns_additionals", "list", "additional section without the OPT pseudo-record"},
    {"dns_edns", "map", "EDNS(0) OPT record: udp_size, do, version, extended_rcode, options"},
    {"dns_section_counts", "map", "header counts: qd, an, ns, ar"},
};
static const ks_manifest manifest = {
    "dns",
    VERSION,
    "DNS over UDP and TCP (also mDNS and LLMNR): queries paired with responses by id",
    protocols,
    transports,
    ports,
    sizeof ports / sizeof ports[0],
    fields,
    sizeof fields / sizeof fields[0],
};

const ks_manifest *ks_plugin_manifest(void) { return &manifest; }

/* ------------------------------------------------------------ byte helpers */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void put_str(ks_buf *b, const char *s) { ks_buf_put(b, s, strlen(s)); }

static void put_uint(ks_buf *b, uint64_t u) {
	char t[24];
	int n = 0;
	do t[n++] = (char)('0' + u % 10), u /= 10;
	while (u);
	while (n) ks_buf_put(b, &t[--n], 1);
}

static void put_hex(ks_buf *b, const uint8_t *p, size_t n) {
	for (size_t i = 0; i < n; i++) {
		char e[2] = {hexd[p[i] >> 4], hexd[p[i] & 15]};
		ks_buf_put(b, e, 2);
	}
}

/* A key of an object under construction: the comma before all but the
 * first, then "key":. */
static void jkey(ks_buf *b, int *n, const char *key) {
	if ((*n)++) ks_buf_put(b, ",", 1);
	ks_buf_put(b, "\"", 1);
	put_str(b, key);
	ks_buf_put(b, "\":", 2);
}

/* ----------------------------------------------------------------- names */

/* typeNames: the IANA mnemonics of resource record types. */
static const char *type_mnemonic(uint16_t t) {
	static const char *const low[] = {
	    0, "A", "NS", "MD", "MF", "CNAME", "SOA", "MB", "MG", "MR", "NULL", "WKS", "PTR", "HINFO", "MINFO", "MX", "TXT", "RP",
	    "AFSDB", "X25", "ISDN", "RT", "NSAP", "NSAP-PTR", "SIG", "KEY", "PX", "GPOS", "AAAA", "LOC", "NXT", "EID", "NIMLOC",
	    "SRV", "ATMA", "NAPTR", "KX", "CERT", "A6", "DNAME", "SINK", "OPT", "APL", "DS", "SSHFP", "IPSECKEY", "RRSIG", "NSEC",
	    "DNSKEY", "DHCID", "NSEC3", "NSEC3PARAM", "TLSA", "SMIMEA", 0, "HIP", "NINFO", "RKEY", "TALINK", "CDS", "CDNSKEY",
	    "OPENPGPKEY", "CSYNC", "ZONEMD", "SVCB", "HTTPS",
	};
	if (t < sizeof low / sizeof low[0]) return low[t];
	switch (t) {
	case 99: return "SPF";
	case 108: return "EUI48";
	case 109: return "EUI64";
	case 249: return "TKEY";
	case 250: return "TSIG";
	case 251: return "IXFR";
	case 252: return "AXFR";
	case 253: return "MAILB";
	case 254: return "MAILA";
	case 255: return "ANY";
	case 256: return "URI";
	case 257: return "CAA";
	case 32768: return "TA";
	case 32769: return "DLV";
	}
	return 0;
}

/* typeName: the mnemonic, or RFC 3597's TYPEnnn. */
static void put_type(ks_buf *b, uint16_t t) {
	const char *s = type_mnemonic(t);
	if (s) {
		put_str(b, s);
		return;
	}
	put_str(b, "TYPE");
	put_uint(b, t);
}

/* classValue; the top bit (mDNS) is not part of the class. */
static void put_class(ks_buf *b, uint16_t c) {
	switch (c & 0x7fff) {
	case 1: put_str(b, "IN"); return;
	case 3: put_str(b, "CH"); return;
	case 4: put_str(b, "HS"); return;
	case 254: put_str(b, "NONE"); return;
	case 255: put_str(b, "ANY"); return;
	}
	put_str(b, "CLASS");
	put_uint(b, c & 0x7fff);
}

static const char *const rcode_names[] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "", "", "", "",
    "BADVERS", "BADKEY", "BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE",
};

static void put_rcode(ks_buf *b, int r) {
	if (r >= 0 && r < (int)(sizeof rcode_names / sizeof rcode_names[0]) && rcode_names[r][0]) {
		put_str(b, rcode_names[r]);
		return;
	}
	put_str(b, "RCODE");
	put_uint(b, (uint64_t)r);
}

static void put_opcode(ks_buf *b, int o) {
	static const char *const names[] = {"QUERY", "IQUERY", "STATUS", 0, "NOTIFY", "UPDATE", "DSO"};
	if (o >= 0 && o < 7 && names[o]) {
		put_str(b, names[o]);
		return;
	}
	put_str(b, "OPCODE");
	put_uint(b, (uint64_t)o);
}

static void put_option_name(ks_buf *b, uint16_t c) {
	static const char *const names[] = {0, 0, 0, "NSID", 0, "DAU", "DHU", "N3U", "ECS", "EXPIRE", "COOKIE",
	                                    "TCP-KEEPALIVE", "PADDING", "CHAIN", "KEY-TAG", "EDE"};
	if (c < 16 && names[c]) {
		put_str(b, names[c]);
		return;
	}
	put_str(b, "OPTION");
	put_uint(b, c);
}

/* ------------------------------------------------------------------ probe */

enum { V_BAD, V_SHORT, V_OK };

static int header_flags_ok(const uint8_t *msg) {
	int opcode = (msg[2] >> 3) & 0xf;
	switch (opcode) {
	case 0: case 2: case 4: case 5: case 6: break;
	default: return 0;
	}
	int rcode = msg[3] & 0xf;
	if ((msg[3] & 0x40) || rcode > 11) return 0;
	return (msg[2] & 0x80) || rcode == 0;
}

static int class_ok(uint16_t c) {
	switch (c & 0x7fff) {
	case 1: case 3: case 4: case 254: case 255: return 1;
	}
	return 0;
}

/* walkName: where a possibly compressed name starting at off ends in
 * place, and the verdict. */
static int walk_name(const uint8_t *msg, size_t len, size_t off, int strict, size_t *endp) {
	long end = -1;
	int total = 0, hops = 0;
	for (;;) {
		if (off >= len) return end >= 0 ? V_BAD : V_SHORT;
		int c = msg[off];
		switch (c & 0xc0) {
		case 0x00:
			if (c == 0) {
				if (end < 0) end = (long)off + 1;
				*endp = (size_t)end;
				return V_OK;
			}
			if (off + 1 + c > len) return end >= 0 ? V_BAD : V_SHORT;
			if (strict)
				for (size_t i = off + 1; i < off + 1 + c; i++)
					if (msg[i] < 0x20 || msg[i] == 0x7f) return V_BAD;
			total += c + 1;
			if (total > 255) return V_BAD;
			off += 1 + c;
			break;
		case 0xc0: {
			if (off + 2 > len) return V_SHORT;
			size_t ptr = be16(msg + off) & 0x3fff;
			if (ptr >= off || ptr < 12) return V_BAD;
			if (end < 0) end = (long)off + 2;
			if (++hops > 32) return V_BAD;
			off = ptr;
			break;
		}
		default:
			return V_BAD;
		}
	}
}

/* walk: is msg a plausible DNS message; *used is how many bytes it took,
 * *qr its QR bit. */
static int walk(const uint8_t *msg, size_t len, int strict, size_t *used, int *qr) {
	*used = 0;
	*qr = 0;
	if (len < 12) {
		if (len >= 4 && !header_flags_ok(msg)) return V_BAD;
		return V_SHORT;
	}
	if (!header_flags_ok(msg)) return V_BAD;
	int q = (msg[2] & 0x80) != 0;
	int opcode = (msg[2] >> 3) & 0xf;
	int qd = be16(msg + 4), an = be16(msg + 6), ns = be16(msg + 8), ar = be16(msg + 10);
	if (qd > MAX_QUESTION || an + ns + ar > 4096) return V_BAD;
	if (qd == 0 && (!q || an == 0) && opcode != 6) return V_BAD;
	if (qd == 0 && an + ns + ar == 0) return V_BAD;
	*qr = q;
	size_t off = 12;
	for (int i = 0; i < qd; i++) {
		size_t end;
		int v = walk_name(msg, len, off, strict, &end);
		if (v != V_OK) return v;
		if (end + 4 > len) return V_SHORT;
		uint16_t qtype = be16(msg + end);
		if (qtype == 0 || !class_ok(be16(msg + end + 2))) return V_BAD;
		off = end + 4;
	}
	for (int i = 0; i < an + ns + ar; i++) {
		size_t end;
		int v = walk_name(msg, len, off, 0, &end);
		if (v != V_OK) return v;
		if (end + 10 > len) return V_SHORT;
		uint16_t typ = be16(msg + end);
		if (typ == 0 || (typ != 41 && !class_ok(be16(msg + end + 2)))) return V_BAD;
		size_t rdlen = be16(msg + end + 8);
		off = end + 10 + rdlen;
		if (off > len) return V_SHORT;
	}
	*used = off;
	return V_OK;
}

static uint32_t probe_result(int conf, int from_server, int need_more) {
	return KS_PROBE(conf) | (from_server ? KS_PROBE_FROM_SERVER : 0) | (need_more ? KS_PROBE_NEED_MORE : 0);
}

uint32_t ks_plugin_probe(int dir, const uint8_t *data, uint32_t len) {
	(void)dir;
	int conf = 0, from = 0, more = 0;
	size_t n;
	int qr;
	if (walk(data, len, 1, &n, &qr) == V_OK) {
		conf = n != len ? 55 : 80;
		from = qr;
	}
	if (len < 2) {
		if (conf == 0) more = 1;
		return probe_result(conf, from, more);
	}
	size_t size = be16(data);
	if (size < 12) return probe_result(conf, from, more);
	size_t mlen = len - 2;
	int complete = mlen >= size;
	if (complete) mlen = size;
	int v = walk(data + 2, mlen, 1, &n, &qr);
	if (v == V_OK && complete && n == size) {
		if (conf < 85) conf = 85, from = qr, more = 0;
	} else if (v == V_SHORT && !complete && conf == 0) {
		if (mlen >= 4 << 10) conf = 60, from = qr, more = 0;
		else conf = 30, from = qr, more = 1;
	}
	return probe_result(conf, from, more);
}

/* ------------------------------------------------------------- dnsmessage */

/* Error texts of golang.org/x/net/dns/dnsmessage. */
#define E_BASE_LEN "insufficient data for base length type"
#define E_CALC_LEN "insufficient data for calculated length type"
#define E_RESERVED "segment prefix is reserved"
#define E_TOO_MANY_PTR "too many pointers (>10)"
#define E_INVALID_PTR "invalid pointer"
#define E_INVALID_NAME "invalid dns name"
#define E_RESOURCE_LEN "insufficient data for resource body length"
#define E_NAME_TOO_LONG "name too long"
#define E_PARAM_ORDER "parameter out of order"

/* Name.unpack: the name's text (Name.String: labels each followed by a
 * dot, "." for the root) into out, the offset after it in place into
 * *next; the error text or NULL. */
static const char *unpack_name(const uint8_t *msg, size_t len, size_t off, uint8_t out[256], size_t *olen, size_t *next) {
	size_t cur = off, newoff = off, n = 0;
	int ptr = 0;
	for (;;) {
		if (cur >= len) return E_BASE_LEN;
		int c = msg[cur++];
		switch (c & 0xc0) {
		case 0x00:
			if (c == 0) goto done;
			if (cur + c > len) return E_CALC_LEN;
			for (size_t i = cur; i < cur + c; i++)
				if (msg[i] == '.') return E_INVALID_NAME;
			if (n + c >= 254) return E_NAME_TOO_LONG;
			memcpy(out + n, msg + cur, c);
			n += c;
			out[n++] = '.';
			cur += c;
			break;
		case 0xc0: {
			if (cur >= len) return E_INVALID_PTR;
			int c1 = msg[cur++];
			if (ptr == 0) newoff = cur;
			if (++ptr > 10) return E_TOO_MANY_PTR;
			cur = (size_t)((c ^ 0xc0) << 8 | c1);
			break;
		}
		default:
			return E_RESERVED;
		}
	}
done:
	if (n == 0) out[n++] = '.';
	*olen = n;
	if (ptr == 0) newoff = cur;
	*next = newoff;
	return 0;
}

/* nameText: without the trailing dot; the root stays ".". */
static size_t name_text_len(const uint8_t *s, size_t n) { return n > 1 && s[n - 1] == '.' ? n - 1 : n; }

static void put_name_text(ks_buf *b, const uint8_t *s, size_t n) { ks_buf_put(b, s, name_text_len(s, n)); }

/* -------------------------------------------------------------- a message */

typedef struct {
	uint16_t id;
	int response, opcode, rcode;
	int nq;            /* questions kept (at most MAX_QUESTION) */
	uint16_t q0type;   /* the first question's type */
	ks_buf q0name;     /* and its name, as nameText */
	int nans;          /* answers kept (at most MAX_RECORDS) */
	ks_buf a0type;     /* the first answer's type and name (mDNS) */
	ks_buf a0name;
	ks_buf adata[2];   /* the first two answers' data */
	ks_buf err;        /* where parsing stopped, or empty */
	ks_buf fields;     /* the message's fields as JSON */
	int dir;
	int64_t ts;
	int64_t size;
} parsed;

static void parsed_free(parsed *m) {
	if (!m) return;
	ks_buf_free(&m->q0name);
	ks_buf_free(&m->a0type);
	ks_buf_free(&m->a0name);
	ks_buf_free(&m->adata[0]);
	ks_buf_free(&m->adata[1]);
	ks_buf_free(&m->err);
	ks_buf_free(&m->fields);
	free(m);
}

/* Scratch buffers for one parse: the sections' JSON, the questions', the
 * EDNS object's, and an rdata text. */
static ks_buf jsec[3], jq, jedns, rdata, tmp;

static const char *const section_names[3] = {"answer", "authority", "additional"};
static const char *const parser_section_names[3] = {"Answer", "Authority", "Additional"};

static void set_err(parsed *m, const char *a, const char *b2, const char *c, const char *d) {
	ks_buf_reset(&m->err);
	put_str(&m->err, a);
	if (b2) put_str(&m->err, b2);
	if (c) put_str(&m->err, c);
	if (d) put_str(&m->err, d);
}

/* bodyError's wording: "malformed answer section: unpacking Answer: A
 * record: " then the error. */
static void body_err(parsed *m, int i, const char *typ, const char *e1, const char *e2) {
	ks_buf_reset(&m->err);
	put_str(&m->err, "malformed ");
	put_str(&m->err, section_names[i]);
	put_str(&m->err, " section: unpacking ");
	put_str(&m->err, parser_section_names[i]);
	put_str(&m->err, ": ");
	put_str(&m->err, typ);
	put_str(&m->err, " record: ");
	put_str(&m->err, e1);
	if (e2) {
		put_str(&m->err, ": ");
		put_str(&m->err, e2);
	}
}

static const char *body_type_name(uint16_t t) {
	switch (t) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 41: return "OPT";
	}
	return "Unknown";
}

/* netip.Addr.String of an IPv4 address. */
static void put_ip4(ks_buf *b, const uint8_t *a) {
	for (int i = 0; i < 4; i++) {
		if (i) ks_buf_put(b, ".", 1);
		put_uint(b, a[i]);
	}
}

/* netip.Addr.String of an IPv6 address (RFC 5952; IPv4-mapped as
 * ::ffff:a.b.c.d). */
static void put_ip6(ks_buf *b, const uint8_t *a) {
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, mapped, 12) == 0) {
		put_str(b, "::ffff:");
		put_ip4(b, a + 12);
		return;
	}
	int zs = 255, ze = 255;
	for (int i = 0; i < 8; i++) {
		int j = i;
		while (j < 8 && be16(a + 2 * j) == 0) j++;
		int l = j - i;
		if (l >= 2 && l > (uint8_t)(ze - zs)) zs = i, ze = j;
	}
	for (int i = 0; i < 8; i++) {
		if (i == zs) {
			ks_buf_put(b, "::", 2);
			i = ze;
			if (i >= 8) break;
		} else if (i > 0) {
			ks_buf_put(b, ":", 1);
		}
		uint16_t v = be16(a + 2 * i);
		char t[4];
		int n = 0;
		do t[n++] = hexd[v & 15], v >>= 4;
		while (v);
		while (n) ks_buf_put(b, &t[--n], 1);
	}
}

/* clip: past MAX_RDTEXT bytes, the first MAX_RDTEXT and an ellipsis. */
static void clip(ks_buf *b) {
	if (b->len > MAX_RDTEXT) {
		b->len = MAX_RDTEXT;
		put_str(b, "\xe2\x80\xa6");
	}
}

/* unpackOPTResource's checks of an OPT body at off (rdlength rdlen): its
 * options may run past rdlen but not past the message. *nopt is how many
 * there are; the error as rdata_text returns one, or NULL. */
static const char *unpack_opt(const uint8_t *msg, size_t len, size_t off, uint16_t rdlen, int *nopt, const char **e2) {
	size_t o = off;
	*nopt = 0;
	*e2 = 0;
	while (o < off + rdlen) {
		if (o + 2 > len) return *e2 = E_BASE_LEN, "Code";
		o += 2;
		if (o + 2 > len) return *e2 = E_BASE_LEN, "Data";
		size_t l = be16(msg + o);
		o += 2;
		if (len - o < l) return *e2 = E_CALC_LEN, "Data";
		o += l;
		(*nopt)++;
	}
	return 0;
}

/* rdataText: reads the body of a resource of type t whose body starts at
 * off (rdlength rdlen) into rdata, as zone files write it, bounded.
 * Returns the error, or NULL; a nested one (dnsmessage's nestedError)
 * returns its context and sets *e2 to the cause, read "context: cause". */
static const char *rdata_text(const uint8_t *msg, size_t len, size_t off, uint16_t t, uint16_t rdlen, const char **e2) {
	ks_buf *b = &rdata;
	ks_buf_reset(b);
	*e2 = 0;
	uint8_t nm[256], nm2[256];
	size_t nl, nl2, next;
	const char *e;
	switch (t) {
	case 1: /* A */
		if (off + 4 > len) return E_BASE_LEN;
		put_ip4(b, msg + off);
		break;
	case 28: /* AAAA */
		if (off + 16 > len) return E_BASE_LEN;
		put_ip6(b, msg + off);
		break;
	case 5: case 2: case 12: /* CNAME, NS, PTR */
		if ((e = unpack_name(msg, len, off, nm, &nl, &next))) return e;
		put_name_text(b, nm, nl);
		break;
	case 15: /* MX */
		if (off + 2 > len) return *e2 = E_BASE_LEN, "Pref";
		if ((e = unpack_name(msg, len, off + 2, nm, &nl, &next))) return *e2 = e, "MX";
		put_uint(b, be16(msg + off));
		ks_buf_put(b, " ", 1);
		put_name_text(b, nm, nl);
		break;
	case 33: { /* SRV */
		static const char *const what[3] = {"Priority", "Weight", "Port"};
		for (int i = 0; i < 3; i++)
			if (off + 2 * i + 2 > len) return *e2 = E_BASE_LEN, what[i];
		if ((e = unpack_name(msg, len, off + 6, nm, &nl, &next))) return *e2 = e, "Target";
		for (int i = 0; i < 3; i++) {
			put_uint(b, be16(msg + off + 2 * i));
			ks_buf_put(b, " ", 1);
		}
		put_name_text(b, nm, nl);
		break;
	}
	case 6: { /* SOA */
		if ((e = unpack_name(msg, len, off, nm, &nl, &next))) return *e2 = e, "NS";
		if ((e = unpack_name(msg, len, next, nm2, &nl2, &next))) return *e2 = e, "MBox";
		static const char *const what[5] = {"Serial", "Refresh", "Retry", "Expire", "MinTTL"};
		for (int i = 0; i < 5; i++)
			if (next + 4 * i + 4 > len) return *e2 = E_BASE_LEN, what[i];
		put_name_text(b, nm, nl);
		ks_buf_put(b, " ", 1);
		put_name_text(b, nm2, nl2);
		for (int i = 0; i < 5; i++) {
			ks_buf_put(b, " ", 1);
			put_uint(b, be32(msg + next + 4 * i));
		}
		break;
	}
	case 16: { /* TXT */
		/* Checked whole first, as unpackTXTResource fails before any text. */
		size_t o = off;
		for (unsigned n = 0; n < rdlen;) {
			if (o >= len) return *e2 = E_BASE_LEN, "text";
			size_t l = msg[o];
			if (o + 1 + l > len) return *e2 = E_CALC_LEN, "text";
			if (rdlen - n < l + 1) return E_CALC_LEN;
			n += (unsigned)l + 1;
			o += 1 + l;
		}
		o = off;
		for (unsigned n = 0; n < rdlen;) {
			size_t l = msg[o];
			if (n) ks_buf_put(b, " ", 1);
			go_quote(b, msg + o + 1, l);
			n += (unsigned)l + 1;
			o += 1 + l;
		}
		break;
	}
	case 64: case 65: { /* SVCB, HTTPS */
		size_t end = off + rdlen;
		if (end > len) return E_RESOURCE_LEN;
		if (off + 2 > len) return *e2 = E_BASE_LEN, "Priority";
		size_t p;
		if ((e = unpack_name(msg, len, off + 2, nm, &nl, &p))) return *e2 = e, "Target";
		size_t o = p;
		int n = 0;
		uint16_t prev = 0;
		while (o < end) {
			if (o + 2 > len) return *e2 = E_BASE_LEN, "Params key";
			uint16_t key = be16(msg + o);
			o += 2;
			if (n > 0 && key <= prev) return *e2 = E_PARAM_ORDER, "Params";
			if (o + 2 > len) return *e2 = E_BASE_LEN, "Params value length";
			size_t size = be16(msg + o);
			o += 2;
			if (o + size > end) return E_RESOURCE_LEN;
			prev = key;
			o += size;
			n++;
		}
		if (o != end) return E_RESOURCE_LEN;
		/* svcbText: the target as Name.String, with its dot. */
		put_uint(b, be16(msg + off));
		ks_buf_put(b, " ", 1);
		ks_buf_put(b, nm, nl);
		static const char *const keys[] = {"Mandatory", "ALPN", "NoDefaultALPN", "Port", "IPv4Hint",
		                                   "ECH", "IPv6Hint", "DOHPath", "OHTTP", "TLSSupportedGroups"};
		o = p;
		for (int i = 0; i < n; i++) {
			uint16_t key = be16(msg + o);
			size_t size = be16(msg + o + 2);
			const uint8_t *v = msg + o + 4;
			o += 4 + size;
			ks_buf_put(b, " ", 1);
			if (key < 10) put_str(b, keys[key]);
			else put_uint(b, key);
			if (key == 1) {
				ks_buf_put(b, "=", 1);
				/* alpnList, joined by commas */
				size_t k = 0;
				int first = 1;
				while (k < size) {
					size_t l = v[k];
					if (k + 1 + l > size) break;
					if (!first) ks_buf_put(b, ",", 1);
					first = 0;
					ks_buf_put(b, v + k + 1, l);
					k += 1 + l;
				}
			}
		}
		break;
	}
	case 41: { /* OPT outside the additional section: checked, no text */
		int nopt;
		return unpack_opt(msg, len, off, rdlen, &nopt, e2);
	}
	default: {
		if (off + rdlen > len) return E_BASE_LEN;
		/* RFC 3597's generic form. */
		put_str(b, "\\# ");
		put_uint(b, rdlen);
		ks_buf_put(b, " ", 1);
		put_hex(b, msg + off, rdlen < MAX_RDTEXT / 2 ? rdlen : MAX_RDTEXT / 2);
	}
	}
	clip(b);
	return 0;
}

/* ednsFields of an OPT in the additional section, into jedns; the error
 * (e1: e2) of its body, or NULL. */
static const char *edns_fields(const uint8_t *msg, size_t len, size_t off, uint16_t class, uint32_t ttl, uint16_t rdlen,
			       const char **e2) {
	*e2 = 0;
	/* unpackOPTResource first: it fails before anything is kept. */
	int nopt;
	const char *e = unpack_opt(msg, len, off, rdlen, &nopt, e2);
	if (e) return e;
	size_t o;
	ks_buf *b = &jedns;
	ks_buf_reset(b);
	int n = 0;
	ks_buf_put(b, "{", 1);
	jkey(b, &n, "do");
	put_str(b, (ttl & 0x00ff8000) == 0x8000 ? "true" : "false");
	if (ttl >> 24) {
		jkey(b, &n, "extended_rcode");
		put_uint(b, ttl >> 24);
	}
	if (nopt > 0) {
		jkey(b, &n, "options");
		ks_buf_put(b, "[", 1);
		o = off;
		for (int i = 0; i < nopt && i < MAX_RECORDS; i++) {
			uint16_t code = be16(msg + o);
			size_t l = be16(msg + o + 2);
			if (i) ks_buf_put(b, ",", 1);
			put_str(b, "{\"code\":");
			put_uint(b, code);
			put_str(b, ",\"data\":");
			ks_buf_reset(&tmp);
			put_hex(&tmp, msg + o + 4, l);
			clip(&tmp);
			json_string(b, tmp.b, tmp.len);
			put_str(b, ",\"name\":\"");
			put_option_name(b, code);
			put_str(b, "\"}");
			o += 4 + l;
		}
		ks_buf_put(b, "]", 1);
	}
	jkey(b, &n, "udp_size");
	put_uint(b, class);
	jkey(b, &n, "version");
	put_uint(b, ttl >> 16 & 0xff);
	ks_buf_put(b, "}", 1);
	return 0;
}

/* The resource header of ResourceHeader.unpack: name, type, class, TTL,
 * length; the error's context and text, or NULL. */
static const char *unpack_rh(const uint8_t *msg, size_t len, size_t off, uint8_t name[256], size_t *nl, uint16_t *typ,
			     uint16_t *class, uint32_t *ttl, uint16_t *rdlen, size_t *next, const char **ctx) {
	size_t o;
	const char *e = unpack_name(msg, len, off, name, nl, &o);
	if (e) return *ctx = "Name", e;
	if (o + 2 > len) return *ctx = "Type", E_BASE_LEN;
	*typ = be16(msg + o), o += 2;
	if (o + 2 > len) return *ctx = "Class", E_BASE_LEN;
	*class = be16(msg + o), o += 2;
	if (o + 4 > len) return *ctx = "TTL", E_BASE_LEN;
	*ttl = be32(msg + o), o += 4;
	if (o + 2 > len) return *ctx = "Length", E_BASE_LEN;
	*rdlen = be16(msg + o), o += 2;
	*next = o;
	return 0;
}

/* Puts together the message's fields from the scratch buffers, keys in
 * order as the Go SDK sorts them. */
static void assemble(parsed *m, const uint8_t *msg, int nsec[3], int has_edns) {
	ks_buf *f = &m->fields;
	ks_buf_reset(f);
	int n = 0;
	ks_buf_put(f, "{", 1);
	/* dns_additionals, dns_answers (even empty), dns_authorities: a
	 * response's, in key order */
	static const struct {
		const char *key;
		int sec, always;
	} lists[] = {{"dns_additionals", 2, 0}, {"dns_answers", 0, 1}, {"dns_authorities", 1, 0}};
	for (size_t i = 0; i < 3 && m->response; i++) {
		const ks_buf *j = &jsec[lists[i].sec];
		if (!lists[i].always && nsec[lists[i].sec] == 0) continue;
		jkey(f, &n, lists[i].key);
		ks_buf_put(f, "[", 1);
		ks_buf_put(f, j->b, j->len);
		ks_buf_put(f, "]", 1);
	}
	if (has_edns) {
		jkey(f, &n, "dns_edns");
		ks_buf_put(f, jedns.b, jedns.len);
	}
	/* dns_flags, keys sorted */
	static const struct {
		const char *key;
		uint16_t bit;
	} flags[] = {{"aa", 0x0400}, {"ad", 0x0020}, {"cd", 0x0010}, {"qr", 0x8000}, {"ra", 0x0080}, {"rd", 0x0100}, {"tc", 0x0200}};
	uint16_t bits = be16(msg + 2);
	jkey(f, &n, "dns_flags");
	int nf = 0;
	ks_buf_put(f, "{", 1);
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		jkey(f, &nf, flags[i].key);
		put_str(f, bits & flags[i].bit ? "true" : "false");
	}
	ks_buf_put(f, "}", 1);
	jkey(f, &n, "dns_id");
	put_uint(f, m->id);
	jkey(f, &n, "dns_opcode");
	ks_buf_put(f, "\"", 1);
	put_opcode(f, m->opcode);
	ks_buf_put(f, "\"", 1);
	jkey(f, &n, "dns_questions");
	ks_buf_put(f, "[", 1);
	ks_buf_put(f, jq.b, jq.len);
	ks_buf_put(f, "]", 1);
	jkey(f, &n, "dns_section_counts");
	put_str(f, "{\"an\":");
	put_uint(f, be16(msg + 6));
	put_str(f, ",\"ar\":");
	put_uint(f, be16(msg + 10));
	put_str(f, ",\"ns\":");
	put_uint(f, be16(msg + 8));
	put_str(f, ",\"qd\":");
	put_uint(f, be16(msg + 4));
	put_str(f, "}}");
}

/* parse: the message, or NULL when not even its header is there. */
static parsed *parse(const uint8_t *msg, size_t len) {
	if (len < 12) return 0;
	parsed *m = calloc(1, sizeof *m);
	if (!m) return 0;
	uint16_t bits = be16(msg + 2);
	m->id = be16(msg);
	m->response = (bits & 0x8000) != 0;
	m->opcode = bits >> 11 & 0xf;
	int hrcode = bits & 0xf;
	m->rcode = hrcode;
	ks_buf_reset(&jq);
	for (int i = 0; i < 3; i++) ks_buf_reset(&jsec[i]);
	int nsec[3] = {0, 0, 0};
	int has_edns = 0;
	size_t off = 12;
	uint8_t name[256];
	size_t nl;
	const char *e;

	int qd = be16(msg + 4);
	for (int i = 0; i < qd; i++) {
		size_t o;
		if ((e = unpack_name(msg, len, off, name, &nl, &o))) {
			set_err(m, "malformed question section: unpacking Question.Name: ", e, 0, 0);
			goto out;
		}
		if (o + 2 > len) {
			set_err(m, "malformed question section: unpacking Question.Type: ", E_BASE_LEN, 0, 0);
			goto out;
		}
		if (o + 4 > len) {
			set_err(m, "malformed question section: unpacking Question.Class: ", E_BASE_LEN, 0, 0);
			goto out;
		}
		uint16_t typ = be16(msg + o), class = be16(msg + o + 2);
		off = o + 4;
		if (m->nq < MAX_QUESTION) {
			if (m->nq == 0) {
				m->q0type = typ;
				put_name_text(&m->q0name, name, nl);
			}
			if (m->nq++) ks_buf_put(&jq, ",", 1);
			put_str(&jq, "{\"class\":\"");
			put_class(&jq, class);
			put_str(&jq, "\",\"name\":");
			json_string(&jq, name, name_text_len(name, nl));
			put_str(&jq, ",\"type\":\"");
			put_type(&jq, typ);
			put_str(&jq, "\"}");
		}
	}
	for (int s = 0; s < 3; s++) {
		int count = be16(msg + 6 + 2 * s);
		for (int i = 0; i < count; i++) {
			uint16_t typ, class, rdlen;
			uint32_t ttl;
			size_t body;
			const char *ctx;
			if ((e = unpack_rh(msg, len, off, name, &nl, &typ, &class, &ttl, &rdlen, &body, &ctx))) {
				ks_buf_reset(&m->err);
				put_str(&m->err, "malformed ");
				put_str(&m->err, section_names[s]);
				put_str(&m->err, " section: ");
				put_str(&m->err, ctx);
				put_str(&m->err, ": ");
				put_str(&m->err, e);
				goto out;
			}
			const char *e2;
			if (typ == 41 && s == 2) {
				if ((e = edns_fields(msg, len, body, class, ttl, rdlen, &e2))) {
					body_err(m, s, "OPT", e, e2);
					goto out;
				}
				has_edns = 1;
				m->rcode = (ttl & 0x00ff0000) == 0 ? (int)((uint16_t)(ttl >> 24 << 4) | hrcode) : hrcode;
				off = body + rdlen;
				continue;
			}
			/* Past the cap a body is still read, so that a malformed one
			 * is reported wherever it is. */
			if ((e = rdata_text(msg, len, body, typ, rdlen, &e2))) {
				body_err(m, s, body_type_name(typ), e, e2);
				goto out;
			}
			off = body + rdlen;
			if (nsec[s] < MAX_RECORDS) {
				ks_buf *j = &jsec[s];
				if (nsec[s]) ks_buf_put(j, ",", 1);
				put_str(j, "{\"data\":");
				json_string(j, rdata.b, rdata.len);
				put_str(j, ",\"name\":");
				json_string(j, name, name_text_len(name, nl));
				put_str(j, ",\"ttl\":");
				put_uint(j, ttl);
				put_str(j, ",\"type\":\"");
				put_type(j, typ);
				put_str(j, "\"}");
				if (s == 0) {
					if (nsec[0] == 0) {
						put_type(&m->a0type, typ);
						put_name_text(&m->a0name, name, nl);
					}
					if (nsec[0] < 2) ks_buf_put(&m->adata[nsec[0]], rdata.b, rdata.len);
					m->nans++;
				}
				nsec[s]++;
			}
		}
	}
out:
	assemble(m, msg, nsec, has_edns);
	return m;
}

/* ------------------------------------------------------------- the record */

static ks_buf rec, errs, summ;

static void put_string(ks_buf *b, const void *p, size_t n) {
	ks_buf_uvarint(b, n);
	ks_buf_put(b, p, n);
}

static void put_bstring(ks_buf *b, const ks_buf *s) { put_string(b, s->b, s->len); }

static void encode_message(ks_buf *b, const parsed *m) {
	if (!m) {
		ks_buf_put(b, "\0", 1);
		return;
	}
	/* present, no headers, no body, no encoding, not truncated, body
	 * size 0 */
	ks_buf_put(b, "\1\0\0\0\0\0", 6);
	ks_buf_svarint(b, m->size);
	put_bstring(b, &m->fields);
}

/* build and emit: the record of one exchange. q or resp may be NULL, not
 * both. */
static void emit(const parsed *q, const parsed *resp, int64_t end, const char *note) {
	const parsed *head = q ? q : resp;
	ks_buf *method = &tmp;
	ks_buf_reset(&tmp);
	const uint8_t *pathp = 0;
	size_t pathn = 0;
	if (head->nq > 0) {
		put_type(method, head->q0type);
		pathp = head->q0name.b, pathn = head->q0name.len;
	} else if (resp && head->nans > 0) {
		/* mDNS announcements carry answers without a question. */
		ks_buf_put(method, head->a0type.b, head->a0type.len);
		pathp = head->a0name.b, pathn = head->a0name.len;
	}
	ks_buf_reset(&errs);
	int ne = 0;
	if (note && *note) put_str(&errs, note), ne++;
	if (q && q->err.len) {
		if (ne++) put_str(&errs, "; ");
		put_str(&errs, "query: ");
		ks_buf_put(&errs, q->err.b, q->err.len);
	}
	if (resp && resp->err.len) {
		if (ne++) put_str(&errs, "; ");
		put_str(&errs, "response: ");
		ks_buf_put(&errs, resp->err.b, resp->err.len);
	}
	/* summary */
	ks_buf_reset(&summ);
	ks_buf_put(&summ, method->b, method->len);
	ks_buf_put(&summ, " ", 1);
	ks_buf_put(&summ, pathp, pathn);
	if (!resp) {
		put_str(&summ, " (no response)");
	} else {
		put_str(&summ, " \xe2\x86\x92 ");
		put_rcode(&summ, resp->rcode);
		for (int i = 0; i < resp->nans; i++) {
			if (i == 2) {
				put_str(&summ, " +");
				put_uint(&summ, (uint64_t)(resp->nans - 2));
				put_str(&summ, " more");
				break;
			}
			const ks_buf *d = &resp->adata[i];
			ks_buf_put(&summ, " ", 1);
			if (d->len > 64) {
				ks_buf_put(&summ, d->b, 64);
				put_str(&summ, "\xe2\x80\xa6");
			} else {
				ks_buf_put(&summ, d->b, d->len);
			}
		}
	}

	ks_buf *b = &rec;
	ks_buf_reset(b);
	ks_buf_put(b, "\1", 1);
	put_string(b, "dns", 3);
	put_string(b, method->b, method->len);
	put_string(b, pathp, pathn);
	ks_buf_svarint(b, resp ? resp->rcode : 0);
	if (resp) {
		ks_buf_reset(&rdata);
		put_rcode(&rdata, resp->rcode);
		put_bstring(b, &rdata);
	} else {
		put_string(b, "", 0);
	}
	ks_buf_put(b, resp && resp->rcode != 0 ? "\1" : "\0", 1);
	put_bstring(b, &errs);
	put_bstring(b, &summ);
	ks_buf_svarint(b, q ? q->ts : resp->ts);
	ks_buf_svarint(b, resp ? end : 0);
	uint8_t dir = (uint8_t)(q ? q->dir : resp->dir ^ 1);
	ks_buf_put(b, &dir, 1);
	encode_message(b, q);
	encode_message(b, resp);
	if (b->failed) {
		ks_log("dns: out of memory encoding a record");
		return;
	}
	ks_emit_encoded(b->b, b->len);
}

/* ------------------------------------------------------------- connection */

typedef struct {
	int udp;
	parsed **pending; /* oldest first */
	size_t npending, cappending;
	int resync[2];
} conn;

void *ks_plugin_open(const ks_conn_info *info) {
	conn *c = calloc(1, sizeof(conn));
	if (!c) return 0;
	c->udp = info->udp;
	return c;
}

/* Case folding for matching names as strings.EqualFold does: each rune's
 * orbit under unicode.SimpleFold, named by its smallest member
 * (fold.h, generated by TestFoldTable from the Go toolchain). */
#include "fold.h"

static uint32_t fold_canon(uint32_t r) {
	size_t lo = 0, hi = sizeof fold_pairs / sizeof fold_pairs[0];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r < fold_pairs[mid][0]) hi = mid;
		else if (r > fold_pairs[mid][0]) lo = mid + 1;
		else return fold_pairs[mid][1];
	}
	return r;
}

static int equal_fold(const ks_buf *a, const ks_buf *b) {
	size_t i = 0, j = 0;
	while (i < a->len && j < b->len) {
		size_t wa, wb;
		uint32_t ra = decode_rune(a->b + i, a->len - i, &wa), rb = decode_rune(b->b + j, b->len - j, &wb);
		if (ra != rb && fold_canon(ra) != fold_canon(rb)) return 0;
		i += wa, j += wb;
	}
	return i == a->len && j == b->len;
}

static long match(conn *c, const parsed *r) {
	for (size_t i = 0; i < c->npending; i++) {
		const parsed *q = c->pending[i];
		if (q->id != r->id) continue;
		if (q->nq == 0 || r->nq == 0) return (long)i;
		if (q->q0type == r->q0type && equal_fold(&q->q0name, &r->q0name)) return (long)i;
	}
	return -1;
}

static void take(conn *c, size_t i) {
	memmove(c->pending + i, c->pending + i + 1, (c->npending - i - 1) * sizeof c->pending[0]);
	c->npending--;
}

/* message: one whole DNS message of size wire bytes. */
static void message(conn *c, int dir, const uint8_t *data, size_t n, size_t size, int64_t first, int64_t last) {
	parsed *m = parse(data, n);
	if (!m) return;
	m->dir = dir;
	m->ts = first;
	m->size = (int64_t)size;
	if (!m->response) {
		if (c->npending >= MAX_PENDING) {
			parsed *old = c->pending[0];
			emit(old, 0, 0, "no response captured (too many outstanding queries)");
			take(c, 0);
			parsed_free(old);
		}
		if (c->npending == c->cappending) {
			size_t cap = c->cappending ? c->cappending * 2 : 8;
			parsed **np = realloc(c->pending, cap * sizeof *np);
			if (!np) {
				parsed_free(m);
				return;
			}
			c->pending = np, c->cappending = cap;
		}
		c->pending[c->npending++] = m;
		return;
	}
	long i = match(c, m);
	if (i >= 0) {
		parsed *q = c->pending[i];
		take(c, (size_t)i);
		emit(q, m, last, 0);
		parsed_free(q);
	} else {
		emit(0, m, last, "response without a captured query");
	}
	parsed_free(m);
}

/* syncPoint: the first offset where a length-prefixed message plausibly
 * starts (*found), else how many leading bytes can surely go. */
static size_t sync_point(const uint8_t *data, size_t len, int *found) {
	const size_t sync_walk = 2048;
	*found = 0;
	for (size_t i = 0; i + 2 <= len; i++) {
		size_t size = be16(data + i);
		if (size < 12) continue;
		size_t mlen = len - i - 2;
		int complete = mlen >= size;
		if (complete) mlen = size;
		int capped = mlen > sync_walk;
		if (capped) mlen = sync_walk;
		size_t used;
		int qr;
		int v = walk(data + i + 2, mlen, 1, &used, &qr);
		if (v == V_OK && complete && !capped && used == size) {
			*found = 1;
			return i;
		}
		if (v == V_SHORT && capped) {
			*found = 1;
			return i;
		}
		if (v == V_SHORT && !complete) return i;
	}
	return len > 0 ? len - 1 : 0;
}

int64_t ks_plugin_feed(void *cv, int dir, const uint8_t *data, uint32_t len, int64_t first, int64_t last, uint32_t *need) {
	conn *c = cv;
	*need = 0;
	if (c->udp) {
		message(c, dir, data, len, len, first, last);
		return len;
	}
	if (c->resync[dir]) {
		int found;
		size_t n = sync_point(data, len, &found);
		if (!found) return (int64_t)n;
		c->resync[dir] = 0;
		if (n > 0) return (int64_t)n;
	}
	if (len < 2) {
		*need = 2;
		return 0;
	}
	size_t size = be16(data);
	if (size < 12) {
		c->resync[dir] = 1;
		return 1;
	}
	if (len < 2 + size) {
		*need = (uint32_t)(2 + size);
		return 0;
	}
	message(c, dir, data + 2, size, 2 + size, first, last);
	return (int64_t)(2 + size);
}

void ks_plugin_gap(void *cv, int dir, uint32_t n, int64_t ts) {
	(void)n, (void)ts;
	conn *c = cv;
	if (!c->udp) c->resync[dir] = 1;
}

void ks_plugin_close(void *cv, int64_t ts) {
	(void)ts;
	conn *c = cv;
	for (size_t i = 0; i < c->npending; i++) {
		emit(c->pending[i], 0, 0, "no response captured");
		parsed_free(c->pending[i]);
	}
	free(c->pending);
	free(c);
}
