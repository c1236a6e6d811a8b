//! The Rust SDK's JSON strings, keys, integers and text (word-at-a-time scans
//! and short copies, which differ in wasm) against plain references inside
//! wasm: every length up to 40, from every alignment, with a byte that
//! needs an escape (or one that does not) at every place. check() returns
//! the number of wrong answers.

use kubeshark::Fields;

/// A JSON string, one character at a time.
fn reference(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn field(k: &str, v: &str) -> String {
    let mut want = String::from("{");
    reference(&mut want, k);
    want.push(':');
    reference(&mut want, v);
    want
}

#[no_mangle]
pub extern "C" fn check() -> i32 {
    let mut wrong = 0;
    let specials = ["", "\"", "\\", "\0", "\x1f", " ", "\x7f", "~", "é", "€", "\u{10348}"];
    for off in 0..8 {
        for n in 0..=40usize {
            for (si, sp) in specials.iter().enumerate() {
                for at in 0..=n {
                    if sp.is_empty() && at > 0 {
                        break;
                    }
                    // off bytes of padding that the string starts after,
                    // then n characters with sp at place at.
                    let mut s = "\"\\\0".repeat(3)[..off].to_string();
                    for i in 0..n {
                        if i == at && !sp.is_empty() {
                            s.push_str(sp);
                        } else if si % 2 == 0 {
                            s.push((b'a' + (i % 26) as u8) as char);
                        } else {
                            s.push(if i % 3 == 0 { 'ü' } else { (b'A' + (i % 26) as u8) as char });
                        }
                    }
                    let v = &s[off..];
                    let mut f = Fields::default();
                    f.str(v, v);
                    let mut want = field(v, v);
                    want.push('}');
                    if f.json() != want {
                        wrong += 1;
                    }
                    // A second field takes the separator path, and a
                    // string of its own.
                    f.str("k", v);
                    want.pop();
                    want.push_str(",\"k\":");
                    reference(&mut want, v);
                    want.push('}');
                    if f.json() != want {
                        wrong += 1;
                    }
                    let mut js = String::from("x");
                    kubeshark::json_string(&mut js, v);
                    let mut want = String::from("x");
                    reference(&mut want, v);
                    if js != want {
                        wrong += 1;
                    }
                }
            }
        }
    }
    // text: ASCII, UTF-8 and invalid bytes (a lone continuation byte, a
    // truncated sequence, 0xff) at every place, against from_utf8_lossy.
    let bads: [&[u8]; 5] = [b"x", "é".as_bytes(), b"\x80", b"\xe2\x82", b"\xff"];
    for off in 0..8 {
        for n in 0..=40usize {
            for bad in bads.iter() {
                for at in 0..=n {
                    let mut b = vec![b'q'; off];
                    for i in 0..n {
                        if i == at {
                            b.extend_from_slice(bad);
                        } else {
                            b.push(b'a' + (i % 26) as u8);
                        }
                    }
                    let v = &b[off..];
                    if kubeshark::text(v) != String::from_utf8_lossy(v) {
                        wrong += 1;
                    }
                }
            }
        }
    }
    // Integers: around every power of ten, both signs, the extremes.
    let mut vals = vec![0i64, i64::MAX, i64::MIN, i64::MIN + 1, u32::MAX as i64, u32::MAX as i64 + 1, -(u32::MAX as i64), -(u32::MAX as i64) - 1];
    let mut p = 1i64;
    for _ in 0..19 {
        for d in [-1, 0, 1] {
            vals.push(p + d);
            vals.push(-(p + d));
        }
        p = p.saturating_mul(10);
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        vals.push(x as i64 >> (x % 64));
    }
    for v in vals {
        let mut f = Fields::default();
        f.int("n", v).bool("b", v & 1 == 0).int("m", v);
        if f.json() != format!("{{\"n\":{},\"b\":{},\"m\":{}}}", v, v & 1 == 0, v) {
            wrong += 1;
        }
    }
    wrong
}

/// The SDK's small-block allocator (wasm only): vectors of every size up
/// to past its largest class grow and shrink through every class and out
/// of them while others live, each filled with its own pattern; returns
/// how many bytes were found changed.
#[no_mangle]
pub extern "C" fn check_alloc() -> i32 {
    let mut wrong = 0;
    let mut live: Vec<(Vec<u8>, u8)> = Vec::new();
    let fill = |v: &mut Vec<u8>, n: usize, k: u8| {
        v.clear();
        v.extend((0..n).map(|i| (i as u8).wrapping_mul(31) ^ k));
    };
    let ok = |v: &Vec<u8>, n: usize, k: u8| v.len() == n && v.iter().enumerate().all(|(i, &b)| b == (i as u8).wrapping_mul(31) ^ k);
    for round in 0..3u8 {
        for n in (1..=4200).step_by(7) {
            let k = (n as u8) ^ round;
            let mut v = Vec::with_capacity(n);
            fill(&mut v, n, k);
            live.push((v, k));
        }
        // Grow every second one (realloc within and across classes, and
        // out of them), shrink every third, free every fifth.
        for (i, (v, k)) in live.iter_mut().enumerate() {
            let (n, k) = (v.len(), *k);
            if !ok(v, n, k) {
                wrong += 1;
            }
            if i % 2 == 0 {
                v.reserve(n * 2 + 1);
                if !ok(v, n, k) {
                    wrong += 1;
                }
            }
            if i % 3 == 0 {
                v.truncate(n / 2);
                v.shrink_to_fit();
                if !ok(v, n / 2, k) {
                    wrong += 1;
                }
            }
        }
        let mut i = 0;
        live.retain(|_| {
            i += 1;
            i % 5 != 0
        });
    }
    // Zeroed blocks are zero even where a freed block was reused.
    for n in [1usize, 15, 16, 17, 100, 2048, 2049, 5000] {
        let a = vec![0xAAu8; n];
        drop(a);
        if vec![0u8; n].iter().any(|&b| b != 0) {
            wrong += 1;
        }
    }
    wrong
}
