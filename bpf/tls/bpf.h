/* Minimal, self-contained definitions for the TLS tracer's BPF program, so
 * that regenerating it needs clang alone (no kernel or libbpf headers). */
#ifndef TLS_BPF_H
#define TLS_BPF_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed int __s32;
typedef signed long long __s64;

enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
#define BPF_ANY 0

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __always_inline inline __attribute__((always_inline))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_get_current_comm)(void *buf, __u32 size) = (void *)16;
static long (*bpf_probe_read_user)(void *dst, __u32 size, const void *src) = (void *)112;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;
static __u64 (*bpf_ringbuf_query)(void *ringbuf, __u64 flags) = (void *)134;
/* bpf_ringbuf_output's flags and bpf_ringbuf_query's question (linux/bpf.h). */
#define BPF_RB_NO_WAKEUP 1
#define BPF_RB_FORCE_WAKEUP 2
#define BPF_RB_AVAIL_DATA 0
static __u64 (*bpf_get_attach_cookie)(void *ctx) = (void *)174;
static __u64 (*bpf_get_current_task)(void) = (void *)35;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;

/* CO-RE: the kernel structures on the way from a task's fd to its socket's
 * addresses. Only the fields used are declared; the loader relocates each
 * access against the running kernel's BTF by name. */
#define __core __attribute__((preserve_access_index))
struct in6_addr { __u8 s6_addr[16]; } __core;
struct sock_common {
	__u32 skc_daddr;
	__u32 skc_rcv_saddr;
	__u16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __core;
struct sock { struct sock_common __sk_common; } __core;
struct socket { struct sock *sk; } __core;
struct inode { unsigned short i_mode; } __core;
struct file { void *private_data; struct inode *f_inode; } __core;
struct fdtable { unsigned int max_fds; struct file **fd; } __core;
struct files_struct { struct fdtable *fdt; } __core;
struct task_struct { struct files_struct *files; } __core;
#define KREAD(dst, src) bpf_probe_read_kernel(&(dst), sizeof(dst), __builtin_preserve_access_index(&(src)))

/* The registers a uprobe sees, as the kernel lays them out. */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
/* C ABI (System V) */
#define C_ARG1(r) ((r)->di)
#define C_ARG2(r) ((r)->si)
#define C_ARG3(r) ((r)->dx)
#define C_ARG4(r) ((r)->cx)
#define C_RET(r) ((r)->ax)
/* Go register ABI (ABIInternal): arguments in AX, BX, CX, DI..., the current
 * goroutine's g in R14. */
#define GO_ARG1(r) ((r)->ax)
#define GO_ARG2(r) ((r)->bx)
#define GO_ARG3(r) ((r)->cx)
#define GO_RET1(r) ((r)->ax)
#define GO_G(r) ((r)->r14)
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs {
	__u64 regs[31];
	__u64 sp, pc, pstate;
};
#define C_ARG1(r) ((r)->regs[0])
#define C_ARG2(r) ((r)->regs[1])
#define C_ARG3(r) ((r)->regs[2])
#define C_ARG4(r) ((r)->regs[3])
#define C_RET(r) ((r)->regs[0])
/* Go register ABI: arguments in R0..R15, g in R28. */
#define GO_ARG1(r) ((r)->regs[0])
#define GO_ARG2(r) ((r)->regs[1])
#define GO_ARG3(r) ((r)->regs[2])
#define GO_RET1(r) ((r)->regs[0])
#define GO_G(r) ((r)->regs[28])
#else
#error "set __TARGET_ARCH_x86 or __TARGET_ARCH_arm64 (bpf2go -target amd64,arm64 does)"
#endif

#endif
