//! The domain's event channel service on Xen: upcalls through the HVM callback vector, binding,
//! masking, fair draining of pending ports, and blocking until an event arrives.
//!
//! Delivery: `HVM_PARAM_CALLBACK_IRQ` = vector type. Xen injects the vector while vCPU 0's
//! `evtchn_upcall_pending` is set and RFLAGS.IF = 1; no local APIC EOI is needed. Xenolith runs with
//! IF = 0 except inside [`XenEvents::wait`] (`sti; hlt`), so the upcall only ends a block; the stub in
//! pvh-boot clears `evtchn_upcall_pending` and returns, and the pending ports are served by
//! [`XenEvents::drain`] in normal context.

use core::sync::atomic::Ordering;

use xen_traits::{DomId, EventChannels, EvtchnError, Port};

use crate::abi::hvm::{HVM_PARAM_CALLBACK_IRQ, HVM_PARAM_CALLBACK_TYPE_VECTOR};
use crate::evtchn::scan::{Scanner, NR_PORTS};
use crate::hvm::XenError;
use crate::hypercall::Xen;
use crate::shared_info::SharedInfo;

/// Xen errno values seen from event channel operations.
const ESRCH: i64 = 3;
const EINVAL: i64 = 22;
const ENOSPC: i64 = 28;
const EMFILE: i64 = 24;

fn to_evtchn_error(e: XenError) -> EvtchnError {
    match -e.0 {
        ENOSPC | EMFILE => EvtchnError::NoFreePort,
        EINVAL => EvtchnError::InvalidPort,
        ESRCH => EvtchnError::InvalidRemote,
        n => EvtchnError::Hypervisor(-(n as i32)),
    }
}

pub struct XenEvents {
    xen: Xen,
    shared: &'static SharedInfo,
    scanner: spin::Mutex<Scanner>,
}

impl XenEvents {
    /// Routes upcalls to `vector` (whose IDT gate must already be installed, see
    /// `pvh_boot::upcall`), with every port's delivery unchanged (Xen starts with all ports unmasked).
    pub fn new(xen: Xen, shared: &'static SharedInfo, vector: u8) -> Result<XenEvents, XenError> {
        xen.hvm_set_param(HVM_PARAM_CALLBACK_IRQ, (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | u64::from(vector))?;
        Ok(XenEvents { xen, shared, scanner: spin::Mutex::new(Scanner::new()) })
    }

    pub fn xen(&self) -> Xen {
        self.xen
    }

    pub fn shared(&self) -> &'static SharedInfo {
        self.shared
    }

    /// Binds a virtual IRQ of vCPU 0 (e.g. `VIRQ_TIMER`) to a new port.
    pub fn bind_virq(&self, virq: u32) -> Result<Port, EvtchnError> {
        self.xen.evtchn_bind_virq(virq, 0).map(Port).map_err(to_evtchn_error)
    }

    /// Serves pending unmasked ports fairly (see [`Scanner::scan`]), calling `f` for each; returns how
    /// many. Must not be called from `f`.
    pub fn drain(&self, f: &mut dyn FnMut(u32)) -> usize {
        // Clear the upcall flag first: an event raised from here on sets it again.
        self.shared.clear_upcall_pending(0);
        let mut scanner = self.scanner.lock();
        scanner.scan(self.shared, f)
    }

    /// Whether a drain would find work (or Xen has signalled something not yet taken).
    pub fn has_pending(&self) -> bool {
        let local = self.scanner.try_lock().map(|s| s.has_work()).unwrap_or(true);
        local || self.shared.upcall_pending(0) || self.shared.pending_sel(0) != 0
    }

    /// Blocks vCPU 0 until an event arrives; returns at once if one is pending. No lost wake-up: the
    /// check runs with interrupts off, and `sti; hlt` re-enables them only for the `hlt` (STI's
    /// one-instruction shadow). Xen handles HLT with IF = 1 as `SCHEDOP_block`, which does not block
    /// while `evtchn_upcall_pending` is set. Interrupts are off again on return.
    pub fn wait(&self) {
        crate::sched::block_unless(|| self.has_pending());
    }

    /// Raw pending bit of `port` (tests and diagnostics).
    pub fn is_pending(&self, port: Port) -> bool {
        port.0 < NR_PORTS
            && self.shared.pending_word((port.0 / 64) as usize).load(Ordering::Acquire) & (1 << (port.0 % 64)) != 0
    }

    pub fn is_masked(&self, port: Port) -> bool {
        port.0 < NR_PORTS
            && self.shared.mask_word((port.0 / 64) as usize).load(Ordering::Acquire) & (1 << (port.0 % 64)) != 0
    }
}

impl EventChannels for XenEvents {
    fn notify(&self, port: Port) {
        let _ = self.xen.evtchn_send(port.0);
    }

    fn unmask(&self, port: Port) {
        // EVTCHNOP_unmask clears the bit and re-raises the upcall if the port is pending.
        let _ = self.xen.evtchn_unmask(port.0);
    }

    fn mask(&self, port: Port) {
        if port.0 < NR_PORTS {
            self.shared.mask_word((port.0 / 64) as usize).fetch_or(1 << (port.0 % 64), Ordering::AcqRel);
        }
    }

    fn alloc_unbound(&self, remote: DomId) -> Result<Port, EvtchnError> {
        self.xen.evtchn_alloc_unbound(remote.0).map(Port).map_err(to_evtchn_error)
    }

    fn bind_interdomain(&self, remote: DomId, remote_port: Port) -> Result<Port, EvtchnError> {
        self.xen.evtchn_bind_interdomain(remote.0, remote_port.0).map(Port).map_err(to_evtchn_error)
    }

    fn close(&self, port: Port) -> Result<(), EvtchnError> {
        self.xen.evtchn_close(port.0).map_err(to_evtchn_error)
    }
}
