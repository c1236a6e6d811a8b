//! memcached_binary: a kubeshark dissector plugin for memcached's binary
//! protocol (https://github.com/memcached/memcached/wiki/BinaryProtocolRevamped),
//! with the Rust SDK (vendored in kubeshark-sdk/).
//!
//! Every packet is a 24-byte header (magic 0x80 for a request, 0x81 for a
//! response; opcode; key length; extras length; data type; vbucket or
//! status; total body length; opaque; CAS) and a body of extras, key and
//! value. A response carries its request's opaque, and "quiet" opcodes
//! (getq, setq, deleteq...) answer only when they have something to say
//! (a hit, an error); the server handles commands in order, so a response
//! also tells that every quiet request before it finished silently.
//!
//! Each request becomes a record: method = the opcode's name, path = the
//! key, status = the response's status code (0 is success), status_text
//! its name, failed = a status that is an error rather than an answer.

use kubeshark::{Conn, ConnInfo, Dir, Dissector, FieldSpec, Feed, Manifest, Message, Probe, Record};
use std::collections::VecDeque;

const HEADER: usize = 24;
const REQUEST: u8 = 0x80;
const RESPONSE: u8 = 0x81;

/// The opcode's name and whether it is quiet.
fn opcode(op: u8) -> Option<(&'static str, bool)> {
    Some(match op {
        0x00 => ("get", false),
        0x01 => ("set", false),
        0x02 => ("add", false),
        0x03 => ("replace", false),
        0x04 => ("delete", false),
        0x05 => ("increment", false),
        0x06 => ("decrement", false),
        0x07 => ("quit", false),
        0x08 => ("flush", false),
        0x09 => ("getq", true),
        0x0a => ("noop", false),
        0x0b => ("version", false),
        0x0c => ("getk", false),
        0x0d => ("getkq", true),
        0x0e => ("append", false),
        0x0f => ("prepend", false),
        0x10 => ("stat", false),
        0x11 => ("setq", true),
        0x12 => ("addq", true),
        0x13 => ("replaceq", true),
        0x14 => ("deleteq", true),
        0x15 => ("incrementq", true),
        0x16 => ("decrementq", true),
        0x17 => ("quitq", true),
        0x18 => ("flushq", true),
        0x19 => ("appendq", true),
        0x1a => ("prependq", true),
        0x1c => ("touch", false),
        0x1d => ("gat", false),
        0x1e => ("gatq", true),
        0x1f => ("gatk", false),
        0x20 => ("gatkq", true),
        _ => return None,
    })
}

/// The status's name and whether it is an error (a miss, an existing key
/// or a refused add are answers, not errors).
fn status(s: u16) -> (&'static str, bool) {
    match s {
        0x00 => ("OK", false),
        0x01 => ("KEY_NOT_FOUND", false),
        0x02 => ("KEY_EXISTS", false),
        0x03 => ("VALUE_TOO_LARGE", true),
        0x04 => ("INVALID_ARGUMENTS", true),
        0x05 => ("NOT_STORED", false),
        0x06 => ("NON_NUMERIC_VALUE", true),
        0x07 => ("WRONG_VBUCKET", true),
        0x20 => ("AUTH_ERROR", true),
        0x21 => ("AUTH_CONTINUE", false),
        0x81 => ("UNKNOWN_COMMAND", true),
        0x82 => ("OUT_OF_MEMORY", true),
        0x83 => ("NOT_SUPPORTED", true),
        0x84 => ("INTERNAL_ERROR", true),
        0x85 => ("BUSY", true),
        0x86 => ("TEMPORARY_FAILURE", true),
        _ => ("UNKNOWN_STATUS", true),
    }
}

/// One packet's header.
struct Header {
    magic: u8,
    opcode: u8,
    key_len: usize,
    extras_len: usize,
    status: u16,
    body_len: usize,
    opaque: u32,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The header at the start of b, which holds at least HEADER bytes. Its
/// fields are read from a fixed-size array: one length check, where
/// indexing the slice checked each byte.
fn header(b: &[u8]) -> Option<Header> {
    let b: &[u8; HEADER] = b[..HEADER].try_into().unwrap();
    let h = Header {
        magic: b[0],
        opcode: b[1],
        key_len: u16::from_be_bytes([b[2], b[3]]) as usize,
        extras_len: b[4] as usize,
        status: u16::from_be_bytes([b[6], b[7]]),
        body_len: u32::from_be_bytes([b[8], b[9], b[10], b[11]]) as usize,
        opaque: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
    };
    // Data type 0 is the only one defined; key and extras lie in the body.
    if b[5] != 0 || h.key_len + h.extras_len > h.body_len || h.body_len > 64 << 20 {
        return None;
    }
    Some(h)
}

struct Plugin;

/// A request waiting for its response.
struct Pending {
    op: &'static str,
    opcode: u8,
    quiet: bool,
    opaque: u32,
    at: i64,
    req: Message,
    key: String,
    stats: i64,
}

#[derive(Default)]
struct Connection {
    pending: VecDeque<Pending>,
}

impl Dissector for Plugin {
    type Conn = Connection;

    fn manifest() -> Manifest {
        Manifest {
            name: "memcached_binary",
            version: "0.1.0",
            description: "memcached binary protocol (24-byte header, quiet commands)",
            protocols: &["memcached_binary"],
            transports: &["tcp"],
            port_hints: &[],
            fields: &[
                FieldSpec { name: "memcached_binary_opcode", kind: "int", description: "the request's opcode" },
                FieldSpec { name: "memcached_binary_key", kind: "string", description: "the key" },
                FieldSpec { name: "memcached_binary_quiet", kind: "bool", description: "a quiet opcode: answered only on a hit or an error" },
                FieldSpec { name: "memcached_binary_flags", kind: "int", description: "the flags a set, add or replace stores, or a get returns" },
                FieldSpec { name: "memcached_binary_expiry", kind: "int", description: "the expiry a storage, touch or gat command sets" },
                FieldSpec { name: "memcached_binary_delta", kind: "int", description: "what increment or decrement adds or subtracts" },
                FieldSpec { name: "memcached_binary_value_bytes", kind: "int", description: "the length of the value sent or returned" },
                FieldSpec { name: "memcached_binary_status", kind: "int", description: "the response's status code (0 success, 1 not found, 2 exists, 5 not stored...)" },
                FieldSpec { name: "memcached_binary_counter", kind: "int", description: "the new value increment or decrement returned" },
                FieldSpec { name: "memcached_binary_stats", kind: "int", description: "how many statistics a stat returned" },
            ],
        }
    }

    fn probe(_dir: Dir, data: &[u8]) -> Probe {
        if data.is_empty() || (data[0] != REQUEST && data[0] != RESPONSE) {
            return Probe::no();
        }
        if data.len() < HEADER {
            return Probe::need_more();
        }
        match (header(data), opcode(data[1])) {
            (Some(_), Some(_)) if data[0] == REQUEST => Probe::yes(70),
            (Some(_), Some(_)) => Probe { from_server: true, ..Probe::yes(70) },
            _ => Probe::no(),
        }
    }

    fn open(_info: &ConnInfo) -> Connection {
        Connection::default()
    }
}

impl Connection {
    fn request(&mut self, h: &Header, body: &[u8], at: i64) -> bool {
        let (op, quiet) = match opcode(h.opcode) {
            Some(o) => o,
            None => return false,
        };
        let extras = &body[..h.extras_len];
        let key = kubeshark::text(&body[h.extras_len..h.extras_len + h.key_len]);
        let value = body.len() - h.extras_len - h.key_len;
        let mut req = Message::default();
        req.fields.int("memcached_binary_opcode", h.opcode as i64);
        if !key.is_empty() {
            req.fields.str("memcached_binary_key", &key);
        }
        if quiet {
            req.fields.bool("memcached_binary_quiet", true);
        }
        match (h.opcode, extras.len()) {
            // set, add, replace and their quiet forms: flags, expiry
            (0x01..=0x03, 8) | (0x11..=0x13, 8) => {
                req.fields.int("memcached_binary_flags", be32(extras) as i64);
                req.fields.int("memcached_binary_expiry", be32(&extras[4..]) as i64);
            }
            // increment, decrement: delta (8), initial (8), expiry (4)
            (0x05 | 0x06 | 0x15 | 0x16, 20) => {
                let delta = u64::from_be_bytes([extras[0], extras[1], extras[2], extras[3], extras[4], extras[5], extras[6], extras[7]]);
                req.fields.int("memcached_binary_delta", delta as i64);
            }
            // touch, gat...: expiry
            (0x1c..=0x20, 4) => {
                req.fields.int("memcached_binary_expiry", be32(extras) as i64);
            }
            _ => {}
        }
        if value > 0 {
            req.fields.int("memcached_binary_value_bytes", value as i64);
            req.body_size = value as i64;
        }
        self.pending.push_back(Pending { op, opcode: h.opcode, quiet, opaque: h.opaque, at, req, key, stats: 0 });
        true
    }

    /// Some(true): the response was used; None: its request has not been
    /// seen yet (the host may offer a response before the request it
    /// answers, since each direction is reassembled on its own), so keep it;
    /// Some(false): it answers nothing we saw.
    fn response(&mut self, h: &Header, body: &[u8], at: i64) -> Option<bool> {
        // Quiet requests before the one this answers finished silently.
        while let Some(p) = self.pending.front() {
            if p.opaque == h.opaque && h.opcode == p.opcode {
                break;
            }
            let p = self.pending.pop_front().unwrap();
            if !p.quiet {
                return Some(false); // an answer to nothing we saw: we lost track
            }
            let summary = if p.op.starts_with("get") { "quiet: miss" } else { "quiet: done" };
            emit(p, None, summary, at);
        }
        let p = match self.pending.front_mut() {
            Some(p) => p,
            None => return None,
        };
        // A stat answers with one packet per statistic, then one without a key.
        if h.opcode == 0x10 && h.key_len > 0 && h.status == 0 {
            p.stats += 1;
            return Some(true);
        }
        let p = self.pending.pop_front().unwrap();
        let (text, failed) = status(h.status);
        let mut resp = Message::default();
        resp.fields.int("memcached_binary_status", h.status as i64);
        let extras = &body[..h.extras_len];
        let value = &body[h.extras_len + h.key_len..];
        if extras.len() == 4 {
            resp.fields.int("memcached_binary_flags", be32(extras) as i64);
        }
        if h.status == 0 && value.len() == 8 && matches!(h.opcode, 0x05 | 0x06 | 0x15 | 0x16) {
            let v = u64::from_be_bytes([value[0], value[1], value[2], value[3], value[4], value[5], value[6], value[7]]);
            resp.fields.int("memcached_binary_counter", v as i64);
        } else if h.status == 0 && !value.is_empty() && matches!(h.opcode, 0x00 | 0x09 | 0x0c | 0x0d | 0x1d..=0x20) {
            resp.fields.int("memcached_binary_value_bytes", value.len() as i64);
            resp.body_size = value.len() as i64;
        }
        if h.opcode == 0x10 {
            resp.fields.int("memcached_binary_stats", p.stats);
        }
        let error = if failed { kubeshark::text(value) } else { String::new() };
        let mut r = record(p, Some(resp), "", at);
        r.status = h.status as i64;
        r.status_text = text.into();
        r.failed = failed;
        r.error = if failed && error.is_empty() { text.into() } else { error };
        kubeshark::emit(&r);
        Some(true)
    }
}

fn record(p: Pending, resp: Option<Message>, summary: &'static str, end: i64) -> Record {
    Record {
        protocol: "memcached_binary".into(),
        method: p.op.into(),
        path: p.key,
        summary: summary.into(),
        timestamp_ns: p.at,
        end_ns: end,
        request_dir: Dir::A,
        request: Some(p.req),
        response: resp,
        ..Record::default()
    }
}

fn emit(p: Pending, resp: Option<Message>, summary: &'static str, end: i64) {
    kubeshark::emit(&record(p, resp, summary, end));
}

impl Conn for Connection {
    /// Whole packets only: a partial one waits, asking for the bytes it needs.
    fn feed(&mut self, dir: Dir, data: &[u8], first: i64, last: i64) -> Feed {
        let mut used = 0;
        while data.len() - used >= HEADER {
            let h = match header(&data[used..]) {
                Some(h) => h,
                None => return Feed::reject(),
            };
            let end = used + HEADER + h.body_len;
            if data.len() < end {
                return Feed { consumed: Some(used), need: end };
            }
            let body = &data[used + HEADER..end];
            let ok = match (dir, h.magic) {
                (Dir::A, REQUEST) => self.request(&h, body, first),
                (Dir::B, RESPONSE) => match self.response(&h, body, last) {
                    Some(ok) => ok,
                    None => return Feed::consumed(used),
                },
                _ => false,
            };
            if !ok {
                return Feed::reject();
            }
            used = end;
        }
        Feed::consumed(used)
    }

    fn gap(&mut self, _dir: Dir, _n: u32, _ts: i64) {
        self.pending.clear();
    }

    /// Requests never answered: quiet ones that ended the conversation
    /// (quitq, a last setq) and any the capture cut off.
    fn close(&mut self, ts: i64) {
        while let Some(p) = self.pending.pop_front() {
            let summary = if p.quiet { "quiet: no reply" } else { "no reply" };
            emit(p, None, summary, ts);
        }
    }
}

kubeshark::export_dissector!(Plugin);
