//! Finding Xen through its CPUID leaves.

use crate::abi::cpuid::*;

/// Registers returned by one CPUID query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuidResult {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

/// Where Xen's leaves are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XenCpuid {
    /// The leaf that carries "XenVMMXenVMM" (0x40000000 or a multiple of 0x100 above it).
    pub base: u32,
    /// The highest hypervisor leaf, as reported in EAX of `base`.
    pub max_leaf: u32,
}

impl XenCpuid {
    /// Scans 0x40000000, 0x40000100, ... 0x4000ff00 for Xen's signature. `query(leaf, subleaf)` runs
    /// CPUID; it is a parameter so the scan is host-testable.
    pub fn find(mut query: impl FnMut(u32, u32) -> CpuidResult) -> Option<XenCpuid> {
        (0..0x100u32).map(|i| XEN_CPUID_FIRST_LEAF + i * 0x100).find_map(|base| {
            let r = query(base, 0);
            let signature = r.ebx == XEN_CPUID_SIGNATURE_EBX
                && r.ecx == XEN_CPUID_SIGNATURE_ECX
                && r.edx == XEN_CPUID_SIGNATURE_EDX;
            // Leaves base+1 (version) and base+2 (hypercall page) must exist.
            (signature && r.eax >= base + 2).then_some(XenCpuid { base, max_leaf: r.eax })
        })
    }

    /// Leaf with the Xen version (EAX = major << 16 | minor).
    pub fn version_leaf(&self) -> u32 {
        self.base + 1
    }

    /// Leaf with the hypercall page MSR (EBX) and number of pages (EAX).
    pub fn hypercall_leaf(&self) -> u32 {
        self.base + 2
    }

    /// Leaf with time information (subleaf 0: ECX = guest TSC frequency in kHz), if present.
    pub fn time_leaf(&self) -> Option<u32> {
        (self.max_leaf >= self.base + 3).then_some(self.base + 3)
    }
}

/// Runs CPUID on this CPU.
#[cfg(target_arch = "x86_64")]
pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    // CPUID is always available in 64-bit mode and has no side effects besides the registers.
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    CpuidResult { eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xen_at(base: u32, max: u32) -> impl FnMut(u32, u32) -> CpuidResult {
        move |leaf, _| {
            if leaf == base {
                CpuidResult {
                    eax: max,
                    ebx: XEN_CPUID_SIGNATURE_EBX,
                    ecx: XEN_CPUID_SIGNATURE_ECX,
                    edx: XEN_CPUID_SIGNATURE_EDX,
                }
            } else if leaf == 0x4000_0000 {
                // Viridian-like signature at the first slot.
                CpuidResult { eax: 0x4000_0005, ebx: 0x7263_694d, ecx: 0x666f_736f, edx: 0x7648_2074 }
            } else {
                CpuidResult::default()
            }
        }
    }

    #[test]
    fn finds_xen_at_first_leaf() {
        let x = XenCpuid::find(xen_at(0x4000_0000, 0x4000_0005)).unwrap();
        assert_eq!(x.base, 0x4000_0000);
        assert_eq!(x.hypercall_leaf(), 0x4000_0002);
        assert_eq!(x.time_leaf(), Some(0x4000_0003));
    }

    #[test]
    fn finds_xen_behind_viridian() {
        let x = XenCpuid::find(xen_at(0x4000_0100, 0x4000_0105)).unwrap();
        assert_eq!(x.base, 0x4000_0100);
        assert_eq!(x.version_leaf(), 0x4000_0101);
    }

    #[test]
    fn no_xen_no_result() {
        assert_eq!(XenCpuid::find(|_, _| CpuidResult::default()), None);
    }

    #[test]
    fn signature_without_hypercall_leaf_is_rejected() {
        assert_eq!(XenCpuid::find(xen_at(0x4000_0000, 0x4000_0001)), None);
        let x = XenCpuid::find(xen_at(0x4000_0000, 0x4000_0002)).unwrap();
        assert_eq!(x.time_leaf(), None);
    }
}
