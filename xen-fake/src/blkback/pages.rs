//! [`FakePages`]: the page allocator a driver under test gets shared memory from (frames of
//! [`FakeMemory`], so the fake grant table can grant them), counting allocations and frees.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use xen_traits::Pfn;

use super::span::PageSpan;
use crate::grant::FakeMemory;

/// A page allocator over [`FakeMemory`]. Clones share the counters.
#[derive(Clone, Debug)]
pub struct FakePages {
    memory: FakeMemory,
    allocated: Arc<AtomicUsize>,
    freed: Arc<AtomicUsize>,
    limit: Option<usize>,
}

impl FakePages {
    /// Unlimited pages from `memory`.
    pub fn new(memory: FakeMemory) -> FakePages {
        FakePages {
            memory,
            allocated: Arc::default(),
            freed: Arc::default(),
            limit: None,
        }
    }
    /// At most `pages` pages live at once.
    pub fn with_limit(memory: FakeMemory, pages: usize) -> FakePages {
        FakePages {
            limit: Some(pages),
            ..Self::new(memory)
        }
    }
    /// Pages handed out so far.
    pub fn allocated(&self) -> usize {
        self.allocated.load(Ordering::Relaxed)
    }
    /// Pages given back so far.
    pub fn freed(&self) -> usize {
        self.freed.load(Ordering::Relaxed)
    }
    /// Pages handed out and not given back.
    pub fn live(&self) -> usize {
        self.allocated() - self.freed()
    }
}

impl blkfront::Pages for FakePages {
    type Page = PageSpan;
    fn alloc(&mut self, count: usize) -> Result<(PageSpan, Vec<Pfn>), blkfront::OutOfMemory> {
        if count == 0 || self.limit.is_some_and(|l| self.live() + count > l) {
            return Err(blkfront::OutOfMemory);
        }
        let (frames, pages): (Vec<Pfn>, Vec<_>) =
            (0..count).map(|_| self.memory.alloc_page()).unzip();
        self.allocated.fetch_add(count, Ordering::Relaxed);
        Ok((PageSpan::new(pages), frames))
    }
    fn free(&mut self, _page: PageSpan, frames: &[Pfn]) {
        self.freed.fetch_add(frames.len(), Ordering::Relaxed);
    }
}
