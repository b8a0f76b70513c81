//! vCPU timers (`VCPUOP_*`): the one-shot timer that raises `VIRQ_TIMER`.

use crate::abi::hypercalls::__HYPERVISOR_vcpu_op;
use crate::abi::vcpu::*;
use crate::hvm::XenError;
use crate::hypercall::Xen;

impl Xen {
    /// Arms vCPU `vcpu`'s one-shot timer for Xen system time `deadline_ns`. A deadline in the past
    /// fires at once (no `VCPU_SSHOTTMR_future`).
    pub fn set_singleshot_timer(&self, vcpu: u32, deadline_ns: u64) -> Result<(), XenError> {
        let mut arg = vcpu_set_singleshot_timer { timeout_abs_ns: deadline_ns, flags: 0 };
        // SAFETY: VCPUOP_set_singleshot_timer takes a `struct vcpu_set_singleshot_timer` (layout
        // checked against the C header), on our stack during the call.
        let rc = unsafe {
            self.call(__HYPERVISOR_vcpu_op, [u64::from(VCPUOP_set_singleshot_timer), u64::from(vcpu), &mut arg as *mut _ as u64, 0, 0])
        };
        if rc < 0 {
            Err(XenError(rc))
        } else {
            Ok(())
        }
    }

    pub fn stop_singleshot_timer(&self, vcpu: u32) -> Result<(), XenError> {
        // SAFETY: VCPUOP_stop_singleshot_timer takes no argument (NULL).
        let rc = unsafe { self.call(__HYPERVISOR_vcpu_op, [u64::from(VCPUOP_stop_singleshot_timer), u64::from(vcpu), 0, 0, 0]) };
        if rc < 0 {
            Err(XenError(rc))
        } else {
            Ok(())
        }
    }

    /// Stops the periodic timer some Xen versions start by default, so an idle guest is not woken.
    pub fn stop_periodic_timer(&self, vcpu: u32) -> Result<(), XenError> {
        // SAFETY: VCPUOP_stop_periodic_timer takes no argument (NULL).
        let rc = unsafe { self.call(__HYPERVISOR_vcpu_op, [u64::from(VCPUOP_stop_periodic_timer), u64::from(vcpu), 0, 0, 0]) };
        if rc < 0 {
            Err(XenError(rc))
        } else {
            Ok(())
        }
    }
}
