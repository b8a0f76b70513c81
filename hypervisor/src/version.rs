//! `__HYPERVISOR_xen_version`.

use crate::abi::version::{XENVER_extraversion, XENVER_version, XEN_EXTRAVERSION_LEN};
use crate::hypercall::Xen;

/// Xen's version, e.g. 4.17 and extra ".7".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XenVersion {
    pub major: u16,
    pub minor: u16,
    extra: [u8; XEN_EXTRAVERSION_LEN],
}

impl XenVersion {
    /// The extra version string (e.g. ".7"), cut at the first NUL and at any non-ASCII byte.
    pub fn extra(&self) -> &str {
        let len = self.extra.iter().position(|&b| b == 0 || !b.is_ascii()).unwrap_or(self.extra.len());
        core::str::from_utf8(&self.extra[..len]).unwrap_or("")
    }
}

impl core::fmt::Display for XenVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}{}", self.major, self.minor, self.extra())
    }
}

impl Xen {
    pub fn version(&self) -> XenVersion {
        // SAFETY: XENVER_version takes no argument buffer (NULL).
        let v = unsafe { self.call(xen_sys::__HYPERVISOR_xen_version, [u64::from(XENVER_version), 0, 0, 0, 0]) };
        let mut extra = [0u8; XEN_EXTRAVERSION_LEN];
        // SAFETY: XENVER_extraversion writes a `xen_extraversion_t` (16 bytes, checked against the C
        // header) into the buffer, which lives on our stack.
        let rc = unsafe {
            self.call(xen_sys::__HYPERVISOR_xen_version, [u64::from(XENVER_extraversion), extra.as_mut_ptr() as u64, 0, 0, 0])
        };
        if rc < 0 {
            extra = [0; XEN_EXTRAVERSION_LEN];
        }
        XenVersion { major: (v >> 16) as u16, minor: v as u16, extra }
    }
}
