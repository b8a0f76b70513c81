//! Page-aligned pages from the heap for memory shared with Xen or a peer (rings, granted pages).
//! The page is owned by this value but never exposed as `&`/`&mut`: a peer may write it at any time, so
//! it is only accessed through [`xen_traits::SharedPage`] (volatile copies, atomic indices, fences).

extern crate alloc;

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32, Ordering};

use xen_traits::{Pfn, SharedPage, PAGE_SIZE};

const LAYOUT: Layout = match Layout::from_size_align(PAGE_SIZE, PAGE_SIZE) {
    Ok(l) => l,
    Err(_) => panic!("page layout"),
};

/// One zeroed, 4 KiB-aligned page of the heap. Dropping it frees the page: only drop a page that no
/// peer maps any more (a grant that could not be revoked keeps its page alive).
pub struct OwnedPage {
    ptr: NonNull<u8>,
}

// SAFETY: the page is plain memory owned by this value; all access goes through volatile/atomic
// operations, which are valid from any CPU.
unsafe impl Send for OwnedPage {}
// SAFETY: as above; `&OwnedPage` only allows volatile/atomic access.
unsafe impl Sync for OwnedPage {}

impl OwnedPage {
    /// A zeroed page, or `None` when the heap is exhausted.
    pub fn new() -> Option<OwnedPage> {
        // SAFETY: LAYOUT has a non-zero size.
        let ptr = unsafe { alloc_zeroed(LAYOUT) };
        NonNull::new(ptr).map(|ptr| OwnedPage { ptr })
    }

    /// Its address (guest-physical = virtual in a Xenolith image).
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Its frame (meaningful in the identity-mapped image; on the host it is just the address >> 12).
    pub fn pfn(&self) -> Pfn {
        Pfn::containing(self.addr())
    }

    fn check(&self, off: usize, len: usize) {
        assert!(off.checked_add(len).is_some_and(|e| e <= PAGE_SIZE), "page access out of range (driver bug)");
    }

    fn word(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4);
        assert!(off.is_multiple_of(4), "unaligned 32-bit page access (driver bug)");
        // SAFETY: an aligned word inside the page (checked above), which lives as long as `self`; it is
        // only accessed atomically.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast()) }
    }
}

impl Drop for OwnedPage {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with LAYOUT and not freed before.
        unsafe { dealloc(self.ptr.as_ptr(), LAYOUT) }
    }
}

impl SharedPage for OwnedPage {
    fn size(&self) -> usize {
        PAGE_SIZE
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
            // SAFETY: inside the page (checked above); volatile because a peer may write concurrently.
            *b = unsafe { self.ptr.as_ptr().add(off + i).read_volatile() };
        }
    }
    fn write_bytes(&self, off: usize, data: &[u8]) {
        self.check(off, data.len());
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: inside the page (checked above); volatile because a peer may read concurrently.
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
    fn pages_are_aligned_zeroed_and_round_trip() {
        let p = OwnedPage::new().unwrap();
        assert_eq!(p.addr() % 4096, 0);
        assert_eq!(p.pfn().addr(), p.addr());
        let mut buf = [1u8; 16];
        p.read_bytes(4080, &mut buf);
        assert_eq!(buf, [0; 16]);
        p.write_bytes(10, b"hello");
        p.store_release_u32(100, 0xdead_beef);
        let mut out = [0u8; 5];
        p.read_bytes(10, &mut out);
        assert_eq!(&out, b"hello");
        assert_eq!(p.load_acquire_u32(100), 0xdead_beef);
        assert_eq!(p.read_u32(100), 0xdead_beef);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_access_is_a_driver_bug() {
        let p = OwnedPage::new().unwrap();
        p.write_bytes(4090, &[0; 8]);
    }
}
