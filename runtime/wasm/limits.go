package wasm

// WithDefaults returns c with every unset limit at its default, so that
// callers can show the limits a module runs under (`kubeshark plugin
// inspect`).
func (c Config) WithDefaults() Config {
	c.defaults()
	return c
}
