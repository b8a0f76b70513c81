//! The on-disk record of the key-value log: one record per operation, starting on a sector boundary
//! and padded to whole sectors, so each is written by one request without touching its neighbours.
//!
//! ```text
//! 0..4   magic "XKV1"
//! 4..8   generation (u32 LE): the log's id, set by the format record; stale records of an older log
//!        on the same disk do not match
//! 8..16  sequence number (u64 LE): 0 for the format record, then +1 per record
//! 16     op: 1 put, 2 delete, 3 format
//! 17     0
//! 18..20 key length (u16 LE)
//! 20..24 value length (u32 LE)
//! 24..28 CRC-32 (IEEE) of bytes 0..24, the key and the value
//! 28..   key, value, zero padding
//! ```
//! A record that is torn (partly written when the domain died), stale or corrupt fails its checks:
//! replay stops there, and the next record is written over it.

use alloc::vec;
use alloc::vec::Vec;

pub const MAGIC: &[u8; 4] = b"XKV1";
pub const HEADER: usize = 28;
pub const MAX_KEY: usize = 256;
pub const MAX_VALUE: usize = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Put,
    Delete,
    Format,
}

impl Op {
    fn code(self) -> u8 {
        match self {
            Op::Put => 1,
            Op::Delete => 2,
            Op::Format => 3,
        }
    }
    fn from_code(c: u8) -> Option<Op> {
        match c {
            1 => Some(Op::Put),
            2 => Some(Op::Delete),
            3 => Some(Op::Format),
            _ => None,
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected), bitwise: small and fast enough for small records.
pub fn crc32(mut crc: u32, data: &[u8]) -> u32 {
    crc = !crc;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The record's bytes, padded to a multiple of `sector`.
pub fn encode(generation: u32, seq: u64, op: Op, key: &[u8], value: &[u8], sector: usize) -> Vec<u8> {
    let len = HEADER + key.len() + value.len();
    let mut b = vec![0u8; len.div_ceil(sector) * sector];
    b[0..4].copy_from_slice(MAGIC);
    b[4..8].copy_from_slice(&generation.to_le_bytes());
    b[8..16].copy_from_slice(&seq.to_le_bytes());
    b[16] = op.code();
    b[18..20].copy_from_slice(&(key.len() as u16).to_le_bytes());
    b[20..24].copy_from_slice(&(value.len() as u32).to_le_bytes());
    b[HEADER..HEADER + key.len()].copy_from_slice(key);
    b[HEADER + key.len()..len].copy_from_slice(value);
    let crc = crc32(crc32(0, &b[0..24]), &b[HEADER..len]);
    b[24..28].copy_from_slice(&crc.to_le_bytes());
    b
}

/// A checked header: what the rest of the record must hold.
pub struct Header {
    pub generation: u32,
    pub seq: u64,
    pub op: Op,
    pub key_len: usize,
    pub value_len: usize,
    crc: u32,
}

impl Header {
    /// Parses the first [`HEADER`] bytes; `None` when they are not a plausible header.
    pub fn parse(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER || &b[0..4] != MAGIC || b[17] != 0 {
            return None;
        }
        let h = Header {
            generation: u32::from_le_bytes(b[4..8].try_into().ok()?),
            seq: u64::from_le_bytes(b[8..16].try_into().ok()?),
            op: Op::from_code(b[16])?,
            key_len: usize::from(u16::from_le_bytes(b[18..20].try_into().ok()?)),
            value_len: u32::from_le_bytes(b[20..24].try_into().ok()?) as usize,
            crc: u32::from_le_bytes(b[24..28].try_into().ok()?),
        };
        (h.key_len <= MAX_KEY && h.value_len <= MAX_VALUE).then_some(h)
    }

    /// Bytes of the record on disk (whole sectors).
    pub fn stored_len(&self, sector: usize) -> usize {
        (HEADER + self.key_len + self.value_len).div_ceil(sector) * sector
    }

    /// Checks the CRC over the whole record `b` (at least `HEADER + key + value` bytes); returns the key
    /// and value.
    pub fn verify<'a>(&self, b: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        let end = HEADER + self.key_len + self.value_len;
        if b.len() < end || crc32(crc32(0, &b[0..24]), &b[HEADER..end]) != self.crc {
            return None;
        }
        Some((&b[HEADER..HEADER + self.key_len], &b[HEADER + self.key_len..end]))
    }
}
