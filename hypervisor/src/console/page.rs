//! [`RingMemory`] over the real console page shared with the backend, a [`SharedRegion`]: atomic
//! indices, volatile bytes, no references into the page.

use xen_traits::SharedPage;

use super::ring::RingMemory;
use crate::abi::console::*;
use crate::shared_region::SharedRegion;

impl RingMemory for SharedRegion {
    const SIZE: u32 = OUT_RING_SIZE as u32;

    fn load_out_cons(&self) -> u32 {
        self.load_acquire_u32(OFFSET_OUT_CONS)
    }

    fn load_out_prod(&self) -> u32 {
        self.load_acquire_u32(OFFSET_OUT_PROD)
    }

    fn store_out_prod(&self, prod: u32) {
        // Release: the data bytes written before are visible before the new index (io/console.h's wmb()).
        self.store_release_u32(OFFSET_OUT_PROD, prod)
    }

    fn write_out(&self, index: u32, byte: u8) {
        assert!(index < Self::SIZE, "console ring index out of range (our bug)");
        self.write_bytes(OFFSET_OUT + index as usize, &[byte])
    }
}

#[cfg(test)]
mod tests {
    use core::ptr::NonNull;

    use super::*;
    use crate::console::ring::ConsoleRing;

    #[repr(C, align(4096))]
    struct Page([u8; 4096]);

    #[test]
    fn writes_land_at_the_c_layout_offsets() {
        let mut page = Box::new(Page([0; 4096]));
        let base = NonNull::new(page.0.as_mut_ptr()).unwrap();
        {
            // SAFETY: the boxed page outlives `shared` (dropped with the ring at the end of this block,
            // which does not free it); we look at the page directly only after that.
            let shared = unsafe { SharedRegion::mapped(base) };
            // Pretend the backend consumed 2046 bytes so the next write wraps.
            shared.write_u32(OFFSET_OUT_CONS, 2046);
            shared.write_u32(OFFSET_OUT_PROD, 2046);
            let mut ring = ConsoleRing::new(shared).unwrap();
            assert_eq!(ring.write(b"abcd").unwrap(), 4);
            assert_eq!(ring.pending().unwrap(), 4);
        }
        let bytes = &page.0;
        assert_eq!(&bytes[OFFSET_OUT + 2046..OFFSET_OUT + 2048], b"ab");
        assert_eq!(&bytes[OFFSET_OUT..OFFSET_OUT + 2], b"cd");
        assert_eq!(u32::from_le_bytes(bytes[OFFSET_OUT_PROD..OFFSET_OUT_PROD + 4].try_into().unwrap()), 2050);
        assert!(bytes[..OFFSET_OUT].iter().all(|&b| b == 0), "the in ring is untouched");
    }
}
