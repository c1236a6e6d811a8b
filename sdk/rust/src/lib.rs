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

use std::collections::HashMap;

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
            s.push_str(&p.to_string());
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

/// Appends v to s as a JSON string.
pub fn json_string(s: &mut String, v: &str) {
    // Runs of bytes that need no escape are copied whole, and found eight
    // bytes at a time: a word with no byte below 0x20, no '"' and no '\\'
    // is passed over in one step (the usual has-zero-byte tests). In wasm a
    // push per character cost more than the rest of a record's encoding.
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.push('"');
    let b = v.as_bytes();
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
        let q = w ^ (ONES * b'"' as u64);
        let bs = w ^ (ONES * b'\\' as u64);
        if ((w.wrapping_sub(ONES * 0x20) & !w) | (q.wrapping_sub(ONES) & !q) | (bs.wrapping_sub(ONES) & !bs)) & HIGHS != 0 {
            break;
        }
        i += 8;
    }
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

/// Appends v to s, copying a short v itself: in wasm a copy of unknown
/// length is memory.copy (with bulk memory, which kubeshark plugin build
/// turns on), a call out of compiled code into the host's memmove, which
/// costs more than moving a few bytes in two to four overlapping word
/// loads and stores. Longer strings take push_str.
#[inline]
fn push_short(s: &mut String, v: &str) {
    // Safety: the bytes appended are all of v, a whole str.
    unsafe { put_short(s.as_mut_vec(), v.as_bytes()) }
}

/// push_short for bytes: appends v to b.
#[inline]
fn put_short(b: &mut Vec<u8>, v: &[u8]) {
    let n = v.len();
    if n > 32 || !cfg!(target_arch = "wasm32") {
        return b.extend_from_slice(v);
    }
    b.reserve(n);
    // Safety: reserve made room for n bytes after len; every load reads
    // inside v and every store writes inside those n bytes.
    unsafe {
        let s = v.as_ptr();
        let d = b.as_mut_ptr().add(b.len());
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
            let (h0, h1) = ((s as *const u32).read_unaligned(), (s.add(n - 4) as *const u32).read_unaligned());
            (d as *mut u32).write_unaligned(h0);
            (d.add(n - 4) as *mut u32).write_unaligned(h1);
        } else if n > 0 {
            let (b0, b1, b2) = (*s, *s.add(n / 2), *s.add(n - 1));
            *d = b0;
            *d.add(n / 2) = b1;
            *d.add(n - 1) = b2;
        }
        b.set_len(b.len() + n);
    }
}

#[inline]
unsafe fn rd64(p: *const u8, at: usize) -> u64 {
    (p.add(at) as *const u64).read_unaligned()
}

#[inline]
unsafe fn wr64(p: *mut u8, at: usize, v: u64) {
    (p.add(at) as *mut u64).write_unaligned(v)
}

/// Appends v in decimal, without the allocation of to_string.
fn push_int(s: &mut String, v: i64) {
    let mut t = [0u8; 21];
    let mut n = t.len();
    let mut u = v.unsigned_abs();
    loop {
        n -= 1;
        t[n] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if v < 0 {
        n -= 1;
        t[n] = b'-';
    }
    // Safety: ASCII digits and a sign.
    unsafe { put_short(s.as_mut_vec(), &t[n..]) }
}

/// A message's protocol-specific fields, built as the JSON object the wire
/// encoding carries. Keys should be the manifest's field names.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    json: String,
}

impl Fields {
    fn key(&mut self, k: &str) {
        if self.json.is_empty() {
            // Room for a typical object at once, instead of growing it
            // through 8, 16, 32... bytes (each a realloc and a copy).
            self.json.reserve(128);
        }
        self.json.push(if self.json.is_empty() { '{' } else { ',' });
        json_string(&mut self.json, k);
        self.json.push(':');
    }
    /// A string field.
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        json_string(&mut self.json, v);
        self
    }
    /// An integer field.
    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        push_int(&mut self.json, v);
        self
    }
    /// A boolean field.
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.json.push_str(if v { "true" } else { "false" });
        self
    }
    /// A number field (NaN and infinities become null).
    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        self.key(k);
        if v.is_finite() {
            self.json.push_str(&format!("{:?}", v));
        } else {
            self.json.push_str("null");
        }
        self
    }
    /// A value already encoded as JSON (a list or a map).
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.json.push_str(json);
        self
    }
    /// The JSON object ("" when there are no fields).
    pub fn json(&self) -> String {
        if self.json.is_empty() {
            String::new()
        } else {
            format!("{}}}", self.json)
        }
    }
    /// Appends json() as a length-prefixed string, without building it.
    fn put(&self, b: &mut Vec<u8>) {
        if self.json.is_empty() {
            return b.push(0);
        }
        put_uvarint(b, self.json.len() as u64 + 1);
        put_short(b, self.json.as_bytes());
        b.push(b'}');
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

/// One exchange (ABI.md, "Record wire encoding").
#[derive(Clone, Debug)]
pub struct Record {
    pub protocol: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub status_text: String,
    pub failed: bool,
    pub error: String,
    pub summary: String,
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
            protocol: String::new(),
            method: String::new(),
            path: String::new(),
            status: 0,
            status_text: String::new(),
            failed: false,
            error: String::new(),
            summary: String::new(),
            timestamp_ns: 0,
            end_ns: 0,
            request_dir: Dir::A,
            request: None,
            response: None,
        }
    }
}

fn put_uvarint(b: &mut Vec<u8>, mut v: u64) {
    if v < 0x80 {
        return b.push(v as u8);
    }
    b.reserve(10);
    // Safety: reserve made room for the ten bytes a u64 takes at most.
    unsafe {
        let d = b.as_mut_ptr().add(b.len());
        let mut n = 0;
        while v >= 0x80 {
            *d.add(n) = v as u8 | 0x80;
            v >>= 7;
            n += 1;
        }
        *d.add(n) = v as u8;
        b.set_len(b.len() + n + 1);
    }
}

fn put_svarint(b: &mut Vec<u8>, v: i64) {
    put_uvarint(b, ((v as u64) << 1) ^ ((v >> 63) as u64));
}

fn put_bytes(b: &mut Vec<u8>, s: &[u8]) {
    put_uvarint(b, s.len() as u64);
    put_short(b, s);
}

fn put_message(b: &mut Vec<u8>, m: &Option<Message>) {
    let m = match m {
        None => return b.push(0),
        Some(m) => m,
    };
    b.push(1);
    put_uvarint(b, m.headers.len() as u64);
    for (n, v) in &m.headers {
        put_bytes(b, n.as_bytes());
        put_bytes(b, v.as_bytes());
    }
    put_bytes(b, &m.body);
    put_bytes(b, m.encoding.as_bytes());
    b.push(m.body_truncated as u8);
    put_svarint(b, m.body_size);
    put_svarint(b, m.size);
    m.fields.put(b);
}

/// Appends r's wire encoding to b.
pub fn encode_record(b: &mut Vec<u8>, r: &Record) {
    b.push(1);
    put_bytes(b, r.protocol.as_bytes());
    put_bytes(b, r.method.as_bytes());
    put_bytes(b, r.path.as_bytes());
    put_svarint(b, r.status);
    put_bytes(b, r.status_text.as_bytes());
    b.push(r.failed as u8);
    put_bytes(b, r.error.as_bytes());
    put_bytes(b, r.summary.as_bytes());
    put_svarint(b, r.timestamp_ns);
    put_svarint(b, r.end_ns);
    b.push(r.request_dir as u8);
    put_message(b, &r.request);
    put_message(b, &r.response);
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
    conns: HashMap<u64, D::Conn>,
}

#[doc(hidden)]
impl<D: Dissector> Guest<D> {
    pub fn init(g: &mut Option<Guest<D>>, size: u32) -> u32 {
        let mut buf = vec![0u8; size as usize];
        unsafe { host_register_buffer(buf.as_mut_ptr(), size) };
        *g = Some(Guest { buf, conns: HashMap::new() });
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
