// Package interrupt rewrites a WebAssembly module so that the host can stop
// it cheaply. It sits in front of wazero in the dissector sandbox
// (runtime/wasm): every module is instrumented before it is compiled.
//
// The rewritten module has a mutable i32 global exported as [ExportName],
// the flag; a budget, a global counted down at the start of every function
// that calls another; and in every function a local counted up at each loop
// header. Every way a module can run for ever passes one of those points
// again and again: a loop its header, a recursion the entry of a function
// that calls (a function that calls nothing runs at most its own length
// between two loop headers, and is left without an entry check). Each time
// a count runs out (every 16,384 checks) the guest leaves compiled code for
// Go for an instant, so that Go can preempt its goroutine, and traps
// (unreachable) if the host has raised the flag. A host that raises the
// flag stops the guest within microseconds.
//
// wazero offers the same guarantee (WithCloseOnContextDone), but leaves
// compiled code for Go at every loop header. Go's wasm backend compiles
// nearly every function as a loop around a resume br_table, so the exit ran
// on almost every branch and made Go dissectors 4× slower. The checks this
// package inserts are a load, a decrement, a store and a branch the CPU
// predicts at a function's entry, and an increment, a mask and a branch on
// a register at a loop header; a loop's slow path runs outside the loop
// (the loop is wrapped in three blocks to get there), so that the call it
// makes does not make wazero keep the loop's values in memory.
// RATIONALE.md has the figures.
package interrupt
