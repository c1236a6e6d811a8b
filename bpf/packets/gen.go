package packets

// The object is built for both byte orders' common case, little endian
// (amd64, arm64); the generated files are committed so that building needs
// no clang. `make bpf` regenerates them.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go@v0.22.0 -cc clang-14 -strip llvm-strip -target bpfel -cflags "-O2 -g -Wall -Werror -mcpu=v3" packets c/packets.c -- -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu
