//! [`FakePage`]: shared memory made of atomics, handed to both the driver and the fake backend.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use xen_traits::{SharedPage, PAGE_SIZE};

/// A page (or several) of shared memory. Cloning gives another handle to the *same* memory: one for the
/// driver, one for the fake backend (possibly on another thread). Every access is atomic, so concurrent
/// use is data-race free and the orderings of [`SharedPage`] are real.
#[derive(Clone, Debug)]
pub struct FakePage {
    words: Arc<[AtomicU32]>,
}

impl Default for FakePage {
    fn default() -> Self {
        Self::new()
    }
}

impl FakePage {
    /// One zeroed 4096-byte page.
    pub fn new() -> FakePage {
        Self::with_size(PAGE_SIZE)
    }

    /// `bytes` zeroed bytes (a multiple of 4), e.g. a multi-page ring.
    pub fn with_size(bytes: usize) -> FakePage {
        assert!(
            bytes.is_multiple_of(4) && bytes > 0,
            "FakePage size must be a positive multiple of 4"
        );
        FakePage {
            words: (0..bytes / 4).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Whether two handles share the same memory.
    pub fn same_page(&self, other: &FakePage) -> bool {
        Arc::ptr_eq(&self.words, &other.words)
    }

    /// A copy of the whole page.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.size()];
        self.read_bytes(0, &mut v);
        v
    }

    fn check_range(&self, off: usize, len: usize) {
        assert!(
            off.checked_add(len).is_some_and(|end| end <= self.size()),
            "access {off:#x}+{len} beyond the {}-byte page",
            self.size()
        );
    }
}

impl SharedPage for FakePage {
    fn size(&self) -> usize {
        self.words.len() * 4
    }
    fn word(&self, off: usize) -> &AtomicU32 {
        assert!(off.is_multiple_of(4), "unaligned 32-bit access at {off:#x}");
        self.words
            .get(off / 4)
            .unwrap_or_else(|| panic!("access at {off:#x} beyond the {}-byte page", self.size()))
    }
    fn read_bytes(&self, off: usize, buf: &mut [u8]) {
        self.check_range(off, buf.len());
        for (i, b) in buf.iter_mut().enumerate() {
            let a = off + i;
            let w = self.words[a / 4].load(Ordering::Relaxed);
            *b = w.to_le_bytes()[a % 4];
        }
    }
    fn write_bytes(&self, off: usize, data: &[u8]) {
        self.check_range(off, data.len());
        let mut i = 0;
        while i < data.len() {
            let a = off + i;
            if a.is_multiple_of(4) && data.len() - i >= 4 {
                let v = u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                self.words[a / 4].store(v, Ordering::Relaxed);
                i += 4;
                continue;
            }
            let shift = 8 * (a % 4) as u32;
            let byte = u32::from(data[i]) << shift;
            let mask = !(0xffu32 << shift);
            // A byte store into a word the peer may also be writing: an atomic read-modify-write.
            self.words[a / 4]
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                    Some((w & mask) | byte)
                })
                .ok();
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_words_agree() {
        let p = FakePage::new();
        let q = p.clone();
        p.write_bytes(5, b"hello, world");
        let mut buf = [0u8; 12];
        q.read_bytes(5, &mut buf);
        assert_eq!(&buf, b"hello, world");
        q.write_u32(8, 0x6463_6261);
        let mut buf = [0u8; 4];
        p.read_bytes(8, &mut buf);
        assert_eq!(&buf, b"abcd");
        assert_eq!(p.read_u32(4), u32::from_le_bytes([0, b'h', b'e', b'l']));
        assert!(p.same_page(&q));
        assert!(!p.same_page(&FakePage::new()));
    }

    #[test]
    #[should_panic(expected = "beyond")]
    fn out_of_range_is_a_driver_bug() {
        FakePage::new().read_bytes(4090, &mut [0u8; 7]);
    }
}
