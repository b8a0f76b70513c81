//! Error enums of the block frontend: one per question a caller can ask.

use xen_traits::{EvtchnError, GrantError};

/// Why a request was refused before anything reached the ring. Nothing was granted or sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The length is zero or not a multiple of the disk's sector size, or the read buffer length
    /// differs from the request.
    Unaligned,
    /// The range is not inside the disk (or overflows).
    OutOfRange,
    /// Longer than [`crate::BlkFront::max_request_bytes`]: split it.
    TooLarge,
    /// A write or discard on a read-only disk.
    ReadOnly,
    /// The backend does not offer this operation (discard).
    NotSupported,
    /// Every ring slot is in use: complete some requests first.
    QueueFull,
    /// No memory for bounce or indirect pages.
    NoMemory,
    /// The grant table refused a grant.
    Grant(GrantError),
    /// The device is broken (the backend violated the protocol); no request can succeed.
    Broken(Broken),
}

/// Why a submitted request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The backend answered `BLKIF_RSP_ERROR`.
    Backend,
    /// The backend answered `BLKIF_RSP_EOPNOTSUPP` (the operation is now disabled).
    NotSupported,
    /// The response violated the protocol (wrong operation, unknown status); the device is now broken.
    Protocol,
    /// The device broke while the request was in flight; its outcome is unknown.
    Broken(Broken),
    /// The id is not one of ours (never submitted, or already finished).
    UnknownRequest,
    /// The buffer passed to [`crate::BlkFront::finish_read`] does not have the request's length.
    BufferSize,
}

/// Why the device is broken. Sticky.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// `rsp_prod` claimed more responses than requests we published.
    ResponseOverflow,
    /// A response whose id names no slot of our table.
    UnknownId(u64),
    /// A response for a request that is not in flight (already completed: a duplicate, or stale).
    NotInFlight(u64),
    /// A response whose operation is not the request's.
    WrongOperation {
        /// The operation we sent.
        expected: u8,
        /// The operation the backend claims.
        got: u8,
    },
    /// A response with a status outside `BLKIF_RSP_*`.
    BadStatus(i16),
    /// The device was shut down (disconnect) with requests in flight.
    Disconnected,
}

/// Why connecting to the backend failed. Everything set up so far was released (grants whose revoke
/// failed stay reserved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// A xenstore operation failed (includes the backend closing during the handshake).
    Xenstore(xenbus::Error),
    /// A backend key is missing or does not parse.
    BadBackendKey(&'static str),
    /// The backend's `sector-size` is not a power of two in 512..=4096.
    UnsupportedSectorSize(u64),
    /// No memory for the ring.
    NoMemory,
    /// The ring could not be built over the memory (driver bug or a bad page size).
    Ring(xenbus::RingError),
    /// Granting a ring page failed.
    Grant(GrantError),
    /// Allocating the event channel failed.
    EventChannel(EvtchnError),
}

impl From<xenbus::Error> for ConnectError {
    fn from(e: xenbus::Error) -> Self {
        ConnectError::Xenstore(e)
    }
}
