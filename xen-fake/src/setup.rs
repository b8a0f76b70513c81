//! Ready-made wiring: a guest xenstore client and a fake daemon over one ring page and event channel.

use xen_traits::{DomId, Port};
use xenbus::{Client, XenStore};

use crate::evtchn::{EventHub, FakeEventChannels};
use crate::page::FakePage;
use crate::xenstored::FakeXenstored;

/// The guest's client type over the fakes.
pub type FakeClient = Client<FakePage, FakeEventChannels>;
/// The guest's client core over the fakes.
pub type FakeCore = XenStore<FakePage, FakeEventChannels>;

/// Everything a xenstore test needs.
#[derive(Debug)]
pub struct XenstoreSetup {
    /// The event channel hub.
    pub hub: EventHub,
    /// The ring page (the guest and the daemon each hold a handle).
    pub page: FakePage,
    /// The guest's event channels.
    pub guest_evtchn: FakeEventChannels,
    /// The guest's xenstore port.
    pub guest_port: Port,
    /// The daemon's port.
    pub daemon_port: Port,
    /// The guest's domain id.
    pub guest: DomId,
}

impl XenstoreSetup {
    /// Wire guest `guest` to a fresh daemon (ring indices start at `start`). Returns the daemon and the
    /// client core attached to the ring.
    pub fn new(guest: DomId, start: u32) -> (XenstoreSetup, FakeXenstored, FakeCore) {
        let hub = EventHub::new();
        let (daemon_port, guest_port) = hub.connect(DomId::DOM0, guest);
        let page = FakePage::new();
        let daemon = FakeXenstored::with_start_index(
            page.clone(),
            hub.domain(DomId::DOM0),
            daemon_port,
            guest,
            start,
        );
        let guest_evtchn = hub.domain(guest);
        let core = XenStore::new(page.clone(), guest_evtchn.clone(), guest_port);
        (
            XenstoreSetup {
                hub,
                page,
                guest_evtchn,
                guest_port,
                daemon_port,
                guest,
            },
            daemon,
            core,
        )
    }

    /// Same, with the async client.
    pub fn client(guest: DomId, start: u32) -> (XenstoreSetup, FakeXenstored, FakeClient) {
        let (s, d, core) = Self::new(guest, start);
        (s, d, Client::new(core))
    }
}
