//! Pages the toolstack places in our physical address space and names by HVM parameters, each with the
//! event channel already bound to its backend: the console (`HVM_PARAM_CONSOLE_PFN`/`_EVTCHN`) and
//! xenstore (`HVM_PARAM_STORE_PFN`/`_EVTCHN`). Target only.

use core::ptr::NonNull;

use xen_traits::Port;

use crate::abi::hvm::{HVM_PARAM_CONSOLE_EVTCHN, HVM_PARAM_CONSOLE_PFN, HVM_PARAM_STORE_EVTCHN, HVM_PARAM_STORE_PFN};
use crate::hvm::XenError;
use crate::hypercall::Xen;
use crate::shared_region::SharedRegion;

/// Frames below this are covered by the boot identity map (0..4 GiB).
pub const MAPPED_PFN_LIMIT: u64 = 1 << 20;

/// Which special page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Console,
    Xenstore,
}

/// Why a special page cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialPageError {
    Param(XenError),
    /// Frame 0 or port 0: the toolstack gave this domain no such page.
    Missing,
    /// The frame is beyond the identity map.
    Unmapped(u64),
}

/// The page and its port. Call once per [`Special`]: a second call would give a second handle on the
/// same page.
pub fn open(xen: &Xen, which: Special) -> Result<(SharedRegion, Port), SpecialPageError> {
    let (pfn_param, port_param) = match which {
        Special::Console => (HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN),
        Special::Xenstore => (HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN),
    };
    let pfn = xen.hvm_get_param(pfn_param).map_err(SpecialPageError::Param)?;
    let port = xen.hvm_get_param(port_param).map_err(SpecialPageError::Param)?;
    if pfn == 0 || port == 0 || port > u64::from(u32::MAX) {
        return Err(SpecialPageError::Missing);
    }
    if pfn >= MAPPED_PFN_LIMIT {
        return Err(SpecialPageError::Unmapped(pfn));
    }
    let base = NonNull::new((pfn << 12) as *mut u8).ok_or(SpecialPageError::Missing)?;
    // SAFETY: Xen names this frame as one of the toolstack's special pages, which the memory map does not
    // report as RAM, so neither the image nor the heap uses it. It is below 4 GiB (checked above), where
    // the boot identity map maps it writable for the program's life. The caller opens each page once
    // (documented), so no other handle covers it.
    let page = unsafe { SharedRegion::mapped(base) };
    Ok((page, Port(port as u32)))
}
