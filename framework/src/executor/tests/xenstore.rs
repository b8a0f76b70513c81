//! The executor driving the real xenstore client (`xenbus::Client`) against the fake xenstored of
//! `xen-fake`, over a real ring page and the fake event channel hub: one task-local driver loop turns
//! port events into `Client::on_event`, as on Xen.
//!
//! The platform: time is the virtual clock of [`FakePlatform`]; blocking first lets the fake daemon
//! do its work (as dom0 would while the guest is blocked), and the guest's xenstore port is read from
//! the hub's pending bit.

use std::sync::{Arc, Mutex};

use core::time::Duration;

use xen_fake::{FakeEventChannels, FakeXenstored, XenstoreSetup};
use xen_traits::{DomId, Port};
use xenbus::client::Work;

use super::*;
use crate::executor::{select, sleep, spawn, timeout, wait_event, yield_now, Either, Instant, Platform};

const GUEST: DomId = DomId(5);

struct XsPlatform {
    clock: FakePlatform,
    daemon: Arc<Mutex<FakeXenstored>>,
    guest: FakeEventChannels,
    port: Port,
}

impl Platform for XsPlatform {
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
    fn set_timer(&self, deadline_ns: Option<u64>) {
        self.clock.set_timer(deadline_ns)
    }
    fn drain_events(&self, f: &mut dyn FnMut(u32)) {
        if self.guest.take_pending(self.port) {
            f(self.port.0);
        }
        self.clock.drain_events(f);
    }
    fn wait_for_event(&self) {
        // dom0 runs while we are blocked; its replies raise our port.
        self.daemon.lock().unwrap().run_until_idle();
        if self.guest.take_pending(self.port) {
            self.clock.raise(self.port.0);
        }
        self.clock.wait_for_event();
    }
}

/// The driver: every event on the xenstore port pumps the client's ring.
async fn drive_xenstore(client: &xen_fake::FakeClient, port: u32) -> ! {
    loop {
        wait_event(port).await;
        while client.on_event() == Work::More {
            yield_now().await;
        }
    }
}

#[test]
fn requests_and_a_watch_complete_on_the_executor() {
    let (setup, daemon, client) = XenstoreSetup::client(GUEST, 0);
    let daemon = Arc::new(Mutex::new(daemon));
    let clock = FakePlatform::new();
    let platform = XsPlatform {
        clock: clock.clone(),
        daemon: daemon.clone(),
        guest: setup.guest_evtchn.clone(),
        port: setup.guest_port,
    };
    let port = setup.guest_port.0;
    let dom0 = daemon.clone();
    let _serial = serial();
    let out = crate::executor::run(platform, async {
        let app = async {
            client.write("data/greeting", b"hello").await.unwrap();
            let read = client.read_string("data/greeting").await.unwrap();
            let watch = client.watch("control/shutdown").await.unwrap();
            watch.next().await.unwrap(); // the initial event
            // dom0 asks for a shutdown 50 ms later (another task plays the toolstack).
            let toolstack = spawn(async move {
                sleep(Duration::from_millis(50)).await;
                dom0.lock().unwrap().dom0_write("control/shutdown", b"poweroff");
            });
            let event = timeout(Duration::from_secs(1), watch.next()).await.unwrap().unwrap();
            toolstack.await;
            let at = Instant::now();
            let request = client.read_string("control/shutdown").await.unwrap();
            (read, event.path, request, at)
        };
        // The client is `!Sync` (a RefCell): app and driver share it inside one task.
        match select(app, drive_xenstore(&client, port)).await {
            Either::Left(out) => out,
            Either::Right(never) => never,
        }
    });
    drop(_serial);
    let (read, event_path, request, at) = out;
    assert_eq!(read, "hello");
    assert_eq!(event_path, "control/shutdown");
    assert_eq!(request, "poweroff");
    assert_eq!(at, Instant::from_nanos(50 * MS), "woken by the watch at the write, not by the 1 s timeout");
    assert_eq!(daemon.lock().unwrap().value("/local/domain/5/data/greeting").as_deref(), Some(&b"hello"[..]));
    // Blocked once per round trip to dom0 (write, read, watch, final read) and once for the toolstack's
    // timer, which was the nearest deadline; the 1 s timeout was never waited for.
    let waits = clock.waits();
    assert_eq!(waits.len(), 5, "{waits:?}");
    assert_eq!(waits.iter().filter(|w| w.armed == Some(50 * MS)).count(), 1, "{waits:?}");
    assert!(waits.iter().all(|w| w.until <= 50 * MS), "{waits:?}");
}

#[test]
fn the_driver_can_be_a_local_task_sharing_an_rc_client() {
    let (setup, daemon, client) = XenstoreSetup::client(GUEST, 0);
    let daemon = Arc::new(Mutex::new(daemon));
    let clock = FakePlatform::new();
    let platform = XsPlatform { clock, daemon, guest: setup.guest_evtchn.clone(), port: setup.guest_port };
    let port = setup.guest_port.0;
    let _serial = serial();
    let listing = crate::executor::run(platform, async move {
        let client = std::rc::Rc::new(client);
        let local = crate::executor::LocalSet::new();
        let driver_client = client.clone();
        drop(local.spawn(async move { drive_xenstore(&driver_client, port).await }));
        // Two requests in flight at once, from two local tasks.
        let (a, b) = (client.clone(), client.clone());
        let w1 = local.spawn(async move { a.write("data/one", b"1").await });
        let w2 = local.spawn(async move { b.write("data/two", b"2").await });
        local
            .run_until(async {
                w1.await.unwrap();
                w2.await.unwrap();
                client.directory("data").await.unwrap()
            })
            .await
    });
    assert_eq!(listing, ["one", "two"]);
}

#[test]
fn monitoring_publishes_a_sample_every_period() {
    let (setup, daemon, client) = XenstoreSetup::client(GUEST, 0);
    let daemon = Arc::new(Mutex::new(daemon));
    let clock = FakePlatform::new();
    let platform = XsPlatform { clock, daemon: daemon.clone(), guest: setup.guest_evtchn.clone(), port: setup.guest_port };
    let port = setup.guest_port.0;
    let _serial = serial();
    crate::executor::run(platform, async {
        let mut n = 0u64;
        let sample = || {
            n += 1;
            let v = crate::monitor::Vitals { uptime_ms: Instant::now().as_nanos() / 1_000_000, heap_used: 100 * n, ..Default::default() };
            let mut keys = v.keyed();
            keys.push(("net/eth0/rx_packets".into(), 7 * n));
            keys
        };
        let publish = crate::monitor::publish(&client, Duration::from_secs(1), sample);
        // Samples at 0, 1 and 2 s; the app stops it at 2.5 s.
        let stop = sleep(Duration::from_millis(2500));
        match select(select(publish, stop), drive_xenstore(&client, port)).await {
            Either::Left(Either::Left(r)) => panic!("publishing ended: {r:?}"),
            Either::Left(Either::Right(())) => {}
            Either::Right(never) => never,
        }
    });
    let d = daemon.lock().unwrap();
    let value = |k: &str| String::from_utf8(d.value(&format!("/local/domain/5/data/xenolith/{k}")).unwrap()).unwrap();
    assert_eq!(value("updates"), "3");
    assert_eq!(value("uptime_ms"), "2000", "the third sample, taken at 2 s");
    assert_eq!(value("heap_used"), "300");
    assert_eq!(value("events"), "0");
    assert_eq!(value("net/eth0/rx_packets"), "21", "keys in subdirectories too");
}
