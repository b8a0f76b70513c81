//! [`HeapPages`]: the drivers' page allocator on Xen ([`blkfront::Pages`]): zeroed runs of contiguous
//! heap pages ([`SharedRegion`]), identity-mapped, so each page's frame is its address >> 12.

use alloc::vec::Vec;

use blkfront::{OutOfMemory, Pages};
pub use hypervisor::shared_region::SharedRegion;
use xen_traits::Pfn;

/// Zeroed single pages and contiguous runs from the heap. Stateless: a value per driver.
#[derive(Debug, Default, Clone, Copy)]
pub struct HeapPages;

impl Pages for HeapPages {
    type Page = SharedRegion;

    fn alloc(&mut self, count: usize) -> Result<(SharedRegion, Vec<Pfn>), OutOfMemory> {
        let run = SharedRegion::alloc(count).ok_or(OutOfMemory)?;
        let frames = run.pfns().collect();
        Ok((run, frames))
    }

    fn free(&mut self, page: SharedRegion, _frames: &[Pfn]) {
        // The driver calls this only once every grant of the run was revoked.
        drop(page);
    }
}
