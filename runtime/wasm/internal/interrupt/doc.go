// Package interrupt rewrites a WebAssembly module so that the host can stop
// it cheaply. It sits in front of wazero in the dissector sandbox
// (runtime/wasm): every module is instrumented before it is compiled.
//
// The rewritten module has a mutable i32 global exported as [ExportName],
// the flag, and a budget counted down at the start of every function and at
// every loop header. Every way a module can run for ever passes one of those
// points again and again. Each time the budget runs out (every 16,384
// checks) the guest leaves compiled code for Go for an instant, so that Go
// can preempt its goroutine, and traps (unreachable) if the host has raised
// the flag. A host that raises the flag stops the guest within
// microseconds.
//
// wazero offers the same guarantee (WithCloseOnContextDone), but leaves
// compiled code for Go at every loop header. Go's wasm backend compiles
// nearly every function as a loop around a resume br_table, so the exit ran
// on almost every branch and made Go dissectors 4× slower. The check this
// package inserts is a load, a decrement, a store and a branch the CPU
// predicts. RATIONALE.md has the figures.
package interrupt
