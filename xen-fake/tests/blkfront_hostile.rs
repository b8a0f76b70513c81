//! blkfront against a hostile blkback: bad ids, wrong operations, duplicates, bad statuses, index
//! jumps, held grants. Nothing panics; the offending request fails, the device is marked broken, and
//! grants are only ever revoked once the backend unmapped them.

mod blkfront_util;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};

use blkfront::{Broken, IoError, Op, SubmitError};
use blkfront_util::{finish, io, pattern, Outcome};
use xen_fake::blkback::setup::TestBlkFront;
use xen_fake::{BlkHostile, BlkSetup, BlkbackConfig, GrantCall};
use xen_traits::{GrantRef, Pfn, RevokeError};

fn setup() -> (BlkSetup, TestBlkFront) {
    BlkSetup::connected(BlkbackConfig::default())
}

/// After the device broke: every request failed, new ones are refused, nothing reached the ring.
fn assert_dead(s: &mut BlkSetup, blk: &mut TestBlkFront, why: Broken) {
    assert_eq!(blk.broken(), Some(why));
    assert_eq!(blk.in_flight(), 0);
    assert_eq!(
        blk.submit(Op::Read { lba: 0, len: 512 }),
        Err(SubmitError::Broken(why))
    );
    assert_eq!(blk.submit(Op::Flush), Err(SubmitError::Broken(why)));
    assert_eq!(s.back.process(), 0);
    assert_eq!(
        blk.handle_event(),
        0,
        "a broken device consumes nothing more"
    );
}

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn unknown_id_breaks_the_device_and_fails_everything_in_flight() {
    let (mut s, mut blk) = setup();
    let a = blk.submit(Op::Read { lba: 0, len: 512 }).unwrap();
    let b = blk
        .submit(Op::Write {
            lba: 1,
            data: &[1u8; 512],
        })
        .unwrap();
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    assert!(blk.poll_request(b, Some(&waker)).is_pending());
    s.back.push_hostile(BlkHostile::BadId);
    s.back.process();
    assert_eq!(blk.handle_event(), 0);
    let why = Broken::UnknownId(0x7fff_fff0);
    for id in [a, b] {
        assert_eq!(
            blk.poll_request(id, None),
            Poll::Ready(Err(IoError::Broken(why)))
        );
    }
    assert_eq!(count.0.load(Ordering::Relaxed), 1, "the waiter was woken");
    assert_eq!(
        finish(&mut blk, a, 512),
        Err(Outcome::Io(IoError::Broken(why)))
    );
    assert_eq!(
        finish(&mut blk, b, 0),
        Err(Outcome::Io(IoError::Broken(why)))
    );
    assert_dead(&mut s, &mut blk, why);
    assert_eq!(blk.unfinished(), 0);
    assert_eq!(s.gnt.active(), 4, "only the ring is still granted");
}

#[test]
fn wrong_operation_fails_that_request_with_a_protocol_error() {
    let (mut s, mut blk) = setup();
    let a = blk.submit(Op::Read { lba: 0, len: 512 }).unwrap();
    let b = blk.submit(Op::Read { lba: 1, len: 512 }).unwrap();
    s.back.push_hostile(BlkHostile::WrongOperation);
    s.back.process();
    blk.handle_event();
    let why = Broken::WrongOperation {
        expected: blkfront::wire::BLKIF_OP_READ,
        got: blkfront::wire::BLKIF_OP_WRITE,
    };
    assert_eq!(
        finish(&mut blk, a, 512),
        Err(Outcome::Io(IoError::Protocol))
    );
    assert_eq!(
        finish(&mut blk, b, 512),
        Err(Outcome::Io(IoError::Broken(why)))
    );
    assert_dead(&mut s, &mut blk, why);
}

#[test]
fn duplicate_response_is_not_taken_for_another_request() {
    let (mut s, mut blk) = setup();
    let a = blk
        .submit(Op::Write {
            lba: 0,
            data: &[1u8; 512],
        })
        .unwrap();
    let b = blk
        .submit(Op::Write {
            lba: 1,
            data: &[2u8; 512],
        })
        .unwrap();
    s.back.push_hostile(BlkHostile::Duplicate);
    s.back.process();
    blk.handle_event();
    assert_eq!(
        finish(&mut blk, a, 0),
        Ok(vec![]),
        "the first copy is genuine"
    );
    assert_eq!(
        finish(&mut blk, b, 0),
        Err(Outcome::Io(IoError::Broken(Broken::NotInFlight(a.wire()))))
    );
    assert_dead(&mut s, &mut blk, Broken::NotInFlight(a.wire()));
}

#[test]
fn stale_response_for_a_reused_slot_is_rejected() {
    // A request completes and its slot is reused; a late copy of the old response must not complete
    // the new request (ids carry a generation).
    let (mut s, mut blk) = setup();
    let old = blk
        .submit(Op::Write {
            lba: 0,
            data: &[1u8; 512],
        })
        .unwrap();
    s.back.process();
    blk.handle_event();
    finish(&mut blk, old, 0).unwrap();
    let new = blk
        .submit(Op::Write {
            lba: 0,
            data: &[2u8; 512],
        })
        .unwrap();
    let _other = blk
        .submit(Op::Write {
            lba: 1,
            data: &[3u8; 512],
        })
        .unwrap();
    assert_ne!(old, new);
    assert_eq!(
        old.wire() & 0xffff_ffff,
        new.wire() & 0xffff_ffff,
        "same slot"
    );
    s.back.push_hostile(BlkHostile::Duplicate);
    s.back.process();
    blk.handle_event();
    assert_eq!(finish(&mut blk, new, 0), Ok(vec![]));
    assert_eq!(blk.broken(), Some(Broken::NotInFlight(new.wire())));
}

#[test]
fn status_outside_the_protocol_breaks_the_device() {
    let (mut s, mut blk) = setup();
    s.back.push_hostile(BlkHostile::BadStatus(7));
    assert_eq!(
        io(&mut s, &mut blk, Op::Read { lba: 0, len: 512 }),
        Err(Outcome::Io(IoError::Protocol))
    );
    assert_dead(&mut s, &mut blk, Broken::BadStatus(7));
}

#[test]
fn response_index_jump_breaks_the_device() {
    let (mut s, mut blk) = setup();
    let a = blk.submit(Op::Read { lba: 0, len: 512 }).unwrap();
    let b = blk.submit(Op::Read { lba: 1, len: 512 }).unwrap();
    s.back.set_defer(true);
    s.back.process();
    s.back.push_hostile(BlkHostile::RspProdJump);
    s.back.release_responses();
    blk.handle_event();
    for id in [a, b] {
        assert_eq!(
            finish(&mut blk, id, 512),
            Err(Outcome::Io(IoError::Broken(Broken::ResponseOverflow)))
        );
    }
    assert_dead(&mut s, &mut blk, Broken::ResponseOverflow);
}

#[test]
fn grants_held_by_the_backend_are_not_revoked_or_reused_until_unmapped() {
    let (mut s, mut blk) = setup();
    s.back.set_hold_grants(true);
    let data = pattern(0, 8192, 0x44);
    io(
        &mut s,
        &mut blk,
        Op::Write {
            lba: 0,
            data: &data,
        },
    )
    .unwrap();
    let back = io(&mut s, &mut blk, Op::Read { lba: 0, len: 8192 }).unwrap();
    assert_eq!(back, data, "completion is not delayed by the held mapping");
    assert_eq!(s.back.held_grants(), 4);
    assert_eq!(blk.held_pages(), 4);
    assert_eq!(s.gnt.active(), 4 + 4);
    let refused: HashSet<GrantRef> = s
        .gnt
        .calls()
        .iter()
        .filter_map(|c| match c {
            GrantCall::Revoke(g, Err(RevokeError::StillInUse)) => Some(*g),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 4);
    let held_pfns: HashSet<Pfn> = granted_pfns(&s, &refused);
    // New I/O while the pages are held uses other pages.
    s.back.set_hold_grants(false);
    let calls_before = s.gnt.calls().len();
    io(
        &mut s,
        &mut blk,
        Op::Write {
            lba: 100,
            data: &pattern(0, 16384, 1),
        },
    )
    .unwrap();
    let later: Vec<Pfn> = s.gnt.calls()[calls_before..]
        .iter()
        .filter_map(|c| match c {
            GrantCall::Grant(_, pfn, _, Ok(_)) => Some(*pfn),
            _ => None,
        })
        .collect();
    assert_eq!(later.len(), 4);
    assert!(
        later.iter().all(|p| !held_pfns.contains(p)),
        "held pages reused"
    );
    // Retries keep failing while mapped; once unmapped, the next event revokes them.
    blk.handle_event();
    assert_eq!(blk.held_pages(), 4);
    s.back.release_grants();
    blk.handle_event();
    assert_eq!(blk.held_pages(), 0);
    assert_eq!(s.gnt.active(), 4, "only the ring");
    assert!(blk.stats().revoke_busy >= 8);
}

fn granted_pfns(s: &BlkSetup, refs: &HashSet<GrantRef>) -> HashSet<Pfn> {
    // The latest grant of each ref (refs are recycled by the table).
    let mut m = std::collections::HashMap::new();
    for c in s.gnt.calls() {
        if let GrantCall::Grant(_, pfn, _, Ok(g)) = c {
            m.insert(g, pfn);
        }
    }
    refs.iter().map(|g| m[g]).collect()
}

#[test]
fn no_grant_or_page_leaks_over_many_requests() {
    let (mut s, mut blk) = BlkSetup::connected(BlkbackConfig {
        sectors: 8192,
        ..Default::default()
    });
    let ring_pages = s.pages.live();
    for round in 0..20u64 {
        let data = pattern(round, 64 * 1024, round as u8);
        io(
            &mut s,
            &mut blk,
            Op::Write {
                lba: round * 128,
                data: &data,
            },
        )
        .unwrap();
        assert_eq!(
            io(
                &mut s,
                &mut blk,
                Op::Read {
                    lba: round * 128,
                    len: data.len()
                }
            )
            .unwrap(),
            data
        );
        io(&mut s, &mut blk, Op::Flush).unwrap();
        io(
            &mut s,
            &mut blk,
            Op::Discard {
                lba: round,
                count: 1,
            },
        )
        .unwrap();
        assert_eq!(
            s.gnt.active(),
            4,
            "round {round}: only the ring stays granted"
        );
    }
    // Bounce pages are pooled: 16 data pages + 1 indirect page at most, allocated once.
    assert_eq!(s.pages.live() - ring_pages, 17);
    assert_eq!(blk.unfinished(), 0);
}

#[test]
fn abandoned_requests_are_released_on_completion() {
    let (mut s, mut blk) = setup();
    let a = blk.submit(Op::Read { lba: 0, len: 4096 }).unwrap();
    blk.abandon(a);
    assert_eq!(blk.unfinished(), 1, "still owned until the backend answers");
    assert_eq!(s.gnt.active(), 5);
    s.back.process();
    blk.handle_event();
    assert_eq!(blk.unfinished(), 0);
    assert_eq!(s.gnt.active(), 4);
    assert_eq!(
        blk.poll_request(a, None),
        Poll::Ready(Err(IoError::UnknownRequest))
    );
}

/// A small deterministic generator (xorshift) for the storm test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_hostile_storms_never_panic_and_never_leak_grants() {
    let (mut broke, mut succeeded, mut failed) = (0, 0, 0);
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (mut s, mut blk) = BlkSetup::connected(BlkbackConfig {
            sector_size: if seed % 2 == 0 { 512 } else { 4096 },
            sectors: 1024,
            ..Default::default()
        });
        let ss = blk.sector_size();
        s.back.set_out_of_order(rng.below(2) == 0);
        let mut ids = Vec::new();
        for _ in 0..40 {
            match rng.below(10) {
                0 => s.back.push_hostile(match rng.below(6) {
                    0 => BlkHostile::BadId,
                    1 => BlkHostile::WrongOperation,
                    2 => BlkHostile::Duplicate,
                    3 => BlkHostile::ErrorStatus,
                    4 => BlkHostile::BadStatus(rng.below(200) as i16 - 100),
                    _ => BlkHostile::RspProdJump,
                }),
                1 => s.back.set_hold_grants(rng.below(2) == 0),
                2 | 3 => {
                    s.back.process();
                }
                4 => {
                    blk.handle_event();
                }
                5 => s.back.release_grants(),
                _ => {
                    let lba = rng.below(1024);
                    let n = 1 + rng.below(40) as usize;
                    let op = match rng.below(4) {
                        0 => Op::Read { lba, len: n * ss },
                        1 => Op::Flush,
                        2 => Op::Discard {
                            lba,
                            count: n as u64,
                        },
                        _ => Op::Write {
                            lba,
                            data: &vec![0x5a; n * ss][..],
                        },
                    };
                    let len = match op {
                        Op::Read { len, .. } => len,
                        _ => 0,
                    };
                    if let Ok(id) = blk.submit(op) {
                        ids.push((id, len));
                    }
                }
            }
        }
        // Let everything settle: the backend answers and lets go, the driver consumes and retries.
        s.back.set_hold_grants(false);
        s.back.process();
        s.back.release_grants();
        blk.handle_event();
        for (id, len) in ids {
            match finish(&mut blk, id, len) {
                Ok(_) => succeeded += 1,
                Err(Outcome::Io(_)) => failed += 1,
                Err(o) => panic!("seed {seed}: request left {o:?}"),
            }
        }
        blk.handle_event();
        broke += usize::from(blk.broken().is_some());
        assert_eq!(blk.unfinished(), 0, "seed {seed}");
        assert_eq!(blk.held_pages(), 0, "seed {seed}");
        assert_eq!(
            s.gnt.active(),
            4,
            "seed {seed}: only the ring stays granted"
        );
        // Every revoke that succeeded happened while the backend had no mapping (the fake grant
        // table refuses otherwise), and no revoke was of a ref we did not own.
        assert!(!s
            .gnt
            .calls()
            .iter()
            .any(|c| matches!(c, GrantCall::Revoke(_, Err(RevokeError::InvalidRef)))));
    }
    // The storm exercised both outcomes.
    assert!(broke > 5 && broke < 60, "{broke} devices broke");
    assert!(
        succeeded > 100 && failed > 20,
        "{succeeded} ok, {failed} failed"
    );
}
