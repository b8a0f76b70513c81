//! The PV console on Xen: the ring page at `HVM_PARAM_CONSOLE_PFN`, notified through the event channel
//! at `HVM_PARAM_CONSOLE_EVTCHN`. `xenconsoled` copies it to its log and to `xl console`.

use core::ptr::NonNull;

use super::page::SharedPage;
use super::ring::{ConsoleRing, RingError};
use super::writer::{self, ConsoleError, Wait};
use crate::abi::hvm::{HVM_PARAM_CONSOLE_EVTCHN, HVM_PARAM_CONSOLE_PFN};
use crate::hvm::XenError;
use crate::hypercall::Xen;
use crate::time::Deadline;

/// Frames below this are covered by the boot identity map (0..4 GiB).
const MAPPED_PFN_LIMIT: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    Param(XenError),
    /// PFN 0 or a port of 0: the toolstack gave this domain no console.
    NoConsole,
    /// The page is outside the identity-mapped range.
    Unmapped(u64),
    Ring(RingError),
}

pub struct PvConsole {
    xen: Xen,
    ring: ConsoleRing<SharedPage>,
    port: u32,
}

/// How long one wait for the backend may take before the console is declared stalled.
pub const STALL_TIMEOUT_MS: u64 = 5_000;

struct XenWait<'a> {
    xen: &'a Xen,
    port: u32,
    deadline: Deadline,
}

impl Wait for XenWait<'_> {
    fn notify(&mut self) {
        // A failing send leaves the data in the ring; the bounded wait reports the stall.
        let _ = self.xen.evtchn_send(self.port);
    }
    fn wait(&mut self) -> bool {
        self.xen.sched_yield();
        core::hint::spin_loop();
        !self.deadline.passed()
    }
}

impl PvConsole {
    /// Finds the console ring and takes over its producer side.
    pub fn open(xen: Xen) -> Result<PvConsole, OpenError> {
        let pfn = xen.hvm_get_param(HVM_PARAM_CONSOLE_PFN).map_err(OpenError::Param)?;
        let port = xen.hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN).map_err(OpenError::Param)?;
        if pfn == 0 || port == 0 || port > u64::from(u32::MAX) {
            return Err(OpenError::NoConsole);
        }
        if pfn >= MAPPED_PFN_LIMIT {
            return Err(OpenError::Unmapped(pfn));
        }
        let base = NonNull::new((pfn << 12) as *mut u8).ok_or(OpenError::NoConsole)?;
        // SAFETY: Xen names this frame as our console page; it is below 4 GiB (checked above), so the
        // boot identity map maps it writable, and it is never part of a Rust object.
        let page = unsafe { SharedPage::new(base) };
        let ring = ConsoleRing::new(page).map_err(OpenError::Ring)?;
        Ok(PvConsole { xen, ring, port: port as u32 })
    }

    fn env(&self) -> XenWait<'_> {
        XenWait { xen: &self.xen, port: self.port, deadline: Deadline::after_ms(self.xen.cpuid(), STALL_TIMEOUT_MS) }
    }

    /// Queues all of `bytes`, waiting (bounded) for space when the ring is full.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ConsoleError> {
        let mut env = XenWait { xen: &self.xen, port: self.port, deadline: Deadline::after_ms(self.xen.cpuid(), STALL_TIMEOUT_MS) };
        writer::write_all(&mut self.ring, bytes, &mut env)
    }

    /// Tells the backend there is output.
    pub fn notify(&self) {
        let _ = self.xen.evtchn_send(self.port);
    }

    /// Waits (bounded) until the backend consumed everything.
    pub fn flush(&self) -> Result<(), ConsoleError> {
        writer::flush(&self.ring, &mut self.env())
    }
}
