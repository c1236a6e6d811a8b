package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/kubeshark-wasm/kubeshark/storage/timeexpr"
)

// sizeFlag is every byte-size flag: plain bytes (1000000) or a human size,
// SI or binary (1GB = 10^9 bytes, 500MiB = 500·2^20, "1.5 GiB"), parsed by
// go-humanize; negative sizes are refused.
type sizeFlag struct{ n *int64 }

func newSizeFlag(p *int64, def int64) *sizeFlag { *p = def; return &sizeFlag{p} }

func (f *sizeFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return "0"
	}
	return strings.ReplaceAll(humanize.IBytes(uint64(*f.n)), " ", "")
}

func (f *sizeFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("a size cannot be negative: want bytes (1000000) or a size with a unit such as 500MiB or 1GB, or 0")
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n > math.MaxInt64 {
		return fmt.Errorf("not a size: want bytes (1000000) or a size with a unit such as 500MiB or 1GB")
	}
	*f.n = int64(n)
	return nil
}

func (f *sizeFlag) Type() string { return "size" }

// ageFlag is a non-negative span: Go's units plus d (7d, 36h, 90m).
type ageFlag struct{ d *time.Duration }

func (f *ageFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return "0"
	}
	return f.d.String()
}

func (f *ageFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "0" {
		*f.d = 0
		return nil
	}
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("an age cannot be negative: want one such as 36h or 7d, or 0 to keep everything")
	}
	d, ok := timeexpr.ParseDuration(s)
	if !ok {
		return fmt.Errorf("not a duration: want an age such as 90m, 36h or 7d, or 0 to keep everything")
	}
	*f.d = d
	return nil
}

func (f *ageFlag) Type() string { return "duration" }
