//! Grant frames on Xen: each frame is mapped over a page-aligned heap page of ours with
//! `XENMEM_add_to_physmap(XENMAPSPACE_grant_table, idx)`; asking for frame `idx` beyond the current
//! size makes Xen grow the table (up to `GNTTABOP_query_size`'s `max_nr_frames`). Entries are only
//! accessed through atomics and volatile writes: the peer's Xen sets GTF_reading/GTF_writing at any time.

extern crate alloc;

use alloc::alloc::{alloc_zeroed, Layout};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU16, Ordering};

use crate::abi::grant::*;
use crate::abi::hvm::DOMID_SELF;
use crate::abi::hypercalls::__HYPERVISOR_grant_table_op;
use crate::abi::memory::XENMAPSPACE_grant_table;
use crate::grant::table::{GrantMemory, Grants};
use crate::hvm::XenError;
use crate::hypercall::Xen;
use crate::shared_info::add_to_physmap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSetupError {
    Query(XenError),
    /// GNTTABOP_query_size answered with a non-zero status.
    Status(i16),
    Map(XenError),
    NoMemory,
}

pub struct XenGrantFrames {
    xen: Xen,
    /// Guest-physical (= virtual) address of each mapped frame.
    frames: Vec<u64>,
    max_frames: u32,
}

/// Xen's current and maximum number of grant frames of this domain.
pub fn query_size(xen: &Xen) -> Result<(u32, u32), GrantSetupError> {
    let mut q = gnttab_query_size { dom: DOMID_SELF, nr_frames: 0, max_nr_frames: 0, status: 0 };
    // SAFETY: GNTTABOP_query_size takes an array (count 1) of `struct gnttab_query_size` (layout checked
    // against the C header), on our stack during the call.
    let rc = unsafe {
        xen.call(__HYPERVISOR_grant_table_op, [u64::from(GNTTABOP_query_size), &mut q as *mut _ as u64, 1, 0, 0])
    };
    if rc < 0 {
        return Err(GrantSetupError::Query(XenError(rc)));
    }
    if q.status != GNTST_okay {
        return Err(GrantSetupError::Status(q.status));
    }
    Ok((q.nr_frames, q.max_nr_frames))
}

impl XenGrantFrames {
    /// Maps the first `initial` frames (at least 1).
    pub fn new(xen: Xen, initial: u32) -> Result<XenGrantFrames, GrantSetupError> {
        let (_, max_frames) = query_size(&xen)?;
        let mut g = XenGrantFrames { xen, frames: Vec::new(), max_frames: max_frames.max(1) };
        for _ in 0..initial.max(1) {
            g.map_next()?;
        }
        Ok(g)
    }

    fn map_next(&mut self) -> Result<(), GrantSetupError> {
        let idx = self.frames.len() as u64;
        let layout = Layout::from_size_align(4096, 4096).map_err(|_| GrantSetupError::NoMemory)?;
        // SAFETY: a non-zero-size layout. The page is never freed or referenced by Rust: it becomes the
        // grant frame (Xen replaces the RAM page behind this guest frame).
        let page = unsafe { alloc_zeroed(layout) } as u64;
        if page == 0 {
            return Err(GrantSetupError::NoMemory);
        }
        add_to_physmap(&self.xen, XENMAPSPACE_grant_table, idx, page >> 12).map_err(GrantSetupError::Map)?;
        self.frames.push(page);
        Ok(())
    }

    /// Frames mapped, and Xen's limit.
    pub fn frames(&self) -> (u32, u32) {
        (self.frames.len() as u32, self.max_frames)
    }

    fn entry(&self, gref: u32) -> u64 {
        let frame = self.frames[(gref / ENTRIES_PER_FRAME) as usize];
        frame + u64::from(gref % ENTRIES_PER_FRAME) * ENTRY_SIZE as u64
    }

    fn flags(&self, gref: u32) -> &AtomicU16 {
        // SAFETY: `entry` indexes a mapped grant frame (the index panics for a reference beyond the
        // mapped frames, which Grants never passes); the 2-byte flags word is aligned and only accessed
        // atomically, by us and by Xen.
        unsafe { AtomicU16::from_ptr((self.entry(gref) + OFFSET_FLAGS as u64) as *mut u16) }
    }
}

impl GrantMemory for XenGrantFrames {
    fn capacity(&self) -> u32 {
        self.frames.len() as u32 * ENTRIES_PER_FRAME
    }

    fn grow(&mut self) -> Option<u32> {
        if self.frames.len() as u32 >= self.max_frames {
            return None;
        }
        self.map_next().ok()?;
        Some(self.capacity())
    }

    fn write_entry(&self, gref: u32, domid: u16, frame: u32) {
        let e = self.entry(gref);
        // SAFETY: fields of a mapped entry whose flags are 0 (not granted), so Xen does not read them
        // now; volatile because the frame is shared with Xen.
        unsafe {
            ((e + OFFSET_DOMID as u64) as *mut u16).write_volatile(domid);
            ((e + OFFSET_FRAME as u64) as *mut u32).write_volatile(frame);
        }
    }

    fn store_flags(&self, gref: u32, flags: u16) {
        // Release: domid and frame are visible before the grant is (the `wmb()` of grant_table.h).
        self.flags(gref).store(flags, Ordering::Release)
    }

    fn load_flags(&self, gref: u32) -> u16 {
        self.flags(gref).load(Ordering::Acquire)
    }

    fn cas_flags(&self, gref: u32, old: u16, new: u16) -> Result<(), u16> {
        self.flags(gref).compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire).map(|_| ())
    }
}

/// The domain's grant table on Xen.
pub type XenGrants = Grants<XenGrantFrames>;

/// Sets up the grant table with one frame; it grows on demand.
pub fn init(xen: Xen) -> Result<XenGrants, GrantSetupError> {
    Ok(Grants::new(XenGrantFrames::new(xen, 1)?))
}
