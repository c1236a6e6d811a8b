package preview

import "github.com/kubeshark-wasm/kubeshark/sdk"

// Compression is a deflate-based format Inflate undoes.
type Compression int

// The formats, numbered as the host's inflate import numbers them.
const (
	Gzip Compression = sdk.InflateGzip
	Zlib Compression = sdk.InflateZlib
	Raw  Compression = sdk.InflateRaw
)

// Inflate decompresses src, one layer of the given format, into dst, and
// returns how many bytes it wrote. It stops when dst is full, so a
// compression bomb costs no more than dst. ok is false when nothing could be
// decoded; a stream cut short still yields what decoded before the cut.
func (d *Decoder) Inflate(format Compression, src, dst []byte) (n int, ok bool) {
	return d.inflate(format, src, dst)
}
