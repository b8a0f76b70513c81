//! Netfront: the Xen PV network frontend (`io/netif.h`), with no `unsafe` and no executor.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod wire;

/// Slots of the tx ring in one page (`NET_TX_RING_SIZE`).
pub const TX_RING_SIZE: u32 = 256;
/// Slots of the rx ring in one page (`NET_RX_RING_SIZE`).
pub const RX_RING_SIZE: u32 = 256;
