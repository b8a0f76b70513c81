//! Xenbus: the xenstore client, the xenbus frontend state machine, device discovery and the `io/ring.h`
//! front rings — everything a Xen PV frontend needs above the hypervisor layer, with no `unsafe`.
//!
//! All shared memory is reached through [`xen_traits::SharedPage`], all signalling through
//! [`xen_traits::EventChannels`], so the whole crate runs on the host against `xen-fake`.
//!
//! One concern per module; this file only re-exports.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod async_client;
pub mod client;
pub mod control;
pub mod discovery;
pub mod errno;
pub mod error;
pub mod front_ring;
pub mod frontend;
pub mod payload;
pub mod perms;
pub mod request;
pub mod response;
pub mod state;
pub mod watch;
pub mod wire;
pub mod xs_ring;

pub use async_client::{Client, NextEvent, Reply, Transaction, Watch};
pub use client::{Diagnostics, Work, XenStore, RX_BUDGET};
pub use control::ShutdownRequest;
pub use discovery::DeviceInfo;
pub use errno::XsErrno;
pub use error::{Broken, Error, Invalid, Malformed};
pub use front_ring::{FrontRing, RingEntry, RingError};
pub use frontend::Frontend;
pub use perms::{Access, Perm};
pub use request::{ReqId, Request, TxId, WatchId};
pub use response::Response;
pub use state::XenbusState;
pub use watch::WatchEvent;
pub use wire::{MsgType, Packet, Repr, WireError, XENSTORE_PAYLOAD_MAX};
pub use xs_ring::{XsRing, XENSTORE_RING_SIZE};
