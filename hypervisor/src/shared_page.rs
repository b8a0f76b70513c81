//! [`MappedPage`]: a page that Xen or the toolstack placed in our physical address space (the xenstore
//! ring at `HVM_PARAM_STORE_PFN`), reached through the boot identity map and accessed only as shared
//! memory ([`xen_traits::SharedPage`]: atomic indices, volatile copies, fences). No `&`/`&mut` into the
//! page is ever formed, except `&AtomicU32` to words that are only accessed atomically.
//!
//! Unlike [`crate::page::OwnedPage`], the page is not ours to free: it lives as long as the domain.

use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32, Ordering};

use xen_traits::{SharedPage, PAGE_SIZE};

/// Frames below this are covered by the boot identity map (0..4 GiB).
pub const MAPPED_PFN_LIMIT: u64 = 1 << 20;

/// A 4 KiB page at a frame named by Xen, identity-mapped.
#[derive(Debug)]
pub struct MappedPage {
    base: NonNull<u8>,
}

// SAFETY: the page is plain memory that no Rust object covers; every access goes through atomics or
// volatile byte copies, which are valid from any CPU.
unsafe impl Send for MappedPage {}
// SAFETY: as above; `&MappedPage` only allows atomic/volatile access.
unsafe impl Sync for MappedPage {}

/// Why a page named by an HVM parameter cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// Frame 0: the toolstack gave this domain no such page.
    Missing,
    /// The frame is beyond the identity map.
    Unmapped(u64),
}

impl MappedPage {
    /// # Safety
    /// `base` must be the 4 KiB-aligned address of a mapped, writable page that stays mapped for the
    /// life of the program, that is no part of any Rust object (not in the image, heap or stacks), and
    /// that no other `MappedPage` or reference covers on this side.
    pub unsafe fn new(base: NonNull<u8>) -> MappedPage {
        MappedPage { base }
    }

    /// The page's address.
    pub fn addr(&self) -> u64 {
        self.base.as_ptr() as u64
    }

    fn check(&self, off: usize, len: usize) {
        assert!(off.checked_add(len).is_some_and(|e| e <= PAGE_SIZE), "shared page access out of range (driver bug)");
    }

    fn word(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4);
        assert!(off.is_multiple_of(4), "unaligned 32-bit shared page access (driver bug)");
        // SAFETY: an aligned word inside the page (both checked just above); `new`'s contract keeps the
        // page mapped for the program's life; the word is only ever accessed atomically, by us and by the
        // peer.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast()) }
    }
}

/// The xenstore ring page (`HVM_PARAM_STORE_PFN`) and the local port of its event channel
/// (`HVM_PARAM_STORE_EVTCHN`, already bound to xenstored by the toolstack).
#[cfg(target_os = "none")]
pub mod xenstore {
    use super::*;
    use crate::abi::hvm::{HVM_PARAM_STORE_EVTCHN, HVM_PARAM_STORE_PFN};
    use crate::hvm::XenError;
    use crate::hypercall::Xen;
    use xen_traits::Port;

    /// Why the xenstore ring cannot be opened.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum StoreError {
        Param(XenError),
        Page(MapError),
        /// Port 0 or out of range: no xenstore connection.
        NoPort,
    }

    /// The ring page and the port. Call once: a second call would give a second handle on the same page.
    pub fn open(xen: &Xen) -> Result<(MappedPage, Port), StoreError> {
        let pfn = xen.hvm_get_param(HVM_PARAM_STORE_PFN).map_err(StoreError::Param)?;
        let port = xen.hvm_get_param(HVM_PARAM_STORE_EVTCHN).map_err(StoreError::Param)?;
        if port == 0 || port > u64::from(u32::MAX) {
            return Err(StoreError::NoPort);
        }
        if pfn == 0 {
            return Err(StoreError::Page(MapError::Missing));
        }
        if pfn >= MAPPED_PFN_LIMIT {
            return Err(StoreError::Page(MapError::Unmapped(pfn)));
        }
        let base = NonNull::new((pfn << 12) as *mut u8).ok_or(StoreError::Page(MapError::Missing))?;
        // SAFETY: Xen names this frame as our xenstore page: one of the toolstack's special pages, which
        // the memory map does not report as RAM, so neither the image nor the heap uses it. It is below
        // 4 GiB (checked above), where the boot identity map maps it writable for the program's life. The
        // caller opens it once (documented), so no other handle covers it.
        let page = unsafe { MappedPage::new(base) };
        Ok((page, Port(port as u32)))
    }
}

impl SharedPage for MappedPage {
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
            // SAFETY: inside the page (checked above), mapped per `new`'s contract; volatile because the
            // peer may write concurrently.
            *b = unsafe { self.base.as_ptr().add(off + i).read_volatile() };
        }
    }
    fn write_bytes(&self, off: usize, data: &[u8]) {
        self.check(off, data.len());
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: inside the page (checked above), mapped and writable per `new`'s contract; volatile
            // because the peer may read concurrently.
            unsafe { self.base.as_ptr().add(off + i).write_volatile(b) };
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

    #[repr(C, align(4096))]
    struct Page([u8; 4096]);

    #[test]
    fn accesses_land_at_their_offsets() {
        let mut page = Box::new(Page([0; 4096]));
        let base = NonNull::new(page.0.as_mut_ptr()).unwrap();
        {
            // SAFETY: the boxed page outlives `p`, and is looked at directly only after `p` is dropped.
            let p = unsafe { MappedPage::new(base) };
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
        let mut page = Box::new(Page([0; 4096]));
        // SAFETY: as above.
        let p = unsafe { MappedPage::new(NonNull::new(page.0.as_mut_ptr()).unwrap()) };
        p.read_u32(4096);
    }
}
