//! The xenstore wire codec and every payload parser, on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenbus::wire::{MsgType, Packet, Repr, HEADER_LEN, XENSTORE_PAYLOAD_MAX};
use xenbus::{payload, response, XenbusState, XsErrno};

fuzz_target!(|data: &[u8]| {
    // Unchecked accessors never panic, whatever the buffer.
    let p = Packet::new_unchecked(data);
    let _ = (p.msg_type(), p.req_id(), p.tx_id(), p.len(), p.payload(), p.total_len());

    if let Ok(p) = Packet::new_checked(data) {
        assert!(p.len() as usize <= XENSTORE_PAYLOAD_MAX);
        assert_eq!(p.payload().len(), p.len() as usize);
    }
    if let Ok(repr) = Repr::parse_bytes(data) {
        // Emit round-trips to the same bytes.
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..])).expect("emit of a parsed message");
        assert_eq!(&buf[..], &data[..HEADER_LEN + repr.payload.len()]);
        assert_eq!(Repr::parse_bytes(&buf), Ok(repr));
    }

    // Payload parsers.
    let _ = payload::string_list(data);
    let _ = payload::perm_list(data);
    let _ = payload::decimal_u32(data);
    let _ = payload::single_string(data);
    let _ = payload::ok(data);
    if let Ok((path, token)) = payload::watch_event(data) {
        assert!(!path.is_empty());
        assert!(!path.contains('\0') && !token.contains('\0'));
    }
    let e = XsErrno::from_payload(data);
    if e != XsErrno::Unknown {
        assert_eq!(payload::strip_nul(data), e.as_str().as_bytes());
    }
    if let Ok(s) = XenbusState::parse(data) {
        assert!((s as u32) <= 8);
    }
    // Reply decoding for every request type, with the first byte choosing the reply type.
    let got = data.first().copied().unwrap_or(0) as u32 % (MsgType::TYPE_COUNT + 2);
    for t in 0..MsgType::TYPE_COUNT {
        if let Some(expected) = MsgType::from_u32(t) {
            let _ = response::decode(expected, None, got, data);
        }
    }
});
