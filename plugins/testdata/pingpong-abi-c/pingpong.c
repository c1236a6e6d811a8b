/*
 * pingpong written from sdk/ABI.md alone, in C, without any SDK: the test
 * that the document is enough. Same protocol and records as
 * plugins/testdata/pingpong (Go): the client sends "PING name\n", the
 * server answers "PONG n\n"; each exchange is one record.
 *
 *   clang-14 --target=wasm32-wasi -O2 -mexec-model=reactor -o pingpong.wasm pingpong.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("kubeshark"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("register_buffer") void register_buffer(uint8_t *ptr, uint32_t len);
IMPORT("emit") void emit(uint32_t kind, const uint8_t *ptr, uint32_t len);

static uint8_t *buf;

EXPORT("kubeshark_abi_v1") int32_t abi_v1(void) { return 1; }

EXPORT("kubeshark_init") int32_t init(int32_t size) {
	buf = malloc((size_t)size);
	if (!buf) return 1;
	register_buffer(buf, (uint32_t)size);
	return 0;
}

static const char manifest[] =
	"{\"name\":\"pingpong\",\"version\":\"1.0.0\",\"description\":\"PING/PONG test protocol\","
	"\"protocols\":[\"pingpong\"],\"transports\":[\"tcp\"],\"fields\":["
	"{\"name\":\"pingpong_name\",\"type\":\"string\",\"description\":\"the name a PING carried\"},"
	"{\"name\":\"pingpong_n\",\"type\":\"int\",\"description\":\"the count a PONG answered\"}]}";

EXPORT("kubeshark_describe") void describe(void) {
	emit(2, (const uint8_t *)manifest, sizeof manifest - 1);
}

static int has_prefix(const uint8_t *b, uint32_t n, const char *p) {
	uint32_t k = (uint32_t)strlen(p);
	return n >= k && memcmp(b, p, k) == 0;
}

EXPORT("kubeshark_probe") int32_t probe(int32_t dir, int32_t len) {
	uint32_t n = (uint32_t)len;
	(void)dir;
	if (has_prefix(buf, n, "PING ")) return 90;
	if (has_prefix(buf, n, "PONG ")) return 90 | 1 << 8;
	if (n < 5 && (memcmp(buf, "PING ", n) == 0 || memcmp(buf, "PONG ", n) == 0)) return 1 << 9;
	return 0;
}

/* Connections: a list; a PING waits in its connection's queue for its PONG. */
struct ping { char *name; uint32_t len; int64_t at; struct ping *next; };
struct conn { uint64_t id; struct ping *head, *tail; struct conn *next; };
static struct conn *conns;

static struct conn *find(uint64_t id) {
	for (struct conn *c = conns; c; c = c->next)
		if (c->id == id) return c;
	return 0;
}

static void drop_pings(struct conn *c) {
	while (c->head) {
		struct ping *p = c->head;
		c->head = p->next;
		free(p->name);
		free(p);
	}
	c->tail = 0;
}

EXPORT("kubeshark_open") void open_conn(int64_t id, int32_t flags, int32_t port_a, int32_t port_b) {
	(void)flags; (void)port_a; (void)port_b;
	struct conn *c = calloc(1, sizeof *c);
	if (!c) abort();
	c->id = (uint64_t)id;
	c->next = conns;
	conns = c;
}

EXPORT("kubeshark_close") void close_conn(int64_t id, int64_t ts) {
	(void)ts;
	for (struct conn **pc = &conns; *pc; pc = &(*pc)->next) {
		if ((*pc)->id == (uint64_t)id) {
			struct conn *c = *pc;
			*pc = c->next;
			drop_pings(c);
			free(c);
			return;
		}
	}
}

EXPORT("kubeshark_gap") void gap(int64_t id, int32_t dir, int32_t n, int64_t ts) {
	(void)dir; (void)n; (void)ts;
	struct conn *c = find((uint64_t)id);
	if (c) drop_pings(c);
}

/* The record wire encoding of ABI.md. */
static uint8_t rec[4096];
static uint32_t rlen;

static void put_byte(uint8_t b) { if (rlen < sizeof rec) rec[rlen++] = b; }
static void put_uvarint(uint64_t v) {
	while (v >= 0x80) { put_byte((uint8_t)v | 0x80); v >>= 7; }
	put_byte((uint8_t)v);
}
static void put_svarint(int64_t v) { put_uvarint(((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }
static void put_bytes(const void *p, uint32_t n) {
	put_uvarint(n);
	for (uint32_t i = 0; i < n; i++) put_byte(((const uint8_t *)p)[i]);
}
static void put_str(const char *s) { put_bytes(s, (uint32_t)strlen(s)); }

/* A message with no headers and no body whose fields are the JSON given. */
static void put_message(const char *json, uint32_t n) {
	put_byte(1);       /* present */
	put_uvarint(0);    /* headers */
	put_str("");       /* body */
	put_str("");       /* encoding */
	put_byte(0);       /* body_truncated */
	put_svarint(0);    /* body_size */
	put_svarint(0);    /* size */
	put_bytes(json, n);
}

static const uint64_t REJECT = 0xFFFFFFFFu;

EXPORT("kubeshark_feed") int64_t feed(int64_t id, int32_t dir, int32_t len, int64_t first, int64_t last) {
	struct conn *c = find((uint64_t)id);
	if (!c) return (int64_t)REJECT;
	uint32_t n = (uint32_t)len, used = 0;
	for (;;) {
		uint8_t *line = buf + used;
		uint8_t *nl = memchr(line, '\n', n - used);
		if (!nl) return used;
		uint32_t ll = (uint32_t)(nl - line);
		used += ll + 1;
		if (dir == 0) {
			if (!has_prefix(line, ll, "PING ")) return (int64_t)REJECT;
			struct ping *p = calloc(1, sizeof *p);
			if (!p) abort();
			p->len = ll - 5;
			p->name = malloc(p->len + 1);
			memcpy(p->name, line + 5, p->len);
			p->name[p->len] = 0;
			p->at = first;
			if (c->tail) c->tail->next = p; else c->head = p;
			c->tail = p;
			continue;
		}
		if (!has_prefix(line, ll, "PONG ") || ll == 5 || !c->head) return (int64_t)REJECT;
		int64_t count = 0;
		for (uint32_t i = 5; i < ll; i++) {
			if (line[i] < '0' || line[i] > '9') return (int64_t)REJECT;
			count = count * 10 + (line[i] - '0');
		}
		struct ping *p = c->head;
		c->head = p->next;
		if (!c->head) c->tail = 0;

		char req[600], resp[64];
		uint32_t rq = 0;
		memcpy(req, "{\"pingpong_name\":\"", 18); rq = 18;
		for (uint32_t i = 0; i < p->len && rq < sizeof req - 8; i++) {
			char ch = p->name[i];
			if (ch == '"' || ch == '\\') req[rq++] = '\\';
			if ((unsigned char)ch < 0x20) ch = '?';
			req[rq++] = ch;
		}
		memcpy(req + rq, "\"}", 2); rq += 2;
		/* the count, in decimal */
		char digits[24]; int nd = 0; int64_t v = count;
		do { digits[nd++] = (char)('0' + v % 10); v /= 10; } while (v);
		uint32_t rs = 0;
		memcpy(resp, "{\"pingpong_n\":", 14); rs = 14;
		while (nd) resp[rs++] = digits[--nd];
		resp[rs++] = '}';

		rlen = 0;
		put_byte(1);            /* wire version */
		put_str("pingpong");    /* protocol */
		put_str("PING");        /* method */
		put_bytes(p->name, p->len); /* path */
		put_svarint(200);       /* status */
		put_str("PONG");        /* status_text */
		put_byte(0);            /* failed */
		put_str("");            /* error */
		put_str("");            /* summary */
		put_svarint(p->at);     /* timestamp_ns */
		put_svarint(last);      /* end_ns */
		put_byte(0);            /* request_dir: A */
		put_message(req, rq);
		put_message(resp, rs);
		emit(1, rec, rlen);
		free(p->name);
		free(p);
	}
}
