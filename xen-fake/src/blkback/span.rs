//! [`PageSpan`]: several [`FakePage`]s seen as one contiguous region, like a multi-page ring mapped by a
//! backend (`xenbus_map_ring_valloc`) or allocated contiguously by a frontend.

use std::sync::atomic::AtomicU32;

use xen_traits::{SharedPage, PAGE_SIZE};

use crate::page::FakePage;

/// Pages (each a whole [`FakePage`] of [`PAGE_SIZE`] bytes) laid end to end. Accesses that cross a page
/// boundary are split; 32-bit accesses are aligned and never cross one.
#[derive(Clone, Debug)]
pub struct PageSpan {
    pages: Vec<FakePage>,
}

impl PageSpan {
    /// The span over `pages` (each must be one page).
    pub fn new(pages: Vec<FakePage>) -> PageSpan {
        assert!(
            !pages.is_empty() && pages.iter().all(|p| p.size() == PAGE_SIZE),
            "PageSpan takes whole pages"
        );
        PageSpan { pages }
    }

    /// The pages.
    pub fn pages(&self) -> &[FakePage] {
        &self.pages
    }

    fn at(&self, off: usize) -> (&FakePage, usize) {
        let p = self
            .pages
            .get(off / PAGE_SIZE)
            .unwrap_or_else(|| panic!("access at {off:#x} beyond the {}-byte span", self.size()));
        (p, off % PAGE_SIZE)
    }

    fn check(&self, off: usize, len: usize) {
        assert!(
            off.checked_add(len).is_some_and(|e| e <= self.size()),
            "access {off:#x}+{len} beyond the {}-byte span",
            self.size()
        );
    }
}

impl SharedPage for PageSpan {
    fn size(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }
    fn word(&self, off: usize) -> &AtomicU32 {
        // The page holding the word; that page checks alignment, so an aligned word never crosses pages.
        let (p, o) = self.at(off);
        p.word(o)
    }
    fn read_bytes(&self, off: usize, buf: &mut [u8]) {
        self.check(off, buf.len());
        let mut done = 0;
        while done < buf.len() {
            let (p, o) = self.at(off + done);
            let n = (PAGE_SIZE - o).min(buf.len() - done);
            p.read_bytes(o, &mut buf[done..done + n]);
            done += n;
        }
    }
    fn write_bytes(&self, off: usize, data: &[u8]) {
        self.check(off, data.len());
        let mut done = 0;
        while done < data.len() {
            let (p, o) = self.at(off + done);
            let n = (PAGE_SIZE - o).min(data.len() - done);
            p.write_bytes(o, &data[done..done + n]);
            done += n;
        }
    }
    fn fence_read(&self) {
        self.pages[0].fence_read()
    }
    fn fence_write(&self) {
        self.pages[0].fence_write()
    }
    fn fence_full(&self) {
        self.pages[0].fence_full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_cross_page_boundaries() {
        let a = FakePage::new();
        let b = FakePage::new();
        let s = PageSpan::new(vec![a.clone(), b.clone()]);
        assert_eq!(s.size(), 2 * PAGE_SIZE);
        s.write_bytes(PAGE_SIZE - 3, b"abcdef");
        let mut x = [0u8; 3];
        a.read_bytes(PAGE_SIZE - 3, &mut x);
        assert_eq!(&x, b"abc");
        b.read_bytes(0, &mut x);
        assert_eq!(&x, b"def");
        let mut y = [0u8; 6];
        s.read_bytes(PAGE_SIZE - 3, &mut y);
        assert_eq!(&y, b"abcdef");
        s.write_u32(PAGE_SIZE + 8, 7);
        assert_eq!(b.read_u32(8), 7);
        assert!(
            std::ptr::eq(s.word(PAGE_SIZE + 8), b.word(8)),
            "the word of the right page"
        );
        assert_eq!(s.load_acquire_u32(PAGE_SIZE + 8), 7);
    }
}
