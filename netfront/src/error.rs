//! Error enums: why the device broke (the backend misbehaved), why a transmit was refused, why setup
//! failed.

use core::fmt;

use xen_traits::{EvtchnError, GrantError};
use xenbus::RingError;

/// Why the device is broken. Sticky: once set, every datapath call fails with it. Each variant names a
/// protocol violation by the backend (or an inconsistency that only a backend could cause).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// The tx ring's response index claims responses to requests never published.
    TxRing(RingError),
    /// The rx ring's response index claims responses to requests never published.
    RxRing(RingError),
    /// A tx response id outside the in-flight table.
    TxBadId(u16),
    /// A tx response for an id not in flight (a duplicate, or never sent).
    TxNotInFlight(u16),
    /// A tx response status that is not `NETIF_RSP_*`.
    TxBadStatus(i16),
    /// More `NETIF_RSP_NULL` responses than extra-info slots we sent.
    TxUnexpectedNull,
    /// An rx response whose id is not the id of the request in its slot.
    RxBadId {
        /// The id of the request we posted in that ring slot.
        expected: u16,
        /// The id in the response.
        got: u16,
    },
    /// An rx response in a ring slot where we posted no buffer.
    RxNotPosted(u32),
    /// An rx status below zero that is not `NETIF_RSP_ERROR`/`NETIF_RSP_DROPPED`.
    RxBadStatus(i16),
    /// An rx response whose `offset + size` runs past the end of the page.
    RxOutOfPage {
        /// `offset`
        offset: u16,
        /// `status` (the size)
        size: u16,
    },
    /// A `more_data` chain longer than [`crate::MAX_SLOTS_PER_PACKET`] slots.
    RxChainTooLong,
    /// An extra-info slot of an invalid type (or an unusable GSO descriptor).
    RxBadExtra(u8),
    /// More chained extra-info slots than there are extra types.
    RxTooManyExtras,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::TxRing(e) => write!(f, "tx ring: {e:?}"),
            Broken::RxRing(e) => write!(f, "rx ring: {e:?}"),
            Broken::TxBadId(id) => write!(f, "tx response id {id} outside the table"),
            Broken::TxNotInFlight(id) => write!(f, "tx response for id {id}, not in flight"),
            Broken::TxBadStatus(s) => write!(f, "tx response status {s}"),
            Broken::TxUnexpectedNull => write!(f, "tx NULL response without an extra slot"),
            Broken::RxBadId { expected, got } => {
                write!(f, "rx response id {got} in the slot of request {expected}")
            }
            Broken::RxNotPosted(idx) => write!(f, "rx response at index {idx} with no buffer"),
            Broken::RxBadStatus(s) => write!(f, "rx response status {s}"),
            Broken::RxOutOfPage { offset, size } => {
                write!(
                    f,
                    "rx response offset {offset} + size {size} beyond the page"
                )
            }
            Broken::RxChainTooLong => write!(f, "rx more_data chain too long"),
            Broken::RxBadExtra(t) => write!(f, "rx extra info of type {t}"),
            Broken::RxTooManyExtras => write!(f, "rx extra info chain too long"),
        }
    }
}

/// Why a packet was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// The device is broken.
    Broken(Broken),
    /// No free ring slot, id or buffer page right now: handle events (responses free them), then retry.
    NoBuffer,
    /// Zero-length packet.
    Empty,
    /// Shorter than an Ethernet header (netback rejects it).
    TooShort,
    /// Longer than [`crate::Netfront::max_tx_len`].
    TooLong,
    /// GSO requested but the backend did not offer it (or the packet is not a checksum-offloaded one).
    GsoUnsupported,
    /// The grant table refused a grant (nothing was sent).
    Grant(GrantError),
}

impl From<Broken> for TxError {
    fn from(b: Broken) -> Self {
        TxError::Broken(b)
    }
}

/// Why the device could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The page allocator ran dry.
    OutOfMemory,
    /// A grant failed.
    Grant(GrantError),
    /// The event channel could not be allocated.
    Evtchn(EvtchnError),
    /// The ring geometry is unusable.
    Ring(RingError),
    /// A configuration value is out of range (e.g. more rx buffers than ring slots).
    BadConfig,
}

impl From<GrantError> for SetupError {
    fn from(e: GrantError) -> Self {
        SetupError::Grant(e)
    }
}
