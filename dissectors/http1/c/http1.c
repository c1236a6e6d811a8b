/*
 * http1.c — the HTTP/1.0 and HTTP/1.1 dissector in C, through the C SDK
 * (sdk/c/kubeshark.h).
 *
 * CANDIDATE: a line-by-line port of the Go dissector in dissectors/http1
 * (conn.go, head.go, message.go, probe.go and sdk/preview), to become the
 * single source of the built-in module once the differential test
 * (dissectors/http1/c/diff_test.go) holds on everything. Every record it
 * emits must be byte for byte the record the Go guest emits: the wire
 * encoding is written here directly (not through ks_record, whose strings
 * are NUL-terminated while header values may hold NULs), and the fields'
 * JSON as encoding/json writes it (keys sorted, HTML characters and
 * invalid UTF-8 escaped as Go does).
 *
 * Bodies are decompressed by the host (the kubeshark.inflate import), as
 * the Go guest does: same decoder, same answers, and native speed.
 *
 * Build (dissectors/http1/c/Makefile.inc has the reproducible command):
 *   clang --target=wasm32-wasi -O2 -mbulk-memory -mexec-model=reactor -I sdk/c -o http1.wasm http1.c
 */
#define KUBESHARK_IMPLEMENTATION
#include "kubeshark.h"

#include <stdlib.h>
#include <string.h>

#include "../../c/gotext.h" /* decode_rune, go_quote, json_string */

#define VERSION "1.0.0"

/* Limits, as dissector.go has them. */
#define MAX_HEADER_BLOCK (64 << 10)
#define MAX_HEADERS 256
#define BODY_PREVIEW (16 << 10) /* preview.MaxBytes */
#define MAX_COMPRESSED (256 << 10)
#define MAX_PENDING 1024

/* ---------------------------------------------------------------- manifest */

static const char *const protocols[] = {"http", 0};
static const char *const transports[] = {"tcp", 0};
static const uint16_t ports[] = {80, 8080, 8000, 8008, 8081, 8888, 3000, 5000, 9000};
static const ks_field fields[] = {
    {"request.version", "string", "protocol version of the request line, e.g. HTTP/1.1"},
    {"response.version", "string", "protocol version of the status line"},
    {"request.headers", "map", "request headers as sent"},
    {"response.headers", "map", "response headers as sent"},
    {"response.interim", "list", "status codes of 1xx interim responses before the final one"},
    {"request.content_encoding", "string", "Content-Encoding the preview was decoded from"},
};
static const ks_manifest manifest = {
    "http",
    VERSION,
    "HTTP/1.0 and HTTP/1.1: keep-alive, pipelining, chunked and compressed bodies, upgrades",
    protocols,
    transports,
    ports,
    sizeof ports / sizeof ports[0],
    fields,
    sizeof fields / sizeof fields[0],
};

const ks_manifest *ks_plugin_manifest(void) { return &manifest; }

/* ------------------------------------------------------------ byte helpers */

static const uint8_t *find(const uint8_t *p, size_t n, uint8_t c) { return n ? memchr(p, c, n) : 0; }

static long index_byte(const uint8_t *p, size_t n, uint8_t c) {
	const uint8_t *q = find(p, n, c);
	return q ? (long)(q - p) : -1;
}

static long last_index_byte(const uint8_t *p, size_t n, uint8_t c) {
	while (n > 0)
		if (p[--n] == c) return (long)n;
	return -1;
}

static int has_prefix(const uint8_t *p, size_t n, const char *pre) {
	size_t k = strlen(pre);
	return n >= k && memcmp(p, pre, k) == 0;
}

static int equals(const uint8_t *p, size_t n, const char *s) { return n == strlen(s) && memcmp(p, s, n) == 0; }

static uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* isName: equal byte lengths, then ASCII case folding (a multi-byte rune
 * that folds to ASCII, K or ſ, changes the length, so cannot match). */
static int is_name(const uint8_t *p, size_t n, const char *want) {
	size_t k = strlen(want);
	if (n != k) return 0;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower((uint8_t)want[i])) return 0;
	return 1;
}

/* strings.EqualFold(s, want) for an ASCII lower-case want: the only runes
 * outside ASCII that fold to ASCII letters are the Kelvin sign (k) and the
 * long s (s). */
static int fold_eq(const uint8_t *p, size_t n, const char *want) {
	size_t i = 0;
	for (; *want; want++) {
		if (i >= n) return 0;
		if (p[i] < 0x80) {
			if (lower(p[i]) != (uint8_t)*want) return 0;
			i++;
		} else if (*want == 'k' && i + 3 <= n && p[i] == 0xe2 && p[i + 1] == 0x84 && p[i + 2] == 0xaa) {
			i += 3;
		} else if (*want == 's' && i + 2 <= n && p[i] == 0xc5 && p[i + 1] == 0xbf) {
			i += 2;
		} else {
			return 0;
		}
	}
	return i == n;
}

/* The last rune of p[:n] as utf8.DecodeLastRune: (rune, width). */
static uint32_t decode_last_rune(const uint8_t *p, size_t n, size_t *w) {
	if (p[n - 1] < 0x80) {
		*w = 1;
		return p[n - 1];
	}
	size_t lim = n >= 4 ? n - 4 : 0, start = n - 1;
	while (start > lim && (p[start] & 0xc0) == 0x80) start--;
	size_t sw;
	uint32_t r = decode_rune(p + start, n - start, &sw);
	if (start + sw != n) {
		*w = 1;
		return 0xfffd;
	}
	*w = sw;
	return r;
}

/* unicode.IsSpace */
static int is_space_rune(uint32_t r) {
	switch (r) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ': case 0x85: case 0xa0:
	case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
		return 1;
	}
	return r >= 0x2000 && r <= 0x200a;
}

static int ascii_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

/* strings.TrimSpace on p[*off : *off+*n] (offsets, so that they survive a
 * buffer that moves). */
static void trim_space(const uint8_t *base, uint32_t *off, uint32_t *n) {
	const uint8_t *p = base + *off;
	size_t a = 0, b = *n;
	while (a < b) {
		if (p[a] < 0x80) {
			if (!ascii_space(p[a])) break;
			a++;
			continue;
		}
		size_t w;
		uint32_t r = decode_rune(p + a, b - a, &w);
		if (!is_space_rune(r)) break;
		a += w;
	}
	while (b > a) {
		if (p[b - 1] < 0x80) {
			if (!ascii_space(p[b - 1])) break;
			b--;
			continue;
		}
		size_t w;
		uint32_t r = decode_last_rune(p + a, b - a, &w);
		if (!is_space_rune(r)) break;
		b -= w;
	}
	*off += (uint32_t)a;
	*n = (uint32_t)(b - a);
}

/* %q of clip(b): at most 64 bytes, then an ellipsis. */
static void quote_clip(ks_buf *b, const uint8_t *s, size_t n) {
	if (n <= 64) {
		go_quote(b, s, n);
		return;
	}
	uint8_t t[64 + 3];
	memcpy(t, s, 64);
	memcpy(t + 64, "\xe2\x80\xa6", 3);
	go_quote(b, t, sizeof t);
}

static void put_str(ks_buf *b, const char *s) { ks_buf_put(b, s, strlen(s)); }

static void put_int(ks_buf *b, int64_t v) {
	char t[24];
	int n = 0, neg = v < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do t[n++] = (char)('0' + u % 10), u /= 10;
	while (u);
	if (neg) t[n++] = '-';
	while (n) ks_buf_put(b, &t[--n], 1);
}

/* ------------------------------------------------------------------ probe */

enum { START_NONE, START_MAYBE, START_REQUEST, START_RESPONSE };

static const uint8_t token_chars[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['a'] = 1,
    ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,
    ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['|'] = 1, ['~'] = 1,
};

static int all_token(const uint8_t *p, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (!token_chars[p[i]]) return 0;
	return 1;
}

static int upperish(const uint8_t *p, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'a' && p[i] <= 'z') return 0;
	return 1;
}

static int is_digits(const uint8_t *p, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9') return 0;
	return n > 0;
}

/* classifyStart: a request line is TOKEN SP TARGET SP HTTP/1.x, a status
 * line HTTP/1.x SP 3DIGIT (probe.go says why each rule). */
static int classify_start(const uint8_t *data, size_t n) {
	size_t len = n;
	int complete = 0;
	long nl = index_byte(data, n, '\n');
	if (nl >= 0) len = (size_t)nl, complete = 1;
	const uint8_t *line = data;
	while (len > 0 && line[len - 1] == '\r') len--;
	if (len >= MAX_HEADER_BLOCK) return START_NONE;
	if (has_prefix(line, len, "HTTP/") || (len < 5 && memcmp(line, "HTTP/", len) == 0)) {
		if (len >= 12 && (has_prefix(line, len, "HTTP/1.") || has_prefix(line, len, "HTTP/0.9")) && line[8] == ' ' &&
		    is_digits(line + 9, 3))
			return START_RESPONSE;
		if (!complete && len < 12) return START_MAYBE;
		return START_NONE;
	}
	long sp = index_byte(line, len, ' ');
	if (sp < 0) {
		if (!complete && len <= 24 && all_token(line, len) && len > 0 && upperish(line, len)) return START_MAYBE;
		return START_NONE;
	}
	if (sp == 0 || sp > 24 || !all_token(line, (size_t)sp) || !upperish(line, (size_t)sp)) return START_NONE;
	const uint8_t *rest = line + sp + 1;
	size_t rlen = len - (size_t)sp - 1;
	long sp2 = last_index_byte(rest, rlen, ' ');
	if (sp2 < 0) return complete ? START_NONE : START_MAYBE;
	const uint8_t *version = rest + sp2 + 1;
	size_t vlen = rlen - (size_t)sp2 - 1;
	if (equals(line, len, "PRI * HTTP/2.0")) return START_NONE;
	if (has_prefix(version, vlen, "HTTP/1.") || equals(version, vlen, "HTTP/0.9")) return START_REQUEST;
	if (!complete) return START_MAYBE;
	return START_NONE;
}

/* lenientRequest: one upper-case token, optionally one more word. */
static int lenient_request(const uint8_t *data, size_t n) {
	long i = index_byte(data, n, '\n');
	if (i < 0) return 0;
	size_t len = (size_t)i;
	while (len > 0 && data[len - 1] == '\r') len--;
	long sp = index_byte(data, len, ' ');
	size_t mlen = sp < 0 ? len : (size_t)sp;
	if (mlen == 0 || mlen > 24 || !all_token(data, mlen) || !upperish(data, mlen)) return 0;
	if (sp < 0) return 1;
	return index_byte(data + sp + 1, len - (size_t)sp - 1, ' ') < 0;
}

uint32_t ks_plugin_probe(int dir, const uint8_t *data, uint32_t len) {
	(void)dir;
	switch (classify_start(data, len)) {
	case START_REQUEST: return KS_PROBE(90);
	case START_RESPONSE: return KS_PROBE(90) | KS_PROBE_FROM_SERVER;
	case START_MAYBE: return KS_PROBE(10) | KS_PROBE_NEED_MORE;
	}
	return 0;
}

/* ---------------------------------------------------------------- message */

/* A span is a piece of a message's text buffer, by offset, so that it
 * survives the buffer growing. */
typedef struct {
	uint32_t off, len;
} span;

typedef struct {
	span name, value;
} hdr;

typedef struct msg {
	int64_t start, end;
	span method, target, version, reason; /* request line, status line */
	int status;
	ks_buf text; /* the head, and what folding and trailers add */
	hdr *headers;
	size_t nh, caph;
	hdr *trailers;
	size_t nt, capt;
	int64_t size, body_size;
	ks_buf body;
	size_t body_cap;
	int has_encoding;
	span encoding;
	int64_t missing;
	int *interim;
	size_t ninterim;
	ks_buf problem; /* empty: none */
	span upgrade;
	int lost, answered;
} msg;

#define S(m, sp) ((const uint8_t *)(m)->text.b + (sp).off)

static void msg_destroy(msg *m) {
	ks_buf_free(&m->text);
	ks_buf_free(&m->body);
	ks_buf_free(&m->problem);
	free(m->headers);
	free(m->trailers);
	free(m->interim);
	free(m);
}

/* Messages done with are kept for the next ones, with their buffers
 * unless these grew large: each malloc saved is worth more inside wasm
 * than parsing a header line (the Go dissector recycles for the same
 * reason). The instance is never called concurrently. */
#define MAX_FREE 4
static msg *free_msgs[MAX_FREE];
static int nfree;

static msg *msg_new(void) {
	if (nfree > 0) return free_msgs[--nfree];
	return calloc(1, sizeof(msg));
}

static void msg_free(msg *m) {
	if (!m) return;
	if (nfree == MAX_FREE || m->text.cap > (8 << 10) || m->body.cap > (4 << 10) || m->caph > 64 || m->capt > 64 ||
	    m->problem.cap > 1024) {
		msg_destroy(m);
		return;
	}
	free(m->interim);
	msg keep = {0};
	keep.text = m->text, keep.body = m->body, keep.problem = m->problem;
	ks_buf_reset(&keep.text), ks_buf_reset(&keep.body), ks_buf_reset(&keep.problem);
	keep.headers = m->headers, keep.caph = m->caph;
	keep.trailers = m->trailers, keep.capt = m->capt;
	*m = keep;
	free_msgs[nfree++] = m;
}

/* adds bytes to the text buffer and returns their span */
static span text_add(msg *m, const void *p, size_t n) {
	span s = {(uint32_t)m->text.len, (uint32_t)n};
	ks_buf_put(&m->text, p, n);
	if (m->text.failed) s.len = 0;
	return s;
}

static void set_problem(msg *m, const char *prefix, const uint8_t *p, size_t n) {
	ks_buf_reset(&m->problem);
	put_str(&m->problem, prefix);
	ks_buf_put(&m->problem, p, n);
}

static void add_header(hdr **list, size_t *n, size_t *cap, hdr h) {
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		hdr *nl = realloc(*list, c * sizeof(hdr));
		if (!nl) return;
		*list = nl;
		*cap = c;
	}
	(*list)[(*n)++] = h;
}

static const hdr *header(const msg *m, const char *name) {
	for (size_t i = 0; i < m->nh; i++)
		if (is_name(S(m, m->headers[i].name), m->headers[i].name.len, name)) return &m->headers[i];
	return 0;
}

static void body_append(msg *m, const uint8_t *p, size_t n) {
	m->body_size += (int64_t)n;
	if (m->body.len < m->body_cap) {
		size_t room = m->body_cap - m->body.len;
		ks_buf_put(&m->body, p, n < room ? n : room);
	}
}

/* ------------------------------------------------------------------- head */

static int parse_request_line(msg *m, span line, ks_buf *err) {
	const uint8_t *p = S(m, line);
	long sp = index_byte(p, line.len, ' ');
	if (sp == 0) {
		m->method = text_add(m, "?", 1);
		put_str(err, "bad request line ");
		quote_clip(err, S(m, line), line.len);
		return 1;
	}
	if (sp < 0) {
		m->method = line;
		put_str(err, "request line without a target: ");
		quote_clip(err, p, line.len);
		return 1;
	}
	m->method = (span){line.off, (uint32_t)sp};
	span rest = {line.off + (uint32_t)sp + 1, line.len - (uint32_t)sp - 1};
	long sp2 = last_index_byte(S(m, rest), rest.len, ' ');
	if (sp2 >= 0) {
		span t = {rest.off, (uint32_t)sp2};
		while (t.len > 0 && S(m, t)[0] == ' ') t.off++, t.len--;
		while (t.len > 0 && S(m, t)[t.len - 1] == ' ') t.len--;
		m->target = t;
		m->version = (span){rest.off + (uint32_t)sp2 + 1, rest.len - (uint32_t)sp2 - 1};
	} else {
		m->target = rest;
		m->version = text_add(m, "HTTP/0.9", 8);
	}
	if (m->target.len == 0) {
		put_str(err, "request line without a target: ");
		quote_clip(err, S(m, line), line.len);
		return 1;
	}
	return 0;
}

static int parse_status_line(msg *m, span line, ks_buf *err) {
	const uint8_t *p = S(m, line);
	long sp = index_byte(p, line.len, ' ');
	span rest = {0, 0};
	if (sp < 0) {
		m->version = line;
	} else {
		m->version = (span){line.off, (uint32_t)sp};
		rest = (span){line.off + (uint32_t)sp + 1, line.len - (uint32_t)sp - 1};
	}
	const uint8_t *r = S(m, rest);
	long sp2 = rest.len ? index_byte(r, rest.len, ' ') : -1;
	size_t clen = sp2 < 0 ? rest.len : (size_t)sp2;
	if (clen != 3) {
		put_str(err, "bad status line ");
		quote_clip(err, p, line.len);
		return 1;
	}
	int n = 0;
	if (!is_digits(r, 3) || (n = (r[0] - '0') * 100 + (r[1] - '0') * 10 + (r[2] - '0')) < 100) {
		put_str(err, "bad status code in ");
		quote_clip(err, p, line.len);
		return 1;
	}
	m->status = n;
	if (sp2 >= 0) m->reason = (span){rest.off + (uint32_t)sp2 + 1, rest.len - (uint32_t)sp2 - 1};
	return 0;
}

static span trim_cr(const msg *m, span s) {
	while (s.len > 0 && S(m, s)[s.len - 1] == '\r') s.len--;
	return s;
}

/* parseHead: the start line and header fields of block into m; the first
 * problem goes to err. */
static void parse_head(msg *m, const uint8_t *block, size_t n, int request, ks_buf *err) {
	ks_buf_reset(&m->text);
	/* Room for folded values up front; offsets keep spans valid anyway. */
	ks_buf_put(&m->text, block, n);
	if (m->text.failed) return;
	long eol = index_byte(block, n, '\n');
	if (eol < 0) eol = (long)n;
	span start = trim_cr(m, (span){0, (uint32_t)eol});
	int bad = request ? parse_request_line(m, start, err) : parse_status_line(m, start, err);
	(void)bad;
	int conn_upgrade = 0;
	for (size_t pos = (size_t)eol + 1; pos < n;) {
		long next = index_byte(block + pos, n - pos, '\n');
		size_t end = next < 0 ? n : pos + (size_t)next;
		span line = trim_cr(m, (span){(uint32_t)pos, (uint32_t)(end - pos)});
		pos = end + 1;
		if (line.len == 0) continue;
		const uint8_t *l = S(m, line);
		if (l[0] == ' ' || l[0] == '\t') {
			/* Obsolete line folding: continue the previous value. */
			if (m->nh > 0) {
				hdr *h = &m->headers[m->nh - 1];
				span add = line;
				trim_space(m->text.b, &add.off, &add.len);
				size_t at = m->text.len;
				if (h->value.off + h->value.len == at && at > n) {
					/* Folded before: the value ends the buffer, so it
					 * grows in place (copying it for every line would
					 * keep a copy per line: quadratic memory). */
					/* Room first: the addition is read from the buffer
					 * that would move. */
					if (!ks__grow(&m->text, 1 + add.len)) continue;
					uint8_t sp = ' ';
					ks_buf_put(&m->text, &sp, 1);
					ks_buf_put(&m->text, S(m, add), add.len);
					if (!m->text.failed) h->value.len += 1 + add.len;
					continue;
				}
				/* value + " " + addition, appended whole: the pieces may
				 * move while the buffer grows, so copy through a buffer. */
				size_t need = h->value.len + 1 + add.len;
				uint8_t *tmp = malloc(need ? need : 1);
				if (!tmp) continue;
				memcpy(tmp, S(m, h->value), h->value.len);
				tmp[h->value.len] = ' ';
				memcpy(tmp + h->value.len + 1, S(m, add), add.len);
				ks_buf_put(&m->text, tmp, need);
				free(tmp);
				if (!m->text.failed) h->value = (span){(uint32_t)at, (uint32_t)need};
			}
			continue;
		}
		long i = index_byte(l, line.len, ':');
		if (i <= 0) {
			if (err->len == 0) {
				put_str(err, "header line without a colon: ");
				quote_clip(err, l, line.len);
			}
			continue;
		}
		size_t j = (size_t)i;
		while (j > 0 && (l[j - 1] == ' ' || l[j - 1] == '\t')) j--;
		span name = {line.off, (uint32_t)j};
		span value = {line.off + (uint32_t)i + 1, line.len - (uint32_t)i - 1};
		trim_space(m->text.b, &value.off, &value.len);
		if (m->nh >= MAX_HEADERS) {
			if (err->len == 0) put_str(err, "more than 256 header fields");
			if (!is_name(S(m, name), name.len, "Content-Length") && !is_name(S(m, name), name.len, "Transfer-Encoding"))
				continue;
		}
		add_header(&m->headers, &m->nh, &m->caph, (hdr){name, value});
		if (is_name(S(m, name), name.len, "Connection")) {
			const uint8_t *v = S(m, value);
			for (size_t a = 0; a <= value.len;) {
				long c = index_byte(v + a, value.len - a, ',');
				size_t e = c < 0 ? value.len : a + (size_t)c;
				span tok = {value.off + (uint32_t)a, (uint32_t)(e - a)};
				trim_space(m->text.b, &tok.off, &tok.len);
				if (fold_eq(S(m, tok), tok.len, "upgrade")) conn_upgrade = 1;
				a = e + 1;
			}
		} else if (is_name(S(m, name), name.len, "Upgrade")) {
			m->upgrade = value;
		}
	}
	if (!conn_upgrade) m->upgrade = (span){0, 0};
}

/* headerEnd: the length of the head with its blank line, or -1. */
static long header_end(const uint8_t *data, size_t n) {
	for (size_t i = 0; i < n;) {
		long j = index_byte(data + i, n - i, '\n');
		if (j < 0) return -1;
		i += (size_t)j + 1;
		if (i < n && data[i] == '\n') return (long)i + 1;
		if (i + 1 < n && data[i] == '\r' && data[i + 1] == '\n') return (long)i + 2;
		if (i + 1 == n && data[i] == '\r') return -1;
	}
	return -1;
}

/* ---------------------------------------------------------------- framing */

static int last_coding_chunked(const msg *m, const hdr *h) {
	const uint8_t *v = S(m, h->value);
	long c = last_index_byte(v, h->value.len, ',');
	span t = {h->value.off + (uint32_t)(c + 1), h->value.len - (uint32_t)(c + 1)};
	trim_space(m->text.b, &t.off, &t.len);
	return fold_eq(S(m, t), t.len, "chunked");
}

/* strconv.ParseInt(s, 10, 64) */
static int parse_int(const uint8_t *p, size_t n, int64_t *out) {
	if (n == 0) return 0;
	int neg = 0;
	if (p[0] == '+' || p[0] == '-') {
		neg = p[0] == '-';
		p++, n--;
		if (n == 0) return 0;
	}
	uint64_t v = 0, lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9') return 0;
		if (v > (lim - (p[i] - '0')) / 10) return 0;
		v = v * 10 + (p[i] - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 1;
}

/* contentLength: 1 with *val set, 0 without the header, -1 with an error
 * in err. */
static int content_length(const msg *m, int64_t *val, ks_buf *err) {
	int64_t v = -1;
	for (size_t k = 0; k < m->nh; k++) {
		const hdr *h = &m->headers[k];
		if (!is_name(S(m, h->name), h->name.len, "Content-Length")) continue;
		const uint8_t *p = S(m, h->value);
		size_t n = h->value.len;
		if (n > 0 && n <= 18 && is_digits(p, n)) {
			int64_t x = 0;
			for (size_t i = 0; i < n; i++) x = x * 10 + (p[i] - '0');
			if (v >= 0 && x != v) {
				put_str(err, "conflicting Content-Length values");
				return -1;
			}
			v = x;
			continue;
		}
		for (size_t a = 0; a <= n;) {
			long c = index_byte(p + a, n - a, ',');
			size_t e = c < 0 ? n : a + (size_t)c;
			uint32_t off = h->value.off + (uint32_t)a, len = (uint32_t)(e - a);
			trim_space(m->text.b, &off, &len);
			int64_t x;
			if (!parse_int(m->text.b + off, len, &x) || x < 0) {
				put_str(err, "bad Content-Length ");
				go_quote(err, p, n);
				return -1;
			}
			if (v >= 0 && x != v) {
				put_str(err, "conflicting Content-Length values");
				return -1;
			}
			v = x;
			a = e + 1;
		}
	}
	*val = v;
	return v >= 0;
}

/* parseChunkSize: 1 with *size, 0 with an error in err. */
static int parse_chunk_size(const uint8_t *line, size_t n, int64_t *size, ks_buf *err) {
	while (n > 0 && line[n - 1] == '\r') n--;
	long semi = index_byte(line, n, ';');
	if (semi >= 0) n = (size_t)semi;
	uint32_t off = 0, len = (uint32_t)n;
	trim_space(line, &off, &len);
	line += off;
	if (len == 0) {
		put_str(err, "empty chunk size");
		return 0;
	}
	int64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = line[i], d;
		if (c >= '0' && c <= '9') d = c - '0';
		else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
		else {
			put_str(err, "bad chunk size ");
			go_quote(err, line, len);
			return 0;
		}
		if (i >= 15) {
			put_str(err, "chunk size ");
			go_quote(err, line, len);
			put_str(err, " overflows");
			return 0;
		}
		v = v << 4 | d;
	}
	*size = v;
	return 1;
}

/* ---------------------------------------------------------------- preview */

/* IsText: valid UTF-8 without control characters but tab, CR and LF.
 * Eight bytes at a time while they are plain ASCII (no byte with the high
 * bit, below 0x20 or equal to 0x7f: the usual has-zero-byte tests), as the
 * Go version does; a body preview is mostly that. */
static int is_text(const uint8_t *b, size_t n) {
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	for (size_t i = 0; i < n;) {
		if (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, b + i, 8);
			uint64_t below = (w - 0x20 * ones) & ~w, x = w ^ (0x7f * ones), del = (x - ones) & ~x;
			if (((w | below | del) & highs) == 0) {
				i += 8;
				continue;
			}
		}
		uint8_t c = b[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return 0;
			i++;
			continue;
		}
		size_t w;
		uint32_t r = decode_rune(b + i, n - i, &w);
		if (r == 0xfffd && w <= 1) return 0;
		i += w;
	}
	return 1;
}

/* utf8.FullRune */
static int full_rune(const uint8_t *p, size_t n) {
	if (n == 0) return 0;
	uint8_t lo, hi;
	size_t size = rune_lead(p[0], &lo, &hi);
	if (size == 0 || n >= size) return 1; /* ASCII or invalid: one byte */
	if (n > 1 && (p[1] < lo || hi < p[1])) return 1;
	if (n > 2 && (p[2] < 0x80 || 0xbf < p[2])) return 1;
	return 0;
}

/* trimCutRune: the length without a multi-byte rune the cap cut in half. */
static size_t trim_cut_rune(const uint8_t *b, size_t n) {
	for (long i = (long)n - 1; i >= 0 && i >= (long)n - 3; i--) {
		if ((b[i] & 0xc0) != 0x80) {
			if (!full_rune(b + i, n - (size_t)i)) return (size_t)i;
			break;
		}
	}
	return n;
}

static uint8_t layer[2][BODY_PREVIEW + 1];
static ks_buf coding; /* one Content-Encoding coding, lowered */
static void go_to_lower(ks_buf *b, const uint8_t *s, size_t n);

/* Decode undoes the Content-Encoding codings, last applied first. 1 with
 * the result in *out and *outn, 0 when a coding is unknown or undecodable. */
static int decode_codings(const uint8_t *body, size_t n, const uint8_t *enc, size_t elen, const uint8_t **out,
			  size_t *outn) {
	const uint8_t *cur = body;
	size_t curn = n;
	int layers = 0;
	size_t e = elen;
	for (;;) {
		long c = last_index_byte(enc, e, ',');
		size_t a = c < 0 ? 0 : (size_t)c + 1;
		uint32_t off = (uint32_t)a, len = (uint32_t)(e - a);
		trim_space(enc, &off, &len);
		const uint8_t *t = enc + off;
		/* strings.ToLower, not EqualFold: it lowers U+0130 to i, so
		 * "GZ\u0130P" is gzip here. */
		ks_buf_reset(&coding);
		go_to_lower(&coding, t, len);
		const uint8_t *lc = coding.b;
		size_t ln = coding.failed ? 0 : coding.len;
		int kind = 0;
		if (ln == 0 || equals(lc, ln, "identity")) kind = 0;
		else if (equals(lc, ln, "gzip") || equals(lc, ln, "x-gzip")) kind = KS_INFLATE_GZIP;
		else if (equals(lc, ln, "deflate")) kind = KS_INFLATE_ZLIB;
		else return 0;
		if (kind) {
			uint8_t *buf = layer[layers % 2];
			layers++;
			int32_t got = ks_inflate(kind, cur, curn, buf, BODY_PREVIEW + 1);
			if (got < 0 && kind == KS_INFLATE_ZLIB) got = ks_inflate(KS_INFLATE_RAW, cur, curn, buf, BODY_PREVIEW + 1);
			if (got < 0) return 0;
			cur = buf, curn = (size_t)got;
		}
		if (c < 0) break;
		e = (size_t)c;
	}
	*out = cur;
	*outn = curn;
	return 1;
}

static void put_base64(ks_buf *b, const uint8_t *p, size_t n) {
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t outn = (n + 2) / 3 * 4;
	ks_buf_uvarint(b, outn);
	char q[4];
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		q[0] = tab[v >> 18], q[1] = tab[v >> 12 & 63], q[2] = tab[v >> 6 & 63], q[3] = tab[v & 63];
		ks_buf_put(b, q, 4);
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		q[0] = tab[v >> 18], q[1] = tab[v >> 12 & 63];
		q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		q[3] = '=';
		ks_buf_put(b, q, 4);
	}
}

/* ------------------------------------------------------------- connection */

enum { ST_START, ST_BODY, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_END, ST_TRAILERS, ST_UNTIL_CLOSE, ST_RESYNC, ST_PAUSED };
enum { ROLE_UNKNOWN, ROLE_REQUEST, ROLE_RESPONSE };

typedef struct {
	int role, st;
	msg *cur;
	int64_t remaining;
	int mid_line;
} half;

typedef struct {
	half h[2];
	int client_dir, client_known;
	msg **pending;
	size_t npending, cappending;
	int orphans;
	int *interim;
	size_t ninterim, capinterim;
	int done;
} conn;

static ks_buf rec;   /* the record being encoded */
static ks_buf ebuf;  /* an error message being built */
static ks_buf ftmp;  /* a message's fields */
static ks_buf extra; /* a preview's message field */
static ks_buf hintbuf; /* a protocol switch's hint */

void *ks_plugin_open(const ks_conn_info *info) {
	conn *c = calloc(1, sizeof(conn));
	if (!c) return 0;
	if (info->oriented) {
		c->client_dir = KS_DIR_A, c->client_known = 1;
		c->h[KS_DIR_A].role = ROLE_REQUEST;
		c->h[KS_DIR_B].role = ROLE_RESPONSE;
	}
	return c;
}

static void set_client(conn *c, int d) {
	c->client_dir = d, c->client_known = 1;
	c->h[d].role = ROLE_REQUEST;
	c->h[d ^ 1].role = ROLE_RESPONSE;
}

static void put_string(ks_buf *b, const void *p, size_t n) { ks_buf_string(b, (const char *)p, n); }
static void put_span(ks_buf *b, const msg *m, span s) { put_string(b, S(m, s), s.len); }

/* The fields object of a message, keys sorted as encoding/json sorts them. */
static void message_fields(ks_buf *f, const msg *m, int enc_state, const uint8_t *enc, size_t elen) {
	ks_buf_reset(f);
	int n = 0;
#define KEY(k) (put_str(f, n++ ? ",\"" : "{\""), put_str(f, k), put_str(f, "\":"))
	if (enc_state == 1) {
		KEY("content_encoding");
		json_string(f, enc, elen);
	} else if (enc_state == 2) {
		KEY("content_encoding_error");
		ks_buf_reset(&extra);
		put_str(&extra, "could not decode ");
		ks_buf_put(&extra, enc, elen);
		put_str(&extra, " preview");
		json_string(f, extra.b, extra.len);
	}
	if (m->ninterim > 0) {
		KEY("interim");
		ks_buf_put(f, "[", 1);
		for (size_t i = 0; i < m->ninterim; i++) {
			if (i) ks_buf_put(f, ",", 1);
			put_int(f, m->interim[i]);
		}
		ks_buf_put(f, "]", 1);
	}
	if (m->missing > 0) {
		KEY("missing_bytes");
		put_int(f, m->missing);
	}
	if (m->nt > 0) {
		KEY("trailers");
		/* a map: each name once with its last value, names sorted */
		size_t *ord = malloc(m->nt * sizeof(size_t));
		size_t k = 0;
		if (ord) {
			for (size_t i = 0; i < m->nt; i++) {
				const hdr *t = &m->trailers[i];
				int later = 0;
				for (size_t j = i + 1; j < m->nt && !later; j++)
					later = m->trailers[j].name.len == t->name.len &&
						memcmp(S(m, m->trailers[j].name), S(m, t->name), t->name.len) == 0;
				if (!later) ord[k++] = i;
			}
			for (size_t i = 1; i < k; i++) /* insertion sort: trailers are few */
				for (size_t j = i; j > 0; j--) {
					const hdr *a = &m->trailers[ord[j - 1]], *b = &m->trailers[ord[j]];
					size_t l = a->name.len < b->name.len ? a->name.len : b->name.len;
					int cmp = memcmp(S(m, a->name), S(m, b->name), l);
					if (cmp < 0 || (cmp == 0 && a->name.len <= b->name.len)) break;
					size_t t = ord[j];
					ord[j] = ord[j - 1], ord[j - 1] = t;
				}
		}
		ks_buf_put(f, "{", 1);
		for (size_t i = 0; i < k; i++) {
			const hdr *t = &m->trailers[ord[i]];
			if (i) ks_buf_put(f, ",", 1);
			json_string(f, S(m, t->name), t->name.len);
			ks_buf_put(f, ":", 1);
			json_string(f, S(m, t->value), t->value.len);
		}
		ks_buf_put(f, "}", 1);
		free(ord);
	}
	if (m->version.len > 0) {
		KEY("version");
		json_string(f, S(m, m->version), m->version.len);
	}
#undef KEY
	if (n) ks_buf_put(f, "}", 1);
}

/* toSDK and appendMessage in one: m as the wire encoding's message. */
static void encode_message(ks_buf *b, const msg *m) {
	if (!m) {
		ks_buf_put(b, "\0", 1);
		return;
	}
	ks_buf_put(b, "\1", 1);
	ks_buf_uvarint(b, m->nh);
	for (size_t i = 0; i < m->nh; i++) {
		put_span(b, m, m->headers[i].name);
		put_span(b, m, m->headers[i].value);
	}
	int enc_state = 0; /* 1 decoded, 2 could not decode */
	const uint8_t *enc = m->has_encoding ? S(m, m->encoding) : 0;
	size_t elen = m->has_encoding ? m->encoding.len : 0;
	int truncated = 0;
	if (m->body.len > 0) {
		const uint8_t *body = m->body.b;
		size_t n = m->body.len;
		truncated = (int64_t)n < m->body_size;
		if (elen > 0) {
			const uint8_t *dec;
			size_t decn;
			if (decode_codings(body, n, enc, elen, &dec, &decn)) {
				enc_state = 1;
				body = dec, n = decn;
				truncated = truncated || n > BODY_PREVIEW;
			} else {
				enc_state = 2;
			}
		}
		if (n > BODY_PREVIEW) n = BODY_PREVIEW, truncated = 1;
		size_t t = trim_cut_rune(body, n);
		if (truncated && t < n && is_text(body, t)) n = t;
		if (is_text(body, n)) {
			put_string(b, body, n);
			put_string(b, "", 0);
		} else {
			put_base64(b, body, n);
			put_string(b, "base64", 6);
		}
	} else {
		put_string(b, "", 0);
		put_string(b, "", 0);
	}
	ks_buf_put(b, truncated ? "\1" : "\0", 1);
	ks_buf_svarint(b, m->body_size);
	ks_buf_svarint(b, m->size);
	message_fields(&ftmp, m, enc_state, enc, elen);
	ks_buf_uvarint(b, ftmp.len);
	ks_buf_put(b, ftmp.b, ftmp.len);
}

static int starts_malformed(const msg *m) { return m->problem.len >= 9 && memcmp(m->problem.b, "malformed", 9) == 0; }

/* fillExchange and AppendRecord in one, then the emit. */
static void emit(conn *c, const msg *req, const msg *resp) {
	ks_buf *b = &rec;
	ks_buf_reset(b);
	ks_buf_reset(&ebuf);
	int problems = 0;
#define PROBLEM() (problems++ ? put_str(&ebuf, "; ") : (void)0)
	int failed = 0;
	if (req) {
		if (req->problem.len) {
			PROBLEM();
			put_str(&ebuf, "request: ");
			ks_buf_put(&ebuf, req->problem.b, req->problem.len);
		} else if (req->missing > 0) {
			PROBLEM();
			put_str(&ebuf, "request: ");
			put_int(&ebuf, req->missing);
			put_str(&ebuf, " body bytes missing from the capture");
		}
	}
	if (resp) {
		if (!req) {
			PROBLEM();
			put_str(&ebuf, "request not captured");
		}
		if (resp->problem.len) {
			PROBLEM();
			put_str(&ebuf, "response: ");
			ks_buf_put(&ebuf, resp->problem.b, resp->problem.len);
		} else if (resp->missing > 0) {
			PROBLEM();
			put_str(&ebuf, "response: ");
			put_int(&ebuf, resp->missing);
			put_str(&ebuf, " body bytes missing from the capture");
		}
		failed = resp->status >= 400;
	} else {
		PROBLEM();
		put_str(&ebuf, "no response captured");
	}
#undef PROBLEM
	if (req && starts_malformed(req)) failed = 1;
	if (resp && starts_malformed(resp)) failed = 1;

	ks_buf_put(b, "\1", 1);
	put_string(b, "http", 4);
	if (req) {
		put_span(b, req, req->method);
		put_span(b, req, req->target);
	} else {
		put_string(b, "", 0);
		put_string(b, "", 0);
	}
	ks_buf_svarint(b, resp ? resp->status : 0);
	if (resp) put_span(b, resp, resp->reason);
	else put_string(b, "", 0);
	ks_buf_put(b, failed ? "\1" : "\0", 1);
	put_string(b, ebuf.b, ebuf.len);

	/* the summary */
	ks_buf_reset(&ebuf);
	if (req) {
		ks_buf_put(&ebuf, S(req, req->method), req->method.len);
		ks_buf_put(&ebuf, " ", 1);
		if (req->target.len > 120) {
			ks_buf_put(&ebuf, S(req, req->target), 117);
			put_str(&ebuf, "...");
		} else {
			ks_buf_put(&ebuf, S(req, req->target), req->target.len);
		}
	} else {
		put_str(&ebuf, "(request not captured)");
	}
	put_str(&ebuf, " \xe2\x86\x92 ");
	if (!resp) {
		put_str(&ebuf, "(no response)");
	} else {
		put_int(&ebuf, resp->status);
		if (resp->reason.len) {
			ks_buf_put(&ebuf, " ", 1);
			ks_buf_put(&ebuf, S(resp, resp->reason), resp->reason.len);
		}
	}
	put_string(b, ebuf.b, ebuf.len);

	ks_buf_svarint(b, req ? req->start : resp->start);
	ks_buf_svarint(b, resp ? resp->end : 0);
	uint8_t dir = (uint8_t)c->client_dir;
	ks_buf_put(b, &dir, 1);
	encode_message(b, req);
	encode_message(b, resp);
	if (b->failed) ks_log("http1: out of memory encoding a record");
	else ks_emit_encoded(b->b, b->len);
}

static void unanswered(conn *c, msg *req) {
	if (!req->lost) emit(c, req, 0);
	msg_free(req);
}

static msg *pop_pending(conn *c) {
	msg *req = c->pending[0];
	memmove(c->pending, c->pending + 1, (c->npending - 1) * sizeof(msg *));
	c->npending--;
	return req;
}

static void queue(conn *c, msg *req) {
	if (c->npending >= MAX_PENDING) unanswered(c, pop_pending(c));
	if (c->npending == c->cappending) {
		size_t cap = c->cappending ? c->cappending * 2 : 4;
		msg **n = realloc(c->pending, cap * sizeof(msg *));
		if (!n) {
			unanswered(c, req);
			return;
		}
		c->pending = n, c->cappending = cap;
	}
	c->pending[c->npending++] = req;
}

/* leave hands the connection back to the host: what follows is not
 * HTTP/1. The hint goes with its length (a NUL in an Upgrade header is
 * part of it, as in Go), so not through ks_switch. */
static void leave(conn *c, const char *hint, size_t n) {
	for (size_t i = 0; i < c->npending; i++) unanswered(c, c->pending[i]);
	c->npending = 0;
	c->done = 1;
	ks__emit(KS_EMIT_SWITCH, n ? hint : "", (uint32_t)n);
}

#include "tolower.h"

static uint32_t to_lower_rune(uint32_t r) {
	size_t lo = 0, hi = sizeof lower_ranges / sizeof lower_ranges[0];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const int32_t *e = lower_ranges[mid];
		if ((int32_t)r < e[0]) hi = mid;
		else if ((int32_t)r > e[1]) lo = mid + 1;
		else return ((int32_t)r - e[0]) % e[2] == 0 ? (uint32_t)((int32_t)r + e[3]) : r;
	}
	return r;
}

static void put_rune(ks_buf *b, uint32_t r) {
	uint8_t t[4];
	size_t n;
	if (r < 0x80) t[0] = (uint8_t)r, n = 1;
	else if (r < 0x800) t[0] = 0xc0 | r >> 6, t[1] = 0x80 | (r & 0x3f), n = 2;
	else if (r < 0x10000) t[0] = 0xe0 | r >> 12, t[1] = 0x80 | (r >> 6 & 0x3f), t[2] = 0x80 | (r & 0x3f), n = 3;
	else t[0] = 0xf0 | r >> 18, t[1] = 0x80 | (r >> 12 & 0x3f), t[2] = 0x80 | (r >> 6 & 0x3f), t[3] = 0x80 | (r & 0x3f), n = 4;
	ks_buf_put(b, t, n);
}

/* strings.ToLower: ASCII bytes lowered; otherwise rune by rune with
 * unicode.ToLower (tolower.h), invalid bytes becoming U+FFFD as
 * strings.Map makes them. */
static void go_to_lower(ks_buf *b, const uint8_t *s, size_t n) {
	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			uint8_t c = lower(s[i++]);
			ks_buf_put(b, &c, 1);
			continue;
		}
		size_t w;
		uint32_t r = decode_rune(s + i, n - i, &w);
		put_rune(b, r == 0xfffd ? r : to_lower_rune(r));
		i += w;
	}
}

/* upgradeHint: the protocol an upgrade's 101 switches to, in hint. */
static void upgrade_hint(const msg *resp, const msg *req, ks_buf *hint) {
	const hdr *h = header(resp, "Upgrade");
	const uint8_t *u = h ? S(resp, h->value) : 0;
	size_t n = h ? h->value.len : 0;
	if (n == 0 && req) u = S(req, req->upgrade), n = req->upgrade.len;
	ks_buf_reset(hint);
	if (n) {
		uint32_t off = 0, len = (uint32_t)n;
		trim_space(u, &off, &len);
		go_to_lower(hint, u + off, len);
	}
	const uint8_t *l = hint->b;
	size_t ln = hint->failed ? 0 : hint->len;
	const char *known = 0;
	if (has_prefix(l, ln, "websocket")) known = "websocket";
	else if (has_prefix(l, ln, "h2c") || has_prefix(l, ln, "http/2")) known = "http2";
	if (known) {
		ks_buf_reset(hint);
		put_str(hint, known);
	}
}

static void finish(conn *c, int dir, msg *m) {
	half *h = &c->h[dir];
	if (h->role == ROLE_REQUEST) {
		if (m->answered) {
			msg_free(m);
			return;
		}
		if (equals(S(m, m->method), m->method.len, "CONNECT") || m->upgrade.len) {
			if (h->st == ST_START) h->st = ST_PAUSED;
		}
		queue(c, m);
		return;
	}
	if (m->status >= 100 && m->status < 200 && m->status != 101) {
		if (c->ninterim == c->capinterim) {
			size_t cap = c->capinterim ? c->capinterim * 2 : 4;
			int *n = realloc(c->interim, cap * sizeof(int));
			if (n) c->interim = n, c->capinterim = cap;
		}
		if (c->ninterim < c->capinterim) c->interim[c->ninterim++] = m->status;
		msg_free(m);
		return;
	}
	msg *req = 0;
	int queued = 0;
	half *q = &c->h[c->client_dir];
	if (c->npending > 0) {
		req = pop_pending(c);
		queued = 1;
	} else if (!q->cur) {
		c->orphans++;
	} else {
		req = q->cur;
		req->answered = 1;
	}
	msg *lostreq = 0;
	if (req && req->lost) lostreq = req, req = 0;
	free(m->interim);
	m->interim = c->interim, m->ninterim = c->ninterim;
	c->interim = 0, c->ninterim = c->capinterim = 0;
	emit(c, req, m);
	half *rh = &c->h[c->client_dir];
	if (m->status == 101) {
		/* its own buffer: leave emits the unanswered requests first */
		upgrade_hint(m, req, &hintbuf);
		leave(c, (const char *)hintbuf.b, hintbuf.failed ? 0 : hintbuf.len);
	} else if (req && equals(S(req, req->method), req->method.len, "CONNECT") && m->status >= 200 && m->status < 300) {
		leave(c, "tls", 3);
	} else if (rh->st == ST_PAUSED && c->npending == 0) {
		rh->st = ST_START;
	}
	msg_free(m);
	if (queued) msg_free(req ? req : lostreq);
}

static void lost_start(conn *c, half *h) {
	if (h->role == ROLE_REQUEST) {
		if (c->orphans > 0) {
			c->orphans--;
			return;
		}
		msg *m = msg_new();
		if (!m) return;
		m->lost = 1;
		queue(c, m);
	} else if (h->role == ROLE_RESPONSE) {
		if (c->npending > 0) unanswered(c, pop_pending(c));
		c->ninterim = 0;
		half *q = &c->h[c->client_dir];
		if (q->st == ST_PAUSED && c->npending == 0) q->st = ST_START;
	}
}

/* malformed: ends the current message as failed, resynchronises. */
static int malformed(half *h, const char *why, const uint8_t *detail, size_t dn, int *complete) {
	if (h->cur) {
		set_problem(h->cur, "malformed: ", (const uint8_t *)why, strlen(why));
		if (dn) ks_buf_put(&h->cur->problem, detail, dn);
	}
	h->st = ST_RESYNC;
	h->mid_line = 1;
	if (!h->cur) {
		*complete = 0;
		return 1;
	}
	h->cur->size++;
	*complete = 1;
	return 1;
}

static size_t resync(half *h, const uint8_t *data, size_t n) {
	for (size_t i = 0; i < n;) {
		if (i > 0 || !h->mid_line) {
			h->mid_line = 0;
			switch (classify_start(data + i, n - i)) {
			case START_REQUEST:
				if (h->role != ROLE_RESPONSE) {
					h->st = ST_START;
					return i;
				}
				break;
			case START_RESPONSE:
				if (h->role != ROLE_REQUEST) {
					h->st = ST_START;
					return i;
				}
				break;
			case START_MAYBE:
				return i;
			}
		}
		long j = index_byte(data + i, n - i, '\n');
		if (j < 0) {
			h->mid_line = 1;
			return n;
		}
		i += (size_t)j + 1;
	}
	h->mid_line = 0;
	return n;
}

static void preview_cap(msg *m) {
	const hdr *h = header(m, "Content-Encoding");
	if (h) {
		span t = h->value;
		trim_space(m->text.b, &t.off, &t.len);
		if (!fold_eq(S(m, t), t.len, "identity")) {
			m->has_encoding = 1, m->encoding = h->value;
			m->body_cap = MAX_COMPRESSED;
			return;
		}
	}
	m->body_cap = BODY_PREVIEW;
}

/* body_framing: how the body after a head is framed, the tail of both
 * request_body and response_body: chunked, by Content-Length or, with
 * neither, empty (a request) or read until the connection closes (a
 * response: until_close). Returns 1 when the message is complete now. */
static int body_framing(half *h, msg *m, int until_close) {
	const hdr *te = header(m, "Transfer-Encoding");
	if (te && last_coding_chunked(m, te)) {
		h->st = ST_CHUNK_SIZE;
		return 0;
	}
	int64_t n;
	ks_buf_reset(&ebuf);
	int r = content_length(m, &n, &ebuf);
	h->st = ST_START;
	if (r < 0) {
		set_problem(m, "malformed: ", ebuf.b, ebuf.len);
		return 1;
	}
	if (r > 0 && n > 0) {
		h->st = ST_BODY, h->remaining = n;
		return 0;
	}
	if (r == 0 && until_close) {
		h->st = ST_UNTIL_CLOSE;
		return 0;
	}
	return 1;
}

static int request_body(half *h, msg *m) {
	preview_cap(m);
	return body_framing(h, m, 0);
}

static int response_body(conn *c, half *h, msg *m) {
	preview_cap(m);
	h->st = ST_START;
	msg *req = c->npending > 0 ? c->pending[0] : 0;
	if ((m->status >= 100 && m->status < 200) || m->status == 204 || m->status == 304) return 1;
	if (req && equals(S(req, req->method), req->method.len, "HEAD")) return 1;
	if (req && equals(S(req, req->method), req->method.len, "CONNECT") && m->status >= 200 && m->status < 300) return 1;
	return body_framing(h, m, 1);
}

static size_t start_line(conn *c, int dir, half *h, const uint8_t *data, size_t n, int64_t ts, int *complete) {
	*complete = 0;
	size_t skip = 0;
	while (skip < n && (data[skip] == '\r' || data[skip] == '\n')) skip++;
	if (skip > 0) return skip;
	int kind = classify_start(data, n);
	if (kind == START_NONE && h->role == ROLE_REQUEST && lenient_request(data, n)) kind = START_REQUEST;
	if (kind == START_MAYBE) return 0;
	if (kind == START_NONE) {
		h->st = ST_RESYNC;
		return resync(h, data, n);
	}
	long end = header_end(data, n);
	if (end < 0 && n < MAX_HEADER_BLOCK) return 0;
	if (h->role == ROLE_UNKNOWN && !c->client_known) {
		set_client(c, kind == START_REQUEST ? dir : dir ^ 1);
	} else if ((h->role == ROLE_REQUEST && kind == START_RESPONSE) || (h->role == ROLE_RESPONSE && kind == START_REQUEST)) {
		h->st = ST_RESYNC;
		return resync(h, data, n);
	}
	if (end < 0 || end > MAX_HEADER_BLOCK) {
		msg *m = msg_new();
		if (!m) return n;
		m->start = ts;
		m->method = text_add(m, "?", 1);
		h->cur = m;
		return (size_t)malformed(h, "header block exceeds 64 KiB", 0, 0, complete);
	}
	msg *m = msg_new();
	if (!m) return n;
	ks_buf_reset(&ebuf);
	parse_head(m, data, (size_t)end, h->role == ROLE_REQUEST, &ebuf);
	m->start = ts;
	m->size = end;
	h->cur = m;
	if (ebuf.len) set_problem(m, "malformed: ", ebuf.b, ebuf.len);
	*complete = h->role == ROLE_REQUEST ? request_body(h, m) : response_body(c, h, m);
	return (size_t)end;
}

/* step: one state of one direction; bytes consumed, *complete when the
 * current message ended. */
static size_t step(conn *c, int dir, half *h, const uint8_t *data, size_t n, int64_t ts, int *complete) {
	msg *m = h->cur;
	*complete = 0;
	switch (h->st) {
	case ST_PAUSED:
		return 0;
	case ST_START:
		return start_line(c, dir, h, data, n, ts, complete);
	case ST_RESYNC:
		return resync(h, data, n);
	case ST_BODY: {
		size_t k = (int64_t)n < h->remaining ? n : (size_t)h->remaining;
		body_append(m, data, k);
		m->size += (int64_t)k;
		h->remaining -= (int64_t)k;
		if (h->remaining == 0) {
			h->st = ST_START;
			*complete = 1;
		}
		return k;
	}
	case ST_UNTIL_CLOSE:
		body_append(m, data, n);
		m->size += (int64_t)n;
		return n;
	case ST_CHUNK_SIZE: {
		long i = index_byte(data, n, '\n');
		if ((i < 0 && n > 1024) || i > 1024) return (size_t)malformed(h, "chunk-size line longer than 1 KiB", 0, 0, complete);
		if (i < 0) return 0;
		int64_t size;
		ks_buf_reset(&ebuf);
		if (!parse_chunk_size(data, (size_t)i, &size, &ebuf)) return (size_t)malformed(h, "", ebuf.b, ebuf.len, complete);
		m->size += i + 1;
		if (size == 0) h->st = ST_TRAILERS;
		else h->st = ST_CHUNK_DATA, h->remaining = size;
		return (size_t)i + 1;
	}
	case ST_CHUNK_DATA: {
		size_t k = (int64_t)n < h->remaining ? n : (size_t)h->remaining;
		body_append(m, data, k);
		m->size += (int64_t)k;
		h->remaining -= (int64_t)k;
		if (h->remaining == 0) h->st = ST_CHUNK_END;
		return k;
	}
	case ST_CHUNK_END:
		if (data[0] == '\n') {
			m->size++;
			h->st = ST_CHUNK_SIZE;
			return 1;
		}
		if (data[0] == '\r' && n == 1) return 0;
		if (data[0] == '\r' && data[1] == '\n') {
			m->size += 2;
			h->st = ST_CHUNK_SIZE;
			return 2;
		}
		return (size_t)malformed(h, "chunk data not followed by CRLF", 0, 0, complete);
	case ST_TRAILERS: {
		long i = index_byte(data, n, '\n');
		if ((i < 0 && n > MAX_HEADER_BLOCK) || i > MAX_HEADER_BLOCK)
			return (size_t)malformed(h, "trailer section too long", 0, 0, complete);
		if (i < 0) return 0;
		size_t len = (size_t)i;
		while (len > 0 && data[len - 1] == '\r') len--;
		m->size += i + 1;
		if (len == 0) {
			h->st = ST_START;
			*complete = 1;
			return (size_t)i + 1;
		}
		long k = index_byte(data, len, ':');
		if (k > 0 && m->nt < MAX_HEADERS) {
			span name = text_add(m, data, (size_t)k);
			span value = text_add(m, data + k + 1, len - (size_t)k - 1);
			trim_space(m->text.b, &value.off, &value.len);
			add_header(&m->trailers, &m->nt, &m->capt, (hdr){name, value});
		}
		return (size_t)i + 1;
	}
	}
	return 0;
}

int64_t ks_plugin_feed(void *cv, int dir, const uint8_t *data, uint32_t len, int64_t first, int64_t last,
		       uint32_t *need) {
	conn *c = cv;
	*need = 0;
	if (c->done) return len;
	half *h = &c->h[dir];
	size_t pos = 0;
	while (pos < len && !c->done) {
		int before = h->st;
		int64_t ts = pos > 0 ? last : first;
		int complete;
		size_t k = step(c, dir, h, data + pos, len - pos, ts, &complete);
		pos += k;
		if (complete) {
			msg *m = h->cur;
			if (m) {
				m->end = last;
				h->cur = 0;
				finish(c, dir, m);
			}
			return (int64_t)pos;
		}
		if (k == 0 && h->st == before) break;
	}
	if (h->cur && pos > 0) h->cur->end = last;
	return (int64_t)pos;
}

static void missing_problem(msg *m, const char *fmt_tail, int64_t n) {
	ks_buf_reset(&m->problem);
	put_int(&m->problem, n);
	put_str(&m->problem, fmt_tail);
}

void ks_plugin_gap(void *cv, int dir, uint32_t n, int64_t ts) {
	conn *c = cv;
	if (c->done) return;
	half *h = &c->h[dir];
	int64_t lost = (int64_t)n;
	msg *m = h->cur;
	h->mid_line = 0;
	switch (h->st) {
	case ST_PAUSED:
		return;
	case ST_UNTIL_CLOSE:
		m->body_size += lost, m->missing += lost, m->size += lost;
		return;
	case ST_BODY:
	case ST_CHUNK_DATA:
		if (lost < h->remaining) {
			h->remaining -= lost;
			m->body_size += lost, m->missing += lost, m->size += lost;
			return;
		}
		m->missing += h->remaining, m->body_size += h->remaining, m->size += h->remaining;
		lost -= h->remaining;
		h->remaining = 0;
		if (h->st == ST_CHUNK_DATA) {
			missing_problem(m, " bytes missing from the capture", m->missing + lost);
			break;
		}
		missing_problem(m, " body bytes missing from the capture", m->missing);
		h->st = ST_START;
		h->cur = 0;
		m->end = ts;
		finish(c, dir, m);
		if (lost > 0) {
			/* The rest of the loss began the next message. */
			lost_start(c, h);
			h->st = ST_RESYNC;
		}
		return;
	case ST_START:
	case ST_RESYNC:
		if (h->st == ST_START && lost > 0) lost_start(c, h);
		h->st = ST_RESYNC;
		return;
	default:
		if (m) missing_problem(m, " bytes missing from the capture", lost);
	}
	h->st = ST_RESYNC;
	if (m) {
		h->cur = 0;
		m->end = ts;
		finish(c, dir, m);
	}
}

void ks_plugin_close(void *cv, int64_t ts) {
	conn *c = cv;
	if (!c->done) {
		for (int d = KS_DIR_A; d <= KS_DIR_B; d++) {
			half *h = &c->h[d];
			msg *m = h->cur;
			if (!m) continue;
			h->cur = 0;
			if (h->st != ST_UNTIL_CLOSE) {
				const char *p = "connection ended before the message did";
				set_problem(m, "", (const uint8_t *)p, strlen(p));
			}
			if (m->end == 0) m->end = ts;
			finish(c, d, m);
		}
		for (size_t i = 0; i < c->npending; i++) unanswered(c, c->pending[i]);
		c->npending = 0;
	}
	/* whatever is still held is dropped with the connection */
	for (int d = 0; d < 2; d++) msg_free(c->h[d].cur);
	for (size_t i = 0; i < c->npending; i++) msg_free(c->pending[i]);
	free(c->pending);
	free(c->interim);
	free(c);
}
