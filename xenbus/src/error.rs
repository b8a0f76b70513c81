//! Error enums of the xenstore client.

use core::fmt;

use crate::errno::XsErrno;
use crate::wire::{MsgType, WireError};

/// What went wrong with a xenstore operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// xenstored answered with `XS_ERROR`.
    Xs(XsErrno),
    /// The reply to this request was malformed and was rejected.
    Malformed(Malformed),
    /// The connection is broken (ring index or framing violation); no further request can succeed.
    Broken(Broken),
    /// The request itself was invalid and was not sent.
    Invalid(Invalid),
    /// The request id is not (or no longer) in flight.
    UnknownRequest,
    /// A transaction was retried the maximum number of times and still conflicted.
    TooManyRetries,
    /// The backend went to `Closing`/`Closed` while we waited for another state.
    BackendClosed(crate::state::XenbusState),
}

impl Error {
    /// Whether this is xenstored's `EAGAIN` (a conflicting transaction: retry it).
    pub fn is_again(&self) -> bool {
        matches!(self, Error::Xs(XsErrno::Eagain))
    }
    /// Whether this is xenstored's `ENOENT`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Xs(XsErrno::Enoent))
    }
}

/// Why a reply was rejected. The connection stays usable: the framing was intact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The header did not parse.
    Wire(WireError),
    /// The reply's type is neither the request's type nor `XS_ERROR`.
    UnexpectedType {
        /// What we asked.
        expected: MsgType,
        /// What came back.
        got: MsgType,
    },
    /// The reply carries a transaction id other than the request's.
    TxIdMismatch,
    /// The reply's `req_id` matches no request in flight.
    UnsolicitedReply(u32),
    /// A string list does not end with a nul.
    NotNulTerminated,
    /// A single string contains a nul.
    InteriorNul,
    /// A string is not valid UTF-8.
    NotUtf8,
    /// An acknowledgement other than `OK`.
    NotOk,
    /// A number (transaction id, domid, state) that does not parse or does not fit.
    BadNumber,
    /// A permission entry that does not parse, or an empty permission list.
    BadPerms,
    /// A watch event without path and token.
    BadWatchEvent,
    /// A watch event whose token matches no watch of ours.
    UnknownWatchToken,
    /// A xenbus state value outside 0..=8.
    BadState,
    /// A path read from xenstore (e.g. a backend path) that is not acceptable.
    BadPath,
}

/// Why the connection to xenstored is broken. Sticky: every later operation fails with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// `req_prod - req_cons` exceeds the ring size: the daemon moved `req_cons` past our producer.
    RequestIndex {
        /// Our producer index.
        prod: u32,
        /// The consumer index the daemon published.
        cons: u32,
    },
    /// `rsp_prod - rsp_cons` exceeds the ring size: the daemon's producer jumped.
    ResponseIndex {
        /// The producer index the daemon published.
        prod: u32,
        /// Our consumer index.
        cons: u32,
    },
    /// A reply header announced more than `XENSTORE_PAYLOAD_MAX` bytes: the stream cannot be resynchronised.
    PayloadTooLong(u32),
}

/// Why a request was refused before being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// A path or token is empty or contains a nul byte.
    BadString,
    /// Path longer than `XENSTORE_ABS_PATH_MAX`.
    PathTooLong,
    /// The encoded payload would exceed `XENSTORE_PAYLOAD_MAX`.
    PayloadTooLong,
    /// A permission list must have at least one entry (the owner).
    NoPerms,
    /// An illegal xenbus state transition.
    StateTransition,
}

impl From<Malformed> for Error {
    fn from(m: Malformed) -> Self {
        Error::Malformed(m)
    }
}
impl From<Broken> for Error {
    fn from(b: Broken) -> Self {
        Error::Broken(b)
    }
}
impl From<Invalid> for Error {
    fn from(i: Invalid) -> Self {
        Error::Invalid(i)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Xs(e) => write!(f, "xenstored: {e}"),
            Error::Malformed(m) => write!(f, "rejected reply: {m:?}"),
            Error::Broken(b) => write!(f, "xenstore connection broken: {b:?}"),
            Error::Invalid(i) => write!(f, "invalid request: {i:?}"),
            Error::UnknownRequest => write!(f, "no such request in flight"),
            Error::TooManyRetries => write!(f, "transaction still conflicting after retries"),
            Error::BackendClosed(s) => write!(f, "backend went to state {s}"),
        }
    }
}
