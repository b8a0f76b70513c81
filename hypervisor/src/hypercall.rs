//! The hypercall page and the raw calls (target only).
//!
//! Xen writes one 32-byte stub per hypercall into a guest page whose physical address the guest writes
//! to the MSR named by CPUID leaf `base + 2` (EBX). The stub holds the right instruction for the CPU
//! (`vmmcall` on AMD, `vmcall` on Intel). Calls go through [`Xen`], which exists only once the page is
//! installed, so no code can jump into an empty page.

use core::arch::asm;
use core::cell::UnsafeCell;

use crate::cpuid::{cpuid, XenCpuid};

#[repr(C, align(4096))]
struct HypercallPage(UnsafeCell<[u8; 4096]>);

// SAFETY: Rust code never reads or writes the page; Xen fills it once (through the MSR write in
// `Xen::init`) before any call executes it.
unsafe impl Sync for HypercallPage {}

static HYPERCALL_PAGE: HypercallPage = HypercallPage(UnsafeCell::new([0; 4096]));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// No "XenVMMXenVMM" CPUID signature: not running on Xen (e.g. plain QEMU).
    NotXen,
    /// CPUID says Xen offers no hypercall page.
    NoHypercallPage,
}

/// Proof that the hypercall page is installed; the handle for every hypercall.
#[derive(Debug, Clone, Copy)]
pub struct Xen {
    cpuid: XenCpuid,
}

impl Xen {
    /// Finds Xen and installs the hypercall page. Idempotent.
    pub fn init() -> Result<Xen, InitError> {
        let xen = XenCpuid::find(cpuid).ok_or(InitError::NotXen)?;
        let leaf = cpuid(xen.hypercall_leaf(), 0);
        if leaf.eax == 0 {
            return Err(InitError::NoHypercallPage);
        }
        // Identity mapping: the static's address is its guest-physical address.
        let page = HYPERCALL_PAGE.0.get() as u64;
        // SAFETY: the MSR comes from Xen's own CPUID leaf and only asks Xen to write its stubs into our
        // page-aligned, otherwise unused static page.
        unsafe {
            asm!("wrmsr", in("ecx") leaf.ebx, in("eax") page as u32, in("edx") (page >> 32) as u32,
                 options(nostack, preserves_flags));
        }
        Ok(Xen { cpuid: xen })
    }

    pub fn cpuid(&self) -> XenCpuid {
        self.cpuid
    }

    /// Issues hypercall `op` with up to five arguments.
    ///
    /// # Safety
    /// The arguments must be valid for `op` as Xen's public headers define it: any pointer among them
    /// must point to memory of the right type and size that Xen may read (and, for outputs, write).
    pub unsafe fn call(&self, op: u32, a: [u64; 5]) -> i64 {
        assert!(op < 128, "hypercall number out of the page (our bug)");
        let entry = HYPERCALL_PAGE.0.get() as u64 + u64::from(op) * 32;
        let ret: i64;
        // SAFETY: `entry` is a stub Xen wrote into the installed page (a `Xen` exists only after
        // `init`); the stub preserves all registers except rax and the argument registers, which are
        // marked clobbered. The caller guarantees the arguments (see above).
        unsafe {
            asm!(
                "call {entry}",
                entry = in(reg) entry,
                lateout("rax") ret,
                inlateout("rdi") a[0] => _,
                inlateout("rsi") a[1] => _,
                inlateout("rdx") a[2] => _,
                inlateout("r10") a[3] => _,
                inlateout("r8") a[4] => _,
                lateout("rcx") _,
                lateout("r11") _,
            );
        }
        ret
    }
}
