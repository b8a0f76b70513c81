//! [`RingMemory`] over the real console page shared with the backend. Only raw pointers: the backend
//! writes `out_cons` (and the `in` ring) concurrently, so no `&`/`&mut` to the page is ever created,
//! except `&AtomicU32` to the index words, which are accessed only atomically.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use super::ring::RingMemory;
use crate::abi::console::*;

/// The `struct xencons_interface` page, identified by its (identity-mapped) address.
#[derive(Clone, Copy)]
pub struct SharedPage {
    base: NonNull<u8>,
}

// SAFETY: the page is only accessed through atomics and volatile byte writes, which are valid from any
// CPU; it holds no Rust-owned data.
unsafe impl Send for SharedPage {}

impl SharedPage {
    /// # Safety
    /// `base` must point to a mapped, writable, 4 KiB-aligned console page that stays mapped for the
    /// life of the program and that no Rust reference covers.
    pub unsafe fn new(base: NonNull<u8>) -> Self {
        SharedPage { base }
    }

    fn index(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: `offset` is one of the 4-byte-aligned index offsets inside the page (constants from
        // `abi::console`, checked against the C header); `new`'s contract keeps the page mapped, and the
        // word is only ever accessed atomically, by us and by the backend.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset).cast::<u32>()) }
    }
}

impl RingMemory for SharedPage {
    const SIZE: u32 = OUT_RING_SIZE as u32;

    fn load_out_cons(&self) -> u32 {
        self.index(OFFSET_OUT_CONS).load(Ordering::Acquire)
    }

    fn load_out_prod(&self) -> u32 {
        self.index(OFFSET_OUT_PROD).load(Ordering::Acquire)
    }

    fn store_out_prod(&self, prod: u32) {
        // Release: the data bytes written before are visible before the new index (io/console.h's wmb()).
        self.index(OFFSET_OUT_PROD).store(prod, Ordering::Release)
    }

    fn write_out(&self, index: u32, byte: u8) {
        assert!(index < Self::SIZE, "console ring index out of range (our bug)");
        // SAFETY: `OFFSET_OUT + index` is inside the `out` array of the page (checked just above);
        // volatile because the backend reads it concurrently.
        unsafe { self.base.as_ptr().add(OFFSET_OUT + index as usize).write_volatile(byte) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::ring::ConsoleRing;

    #[repr(C, align(4096))]
    struct Page([u8; 4096]);

    #[test]
    fn writes_land_at_the_c_layout_offsets() {
        let mut page = Box::new(Page([0; 4096]));
        let base = NonNull::new(page.0.as_mut_ptr()).unwrap();
        // SAFETY: the boxed page outlives `shared`; we only look at it through the raw pointer below
        // after the ring is done.
        let shared = unsafe { SharedPage::new(base) };
        // Pretend the backend consumed 2046 bytes so the next write wraps.
        shared.index(OFFSET_OUT_CONS).store(2046, Ordering::Relaxed);
        shared.index(OFFSET_OUT_PROD).store(2046, Ordering::Relaxed);
        let mut ring2 = ConsoleRing::new(shared).unwrap();
        assert_eq!(ring2.write(b"abcd").unwrap(), 4);
        let bytes = &page.0;
        assert_eq!(&bytes[OFFSET_OUT + 2046..OFFSET_OUT + 2048], b"ab");
        assert_eq!(&bytes[OFFSET_OUT..OFFSET_OUT + 2], b"cd");
        assert_eq!(u32::from_le_bytes(bytes[OFFSET_OUT_PROD..OFFSET_OUT_PROD + 4].try_into().unwrap()), 2050);
        assert!(bytes[..OFFSET_OUT].iter().all(|&b| b == 0), "the in ring is untouched");
        let ring = ConsoleRing::new(shared).unwrap();
        assert_eq!(ring.pending().unwrap(), 4);
    }
}
