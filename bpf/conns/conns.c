//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* TCP connection lifecycle from tracepoints only (no kprobes, no fentry):
 * sock:inet_sock_set_state for every state change, tcp:tcp_retransmit_skb,
 * tcp:tcp_receive_reset, tcp:tcp_send_reset, and the exit of accept(2) to
 * name the process that took a passive connection. Every event carries the
 * socket's cgroup v2 id, read from the socket (the number bpf_skb_cgroup_id
 * gives the packet hooks), and the current task only for the changes that a
 * process's own system call makes: connect (-> SYN_SENT), close or shutdown
 * (-> FIN_WAIT1, -> LAST_ACK). Every other change, retransmissions and
 * resets are driven by an arriving packet (softirq) or a timer, and run on
 * whatever task the CPU interrupted, so their pid would be a lie; a
 * tracepoint program cannot read common_flags to tell (the verifier refuses
 * the first 8 bytes of its context). */
#include "conns.h"

char __license[] SEC("license") = "Dual MIT/GPL";

enum kind { K_STATE = 0, K_RETRANSMIT = 1, K_RESET_RECEIVED = 2, K_RESET_SENT = 3, K_ACCEPT = 4 };

struct event {
	__u64 ts;     /* CLOCK_MONOTONIC ns */
	__u64 sk;     /* the struct sock, identity while it lives */
	__u64 cgroup; /* the socket's cgroup v2 id, 0 when unknown */
	__u32 pid;    /* 0 when the hook ran outside task context */
	__u32 tid;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 family;
	__u16 sport; /* host byte order; s = the socket's own end */
	__u16 dport;
	__u8 kind;
	__u8 oldstate;
	__u8 newstate;
	__u8 pad[7];
	char comm[16];
};

enum { S_LOST = 0, S_MAX = 2 };

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, S_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");


static __always_inline __u64 sock_cgroup(const void *skp)
{
	struct sock *sk = (struct sock *)skp;
	struct cgroup *cg = 0;
	struct kernfs_node *kn = 0;
	__u64 id = 0;
	if (!sk)
		return 0;
	if (KREAD(cg, sk->sk_cgrp_data.cgroup) || !cg)
		return 0;
	if (KREAD(kn, cg->kn) || !kn)
		return 0;
	KREAD(id, kn->id);
	return id;
}

static __always_inline void send(struct event *e, int task)
{
	e->ts = bpf_ktime_get_ns();
	if (task) {
		__u64 id = bpf_get_current_pid_tgid();
		e->pid = id >> 32;
		e->tid = (__u32)id;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	if (bpf_ringbuf_output(&events, e, sizeof(*e), 0) != 0) {
		__u32 k = S_LOST;
		__u64 *v = bpf_map_lookup_elem(&stats, &k);
		if (v)
			*v += 1;
	}
}

static __always_inline void addrs(struct event *e, __u16 family, const __u8 *s4, const __u8 *d4,
				  const __u8 *s6, const __u8 *d6)
{
	e->family = family;
	if (family == 2) {
		__builtin_memcpy(e->saddr, s4, 4);
		__builtin_memcpy(e->daddr, d4, 4);
	} else {
		__builtin_memcpy(e->saddr, s6, 16);
		__builtin_memcpy(e->daddr, d6, 16);
	}
}

struct set_state {
	__u16 common_type;
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;
	const void *skaddr;
	__s32 oldstate;
	__s32 newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

SEC("tracepoint/sock/inet_sock_set_state")
int set_state(struct set_state *ctx)
{
	if (ctx->protocol != 6)
		return 0;
	struct event e = { .kind = K_STATE, .sk = (__u64)ctx->skaddr,
			   .oldstate = ctx->oldstate, .newstate = ctx->newstate,
			   .sport = ctx->sport, .dport = ctx->dport };
	addrs(&e, ctx->family, ctx->saddr, ctx->daddr, ctx->saddr_v6, ctx->daddr_v6);
	e.cgroup = sock_cgroup(ctx->skaddr);
	/* SYN_SENT 2, FIN_WAIT1 4, LAST_ACK 9: made by the process's syscall */
	send(&e, ctx->newstate == 2 || ctx->newstate == 4 || ctx->newstate == 9);
	return 0;
}

struct retransmit {
	__u16 common_type;
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;
	const void *skbaddr;
	const void *skaddr;
	__s32 state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((packed));

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit(struct retransmit *ctx)
{
	struct event e = { .kind = K_RETRANSMIT, .sk = (__u64)ctx->skaddr,
			   .newstate = ctx->state, .sport = ctx->sport, .dport = ctx->dport };
	addrs(&e, ctx->family, ctx->saddr, ctx->daddr, ctx->saddr_v6, ctx->daddr_v6);
	e.cgroup = sock_cgroup(ctx->skaddr);
	send(&e, 0);
	return 0;
}

struct receive_reset {
	__u16 common_type;
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;
	const void *skaddr;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((packed));

SEC("tracepoint/tcp/tcp_receive_reset")
int receive_reset(struct receive_reset *ctx)
{
	struct event e = { .kind = K_RESET_RECEIVED, .sk = (__u64)ctx->skaddr,
			   .sport = ctx->sport, .dport = ctx->dport };
	addrs(&e, ctx->family, ctx->saddr, ctx->daddr, ctx->saddr_v6, ctx->daddr_v6);
	e.cgroup = sock_cgroup(ctx->skaddr);
	send(&e, 0);
	return 0;
}

/* tcp_send_reset gives the addresses as struct sockaddr_in/_in6 (28 bytes
 * each); skaddr is NULL for a reset answering a packet no socket owns. */
struct send_reset {
	__u16 common_type;
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;
	const void *skbaddr;
	const void *skaddr;
	__s32 state;
	__u32 reason;
	__u8 saddr[28];
	__u8 daddr[28];
};

SEC("tracepoint/tcp/tcp_send_reset")
int send_reset(struct send_reset *ctx)
{
	struct event e = { .kind = K_RESET_SENT, .sk = (__u64)ctx->skaddr, .newstate = ctx->state };
	__u16 fam = *(__u16 *)ctx->saddr;
	e.family = fam;
	e.sport = __builtin_bswap16(*(__u16 *)(ctx->saddr + 2));
	e.dport = __builtin_bswap16(*(__u16 *)(ctx->daddr + 2));
	if (fam == 2) {
		__builtin_memcpy(e.saddr, ctx->saddr + 4, 4);
		__builtin_memcpy(e.daddr, ctx->daddr + 4, 4);
	} else if (fam == 10) {
		__builtin_memcpy(e.saddr, ctx->saddr + 8, 16);
		__builtin_memcpy(e.daddr, ctx->daddr + 8, 16);
	} else {
		return 0;
	}
	e.cgroup = sock_cgroup(ctx->skaddr);
	send(&e, 0);
	return 0;
}

/* accept(2) returns in the server's task: the fd leads to the accepted
 * socket, whose passive open ran in softirq with no process to name. */
struct sys_exit {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

static __always_inline int accepted(struct sys_exit *ctx)
{
	if (ctx->ret < 0)
		return 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	struct files_struct *files = 0;
	struct fdtable *fdt = 0;
	struct file **fds = 0;
	struct file *f = 0;
	struct socket *so = 0;
	struct sock *sk = 0;
	unsigned int max = 0;
	unsigned short fam = 0;
	__u16 proto = 0, lport = 0, rport = 0;
	__s32 fd = ctx->ret;

	if (KREAD(files, task->files) || !files)
		return 0;
	if (KREAD(fdt, files->fdt) || !fdt)
		return 0;
	if (KREAD(max, fdt->max_fds) || (__u32)fd >= max)
		return 0;
	if (KREAD(fds, fdt->fd) || !fds)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	if (KREAD(so, f->private_data) || !so)
		return 0;
	if (KREAD(sk, so->sk) || !sk)
		return 0;
	if (KREAD(fam, sk->__sk_common.skc_family) || (fam != 2 && fam != 10))
		return 0;
	if (KREAD(proto, sk->sk_protocol) || proto != 6)
		return 0;
	struct event e = { .kind = K_ACCEPT, .sk = (__u64)sk, .family = fam };
	KREAD(lport, sk->__sk_common.skc_num);
	KREAD(rport, sk->__sk_common.skc_dport);
	e.sport = lport;
	e.dport = __builtin_bswap16(rport);
	if (fam == 2) {
		KREAD(*(__u32 *)e.saddr, sk->__sk_common.skc_rcv_saddr);
		KREAD(*(__u32 *)e.daddr, sk->__sk_common.skc_daddr);
	} else {
		bpf_probe_read_kernel(e.saddr, 16, __builtin_preserve_access_index(&sk->__sk_common.skc_v6_rcv_saddr));
		bpf_probe_read_kernel(e.daddr, 16, __builtin_preserve_access_index(&sk->__sk_common.skc_v6_daddr));
	}
	e.cgroup = sock_cgroup(sk);
	send(&e, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4") int exit_accept4(struct sys_exit *ctx) { return accepted(ctx); }
SEC("tracepoint/syscalls/sys_exit_accept") int exit_accept(struct sys_exit *ctx) { return accepted(ctx); }
