//! The blkif structures, back-end side, written independently of `blkfront::wire` (from
//! `xen/io/blkif.h`, x86_64 ABI) so a layout mistake in the driver is not mirrored here.

use xen_traits::GrantRef;
use xenbus::front_ring::RingEntry;

pub const OP_READ: u8 = 0;
pub const OP_WRITE: u8 = 1;
pub const OP_WRITE_BARRIER: u8 = 2;
pub const OP_FLUSH_DISKCACHE: u8 = 3;
pub const OP_DISCARD: u8 = 5;
pub const OP_INDIRECT: u8 = 6;
pub const RSP_OKAY: i16 = 0;
pub const RSP_ERROR: i16 = -1;
pub const RSP_EOPNOTSUPP: i16 = -2;

/// One segment: (gref, first_sect, last_sect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    pub gref: GrantRef,
    pub first: u8,
    pub last: u8,
}

impl Seg {
    pub fn from_bytes(b: &[u8]) -> Seg {
        Seg {
            gref: GrantRef(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            first: b[4],
            last: b[5],
        }
    }
}

/// A raw request slot (112 bytes), decoded on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRequest(pub [u8; 112]);

impl RawRequest {
    pub fn operation(&self) -> u8 {
        self.0[0]
    }
    pub fn id(&self) -> u64 {
        u64::from_le_bytes(self.0[8..16].try_into().expect("8 bytes"))
    }
    pub fn sector_number(&self) -> u64 {
        u64::from_le_bytes(self.0[16..24].try_into().expect("8 bytes"))
    }
    /// Direct requests: `nr_segments` (u8 at 1).
    pub fn nr_segments(&self) -> u8 {
        self.0[1]
    }
    /// Direct requests: `seg[i]` at 24 + 8 i.
    pub fn seg(&self, i: usize) -> Seg {
        Seg::from_bytes(&self.0[24 + 8 * i..32 + 8 * i])
    }
    /// Indirect: `indirect_op` at 1.
    pub fn indirect_op(&self) -> u8 {
        self.0[1]
    }
    /// Indirect: `nr_segments` (u16 at 2).
    pub fn indirect_nr_segments(&self) -> u16 {
        u16::from_le_bytes([self.0[2], self.0[3]])
    }
    /// Indirect: `indirect_grefs[i]` at 28 + 4 i.
    pub fn indirect_gref(&self, i: usize) -> GrantRef {
        GrantRef(u32::from_le_bytes(
            self.0[28 + 4 * i..32 + 4 * i].try_into().expect("4 bytes"),
        ))
    }
    /// Discard: `nr_sectors` (u64 at 24).
    pub fn discard_nr_sectors(&self) -> u64 {
        u64::from_le_bytes(self.0[24..32].try_into().expect("8 bytes"))
    }
}

impl RingEntry for RawRequest {
    const SIZE: usize = 112;
    const ALIGN: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.0);
    }
    fn decode(src: &[u8]) -> Self {
        let mut b = [0u8; 112];
        b.copy_from_slice(&src[..112]);
        RawRequest(b)
    }
}

/// A response: `id` (u64 at 0), `operation` (u8 at 8), `status` (i16 at 10); 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rsp {
    pub id: u64,
    pub operation: u8,
    pub status: i16,
}

impl RingEntry for Rsp {
    const SIZE: usize = 16;
    const ALIGN: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out.fill(0);
        out[0..8].copy_from_slice(&self.id.to_le_bytes());
        out[8] = self.operation;
        out[10..12].copy_from_slice(&self.status.to_le_bytes());
    }
    fn decode(src: &[u8]) -> Self {
        Rsp {
            id: u64::from_le_bytes(src[0..8].try_into().expect("8 bytes")),
            operation: src[8],
            status: i16::from_le_bytes([src[10], src[11]]),
        }
    }
}
