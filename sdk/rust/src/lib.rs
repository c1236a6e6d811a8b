//! The Rust SDK for kubeshark dissector plugins (ABI v1, `sdk/ABI.md`).
//!
//! Implement [`Dissector`] and [`Conn`], then `kubeshark::export_dissector!(MyDissector);`
//! in the plugin crate, and build it as a `cdylib` for `wasm32-wasi`:
//!
//! ```text
//! rustc --edition 2021 -O --target wasm32-wasi --crate-type rlib --crate-name kubeshark -o libkubeshark.rlib kubeshark-sdk/lib.rs
//! rustc --edition 2021 -O --target wasm32-wasi --crate-type cdylib --extern kubeshark=libkubeshark.rlib -o x.wasm src/lib.rs
//! ```
//!
//! (`kubeshark plugin build` does both.) The crate has no dependencies and
//! builds with rustc 1.63.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The allocator of a plugin built for wasm: blocks of 16 to 2,048 bytes
/// in eight size classes, each class a free list, carved from 64 KiB
/// chunks of the system allocator (wasi-libc's dlmalloc), which keeps
/// larger blocks. A dissector allocates and frees a few small strings and
/// vectors per record; dlmalloc's general paths, compiled to wasm where
/// every memory access is bounds-checked and every loop counted, cost a
/// few hundred instructions a pair where a free-list pop and push cost a
/// dozen. Freed small blocks are kept for their class, never returned to
/// dlmalloc: a plugin's small-block memory is its peak of live small
/// blocks. wasm32-wasi modules are single-threaded, hence no locks.
/// Natively the system's allocator is used; a plugin that wants dlmalloc
/// in wasm, or defines its own #[global_allocator], builds the SDK with
/// `--cfg kubeshark_system_alloc`.
#[cfg(all(target_arch = "wasm32", not(kubeshark_system_alloc)))]
mod small_alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::ptr::null_mut;

    const CLASSES: usize = 8;
    const MAX: usize = 16 << (CLASSES - 1);
    const ALIGN: usize = 16;
    const CHUNK: usize = 64 << 10;

    struct State {
        free: [*mut u8; CLASSES],
        next: *mut u8,
        end: *mut u8,
    }

    static mut STATE: State = State { free: [null_mut(); CLASSES], next: null_mut(), end: null_mut() };

    pub struct Small;

    #[global_allocator]
    static ALLOC: Small = Small;

    /// Whether a block of this layout is one of ours.
    #[inline(always)]
    fn small(size: usize, align: usize) -> bool {
        size <= MAX && align <= ALIGN
    }

    /// The class of a size of 1 to MAX: 16 << class bytes hold it.
    #[inline(always)]
    fn class(size: usize) -> usize {
        let bits = (usize::BITS - (size.max(1) - 1).leading_zeros()) as usize;
        bits.max(4) - 4
    }

    #[cold]
    unsafe fn refill(s: &mut State, n: usize) -> *mut u8 {
        // What is left of the old chunk (less than n bytes) is dropped.
        let c = System.alloc(Layout::from_size_align_unchecked(CHUNK, ALIGN));
        if c.is_null() {
            return c;
        }
        s.next = c.add(n);
        s.end = c.add(CHUNK);
        c
    }

    unsafe impl GlobalAlloc for Small {
        #[inline]
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            if !small(l.size(), l.align()) {
                return System.alloc(l);
            }
            let s = &mut STATE;
            let c = class(l.size());
            let head = s.free[c];
            if !head.is_null() {
                s.free[c] = *(head as *mut *mut u8);
                return head;
            }
            let n = 16 << c;
            if (s.end as usize) - (s.next as usize) < n {
                return refill(s, n);
            }
            let p = s.next;
            s.next = p.add(n);
            p
        }
        #[inline]
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            if !small(l.size(), l.align()) {
                return System.dealloc(p, l);
            }
            let s = &mut STATE;
            let c = class(l.size());
            *(p as *mut *mut u8) = s.free[c];
            s.free[c] = p;
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            if !small(l.size(), l.align()) {
                return System.alloc_zeroed(l);
            }
            let p = self.alloc(l);
            if !p.is_null() {
                std::ptr::write_bytes(p, 0, l.size());
            }
            p
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
            let was = small(l.size(), l.align());
            let will = small(size, l.align());
            if was && will && class(l.size()) == class(size) {
                return p;
            }
            if !was && !will {
                return System.realloc(p, l, size);
            }
            let nl = Layout::from_size_align_unchecked(size, l.align());
            let q = self.alloc(nl);
            if !q.is_null() {
                std::ptr::copy_nonoverlapping(p, q, l.size().min(size));
                self.dealloc(p, l);
            }
            q
        }
    }
}

/// The ABI version this SDK speaks.
pub const ABI_VERSION: u32 = 1;

/// A direction of a connection. `A` is the client when the connection is
/// oriented, which the host arranges whenever it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    A = 0,
    B = 1,
}

impl Dir {
    fn from(v: u32) -> Dir {
        if v & 1 == 0 {
            Dir::A
        } else {
            Dir::B
        }
    }
}

/// A probe's verdict on the first bytes of a stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct Probe {
    /// 0 (not this protocol) to 100 (certain); 50 or more claims the stream.
    pub confidence: u8,
    /// The bytes look like the server's side.
    pub from_server: bool,
    /// Show more bytes before deciding.
    pub need_more: bool,
}

impl Probe {
    /// Not this protocol.
    pub fn no() -> Probe {
        Probe::default()
    }
    /// This protocol, with the given confidence.
    pub fn yes(confidence: u8) -> Probe {
        Probe { confidence, ..Probe::default() }
    }
    /// Ask for more bytes.
    pub fn need_more() -> Probe {
        Probe { need_more: true, ..Probe::default() }
    }
    fn encode(self) -> u32 {
        (self.confidence.min(100) as u32) | (self.from_server as u32) << 8 | (self.need_more as u32) << 9
    }
}

/// What `feed` did with the bytes it was offered.
#[derive(Clone, Copy, Debug)]
pub struct Feed {
    /// Bytes consumed; None rejects the connection.
    pub consumed: Option<usize>,
    /// How many bytes in all the dissector wants before it can progress (0: unknown).
    pub need: usize,
}

impl Feed {
    /// n bytes were consumed; the rest are offered again with more.
    pub fn consumed(n: usize) -> Feed {
        Feed { consumed: Some(n), need: 0 }
    }
    /// The connection is not this protocol: stop feeding it.
    pub fn reject() -> Feed {
        Feed { consumed: None, need: 0 }
    }
    fn encode(self) -> u64 {
        let c = match self.consumed {
            Some(n) => n as u32 as u64,
            None => 0xFFFF_FFFF,
        };
        (self.need as u32 as u64) << 32 | c
    }
}

/// A field the dissector's records carry. `kind` is string, int, bool,
/// float, list or map.
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: &'static str,
    pub description: &'static str,
}

/// What the dissector says about itself (ABI.md, "Manifest JSON").
pub struct Manifest {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub protocols: &'static [&'static str],
    /// "tcp" and/or "udp".
    pub transports: &'static [&'static str],
    pub port_hints: &'static [u16],
    pub fields: &'static [FieldSpec],
}

impl Manifest {
    /// The manifest's JSON.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{\"name\":");
        json_string(&mut s, self.name);
        s.push_str(",\"version\":");
        json_string(&mut s, self.version);
        s.push_str(",\"description\":");
        json_string(&mut s, self.description);
        s.push_str(",\"protocols\":");
        json_list(&mut s, self.protocols);
        s.push_str(",\"transports\":");
        json_list(&mut s, self.transports);
        s.push_str(",\"port_hints\":[");
        for (i, p) in self.port_hints.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_int(&mut s, *p as i64);
        }
        s.push_str("],\"fields\":[");
        for (i, f) in self.fields.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str("{\"name\":");
            json_string(&mut s, f.name);
            s.push_str(",\"type\":");
            json_string(&mut s, f.kind);
            s.push_str(",\"description\":");
            json_string(&mut s, f.description);
            s.push('}');
        }
        s.push_str("]}");
        s
    }
}

fn json_list(s: &mut String, list: &[&str]) {
    s.push('[');
    for (i, v) in list.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_string(s, v);
    }
    s.push(']');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether a byte of w is below 0x20, a '"' or a '\\', the bytes a JSON
/// string must escape (the usual has-zero-byte tests; exact as a yes or
/// no, though not in which byte). Bytes of 0x80 and more never need an
/// escape, so UTF-8 passes whole.
#[inline(always)]
fn needs_escape(w: u64) -> bool {
    let q = w ^ (ONES * b'"' as u64);
    let bs = w ^ (ONES * b'\\' as u64);
    ((w.wrapping_sub(ONES * 0x20) & !w) | (q.wrapping_sub(ONES) & !q) | (bs.wrapping_sub(ONES) & !bs)) & HIGHS != 0
}

/// Whether no byte of b needs an escape in a JSON string (see words).
#[inline(always)]
fn clean(b: &[u8]) -> bool {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if b.len() >= 16 {
        // Safety: clean16 reads inside b, which has 16 bytes or more.
        return unsafe { clean16(b.as_ptr(), b.len()) };
    }
    words(b, |w| !needs_escape(w))
}

/// clean for 16 bytes or more with SIMD128 (wasm builds with it, which
/// `kubeshark plugin build` makes): sixteen bytes a step, the last step
/// overlapping the one before it. words' u64 tests, which LLVM's SLP
/// vectoriser pairs into i64x2 code, compile under wazero to lane
/// extractions and insertions, ~35 machine instructions a pair of words
/// (RATIONALE.md, "Rust SDK: JSON keys checked with SIMD128").
///
/// Safety: p is valid for n >= 16 bytes of reads.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn clean16(p: *const u8, n: usize) -> bool {
    use core::arch::wasm32::*;
    let bad = |v: v128| {
        v128_or(
            u8x16_lt(v, u8x16_splat(0x20)),
            v128_or(u8x16_eq(v, u8x16_splat(b'"')), u8x16_eq(v, u8x16_splat(b'\\'))),
        )
    };
    let mut acc = v128_or(bad(v128_load(p as *const v128)), bad(v128_load(p.add(n - 16) as *const v128)));
    let mut i = 16;
    while i + 16 < n {
        acc = v128_or(acc, bad(v128_load(p.add(i) as *const v128)));
        i += 16;
    }
    !v128_any_true(acc)
}

/// Whether every byte of b is ASCII (see words).
#[inline(always)]
fn ascii(b: &[u8]) -> bool {
    words(b, |w| w & HIGHS == 0)
}

/// Whether ok holds for words that cover every byte of b, ok being a
/// test of each byte of a word that an 'a' passes. Eight bytes a step,
/// the last step overlapping the one before it; up to 32 bytes in two to
/// four overlapping words without a loop, a string shorter than eight
/// bytes in two overlapping loads: no loop over bytes, each of whose steps
/// costs a bounds check and an interruption check in wasm.
#[inline(always)]
fn words(b: &[u8], ok: impl Fn(u64) -> bool) -> bool {
    let n = b.len();
    let p = b.as_ptr();
    // Safety: every load reads inside b.
    unsafe {
        if n > 32 {
            let mut i = 0;
            while i + 8 < n {
                if !ok(rd64(p, i)) {
                    return false;
                }
                i += 8;
            }
            ok(rd64(p, n - 8))
        } else if n >= 16 {
            // Keys (a field's name carries its protocol's) are mostly 16
            // to 32 bytes.
            ok(rd64(p, 0)) & ok(rd64(p, 8)) & ok(rd64(p, n - 16)) & ok(rd64(p, n - 8))
        } else if n >= 8 {
            ok(rd64(p, 0)) & ok(rd64(p, n - 8))
        } else if n >= 4 {
            ok(rd32(p, 0) as u64 | (rd32(p, n - 4) as u64) << 32)
        } else if n > 0 {
            // Three bytes that cover every byte of a string of one to
            // three; the other five are 'a'.
            ok(*p as u64 | (*p.add(n / 2) as u64) << 8 | (*p.add(n - 1) as u64) << 16 | (ONES * b'a' as u64) << 24)
        } else {
            true
        }
    }
}

/// b as text, invalid UTF-8 replaced by U+FFFD: what
/// `String::from_utf8_lossy(b).into_owned()` gives, with ASCII (the usual
/// in a protocol's keys and names) recognised eight bytes at a time first,
/// where from_utf8_lossy and from_utf8 go a byte at a time through short
/// strings.
pub fn text(b: &[u8]) -> String {
    if !ascii(b) {
        return String::from_utf8_lossy(b).into_owned();
    }
    let mut v = Vec::with_capacity(b.len());
    put_short(&mut v, b);
    // Safety: ASCII is UTF-8.
    unsafe { String::from_utf8_unchecked(v) }
}

/// Appends v to s as a JSON string.
pub fn json_string(s: &mut String, v: &str) {
    let b = v.as_bytes();
    if !clean(b) {
        return json_string_escaped(s, v);
    }
    let n = b.len();
    // Safety: reserve makes room for the n + 2 bytes written: a quote, v
    // (a whole str) and a quote.
    unsafe {
        let o = s.as_mut_vec();
        o.reserve(n + 2);
        let d = o.as_mut_ptr().add(o.len());
        *d = b'"';
        copy_to(d.add(1), b);
        *d.add(n + 1) = b'"';
        o.set_len(o.len() + n + 2);
    }
}

/// json_string for a string that needs escapes: runs of bytes that need
/// none are copied whole.
#[cold]
fn json_string_escaped(s: &mut String, v: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.push('"');
    let b = v.as_bytes();
    let mut i = 0;
    let mut run = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c >= 0x20 && c != b'"' && c != b'\\' {
            continue;
        }
        // c is ASCII, so both ends of the run are character boundaries.
        push_short(s, &v[run..i - 1]);
        run = i;
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            _ => {
                s.push_str("\\u00");
                s.push(HEX[(c >> 4) as usize] as char);
                s.push(HEX[(c & 15) as usize] as char);
            }
        }
    }
    push_short(s, &v[run..]);
    s.push('"');
}

/// Appends v to s (see put_short).
#[inline]
fn push_short(s: &mut String, v: &str) {
    // Safety: the bytes appended are all of v, a whole str.
    unsafe { put_short(s.as_mut_vec(), v.as_bytes()) }
}

/// Appends v to b after one reserve (see copy_to).
#[inline]
fn put_short(b: &mut Vec<u8>, v: &[u8]) {
    b.reserve(v.len());
    // Safety: reserve made room for v's bytes after len.
    unsafe {
        copy_to(b.as_mut_ptr().add(b.len()), v);
        b.set_len(b.len() + v.len());
    }
}

/// Copies v to d, which has room for it. In wasm a copy of unknown
/// length is memory.copy (with bulk memory, which kubeshark plugin build
/// turns on), a call out of compiled code into the host's memmove, which
/// costs more than moving a few bytes: up to 32 bytes move in two to four
/// overlapping word loads and stores. Natively and for longer v it is
/// copy_nonoverlapping (memcpy).
///
/// Safety: d is valid for v.len() bytes of writes and does not overlap v.
#[inline(always)]
unsafe fn copy_to(d: *mut u8, v: &[u8]) {
    let n = v.len();
    let s = v.as_ptr();
    if n > 32 || !cfg!(target_arch = "wasm32") {
        return std::ptr::copy_nonoverlapping(s, d, n);
    }
    if n >= 16 {
        let (w0, w1) = (rd64(s, 0), rd64(s, 8));
        let (w2, w3) = (rd64(s, n - 16), rd64(s, n - 8));
        wr64(d, 0, w0);
        wr64(d, 8, w1);
        wr64(d, n - 16, w2);
        wr64(d, n - 8, w3);
    } else if n >= 8 {
        let (w0, w1) = (rd64(s, 0), rd64(s, n - 8));
        wr64(d, 0, w0);
        wr64(d, n - 8, w1);
    } else if n >= 4 {
        let (h0, h1) = (rd32(s, 0), rd32(s, n - 4));
        (d as *mut u32).write_unaligned(h0);
        (d.add(n - 4) as *mut u32).write_unaligned(h1);
    } else if n > 0 {
        let (b0, b1, b2) = (*s, *s.add(n / 2), *s.add(n - 1));
        *d = b0;
        *d.add(n / 2) = b1;
        *d.add(n - 1) = b2;
    }
}

#[inline(always)]
unsafe fn rd64(p: *const u8, at: usize) -> u64 {
    (p.add(at) as *const u64).read_unaligned()
}

#[inline(always)]
unsafe fn rd32(p: *const u8, at: usize) -> u32 {
    (p.add(at) as *const u32).read_unaligned()
}

#[inline(always)]
unsafe fn wr64(p: *mut u8, at: usize, v: u64) {
    (p.add(at) as *mut u64).write_unaligned(v)
}

/// The most bytes write_int writes.
const INT_MAX_LEN: usize = 20;

/// Writes v in decimal at d, which has room for INT_MAX_LEN bytes, and
/// returns how many it wrote: digits straight to their place, no buffer
/// on the stack, and for values that fit in 32 bits divisions that wasm
/// does as a multiplication.
///
/// Safety: d is valid for INT_MAX_LEN bytes of writes.
#[inline]
unsafe fn write_int(d: *mut u8, v: i64) -> usize {
    let neg = (v < 0) as usize;
    *d = b'-';
    let u = v.unsigned_abs();
    if u > u32::MAX as u64 {
        return neg + write_u64(d.add(neg), u);
    }
    let mut x = u as u32;
    // Most of a dissector's numbers (codes, flags, small sizes) have one
    // or two digits: no loop for them.
    if x < 10 {
        *d.add(neg) = b'0' + x as u8;
        return neg + 1;
    }
    if x < 100 {
        *d.add(neg) = b'0' + (x / 10) as u8;
        *d.add(neg + 1) = b'0' + (x % 10) as u8;
        return neg + 2;
    }
    let mut n = 1;
    let mut t: u64 = 10;
    while x as u64 >= t {
        t *= 10;
        n += 1;
    }
    let end = neg + n;
    let mut e = end;
    loop {
        e -= 1;
        *d.add(e) = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    end
}

/// write_int's long path, for magnitudes over 32 bits: the digits counted,
/// then written backwards in place, as write_int's. (Through a buffer on
/// the stack, its copy out was a memory.copy, and under wazero a function
/// holding one saves and restores xmm8-15 on every call whether or not
/// the copy runs: Fields::int, where this is inlined, paid it for every
/// field; RATIONALE.md, "No memory.copy in a hot function's cold path".)
#[cold]
unsafe fn write_u64(d: *mut u8, mut u: u64) -> usize {
    let mut n = 1;
    let mut t = u;
    while t >= 10 {
        t /= 10;
        n += 1;
    }
    let mut e = n;
    loop {
        e -= 1;
        *d.add(e) = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    n
}

/// Appends v in decimal, without the allocation of to_string.
fn push_int(s: &mut String, v: i64) {
    // Safety: reserve makes room; the bytes are ASCII digits and a sign.
    unsafe {
        let o = s.as_mut_vec();
        o.reserve(INT_MAX_LEN);
        let n = write_int(o.as_mut_ptr().add(o.len()), v);
        o.set_len(o.len() + n);
    }
}

/// A message's protocol-specific fields, built as the JSON object the wire
/// encoding carries. Keys should be the manifest's field names.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    json: String,
}

impl Fields {
    /// Appends the separator and k as a key, and makes room for `room`
    /// more bytes after it.
    #[inline(always)]
    fn key(&mut self, k: &str, room: usize) {
        let kb = k.as_bytes();
        if !clean(kb) {
            return self.key_escaped(k, room);
        }
        let n = kb.len();
        // Safety: reserve makes room for the n + 4 bytes written (a
        // separator, quotes, k, a colon); k is a whole str.
        unsafe {
            let o = self.json.as_mut_vec();
            let first = o.is_empty();
            if o.capacity() == 0 {
                // Room for a typical object at once, instead of growing
                // it through 8, 16, 32... bytes (each a realloc and a
                // copy): a field's name carries its protocol's, so five
                // fields are 150 bytes. with_capacity allocates directly,
                // where reserve goes through the vector's growth path.
                *o = Vec::with_capacity((n + 4 + room).max(256));
            } else {
                o.reserve(n + 4 + room);
            }
            let d = o.as_mut_ptr().add(o.len());
            *d = if first { b'{' } else { b',' };
            *d.add(1) = b'"';
            copy_to(d.add(2), kb);
            *d.add(n + 2) = b'"';
            *d.add(n + 3) = b':';
            o.set_len(o.len() + n + 4);
        }
    }
    #[cold]
    fn key_escaped(&mut self, k: &str, room: usize) {
        self.json.push(if self.json.is_empty() { '{' } else { ',' });
        json_string(&mut self.json, k);
        self.json.push(':');
        self.json.reserve(room);
    }
    /// A string field.
    #[inline]
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k, v.len() + 2);
        json_string(&mut self.json, v);
        self
    }
    /// An integer field.
    #[inline]
    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k, INT_MAX_LEN);
        // Safety: key made room for the digits.
        unsafe {
            let o = self.json.as_mut_vec();
            let n = write_int(o.as_mut_ptr().add(o.len()), v);
            o.set_len(o.len() + n);
        }
        self
    }
    /// A boolean field.
    #[inline]
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k, 5);
        push_short(&mut self.json, if v { "true" } else { "false" });
        self
    }
    /// A number field (NaN and infinities become null).
    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        self.key(k, 0);
        if v.is_finite() {
            self.json.push_str(&format!("{:?}", v));
        } else {
            self.json.push_str("null");
        }
        self
    }
    /// A value already encoded as JSON (a list or a map).
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k, json.len());
        self.json.push_str(json);
        self
    }
    /// Forgets the fields and keeps the memory, for a Message used again.
    pub fn clear(&mut self) {
        self.json.clear();
    }
    /// The JSON object ("" when there are no fields).
    pub fn json(&self) -> String {
        if self.json.is_empty() {
            String::new()
        } else {
            format!("{}}}", self.json)
        }
    }
}

/// A request or a response.
#[derive(Clone, Debug, Default)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub encoding: String,
    pub body_truncated: bool,
    pub body_size: i64,
    /// Bytes on the wire.
    pub size: i64,
    pub fields: Fields,
}

/// Text that is usually a literal: `"GET".into()` borrows it where a
/// String would allocate and copy it for every record, and a String moves
/// in with `s.into()`.
pub type Text = Cow<'static, str>;

/// One exchange (ABI.md, "Record wire encoding").
#[derive(Clone, Debug)]
pub struct Record {
    pub protocol: Text,
    pub method: Text,
    pub path: String,
    pub status: i64,
    pub status_text: Text,
    pub failed: bool,
    pub error: String,
    pub summary: Text,
    /// Unix nanoseconds; 0 is unknown.
    pub timestamp_ns: i64,
    pub end_ns: i64,
    pub request_dir: Dir,
    pub request: Option<Message>,
    pub response: Option<Message>,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            protocol: Text::Borrowed(""),
            method: Text::Borrowed(""),
            path: String::new(),
            status: 0,
            status_text: Text::Borrowed(""),
            failed: false,
            error: String::new(),
            summary: Text::Borrowed(""),
            timestamp_ns: 0,
            end_ns: 0,
            request_dir: Dir::A,
            request: None,
            response: None,
        }
    }
}

/// The end of the bytes being written: a record is written after one
/// reserve of a bound on its length (record_bound), so each byte, varint
/// and string is a store without a capacity check (in wasm every check is
/// a load, a compare and a branch, and a push that might grow is a call).
struct Out(*mut u8);

impl Out {
    /// Safety, for every method: the reserve behind Out has room for what
    /// is written.
    #[inline(always)]
    unsafe fn byte(&mut self, v: u8) {
        *self.0 = v;
        self.0 = self.0.add(1);
    }
    /// A varint: one byte inline (lengths and small numbers), longer
    /// ones out of line, so that each of a record's dozen varints is not a
    /// loop (which wasm pays an interruption check for).
    #[inline(always)]
    unsafe fn uvarint(&mut self, v: u64) {
        if v < 0x80 {
            self.byte(v as u8)
        } else {
            self.0 = uvarint_long(self.0, v)
        }
    }
    #[inline(always)]
    unsafe fn svarint(&mut self, v: i64) {
        self.uvarint(((v as u64) << 1) ^ ((v >> 63) as u64));
    }
    #[inline(always)]
    unsafe fn bytes(&mut self, s: &[u8]) {
        if s.is_empty() {
            // A record's error, summary, bodies and encodings mostly are.
            return self.byte(0);
        }
        self.uvarint(s.len() as u64);
        copy_to(self.0, s);
        self.0 = self.0.add(s.len());
    }
    /// A message's fields: json() as a length-prefixed string, without
    /// building it.
    #[inline(always)]
    unsafe fn fields(&mut self, f: &Fields) {
        let j = f.json.as_bytes();
        if j.is_empty() {
            return self.byte(0);
        }
        self.uvarint(j.len() as u64 + 1);
        copy_to(self.0, j);
        self.0 = self.0.add(j.len());
        self.byte(b'}');
    }
    #[inline(always)]
    unsafe fn message(&mut self, m: &Option<Message>) {
        let m = match m {
            None => return self.byte(0),
            Some(m) => m,
        };
        self.byte(1);
        self.uvarint(m.headers.len() as u64);
        for (n, v) in &m.headers {
            self.bytes(n.as_bytes());
            self.bytes(v.as_bytes());
        }
        self.bytes(&m.body);
        self.bytes(m.encoding.as_bytes());
        self.byte(m.body_truncated as u8);
        self.svarint(m.body_size);
        self.svarint(m.size);
        self.fields(&m.fields);
    }
}

/// Writes v, 0x80 or more, as a varint at d and returns its end.
///
/// Safety: d has room for VARINT_MAX_LEN bytes.
#[inline(never)]
unsafe fn uvarint_long(mut d: *mut u8, mut v: u64) -> *mut u8 {
    while v >= 0x80 {
        *d = v as u8 | 0x80;
        d = d.add(1);
        v >>= 7;
    }
    *d = v as u8;
    d.add(1)
}

/// The most bytes a varint takes.
const VARINT_MAX_LEN: usize = 10;

/// A bound on the length of m's wire encoding.
fn message_bound(m: &Option<Message>) -> usize {
    let m = match m {
        None => return 1,
        Some(m) => m,
    };
    let mut n = 2 + 6 * VARINT_MAX_LEN + m.body.len() + m.encoding.len() + m.fields.json.len();
    for (k, v) in &m.headers {
        n += 2 * VARINT_MAX_LEN + k.len() + v.len();
    }
    n
}

/// A bound on the length of r's wire encoding.
fn record_bound(r: &Record) -> usize {
    3 + 9 * VARINT_MAX_LEN
        + r.protocol.len()
        + r.method.len()
        + r.path.len()
        + r.status_text.len()
        + r.error.len()
        + r.summary.len()
        + message_bound(&r.request)
        + message_bound(&r.response)
}

/// Appends r's wire encoding to b.
pub fn encode_record(b: &mut Vec<u8>, r: &Record) {
    b.reserve(record_bound(r));
    // Safety: reserve made room for record_bound(r) bytes after len, and
    // no more than that are written.
    unsafe {
        let start = b.as_mut_ptr().add(b.len());
        let mut o = Out(start);
        o.byte(1);
        o.bytes(r.protocol.as_bytes());
        o.bytes(r.method.as_bytes());
        o.bytes(r.path.as_bytes());
        o.svarint(r.status);
        o.bytes(r.status_text.as_bytes());
        o.byte(r.failed as u8);
        o.bytes(r.error.as_bytes());
        o.bytes(r.summary.as_bytes());
        o.svarint(r.timestamp_ns);
        o.svarint(r.end_ns);
        o.byte(r.request_dir as u8);
        o.message(&r.request);
        o.message(&r.response);
        b.set_len(b.len() + o.0.offset_from(start) as usize);
    }
}

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "kubeshark")]
extern "C" {
    #[link_name = "register_buffer"]
    fn host_register_buffer(ptr: *mut u8, len: u32);
    #[link_name = "emit"]
    fn host_emit(kind: u32, ptr: *const u8, len: u32);
}

#[cfg(not(target_arch = "wasm32"))]
unsafe fn host_register_buffer(_ptr: *mut u8, _len: u32) {}
#[cfg(not(target_arch = "wasm32"))]
unsafe fn host_emit(_kind: u32, _ptr: *const u8, _len: u32) {}

fn emit_bytes(kind: u32, b: &[u8]) {
    unsafe { host_emit(kind, b.as_ptr(), b.len() as u32) }
}

static mut ENC: Vec<u8> = Vec::new();

/// Hands a finished record to the host. Call it from `feed`, `gap` or
/// `close`.
pub fn emit(r: &Record) {
    unsafe {
        ENC.clear();
        encode_record(&mut ENC, r);
        emit_bytes(1, &ENC);
    }
}

/// Sends a line to the host's debug log (rate limited).
pub fn log(msg: &str) {
    emit_bytes(3, msg.as_bytes());
}

/// Says the connection stops speaking this protocol after the bytes
/// consumed so far; hint names what follows ("tls", "http2", ...).
pub fn switch(hint: &str) {
    emit_bytes(4, hint.as_bytes());
}

/// What the host says about a connection it opens.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    pub id: u64,
    pub port_a: u16,
    pub port_b: u16,
    /// Dir::A is the client.
    pub oriented: bool,
    /// Every feed is one datagram.
    pub udp: bool,
}

/// A protocol parser.
pub trait Dissector {
    type Conn: Conn;
    fn manifest() -> Manifest;
    /// Judges the first bytes of one direction of a stream; cheap, keeps nothing.
    fn probe(dir: Dir, data: &[u8]) -> Probe;
    fn open(info: &ConnInfo) -> Self::Conn;
}

/// One connection's parser.
pub trait Conn {
    /// The unconsumed bytes of one direction; first_ns/last_ns are the
    /// capture times of data[0] and of the newest byte.
    fn feed(&mut self, dir: Dir, data: &[u8], first_ns: i64, last_ns: i64) -> Feed;
    /// n bytes of a direction were lost: resynchronise.
    fn gap(&mut self, _dir: Dir, _n: u32, _ts_ns: i64) {}
    /// The connection ended: emit what is still held.
    fn close(&mut self, _ts_ns: i64) {}
}

/// The module's state; export_dissector! keeps one.
#[doc(hidden)]
pub struct Guest<D: Dissector> {
    buf: Vec<u8>,
    conns: HashMap<u64, D::Conn, BuildHasherDefault<IdHasher>>,
}

/// Hashes a connection id with one multiplication (FxHash's), not
/// SipHash: ids are the host's, not an attacker's, and every feed looks
/// one up, where SipHash's rounds cost more in wasm than the rest of the
/// lookup.
#[derive(Default)]
#[doc(hidden)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

#[doc(hidden)]
impl<D: Dissector> Guest<D> {
    pub fn init(g: &mut Option<Guest<D>>, size: u32) -> u32 {
        let mut buf = vec![0u8; size as usize];
        unsafe { host_register_buffer(buf.as_mut_ptr(), size) };
        *g = Some(Guest { buf, conns: HashMap::default() });
        0
    }
    pub fn describe() {
        emit_bytes(2, D::manifest().to_json().as_bytes());
    }
    fn view(&self, len: u32) -> &'static [u8] {
        let n = (len as usize).min(self.buf.len());
        // The host writes the buffer between calls, never during one.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr(), n) }
    }
    pub fn probe(g: &mut Option<Guest<D>>, dir: u32, len: u32) -> u32 {
        match g {
            Some(g) => D::probe(Dir::from(dir), g.view(len)).encode(),
            None => 0,
        }
    }
    pub fn open(g: &mut Option<Guest<D>>, id: u64, flags: u32, port_a: u32, port_b: u32) {
        if let Some(g) = g {
            let info = ConnInfo { id, port_a: port_a as u16, port_b: port_b as u16, oriented: flags & 1 != 0, udp: flags & 2 != 0 };
            g.conns.insert(id, D::open(&info));
        }
    }
    pub fn feed(g: &mut Option<Guest<D>>, id: u64, dir: u32, len: u32, first: i64, last: i64) -> u64 {
        let g = match g {
            Some(g) => g,
            None => return Feed::reject().encode(),
        };
        let data = g.view(len);
        match g.conns.get_mut(&id) {
            Some(c) => c.feed(Dir::from(dir), data, first, last).encode(),
            None => Feed::reject().encode(),
        }
    }
    pub fn gap(g: &mut Option<Guest<D>>, id: u64, dir: u32, n: u32, ts: i64) {
        if let Some(c) = g.as_mut().and_then(|g| g.conns.get_mut(&id)) {
            c.gap(Dir::from(dir), n, ts);
        }
    }
    pub fn close(g: &mut Option<Guest<D>>, id: u64, ts: i64) {
        if let Some(mut c) = g.as_mut().and_then(|g| g.conns.remove(&id)) {
            c.close(ts);
        }
    }
}

/// Defines the module's exports for dissector type `$t`, including the
/// `_initialize` a Rust `cdylib` lacks: without it the crate's static
/// constructors, and the standard library's set-up, never run.
#[macro_export]
macro_rules! export_dissector {
    ($t:ty) => {
        static mut KUBESHARK_GUEST: Option<$crate::Guest<$t>> = None;

        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn _initialize() {
            extern "C" {
                fn __wasm_call_ctors();
            }
            unsafe { __wasm_call_ctors() }
        }
        #[no_mangle]
        pub extern "C" fn kubeshark_abi_v1() -> u32 {
            $crate::ABI_VERSION
        }
        #[no_mangle]
        pub extern "C" fn kubeshark_init(size: u32) -> u32 {
            unsafe { $crate::Guest::<$t>::init(&mut KUBESHARK_GUEST, size) }
        }
        #[no_mangle]
        pub extern "C" fn kubeshark_describe() {
            $crate::Guest::<$t>::describe()
        }
        #[no_mangle]
        pub extern "C" fn kubeshark_probe(dir: u32, len: u32) -> u32 {
            unsafe { $crate::Guest::<$t>::probe(&mut KUBESHARK_GUEST, dir, len) }
        }
        #[no_mangle]
        pub extern "C" fn kubeshark_open(id: u64, flags: u32, port_a: u32, port_b: u32) {
            unsafe { $crate::Guest::<$t>::open(&mut KUBESHARK_GUEST, id, flags, port_a, port_b) }
        }
        #[no_mangle]
        pub extern "C" fn kubeshark_feed(id: u64, dir: u32, len: u32, first: i64, last: i64) -> u64 {
            unsafe { $crate::Guest::<$t>::feed(&mut KUBESHARK_GUEST, id, dir, len, first, last) }
        }
        #[no_mangle]
        pub extern "C" fn kubeshark_gap(id: u64, dir: u32, n: u32, ts: i64) {
            unsafe { $crate::Guest::<$t>::gap(&mut KUBESHARK_GUEST, id, dir, n, ts) }
        }
        #[no_mangle]
        pub extern "C" fn kubeshark_close(id: u64, ts: i64) {
            unsafe { $crate::Guest::<$t>::close(&mut KUBESHARK_GUEST, id, ts) }
        }
    };
}
