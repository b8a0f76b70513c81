//! Netfront against a fake netback running on its own thread: real concurrency over the ring atomics,
//! notifications as the only synchronisation. The backend echoes every packet it is sent.

mod netfront_common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use netfront::{Config, TxMeta};
use netfront_common::{direct, frame, send};
use xen_fake::netback::{RxMeta, RxRefused};
use xen_fake::NetbackConfig;

const GUARD: Duration = Duration::from_secs(20);

#[test]
fn echo_through_a_concurrent_backend() {
    let d = direct(
        Config {
            rx_buffers: 32,
            tx_buffers: 24,
            rx_queue_limit: 8,
            ..Config::default()
        },
        NetbackConfig::default(),
    );
    let (mut dev, mut nb, guest, grants) = (d.dev, d.nb, d.guest, d.grants);
    let base = 2 + dev.rx_posted();
    let stop = Arc::new(AtomicBool::new(false));
    let backend = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut backlog: VecDeque<Vec<u8>> = VecDeque::new();
            let mut echoed = 0usize;
            let mut spins = 0u64;
            loop {
                backlog.extend(nb.process_tx().into_iter().map(|p| p.data));
                while let Some(p) = backlog.front() {
                    match nb.deliver_rx(p, RxMeta::default()) {
                        Ok(()) => {
                            backlog.pop_front();
                            echoed += 1;
                        }
                        Err(RxRefused::NoBuffer) => break,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                spins += 1;
                assert!(spins < 1_000_000, "backend spinning");
                if nb.arm_tx() || (!backlog.is_empty() && nb.arm_rx()) {
                    continue;
                }
                if stop.load(Ordering::Acquire) {
                    break;
                }
                assert!(
                    nb.wait_for_notification(GUARD, || stop.load(Ordering::Acquire)),
                    "backend stalled"
                );
            }
            assert!(nb.errors().is_empty(), "{:?}", nb.errors());
            (echoed, nb)
        })
    };

    let total = 600usize;
    let mut rounds = 0u64;
    let size = |i: usize| [60, 1514, 5000, 200, 9000][i % 5];
    let port = dev.port();
    let (mut sent, mut got) = (0usize, 0usize);
    while got < total {
        while sent < total && dev.tx_ready(size(sent)) {
            send(&mut dev, &frame(size(sent), sent as u8), TxMeta::default()).unwrap();
            sent += 1;
        }
        while let Some(p) = dev.rx_packet().unwrap() {
            assert_eq!(p.data, frame(size(got), got as u8), "packet {got}");
            got += 1;
        }
        rounds += 1;
        assert!(rounds < 1_000_000, "frontend spinning");
        if got < total {
            assert!(
                guest.wait_pending(port, GUARD, || false),
                "frontend stalled"
            );
            dev.on_event().unwrap();
        }
    }
    stop.store(true, Ordering::Release);
    guest.wake_all();
    // Wake the backend: a notification on its port ends its wait.
    xen_traits::EventChannels::notify(&guest, port);
    let (echoed, mut nb) = backend.join().unwrap();
    assert_eq!(echoed, total);
    dev.on_event().unwrap();
    assert_eq!(dev.broken(), None);
    assert_eq!(dev.tx_in_flight(), 0);
    assert_eq!(grants.active(), base, "every packet's grant was revoked");
    nb.detach();
    assert_eq!(dev.close().leaked_pages, 0);
    assert_eq!(grants.active(), 0);
}
