/* pingpong with the C SDK (sdk/c/kubeshark.h): the same protocol and
 * records as plugins/testdata/pingpong (Go).
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -I ../../../sdk/c -o pingpong.wasm pingpong.c
 */
#define KUBESHARK_IMPLEMENTATION
#include "kubeshark.h"

#include <stdlib.h>
#include <string.h>

static const char *const protocols[] = {"pingpong", 0};
static const char *const transports[] = {"tcp", 0};
static const ks_field fields[] = {
	{"pingpong_name", "string", "the name a PING carried"},
	{"pingpong_n", "int", "the count a PONG answered"},
};
static const ks_manifest manifest = {
	.name = "pingpong", .version = "1.0.0", .description = "PING/PONG test protocol",
	.protocols = protocols, .transports = transports, .fields = fields, .n_fields = 2,
};

const ks_manifest *ks_plugin_manifest(void) { return &manifest; }

static int has_prefix(const uint8_t *b, uint32_t n, const char *p) {
	size_t k = strlen(p);
	return n >= k && memcmp(b, p, k) == 0;
}

uint32_t ks_plugin_probe(int dir, const uint8_t *data, uint32_t len) {
	(void)dir;
	if (has_prefix(data, len, "PING ")) return KS_PROBE(90);
	if (has_prefix(data, len, "PONG ")) return KS_PROBE(90) | KS_PROBE_FROM_SERVER;
	if (len < 5 && (memcmp(data, "PING ", len) == 0 || memcmp(data, "PONG ", len) == 0)) return KS_PROBE_NEED_MORE;
	return KS_PROBE(0);
}

struct ping { char *name; size_t len; int64_t at; struct ping *next; };
struct conn { struct ping *head, *tail; };

void *ks_plugin_open(const ks_conn_info *info) {
	(void)info;
	return calloc(1, sizeof(struct conn));
}

static void drop(struct conn *c) {
	while (c->head) {
		struct ping *p = c->head;
		c->head = p->next;
		free(p->name);
		free(p);
	}
	c->tail = 0;
}

void ks_plugin_gap(void *conn, int dir, uint32_t n, int64_t ts) { (void)dir; (void)n; (void)ts; drop(conn); }
void ks_plugin_close(void *conn, int64_t ts) { (void)ts; drop(conn); free(conn); }

int64_t ks_plugin_feed(void *conn, int dir, const uint8_t *data, uint32_t len, int64_t first, int64_t last, uint32_t *need) {
	struct conn *c = conn;
	uint32_t used = 0;
	(void)need;
	for (;;) {
		const uint8_t *line = data + used;
		const uint8_t *nl = memchr(line, '\n', len - used);
		if (!nl) return used;
		uint32_t ll = (uint32_t)(nl - line);
		used += ll + 1;
		if (dir == KS_DIR_A) {
			if (!has_prefix(line, ll, "PING ")) return KS_REJECT;
			struct ping *p = calloc(1, sizeof *p);
			if (!p) return KS_REJECT;
			p->len = ll - 5;
			p->name = malloc(p->len + 1);
			memcpy(p->name, line + 5, p->len);
			p->name[p->len] = 0;
			p->at = first;
			if (c->tail) c->tail->next = p; else c->head = p;
			c->tail = p;
			continue;
		}
		if (!has_prefix(line, ll, "PONG ") || ll == 5 || !c->head) return KS_REJECT;
		int64_t n = 0;
		for (uint32_t i = 5; i < ll; i++) {
			if (line[i] < '0' || line[i] > '9') return KS_REJECT;
			n = n * 10 + (line[i] - '0');
		}
		struct ping *p = c->head;
		c->head = p->next;
		if (!c->head) c->tail = 0;

		ks_json req = {0}, resp = {0};
		ks_json_begin(&req);
		ks_json_str(&req, "pingpong_name", p->name, p->len);
		ks_json_end(&req);
		ks_json_begin(&resp);
		ks_json_int(&resp, "pingpong_n", n);
		ks_json_end(&resp);
		ks_message rq = {.fields = KS_JSON_PTR(&req), .fields_len = KS_JSON_LEN(&req)};
		ks_message rs = {.fields = KS_JSON_PTR(&resp), .fields_len = KS_JSON_LEN(&resp)};
		ks_record r = {
			.protocol = "pingpong", .method = "PING", .path = p->name, .status = 200, .status_text = "PONG",
			.timestamp_ns = p->at, .end_ns = last, .request_dir = KS_DIR_A, .request = &rq, .response = &rs,
		};
		ks_emit_record(&r);
		ks_json_free(&req);
		ks_json_free(&resp);
		free(p->name);
		free(p);
	}
}
