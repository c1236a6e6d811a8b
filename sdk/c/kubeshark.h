/*
 * kubeshark.h — the C SDK for kubeshark dissector plugins (ABI v1).
 *
 * One header, no dependency beyond wasi-libc (malloc, memcpy). It defines
 * the module's exports and its imports; you write six functions:
 *
 *   const ks_manifest *ks_plugin_manifest(void);
 *   uint32_t ks_plugin_probe(int dir, const uint8_t *data, uint32_t len);
 *   void    *ks_plugin_open(const ks_conn_info *info);
 *   int64_t  ks_plugin_feed(void *conn, int dir, const uint8_t *data, uint32_t len,
 *                           int64_t first_ns, int64_t last_ns, uint32_t *need);
 *   void     ks_plugin_gap(void *conn, int dir, uint32_t n, int64_t ts_ns);
 *   void     ks_plugin_close(void *conn, int64_t ts_ns);   (free conn here)
 *
 * and emit records with ks_emit_record. Include it in exactly one .c file
 * with KUBESHARK_IMPLEMENTATION defined before, in any others without.
 * Build:
 *
 *   clang --target=wasm32-wasi -O2 -mbulk-memory -msimd128 -mexec-model=reactor -o x.wasm x.c
 *
 * (kubeshark plugin build does this, then binaryen's wasm-opt -O3 when it is
 * installed; -mbulk-memory turns memcpy and memset into single instructions,
 * -msimd128 gives the SDK's string functions sixteen bytes a step; without
 * it they go eight.)
 *
 * sdk/ABI.md is the contract this implements.
 */
#ifndef KUBESHARK_H
#define KUBESHARK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KS_ABI_VERSION 1

/* Directions: KS_DIR_A is the client when the connection is oriented. */
#define KS_DIR_A 0
#define KS_DIR_B 1

/* ks_plugin_probe's result: confidence 0-100 and flags. */
#define KS_PROBE(confidence) ((uint32_t)((confidence) > 100 ? 100 : (confidence)))
#define KS_PROBE_FROM_SERVER (1u << 8)
#define KS_PROBE_NEED_MORE (1u << 9)

/* ks_plugin_feed's result for a connection that is not this protocol. */
#define KS_REJECT ((int64_t)-1)

/* Emit kinds (ABI.md, Imports). */
#define KS_EMIT_RECORD 1
#define KS_EMIT_MANIFEST 2
#define KS_EMIT_LOG 3
#define KS_EMIT_SWITCH 4

/* One field a dissector's records carry. type: string, int, bool, float,
 * list or map. */
typedef struct {
	const char *name, *type, *description;
} ks_field;

/* The manifest. protocols and transports are NULL-terminated arrays;
 * port_hints has n_port_hints entries, fields n_fields. */
typedef struct {
	const char *name, *version, *description;
	const char *const *protocols;
	const char *const *transports;
	const uint16_t *port_hints;
	size_t n_port_hints;
	const ks_field *fields;
	size_t n_fields;
} ks_manifest;

/* What the host says about a connection when it opens it. */
typedef struct {
	uint64_t id;
	uint16_t port_a, port_b;
	int oriented; /* KS_DIR_A is the client */
	int udp;      /* every feed is one datagram */
} ks_conn_info;

typedef struct {
	const char *name, *value;
} ks_header;

/* A request or response. Strings are NUL-terminated (NULL is ""); body has
 * body_len bytes. fields is a JSON object (ks_json builds one) or NULL. */
typedef struct {
	const ks_header *headers;
	size_t n_headers;
	const char *body;
	size_t body_len;
	const char *encoding;
	int body_truncated;
	int64_t body_size, size;
	const char *fields;
	size_t fields_len;
} ks_message;

/* One record. timestamp_ns/end_ns are Unix nanoseconds (0: unknown). */
typedef struct {
	const char *protocol, *method, *path;
	int64_t status;
	const char *status_text;
	int failed;
	const char *error, *summary;
	int64_t timestamp_ns, end_ns;
	int request_dir;
	const ks_message *request, *response;
} ks_record;

/* A growable byte buffer; ks_json and the record encoder use it. Zero is
 * an empty buffer. failed turns 1 once an allocation failed, and
 * everything after is dropped. */
typedef struct {
	uint8_t *b;
	size_t len, cap;
	int failed;
} ks_buf;

/* A JSON object under construction, for a message's fields. */
typedef struct {
	ks_buf buf;
	int n;
} ks_json;

/* KS_WASM_NOINLINE before a function keeps it out of line in wasm builds
 * (natively the compiler chooses). For a small hot loop called from a
 * large function: wazero's register allocator keeps a large function's
 * values in memory, and the beanstalk example's token loop ran 35 machine
 * instructions a byte inlined into its feed, 27 in a function of its own
 * (RATIONALE.md, "Hot loops out of large functions in wasm"). */
#if defined(__wasm__)
#define KS_WASM_NOINLINE __attribute__((noinline))
#else
#define KS_WASM_NOINLINE
#endif

/* What you implement. */
const ks_manifest *ks_plugin_manifest(void);
uint32_t ks_plugin_probe(int dir, const uint8_t *data, uint32_t len);
void *ks_plugin_open(const ks_conn_info *info);
int64_t ks_plugin_feed(void *conn, int dir, const uint8_t *data, uint32_t len, int64_t first_ns, int64_t last_ns,
		       uint32_t *need);
void ks_plugin_gap(void *conn, int dir, uint32_t n, int64_t ts_ns);
void ks_plugin_close(void *conn, int64_t ts_ns);

/* What the SDK gives you. */
void ks_emit_record(const ks_record *r);
/* Emits a record already in the wire encoding (ABI.md, "Record wire
 * encoding"), for a dissector that writes it itself: strings with NUL
 * bytes, or exactly the bytes another implementation writes. */
void ks_emit_encoded(const void *rec, size_t n);
void ks_log(const char *msg);
void ks_switch(const char *hint);

/* Formats of ks_inflate (ABI.md, the inflate import). */
#define KS_INFLATE_GZIP 1
#define KS_INFLATE_ZLIB 2
#define KS_INFLATE_RAW 3
/* Has the host decompress one layer of src into dst, stopping when dst is
 * full; returns the bytes written, or -1 when nothing decoded. A module
 * that never calls it does not import it. */
int32_t ks_inflate(int format, const void *src, size_t src_len, void *dst, size_t dst_cap);

void ks_buf_reset(ks_buf *b);
void ks_buf_free(ks_buf *b);
void ks_buf_put(ks_buf *b, const void *p, size_t n);
void ks_buf_uvarint(ks_buf *b, uint64_t v);
void ks_buf_svarint(ks_buf *b, int64_t v);
void ks_buf_string(ks_buf *b, const char *s, size_t n);
void ks_buf_json_string(ks_buf *b, const char *s, size_t n);

void ks_json_begin(ks_json *j);
void ks_json_str(ks_json *j, const char *key, const char *s, size_t n);
void ks_json_int(ks_json *j, const char *key, int64_t v);
void ks_json_bool(ks_json *j, const char *key, int v);
void ks_json_raw(ks_json *j, const char *key, const char *json); /* a value already encoded */
void ks_json_end(ks_json *j);
/* The object, once ended; set a message's fields/fields_len to these. */
#define KS_JSON_PTR(j) ((const char *)(j)->buf.b)
#define KS_JSON_LEN(j) ((j)->buf.failed ? 0 : (j)->buf.len)
void ks_json_free(ks_json *j);

/* Encodes r in the ABI's wire encoding into b (appending). */
void ks_encode_record(ks_buf *b, const ks_record *r);
/* Encodes m as the manifest's JSON into b (appending). */
void ks_encode_manifest(ks_buf *b, const ks_manifest *m);

#ifdef KUBESHARK_IMPLEMENTATION

#include <stdlib.h>
#include <string.h>

#if defined(__wasm__) && !defined(KS_LIBC_STRINGS)
/* strlen, memchr and memcmp eight bytes at a time, in place of
 * wasi-libc's, which go a byte (memcmp) or four (strlen, memchr, after
 * aligning a byte at a time) per step: in wasm every step also pays a
 * bounds check and the host's interruption check, and clang turns a
 * strcmp with a literal into memcmp. Defined here, the module links these
 * and not libc's. An aligned eight-byte load never crosses a 64 KiB page,
 * so reading the whole word that holds a string's first or last byte
 * stays inside memory; bytes outside the string are masked off. Define
 * KS_LIBC_STRINGS to keep libc's. (RATIONALE.md, "C SDK string
 * functions".) */
typedef uint64_t __attribute__((__may_alias__, __aligned__(8))) ks__word;
#define KS__ONES 0x0101010101010101ULL
#define KS__HIGHS 0x8080808080808080ULL
/* The high bit of each zero byte of w (and maybe of bytes above the first
 * zero: only the lowest set bit is exact). */
static inline uint64_t ks__zeros(uint64_t w) { return (w - KS__ONES) & ~w & KS__HIGHS; }
/* w with its first k bytes (k < 8) made non-zero. */
static inline uint64_t ks__skip(uint64_t w, unsigned k) { return k ? w | (~0ULL >> (64 - 8 * k)) : w; }

#if defined(__wasm_simd128__)
/* With SIMD128 (kubeshark plugin build enables it), sixteen bytes a step:
 * aligned loads, and the bytes before the string masked off the first
 * block's bitmask. */
#include <wasm_simd128.h>
size_t strlen(const char *s) {
	unsigned k = (unsigned)((uintptr_t)s & 15);
	const char *p = s - k;
	uint32_t m = (uint32_t)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p), wasm_i8x16_splat(0))) >> k << k;
	while (!m) {
		p += 16;
		m = (uint32_t)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p), wasm_i8x16_splat(0)));
	}
	return (size_t)(p - s) + (size_t)__builtin_ctz(m);
}

void *memchr(const void *src, int c, size_t n) {
	if (!n) return 0;
	const unsigned char *s = (const unsigned char *)src;
	unsigned k = (unsigned)((uintptr_t)s & 15);
	const unsigned char *p = s - k;
	v128_t pat = wasm_i8x16_splat((int8_t)c);
	/* left: the bytes of interest from p on. */
	size_t left = n > (size_t)-1 - 16 ? (size_t)-1 : n + k;
	uint32_t m = (uint32_t)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p), pat)) >> k << k;
	for (;;) {
		if (m) {
			size_t i = (size_t)__builtin_ctz(m);
			return i < left ? (void *)(p + i) : 0;
		}
		if (left <= 16) return 0;
		left -= 16;
		p += 16;
		m = (uint32_t)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p), pat));
	}
}
#else
size_t strlen(const char *s) {
	unsigned k = (unsigned)((uintptr_t)s & 7);
	const ks__word *p = (const ks__word *)(s - k);
	uint64_t z = ks__zeros(ks__skip(*p, k));
	while (!z) z = ks__zeros(*++p);
	return (size_t)((const char *)p - s) + (__builtin_ctzll(z) >> 3);
}

void *memchr(const void *src, int c, size_t n) {
	if (!n) return 0;
	const unsigned char *s = (const unsigned char *)src;
	unsigned k = (unsigned)((uintptr_t)s & 7);
	const ks__word *p = (const ks__word *)(s - k);
	uint64_t pat = KS__ONES * (unsigned char)c;
	/* left: the bytes of interest from p on. */
	size_t left = n > (size_t)-1 - 8 ? (size_t)-1 : n + k;
	uint64_t z = ks__zeros(ks__skip(*p ^ pat, k));
	for (;;) {
		if (z) {
			size_t i = (size_t)__builtin_ctzll(z) >> 3;
			return i < left ? (void *)((const unsigned char *)p + i) : 0;
		}
		if (left <= 8) return 0;
		left -= 8;
		z = ks__zeros(*++p ^ pat);
	}
}
#endif

/* The difference of the first bytes that differ in two little-endian
 * words that do. */
static inline int ks__worddiff(uint64_t u, uint64_t v) {
	unsigned sh = (unsigned)__builtin_ctzll(u ^ v) & 56;
	return (int)((u >> sh) & 255) - (int)((v >> sh) & 255);
}

int memcmp(const void *a, const void *b, size_t n) {
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	uint64_t u, v;
	if (n >= 8) {
		for (; n > 8; x += 8, y += 8, n -= 8) {
			__builtin_memcpy(&u, x, 8);
			__builtin_memcpy(&v, y, 8);
			if (u != v) return ks__worddiff(u, v);
		}
		/* The last eight bytes, overlapping what is known equal. */
		__builtin_memcpy(&u, x + n - 8, 8);
		__builtin_memcpy(&v, y + n - 8, 8);
		return u == v ? 0 : ks__worddiff(u, v);
	}
	if (n >= 4) {
		uint32_t u1, v1, u2, v2;
		__builtin_memcpy(&u1, x, 4);
		__builtin_memcpy(&v1, y, 4);
		__builtin_memcpy(&u2, x + n - 4, 4);
		__builtin_memcpy(&v2, y + n - 4, 4);
		u = (uint64_t)u2 << 32 | u1;
		v = (uint64_t)v2 << 32 | v1;
		return u == v ? 0 : ks__worddiff(u, v);
	}
	for (; n; n--, x++, y++)
		if (*x != *y) return *x - *y;
	return 0;
}

int bcmp(const void *a, const void *b, size_t n) { return memcmp(a, b, n); }
#endif

#define KS_IMPORT(n) __attribute__((import_module("kubeshark"), import_name(n)))
#define KS_EXPORT(n) __attribute__((export_name(n)))

KS_IMPORT("register_buffer") void ks__register_buffer(uint8_t *ptr, uint32_t len);
KS_IMPORT("emit") void ks__emit(uint32_t kind, const void *ptr, uint32_t len);
KS_IMPORT("inflate") int32_t ks__inflate(uint32_t format, const void *src, uint32_t src_len, void *dst, uint32_t dst_cap);

int32_t ks_inflate(int format, const void *src, size_t src_len, void *dst, size_t dst_cap) {
	if (dst_cap == 0) return 0;
	return ks__inflate((uint32_t)format, src_len ? src : 0, (uint32_t)src_len, dst, (uint32_t)dst_cap);
}

void ks_buf_reset(ks_buf *b) { b->len = 0; b->failed = 0; }
void ks_buf_free(ks_buf *b) { free(b->b); b->b = 0; b->len = b->cap = 0; b->failed = 0; }

static int ks__grow(ks_buf *b, size_t n) {
	if (b->failed) return 0;
	if (b->len + n <= b->cap) return 1;
	size_t c = b->cap ? b->cap * 2 : 256;
	while (c < b->len + n) c *= 2;
	uint8_t *nb = realloc(b->b, c);
	if (!nb) { b->failed = 1; return 0; }
	b->b = nb;
	b->cap = c;
	return 1;
}

/* ks__copy is memcpy for the SDK's own appends, most of them a few bytes:
 * in wasm, memory.copy (what memcpy is, built with -mbulk-memory) is a
 * call out of compiled code into the host's memmove, which costs more than
 * moving a short string in two to four overlapping word loads and stores.
 * Longer copies still take memory.copy. */
static inline void ks__copy(uint8_t *d, const void *src, size_t n) {
#if defined(__wasm__)
	const uint8_t *s = (const uint8_t *)src;
	if (n <= 32) {
		uint64_t w0, w1, w2, w3;
		if (n >= 16) {
			__builtin_memcpy(&w0, s, 8);
			__builtin_memcpy(&w1, s + 8, 8);
			__builtin_memcpy(&w2, s + n - 16, 8);
			__builtin_memcpy(&w3, s + n - 8, 8);
			__builtin_memcpy(d, &w0, 8);
			__builtin_memcpy(d + 8, &w1, 8);
			__builtin_memcpy(d + n - 16, &w2, 8);
			__builtin_memcpy(d + n - 8, &w3, 8);
		} else if (n >= 8) {
			__builtin_memcpy(&w0, s, 8);
			__builtin_memcpy(&w1, s + n - 8, 8);
			__builtin_memcpy(d, &w0, 8);
			__builtin_memcpy(d + n - 8, &w1, 8);
		} else if (n >= 4) {
			uint32_t h0, h1;
			__builtin_memcpy(&h0, s, 4);
			__builtin_memcpy(&h1, s + n - 4, 4);
			__builtin_memcpy(d, &h0, 4);
			__builtin_memcpy(d + n - 4, &h1, 4);
		} else if (n) {
			uint8_t b0 = s[0], b1 = s[n / 2], b2 = s[n - 1];
			d[0] = b0;
			d[n / 2] = b1;
			d[n - 1] = b2;
		}
		return;
	}
#endif
	memcpy(d, src, n);
}

/* The buffer's fast paths write in place and call nothing while there is
 * room: in wasm every call and every libc loop also pays the host's
 * interruption check, so a byte appended through memcpy cost ten times one
 * stored directly. */
void ks_buf_put(ks_buf *b, const void *p, size_t n) {
	if (n == 0 || (b->len + n > b->cap && !ks__grow(b, n)) || b->failed) return;
	ks__copy(b->b + b->len, p, n);
	b->len += n;
}

static inline void ks__byte(ks_buf *b, uint8_t c) {
	if (b->len < b->cap && !b->failed) b->b[b->len++] = c;
	else ks_buf_put(b, &c, 1);
}

/* ks__room is where n more bytes go at the end of b, grown for them; 0
 * once an allocation failed. The encoders reserve a whole record's or a
 * whole key and value's room at once and then write with no check per
 * byte or per piece (RATIONALE.md, "C SDK: one reservation per piece"). */
static inline uint8_t *ks__room(ks_buf *b, size_t n) {
	if (b->failed || (b->len + n > b->cap && !ks__grow(b, n))) return 0;
	return b->b + b->len;
}

/* ks__varint writes v at p, which has room for ten bytes, and returns the
 * end. */
static inline uint8_t *ks__varint(uint8_t *p, uint64_t v) {
	while (v >= 0x80) {
		*p++ = (uint8_t)v | 0x80;
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint64_t ks__zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

/* ks__str writes a length-prefixed string at p (room for n + 10 bytes)
 * and returns the end. */
static inline uint8_t *ks__str(uint8_t *p, const char *s, size_t n) {
	p = ks__varint(p, n);
	if (n) ks__copy(p, s, n);
	return p + n;
}

void ks_buf_uvarint(ks_buf *b, uint64_t v) {
	uint8_t *p = ks__room(b, 10);
	if (p) b->len = (size_t)(ks__varint(p, v) - b->b);
}

void ks_buf_svarint(ks_buf *b, int64_t v) { ks_buf_uvarint(b, ks__zigzag(v)); }

void ks_buf_string(ks_buf *b, const char *s, size_t n) {
	uint8_t *p = ks__room(b, n + 10);
	if (p) b->len = (size_t)(ks__str(p, s, n) - b->b);
}

static inline size_t ks__len(const char *s) { return s ? strlen(s) : 0; }

static void ks__cstr(ks_buf *b, const char *s) { ks_buf_string(b, s ? s : "", ks__len(s)); }

#define KS__ONES64 0x0101010101010101ULL
#define KS__HIGHS64 0x8080808080808080ULL
/* The high bit of every byte of w that a JSON string must escape (below
 * 0x20, '"' or '\\'), and maybe of bytes above the first such: non-zero
 * exactly when there is one (the usual has-zero-byte tests; bytes >= 0x80
 * never need an escape, so UTF-8 passes whole). */
static inline uint64_t ks__esc64(uint64_t w) {
	uint64_t q = w ^ (KS__ONES64 * '"'), bs = w ^ (KS__ONES64 * '\\');
	return (((w - KS__ONES64 * 0x20) & ~w) | ((q - KS__ONES64) & ~q) | ((bs - KS__ONES64) & ~bs)) & KS__HIGHS64;
}
static inline uint32_t ks__esc32(uint32_t w) {
	const uint32_t ones = 0x01010101u;
	uint32_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
	return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & 0x80808080u;
}

/* ks__plain copies n bytes from s to d and says whether none of them needs
 * a JSON escape. Each word is loaded once, checked and stored; short
 * strings are two overlapping words (or three bytes) and no loop. A string
 * that needs escapes is written again by the careful path. */
static inline int ks__plain(uint8_t *d, const char *s, size_t n) {
#if defined(__wasm_simd128__)
	if (n >= 16) {
		const v128_t c20 = wasm_i8x16_splat(0x20), q = wasm_i8x16_splat('"'), bs = wasm_i8x16_splat('\\');
		v128_t v, bad = wasm_i8x16_splat(0);
		for (size_t i = 0; i + 16 < n; i += 16) {
			v = wasm_v128_load(s + i);
			bad = wasm_v128_or(bad, wasm_v128_or(wasm_u8x16_lt(v, c20), wasm_v128_or(wasm_i8x16_eq(v, q), wasm_i8x16_eq(v, bs))));
			wasm_v128_store(d + i, v);
		}
		v = wasm_v128_load(s + n - 16);
		bad = wasm_v128_or(bad, wasm_v128_or(wasm_u8x16_lt(v, c20), wasm_v128_or(wasm_i8x16_eq(v, q), wasm_i8x16_eq(v, bs))));
		wasm_v128_store(d + n - 16, v);
		return !wasm_v128_any_true(bad);
	}
#endif
	if (n >= 8) {
		uint64_t w, bad = 0;
		for (size_t i = 0; i + 8 < n; i += 8) {
			__builtin_memcpy(&w, s + i, 8);
			bad |= ks__esc64(w);
			__builtin_memcpy(d + i, &w, 8);
		}
		__builtin_memcpy(&w, s + n - 8, 8);
		bad |= ks__esc64(w);
		__builtin_memcpy(d + n - 8, &w, 8);
		return !bad;
	}
	if (n >= 4) {
		uint32_t u, v;
		__builtin_memcpy(&u, s, 4);
		__builtin_memcpy(&v, s + n - 4, 4);
		__builtin_memcpy(d, &u, 4);
		__builtin_memcpy(d + n - 4, &v, 4);
		return !(ks__esc32(u) | ks__esc32(v));
	}
	if (n) {
		uint8_t b0 = (uint8_t)s[0], b1 = (uint8_t)s[n / 2], b2 = (uint8_t)s[n - 1];
		d[0] = b0;
		d[n / 2] = b1;
		d[n - 1] = b2;
		/* 'A' fills the fourth byte, which needs no escape. */
		return !ks__esc32((uint32_t)b0 | (uint32_t)b1 << 8 | (uint32_t)b2 << 16 | 0x41000000u);
	}
	return 1;
}

/* ks__json_escaped appends s as a JSON string, escaping what must be. */
static void ks__json_escaped(ks_buf *b, const char *s, size_t n) {
	static const char hex[] = "0123456789abcdef";
	ks__byte(b, '"');
	size_t run = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		__builtin_memcpy(&w, s + i, 8);
		if (ks__esc64(w)) break;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') continue;
		ks_buf_put(b, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			ks_buf_put(b, e, 2);
		} else {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			ks_buf_put(b, e, 6);
		}
	}
	ks_buf_put(b, s + run, n - run);
	ks__byte(b, '"');
}

void ks_buf_json_string(ks_buf *b, const char *s, size_t n) {
	uint8_t *d = ks__room(b, n + 2);
	if (d && ks__plain(d + 1, s, n)) {
		d[0] = '"';
		d[n + 1] = '"';
		b->len += n + 2;
		return;
	}
	ks__json_escaped(b, s, n);
}

static void ks__json_cstr(ks_buf *b, const char *s) { ks_buf_json_string(b, s ? s : "", ks__len(s)); }

void ks_json_begin(ks_json *j) { ks_buf_reset(&j->buf); j->n = 0; ks__byte(&j->buf, '{'); }

/* ks__json_key writes the comma before a member, its key and the colon,
 * and returns where the value goes with room for more bytes; 0 once an
 * allocation failed. */
static uint8_t *ks__json_key(ks_json *j, const char *key, size_t more) {
	ks_buf *b = &j->buf;
	size_t kn = strlen(key);
	uint8_t *p = ks__room(b, kn + 4 + more);
	if (p) {
		uint8_t *q = p + (j->n ? 1 : 0);
		if (ks__plain(q + 1, key, kn)) {
			p[0] = ',';
			q[0] = '"';
			q[kn + 1] = '"';
			q[kn + 2] = ':';
			j->n++;
			b->len = (size_t)(q + kn + 3 - b->b);
			return q + kn + 3;
		}
	}
	if (j->n++) ks__byte(b, ',');
	ks__json_escaped(b, key, kn);
	ks__byte(b, ':');
	return ks__room(b, more);
}

void ks_json_str(ks_json *j, const char *key, const char *s, size_t n) {
	uint8_t *p = ks__json_key(j, key, n + 2);
	if (p && ks__plain(p + 1, s, n)) {
		p[0] = '"';
		p[n + 1] = '"';
		j->buf.len += n + 2;
		return;
	}
	ks__json_escaped(&j->buf, s, n);
}

void ks_json_int(ks_json *j, const char *key, int64_t v) {
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t nd = 1;
	for (uint64_t p = 10; nd < 20 && u >= p; p *= 10) nd++;
	uint8_t *p = ks__json_key(j, key, nd + 1);
	if (!p) return;
	if (v < 0) *p++ = '-';
	j->buf.len = (size_t)(p + nd - j->buf.b);
	/* The digits backwards from the end, in place; by 32-bit division by
	 * ten once the value fits, which wasm does with a multiplication (a
	 * 64-bit one is a division instruction). */
	p += nd;
	for (; u > 0xFFFFFFFFu; u /= 10) *--p = (uint8_t)('0' + u % 10);
	uint32_t w = (uint32_t)u;
	do { *--p = (uint8_t)('0' + w % 10); w /= 10; } while (w);
}

void ks_json_bool(ks_json *j, const char *key, int v) {
	uint8_t *p = ks__json_key(j, key, 5);
	if (!p) return;
	ks__copy(p, v ? "true" : "false", v ? 4 : 5);
	j->buf.len += v ? 4 : 5;
}

void ks_json_raw(ks_json *j, const char *key, const char *json) {
	size_t n = strlen(json);
	uint8_t *p = ks__json_key(j, key, n);
	if (!p) return;
	ks__copy(p, json, n);
	j->buf.len += n;
}

void ks_json_end(ks_json *j) { ks__byte(&j->buf, '}'); }
void ks_json_free(ks_json *j) { ks_buf_free(&j->buf); }

static void ks__message(ks_buf *b, const ks_message *m) {
	if (!m) { ks__byte(b, 0); return; }
	ks__byte(b, 1);
	ks_buf_uvarint(b, m->n_headers);
	for (size_t i = 0; i < m->n_headers; i++) {
		ks__cstr(b, m->headers[i].name);
		ks__cstr(b, m->headers[i].value);
	}
	/* The rest in one reservation. */
	size_t bn = m->body ? m->body_len : 0, en = ks__len(m->encoding), fn = m->fields ? m->fields_len : 0;
	uint8_t *p = ks__room(b, bn + en + fn + 51);
	if (!p) return;
	p = ks__str(p, m->body, bn);
	p = ks__str(p, m->encoding, en);
	*p++ = m->body_truncated ? 1 : 0;
	p = ks__varint(p, ks__zigzag(m->body_size));
	p = ks__varint(p, ks__zigzag(m->size));
	p = ks__str(p, m->fields, fn);
	b->len = (size_t)(p - b->b);
}

void ks_encode_record(ks_buf *b, const ks_record *r) {
	/* Everything before the messages in one reservation: six strings, three
	 * varints, three bytes. */
	size_t n0 = ks__len(r->protocol), n1 = ks__len(r->method), n2 = ks__len(r->path),
	       n3 = ks__len(r->status_text), n4 = ks__len(r->error), n5 = ks__len(r->summary);
	uint8_t *p = ks__room(b, n0 + n1 + n2 + n3 + n4 + n5 + 6 * 10 + 3 * 10 + 3);
	if (!p) return;
	*p++ = 1; /* wire version */
	p = ks__str(p, r->protocol, n0);
	p = ks__str(p, r->method, n1);
	p = ks__str(p, r->path, n2);
	p = ks__varint(p, ks__zigzag(r->status));
	p = ks__str(p, r->status_text, n3);
	*p++ = r->failed ? 1 : 0;
	p = ks__str(p, r->error, n4);
	p = ks__str(p, r->summary, n5);
	p = ks__varint(p, ks__zigzag(r->timestamp_ns));
	p = ks__varint(p, ks__zigzag(r->end_ns));
	*p++ = (uint8_t)(r->request_dir & 1);
	b->len = (size_t)(p - b->b);
	ks__message(b, r->request);
	ks__message(b, r->response);
}

static void ks__json_strings(ks_buf *b, const char *const *list) {
	ks__byte(b, '[');
	for (size_t i = 0; list && list[i]; i++) {
		if (i) ks__byte(b, ',');
		ks__json_cstr(b, list[i]);
	}
	ks__byte(b, ']');
}

void ks_encode_manifest(ks_buf *b, const ks_manifest *m) {
	ks_buf_put(b, "{\"name\":", 8);
	ks__json_cstr(b, m->name);
	ks_buf_put(b, ",\"version\":", 11);
	ks__json_cstr(b, m->version);
	ks_buf_put(b, ",\"description\":", 15);
	ks__json_cstr(b, m->description);
	ks_buf_put(b, ",\"protocols\":", 13);
	ks__json_strings(b, m->protocols);
	ks_buf_put(b, ",\"transports\":", 14);
	ks__json_strings(b, m->transports);
	ks_buf_put(b, ",\"port_hints\":[", 15);
	for (size_t i = 0; i < m->n_port_hints; i++) {
		if (i) ks__byte(b, ',');
		char t[8];
		int n = 0;
		unsigned v = m->port_hints[i];
		do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
		while (n) ks__byte(b, (uint8_t)t[--n]);
	}
	ks_buf_put(b, "],\"fields\":[", 12);
	for (size_t i = 0; i < m->n_fields; i++) {
		if (i) ks__byte(b, ',');
		ks_buf_put(b, "{\"name\":", 8);
		ks__json_cstr(b, m->fields[i].name);
		ks_buf_put(b, ",\"type\":", 8);
		ks__json_cstr(b, m->fields[i].type);
		ks_buf_put(b, ",\"description\":", 15);
		ks__json_cstr(b, m->fields[i].description);
		ks__byte(b, '}');
	}
	ks_buf_put(b, "]}", 2);
}

static ks_buf ks__rec;
static uint8_t *ks__stream;
static uint32_t ks__stream_len;

void ks_emit_record(const ks_record *r) {
	ks_buf *b = &ks__rec;
#if defined(__wasm__)
	/* The buffer is reached through a pointer the compiler cannot see is
	 * the constant &ks__rec. Otherwise it propagates the constant into
	 * ks_encode_record and ks__message (their only caller passes it), and
	 * every b->len, b->cap, b->failed becomes a load from a fixed address:
	 * wazero bounds-checks each of those on its own (its checks are known
	 * safe per base value, and every i32.const is a new one), where the
	 * fields of one pointer share one check. RATIONALE.md, "C SDK: the
	 * record buffer through a pointer". */
	__asm__("" : "+r"(b));
#endif
	ks_buf_reset(b);
	ks_encode_record(b, r);
	if (!b->failed) ks__emit(KS_EMIT_RECORD, b->b, (uint32_t)b->len);
	else ks_log("kubeshark.h: out of memory encoding a record");
}

void ks_emit_encoded(const void *rec, size_t n) { ks__emit(KS_EMIT_RECORD, rec, (uint32_t)n); }

void ks_log(const char *msg) { ks__emit(KS_EMIT_LOG, msg, (uint32_t)strlen(msg)); }
void ks_switch(const char *hint) { ks__emit(KS_EMIT_SWITCH, hint, (uint32_t)strlen(hint)); }

/* Connections: an open-addressing table from the host's id to the
 * plugin's state, doubled when half full. */
typedef struct { uint64_t id; void *conn; int used; } ks__slot;
static ks__slot *ks__conns;
static size_t ks__nconns, ks__capconns;

static size_t ks__hash(uint64_t id, size_t cap) {
	id ^= id >> 33; id *= 0xff51afd7ed558ccdULL; id ^= id >> 33;
	return (size_t)(id & (cap - 1));
}

static ks__slot *ks__find(uint64_t id) {
	if (!ks__capconns) return 0;
	for (size_t i = ks__hash(id, ks__capconns);; i = (i + 1) & (ks__capconns - 1)) {
		if (!ks__conns[i].used) return 0;
		if (ks__conns[i].id == id) return &ks__conns[i];
	}
}

static int ks__insert(uint64_t id, void *conn);

static int ks__rehash(size_t cap) {
	ks__slot *old = ks__conns;
	size_t oldcap = ks__capconns;
	ks__slot *n = calloc(cap, sizeof *n);
	if (!n) return 0;
	ks__conns = n;
	ks__capconns = cap;
	ks__nconns = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used) ks__insert(old[i].id, old[i].conn);
	free(old);
	return 1;
}

static int ks__insert(uint64_t id, void *conn) {
	if ((ks__nconns + 1) * 2 > ks__capconns && !ks__rehash(ks__capconns ? ks__capconns * 2 : 64)) return 0;
	size_t i = ks__hash(id, ks__capconns);
	while (ks__conns[i].used && ks__conns[i].id != id) i = (i + 1) & (ks__capconns - 1);
	if (!ks__conns[i].used) ks__nconns++;
	ks__conns[i] = (ks__slot){id, conn, 1};
	return 1;
}

static void ks__remove(ks__slot *s) {
	/* backward-shift deletion keeps probe chains whole */
	size_t i = (size_t)(s - ks__conns), mask = ks__capconns - 1;
	ks__conns[i].used = 0;
	ks__nconns--;
	for (size_t j = (i + 1) & mask; ks__conns[j].used; j = (j + 1) & mask) {
		ks__slot t = ks__conns[j];
		ks__conns[j].used = 0;
		ks__nconns--;
		ks__insert(t.id, t.conn);
	}
}

KS_EXPORT("kubeshark_abi_v1") int32_t ks__abi_v1(void) { return KS_ABI_VERSION; }

KS_EXPORT("kubeshark_init") int32_t ks__init(int32_t size) {
	ks__stream = malloc((size_t)(uint32_t)size);
	if (!ks__stream) return 1;
	ks__stream_len = (uint32_t)size;
	ks__register_buffer(ks__stream, ks__stream_len);
	return 0;
}

KS_EXPORT("kubeshark_describe") void ks__describe(void) {
	ks_buf b = {0};
	ks_encode_manifest(&b, ks_plugin_manifest());
	if (!b.failed) ks__emit(KS_EMIT_MANIFEST, b.b, (uint32_t)b.len);
	ks_buf_free(&b);
}

static uint32_t ks__view(int32_t len) {
	uint32_t n = (uint32_t)len;
	return n > ks__stream_len ? ks__stream_len : n;
}

KS_EXPORT("kubeshark_probe") uint32_t ks__probe(int32_t dir, int32_t len) {
	return ks_plugin_probe(dir & 1, ks__stream, ks__view(len));
}

KS_EXPORT("kubeshark_open") void ks__open(int64_t id, int32_t flags, int32_t port_a, int32_t port_b) {
	ks_conn_info info = {(uint64_t)id, (uint16_t)port_a, (uint16_t)port_b, flags & 1, (flags >> 1) & 1};
	void *c = ks_plugin_open(&info);
	if (c && !ks__insert((uint64_t)id, c)) ks_plugin_close(c, 0);
}

KS_EXPORT("kubeshark_feed") uint64_t ks__feed(int64_t id, int32_t dir, int32_t len, int64_t first, int64_t last) {
	ks__slot *s = ks__find((uint64_t)id);
	if (!s) return 0xFFFFFFFFu;
	uint32_t need = 0;
	int64_t used = ks_plugin_feed(s->conn, dir & 1, ks__stream, ks__view(len), first, last, &need);
	uint64_t c = used < 0 ? 0xFFFFFFFFu : (uint64_t)(uint32_t)used;
	return (uint64_t)need << 32 | c;
}

KS_EXPORT("kubeshark_gap") void ks__gap(int64_t id, int32_t dir, int32_t n, int64_t ts) {
	ks__slot *s = ks__find((uint64_t)id);
	if (s) ks_plugin_gap(s->conn, dir & 1, (uint32_t)n, ts);
}

KS_EXPORT("kubeshark_close") void ks__close(int64_t id, int64_t ts) {
	ks__slot *s = ks__find((uint64_t)id);
	if (!s) return;
	void *c = s->conn;
	ks__remove(s);
	ks_plugin_close(c, ts);
}

#endif /* KUBESHARK_IMPLEMENTATION */

#ifdef __cplusplus
}
#endif
#endif /* KUBESHARK_H */
