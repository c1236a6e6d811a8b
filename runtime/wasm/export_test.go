package wasm

// Compiled reports whether m has been compiled yet, for the tests of lazy
// loading.
func Compiled(m *Module) bool { return m.isCompiled.Load() }

// Instances is how many instances the runtime is running.
func Instances(r *Runtime) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.instances)
}
