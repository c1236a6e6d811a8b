package conns

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target amd64,arm64 -cc clang-14 -cflags "-O2 -g -Wall -Werror" connsProbe conns.c -- -I.
