//! [`SharedRegion`]: memory shared with Xen or a peer domain (rings, granted buffers, the xenstore page),
//! accessed only as shared memory ([`xen_traits::SharedPage`]: atomic indices, volatile copies, fences).
//! A peer may write it at any time, so no `&`/`&mut` into its bytes is ever formed, except `&AtomicU32`
//! to words that are only accessed atomically.
//!
//! A region is either contiguous zeroed pages of our heap ([`SharedRegion::alloc`], freed on drop: only
//! drop a region no peer maps any more — a grant that could not be revoked keeps its pages alive), or a
//! page Xen or the toolstack placed in our physical address space ([`SharedRegion::mapped`], never
//! freed). Offsets run across the whole region.

extern crate alloc;

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::AtomicU32;

use xen_traits::{Pfn, SharedPage, PAGE_SIZE};

/// Contiguous, page-aligned shared memory.
#[derive(Debug)]
pub struct SharedRegion {
    base: NonNull<u8>,
    pages: usize,
    /// Allocated from our heap with this layout (freed on drop); `None`: not ours to free.
    heap: Option<Layout>,
}

// SAFETY: the region is plain memory that no Rust object covers; every access goes through atomics or
// volatile copies, which are valid from any CPU.
unsafe impl Send for SharedRegion {}
// SAFETY: as above; `&SharedRegion` only allows atomic/volatile access.
unsafe impl Sync for SharedRegion {}

impl SharedRegion {
    /// `pages` (≥ 1) zeroed, contiguous, 4 KiB-aligned pages of the heap, or `None` when the heap cannot
    /// provide them.
    pub fn alloc(pages: usize) -> Option<SharedRegion> {
        let size = pages.checked_mul(PAGE_SIZE).filter(|&s| s > 0)?;
        let layout = Layout::from_size_align(size, PAGE_SIZE).ok()?;
        // SAFETY: `layout` has a non-zero size (filtered above).
        let ptr = unsafe { alloc_zeroed(layout) };
        NonNull::new(ptr).map(|base| SharedRegion { base, pages, heap: Some(layout) })
    }

    /// One page at `base` that is not ours to free.
    ///
    /// # Safety
    /// `base` must be the 4 KiB-aligned address of a mapped, writable page that stays mapped for the
    /// life of the program, that is no part of any Rust object (not in the image, heap or stacks), and
    /// that no other `SharedRegion` or reference covers on this side.
    pub unsafe fn mapped(base: NonNull<u8>) -> SharedRegion {
        SharedRegion { base, pages: 1, heap: None }
    }

    /// Number of pages.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Address of the first page (guest-physical = virtual in a Xenolith image).
    pub fn addr(&self) -> u64 {
        self.base.as_ptr() as u64
    }

    /// The first page's frame (meaningful in the identity-mapped image; on the host just address >> 12).
    pub fn pfn(&self) -> Pfn {
        Pfn::containing(self.addr())
    }

    /// The frame of each page, in order.
    pub fn pfns(&self) -> impl Iterator<Item = Pfn> + '_ {
        (0..self.pages).map(|i| Pfn::containing(self.addr() + (i * PAGE_SIZE) as u64))
    }

    fn check(&self, off: usize, len: usize) {
        assert!(
            off.checked_add(len).is_some_and(|e| e <= self.pages * PAGE_SIZE),
            "shared memory access out of range (driver bug)"
        );
    }
}

impl Drop for SharedRegion {
    fn drop(&mut self) {
        if let Some(layout) = self.heap {
            // SAFETY: allocated in `alloc` with this layout and not freed before.
            unsafe { dealloc(self.base.as_ptr(), layout) }
        }
    }
}

impl SharedPage for SharedRegion {
    fn size(&self) -> usize {
        self.pages * PAGE_SIZE
    }
    fn word(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4);
        assert!(off.is_multiple_of(4), "unaligned 32-bit shared memory access (driver bug)");
        // SAFETY: an aligned word inside the region (both checked just above), which stays mapped while
        // `self` lives (heap pages until drop; `mapped`'s contract); it is only ever accessed
        // atomically, by us and by the peer.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast()) }
    }
    fn read_bytes(&self, off: usize, buf: &mut [u8]) {
        self.check(off, buf.len());
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: inside the region (checked above); volatile because the peer may write concurrently.
            *b = unsafe { self.base.as_ptr().add(off + i).read_volatile() };
        }
    }
    fn write_bytes(&self, off: usize, data: &[u8]) {
        self.check(off, data.len());
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: inside the region (checked above), writable; volatile because the peer may read
            // concurrently.
            unsafe { self.base.as_ptr().add(off + i).write_volatile(b) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_regions_are_aligned_zeroed_contiguous_and_round_trip() {
        let r = SharedRegion::alloc(4).unwrap();
        assert_eq!(r.addr() % 4096, 0);
        assert_eq!(r.size(), 4 * 4096);
        assert_eq!(r.pfn().addr(), r.addr());
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
        assert_eq!(r.read_u32(8192), 7);
        assert!(SharedRegion::alloc(0).is_none());
    }

    #[repr(C, align(4096))]
    struct Page([u8; 4096]);

    #[test]
    fn mapped_page_accesses_land_at_their_offsets() {
        let mut page = Box::new(Page([0; 4096]));
        let base = NonNull::new(page.0.as_mut_ptr()).unwrap();
        {
            // SAFETY: the boxed page outlives `p`, and is looked at directly only after `p` is dropped
            // (which does not free it: `mapped` regions are not ours).
            let p = unsafe { SharedRegion::mapped(base) };
            p.write_bytes(4093, b"xyz");
            p.store_release_u32(1024, 0x0102_0304);
            p.write_u32(2048, 7);
            let mut out = [0u8; 3];
            p.read_bytes(4093, &mut out);
            assert_eq!(&out, b"xyz");
            assert_eq!(p.load_acquire_u32(1024), 0x0102_0304);
            assert_eq!(p.read_u32(2048), 7);
        }
        assert_eq!(&page.0[4093..], b"xyz");
        assert_eq!(page.0[1024..1028], [4, 3, 2, 1]);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_access_is_a_driver_bug() {
        let r = SharedRegion::alloc(2).unwrap();
        r.write_bytes(2 * 4096 - 2, &[0; 4]);
    }

    #[test]
    #[should_panic(expected = "unaligned")]
    fn unaligned_word_access_is_a_driver_bug() {
        let r = SharedRegion::alloc(1).unwrap();
        r.read_u32(2);
    }
}
