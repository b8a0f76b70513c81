//! Netfront: the Xen PV network frontend (`io/netif.h`), with no `unsafe` and no executor.
//!
//! # Layers (one concern per module)
//! - [`wire`]: the ring entries, smoltcp style (`Packet`/`Repr`, checked lengths).
//! - [`checksum`]: TCP/UDP checksums in software where offload leaves them (complete, verify, blank).
//! - [`config`]: driver configuration, the backend's features, MAC/flag parsing.
//! - [`pages`]: buffer pages, grants, the quarantine of pages the backend still maps.
//! - [`tx`], [`rx`]: the two queues (in-flight tables, validation, packet assembly).
//! - [`device`]: [`Netfront`], the datapath API (poll-driven).
//! - [`negotiation`]: the xenstore handshake (async, over [`xenbus::Client`]).
//!
//! # Trust
//! The backend is untrusted. Ring indices are checked by [`xenbus::FrontRing`]; every response is
//! copied out of the ring once, then checked against our in-flight tables (ids, statuses, offsets and
//! sizes within the page, chain lengths, extra-info types). Data is copied out of granted pages once; no
//! reference into shared memory is ever formed. A violation breaks the device ([`Broken`]) with a logged
//! reason; nothing panics. A grant is revoked only when the backend has let go of the page: until then
//! the page is held in quarantine and never reused.
//!
//! # Driving it
//! ```text
//! let (mut dev, mut fe) = netfront::connect(&xs, device_info, grants, evtchn, &mut alloc, Config::default()).await?;
//! // one task per vif:
//! loop {
//!     while let Some(pkt) = dev.rx_packet()? { if pkt.checksum_ok() { /* to the stack */ } }
//!     /* transmit while dev.tx_ready(len): dev.transmit(len, TxMeta::default(), |buf| ...) */
//!     wait_event(dev.port()).await;           // the executor's event wait
//!     dev.on_event()?;                         // Work::More: loop again before waiting
//! }
//! // on the backend going to Closing (watch fe.backend_key("state")), or to stop:
//! netfront::disconnect(&xs, &mut fe, dev).await?;
//! ```
//! `rx_packet() == None` and `tx_ready() == false` re-arm the response events, so waiting right after
//! them cannot miss a notification. A smoltcp `phy::Device` maps onto this directly: `receive()` gives
//! a token when `rx_packet()` has a frame (and `tx_ready(mtu)`), `transmit()` when `tx_ready(mtu)`;
//! `TxToken::consume(len, f)` is `transmit(len, meta, f)`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod checksum;
pub mod config;
pub mod device;
pub mod error;
pub mod negotiation;
pub mod pages;
pub mod rx;
pub mod tx;
pub mod wire;

pub use config::{BackendFeatures, Config};
pub use device::{CloseReport, Netfront, Stats, Work};
pub use error::{Broken, SetupError, TxError};
pub use negotiation::{connect, disconnect, release, wait_backend_leaving, ConnectError};
pub use pages::PageAlloc;
pub use rx::{RxChecksum, RxPacket, MAX_SLOTS_PER_PACKET};
pub use tx::{Gso, TxChecksum, TxMeta};
pub use wire::GsoType;

/// Slots of the tx ring in one page (`NET_TX_RING_SIZE`).
pub const TX_RING_SIZE: u32 = 256;
/// Slots of the rx ring in one page (`NET_RX_RING_SIZE`).
pub const RX_RING_SIZE: u32 = 256;
