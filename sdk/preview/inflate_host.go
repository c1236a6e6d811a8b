//go:build wasip1 && !kubeshark_noglue

package preview

import "github.com/kubeshark-wasm/kubeshark/sdk"

// inflater hands decompression to the host, which runs Go's flate natively:
// compiled to wasm it ran ten times slower, and a gzip body's preview cost
// more than everything else in its exchange.
type inflater struct{}

func (*inflater) inflate(format Compression, src, dst []byte) (int, bool) {
	n := sdk.HostInflate(int(format), src, dst)
	return max(n, 0), n >= 0
}
