//! Helpers shared by the blkfront tests: one synchronous request round trip through the fake backend.
#![allow(dead_code)]

use std::task::Poll;

use blkfront::{IoError, Op, RequestId, SubmitError};
use xen_fake::blkback::setup::TestBlkFront;
use xen_fake::BlkSetup;

/// Submit, let the backend serve it, consume the response, finish. Reads return their data.
pub fn io(s: &mut BlkSetup, blk: &mut TestBlkFront, op: Op<'_>) -> Result<Vec<u8>, Outcome> {
    let len = match op {
        Op::Read { len, .. } => len,
        _ => 0,
    };
    let id = blk.submit(op).map_err(Outcome::Submit)?;
    s.back.process();
    blk.handle_event();
    finish(blk, id, len)
}

/// Finish `id` (a read if `len > 0`), which must be complete.
pub fn finish(blk: &mut TestBlkFront, id: RequestId, len: usize) -> Result<Vec<u8>, Outcome> {
    let mut out = vec![0u8; len];
    let r = if len > 0 {
        blk.finish_read(id, &mut out)
    } else {
        blk.finish(id)
    };
    match r {
        Poll::Pending => Err(Outcome::Pending),
        Poll::Ready(Ok(())) => Ok(out),
        Poll::Ready(Err(e)) => Err(Outcome::Io(e)),
    }
}

/// What went wrong in [`io`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Refused at submission.
    Submit(SubmitError),
    /// Failed after submission.
    Io(IoError),
    /// Still in flight after the backend ran.
    Pending,
}

/// A recognisable pattern: every 8-byte word holds its absolute byte offset on the disk and a tag.
pub fn pattern(offset: u64, len: usize, tag: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut o = offset;
    while v.len() < len {
        let word = (o << 8) | u64::from(tag);
        v.extend_from_slice(&word.to_le_bytes());
        o += 8;
    }
    v.truncate(len);
    v
}
