/* The C SDK's strlen, memchr and memcmp (kubeshark.h, built for wasm)
 * against byte-at-a-time references, at every alignment and every length
 * up to 40, with the bytes around each string set to what would fool a
 * wrong mask. check() returns the number of wrong answers; check_copy and
 * check_json do the same for the SDK's appends. */
#define KUBESHARK_IMPLEMENTATION
#include "kubeshark.h"

#include <string.h>

const ks_manifest *ks_plugin_manifest(void) { return 0; }
uint32_t ks_plugin_probe(int dir, const uint8_t *data, uint32_t len) { (void)dir; (void)data; (void)len; return 0; }
void *ks_plugin_open(const ks_conn_info *info) { (void)info; return 0; }
int64_t ks_plugin_feed(void *c, int dir, const uint8_t *d, uint32_t n, int64_t f, int64_t l, uint32_t *need) {
	(void)c; (void)dir; (void)d; (void)n; (void)f; (void)l; (void)need;
	return KS_REJECT;
}
void ks_plugin_gap(void *c, int dir, uint32_t n, int64_t ts) { (void)c; (void)dir; (void)n; (void)ts; }
void ks_plugin_close(void *c, int64_t ts) { (void)c; (void)ts; }

__attribute__((noinline, optnone)) static size_t ref_strlen(const char *s) {
	size_t n = 0;
	while (s[n]) n++;
	return n;
}

__attribute__((noinline, optnone)) static const void *ref_memchr(const void *s, int c, size_t n) {
	const unsigned char *p = s;
	for (size_t i = 0; i < n; i++)
		if (p[i] == (unsigned char)c) return p + i;
	return 0;
}

__attribute__((noinline, optnone)) static int ref_memcmp(const void *a, const void *b, size_t n) {
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
	return 0;
}

static int sign(int v) { return v < 0 ? -1 : v > 0; }

static _Alignas(16) unsigned char buf[128], other[128];

__attribute__((export_name("check"))) int check(void) {
	int wrong = 0;
	for (size_t off = 0; off < 16; off++) {
		for (size_t n = 0; n <= 40; n++) {
			/* strlen: zeros before the string, which a bad mask would see. */
			memset(buf, 0, sizeof buf);
			for (size_t i = 0; i < n; i++) buf[off + i] = (unsigned char)(0x80 + i);
			if (strlen((const char *)buf + off) != ref_strlen((const char *)buf + off)) wrong++;
			/* memchr: the byte sought before the range, at each place in
			 * it, just past it, or nowhere. */
			static const int cs[] = {0, 'x', 0x80, 0xff};
			for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
				int c = cs[k];
				for (long at = -1; at <= (long)n + 8; at++) {
					memset(buf, c ^ 1, sizeof buf);
					for (size_t i = 0; i < off; i++) buf[i] = (unsigned char)c;
					if (at >= 0) buf[off + (size_t)at] = (unsigned char)c;
					if (memchr(buf + off, c, n) != ref_memchr(buf + off, c, n)) wrong++;
				}
			}
			/* memcmp: equal, or differing at each place, either way, from
			 * every second alignment. */
			for (size_t off2 = 0; off2 < 8; off2++) {
				for (long at = -1; at < (long)n; at++) {
					for (int way = 0; way < 2; way++) {
						for (size_t i = 0; i < sizeof buf; i++) buf[i] = other[i] = (unsigned char)(i * 7 + 1);
						for (size_t i = 0; i < n; i++) other[off2 + i] = buf[off + i];
						if (at >= 0) {
							buf[off + (size_t)at] = way ? 0x01 : 0xfe;
							other[off2 + (size_t)at] = way ? 0xfe : 0x01;
							/* later bytes differ the other way round */
							for (size_t i = (size_t)at + 1; i < n; i++) buf[off + i] = way ? 0xff : 0x00;
						}
						if (sign(memcmp(buf + off, other + off2, n)) != ref_memcmp(buf + off, other + off2, n)) wrong++;
						if ((bcmp(buf + off, other + off2, n) != 0) != (ref_memcmp(buf + off, other + off2, n) != 0)) wrong++;
					}
				}
			}
		}
	}
	return wrong;
}

/* A copy of every length through the SDK's buffer, which copies short
 * strings itself. */
__attribute__((export_name("check_copy"))) int check_copy(void) {
	int wrong = 0;
	for (size_t n = 0; n <= 70; n++) {
		for (size_t off = 0; off < 8; off++) {
			ks_buf b = {0};
			ks_buf_put(&b, "<", 1);
			for (size_t i = 0; i < n; i++) buf[off + i] = (unsigned char)(i * 13 + 5);
			ks_buf_string(&b, (const char *)buf + off, n);
			ks_buf_put(&b, buf + off, n);
			if (b.failed || b.len != 1 + 1 + 2 * n || b.b[0] != '<' || b.b[1] != n) wrong++;
			else if (memcmp(b.b + 2, buf + off, n) != 0 || memcmp(b.b + 2 + n, buf + off, n) != 0) wrong++;
			ks_buf_free(&b);
		}
	}
	return wrong;
}

/* encoding/json's escaping, a byte at a time. */
__attribute__((noinline, optnone)) static size_t ref_json(char *out, const unsigned char *s, size_t n) {
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			out[o++] = '\\', out[o++] = 'u', out[o++] = '0', out[o++] = '0';
			out[o++] = hex[c >> 4], out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	return o;
}

__attribute__((noinline, optnone)) static size_t ref_int(char *out, int64_t v) {
	char t[24];
	size_t n = 0, o = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do { t[n++] = (char)('0' + u % 10); u /= 10; } while (u);
	if (v < 0) out[o++] = '-';
	while (n) out[o++] = t[--n];
	return o;
}

static int same(const ks_buf *b, const char *want, size_t n) {
	return !b->failed && b->len == n && memcmp(b->b, want, n) == 0;
}

/* JSON strings and objects through the SDK (which copies plain runs a word
 * at a time and escapes the rest apart) against ref_json: every length up
 * to 40 at every alignment, plain, or with a byte to escape (or a UTF-8
 * byte, or a byte just above one to escape) at each place; objects of
 * such keys and values, and integers around every power of ten. */
__attribute__((export_name("check_json"))) int check_json(void) {
	static const unsigned char odd[] = {'"', '\\', 0, 0x1f, 0x20, 0x7f, 0x80, 0xff, '#', ']'};
	static char want[1024];
	int wrong = 0;
	ks_buf b = {0};
	ks_json j = {0};
	for (size_t n = 0; n <= 40; n++) {
		for (size_t off = 0; off < 8; off++) {
			for (long at = -1; at < (long)n; at++) {
				for (size_t k = 0; k < (at < 0 ? 1 : sizeof odd); k++) {
					for (size_t i = 0; i < n; i++) buf[off + i] = (unsigned char)('a' + i % 26);
					if (at >= 0) buf[off + (size_t)at] = odd[k];
					buf[off + n] = 0;
					size_t w = ref_json(want, buf + off, n);
					ks_buf_reset(&b);
					ks_buf_put(&b, "<", 1);
					ks_buf_json_string(&b, (const char *)buf + off, n);
					if (b.failed || b.len != w + 1 || memcmp(b.b + 1, want, w) != 0) wrong++;
					/* {"key":"value","key":int,"key":true}, the key the same
					 * string (NUL-terminated: a NUL in it ends it). */
					size_t kn = strlen((const char *)buf + off);
					size_t o = 0;
					want[o++] = '{';
					o += ref_json(want + o, buf + off, kn);
					want[o++] = ':';
					o += ref_json(want + o, buf + off, n);
					want[o++] = ',';
					o += ref_json(want + o, buf + off, kn);
					want[o++] = ':';
					o += ref_int(want + o, (int64_t)n * 1000003 - 20000000);
					want[o++] = ',';
					o += ref_json(want + o, buf + off, kn);
					memcpy(want + o, ":true}", 6);
					o += 6;
					ks_json_begin(&j);
					ks_json_str(&j, (const char *)buf + off, (const char *)buf + off, n);
					ks_json_int(&j, (const char *)buf + off, (int64_t)n * 1000003 - 20000000);
					ks_json_bool(&j, (const char *)buf + off, 1);
					ks_json_end(&j);
					if (!same(&j.buf, want, o)) wrong++;
				}
			}
		}
	}
	for (int64_t p = 1, i = 0; i < 19; i++, p *= 10) {
		const int64_t vs[] = {p - 1, p, -p, -(p - 1), p + 1};
		for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++) {
			size_t o = 0;
			memcpy(want, "{\"n\":", 5);
			o = 5 + ref_int(want + 5, vs[k]);
			want[o++] = ',';
			memcpy(want + o, "\"m\":false", 9);
			o += 9;
			want[o++] = '}';
			ks_json_begin(&j);
			ks_json_int(&j, "n", vs[k]);
			ks_json_bool(&j, "m", 0);
			ks_json_end(&j);
			if (!same(&j.buf, want, o)) wrong++;
		}
	}
	const int64_t ends[] = {INT64_MIN, INT64_MAX, INT64_MIN + 1, 4294967295LL, 4294967296LL, -4294967296LL};
	for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
		size_t o = 5;
		memcpy(want, "{\"n\":", 5);
		o += ref_int(want + 5, ends[k]);
		want[o++] = '}';
		ks_json_begin(&j);
		ks_json_int(&j, "n", ends[k]);
		ks_json_end(&j);
		if (!same(&j.buf, want, o)) wrong++;
	}
	ks_buf_free(&b);
	ks_json_free(&j);
	return wrong;
}
