//! The async block device over blkfront: whole-disk style I/O split into requests, several tasks at
//! once, waiting for ring slots, wakeups, dropped futures.

mod blkfront_util;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use blkfront::{BlockDevice, BlockError, IoError, SubmitError};
use blkfront_util::pattern;
use xen_fake::blkback::setup::TestBlkFront;
use xen_fake::{join_all, poll_once, BlkHostile, BlkSetup, BlkbackConfig, FakeBlkback, FakePages};
use xen_fake::{FakeEventChannels, FakeGrantTable};

type Dev = BlockDevice<FakeGrantTable, FakeEventChannels, FakePages>;

fn device(cfg: BlkbackConfig) -> (BlkSetup, Dev) {
    let (s, blk): (BlkSetup, TestBlkFront) = BlkSetup::connected(cfg);
    (s, BlockDevice::new(blk))
}

/// Poll `fut`, letting the backend serve and the device consume responses between polls.
fn run<F: Future>(fut: F, dev: &Dev, back: &mut FakeBlkback) -> F::Output {
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = poll_once(fut.as_mut()) {
            return v;
        }
        let served = back.process();
        let done = dev.on_event();
        if served == 0 && done == 0 {
            match poll_once(fut.as_mut()) {
                Poll::Ready(v) => return v,
                Poll::Pending => panic!("stalled: nothing to serve, nothing completed"),
            }
        }
    }
}

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}
fn counter() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

#[test]
fn large_transfers_are_split_and_in_flight_together() {
    for ss in [512usize, 4096] {
        let (mut s, dev) = device(BlkbackConfig {
            sector_size: ss,
            sectors: (8 << 20) / ss as u64,
            ..Default::default()
        });
        let data = pattern(0, 3 << 20, 0x33);
        {
            let mut w = pin!(dev.write(1, &data));
            assert!(poll_once(w.as_mut()).is_pending());
            assert_eq!(
                dev.with(|b| b.in_flight()),
                3,
                "three 1 MiB requests at once"
            );
            run(w, &dev, &mut s.back).unwrap();
        }
        run(dev.flush(), &dev, &mut s.back).unwrap();
        let mut back = vec![0u8; 3 << 20];
        run(dev.read(1, &mut back), &dev, &mut s.back).unwrap();
        assert_eq!(back, data);
        assert_eq!(&s.back.disk().durable()[ss..ss + data.len()], &data[..]);
        // Last sector of the disk.
        let last = dev.capacity() - 1;
        let tail = pattern(last * ss as u64, ss, 9);
        run(dev.write(last, &tail), &dev, &mut s.back).unwrap();
        let mut t = vec![0u8; ss];
        run(dev.read(last, &mut t), &dev, &mut s.back).unwrap();
        assert_eq!(t, tail);
        run(dev.discard(0, 1), &dev, &mut s.back).unwrap();
        assert_eq!(s.gnt.active(), 4, "only the ring stays granted");
    }
}

#[test]
fn bad_transfers_fail_before_anything_is_submitted() {
    let mut c = BlkbackConfig {
        sector_size: 4096,
        sectors: 16,
        ..Default::default()
    };
    let (mut s, dev) = device(c);
    let buf = vec![0u8; 4096];
    let mut small = vec![0u8; 512];
    for (r, e) in [
        (
            run(dev.read(0, &mut small), &dev, &mut s.back),
            SubmitError::Unaligned,
        ),
        (
            run(dev.write(16, &buf), &dev, &mut s.back),
            SubmitError::OutOfRange,
        ),
        (
            run(
                dev.write(15, &[buf.clone(), buf.clone()].concat()),
                &dev,
                &mut s.back,
            ),
            SubmitError::OutOfRange,
        ),
        (
            run(dev.discard(15, 2), &dev, &mut s.back),
            SubmitError::OutOfRange,
        ),
    ] {
        assert_eq!(r, Err(BlockError::Submit(e)));
    }
    assert!(s.back.seen().is_empty());
    c.read_only = true;
    let (mut s, dev) = device(c);
    assert_eq!(
        run(dev.write(0, &buf), &dev, &mut s.back),
        Err(BlockError::Submit(SubmitError::ReadOnly))
    );
    assert!(s.back.seen().is_empty());
}

#[test]
fn many_tasks_share_the_ring_and_wait_for_slots() {
    let (mut s, dev) = device(BlkbackConfig {
        sectors: 4096,
        max_ring_page_order: Some(0),
        ..Default::default()
    });
    assert_eq!(dev.with(|b| b.ring_size()), 32);
    s.back.set_out_of_order(true);
    let datas: Vec<Vec<u8>> = (0..100u64)
        .map(|i| pattern(i * 4096, 4096, i as u8))
        .collect();
    let writes: Vec<_> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| dev.write(i as u64 * 8, d))
        .collect();
    for r in run(join_all(writes), &dev, &mut s.back) {
        r.unwrap();
    }
    let mut bufs: Vec<Vec<u8>> = (0..100).map(|_| vec![0u8; 4096]).collect();
    let reads: Vec<_> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| dev.read(i as u64 * 8, b))
        .collect();
    for r in run(join_all(reads), &dev, &mut s.back) {
        r.unwrap();
    }
    assert_eq!(bufs, datas);
}

#[test]
fn completion_and_free_slots_wake_the_waiting_futures() {
    let (mut s, dev) = device(BlkbackConfig {
        max_ring_page_order: Some(0),
        ..Default::default()
    });
    // Fill the ring with 32 single-request reads.
    let mut bufs: Vec<Vec<u8>> = (0..33).map(|_| vec![0u8; 512]).collect();
    let (first_buf, rest) = bufs.split_first_mut().unwrap();
    let mut holders: Vec<_> = rest
        .iter_mut()
        .take(32)
        .enumerate()
        .map(|(i, b)| Box::pin(dev.read(i as u64, b)))
        .collect();
    for h in holders.iter_mut() {
        assert!(poll_once(h.as_mut()).is_pending());
    }
    let (waits_slot, w1) = counter();
    let mut extra = pin!(dev.read(100, first_buf));
    assert!(extra
        .as_mut()
        .poll(&mut Context::from_waker(&w1))
        .is_pending());
    assert_eq!(dev.with(|b| b.in_flight()), 32);
    let (waits_done, w2) = counter();
    assert!(holders[0]
        .as_mut()
        .poll(&mut Context::from_waker(&w2))
        .is_pending());
    assert_eq!(waits_slot.0.load(Ordering::Relaxed), 0);
    s.back.process();
    assert_eq!(dev.on_event(), 32);
    assert_eq!(
        waits_done.0.load(Ordering::Relaxed),
        1,
        "completion woke its future"
    );
    assert_eq!(
        waits_slot.0.load(Ordering::Relaxed),
        1,
        "a free slot woke the waiter"
    );
    assert!(extra
        .as_mut()
        .poll(&mut Context::from_waker(&w1))
        .is_pending());
    s.back.process();
    dev.on_event();
    assert_eq!(
        extra.as_mut().poll(&mut Context::from_waker(&w1)),
        Poll::Ready(Ok(()))
    );
    for h in holders.iter_mut() {
        assert_eq!(poll_once(h.as_mut()), Poll::Ready(Ok(())));
    }
}

#[test]
fn dropped_futures_abandon_their_requests() {
    let (mut s, dev) = device(BlkbackConfig {
        sectors: 8192,
        ..Default::default()
    });
    let mut buf = vec![0u8; 2 << 20];
    {
        let mut r = pin!(dev.read(0, &mut buf));
        assert!(poll_once(r.as_mut()).is_pending());
        assert_eq!(dev.with(|b| b.in_flight()), 2);
    }
    assert_eq!(dev.with(|b| b.unfinished()), 2, "owned until answered");
    assert!(s.gnt.active() > 4);
    s.back.process();
    dev.on_event();
    assert_eq!(dev.with(|b| b.unfinished()), 0);
    assert_eq!(s.gnt.active(), 4);
}

#[test]
fn errors_are_reported_per_operation() {
    let (mut s, dev) = device(BlkbackConfig::default());
    s.back.push_hostile(BlkHostile::ErrorStatus);
    assert_eq!(
        run(dev.write(0, &[1u8; 512]), &dev, &mut s.back),
        Err(BlockError::Io(IoError::Backend))
    );
    run(dev.write(0, &[1u8; 512]), &dev, &mut s.back).unwrap();
    s.back.push_hostile(BlkHostile::BadId);
    let mut b = [0u8; 512];
    assert!(matches!(
        run(dev.read(0, &mut b), &dev, &mut s.back),
        Err(BlockError::Io(IoError::Broken(_)))
    ));
    assert!(matches!(
        run(dev.flush(), &dev, &mut s.back),
        Err(BlockError::Submit(SubmitError::Broken(_)))
    ));
}
