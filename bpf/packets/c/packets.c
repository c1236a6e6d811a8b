// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Packet capture for `kubeshark tap`: cgroup_skb programs at the cgroup v2
// root (every local socket's traffic, with the socket's cgroup id) and TC
// programs for named interfaces. Every program lets the packet pass; it only
// copies the packet, in bounded chunks, into one ring buffer shared by all
// CPUs, so that user space reads client and server packets in the order the
// kernel handled them.
//
// Only struct __sk_buff (UAPI, rewritten by the verifier) is read, so the
// object needs no kernel-internal types and no CO-RE relocations.

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual BSD/GPL";

// Set by the loader before the programs are loaded.
volatile const __u32 snaplen = 262144;     // bytes kept of each packet
volatile const __u32 wakeup_every = 64;    // records between forced wake-ups
volatile const __u64 wakeup_bytes = 1 << 20; // pending bytes that force a wake-up
// When set, the cgroup hooks pass on only packets with a source or
// destination port marked in `ports` (and what they cannot classify).
volatile const __u8 port_filter = 0;

// Chunk data sizes. A record reserves one of three classes so that the
// pure ACKs that make up half of TCP traffic do not each take 16 KiB.
#define CHUNK_SMALL 192
#define CHUNK_MTU 1536
#define CHUNK_MAX 16384
// snaplen is capped at MAX_CHUNKS * CHUNK_MAX by the loader.
#define MAX_CHUNKS 32

// Direction of a packet relative to the socket or interface that saw it.
#define DIR_INGRESS 0
#define DIR_EGRESS 1

// Flags.
#define FLAG_L2 1   // data starts at a link-layer header (TC); else at IP
#define FLAG_LAST 2 // last chunk of the packet
// An ingress packet whose egress copy the cgroup egress hook already
// took (a local-to-local exchange): only its headers are sent, at most
// once per flow per twin_note_ns, so that user space still learns the
// receiving socket's cgroup.
#define FLAG_TWIN 4

struct chunk_hdr {
	__u64 ts;      // bpf_ktime_get_ns: CLOCK_MONOTONIC
	__u64 seq;     // packet sequence, shared by its chunks
	__u64 cgroup;  // cgroup v2 id of the socket (cgroup_skb), 0 for TC
	__u32 len;     // skb->len: the whole packet, GSO super-packets included
	__u32 off;     // offset of this chunk in the packet
	__u32 ifindex; // skb->ifindex
	__u16 cap;     // bytes of data in this chunk
	__u8 dir;
	__u8 flags;
};

struct chunk_small {
	struct chunk_hdr h;
	__u8 data[CHUNK_SMALL];
};
struct chunk_mtu {
	struct chunk_hdr h;
	__u8 data[CHUNK_MTU];
};
struct chunk_max {
	struct chunk_hdr h;
	__u8 data[CHUNK_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); // resized by the loader
} events SEC(".maps");

// Counters, per CPU so that the hot path takes no shared cache line.
enum {
	CNT_PACKETS = 0,   // packets seen
	CNT_LOST = 1,      // packets lost: the ring buffer was full
	CNT_LOST_BYTES = 2,
	CNT_SNAPPED = 3,   // packets cut at snaplen
	CNT_FILTERED = 4,  // packets the port filter left out
	CNT_TWINS = 5,     // ingress copies of local packets the egress hook took
	CNT_MAX,
};

// How long after a flow's last egress copy its ingress packets count as
// that copy's twins, and how often a twin's headers are sent.
volatile const __u64 twin_window_ns = 1000000000ULL;
volatile const __u64 twin_note_ns = 1000000000ULL;

// A flow as one packet names it (addresses, ports, protocol; IPv4
// addresses in the first four bytes). The same packet has the same key
// at the sender's egress hook and at the receiver's ingress hook, unless
// NAT rewrote it between them; then its ingress copy is taken as well and
// user space drops it (runtime/capture/live's Dedupe).
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow_val {
	__u64 egress; // when the egress hook last copied one of its packets
	__u64 noted;  // when a twin's headers were last sent
};

// Flows the egress hook copied packets of, least recently used first out.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

// One byte per port, non-zero for the ports to capture (port_filter).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

// Shared sequence numbers: a packet's chunks carry one, and records are
// counted for the wake-up batching. Atomic, since a softirq can run these
// programs in the middle of another run on the same CPU.
__u64 packet_seq = 0;
__u64 record_seq = 0;

static __always_inline void count(__u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &key);
	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline __u64 wakeup_flag(void)
{
	__u64 n = __sync_fetch_and_add(&record_seq, 1);
	if (n % wakeup_every == 0 || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline int port_wanted(__u16 port_be)
{
	__u32 key = ((port_be & 0xff) << 8) | (port_be >> 8);
	__u8 *v = bpf_map_lookup_elem(&ports, &key);
	return v && *v;
}

// wanted applies the port filter to a packet starting at its IP header.
// Anything it cannot classify (IPv6 extension headers, fragments after
// the first) is kept: user space filters again.
static __always_inline int wanted(struct __sk_buff *skb)
{
	__u8 b[40];
	__u32 l4;
	__u8 proto;
	if (bpf_skb_load_bytes(skb, 0, b, 20) < 0)
		return 1;
	if ((b[0] >> 4) == 4) {
		if ((b[6] & 0x3f) || b[7]) // a fragment after the first
			return 1;
		proto = b[9];
		l4 = (b[0] & 0x0f) * 4;
	} else if ((b[0] >> 4) == 6) {
		if (bpf_skb_load_bytes(skb, 0, b, 40) < 0)
			return 1;
		proto = b[6];
		l4 = 40;
		if (proto != 6 && proto != 17 && proto != 132 && proto != 58)
			return 1; // an extension header
	} else {
		return 1;
	}
	if (proto != 6 && proto != 17 && proto != 132)
		return 0; // no ports: a port filter matches none of these
	__u16 p[2];
	if (bpf_skb_load_bytes(skb, l4, p, 4) < 0)
		return 1;
	return port_wanted(p[0]) || port_wanted(p[1]);
}

// flow_of reads a TCP or UDP packet's flow key; it fails on anything else
// (and on IPv6 extension headers and later IPv4 fragments, which have no
// ports where it looks).
static __always_inline int flow_of(struct __sk_buff *skb, struct flow_key *k)
{
	__u8 b[40];
	__u32 l4;
	if (bpf_skb_load_bytes(skb, 0, b, 20) < 0)
		return 0;
	if ((b[0] >> 4) == 4) {
		if ((b[6] & 0x3f) || b[7])
			return 0;
		k->proto = b[9];
		l4 = (b[0] & 0x0f) * 4;
		__builtin_memcpy(k->saddr, &b[12], 4);
		__builtin_memcpy(k->daddr, &b[16], 4);
	} else if ((b[0] >> 4) == 6) {
		if (bpf_skb_load_bytes(skb, 0, b, 40) < 0)
			return 0;
		k->proto = b[6];
		l4 = 40;
		__builtin_memcpy(k->saddr, &b[8], 16);
		__builtin_memcpy(k->daddr, &b[24], 16);
	} else {
		return 0;
	}
	if (k->proto != 6 && k->proto != 17)
		return 0;
	__u16 p[2];
	if (bpf_skb_load_bytes(skb, l4, p, 4) < 0)
		return 0;
	k->sport = p[0];
	k->dport = p[1];
	return 1;
}

#define EMIT(TYPE, SIZE)                                                        \
	do {                                                                    \
		struct TYPE *c = bpf_ringbuf_reserve(&events, sizeof(*c), 0);   \
		if (!c)                                                         \
			goto lost;                                              \
		c->h = h;                                                       \
		if (n > SIZE || n == 0 ||                                       \
		    bpf_skb_load_bytes(skb, off, c->data, n) < 0) { \
			bpf_ringbuf_discard(c, BPF_RB_NO_WAKEUP);               \
			goto lost;                                              \
		}                                                               \
		bpf_ringbuf_submit(c, wakeup_flag());                           \
	} while (0)

static __always_inline void capture(struct __sk_buff *skb, __u8 dir, __u8 flags, __u64 cgroup)
{
	__u32 len = skb->len;
	__u32 snap = len < snaplen ? len : snaplen;
	struct chunk_hdr h = {
		.ts = bpf_ktime_get_ns(),
		.seq = __sync_fetch_and_add(&packet_seq, 1),
		.cgroup = cgroup,
		.len = len,
		.ifindex = skb->ifindex,
		.dir = dir,
	};

	count(CNT_PACKETS, 1);
	if (snap < len)
		count(CNT_SNAPPED, 1);
	for (__u32 i = 0; i < MAX_CHUNKS; i++) {
		__u32 off = i * CHUNK_MAX;
		if (off >= snap)
			return;
		__u32 n = snap - off;
		if (n > CHUNK_MAX)
			n = CHUNK_MAX;
		h.off = off;
		h.cap = n;
		h.flags = flags | (off + n >= snap ? FLAG_LAST : 0);
		if (n <= CHUNK_SMALL)
			EMIT(chunk_small, CHUNK_SMALL);
		else if (n <= CHUNK_MTU)
			EMIT(chunk_mtu, CHUNK_MTU);
		else
			EMIT(chunk_max, CHUNK_MAX);
	}
	return;
lost:
	// The chunks already submitted are useless without the rest; user
	// space drops the incomplete packet and counts it too.
	count(CNT_LOST, 1);
	count(CNT_LOST_BYTES, len);
}

// note_twin sends the first bytes of a twin (its IP and transport
// headers) so that user space can tie the receiving socket's cgroup to
// the flow.
static __always_inline void note_twin(struct __sk_buff *skb, __u64 now, __u64 cgroup)
{
	__u32 n = skb->len < CHUNK_SMALL ? skb->len : CHUNK_SMALL;
	struct chunk_hdr h = {
		.ts = now,
		.seq = __sync_fetch_and_add(&packet_seq, 1),
		.cgroup = cgroup,
		.len = skb->len,
		.ifindex = skb->ifindex,
		.cap = n,
		.dir = DIR_INGRESS,
		.flags = FLAG_LAST | FLAG_TWIN,
	};
	__u32 off = 0;
	EMIT(chunk_small, CHUNK_SMALL);
	return;
lost:
	// Only a note: losing it loses no packet.
	return;
}

SEC("cgroup_skb/ingress")
int cgroup_ingress(struct __sk_buff *skb)
{
	if (port_filter && !wanted(skb)) {
		count(CNT_FILTERED, 1);
		return 1;
	}
	// A packet between two local sockets passed the sender's egress hook
	// first, which copied it: copying it again would double the ring's
	// traffic for local exchanges (a veth into a container, loopback).
	struct flow_key k = {};
	if (flow_of(skb, &k)) {
		struct flow_val *v = bpf_map_lookup_elem(&flows, &k);
		if (v) {
			__u64 now = bpf_ktime_get_ns();
			// Signed: another CPU's egress hook may have stamped a
			// later packet of the flow after this hook read the clock.
			if ((__s64)(now - v->egress) < (__s64)twin_window_ns) {
				count(CNT_PACKETS, 1);
				count(CNT_TWINS, 1);
				if (now - v->noted >= twin_note_ns) {
					v->noted = now;
					note_twin(skb, now, bpf_skb_cgroup_id(skb));
				}
				return 1;
			}
		}
	}
	capture(skb, DIR_INGRESS, 0, bpf_skb_cgroup_id(skb));
	return 1;
}

SEC("cgroup_skb/egress")
int cgroup_egress(struct __sk_buff *skb)
{
	if (port_filter && !wanted(skb)) {
		count(CNT_FILTERED, 1);
		return 1;
	}
	capture(skb, DIR_EGRESS, 0, bpf_skb_cgroup_id(skb));
	struct flow_key k = {};
	if (flow_of(skb, &k)) {
		__u64 now = bpf_ktime_get_ns();
		struct flow_val *v = bpf_map_lookup_elem(&flows, &k);
		if (v) {
			v->egress = now;
		} else {
			struct flow_val nv = {.egress = now};
			bpf_map_update_elem(&flows, &k, &nv, BPF_ANY);
		}
	}
	return 1;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	capture(skb, DIR_INGRESS, FLAG_L2, 0);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	capture(skb, DIR_EGRESS, FLAG_L2, 0);
	return TC_ACT_UNSPEC;
}
