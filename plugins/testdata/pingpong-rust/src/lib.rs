//! pingpong with the Rust SDK (sdk/rust): the same protocol and records as
//! plugins/testdata/pingpong (Go).

use kubeshark::{Conn, ConnInfo, Dir, Dissector, FieldSpec, Feed, Manifest, Message, Probe, Record};
use std::collections::VecDeque;

struct PingPong;

struct Ping {
    name: String,
    at: i64,
}

#[derive(Default)]
struct PingPongConn {
    pending: VecDeque<Ping>,
}

impl Dissector for PingPong {
    type Conn = PingPongConn;

    fn manifest() -> Manifest {
        Manifest {
            name: "pingpong",
            version: "1.0.0",
            description: "PING/PONG test protocol",
            protocols: &["pingpong"],
            transports: &["tcp"],
            port_hints: &[],
            fields: &[
                FieldSpec { name: "pingpong_name", kind: "string", description: "the name a PING carried" },
                FieldSpec { name: "pingpong_n", kind: "int", description: "the count a PONG answered" },
            ],
        }
    }

    fn probe(_dir: Dir, data: &[u8]) -> Probe {
        if data.starts_with(b"PING ") {
            Probe::yes(90)
        } else if data.starts_with(b"PONG ") {
            Probe { from_server: true, ..Probe::yes(90) }
        } else if data.len() < 5 && (b"PING ".starts_with(data) || b"PONG ".starts_with(data)) {
            Probe::need_more()
        } else {
            Probe::no()
        }
    }

    fn open(_info: &ConnInfo) -> PingPongConn {
        PingPongConn::default()
    }
}

impl Conn for PingPongConn {
    fn feed(&mut self, dir: Dir, data: &[u8], first: i64, last: i64) -> Feed {
        let mut used = 0;
        while let Some(i) = data[used..].iter().position(|&b| b == b'\n') {
            let line = &data[used..used + i];
            used += i + 1;
            if dir == Dir::A {
                match line.strip_prefix(b"PING ") {
                    Some(name) => self.pending.push_back(Ping { name: String::from_utf8_lossy(name).into_owned(), at: first }),
                    None => return Feed::reject(),
                }
                continue;
            }
            let n: i64 = match line.strip_prefix(b"PONG ").and_then(|a| std::str::from_utf8(a).ok()).and_then(|a| a.parse().ok()) {
                Some(n) => n,
                None => return Feed::reject(),
            };
            let p = match self.pending.pop_front() {
                Some(p) => p,
                None => return Feed::reject(),
            };
            let mut req = Message::default();
            req.fields.str("pingpong_name", &p.name);
            let mut resp = Message::default();
            resp.fields.int("pingpong_n", n);
            kubeshark::emit(&Record {
                protocol: "pingpong".into(),
                method: "PING".into(),
                path: p.name,
                status: 200,
                status_text: "PONG".into(),
                timestamp_ns: p.at,
                end_ns: last,
                request_dir: Dir::A,
                request: Some(req),
                response: Some(resp),
                ..Record::default()
            });
        }
        Feed::consumed(used)
    }

    fn gap(&mut self, _dir: Dir, _n: u32, _ts: i64) {
        self.pending.clear();
    }
}

kubeshark::export_dissector!(PingPong);
