# kubeshark: `make build` compiles the built-in dissectors to WebAssembly,
# then the binary that embeds them (bin/kubeshark).
GO        ?= go
# The built-in dissectors: Go guests (dissectors/NAME/wasm/main.go) and
# committed C modules (dissectors/NAME/c/NAME.wasm).
DISSECTORS := $(sort $(patsubst dissectors/%/wasm/main.go,%,$(wildcard dissectors/*/wasm/main.go)) \
	$(foreach m,$(wildcard dissectors/*/c/*.wasm),$(word 2,$(subst /, ,$(m)))))
WASM       := $(DISSECTORS:%=dissectors/bin/%.wasm)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build wasm wasm-c bpf demo deps kube-tools test bench fuzz clean FORCE

all: build

build: wasm
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/kubeshark ./cmd/kubeshark

wasm: $(WASM)

# A dissector written in C (dissectors/NAME/c/NAME.wasm, committed: see
# wasm-c) is copied, so that building needs no clang; a Go one is always
# handed to go build, whose cache makes an up-to-date module cheap.
dissectors/bin/%.wasm: FORCE
	@if [ -f dissectors/$*/c/$*.wasm ]; then echo "cp dissectors/$*/c/$*.wasm $@"; cp dissectors/$*/c/$*.wasm $@; \
	else echo "GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared -o $@ ./dissectors/$*/wasm"; \
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared -o $@ ./dissectors/$*/wasm; fi

# Regenerates the C dissectors' modules (dissectors/http1/c/http1.wasm, the
# built-in HTTP/1 dissector), which are committed so that
# building needs no clang, with the fixed command of dissectortest.BuildC
# (clang-14 -O2 for wasm32-wasi, then wasm-opt -O3); TestCModuleFresh holds
# the committed bytes to a fresh build.
wasm-c:
	$(GO) test -count=1 -run '^(TestIsPrintTable|TestCModuleFresh)$$' ./dissectors/http1/ -update-c
	$(GO) test -count=1 -run '^(TestFoldTable|TestCModuleFresh)$$' ./dissectors/dns/ -update-c

# Regenerates the eBPF programs' objects and Go bindings (bpf/*/), which are
# committed so that building needs no clang. Installs clang-14, llvm and
# libbpf's headers from Debian when root and they are missing.
bpf:
	@missing=""; command -v clang-14 >/dev/null 2>&1 || missing="$$missing clang-14"; \
	command -v llvm-strip >/dev/null 2>&1 || missing="$$missing llvm"; \
	[ -f /usr/include/bpf/bpf_helpers.h ] || missing="$$missing libbpf-dev"; \
	[ -f /usr/include/linux/bpf.h ] || missing="$$missing linux-libc-dev"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing to build the eBPF programs"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else echo "missing$$missing: install them (apt-get install$$missing) to build the eBPF programs"; exit 1; fi; \
	fi
	$(GO) generate ./bpf/...

# The README's first command: generate a capture of real HTTP traffic,
# import it and list its calls.
demo: build
	bin/kubeshark sample demo.pcap
	bin/kubeshark --data .demo import demo.pcap
	bin/kubeshark --data .demo calls --limit 25

# The README's second command. The host code runs under the race detector.
test: wasm deps kube-tools
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./bpf/... ./runtime/... ./storage/... ./sdk/... ./mcp/... ./kube/... ./deploy/...
	$(GO) test -count=1 -timeout 30m ./dissectors/... ./plugins/... ./cmd/... ./examples/...

# Tools the tests compare against: tshark is the conformance oracle, wabt
# assembles the hostile-guest modules, docker-registry serves plugin artifacts
# to the OCI end-to-end test; nginx, curl, openssl, redis, iproute2 and
# Debian's Go 1.19 are the real servers, clients, namespaces and builds of the
# live-capture (tap) and TLS tests, and nginx and h2load record the
# benchmark's small-message capture; clang/lld/wasi-libc and Debian's rustc
# with the wasm32-wasi standard library build the C and Rust plugins of the
# SDK tests and `kubeshark plugin build`, and binaryen's wasm-opt optimises
# them after linking (clang runs it too when it is installed); memcached and beanstalkd are the
# real servers of the examples/ plugins' tests; perf (linux-perf) profiles the
# plugin benchmark's guest-vs-host split (kubeshark-bench -only plugins -split). Installed when missing on a Debian
# machine where we are root; elsewhere the tests that need them skip and say
# so. Each entry is COMMAND-or-FILE:PACKAGE.
TEST_TOOLS := tshark:tshark wat2wasm:wabt tcpdump:tcpdump docker-registry:docker-registry \
	nginx:nginx curl:curl openssl:openssl redis-server:redis-server redis-cli:redis-tools ip:iproute2 h2load:nghttp2-client \
	/usr/lib/go-1.19/bin/go:golang-1.19-go \
	clang-14:clang wasm-ld:lld /usr/lib/wasm32-wasi/libc.a:wasi-libc \
	/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a:libclang-rt-14-dev-wasm32 \
	/usr/bin/rustc:rustc /usr/lib/rustlib/wasm32-wasi:libstd-rust-dev-wasm32 wasm-opt:binaryen \
	memcached:memcached beanstalkd:beanstalkd /usr/lib/postgresql/15/bin/postgres:postgresql unbound:unbound \
	perf:linux-perf
deps:
	@missing=""; for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || [ -e $${t%%:*} ] || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing for the tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	      || echo "could not install$$missing: tests that need them will skip"; \
	  else echo "missing$$missing (not root or no apt-get): tests that need them will skip"; fi; \
	fi

# The real kube-apiserver and etcd the Kubernetes tests run, built from the
# Go module proxy (tools/) into the per-user cache: minutes when cold, nothing
# when cached.
kube-tools:
	$(GO) run ./kube/kubetest/cmd/kube-tools

bench: build deps
	$(GO) run ./cmd/kubeshark-bench $(BENCHFLAGS)

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzAssembler -fuzztime=60s ./runtime/reassembly/
	$(GO) test -run='^$$' -fuzz=FuzzHTTP -fuzztime=60s ./dissectors/http1/

clean:
	rm -rf bin dissectors/bin/*.wasm demo.pcap .demo
