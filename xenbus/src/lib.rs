//! Xenbus: the xenstore client, the xenbus frontend state machine, device discovery and the `io/ring.h`
//! front rings — everything a Xen PV frontend needs above the hypervisor layer, with no `unsafe`.
//!
//! All shared memory is reached through [`xen_traits::SharedPage`], all signalling through
//! [`xen_traits::EventChannels`], so the whole crate runs on the host against `xen-fake`.
//!
//! # Layers
//! - [`wire`], [`errno`], [`perms`], [`payload`], [`request`], [`response`]: the `io/xs_wire.h` message
//!   format, pure functions over byte slices.
//! - [`xs_ring`]: the byte rings of `struct xenstore_domain_interface`.
//! - [`client`]: [`XenStore`], the poll-driven core (request table, reassembly, dispatch, watches).
//! - [`async_client`]: [`Client`], futures over the core (read/write/…, [`Watch`], [`Transaction`]).
//! - [`state`], [`frontend`], [`discovery`], [`control`]: the xenbus protocols built on xenstore.
//! - [`front_ring`]: the `io/ring.h` shared ring, front side, for netfront/blkfront.
//!
//! # Trust
//! xenstored and backends are untrusted. Ring indices are read once and checked (`prod - cons` within the
//! ring, responses never beyond requests published); data is copied out once, then parsed; every
//! violation is an error value with a logged reason. A framing violation (index jump, a header announcing
//! more than `XENSTORE_PAYLOAD_MAX`) breaks the connection for good ([`Broken`]); anything else (wrong
//! `req_id`, wrong type, malformed payload, unknown watch token) only rejects that one message
//! ([`Malformed`], counted in [`Diagnostics`]). Host tests in `xen-fake/tests` and the fuzz targets in
//! `fuzz/` cover each case.
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
