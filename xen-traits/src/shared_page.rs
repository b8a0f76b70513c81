//! Shared memory pages, accessed without references (see [`SharedPage`]).

use core::sync::atomic::{AtomicU32, Ordering};

/// Size of a Xen page, the granularity of grants and rings.
pub const PAGE_SIZE: usize = 4096;

/// Memory shared with another domain, accessed without ever forming a Rust reference into it.
///
/// The other side (a backend, xenstored) can write the page at any time, so a `&[u8]` or `&mut T` into it
/// would be undefined behaviour, and a value read twice may differ ("double fetch"). Drivers therefore only
/// touch shared memory through this trait: whole values are copied in or out, and the driver validates its
/// local copy. Implementations: volatile/atomic pointer accesses in the hypervisor crate, a page of atomics
/// in `xen-fake`.
///
/// # Ordering
/// - [`SharedPage::load_acquire_u32`] / [`SharedPage::store_release_u32`] are for ring indices: a producer
///   writes entries, then publishes its index with a Release store; a consumer loads the index with
///   Acquire, then reads the entries. These are single-copy atomic 32-bit accesses.
/// - [`SharedPage::read_u32`], [`SharedPage::write_u32`], [`SharedPage::read_bytes`] and
///   [`SharedPage::write_bytes`] are plain (relaxed, volatile) accesses: each is done exactly once, never
///   merged, split into smaller accesses only for the byte copies, and not ordered by themselves.
/// - The fences implement the barriers of `xen/include/public/io/ring.h`: [`SharedPage::fence_read`] is
///   `xen_rmb()` (earlier loads before later loads), [`SharedPage::fence_write`] is `xen_wmb()` (earlier
///   stores before later stores), [`SharedPage::fence_full`] is `xen_mb()` (also orders earlier stores
///   before later loads — needed before reading the peer's `*_event` or consumer index after publishing).
///
/// # Offsets
/// Offsets are in bytes from the start of the region. `off + len` must not exceed [`SharedPage::size`] and
/// 32-bit accesses must be 4-byte aligned; implementations panic otherwise. That is a driver bug, never
/// reachable from peer-controlled data: drivers derive offsets from constants and masked ring indices.
/// Values are little-endian (x86).
///
/// # Implementing
/// Implementors provide [`SharedPage::size`], [`SharedPage::word`] and the byte copies; the four 32-bit
/// accessors are provided on top of [`SharedPage::word`].
pub trait SharedPage {
    /// Length of the region in bytes (a multiple of [`PAGE_SIZE`] for real pages).
    fn size(&self) -> usize;

    /// The aligned 32-bit word at byte offset `off`, as an atomic.
    ///
    /// Panics (a driver bug, see *Offsets*) when `off` is not 4-byte aligned or `off + 4` exceeds
    /// [`SharedPage::size`]. The word is only ever accessed atomically, on this side and by the peer, so
    /// handing out `&AtomicU32` never creates a non-atomic reference into shared memory.
    fn word(&self, off: usize) -> &AtomicU32;

    /// Atomic 32-bit load with Acquire ordering (consumer reading the peer's producer index).
    fn load_acquire_u32(&self, off: usize) -> u32 {
        self.word(off).load(Ordering::Acquire)
    }
    /// Atomic 32-bit store with Release ordering (producer publishing its index after the entries).
    fn store_release_u32(&self, off: usize, val: u32) {
        self.word(off).store(val, Ordering::Release)
    }

    /// Single 32-bit volatile load, no ordering.
    fn read_u32(&self, off: usize) -> u32 {
        self.word(off).load(Ordering::Relaxed)
    }
    /// Single 32-bit volatile store, no ordering.
    fn write_u32(&self, off: usize, val: u32) {
        self.word(off).store(val, Ordering::Relaxed)
    }

    /// Copy `buf.len()` bytes out of the region, starting at `off`.
    fn read_bytes(&self, off: usize, buf: &mut [u8]);
    /// Copy `data` into the region, starting at `off`.
    fn write_bytes(&self, off: usize, data: &[u8]);

    /// `xen_rmb()`: loads before the fence complete before loads after it.
    fn fence_read(&self) {
        core::sync::atomic::fence(Ordering::Acquire)
    }
    /// `xen_wmb()`: stores before the fence are visible before stores after it.
    fn fence_write(&self) {
        core::sync::atomic::fence(Ordering::Release)
    }
    /// `xen_mb()`: full barrier, including store→load ordering.
    fn fence_full(&self) {
        core::sync::atomic::fence(Ordering::SeqCst)
    }
}

impl<T: SharedPage + ?Sized> SharedPage for &T {
    fn size(&self) -> usize {
        (**self).size()
    }
    fn word(&self, off: usize) -> &AtomicU32 {
        (**self).word(off)
    }
    // The accessors forward too, rather than use the provided ones: an implementor may override them
    // (a test page refills its ring on every `load_acquire_u32`).
    fn load_acquire_u32(&self, off: usize) -> u32 {
        (**self).load_acquire_u32(off)
    }
    fn store_release_u32(&self, off: usize, val: u32) {
        (**self).store_release_u32(off, val)
    }
    fn read_u32(&self, off: usize) -> u32 {
        (**self).read_u32(off)
    }
    fn write_u32(&self, off: usize, val: u32) {
        (**self).write_u32(off, val)
    }
    fn read_bytes(&self, off: usize, buf: &mut [u8]) {
        (**self).read_bytes(off, buf)
    }
    fn write_bytes(&self, off: usize, data: &[u8]) {
        (**self).write_bytes(off, data)
    }
    fn fence_read(&self) {
        (**self).fence_read()
    }
    fn fence_write(&self) {
        (**self).fence_write()
    }
    fn fence_full(&self) {
        (**self).fence_full()
    }
}
