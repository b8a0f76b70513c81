//! Test kit: fake Xen services and fake backends for host tests.
//!
//! - [`FakePage`]: shared memory of atomics implementing [`xen_traits::SharedPage`], one handle for the
//!   driver and one for the fake backend (threads allowed).
//! - [`EventHub`] / [`FakeEventChannels`]: event channels between fake domains, every call recorded.
//! - [`FakeMemory`] / [`FakeGrantTable`]: frames, grants, backend mappings; revoke fails while mapped.
//! - [`FakeXenstored`]: xenstored speaking the real wire format over a real ring page, with permissions,
//!   watches, transactions and [`Hostile`] modes.
//! - [`BackRing`]: the back end of an `io/ring.h` ring, for fake netback/blkback.
//! - [`FakeNetback`]: netback over real ring memory and grants, with [`NetHostile`] modes.
//! - [`FakeBlkback`]: a block backend over real ring memory and grants, with hostile modes;
//!   [`BlkSetup`] wires it to a guest for blkfront tests.
//! - [`drive`] / [`block_on`]: run futures against the fakes without an executor or sleeps.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod back_ring;
pub mod blkback;
pub mod evtchn;
pub mod exec;
pub mod grant;
pub mod netback;
pub mod page;
pub mod setup;
pub mod xenstored;

pub use back_ring::BackRing;
pub use blkback::{BackFlush, BlkHostile, BlkSetup, BlkbackConfig, FakeBlkback, FakePages, PageSpan};
pub use evtchn::{Call, EventHub, FakeEventChannels};
pub use exec::{block_on, drive, join_all, noop_waker, poll_once, Stalled};
pub use grant::{FakeGrantTable, FakeMemory, GrantCall, MapError};
pub use netback::{drive_net, FakeNetback, NetHostile, NetbackConfig};
pub use page::FakePage;
pub use setup::{FakeClient, FakeCore, XenstoreSetup};
pub use xenstored::{FakeXenstored, Hostile, XenstoredThread};
