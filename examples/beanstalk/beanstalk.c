/* beanstalk: a kubeshark dissector plugin for beanstalkd's text protocol
 * (https://github.com/beanstalkd/beanstalkd/blob/master/doc/protocol.txt),
 * with the C SDK (kubeshark.h, vendored beside this file).
 *
 * A work queue: producers `put` jobs into the tube they `use`, workers
 * `watch` tubes, `reserve` jobs and `delete`, `release` or `bury` them.
 * Each command and its reply become a record: method = the command, path =
 * the tube or the job id it names (a put's path is the tube it went to),
 * status_text = the reply's keyword (INSERTED, RESERVED, DELETED,
 * NOT_FOUND, TIMED_OUT...), failed = the server's error replies.
 *
 * Framing: commands and replies are lines ending in CRLF; a put carries a
 * data block of the length it names, and so do the replies RESERVED,
 * FOUND and OK. Replies come in the order of the commands, so requests
 * queue per connection. */
#define KUBESHARK_IMPLEMENTATION
#include "kubeshark.h"

#include <stdlib.h>
#include <string.h>

static const char *const protocols[] = {"beanstalk", 0};
static const char *const transports[] = {"tcp", 0};
static const uint16_t ports[] = {11300};
static const ks_field fields[] = {
	{"beanstalk_command", "string", "the command (put, reserve, delete, use, watch...)"},
	{"beanstalk_tube", "string", "the tube the command names, or for put the tube in use"},
	{"beanstalk_job", "int", "the job id the command names or the reply returns"},
	{"beanstalk_priority", "int", "the priority put, release or bury gives (0 is most urgent)"},
	{"beanstalk_delay", "int", "seconds put or release delays the job"},
	{"beanstalk_ttr", "int", "the seconds a worker may hold the job (time to run)"},
	{"beanstalk_bytes", "int", "the length of the job body put sends or a reply returns"},
	{"beanstalk_result", "string", "the reply's keyword: INSERTED, RESERVED, DELETED, NOT_FOUND, TIMED_OUT, USING, WATCHING..."},
	{"beanstalk_count", "int", "the number WATCHING or KICKED returns"},
};
static const ks_manifest manifest = {
	.name = "beanstalk", .version = "0.1.0", .description = "beanstalkd work-queue protocol",
	.protocols = protocols, .transports = transports, .port_hints = ports, .n_port_hints = 1,
	.fields = fields, .n_fields = sizeof fields / sizeof fields[0],
};

const ks_manifest *ks_plugin_manifest(void) { return &manifest; }

static const char *const commands[] = {
	"put", "use", "reserve", "reserve-with-timeout", "reserve-job", "delete", "release", "bury", "touch",
	"watch", "ignore", "peek", "peek-ready", "peek-delayed", "peek-buried", "kick", "kick-job", "stats-job",
	"stats-tube", "stats", "list-tubes", "list-tube-used", "list-tubes-watched", "pause-tube", "quit", 0,
};

/* A token of a line: where it starts in the stream and its length (not
 * NUL-terminated; lines are parsed in place, not copied). */
struct tok {
	const char *p;
	uint32_t n;
};

/* is says whether t is the word lit (of length n). */
static int is(struct tok t, const char *lit, size_t n) { return t.n == n && memcmp(t.p, lit, n) == 0; }
#define IS(t, lit) is(t, lit, sizeof lit - 1)

/* copy stores n bytes of src NUL-terminated in dst (of size bytes),
 * cutting what does not fit, and returns the length stored. */
static uint32_t copy(char *dst, size_t size, const char *src, size_t n) {
	if (n >= size) n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
	return (uint32_t)n;
}

static int known(const char *w, size_t n) {
	for (int i = 0; commands[i]; i++)
		if (strlen(commands[i]) == n && memcmp(commands[i], w, n) == 0) return 1;
	return 0;
}

static int word(struct tok t) {
	if (t.n == 0 || t.n > 24) return 0;
	for (uint32_t i = 0; i < t.n; i++)
		if (!((t.p[i] >= 'a' && t.p[i] <= 'z') || t.p[i] == '-')) return 0;
	return 1;
}

/* Judge the first bytes of a stream: a known command followed by a space or
 * CRLF. The server never speaks first. */
uint32_t ks_plugin_probe(int dir, const uint8_t *data, uint32_t len) {
	(void)dir;
	uint32_t n = 0;
	while (n < len && n < 24 && data[n] != ' ' && data[n] != '\r') n++;
	if (n == len && n < 24) {
		for (int i = 0; commands[i]; i++)
			if (strlen(commands[i]) >= n && memcmp(commands[i], data, n) == 0) return KS_PROBE_NEED_MORE;
		return KS_PROBE(0);
	}
	if (n == len || !known((const char *)data, n)) return KS_PROBE(0);
	if (!memchr(data, '\n', len)) return KS_PROBE_NEED_MORE;
	return KS_PROBE(80);
}

#define MAXTOK 6
#define NAMELEN 201 /* a tube name is at most 200 bytes */

/* One command waiting for its reply. Numbers are -1 when absent; the
 * strings are NUL-terminated, with their lengths. */
struct req {
	char cmd[24], path[NAMELEN + 24], tube[NAMELEN];
	uint32_t cmdn, pathn, tuben;
	int64_t job, pri, delay, ttr, bytes, at;
	struct req *next;
};

/* Requests are taken from and given back to a short free list (a plugin
 * runs on one thread): a command and its reply are a few hundred bytes of
 * parsing, and a malloc and a free per command cost a fifth of that in
 * wasm. */
#define SPARE 64
static struct req *spare;
static int nspare;

static struct req *new_req(int64_t at) {
	struct req *q = spare;
	if (q) spare = q->next, nspare--;
	else if (!(q = malloc(sizeof *q))) return 0;
	q->cmd[0] = q->path[0] = q->tube[0] = 0;
	q->cmdn = q->pathn = q->tuben = 0;
	q->job = q->pri = q->delay = q->ttr = q->bytes = -1;
	q->at = at;
	q->next = 0;
	return q;
}

static void free_req(struct req *q) {
	if (nspare >= SPARE) { free(q); return; }
	q->next = spare;
	spare = q;
	nspare++;
}

struct conn {
	struct req *head, *tail;
	char tube[NAMELEN]; /* the tube puts go to: "default" until use */
	uint32_t tuben;
};

void *ks_plugin_open(const ks_conn_info *info) {
	(void)info;
	struct conn *c = calloc(1, sizeof *c);
	if (c) c->tuben = copy(c->tube, sizeof c->tube, "default", 7);
	return c;
}

static void drop(struct conn *c) {
	while (c->head) {
		struct req *r = c->head;
		c->head = r->next;
		free_req(r);
	}
	c->tail = 0;
}

/* Bytes were lost: what we were waiting for can no longer be matched. */
void ks_plugin_gap(void *conn, int dir, uint32_t n, int64_t ts) { (void)dir; (void)n; (void)ts; drop(conn); }

/* split cuts a line into at most MAXTOK space-separated tokens; returns
 * how many, or -1 for a token too long to be beanstalk (NAMELEN bytes or
 * more). Kept out of the feed functions in wasm, where its byte loops
 * otherwise run with their values in memory. */
KS_WASM_NOINLINE static int split(const uint8_t *line, uint32_t n, struct tok tok[MAXTOK]) {
	int k = 0;
	uint32_t i = 0;
	while (i < n && k < MAXTOK) {
		while (i < n && line[i] == ' ') i++;
		uint32_t s = i;
		while (i < n && line[i] != ' ') i++;
		if (i == s) break;
		if (i - s >= NAMELEN) return -1;
		tok[k].p = (const char *)line + s;
		tok[k].n = i - s;
		k++;
	}
	return k;
}

/* num parses a decimal token; -1 when it is not one. */
static int64_t num(struct tok t) {
	if (!t.n) return -1;
	int64_t v = 0;
	for (uint32_t i = 0; i < t.n; i++) {
		char c = t.p[i];
		if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}


/* emit makes q's record; result (of n bytes) is the reply's keyword, or
 * NULL when there was none. */
static void emit(struct req *q, const char *result, size_t n, int failed, int64_t job, int64_t bytes, int64_t count,
                 int64_t end) {
	/* One pair of buffers for every record: ks_json_begin empties them and
	 * keeps their memory (a plugin runs on one thread). */
	static ks_json rq, rs;
	ks_json_begin(&rq);
	ks_json_str(&rq, "beanstalk_command", q->cmd, q->cmdn);
	if (q->tuben) ks_json_str(&rq, "beanstalk_tube", q->tube, q->tuben);
	if (q->job >= 0) ks_json_int(&rq, "beanstalk_job", q->job);
	if (q->pri >= 0) ks_json_int(&rq, "beanstalk_priority", q->pri);
	if (q->delay >= 0) ks_json_int(&rq, "beanstalk_delay", q->delay);
	if (q->ttr >= 0) ks_json_int(&rq, "beanstalk_ttr", q->ttr);
	if (q->bytes >= 0) ks_json_int(&rq, "beanstalk_bytes", q->bytes);
	ks_json_end(&rq);
	ks_message req = {.fields = KS_JSON_PTR(&rq), .fields_len = KS_JSON_LEN(&rq), .body_size = q->bytes > 0 ? q->bytes : 0};
	ks_message resp = {0};
	if (result) {
		ks_json_begin(&rs);
		ks_json_str(&rs, "beanstalk_result", result, n);
		if (job >= 0 && q->job < 0) ks_json_int(&rs, "beanstalk_job", job);
		if (bytes >= 0) ks_json_int(&rs, "beanstalk_bytes", bytes);
		if (count >= 0) ks_json_int(&rs, "beanstalk_count", count);
		ks_json_end(&rs);
		resp.fields = KS_JSON_PTR(&rs);
		resp.fields_len = KS_JSON_LEN(&rs);
		resp.body_size = bytes > 0 ? bytes : 0;
	}
	ks_record r = {
		.protocol = "beanstalk", .method = q->cmd, .path = q->path, .status_text = result,
		.failed = failed, .error = failed ? result : 0, .summary = result ? 0 : strcmp(q->cmd, "quit") == 0 ? "quit" : "no reply",
		.timestamp_ns = q->at, .end_ns = result ? end : q->at, .request_dir = KS_DIR_A,
		.request = &req, .response = result ? &resp : 0,
	};
	ks_emit_record(&r);
}

/* The requests that never saw a reply become records too. */
void ks_plugin_close(void *conn, int64_t ts) {
	struct conn *c = conn;
	for (struct req *q = c->head; q; q = q->next) emit(q, 0, 0, 0, -1, -1, -1, ts);
	drop(c);
	free(c);
}

static int64_t feed_requests(struct conn *c, const uint8_t *data, uint32_t len, int64_t at, uint32_t *need) {
	struct tok tok[MAXTOK];
	uint32_t used = 0;
	for (;;) {
		const uint8_t *line = data + used;
		const uint8_t *nl = memchr(line, '\n', len - used);
		if (!nl) return used;
		uint32_t ll = (uint32_t)(nl - line);
		if (ll == 0 || line[ll - 1] != '\r') return KS_REJECT;
		int k = split(line, ll - 1, tok);
		/* A word the server does not know is a command too (it answers
		 * UNKNOWN_COMMAND), and must be matched to keep the replies after
		 * it in step; anything but a short lower-case word is not beanstalk. */
		if (k <= 0 || !word(tok[0])) return KS_REJECT;
		uint32_t end = used + ll + 1;
		struct req *q = new_req(at);
		if (!q) return KS_REJECT;
		struct tok c0 = tok[0];
		q->cmdn = copy(q->cmd, sizeof q->cmd, c0.p, c0.n);
		if (IS(c0, "put")) {
			if (k < 5 || (q->bytes = num(tok[4])) < 0) { free_req(q); return KS_REJECT; }
			if ((uint64_t)len - end < (uint64_t)q->bytes + 2) {
				*need = (uint32_t)(end + q->bytes + 2);
				free_req(q);
				return used; /* the job body is not all here yet */
			}
			end += (uint32_t)q->bytes + 2;
			q->pri = num(tok[1]);
			q->delay = num(tok[2]);
			q->ttr = num(tok[3]);
			q->tuben = copy(q->tube, sizeof q->tube, c->tube, c->tuben);
			q->pathn = copy(q->path, sizeof q->path, c->tube, c->tuben);
		} else if (IS(c0, "use") || IS(c0, "watch") || IS(c0, "ignore") || IS(c0, "stats-tube") || IS(c0, "pause-tube")) {
			if (k >= 2) {
				q->tuben = copy(q->tube, sizeof q->tube, tok[1].p, tok[1].n);
				q->pathn = copy(q->path, sizeof q->path, tok[1].p, tok[1].n);
				if (IS(c0, "use")) c->tuben = copy(c->tube, sizeof c->tube, tok[1].p, tok[1].n);
			}
			if (k >= 3 && IS(c0, "pause-tube")) q->delay = num(tok[2]);
		} else if (IS(c0, "delete") || IS(c0, "release") || IS(c0, "bury") || IS(c0, "touch") || IS(c0, "peek") ||
		           IS(c0, "kick-job") || IS(c0, "stats-job") || IS(c0, "reserve-job")) {
			if (k >= 2) {
				q->job = num(tok[1]);
				q->pathn = copy(q->path, sizeof q->path, tok[1].p, tok[1].n);
			}
			if (k >= 3 && (IS(c0, "release") || IS(c0, "bury"))) q->pri = num(tok[2]);
			if (k >= 4 && IS(c0, "release")) q->delay = num(tok[3]);
		}
		used = end;
		if (IS(c0, "quit")) { /* the server closes the connection without a reply */
			emit(q, 0, 0, 0, -1, -1, -1, at);
			free_req(q);
			continue;
		}
		if (c->tail) c->tail->next = q; else c->head = q;
		c->tail = q;
	}
}

static int64_t feed_replies(struct conn *c, const uint8_t *data, uint32_t len, int64_t first, int64_t last, uint32_t *need) {
	struct tok tok[MAXTOK];
	uint32_t used = 0;
	while (c->head) {
		const uint8_t *line = data + used;
		const uint8_t *nl = memchr(line, '\n', len - used);
		if (!nl) return used;
		uint32_t ll = (uint32_t)(nl - line);
		if (ll == 0 || line[ll - 1] != '\r') return KS_REJECT;
		int k = split(line, ll - 1, tok);
		if (k <= 0) return KS_REJECT;
		uint32_t end = used + ll + 1;
		int64_t job = -1, bytes = -1, count = -1;
		struct tok w = tok[0];
		int body = IS(w, "RESERVED") || IS(w, "FOUND") || IS(w, "OK");
		if ((IS(w, "RESERVED") || IS(w, "FOUND")) && k >= 3) {
			job = num(tok[1]);
			bytes = num(tok[2]);
		} else if (IS(w, "OK") && k >= 2) {
			bytes = num(tok[1]);
		} else if ((IS(w, "INSERTED") || IS(w, "BURIED")) && k >= 2) {
			job = num(tok[1]);
		} else if ((IS(w, "WATCHING") || IS(w, "KICKED")) && k >= 2) {
			count = num(tok[1]);
		}
		if (body) {
			if (bytes < 0) return KS_REJECT;
			if ((uint64_t)len - end < (uint64_t)bytes + 2) {
				*need = (uint32_t)(end + bytes + 2);
				return used;
			}
			end += (uint32_t)bytes + 2;
		}
		/* A reply that began before the oldest waiting command was sent
		 * answers a command the capture lost (a gap in the requests before
		 * it): paired with this one it would put a wrong result on every
		 * record after it. The first reply of an offer began at first
		 * exactly (the host offers again at once after each one); a later
		 * one began by last at the latest. */
		if ((used ? last : first) < c->head->at) {
			used = end;
			continue;
		}
		int failed = IS(w, "OUT_OF_MEMORY") || IS(w, "INTERNAL_ERROR") || IS(w, "BAD_FORMAT") || IS(w, "UNKNOWN_COMMAND") ||
		             IS(w, "EXPECTED_CRLF") || IS(w, "JOB_TOO_BIG") || IS(w, "DRAINING");
		/* The keyword NUL-terminated, for the record's status_text. */
		char result[NAMELEN];
		uint32_t rn = copy(result, sizeof result, w.p, w.n);
		struct req *q = c->head;
		c->head = q->next;
		if (!c->head) c->tail = 0;
		emit(q, result, rn, failed, job, bytes, count, last);
		free_req(q);
		used = end;
	}
	/* Bytes left with no command waiting: the host may offer a reply before
	 * the command it answers (each direction is reassembled on its own), so
	 * keep them until the command comes. */
	return used;
}

int64_t ks_plugin_feed(void *conn, int dir, const uint8_t *data, uint32_t len, int64_t first, int64_t last, uint32_t *need) {
	if (dir == KS_DIR_A) return feed_requests(conn, data, len, first, need);
	return feed_replies(conn, data, len, first, last, need);
}
