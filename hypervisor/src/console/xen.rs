//! The PV console on Xen: the ring page at `HVM_PARAM_CONSOLE_PFN`, notified through the event channel
//! at `HVM_PARAM_CONSOLE_EVTCHN`. `xenconsoled` copies it to its log and to `xl console`.

use core::mem::ManuallyDrop;

use super::ring::{ConsoleRing, RingError};
use super::writer::{self, ConsoleError, Wait};
use crate::hypercall::Xen;
use crate::shared_region::SharedRegion;
use crate::special_page::{self, Special, SpecialPageError};
use crate::time::Deadline;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The page or port is missing or unusable.
    Page(SpecialPageError),
    Ring(RingError),
}

pub struct PvConsole {
    xen: Xen,
    /// The page is the toolstack's and never freed, so the region is never dropped: this keeps the
    /// heap's free path out of images that never free anything.
    ring: ManuallyDrop<ConsoleRing<SharedRegion>>,
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
        let (page, port) = special_page::open(&xen, Special::Console).map_err(OpenError::Page)?;
        let ring = ConsoleRing::new(page).map_err(OpenError::Ring)?;
        Ok(PvConsole { xen, ring: ManuallyDrop::new(ring), port: port.0 })
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
