//! Xenolith's hypervisor layer.
//!
//! * [`abi`]: the Xen ABI pieces `xen-sys` lacks (PVH start info, HVM params, console ring, xen_version),
//!   checked against the C headers by `tests/abi_c_headers.rs`.
//! * [`cpuid`]: finding Xen's CPUID leaves ("XenVMMXenVMM").
//! * [`console`]: the PV console ring logic (host-tested) and, on the target, the Xen-backed ring.
//! * [`emergency`]: I/O port 0xe9, printed by Xen as `(dN) ...` (and by QEMU's `-debugcon`).
//! * [`evtchn`]: event channels (the fair pending scan is pure; the service is target-only).
//! * [`grant`]: grant tables v1 (bookkeeping pure; frames target-only).
//! * [`pvclock`]: PV clock math and version-checked reads (pure).
//! * [`shared_region`]: memory shared with Xen or a peer (heap pages for rings and grants, pages Xen
//!   places in our address space), accessed only as shared memory.
//! * On the target only: [`special_page`] (the console and xenstore pages), [`hypercall`] (the hypercall page), [`sched`], [`hvm`], [`version`], [`time`]
//!   (TSC deadlines), [`shared_info`], [`clock`], [`timer`].
//!
//! Hypercall mechanism: the hypercall page, installed by writing its address to the MSR that CPUID leaf
//! `base + 2` names. Xen fills the page with the right instruction for the CPU (`vmcall` on Intel,
//! `vmmcall` on AMD), so one image runs on both; issuing `vmcall` directly triple-faults on the AMD CPU
//! of the lab.
#![cfg_attr(not(test), no_std)]

pub mod abi;
pub mod console;
pub mod cpuid;
pub mod emergency;
pub mod evtchn;
pub mod grant;
pub mod pvclock;
pub mod shared_region;

#[cfg(target_os = "none")]
pub mod clock;
#[cfg(target_os = "none")]
pub mod hvm;
#[cfg(target_os = "none")]
pub mod hypercall;
#[cfg(target_os = "none")]
pub mod sched;
#[cfg(target_os = "none")]
pub mod shared_info;
#[cfg(target_os = "none")]
pub mod special_page;
#[cfg(target_os = "none")]
pub mod time;
#[cfg(target_os = "none")]
pub mod timer;
#[cfg(target_os = "none")]
pub mod version;

pub use console::{ConsoleRing, RingError, RingMemory};
pub use cpuid::XenCpuid;
pub use xen_sys;
