//! The `io/ring.h` front ring against a backend that writes arbitrary indices and slot contents.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use xen_fake::FakePage;
use xen_traits::SharedPage;
use xenbus::front_ring::{layout, FrontRing, RingEntry, RingError};

#[derive(Debug, Clone, Copy, PartialEq)]
struct Req([u8; 12]);
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rsp([u8; 8]);

impl RingEntry for Req {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.0)
    }
    fn decode(s: &[u8]) -> Self {
        Req(s.try_into().unwrap())
    }
}
impl RingEntry for Rsp {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.0)
    }
    fn decode(s: &[u8]) -> Self {
        Rsp(s.try_into().unwrap())
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Put(u8),
    Push,
    Take,
    FinalCheck,
    BackendRspProd(u32),
    BackendReqEvent(u32),
    BackendScribble { offset: u16, bytes: Vec<u8> },
}

fuzz_target!(|input: (u32, u8, Vec<Op>)| {
    let (start, pages, ops) = input;
    let page = FakePage::with_size(4096 * (1 + (pages % 4) as usize));
    let Ok(mut ring) = FrontRing::<FakePage, Req, Rsp>::attach(page.clone(), start) else { return };
    let mut published = start;
    let mut taken = 0u64;
    for op in ops.into_iter().take(500) {
        match op {
            Op::Put(b) => {
                let _ = ring.put_request(&Req([b; 12]));
            }
            Op::Push => {
                ring.push_requests_and_check_notify();
                published = ring.req_prod_pvt();
            }
            Op::Take => match ring.take_response() {
                Ok(Some(_)) => {
                    taken += 1;
                    // Never more responses than requests published.
                    assert!(published.wrapping_sub(ring.rsp_cons()) <= ring.size());
                }
                Ok(None) | Err(RingError::ResponseOverflow { .. }) => {}
                Err(e) => panic!("unexpected {e:?}"),
            },
            Op::FinalCheck => {
                let _ = ring.final_check_for_responses();
            }
            Op::BackendRspProd(v) => page.store_release_u32(layout::RSP_PROD, v),
            Op::BackendReqEvent(v) => page.write_u32(layout::REQ_EVENT, v),
            Op::BackendScribble { offset, bytes } => {
                let off = offset as usize % page.size();
                let n = bytes.len().min(page.size() - off);
                page.write_bytes(off, &bytes[..n]);
            }
        }
        assert!(ring.free_requests() <= ring.size());
    }
    let _ = taken;
});
