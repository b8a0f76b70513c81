//! `HVMOP_get_param` / `HVMOP_set_param`.

use crate::abi::hvm::{xen_hvm_param, DOMID_SELF, HVMOP_get_param, HVMOP_set_param};
use crate::hypercall::Xen;

/// A negative Xen errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XenError(pub i64);

impl Xen {
    /// Reads HVM parameter `index` of this domain.
    pub fn hvm_get_param(&self, index: u32) -> Result<u64, XenError> {
        let mut p = xen_hvm_param { domid: DOMID_SELF, pad: 0, index, value: 0 };
        // SAFETY: HVMOP_get_param takes a pointer to a `struct xen_hvm_param` (layout checked against
        // the C header) which Xen reads and writes; it lives on our stack during the call.
        let rc = unsafe {
            self.call(xen_sys::__HYPERVISOR_hvm_op, [u64::from(HVMOP_get_param), &mut p as *mut _ as u64, 0, 0, 0])
        };
        if rc < 0 {
            Err(XenError(rc))
        } else {
            Ok(p.value)
        }
    }

    /// Sets HVM parameter `index` of this domain.
    pub fn hvm_set_param(&self, index: u32, value: u64) -> Result<(), XenError> {
        let mut p = xen_hvm_param { domid: DOMID_SELF, pad: 0, index, value };
        // SAFETY: HVMOP_set_param takes a pointer to a `struct xen_hvm_param` (layout checked), on our
        // stack during the call.
        let rc = unsafe {
            self.call(xen_sys::__HYPERVISOR_hvm_op, [u64::from(HVMOP_set_param), &mut p as *mut _ as u64, 0, 0, 0])
        };
        if rc < 0 {
            Err(XenError(rc))
        } else {
            Ok(())
        }
    }
}
