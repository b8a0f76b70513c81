//! Runs of contiguous, page-aligned heap pages shared with a peer (multi-page rings, granted buffers).
//! Like [`crate::page::OwnedPage`], the memory is owned by this value but never exposed as `&`/`&mut`:
//! a peer may write it at any time, so it is only accessed through [`xen_traits::SharedPage`] (volatile
//! copies, atomic indices, fences). Offsets run across the whole run.

extern crate alloc;

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32, Ordering};

use xen_traits::{Pfn, SharedPage, PAGE_SIZE};

/// `count` zeroed, contiguous 4 KiB-aligned pages of the heap. Dropping it frees them: only drop a run
/// that no peer maps any more (a grant that could not be revoked keeps its pages alive).
pub struct PageRun {
    ptr: NonNull<u8>,
    count: usize,
}

// SAFETY: the run is plain memory owned by this value; all access goes through volatile/atomic
// operations, which are valid from any CPU.
unsafe impl Send for PageRun {}
// SAFETY: as above; `&PageRun` only allows volatile/atomic access.
unsafe impl Sync for PageRun {}

impl PageRun {
    fn layout(count: usize) -> Option<Layout> {
        let size = count.checked_mul(PAGE_SIZE)?;
        if size == 0 {
            return None;
        }
        Layout::from_size_align(size, PAGE_SIZE).ok()
    }

    /// `count` (≥ 1) zeroed contiguous pages, or `None` when the heap cannot provide them.
    pub fn new(count: usize) -> Option<PageRun> {
        let layout = Self::layout(count)?;
        // SAFETY: `layout` has a non-zero size (checked in `layout`).
        let ptr = unsafe { alloc_zeroed(layout) };
        NonNull::new(ptr).map(|ptr| PageRun { ptr, count })
    }

    /// Number of pages.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Address of the first page (guest-physical = virtual in a Xenolith image).
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// The frame of each page, in order (meaningful in the identity-mapped image).
    pub fn pfns(&self) -> impl Iterator<Item = Pfn> + '_ {
        (0..self.count).map(|i| Pfn::containing(self.addr() + (i * PAGE_SIZE) as u64))
    }

    fn check(&self, off: usize, len: usize) {
        assert!(
            off.checked_add(len).is_some_and(|e| e <= self.count * PAGE_SIZE),
            "page run access out of range (driver bug)"
        );
    }

    fn word(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4);
        assert!(off.is_multiple_of(4), "unaligned 32-bit page access (driver bug)");
        // SAFETY: an aligned word inside the run (checked above), which lives as long as `self`; it is
        // only accessed atomically.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast()) }
    }
}

impl Drop for PageRun {
    fn drop(&mut self) {
        if let Some(layout) = Self::layout(self.count) {
            // SAFETY: allocated in `new` with this same layout (same count) and not freed before.
            unsafe { dealloc(self.ptr.as_ptr(), layout) }
        }
    }
}

impl SharedPage for PageRun {
    fn size(&self) -> usize {
        self.count * PAGE_SIZE
    }
    fn load_acquire_u32(&self, off: usize) -> u32 {
        self.word(off).load(Ordering::Acquire)
    }
    fn store_release_u32(&self, off: usize, val: u32) {
        self.word(off).store(val, Ordering::Release)
    }
    fn read_u32(&self, off: usize) -> u32 {
        self.word(off).load(Ordering::Relaxed)
    }
    fn write_u32(&self, off: usize, val: u32) {
        self.word(off).store(val, Ordering::Relaxed)
    }
    fn read_bytes(&self, off: usize, buf: &mut [u8]) {
        self.check(off, buf.len());
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: inside the run (checked above); volatile because a peer may write concurrently.
            *b = unsafe { self.ptr.as_ptr().add(off + i).read_volatile() };
        }
    }
    fn write_bytes(&self, off: usize, data: &[u8]) {
        self.check(off, data.len());
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: inside the run (checked above); volatile because a peer may read concurrently.
            unsafe { self.ptr.as_ptr().add(off + i).write_volatile(b) };
        }
    }
    fn fence_read(&self) {
        fence(Ordering::Acquire)
    }
    fn fence_write(&self) {
        fence(Ordering::Release)
    }
    fn fence_full(&self) {
        fence(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_aligned_zeroed_contiguous_and_round_trip() {
        let r = PageRun::new(4).unwrap();
        assert_eq!(r.addr() % 4096, 0);
        assert_eq!(r.size(), 4 * 4096);
        let pfns: alloc::vec::Vec<Pfn> = r.pfns().collect();
        assert_eq!(pfns.len(), 4);
        for w in pfns.windows(2) {
            assert_eq!(w[1].0, w[0].0 + 1);
        }
        let mut buf = [1u8; 16];
        r.read_bytes(4 * 4096 - 16, &mut buf);
        assert_eq!(buf, [0; 16]);
        // Across a page boundary.
        r.write_bytes(4094, b"hello");
        let mut out = [0u8; 5];
        r.read_bytes(4094, &mut out);
        assert_eq!(&out, b"hello");
        r.store_release_u32(8192, 7);
        assert_eq!(r.load_acquire_u32(8192), 7);
        assert!(PageRun::new(0).is_none());
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_access_is_a_driver_bug() {
        let r = PageRun::new(2).unwrap();
        r.write_bytes(2 * 4096 - 2, &[0; 4]);
    }
}
