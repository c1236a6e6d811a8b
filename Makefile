# kubeshark: `make build` compiles the built-in dissectors to WebAssembly,
# then the binary that embeds them (bin/kubeshark).
GO        ?= go
DISSECTORS := $(patsubst dissectors/%/wasm/main.go,%,$(wildcard dissectors/*/wasm/main.go))
WASM       := $(DISSECTORS:%=dissectors/bin/%.wasm)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build wasm demo deps test bench fuzz clean FORCE

all: build

build: wasm
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/kubeshark ./cmd/kubeshark

wasm: $(WASM)

# Always handed to go build, whose cache makes an up-to-date module cheap.
dissectors/bin/%.wasm: FORCE
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared -o $@ ./dissectors/$*/wasm

# The README's first command: generate a capture of real HTTP traffic,
# import it and list its calls.
demo: build
	bin/kubeshark sample demo.pcap
	bin/kubeshark --data .demo import demo.pcap
	bin/kubeshark --data .demo calls --limit 25

# The README's second command. The host code runs under the race detector.
test: wasm deps
	$(GO) vet ./...
	$(GO) test -race -count=1 ./runtime/... ./storage/... ./sdk/... ./mcp/... ./bpf/...
	$(GO) test -count=1 -timeout 30m ./dissectors/... ./cmd/...

# Tools the tests compare against: tshark is the conformance oracle, wabt
# assembles the hostile-guest modules, docker-registry serves plugin artifacts
# to the OCI end-to-end test; nginx, curl, openssl, iproute2 and Debian's
# Go 1.19 are the real servers, clients and builds bpf/tls traces.
# Installed when missing on a Debian machine where we are root; elsewhere the
# tests that need them skip and say so.
TEST_TOOLS := tshark:tshark wat2wasm:wabt tcpdump:tcpdump docker-registry:docker-registry nginx:nginx curl:curl openssl:openssl ip:iproute2 /usr/lib/go-1.19/bin/go:golang-1.19-go redis-server:redis-server
deps:
	@missing=""; for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing for the tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	      || echo "could not install$$missing: tests that need them will skip"; \
	  else echo "missing$$missing (not root or no apt-get): tests that need them will skip"; fi; \
	fi

bench: build
	$(GO) run ./cmd/kubeshark-bench $(BENCHFLAGS)

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzAssembler -fuzztime=60s ./runtime/reassembly/
	$(GO) test -run='^$$' -fuzz=FuzzHTTP -fuzztime=60s ./dissectors/http1/

clean:
	rm -rf bin dissectors/bin/*.wasm demo.pcap .demo
