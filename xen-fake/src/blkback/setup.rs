//! [`BlkSetup`]: a guest with a xenstore client, a fake xenstored, a fake blkback in dom0 and the fakes
//! the driver needs (grant table, event channels, pages), plus a single-threaded driver for the
//! handshake.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use blkfront::{BlkFront, Config, ConnectError};
use xen_traits::DomId;
use xenbus::discovery::{self, DeviceInfo, VBD};

use super::pages::FakePages;
use super::{BlkbackConfig, FakeBlkback};
use crate::evtchn::FakeEventChannels;
use crate::exec::{poll_once, Stalled};
use crate::grant::{FakeGrantTable, FakeMemory};
use crate::setup::{FakeClient, XenstoreSetup};
use crate::xenstored::FakeXenstored;

/// The driver type under test.
pub type TestBlkFront = BlkFront<FakeGrantTable, FakeEventChannels, FakePages>;

/// Everything a blkfront test needs. Fields are public: tests poke at any of them.
#[derive(Debug)]
pub struct BlkSetup {
    /// Xenstore wiring (hub, guest id, ports).
    pub xs: XenstoreSetup,
    /// The fake xenstored.
    pub daemon: FakeXenstored,
    /// The guest's xenstore client.
    pub client: FakeClient,
    /// The fake backend.
    pub back: FakeBlkback,
    /// The grant table (the driver gets a clone; the backend maps through another).
    pub gnt: FakeGrantTable,
    /// Guest memory.
    pub memory: FakeMemory,
    /// The driver's page allocator (clones share counters).
    pub pages: FakePages,
    /// The guest's event channels.
    pub guest_evtchn: FakeEventChannels,
    /// The discovered device.
    pub device: DeviceInfo,
}

/// The guest's domain id in these setups.
pub const GUEST: DomId = DomId(7);
/// The device id (`xvda`'s encoding, as `xl` writes it).
pub const DEVID: u32 = 51712;

/// Run `fut` while stepping the daemon and letting the backend follow the handshake; a stall (nobody
/// can progress) is an error, never a hang.
pub fn drive_with<F: Future>(
    fut: F,
    daemon: &mut FakeXenstored,
    back: &mut FakeBlkback,
) -> Result<F::Output, Stalled> {
    let mut fut = pin!(fut);
    let mut idle_rounds = 0;
    loop {
        if let Poll::Ready(v) = poll_once(fut.as_mut()) {
            return Ok(v);
        }
        let a = daemon.run_until_idle();
        let b = back.poll_xenstore(daemon);
        if a || b {
            idle_rounds = 0;
        } else {
            idle_rounds += 1;
            if idle_rounds > 2 {
                return Err(Stalled);
            }
        }
    }
}

impl BlkSetup {
    /// A guest with one vbd served by a fake blkback configured by `cfg` (not yet connected).
    pub fn new(cfg: BlkbackConfig) -> BlkSetup {
        let (xs, mut daemon, client) = XenstoreSetup::client(GUEST, 0);
        let memory = FakeMemory::new();
        let gnt = FakeGrantTable::new(memory.clone(), 16384);
        let mut back = FakeBlkback::new(
            cfg,
            &mut daemon,
            DEVID,
            gnt.clone(),
            xs.hub.domain(DomId::DOM0),
            GUEST,
        );
        let device = drive_with(
            discovery::device_info(&client, VBD, DEVID),
            &mut daemon,
            &mut back,
        )
        .expect("discovery stalled")
        .expect("device_info");
        BlkSetup {
            guest_evtchn: xs.hub.domain(GUEST),
            pages: FakePages::new(memory.clone()),
            xs,
            daemon,
            client,
            back,
            gnt,
            memory,
            device,
        }
    }

    /// Run the driver's handshake against the backend.
    pub fn connect(
        &mut self,
        config: Config,
    ) -> Result<Result<TestBlkFront, ConnectError>, Stalled> {
        let fut = blkfront::connect(
            &self.client,
            self.device.clone(),
            self.gnt.clone(),
            self.guest_evtchn.clone(),
            self.pages.clone(),
            config,
        );
        drive_with(fut, &mut self.daemon, &mut self.back)
    }

    /// Run the driver's disconnect against the backend; the number of grants left mapped.
    pub fn disconnect(
        &mut self,
        blk: &mut TestBlkFront,
    ) -> Result<Result<usize, ConnectError>, Stalled> {
        drive_with(
            blkfront::disconnect(&self.client, blk),
            &mut self.daemon,
            &mut self.back,
        )
    }

    /// Connect with the default [`Config`], panicking on failure (most tests).
    pub fn connected(cfg: BlkbackConfig) -> (BlkSetup, TestBlkFront) {
        let mut s = BlkSetup::new(cfg);
        let blk = s
            .connect(Config::default())
            .expect("handshake stalled")
            .expect("connect");
        (s, blk)
    }
}
