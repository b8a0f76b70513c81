//! blkfront datapath against the fake blkback: round trips with both sector sizes, flush, discard,
//! indirect requests, many requests in flight, out-of-order completion, rejections.

mod blkfront_util;

use blkfront::{wire, FlushMode, IoError, Op, SubmitError};
use blkfront_util::{finish, io, pattern, Outcome};
use xen_fake::{BackFlush, BlkSetup, BlkbackConfig};

fn cfg(sector_size: usize, sectors: u64) -> BlkbackConfig {
    BlkbackConfig {
        sector_size,
        sectors,
        ..Default::default()
    }
}

fn round_trips(sector_size: usize) {
    let sectors = 4096 * 4 / sector_size as u64 * 16; // 256 KiB disk
    let (mut s, mut blk) = BlkSetup::connected(cfg(sector_size, sectors));
    assert_eq!(blk.sector_size(), sector_size);
    assert_eq!(blk.capacity(), sectors);
    let ss = sector_size as u64;
    let last = sectors - 1;
    for (lba, n, tag) in [
        (0u64, 1usize, 1u8),
        (last, 1, 2),
        (3, 5, 3),
        (last - 2, 3, 4),
        (8, 9, 5),
    ] {
        let data = pattern(lba * ss, n * sector_size, tag);
        io(&mut s, &mut blk, Op::Write { lba, data: &data }).unwrap();
        let back = io(
            &mut s,
            &mut blk,
            Op::Read {
                lba,
                len: data.len(),
            },
        )
        .unwrap();
        assert_eq!(back, data, "lba {lba} n {n}");
        let off = (lba * ss) as usize;
        assert_eq!(&s.back.disk().contents()[off..off + data.len()], &data[..]);
    }
    // The wire speaks 512-byte units whatever the sector size.
    let last_write = s
        .back
        .seen()
        .iter()
        .filter(|r| r.effective_op == wire::BLKIF_OP_WRITE)
        .nth(1)
        .unwrap();
    assert_eq!(last_write.sector, last * (ss / 512));
    assert_eq!(s.back.error(), None);
    assert_eq!(blk.broken(), None);
}

#[test]
fn round_trips_512_byte_sectors() {
    round_trips(512);
}

#[test]
fn round_trips_4096_byte_sectors() {
    round_trips(4096);
}

#[test]
fn data_written_by_dom0_before_boot_is_read() {
    let mut s = BlkSetup::new(cfg(4096, 64));
    let img = pattern(0, 64 * 4096, 0xd0);
    s.back.disk_mut().preload(0, &img);
    let mut blk = s.connect(Default::default()).unwrap().unwrap();
    let all = io(
        &mut s,
        &mut blk,
        Op::Read {
            lba: 0,
            len: 64 * 4096,
        },
    )
    .unwrap();
    assert_eq!(all, img);
}

#[test]
fn unaligned_and_out_of_range_are_rejected_before_the_ring() {
    for ss in [512usize, 4096] {
        let (mut s, mut blk) = BlkSetup::connected(cfg(ss, 64));
        let data = vec![1u8; ss];
        let cases: Vec<(Op<'_>, SubmitError)> = vec![
            (Op::Read { lba: 0, len: 0 }, SubmitError::Unaligned),
            (
                Op::Read {
                    lba: 0,
                    len: ss - 1,
                },
                SubmitError::Unaligned,
            ),
            (
                Op::Read {
                    lba: 0,
                    len: ss + ss / 2,
                },
                SubmitError::Unaligned,
            ),
            (
                Op::Write {
                    lba: 0,
                    data: &data[..ss / 2],
                },
                SubmitError::Unaligned,
            ),
            (Op::Read { lba: 64, len: ss }, SubmitError::OutOfRange),
            (
                Op::Read {
                    lba: 63,
                    len: 2 * ss,
                },
                SubmitError::OutOfRange,
            ),
            (
                Op::Write {
                    lba: u64::MAX,
                    data: &data,
                },
                SubmitError::OutOfRange,
            ),
            (Op::Discard { lba: 60, count: 5 }, SubmitError::OutOfRange),
            (Op::Discard { lba: 0, count: 0 }, SubmitError::Unaligned),
        ];
        let grants_before = s.gnt.active();
        for (op, e) in cases {
            assert_eq!(blk.submit(op), Err(e), "{op:?}");
        }
        assert_eq!(s.back.process(), 0, "nothing reached the ring");
        assert_eq!(s.gnt.active(), grants_before, "nothing granted");
        assert_eq!(
            blk.submit(Op::Read {
                lba: 0,
                len: 1 << 30
            }),
            Err(SubmitError::TooLarge)
        );
        // Larger than one request can carry: refused, not split silently.
        let big = blk.max_request_bytes() + ss;
        let (mut s2, mut blk2) = BlkSetup::connected(cfg(ss, (2 * big / ss) as u64));
        assert_eq!(
            blk2.submit(Op::Read { lba: 0, len: big }),
            Err(SubmitError::TooLarge)
        );
        assert_eq!(s2.back.process(), 0);
    }
}

#[test]
fn read_only_disk_rejects_writes_and_discards_before_the_ring() {
    let mut c = cfg(512, 64);
    c.read_only = true;
    c.removable = true;
    let (mut s, mut blk) = BlkSetup::connected(c);
    assert!(blk.read_only());
    assert!(blk.info().removable());
    let before = s.gnt.calls().len();
    assert_eq!(
        blk.submit(Op::Write {
            lba: 0,
            data: &[0u8; 512]
        }),
        Err(SubmitError::ReadOnly)
    );
    assert_eq!(
        blk.submit(Op::Discard { lba: 0, count: 1 }),
        Err(SubmitError::ReadOnly)
    );
    assert_eq!(s.gnt.calls().len(), before, "no grant was even attempted");
    assert_eq!(s.back.process(), 0);
    // Reads work.
    s.back.disk_mut().preload(512, &[9u8; 512]);
    assert_eq!(
        io(&mut s, &mut blk, Op::Read { lba: 1, len: 512 }).unwrap(),
        vec![9u8; 512]
    );
}

#[test]
fn flush_makes_writes_durable() {
    let (mut s, mut blk) = BlkSetup::connected(cfg(512, 64));
    assert_eq!(blk.info().flush, FlushMode::FlushDiskCache);
    let data = pattern(0, 2048, 7);
    io(
        &mut s,
        &mut blk,
        Op::Write {
            lba: 0,
            data: &data,
        },
    )
    .unwrap();
    assert_eq!(&s.back.disk().contents()[..2048], &data[..]);
    assert_ne!(
        &s.back.disk().durable()[..2048],
        &data[..],
        "only in the cache so far"
    );
    io(&mut s, &mut blk, Op::Flush).unwrap();
    assert_eq!(&s.back.disk().durable()[..2048], &data[..]);
    let f = s.back.seen().last().unwrap();
    assert_eq!(
        (f.operation, f.segments),
        (wire::BLKIF_OP_FLUSH_DISKCACHE, 0)
    );
}

#[test]
fn flush_falls_back_to_write_barrier() {
    let mut c = cfg(512, 64);
    c.flush = BackFlush::Barrier;
    let (mut s, mut blk) = BlkSetup::connected(c);
    assert_eq!(blk.info().flush, FlushMode::WriteBarrier);
    io(
        &mut s,
        &mut blk,
        Op::Write {
            lba: 1,
            data: &[5u8; 512],
        },
    )
    .unwrap();
    io(&mut s, &mut blk, Op::Flush).unwrap();
    assert_eq!(
        s.back.seen().last().unwrap().operation,
        wire::BLKIF_OP_WRITE_BARRIER
    );
    assert_eq!(&s.back.disk().durable()[512..1024], &[5u8; 512][..]);
}

#[test]
fn flush_without_cache_control_completes_without_the_ring() {
    let mut c = cfg(512, 64);
    c.flush = BackFlush::None;
    let (mut s, mut blk) = BlkSetup::connected(c);
    assert_eq!(blk.info().flush, FlushMode::None);
    let id = blk.submit(Op::Flush).unwrap();
    assert_eq!(s.back.process(), 0);
    assert_eq!(finish(&mut blk, id, 0), Ok(vec![]));
}

#[test]
fn flush_refused_by_backend_is_reported_and_disabled() {
    let (mut s, mut blk) = BlkSetup::connected(cfg(512, 64));
    // The backend advertised flush but then answers EOPNOTSUPP (a backend that lost its cache control).
    s.back
        .push_hostile(xen_fake::BlkHostile::BadStatus(wire::BLKIF_RSP_EOPNOTSUPP));
    assert_eq!(
        io(&mut s, &mut blk, Op::Flush),
        Err(Outcome::Io(IoError::NotSupported))
    );
    assert_eq!(blk.broken(), None, "a legitimate status");
    assert_eq!(blk.info().flush, FlushMode::None);
}

#[test]
fn discard_round_trip_and_not_offered() {
    for ss in [512usize, 4096] {
        let (mut s, mut blk) = BlkSetup::connected(cfg(ss, 64));
        let d = blk.info().discard.expect("offered");
        assert_eq!(d.granularity as usize, ss);
        let data = pattern(0, 4 * ss, 1);
        io(
            &mut s,
            &mut blk,
            Op::Write {
                lba: 10,
                data: &data,
            },
        )
        .unwrap();
        io(&mut s, &mut blk, Op::Discard { lba: 11, count: 2 }).unwrap();
        assert_eq!(
            s.back.disk().discarded(),
            &[(11 * ss as u64, 2 * ss as u64)]
        );
        let back = io(
            &mut s,
            &mut blk,
            Op::Read {
                lba: 10,
                len: 4 * ss,
            },
        )
        .unwrap();
        assert_eq!(&back[..ss], &data[..ss]);
        assert!(back[ss..3 * ss].iter().all(|&b| b == 0));
        assert_eq!(&back[3 * ss..], &data[3 * ss..]);
        let seen = s
            .back
            .seen()
            .iter()
            .find(|r| r.operation == wire::BLKIF_OP_DISCARD)
            .unwrap();
        assert_eq!(
            seen.sector,
            11 * (ss as u64 / 512),
            "512-byte units on the wire"
        );
    }
    let mut c = cfg(512, 64);
    c.discard = false;
    let (mut s, mut blk) = BlkSetup::connected(c);
    assert_eq!(
        blk.submit(Op::Discard { lba: 0, count: 1 }),
        Err(SubmitError::NotSupported)
    );
    assert_eq!(s.back.process(), 0);
}

#[test]
fn large_io_is_one_indirect_request() {
    for ss in [512usize, 4096] {
        let (mut s, mut blk) = BlkSetup::connected(cfg(ss, (4 << 20) / ss as u64));
        assert_eq!(blk.max_request_bytes(), 1 << 20, "256 indirect segments");
        let data = pattern(4096, 1 << 20, 0x1d);
        let lba = 4096 / ss as u64;
        io(&mut s, &mut blk, Op::Write { lba, data: &data }).unwrap();
        let back = io(&mut s, &mut blk, Op::Read { lba, len: 1 << 20 }).unwrap();
        assert_eq!(back, data);
        let seen: Vec<_> = s.back.seen().to_vec();
        assert_eq!(seen.len(), 2, "one request each way");
        for r in &seen {
            assert_eq!(r.operation, wire::BLKIF_OP_INDIRECT);
            assert_eq!(r.segments, 256);
            assert_eq!(r.bytes, 1 << 20);
        }
        assert_eq!(blk.stats().indirect, 2);
        // An odd size: 12 segments, the last one partial.
        let odd = pattern(0, 11 * 4096 + ss, 3);
        io(&mut s, &mut blk, Op::Write { lba: 0, data: &odd }).unwrap();
        assert_eq!(s.back.seen().last().unwrap().segments, 12);
        assert_eq!(
            io(
                &mut s,
                &mut blk,
                Op::Read {
                    lba: 0,
                    len: odd.len()
                }
            )
            .unwrap(),
            odd
        );
        // 11 segments still go direct.
        let direct = pattern(0, 11 * 4096, 4);
        io(
            &mut s,
            &mut blk,
            Op::Write {
                lba: 0,
                data: &direct,
            },
        )
        .unwrap();
        assert_eq!(
            s.back.seen().last().unwrap().operation,
            wire::BLKIF_OP_WRITE
        );
    }
}

#[test]
fn without_indirect_the_limit_is_eleven_segments() {
    let mut c = cfg(512, 2048);
    c.max_indirect_segments = 0;
    let (mut s, mut blk) = BlkSetup::connected(c);
    assert_eq!(blk.max_request_bytes(), 11 * 4096);
    assert_eq!(
        blk.submit(Op::Read {
            lba: 0,
            len: 12 * 4096
        }),
        Err(SubmitError::TooLarge)
    );
    let data = pattern(0, 11 * 4096, 9);
    io(
        &mut s,
        &mut blk,
        Op::Write {
            lba: 0,
            data: &data,
        },
    )
    .unwrap();
    assert_eq!(
        io(
            &mut s,
            &mut blk,
            Op::Read {
                lba: 0,
                len: data.len()
            }
        )
        .unwrap(),
        data
    );
}

#[test]
fn many_requests_in_flight_complete_out_of_order() {
    let (mut s, mut blk) = BlkSetup::connected(cfg(512, 4096));
    let slots = blk.ring_size() as usize;
    assert_eq!(slots, 128, "order 2 ring by default");
    s.back.set_out_of_order(true);
    s.back.set_defer(true);
    // Fill the whole ring with writes of distinct data.
    let mut ids = Vec::new();
    for i in 0..slots {
        let data = pattern(i as u64 * 4096, 4096, i as u8);
        ids.push(
            blk.submit(Op::Write {
                lba: i as u64 * 8,
                data: &data,
            })
            .unwrap(),
        );
    }
    assert_eq!(blk.submit(Op::Flush), Err(SubmitError::QueueFull));
    assert_eq!(blk.in_flight(), slots);
    assert_eq!(s.back.process(), slots);
    assert_eq!(blk.handle_event(), 0, "responses held back");
    s.back.release_responses();
    assert_eq!(blk.handle_event(), slots);
    for id in &ids {
        assert_eq!(finish(&mut blk, *id, 0), Ok(vec![]));
    }
    // Reads, answered in reverse order, each get their own data.
    let mut ids = Vec::new();
    for i in 0..slots {
        ids.push(
            blk.submit(Op::Read {
                lba: i as u64 * 8,
                len: 4096,
            })
            .unwrap(),
        );
    }
    s.back.process();
    s.back.release_responses();
    let submitted: Vec<u64> = ids.iter().map(|id| id.wire()).collect();
    let mut answered = s.back.answered()[slots..].to_vec();
    assert_ne!(answered, submitted, "completed out of order");
    answered.reverse();
    assert_eq!(answered, submitted);
    assert_eq!(blk.handle_event(), slots);
    for (i, id) in ids.iter().enumerate().rev() {
        assert_eq!(
            finish(&mut blk, *id, 4096),
            Ok(pattern(i as u64 * 4096, 4096, i as u8))
        );
    }
    assert_eq!(blk.broken(), None);
    assert_eq!(blk.unfinished(), 0);
}

#[test]
fn responses_arriving_in_any_order_within_a_batch() {
    // Interleave: some completed, some pending, completed out of order across batches.
    let (mut s, mut blk) = BlkSetup::connected(cfg(512, 512));
    s.back.set_out_of_order(true);
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
    s.back.process();
    let c = blk
        .submit(Op::Write {
            lba: 2,
            data: &[3u8; 512],
        })
        .unwrap();
    assert!(blk.poll_request(c, None).is_pending());
    blk.handle_event();
    assert!(blk.poll_request(a, None).is_ready());
    assert!(blk.poll_request(b, None).is_ready());
    assert!(blk.poll_request(c, None).is_pending());
    s.back.process();
    blk.handle_event();
    for id in [c, b, a] {
        assert_eq!(finish(&mut blk, id, 0), Ok(vec![]));
    }
    assert_eq!(
        &s.back.disk().contents()[..1536],
        &[[1u8; 512], [2; 512], [3; 512]].concat()[..]
    );
}

#[test]
fn backend_error_status_fails_only_that_request() {
    let (mut s, mut blk) = BlkSetup::connected(cfg(512, 64));
    s.back.push_hostile(xen_fake::BlkHostile::ErrorStatus);
    assert_eq!(
        io(
            &mut s,
            &mut blk,
            Op::Write {
                lba: 0,
                data: &[1u8; 512]
            }
        ),
        Err(Outcome::Io(IoError::Backend))
    );
    assert_eq!(blk.broken(), None);
    io(
        &mut s,
        &mut blk,
        Op::Write {
            lba: 0,
            data: &[1u8; 512],
        },
    )
    .unwrap();
}

#[test]
fn finishing_unknown_or_pending_requests() {
    let (mut s, mut blk) = BlkSetup::connected(cfg(512, 64));
    let id = blk.submit(Op::Read { lba: 0, len: 512 }).unwrap();
    assert_eq!(finish(&mut blk, id, 512), Err(Outcome::Pending));
    s.back.process();
    blk.handle_event();
    assert_eq!(
        finish(&mut blk, id, 1024),
        Err(Outcome::Io(IoError::BufferSize))
    );
    assert_eq!(finish(&mut blk, id, 512), Ok(vec![0u8; 512]));
    assert_eq!(
        finish(&mut blk, id, 512),
        Err(Outcome::Io(IoError::UnknownRequest))
    );
}

#[test]
fn deferred_submissions_are_published_together_with_one_notification() {
    let (mut s, mut blk) = BlkSetup::connected(cfg(512, 64));
    let port = blk.port();
    let before = s.guest_evtchn.notify_count(port);
    let ids: Vec<_> = (0..3u64)
        .map(|i| {
            blk.submit_deferred(Op::Write {
                lba: i,
                data: &[i as u8 + 1; 512],
            })
            .unwrap()
        })
        .collect();
    assert_eq!(s.back.process(), 0, "not published yet");
    assert_eq!(s.guest_evtchn.notify_count(port), before);
    blk.kick();
    assert_eq!(s.guest_evtchn.notify_count(port), before + 1);
    assert_eq!(s.back.process(), 3);
    blk.handle_event();
    for id in ids {
        finish(&mut blk, id, 0).unwrap();
    }
    assert_eq!(
        &s.back.disk().contents()[..1536],
        &[[1u8; 512], [2; 512], [3; 512]].concat()[..]
    );
}
