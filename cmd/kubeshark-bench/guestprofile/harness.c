/* Plays a plugin benchmark workload (kubeshark-bench -plugin-workload)
 * through a C plugin's module translated by wasm2c (module name "guest"):
 * the loop of the benchmark's native C harness (cmd/kubeshark-bench,
 * cHarness) with the module's exports in place of the SDK's functions.
 * Usage: harness WORKLOAD PASSES. See guestprofile.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "guest.h"

struct Z_kubeshark_instance_t { uint32_t buf, cap; long nrec; };
void Z_kubesharkZ_register_buffer(struct Z_kubeshark_instance_t *k, u32 p, u32 n) { k->buf = p; k->cap = n; }
void Z_kubesharkZ_emit(struct Z_kubeshark_instance_t *k, u32 kind, u32 p, u32 n) { (void)p; (void)n; if (kind == 1) k->nrec++; }

typedef struct { uint32_t conn; int dir; uint32_t len; const uint8_t *data; } seg;
static seg *segs; static size_t nseg; static uint64_t next_id = 1; static long consumed;
static uint8_t *pend[2]; static size_t plen[2], pcap[2];
static Z_guest_instance_t g; static struct Z_kubeshark_instance_t k;

static void append(int d, const uint8_t *p, size_t n) {
	if (plen[d] + n > pcap[d]) { pcap[d] = (plen[d] + n) * 2; pend[d] = realloc(pend[d], pcap[d]); }
	memcpy(pend[d] + plen[d], p, n); plen[d] += n;
}

static int pass(void) {
	size_t i = 0;
	while (i < nseg) {
		uint32_t c = segs[i].conn; uint64_t id = next_id++;
		Z_guestZ_kubeshark_open(&g, id, 1, 40000, 11300);
		plen[0] = plen[1] = 0;
		int64_t ts = 1;
		for (; i < nseg && segs[i].conn == c; i++) {
			int d = segs[i].dir; ts++;
			append(d, segs[i].data, segs[i].len);
			size_t off = 0;
			while (off < plen[d]) {
				uint32_t n = plen[d] - off < k.cap ? (uint32_t)(plen[d] - off) : k.cap;
				memcpy(g.w2c_memory.data + k.buf, pend[d] + off, n);
				uint64_t r = Z_guestZ_kubeshark_feed(&g, id, d, n, ts, ts);
				uint32_t used = (uint32_t)r;
				if (used == 0xFFFFFFFFu) { fprintf(stderr, "rejected\n"); return 1; }
				if (used == 0) break;
				off += used; consumed += used;
			}
			memmove(pend[d], pend[d] + off, plen[d] - off); plen[d] -= off;
		}
		if (plen[0] || plen[1]) { fprintf(stderr, "unconsumed bytes\n"); return 1; }
		Z_guestZ_kubeshark_close(&g, id, ts + 1);
	}
	return 0;
}

int main(int argc, char **argv) {
	FILE *f = fopen(argv[1], "rb"); if (!f) return 2;
	fseek(f, 0, SEEK_END); long sz = ftell(f); fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(sz); if (fread(b, 1, sz, f) != (size_t)sz) return 2; fclose(f);
	int passes = atoi(argv[2]);
	for (long o = 0; o < sz; nseg++) { uint32_t n; memcpy(&n, b + o + 5, 4); o += 9 + n; }
	segs = calloc(nseg, sizeof *segs);
	long o = 0;
	for (size_t j = 0; j < nseg; j++) {
		memcpy(&segs[j].conn, b + o, 4); segs[j].dir = b[o + 4]; memcpy(&segs[j].len, b + o + 5, 4);
		segs[j].data = b + o + 9; o += 9 + segs[j].len;
	}
	wasm_rt_init();
	Z_guest_init_module();
	Z_guest_instantiate(&g, &k);
	Z_guestZ__initialize(&g);
	if (Z_guestZ_kubeshark_init(&g, 256 << 10)) return 3; /* workload.MaxFeed */
	for (int p = 0; p < passes; p++) if (pass()) return 1;
	printf("passes=%d records=%ld consumed=%ld\n", passes, k.nrec, consumed);
	return 0;
}
