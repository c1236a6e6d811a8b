package decode

import "time"

// Defaults for Options, chosen like common host stacks: 30 s is the upper
// end of what Linux and BSD wait for missing fragments, and 32 MiB holds
// hundreds of maximum-size datagrams in flight.
const (
	DefaultMaxFragmentMemory = 32 << 20
	DefaultFragmentTimeout   = 30 * time.Second
)

// Options configures a Decoder. The zero value uses the defaults.
type Options struct {
	// MaxFragmentMemory bounds the bytes held for incomplete IP datagrams
	// (IPv4 and IPv6 each); the oldest datagrams are evicted beyond it.
	MaxFragmentMemory int
	// FragmentTimeout is how long, in capture time, an incomplete datagram
	// waits for its missing fragments.
	FragmentTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxFragmentMemory <= 0 {
		o.MaxFragmentMemory = DefaultMaxFragmentMemory
	}
	if o.FragmentTimeout <= 0 {
		o.FragmentTimeout = DefaultFragmentTimeout
	}
	return o
}
