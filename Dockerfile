# The image the chart runs (deploy/chart/kubeshark: image.repository,
# image.tag): one static binary, `kubeshark hub` for the hub and
# `kubeshark tap` for the workers.
#
#   docker build -t ghcr.io/kubeshark-wasm/kubeshark:0.1.0 .
#   kubeshark tap --cluster --set image.repository=REPO --set image.tag=TAG
#
# Not built or run by the tests (no container builder or registry access
# here); the chart's objects are tested on a real API server instead.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# make build: the dissectors to WebAssembly, then the binary that embeds
# them. The eBPF objects are committed (bpf2go output): no clang needed.
RUN make wasm && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" -o /out/kubeshark ./cmd/kubeshark

# distroless/static: no shell, no package manager; its "nonroot" user
# (65532) is the one the hub runs as. The worker runs as uid 0 with the
# capabilities the chart lists (a capability needs uid 0 or file caps).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kubeshark /usr/local/bin/kubeshark
# The dissector cache and data go to the chart's volumes (/data).
ENV KUBESHARK_DATA=/data KUBESHARK_CACHE=/data/cache
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kubeshark"]
CMD ["hub", "--addr", "0.0.0.0:8898"]
