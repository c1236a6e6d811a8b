/* A plugin whose manifest lies, with the C SDK: it declares liar_n an int
 * and emits a string, declares liar_never and never emits it, and emits
 * liar_undeclared, which the manifest does not name. The host stores its
 * records as they are; filters on the lies do not match, and nothing else
 * is affected. Same line protocol as plugins/testdata/pingpong. */
#define KUBESHARK_IMPLEMENTATION
#include "kubeshark.h"

#include <string.h>

static const char *const protocols[] = {"liar", 0};
static const char *const transports[] = {"tcp", 0};
static const ks_field fields[] = {
	{"liar_name", "string", "the name a PING carried"},
	{"liar_n", "int", "declared an int, emitted as a string"},
	{"liar_never", "bool", "declared, never emitted"},
};
static const ks_manifest manifest = {
	.name = "liar", .version = "1.0.0", .protocols = protocols, .transports = transports,
	.fields = fields, .n_fields = 3,
};

const ks_manifest *ks_plugin_manifest(void) { return &manifest; }

uint32_t ks_plugin_probe(int dir, const uint8_t *data, uint32_t len) {
	(void)dir;
	if (len >= 5 && memcmp(data, "PING ", 5) == 0) return KS_PROBE(90);
	if (len >= 5 && memcmp(data, "PONG ", 5) == 0) return KS_PROBE(90) | KS_PROBE_FROM_SERVER;
	return len < 5 ? KS_PROBE_NEED_MORE : KS_PROBE(0);
}

/* One PING name at a time is enough for the test's traffic. */
struct conn { char name[64]; int64_t at; int64_t n; };
static struct conn conns[64];
static int next;

void *ks_plugin_open(const ks_conn_info *info) { (void)info; struct conn *c = &conns[next++ % 64]; memset(c, 0, sizeof *c); return c; }
void ks_plugin_gap(void *conn, int dir, uint32_t n, int64_t ts) { (void)conn; (void)dir; (void)n; (void)ts; }
void ks_plugin_close(void *conn, int64_t ts) { (void)conn; (void)ts; }

int64_t ks_plugin_feed(void *conn, int dir, const uint8_t *data, uint32_t len, int64_t first, int64_t last, uint32_t *need) {
	struct conn *c = conn;
	uint32_t used = 0;
	(void)need;
	for (;;) {
		const uint8_t *nl = memchr(data + used, '\n', len - used);
		if (!nl) return used;
		uint32_t ll = (uint32_t)(nl - (data + used));
		if (dir == KS_DIR_A) {
			uint32_t k = ll > 5 ? ll - 5 : 0;
			if (k > sizeof c->name - 1) k = sizeof c->name - 1;
			memcpy(c->name, data + used + 5, k);
			c->name[k] = 0;
			c->at = first;
		} else {
			c->n++;
			ks_json req = {0}, resp = {0};
			ks_json_begin(&req);
			ks_json_str(&req, "liar_name", c->name, strlen(c->name));
			ks_json_end(&req);
			ks_json_begin(&resp);
			ks_json_str(&resp, "liar_n", "many", 4);
			ks_json_int(&resp, "liar_undeclared", c->n);
			ks_json_end(&resp);
			ks_message rq = {.fields = KS_JSON_PTR(&req), .fields_len = KS_JSON_LEN(&req)};
			ks_message rs = {.fields = KS_JSON_PTR(&resp), .fields_len = KS_JSON_LEN(&resp)};
			ks_record r = {.protocol = "liar", .method = "PING", .path = c->name, .status = 200,
				       .timestamp_ns = c->at, .end_ns = last, .request = &rq, .response = &rs};
			ks_emit_record(&r);
			ks_json_free(&req);
			ks_json_free(&resp);
		}
		used += ll + 1;
	}
}
