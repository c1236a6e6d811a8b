/* Minimal, self-contained definitions for the connection-event program, so
 * that regenerating it needs clang alone (no kernel or libbpf headers). */
#ifndef CONNS_H
#define CONNS_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed int __s32;
typedef signed long long __s64;

enum {
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __always_inline inline __attribute__((always_inline))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_get_current_comm)(void *buf, __u32 size) = (void *)16;
static __u64 (*bpf_get_current_task)(void) = (void *)35;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;

/* CO-RE: only the fields read are declared; the loader relocates each
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
struct kernfs_node { __u64 id; } __core;
struct cgroup { struct kernfs_node *kn; } __core;
struct sock_cgroup_data { struct cgroup *cgroup; } __core;
struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	struct sock_cgroup_data sk_cgrp_data;
} __core;
struct socket { struct sock *sk; } __core;
struct file { void *private_data; } __core;
struct fdtable { unsigned int max_fds; struct file **fd; } __core;
struct files_struct { struct fdtable *fdt; } __core;
struct task_struct { struct files_struct *files; } __core;
#define KREAD(dst, src) bpf_probe_read_kernel(&(dst), sizeof(dst), __builtin_preserve_access_index(&(src)))

#endif
