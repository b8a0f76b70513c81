//! The `io/netif.h` ring entries, in the style of smoltcp's `wire` module.
//!
//! Each entry has a `Packet<T: AsRef<[u8]>>` view over its bytes ([`tx::TxRequestPacket`]…) whose
//! `new_checked` validates the length once, after which no accessor panics, and a `Repr` (the plain
//! struct: [`TxRequest`], [`TxResponse`], [`RxRequest`], [`RxResponse`], [`ExtraInfo`]) with
//! `parse`/`emit`. The `Repr`s implement [`xenbus::RingEntry`], so the generic front ring copies them in and
//! out of shared memory whole. Values are little-endian (x86).
//!
//! Parsing never judges values (an id out of range, an offset beyond the page): that is the datapath's
//! job, which owns the in-flight tables.

pub mod extra;
pub mod rx;
pub mod tx;

pub use extra::{ExtraInfo, ExtraInfoPacket, GsoType};
pub use rx::{RxRequest, RxRequestPacket, RxResponse, RxResponsePacket};
pub use tx::{TxRequest, TxRequestPacket, TxResponse, TxResponsePacket, TxSlot};

/// `NETTXF_csum_blank`: the protocol checksum field is blank (holds the pseudo-header sum only).
pub const NETTXF_CSUM_BLANK: u16 = 1 << 0;
/// `NETTXF_data_validated`: the packet data has been validated against its checksum.
pub const NETTXF_DATA_VALIDATED: u16 = 1 << 1;
/// `NETTXF_more_data`: the packet continues in the next request.
pub const NETTXF_MORE_DATA: u16 = 1 << 2;
/// `NETTXF_extra_info`: the request is followed by a `netif_extra_info` slot.
pub const NETTXF_EXTRA_INFO: u16 = 1 << 3;

/// `NETRXF_data_validated`: the packet data has been validated against its checksum.
pub const NETRXF_DATA_VALIDATED: u16 = 1 << 0;
/// `NETRXF_csum_blank`: the protocol checksum field is blank (partial checksum).
pub const NETRXF_CSUM_BLANK: u16 = 1 << 1;
/// `NETRXF_more_data`: the packet continues in the next response.
pub const NETRXF_MORE_DATA: u16 = 1 << 2;
/// `NETRXF_extra_info`: the response is followed by a `netif_extra_info` slot.
pub const NETRXF_EXTRA_INFO: u16 = 1 << 3;
/// `NETRXF_gso_prefix` (deprecated).
pub const NETRXF_GSO_PREFIX: u16 = 1 << 4;

/// `NETIF_RSP_DROPPED`
pub const NETIF_RSP_DROPPED: i16 = -2;
/// `NETIF_RSP_ERROR`
pub const NETIF_RSP_ERROR: i16 = -1;
/// `NETIF_RSP_OKAY`
pub const NETIF_RSP_OKAY: i16 = 0;
/// `NETIF_RSP_NULL`: no response (the slot held an extra-info request).
pub const NETIF_RSP_NULL: i16 = 1;

/// `XEN_NETIF_MAX_TX_SIZE`: largest packet one tx request chain can describe.
pub const XEN_NETIF_MAX_TX_SIZE: usize = 0xffff;
/// `XEN_NETIF_NR_SLOTS_MIN`: slots per packet every backend must accept.
pub const XEN_NETIF_NR_SLOTS_MIN: usize = 18;

/// `XEN_NETIF_EXTRA_TYPE_GSO`
pub const XEN_NETIF_EXTRA_TYPE_GSO: u8 = 1;
/// `XEN_NETIF_EXTRA_TYPE_MCAST_ADD`
pub const XEN_NETIF_EXTRA_TYPE_MCAST_ADD: u8 = 2;
/// `XEN_NETIF_EXTRA_TYPE_MCAST_DEL`
pub const XEN_NETIF_EXTRA_TYPE_MCAST_DEL: u8 = 3;
/// `XEN_NETIF_EXTRA_TYPE_HASH`
pub const XEN_NETIF_EXTRA_TYPE_HASH: u8 = 4;
/// `XEN_NETIF_EXTRA_TYPE_MAX`: one past the last valid type.
pub const XEN_NETIF_EXTRA_TYPE_MAX: u8 = 5;
/// `XEN_NETIF_EXTRA_FLAG_MORE`: another extra-info slot follows.
pub const XEN_NETIF_EXTRA_FLAG_MORE: u8 = 1 << 0;

/// A buffer too short for the entry it should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncated;

pub(crate) fn get_u16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_le_bytes([x, y]),
        _ => 0,
    }
}

pub(crate) fn get_u32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, c, d, e]) => u32::from_le_bytes([a, c, d, e]),
        _ => 0,
    }
}

pub(crate) fn set_u16(b: &mut [u8], at: usize, v: u16) {
    if let Some(d) = b.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}

pub(crate) fn set_u32(b: &mut [u8], at: usize, v: u32) {
    if let Some(d) = b.get_mut(at..at + 4) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}
