//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* TLS plaintext capture without kprobes: uprobes on the TLS library's
 * read/write functions see the plaintext, and the syscall tracepoints that
 * fire on the same thread while such a call is active name its socket (the
 * nested-syscall pattern). Go's crypto/tls is traced at its entry and at
 * each RET, keyed by goroutine, with the fd read from the tls.Conn. */
#include "bpf.h"

char __license[] SEC("license") = "Dual MIT/GPL";

#define CHUNK 16384   /* bytes of plaintext a ring-buffer record carries */
#define MAX_CHUNKS 4  /* records one call may produce; the rest is counted */

enum kind { K_DATA = 0, K_CLOSE = 1, K_EXEC = 2, K_EXIT = 3 };
enum dir { D_SENT = 0, D_RECEIVED = 1 };
enum lib { L_OPENSSL = 0, L_GO = 1 };
/* OpenSSL functions, also which return probe may finish the call. */
enum fn { F_READ = 1, F_WRITE = 2, F_READ_EX = 3, F_WRITE_EX = 4 };

/* A socket's addresses, read from the kernel's struct sock. */
struct tuple {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 family; /* AF_INET, AF_INET6, or 0 when the fd is no inet socket */
	__u16 lport;  /* host byte order */
	__u16 rport;
	__u16 pad;
};

struct event {
	__u64 ts;      /* CLOCK_MONOTONIC ns: sent data at the call's entry, received at its return */
	__u64 conn;    /* the SSL* or *tls.Conn: one connection of the process */
	__u64 total;   /* bytes the call moved */
	__u64 offset;  /* of this chunk in the call */
	__u32 pid;
	__u32 tid;
	__s32 fd;      /* -1 when unknown */
	__u32 len;     /* bytes of data in this record */
	__u8 kind;
	__u8 dir;
	__u8 lib;
	__u8 pad[5];
	char comm[16];
	struct tuple t;
	__u8 data[CHUNK];
};
#define HDR 112

/* stats indexes, summed over CPUs by user space */
enum { S_LOST = 0, S_TRUNCATED = 1, S_NOFD = 2, S_MAX = 4 };

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* Wake-ups are batched: a wake-up per record (the default) made every
 * SSL call wake tap's reader from inside the caller's uprobe. The reader
 * polls with a short deadline, which picks up records written without
 * one. Set by the loader. */
volatile const __u32 wakeup_every = 32;      /* records between forced wake-ups */
volatile const __u64 wakeup_bytes = 2 << 20; /* pending bytes that force one */
__u64 record_seq = 0;

static __always_inline __u64 wakeup_flag(void)
{
	__u64 n = __sync_fetch_and_add(&record_seq, 1);
	if (n % wakeup_every == 0 || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, S_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

/* An OpenSSL call in progress on a thread. */
struct ssl_call {
	__u64 ts;        /* entry, CLOCK_MONOTONIC ns */
	__u64 ssl;
	__u64 buf;
	__u64 count_ptr; /* size_t* of the _ex functions */
	__s32 fd;        /* from the first socket syscall inside the call */
	__u32 fn;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

struct proc_ptr {
	__u32 pid;
	__u32 pad;
	__u64 ptr;
};

/* The fd an SSL* was last seen using: a read served from OpenSSL's own
 * buffer makes no syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct proc_ptr);
	__type(value, __s32);
} ssl_fds SEC(".maps");

/* A crypto/tls call in progress on a goroutine. */
struct go_call {
	__u64 ts; /* entry, CLOCK_MONOTONIC ns */
	__u64 conn;
	__u64 buf;
	__s32 fd;
	__u32 dir;
	struct tuple t; /* read at entry: by the return the fd may name another socket */
};

/* LRU: a goroutine whose process dies mid-call leaves its entry behind. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct proc_ptr); /* pid and g */
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* (pid<<32 | fd) of sockets that carried plaintext: their addresses, read
 * once, and the connection, so that their close is reported. */
struct sock_info {
	__u64 conn;
	struct tuple t;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_info);
} tracked SEC(".maps");

/* sock_tuple walks current->files->fdt->fd[fd] to the socket and reads its
 * addresses. It works for connections made before tracing started and for
 * processes that exit before user space could look at /proc. */
static __always_inline void sock_tuple(__s32 fd, struct tuple *t)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct files_struct *files = 0;
	struct fdtable *fdt = 0;
	struct file **fds = 0;
	struct file *f = 0;
	struct inode *ino = 0;
	struct socket *so = 0;
	struct sock *sk = 0;
	unsigned int max = 0;
	unsigned short mode = 0, fam = 0;
	__u16 lport = 0, rport = 0;

	if (KREAD(files, task->files) || !files)
		return;
	if (KREAD(fdt, files->fdt) || !fdt)
		return;
	if (KREAD(max, fdt->max_fds) || (__u32)fd >= max)
		return;
	if (KREAD(fds, fdt->fd) || !fds)
		return;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return;
	if (KREAD(ino, f->f_inode) || !ino)
		return;
	if (KREAD(mode, ino->i_mode) || (mode & 0170000) != 0140000)
		return; /* not a socket */
	if (KREAD(so, f->private_data) || !so)
		return;
	if (KREAD(sk, so->sk) || !sk)
		return;
	if (KREAD(fam, sk->__sk_common.skc_family))
		return;
	KREAD(lport, sk->__sk_common.skc_num);
	KREAD(rport, sk->__sk_common.skc_dport);
	if (fam == 2) {
		KREAD(*(__u32 *)t->laddr, sk->__sk_common.skc_rcv_saddr);
		KREAD(*(__u32 *)t->raddr, sk->__sk_common.skc_daddr);
	} else if (fam == 10) {
		bpf_probe_read_kernel(t->laddr, 16, __builtin_preserve_access_index(&sk->__sk_common.skc_v6_rcv_saddr));
		bpf_probe_read_kernel(t->raddr, 16, __builtin_preserve_access_index(&sk->__sk_common.skc_v6_daddr));
	} else {
		return;
	}
	t->family = fam;
	t->lport = lport;
	t->rport = __builtin_bswap16(rport);
}

static __always_inline void count(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += n;
}

/* emit reports a call's data. Sent data is stamped at the call's entry,
 * when its bytes already existed; received data at the return, when they
 * had arrived. A client that writes on one thread and reads on another
 * (Go's net/http) can see its read return before its write does: stamped
 * at return, the response would precede its request. The stamps are in
 * causal order; user space reorders the events by them. */
/* resolve finds the addresses of the process's socket fd, which carries
 * the library connection conn, and remembers them for its close. */
static __always_inline void resolve(__u64 pid_tgid, __s32 fd, __u64 conn, struct tuple *t)
{
	__builtin_memset(t, 0, sizeof(*t));
	if (fd < 0)
		return;
	__u64 key = (pid_tgid & 0xffffffff00000000ULL) | (__u32)fd;
	struct sock_info *si = bpf_map_lookup_elem(&tracked, &key);
	if (si && si->conn == conn) {
		*t = si->t;
		return;
	}
	struct sock_info n = { .conn = conn };
	sock_tuple(fd, &n.t);
	*t = n.t;
	bpf_map_update_elem(&tracked, &key, &n, BPF_ANY);
}

static __always_inline void emit(__u64 pid_tgid, __s32 fd, __u64 conn, __u8 dir, __u8 lib,
				 __u64 buf, __u64 total, __u64 entry, const struct tuple *t)
{
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	e->ts = dir == D_SENT && entry ? entry : bpf_ktime_get_ns();
	e->conn = conn;
	e->total = total;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->fd = fd;
	e->kind = K_DATA;
	e->dir = dir;
	e->lib = lib;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (fd < 0)
		count(S_NOFD, 1);
	if (t)
		e->t = *t;
	else
		resolve(pid_tgid, fd, conn, &e->t);
	for (int i = 0; i < MAX_CHUNKS; i++) {
		__u64 off = (__u64)i * CHUNK;
		if (off >= total)
			return;
		__u64 n = total - off;
		if (n > CHUNK)
			n = CHUNK;
		e->offset = off;
		e->len = n;
		if (bpf_probe_read_user(e->data, n, (void *)(buf + off)) != 0) {
			count(S_LOST, 1);
			return;
		}
		if (bpf_ringbuf_output(&events, e, HDR + n, wakeup_flag()) != 0)
			count(S_LOST, 1);
	}
	if (total > (__u64)MAX_CHUNKS * CHUNK)
		count(S_TRUNCATED, total - (__u64)MAX_CHUNKS * CHUNK);
}

static __always_inline void small_event(__u8 kind, __s32 fd, __u64 conn, struct tuple *t)
{
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	__u64 id = bpf_get_current_pid_tgid();
	e->ts = bpf_ktime_get_ns();
	e->conn = conn;
	e->total = 0;
	e->offset = 0;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->fd = fd;
	e->len = 0;
	e->kind = kind;
	e->dir = 0;
	e->lib = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (t)
		e->t = *t;
	else
		__builtin_memset(&e->t, 0, sizeof(e->t));
	if (bpf_ringbuf_output(&events, e, HDR, wakeup_flag()) != 0)
		count(S_LOST, 1);
}

/* ---- OpenSSL ---- */

static __always_inline int ssl_enter(struct pt_regs *ctx, __u32 fn, __u64 count_ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	/* A call already recorded on the thread is replaced: if it is an outer
	 * call (SSL_read reaching SSL_read_ex through the PLT), the inner one
	 * reports the bytes and the outer finds nothing at its return; if it
	 * is stale (its return never seen), it must not block the thread. */
	struct ssl_call c = {
		.ts = bpf_ktime_get_ns(),
		.ssl = C_ARG1(ctx),
		.buf = C_ARG2(ctx),
		.count_ptr = count_ptr,
		.fd = -1,
		.fn = fn,
	};
	bpf_map_update_elem(&ssl_calls, &id, &c, BPF_ANY);
	return 0;
}

static __always_inline int ssl_exit(struct pt_regs *ctx, __u32 fn)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &id);
	if (!c || c->fn != fn)
		return 0;
	struct ssl_call call = *c;
	bpf_map_delete_elem(&ssl_calls, &id);

	/* The functions return int: -1 in EAX reads as 4294967295 in RAX. */
	__s32 ret = (__s32)C_RET(ctx);
	__u64 n = 0;
	if (fn == F_READ || fn == F_WRITE) {
		if (ret <= 0)
			return 0;
		n = ret;
	} else {
		if (ret != 1 || !call.count_ptr)
			return 0;
		if (bpf_probe_read_user(&n, sizeof(n), (void *)call.count_ptr) != 0 || n == 0)
			return 0;
	}
	struct proc_ptr key = { .pid = id >> 32, .ptr = call.ssl };
	if (call.fd >= 0) {
		bpf_map_update_elem(&ssl_fds, &key, &call.fd, BPF_ANY);
	} else {
		__s32 *fd = bpf_map_lookup_elem(&ssl_fds, &key);
		if (fd)
			call.fd = *fd;
	}
	__u8 dir = (fn == F_READ || fn == F_READ_EX) ? D_RECEIVED : D_SENT;
	emit(id, call.fd, call.ssl, dir, L_OPENSSL, call.buf, n, call.ts, 0);
	return 0;
}

SEC("uprobe/SSL_read") int ssl_read_enter(struct pt_regs *ctx) { return ssl_enter(ctx, F_READ, 0); }
SEC("uretprobe/SSL_read") int ssl_read_exit(struct pt_regs *ctx) { return ssl_exit(ctx, F_READ); }
SEC("uprobe/SSL_write") int ssl_write_enter(struct pt_regs *ctx) { return ssl_enter(ctx, F_WRITE, 0); }
SEC("uretprobe/SSL_write") int ssl_write_exit(struct pt_regs *ctx) { return ssl_exit(ctx, F_WRITE); }
SEC("uprobe/SSL_read_ex") int ssl_read_ex_enter(struct pt_regs *ctx) { return ssl_enter(ctx, F_READ_EX, C_ARG4(ctx)); }
SEC("uretprobe/SSL_read_ex") int ssl_read_ex_exit(struct pt_regs *ctx) { return ssl_exit(ctx, F_READ_EX); }
SEC("uprobe/SSL_write_ex") int ssl_write_ex_enter(struct pt_regs *ctx) { return ssl_enter(ctx, F_WRITE_EX, C_ARG4(ctx)); }
SEC("uretprobe/SSL_write_ex") int ssl_write_ex_exit(struct pt_regs *ctx) { return ssl_exit(ctx, F_WRITE_EX); }

/* ---- syscalls inside an SSL call ---- */

/* The layout of every syscalls:sys_enter_* tracepoint's record. */
struct sys_enter {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

SEC("tracepoint/syscalls/sys_enter_fd")
int sys_enter_fd(struct sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &id);
	if (c && c->fd < 0)
		c->fd = (__s32)ctx->args[0];
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int sys_enter_close(struct sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__s32 fd = (__s32)ctx->args[0];
	__u64 key = (id & 0xffffffff00000000ULL) | (__u32)fd;
	struct sock_info *si = bpf_map_lookup_elem(&tracked, &key);
	if (!si)
		return 0;
	struct sock_info s = *si;
	bpf_map_delete_elem(&tracked, &key);
	small_event(K_CLOSE, fd, s.conn, &s.t);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int sched_exec(void *ctx)
{
	small_event(K_EXEC, -1, 0, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int sched_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	bpf_map_delete_elem(&ssl_calls, &id);
	if ((__u32)id != (id >> 32))
		return 0; /* a thread, not the process */
	small_event(K_EXIT, -1, 0, 0);
	return 0;
}

/* ---- Go crypto/tls ---- */

/* The uprobe cookie of the entry probes carries the struct offsets that
 * lead from a *tls.Conn to its socket's fd, and the direction:
 * bits 0-15  offset of the net.Conn interface's data word in tls.Conn
 * bits 16-31 offset of the *netFD in the concrete conn (net.conn.fd)
 * bits 32-47 offset of Sysfd in netFD (netFD.pfd.Sysfd)
 * bit  48    set for Read */
static __always_inline __s32 go_fd(__u64 conn, __u64 cookie)
{
	__u64 p = 0, q = 0;
	__s64 fd = -1;
	if (bpf_probe_read_user(&p, sizeof(p), (void *)(conn + (cookie & 0xffff))) != 0 || !p)
		return -1;
	if (bpf_probe_read_user(&q, sizeof(q), (void *)(p + ((cookie >> 16) & 0xffff))) != 0 || !q)
		return -1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(q + ((cookie >> 32) & 0xffff))) != 0)
		return -1;
	if (fd < 0 || fd > 0x7fffffff)
		return -1;
	return (__s32)fd;
}

static __always_inline int go_enter(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct proc_ptr key = { .pid = bpf_get_current_pid_tgid() >> 32, .ptr = GO_G(ctx) };
	struct go_call c = {
		.ts = bpf_ktime_get_ns(),
		.conn = GO_ARG1(ctx),
		.buf = GO_ARG2(ctx),
		.dir = (cookie >> 48) & 1 ? D_RECEIVED : D_SENT,
	};
	c.fd = go_fd(c.conn, cookie);
	resolve(bpf_get_current_pid_tgid(), c.fd, c.conn, &c.t);
	bpf_map_update_elem(&go_calls, &key, &c, BPF_ANY);
	return 0;
}

static __always_inline int go_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct proc_ptr key = { .pid = id >> 32, .ptr = GO_G(ctx) };
	struct go_call *c = bpf_map_lookup_elem(&go_calls, &key);
	if (!c)
		return 0;
	struct go_call call = *c;
	bpf_map_delete_elem(&go_calls, &key);
	__s64 n = (__s64)GO_RET1(ctx);
	if (n <= 0)
		return 0;
	emit(id, call.fd, call.conn, call.dir, L_GO, call.buf, n, call.ts, &call.t);
	return 0;
}

/* Each entry and RET as its own uprobe, for kernels before 6.6 ... */
SEC("uprobe/go_tls_enter") int go_tls_enter(struct pt_regs *ctx) { return go_enter(ctx); }
SEC("uprobe/go_tls_ret") int go_tls_ret(struct pt_regs *ctx) { return go_ret(ctx); }
/* ... and all of a binary's in one uprobe_multi link where the kernel has
 * them: detaching hundreds of single uprobes takes a grace period each. */
SEC("uprobe.multi/go_tls_enter") int go_tls_enter_multi(struct pt_regs *ctx) { return go_enter(ctx); }
SEC("uprobe.multi/go_tls_ret") int go_tls_ret_multi(struct pt_regs *ctx) { return go_ret(ctx); }
