//! [`PhysMemory`] over the boot identity mapping, for reading what the loader left (start info,
//! command line, memory map).

use crate::paging::LOW_MAPPED;
use crate::start_info::{PhysMemory, Unreadable};

/// Reads guest-physical memory through the identity map the entry code built: 0..4 GiB. Only valid
/// before `paging::enable_guards` (afterwards page 0 is unmapped).
pub struct BootMemory;

/// Address 0 itself is excluded (a null pointer is never a valid start-info pointer).
const READABLE: core::ops::Range<u64> = 1..LOW_MAPPED;

impl PhysMemory for BootMemory {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), Unreadable> {
        let end = paddr.checked_add(buf.len() as u64).ok_or(Unreadable)?;
        if paddr < READABLE.start || end > READABLE.end {
            return Err(Unreadable);
        }
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: the byte lies in READABLE (checked above), which the boot page tables map
            // (identity, present; page 0 too until the null guard is enabled, after the start info is
            // read); volatile because it is loader-written memory outside any Rust object.
            *b = unsafe { ((paddr + i as u64) as *const u8).read_volatile() };
        }
        Ok(())
    }
}
