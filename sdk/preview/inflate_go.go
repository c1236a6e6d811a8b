//go:build !wasip1 || kubeshark_noglue

package preview

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
)

// inflater decompresses with Go's readers, reset for each body instead of
// allocated anew. This is the native build's, and the host's, way; a wasm
// guest asks the host (inflate_host.go).
type inflater struct {
	src bytes.Reader
	gz  *gzip.Reader
	zl  io.ReadCloser // also a zlib.Resetter
	fl  io.ReadCloser // also a flate.Resetter
}

func (d *inflater) inflate(format Compression, src, dst []byte) (int, bool) {
	d.src.Reset(src)
	var r io.Reader
	var err error
	switch format {
	case Gzip:
		if d.gz == nil {
			d.gz, err = gzip.NewReader(&d.src)
		} else {
			err = d.gz.Reset(&d.src)
		}
		r = d.gz
	case Zlib:
		if d.zl == nil {
			var zl io.ReadCloser
			if zl, err = zlib.NewReader(&d.src); err == nil {
				d.zl = zl
			}
		} else {
			err = d.zl.(zlib.Resetter).Reset(&d.src, nil)
		}
		r = d.zl
	case Raw:
		if d.fl == nil {
			d.fl = flate.NewReader(&d.src)
		} else {
			d.fl.(flate.Resetter).Reset(&d.src, nil)
		}
		r = d.fl
	default:
		return 0, false
	}
	if err != nil {
		return 0, false
	}
	// ReadFull reports a stream that ended cleanly before filling dst as
	// io.ErrUnexpectedEOF after some bytes and io.EOF after none; with no
	// bytes, any other error (a flate io.ErrUnexpectedEOF included) means
	// a stream that was cut or corrupt before yielding anything.
	n, err := io.ReadFull(r, dst)
	return n, n > 0 || err == nil || err == io.EOF
}
