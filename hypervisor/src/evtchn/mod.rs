//! Event channels, 2-level ABI.
//!
//! * [`scan`]: the fair pending-bit scan (pure, host-tested).
//! * `ops` (target): the `EVTCHNOP_*` hypercalls.
//! * `channels` (target): [`channels::XenEvents`], the per-domain service: binding, masking, draining
//!   pending ports, and the real [`xen_traits::EventChannels`].

pub mod scan;

#[cfg(target_os = "none")]
pub mod channels;
#[cfg(target_os = "none")]
pub mod ops;

pub use scan::{EventBits, Scanner, NR_PORTS};
