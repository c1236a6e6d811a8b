//! A hostile Rust guest, written against sdk/ABI.md without the SDK. It
//! claims every stream and then misbehaves in its feed as one
//! `--cfg hostile="..."` says; plugins/devkit's tests check that the host
//! contains each.

#[link(wasm_import_module = "kubeshark")]
extern "C" {
    fn register_buffer(ptr: *mut u8, len: u32);
    fn emit(kind: u32, ptr: *const u8, len: u32);
    #[cfg(hostile = "unknown_import")]
    fn open_socket(port: u32) -> u32;
}

extern "C" {
    fn __wasm_call_ctors();
}

// A Rust cdylib has no _initialize of its own (ABI.md, Lifecycle).
#[no_mangle]
pub extern "C" fn _initialize() {
    unsafe { __wasm_call_ctors() }
}

#[cfg(not(hostile = "abi_v2"))]
#[no_mangle]
pub extern "C" fn kubeshark_abi_v1() -> u32 {
    1
}

#[cfg(hostile = "abi_v2")]
#[no_mangle]
pub extern "C" fn kubeshark_abi_v2() -> u32 {
    2
}

static mut BUF: Vec<u8> = Vec::new();

#[no_mangle]
pub extern "C" fn kubeshark_init(size: u32) -> u32 {
    unsafe {
        BUF = vec![0; size as usize];
        register_buffer(BUF.as_mut_ptr(), size);
    }
    0
}

const MANIFEST: &str = r#"{"name":"hostile","version":"1.0.0","protocols":["hostile"],"transports":["tcp"]}"#;

#[no_mangle]
pub extern "C" fn kubeshark_describe() {
    unsafe { emit(2, MANIFEST.as_ptr(), MANIFEST.len() as u32) }
}

#[no_mangle]
pub extern "C" fn kubeshark_probe(_dir: u32, _len: u32) -> u32 {
    100
}

#[no_mangle]
pub extern "C" fn kubeshark_open(_id: u64, _flags: u32, _a: u32, _b: u32) {}

#[no_mangle]
pub extern "C" fn kubeshark_gap(_id: u64, _dir: u32, _n: u32, _ts: i64) {}

#[no_mangle]
pub extern "C" fn kubeshark_close(_id: u64, _ts: i64) {}

/// The smallest valid record: protocol "x", everything else empty.
#[allow(dead_code)]
const RECORD: [u8; 15] = [1, 1, b'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

#[allow(unused_variables)]
#[no_mangle]
pub extern "C" fn kubeshark_feed(_id: u64, _dir: u32, len: u32, _first: i64, _last: i64) -> u64 {
    #[cfg(hostile = "oob_emit")]
    unsafe {
        emit(1, 0x7fff_fff0 as *const u8, 64)
    }
    #[cfg(hostile = "oob_buffer")]
    unsafe {
        register_buffer(0x7fff_fff0 as *mut u8, 1 << 20)
    }
    #[cfg(hostile = "flood")]
    loop {
        unsafe { emit(1, RECORD.as_ptr(), RECORD.len() as u32) }
    }
    #[cfg(hostile = "bad_record")]
    unsafe {
        emit(1, b"garbage".as_ptr(), 7)
    }
    #[cfg(hostile = "overconsume")]
    return len as u64 + 100;
    #[cfg(hostile = "unknown_import")]
    unsafe {
        open_socket(80);
    }
    #[cfg(hostile = "panic")]
    panic!("hostile guest panics in feed");
    #[allow(unreachable_code)]
    {
        len as u64
    }
}
