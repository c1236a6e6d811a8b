package reassembly

import "time"

// Defaults that New applies to zero or negative Config fields.
const (
	DefaultMaxBufferedPerConn = 4 << 20
	DefaultMaxBufferedTotal   = 256 << 20
	DefaultMaxConns           = 1 << 18
	DefaultIdleTimeout        = 2 * time.Minute
	DefaultUDPIdleTimeout     = 30 * time.Second
)

// Config bounds the memory and lifetime of tracked connections. The zero
// value is usable: every unset field takes its default.
type Config struct {
	// MaxBufferedPerConn caps the out-of-order bytes held for one connection,
	// both directions together.
	MaxBufferedPerConn int
	// MaxBufferedTotal caps the out-of-order bytes held across all
	// connections of the Assembler.
	MaxBufferedTotal int
	// MaxConns caps tracked connections; when full the least recently active
	// one is closed with CloseEvicted.
	MaxConns int
	// IdleTimeout closes a TCP connection that saw no segment for this long,
	// measured in capture time.
	IdleTimeout time.Duration
	// UDPIdleTimeout closes a UDP flow that saw no datagram for this long.
	UDPIdleTimeout time.Duration
}

// WithDefaults returns c with the default in every field left zero, as the
// assembler applies them.
func (c Config) WithDefaults() Config {
	if c.MaxBufferedPerConn <= 0 {
		c.MaxBufferedPerConn = DefaultMaxBufferedPerConn
	}
	if c.MaxBufferedTotal <= 0 {
		c.MaxBufferedTotal = DefaultMaxBufferedTotal
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.UDPIdleTimeout <= 0 {
		c.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	return c
}
