//! Where the driver gets memory it shares with the backend: ring pages, bounce pages, indirect pages.

use alloc::vec::Vec;

use xen_traits::{Pfn, SharedPage};

/// No memory left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

/// An allocator of page-aligned memory the driver may grant. Pages are reached only through
/// [`SharedPage`] (never as Rust references), because the backend may map them.
pub trait Pages {
    /// A region of one or more pages.
    type Page: SharedPage;
    /// `count` zeroed pages, contiguous in the driver's view (for a multi-page ring), with the frame of
    /// each page in order.
    fn alloc(&mut self, count: usize) -> Result<(Self::Page, Vec<Pfn>), OutOfMemory>;
    /// Give a region back. Only called once every grant of it was revoked.
    fn free(&mut self, page: Self::Page, frames: &[Pfn]);
}

impl<T: Pages + ?Sized> Pages for &mut T {
    type Page = T::Page;
    fn alloc(&mut self, count: usize) -> Result<(Self::Page, Vec<Pfn>), OutOfMemory> {
        (**self).alloc(count)
    }
    fn free(&mut self, page: Self::Page, frames: &[Pfn]) {
        (**self).free(page, frames)
    }
}
