//! The lab: Xen 4.17 with a Debian dom0 inside QEMU (TCG), driven from the host.

pub mod build;
pub mod client;
pub mod host;
pub mod layout;
pub mod proto;
pub mod qemu;
