//! [`HeapPages`]: the drivers' page allocator on Xen ([`blkfront::Pages`]): zeroed runs of contiguous
//! heap pages ([`PageRun`]), identity-mapped, so each page's frame is its address >> 12.

use alloc::vec::Vec;

use blkfront::{OutOfMemory, Pages};
pub use hypervisor::pages::PageRun;
use xen_traits::Pfn;

/// Zeroed single pages and contiguous runs from the heap. Stateless: a value per driver.
#[derive(Debug, Default, Clone, Copy)]
pub struct HeapPages;

impl Pages for HeapPages {
    type Page = PageRun;

    fn alloc(&mut self, count: usize) -> Result<(PageRun, Vec<Pfn>), OutOfMemory> {
        let run = PageRun::new(count).ok_or(OutOfMemory)?;
        let frames = run.pfns().collect();
        Ok((run, frames))
    }

    fn free(&mut self, page: PageRun, _frames: &[Pfn]) {
        // The driver calls this only once every grant of the run was revoked.
        drop(page);
    }
}
