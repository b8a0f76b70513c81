//! netfront's checksum code on arbitrary received frames: verifying, completing and blanking must never
//! panic, and a completed checksum must verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netfront::checksum::{complete, prepare_blank, transport, verify};

fuzz_target!(|data: &[u8]| {
    let _ = verify(data);
    let kind = transport(data);
    let mut f = data.to_vec();
    if complete(&mut f).is_ok() {
        assert!(kind.is_some(), "completed a frame whose transport was not recognised");
        assert_eq!(verify(&f), Ok(true), "a completed checksum does not verify");
    }
    let mut g = data.to_vec();
    assert_eq!(prepare_blank(&mut g).is_ok(), kind.is_some());
});
