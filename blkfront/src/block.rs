//! A thin async block device over [`BlkFront`], for any executor: `read`, `write`, `flush`, `discard`
//! futures that several tasks may run at once (single vCPU: the driver sits in a `RefCell`, never
//! borrowed across an `.await` or while waking).
//!
//! Driving it: the task that waits on the device's event channel calls [`BlockDevice::on_event`] each
//! time the port fires; that completes requests and wakes their futures. I/O larger than one request
//! is split into several requests in flight at once. A full ring makes a future wait for a free slot.
//! Dropping a future abandons its requests cleanly: their pages stay owned until the backend answers.

use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::poll_fn;
use core::task::{Poll, Waker};

use xen_traits::{EventChannels, GrantTable};

use crate::device::{BlkFront, Op};
use crate::error::{IoError, SubmitError};
use crate::info::DiskInfo;
use crate::pages::Pages;
use crate::table::RequestId;

/// Why a block operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// Refused before reaching the ring (alignment, range, read-only, no memory, broken…).
    Submit(SubmitError),
    /// Failed after submission.
    Io(IoError),
}

impl From<SubmitError> for BlockError {
    fn from(e: SubmitError) -> Self {
        BlockError::Submit(e)
    }
}
impl From<IoError> for BlockError {
    fn from(e: IoError) -> Self {
        BlockError::Io(e)
    }
}

/// The async block device. See the [module docs](self).
pub struct BlockDevice<G, E, A: Pages> {
    blk: RefCell<BlkFront<G, E, A>>,
    /// Futures waiting for a free ring slot.
    slot_waiters: RefCell<Vec<Waker>>,
}

impl<G, E, A: Pages> core::fmt::Debug for BlockDevice<G, E, A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockDevice").finish_non_exhaustive()
    }
}

/// Abandons the requests of a dropped future.
struct Guard<'a, G: GrantTable, E: EventChannels, A: Pages> {
    dev: &'a BlockDevice<G, E, A>,
    ids: Vec<RequestId>,
}

impl<G: GrantTable, E: EventChannels, A: Pages> Drop for Guard<'_, G, E, A> {
    fn drop(&mut self) {
        let mut blk = self.dev.blk.borrow_mut();
        for id in self.ids.drain(..) {
            blk.abandon(id);
        }
        // Requests queued but not yet published must reach the backend to ever complete.
        blk.kick();
    }
}

impl<G: GrantTable, E: EventChannels, A: Pages> BlockDevice<G, E, A> {
    /// Wrap a connected frontend.
    pub fn new(blk: BlkFront<G, E, A>) -> Self {
        BlockDevice {
            blk: RefCell::new(blk),
            slot_waiters: RefCell::new(Vec::new()),
        }
    }

    /// Run `f` on the driver (diagnostics, stats, the port to wait on).
    pub fn with<R>(&self, f: impl FnOnce(&mut BlkFront<G, E, A>) -> R) -> R {
        f(&mut self.blk.borrow_mut())
    }

    /// The event channel fired: consume responses and wake the futures they complete (and those
    /// waiting for a ring slot). Returns the number of requests completed.
    pub fn on_event(&self) -> usize {
        let mut wakers = Vec::new();
        let n = self.blk.borrow_mut().handle_event_deferred(&mut wakers);
        if n > 0 || self.blk.borrow().broken().is_some() {
            wakers.append(&mut self.slot_waiters.borrow_mut());
        }
        wakers.into_iter().for_each(Waker::wake);
        n
    }

    /// Number of logical sectors.
    pub fn capacity(&self) -> u64 {
        self.blk.borrow().capacity()
    }
    /// Logical sector size in bytes.
    pub fn sector_size(&self) -> usize {
        self.blk.borrow().sector_size()
    }
    /// Whether writes are refused.
    pub fn read_only(&self) -> bool {
        self.blk.borrow().read_only()
    }
    /// What was negotiated.
    pub fn info(&self) -> DiskInfo {
        *self.blk.borrow().info()
    }

    /// Check a whole transfer before anything is submitted, so a bad one has no partial effect.
    fn check(&self, lba: u64, len: usize, write: bool) -> Result<(), SubmitError> {
        let blk = self.blk.borrow();
        if let Some(b) = blk.broken() {
            return Err(SubmitError::Broken(b));
        }
        if write && blk.read_only() {
            return Err(SubmitError::ReadOnly);
        }
        let ss = blk.sector_size();
        if len == 0 || !len.is_multiple_of(ss) {
            return Err(SubmitError::Unaligned);
        }
        match lba.checked_add((len / ss) as u64) {
            Some(end) if end <= blk.capacity() => Ok(()),
            _ => Err(SubmitError::OutOfRange),
        }
    }

    /// Put `op` on the ring (published by the next [`Self::kick`]), waiting for a ring slot while the
    /// ring is full (after publishing what is queued, so the backend can free slots).
    async fn submit(&self, op: Op<'_>) -> Result<RequestId, SubmitError> {
        poll_fn(|cx| {
            let r = self.blk.borrow_mut().submit_deferred(op);
            match r {
                Err(SubmitError::QueueFull) => {
                    self.kick();
                    let mut w = self.slot_waiters.borrow_mut();
                    if !w.iter().any(|x| x.will_wake(cx.waker())) {
                        w.push(cx.waker().clone());
                    }
                    Poll::Pending
                }
                r => Poll::Ready(r),
            }
        })
        .await
    }

    fn kick(&self) {
        self.blk.borrow_mut().kick();
    }

    /// Wait until `id` completed (without finishing it).
    async fn completed(&self, id: RequestId) {
        poll_fn(|cx| {
            let r = self.blk.borrow_mut().poll_request(id, Some(cx.waker()));
            r.map(|_| ())
        })
        .await
    }

    /// The largest chunk one request carries, a multiple of the sector size.
    fn chunk(&self) -> usize {
        let blk = self.blk.borrow();
        let ss = blk.sector_size();
        (blk.max_request_bytes() / ss * ss).max(ss)
    }

    /// Read `buf.len()` bytes (a multiple of the sector size) at `lba`.
    pub async fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.check(lba, buf.len(), false)?;
        let chunk = self.chunk();
        let ss = self.sector_size();
        let mut g = Guard {
            dev: self,
            ids: Vec::new(),
        };
        let mut first_err = None;
        for (i, part) in buf.chunks(chunk).enumerate() {
            let at = lba + (i * chunk / ss) as u64;
            match self
                .submit(Op::Read {
                    lba: at,
                    len: part.len(),
                })
                .await
            {
                Ok(id) => g.ids.push(id),
                Err(e) => {
                    first_err = Some(BlockError::Submit(e));
                    break;
                }
            }
        }
        self.kick();
        let mut parts = buf.chunks_mut(chunk);
        while let Some(&id) = g.ids.first() {
            self.completed(id).await;
            g.ids.remove(0);
            let r = match parts.next() {
                Some(part) => self.blk.borrow_mut().finish_read(id, part),
                None => self.blk.borrow_mut().finish(id),
            };
            if let Poll::Ready(Err(e)) = r {
                first_err.get_or_insert(BlockError::Io(e));
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Write `buf` (a multiple of the sector size) at `lba`. Durable only after [`BlockDevice::flush`].
    pub async fn write(&self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        self.check(lba, buf.len(), true)?;
        let chunk = self.chunk();
        let ss = self.sector_size();
        let mut g = Guard {
            dev: self,
            ids: Vec::new(),
        };
        let mut first_err = None;
        for (i, part) in buf.chunks(chunk).enumerate() {
            let at = lba + (i * chunk / ss) as u64;
            match self
                .submit(Op::Write {
                    lba: at,
                    data: part,
                })
                .await
            {
                Ok(id) => g.ids.push(id),
                Err(e) => {
                    first_err = Some(BlockError::Submit(e));
                    break;
                }
            }
        }
        self.kick();
        first_err = self.finish_all(&mut g).await.err().or(first_err);
        first_err.map_or(Ok(()), Err)
    }

    async fn finish_all(&self, g: &mut Guard<'_, G, E, A>) -> Result<(), BlockError> {
        let mut first_err = None;
        while let Some(&id) = g.ids.first() {
            self.completed(id).await;
            g.ids.remove(0);
            if let Poll::Ready(Err(e)) = self.blk.borrow_mut().finish(id) {
                first_err.get_or_insert(BlockError::Io(e));
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn one(&self, op: Op<'_>) -> Result<(), BlockError> {
        let id = self.submit(op).await?;
        self.kick();
        let mut g = Guard {
            dev: self,
            ids: alloc::vec![id],
        };
        self.finish_all(&mut g).await
    }

    /// Make every write completed so far durable (`BLKIF_OP_FLUSH_DISKCACHE`, or a barrier; at once when
    /// the backend offers no cache control).
    pub async fn flush(&self) -> Result<(), BlockError> {
        self.one(Op::Flush).await
    }

    /// Discard `count` sectors at `lba` (when the backend offers discard).
    pub async fn discard(&self, lba: u64, count: u64) -> Result<(), BlockError> {
        self.one(Op::Discard { lba, count }).await
    }
}
