/* A hostile C guest, written against sdk/ABI.md without the SDK. It claims
 * every stream and then misbehaves in its feed as one HOSTILE_* macro
 * says; plugins/devkit's tests check that the host contains each. */
#include <stdint.h>
#include <stdlib.h>

#define IMPORT(name) __attribute__((import_module("kubeshark"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("register_buffer") void register_buffer(uint8_t *ptr, uint32_t len);
IMPORT("emit") void emit(uint32_t kind, const void *ptr, uint32_t len);
#ifdef HOSTILE_UNKNOWN_IMPORT
IMPORT("open_socket") int32_t open_socket(int32_t port);
#endif

#ifdef HOSTILE_ABI_V2
EXPORT("kubeshark_abi_v2") int32_t abi(void) { return 2; }
#else
EXPORT("kubeshark_abi_v1") int32_t abi(void) { return 1; }
#endif

static uint8_t *buf;

EXPORT("kubeshark_init") int32_t init(int32_t size) {
	buf = malloc((size_t)size);
	if (!buf) return 1;
	register_buffer(buf, (uint32_t)size);
	return 0;
}

static const char manifest[] = "{\"name\":\"hostile\",\"version\":\"1.0.0\",\"protocols\":[\"hostile\"],\"transports\":[\"tcp\"]}";
EXPORT("kubeshark_describe") void describe(void) { emit(2, manifest, sizeof manifest - 1); }
EXPORT("kubeshark_probe") int32_t probe(int32_t dir, int32_t len) { (void)dir; (void)len; return 100; }
EXPORT("kubeshark_open") void open_conn(int64_t id, int32_t f, int32_t a, int32_t b) { (void)id; (void)f; (void)a; (void)b; }
EXPORT("kubeshark_gap") void gap(int64_t id, int32_t d, int32_t n, int64_t ts) { (void)id; (void)d; (void)n; (void)ts; }
EXPORT("kubeshark_close") void close_conn(int64_t id, int64_t ts) { (void)id; (void)ts; }

/* The smallest valid record: protocol "x", everything else empty. */
static const uint8_t record[] = {1, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

EXPORT("kubeshark_feed") int64_t feed(int64_t id, int32_t dir, int32_t len, int64_t first, int64_t last) {
	(void)id; (void)dir; (void)first; (void)last;
#if defined(HOSTILE_OOB_EMIT)
	emit(1, (const void *)(uintptr_t)0x7ffffff0u, 64);
#elif defined(HOSTILE_OOB_BUFFER)
	register_buffer((uint8_t *)(uintptr_t)0x7ffffff0u, 1 << 20);
#elif defined(HOSTILE_FLOOD)
	for (;;) emit(1, record, sizeof record);
#elif defined(HOSTILE_BAD_RECORD)
	emit(1, "garbage", 7);
#elif defined(HOSTILE_OVERCONSUME)
	return (int64_t)(uint32_t)len + 100;
#elif defined(HOSTILE_UNKNOWN_IMPORT)
	open_socket(80);
#elif defined(HOSTILE_TRAP)
	__builtin_trap();
#endif
	return (uint32_t)len;
}
