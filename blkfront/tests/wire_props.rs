//! Properties of the blkif codec over arbitrary bytes: parsing never panics, and whatever parses
//! re-emits to a slot that parses to the same value (no field is lost or aliased).

use blkfront::wire::{field, RequestPacket, ResponsePacket};
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_response_bytes_parse_and_round_trip(bytes in proptest::collection::vec(any::<u8>(), 16)) {
        let r = ResponsePacket::new_checked(&bytes[..]).unwrap().parse();
        let mut out = [0u8; field::RESPONSE_LEN];
        ResponsePacket::new_checked(&mut out[..]).unwrap().emit(&r);
        prop_assert_eq!(ResponsePacket::new_checked(&out[..]).unwrap().parse(), r);
        // The fields come from exactly their C offsets.
        prop_assert_eq!(&out[0..9], &bytes[0..9]);
        prop_assert_eq!(&out[10..12], &bytes[10..12]);
    }

    #[test]
    fn any_request_bytes_parse_or_fail_cleanly(
        mut bytes in proptest::collection::vec(any::<u8>(), 112),
        op in 0u8..8,
    ) {
        bytes[0] = op;
        let p = RequestPacket::new_checked(&bytes[..]).unwrap();
        if let Ok(r) = p.parse() {
            let mut out = [0u8; field::REQUEST_LEN];
            RequestPacket::new_checked(&mut out[..]).unwrap().emit(&r);
            prop_assert_eq!(RequestPacket::new_checked(&out[..]).unwrap().parse(), Ok(r));
            prop_assert_eq!(&out[8..24], &bytes[8..24], "id and sector_number");
        }
    }

    #[test]
    fn short_buffers_are_refused(len in 0usize..112) {
        let b = vec![0u8; len];
        prop_assert!(RequestPacket::new_checked(&b[..]).is_err());
        if len < 16 {
            prop_assert!(ResponsePacket::new_checked(&b[..]).is_err());
        }
    }
}
