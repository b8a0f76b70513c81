//! [`Disk`] on the executor against `xen-fake`'s blkback over real ring memory: several local tasks at
//! once (large split writes, single sectors), completions in any order, refusals before the ring,
//! flushed data in the fake disk's durable image. The platform lets the backend serve while the guest
//! is blocked (as dom0 would) and raises the device's port when it answered.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::vec::Vec;

use blkfront::BlockDevice;
use xen_fake::blkback::setup::DEVID;
use xen_fake::{BlkSetup, BlkbackConfig, FakeBlkback, FakeEventChannels};
use xen_traits::Port;

use super::*;
use crate::executor::tests::serial;
use crate::executor::{run, LocalSet, Platform};

struct BlkPlatform {
    back: Arc<Mutex<FakeBlkback>>,
    guest: FakeEventChannels,
    port: Port,
    /// The port fired and was not yet drained.
    raised: AtomicBool,
}

impl Platform for BlkPlatform {
    fn now_ns(&self) -> u64 {
        0
    }
    fn set_timer(&self, _deadline_ns: Option<u64>) {}
    fn drain_events(&self, f: &mut dyn FnMut(u32)) {
        if self.guest.take_pending(self.port) | self.raised.swap(false, Ordering::AcqRel) {
            f(self.port.0);
        }
    }
    fn wait_for_event(&self) {
        // The backend runs while we are blocked; its responses raise our port.
        while self.back.lock().unwrap().process() > 0 {}
        if self.guest.take_pending(self.port) {
            self.raised.store(true, Ordering::Release);
        } else {
            panic!("stalled: blocked with nothing for the backend to do and no event");
        }
    }
}

fn pattern(at: u64, len: usize, tag: u8) -> Vec<u8> {
    (0..len as u64).map(|i| ((at + i) as u8).wrapping_mul(31) ^ tag ^ ((at + i) >> 9) as u8).collect()
}

/// A connected disk of `sector_size`-byte sectors (8 MiB), the platform and the backend.
fn setup(sector_size: usize, out_of_order: bool) -> (Rc<disk::TestDisk>, BlkPlatform, Arc<Mutex<FakeBlkback>>) {
    let (s, blk) = BlkSetup::connected(BlkbackConfig {
        sector_size,
        sectors: (8 << 20) / sector_size as u64,
        ..Default::default()
    });
    let BlkSetup { mut back, guest_evtchn, .. } = s;
    back.set_out_of_order(out_of_order);
    let port = blk.port();
    let back = Arc::new(Mutex::new(back));
    let disk = Rc::new(Disk::new(BlockDevice::new(blk), DEVID));
    let platform = BlkPlatform { back: back.clone(), guest: guest_evtchn, port, raised: AtomicBool::new(false) };
    (disk, platform, back)
}

mod disk {
    pub type TestDisk = super::Disk<xen_fake::FakeGrantTable, xen_fake::FakeEventChannels, xen_fake::FakePages>;
}

#[test]
fn several_tasks_write_flush_and_read_back() {
    for (ss, out_of_order) in [(512usize, false), (4096, true)] {
        let _serial = serial();
        let (disk, platform, back) = setup(ss, out_of_order);
        assert_eq!(disk.name(), "xvda");
        assert_eq!(disk.sector_size(), ss);
        let cap = disk.capacity();
        // (lba, bytes): a 3 MiB write (split), sizes around the indirect limit, the first and last sector.
        let regions: Vec<(u64, usize)> =
            vec![(0, ss), (cap - 1, ss), (8, 3 << 20), ((4 << 20) / ss as u64, 48 << 10), ((6 << 20) / ss as u64, 44 << 10)];
        let d = disk.clone();
        let rs = regions.clone();
        let failures = run(platform, async move {
            let local = LocalSet::new();
            let handles: Vec<_> = rs
                .iter()
                .map(|&(lba, len)| {
                    let d = d.clone();
                    local.spawn(async move { d.write(lba, &pattern(lba * ss as u64, len, 1)).await })
                })
                .collect();
            let results = local
                .run_until(async {
                    let mut v = Vec::new();
                    for h in handles {
                        v.push(h.await);
                    }
                    v
                })
                .await;
            let mut failures: Vec<String> = results.iter().filter_map(|r| r.err().map(|e| format!("{e}"))).collect();
            if let Err(e) = d.flush().await {
                failures.push(format!("flush: {e}"));
            }
            // Reads from two tasks at once.
            let a = d.clone();
            let b = d.clone();
            let (r1, r2) = crate::executor::join(
                async move {
                    let mut buf = vec![0u8; 3 << 20];
                    a.read(8, &mut buf).await.map(|()| buf)
                },
                async move {
                    let mut buf = vec![0u8; ss];
                    b.read(b.capacity() - 1, &mut buf).await.map(|()| buf)
                },
            )
            .await;
            match r1 {
                Ok(buf) if buf == pattern(8 * ss as u64, 3 << 20, 1) => {}
                other => failures.push(format!("3 MiB read back: {:?}", other.map(|_| "wrong data"))),
            }
            match r2 {
                Ok(buf) if buf == pattern((cap - 1) * ss as u64, ss, 1) => {}
                other => failures.push(format!("last sector read back: {:?}", other.map(|_| "wrong data"))),
            }
            failures
        });
        assert!(failures.is_empty(), "{ss}-byte sectors: {failures:?}");
        let back = back.lock().unwrap();
        for &(lba, len) in &regions {
            let at = lba as usize * ss;
            assert_eq!(&back.disk().durable()[at..at + len], &pattern(at as u64, len, 1)[..], "durable at {lba}");
        }
        assert!(disk.stats().indirect > 0, "large requests use indirect descriptors");
        assert_eq!(disk.broken(), None);
    }
}

#[test]
fn bad_requests_are_refused_before_the_ring() {
    let _serial = serial();
    let (disk, platform, _back) = setup(4096, false);
    let d = disk.clone();
    let results = run(platform, async move {
        let buf = vec![0u8; 8192];
        let mut rbuf = vec![0u8; 8192];
        vec![
            d.write(0, &buf[..512]).await,
            d.write(0, &buf[..0]).await,
            d.write(d.capacity() - 1, &buf).await,
            d.read(u64::MAX, &mut rbuf[..4096]).await,
            d.read(0, &mut rbuf[..6144]).await,
        ]
    });
    assert_eq!(
        results,
        vec![
            Err(Error::Rejected(SubmitError::Unaligned)),
            Err(Error::Rejected(SubmitError::Unaligned)),
            Err(Error::Rejected(SubmitError::OutOfRange)),
            Err(Error::Rejected(SubmitError::OutOfRange)),
            Err(Error::Rejected(SubmitError::Unaligned)),
        ]
    );
    assert_eq!(disk.stats().submitted, 0, "nothing reached the ring");
}
