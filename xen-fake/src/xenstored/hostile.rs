//! Ways the fake xenstored can misbehave, to test that the client never trusts it.

/// A misbehaviour applied to the next reply the daemon sends (one-shot, in queue order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hostile {
    /// Behave normally for this reply (to aim a later misbehaviour at a later reply).
    Normal,
    /// Send these raw bytes instead of the reply.
    Garbage(Vec<u8>),
    /// Send a copy of the reply with a `req_id` that was never used, then the real reply.
    WrongReqId,
    /// Send the reply twice.
    DuplicateReply,
    /// Send the reply with another (valid) message type.
    WrongType,
    /// Send the reply with a type number that does not exist.
    UnknownType(u32),
    /// Replace the reply's payload.
    BadPayload(Vec<u8>),
    /// Send `XS_ERROR` with this string.
    ErrorString(String),
    /// Send a header announcing `len` (> `XENSTORE_PAYLOAD_MAX`) followed by that many bytes of junk.
    OversizedLen(u32),
    /// Send the reply, then publish `rsp_prod` `jump` bytes further than written.
    RspProdJump(u32),
    /// Publish `req_cons` far past the guest's `req_prod`.
    ReqConsJump,
    /// Send a watch event for a token nobody registered, before the reply.
    SpuriousWatchEvent,
    /// Send a watch event without nul terminators, before the reply.
    MalformedWatchEvent,
    /// Send nothing at all.
    Silent,
    /// Hold this reply back and send it after the next one (replies out of order).
    Delay,
}
