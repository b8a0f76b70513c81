//! `struct netif_extra_info` (8 bytes on the wire; 12 in a tx slot, the tail being padding).
//!
//! Only the GSO variant is interpreted; the others are carried as raw bytes.

use super::{get_u16, set_u16, Truncated, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE_GSO};
use xenbus::RingEntry;

/// Byte offsets of the fields.
pub mod field {
    /// `uint8_t type`
    pub const TYPE: usize = 0;
    /// `uint8_t flags`
    pub const FLAGS: usize = 1;
    /// `u.gso.size`: the MSS.
    pub const GSO_SIZE: usize = 2;
    /// `u.gso.type`: `XEN_NETIF_GSO_TYPE_*`.
    pub const GSO_TYPE: usize = 4;
    /// `u.gso.pad`
    pub const GSO_PAD: usize = 5;
    /// `u.gso.features`
    pub const GSO_FEATURES: usize = 6;
    /// `sizeof(struct netif_extra_info)`
    pub const LEN: usize = 8;
}

/// `XEN_NETIF_GSO_TYPE_*`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoType {
    /// `XEN_NETIF_GSO_TYPE_TCPV4`
    TcpV4,
    /// `XEN_NETIF_GSO_TYPE_TCPV6`
    TcpV6,
}

impl GsoType {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            GsoType::TcpV4 => 1,
            GsoType::TcpV6 => 2,
        }
    }
    /// Decode; `None` for `NONE` and unknown types.
    pub const fn from_u8(v: u8) -> Option<GsoType> {
        match v {
            1 => Some(GsoType::TcpV4),
            2 => Some(GsoType::TcpV6),
            _ => None,
        }
    }
}

/// A view of a `netif_extra_info` in a byte buffer.
#[derive(Debug, Clone)]
pub struct ExtraInfoPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> ExtraInfoPacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buf: T) -> Self {
        ExtraInfoPacket { buf }
    }
    /// Wrap, checking the length.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        let p = Self::new_unchecked(buf);
        p.check_len()?;
        Ok(p)
    }
    /// At least [`field::LEN`] bytes.
    pub fn check_len(&self) -> Result<(), Truncated> {
        if self.buf.as_ref().len() < field::LEN {
            Err(Truncated)
        } else {
            Ok(())
        }
    }
    fn byte(&self, at: usize) -> u8 {
        self.buf.as_ref().get(at).copied().unwrap_or(0)
    }
    /// `type`
    pub fn extra_type(&self) -> u8 {
        self.byte(field::TYPE)
    }
    /// `flags`
    pub fn flags(&self) -> u8 {
        self.byte(field::FLAGS)
    }
    /// `u.gso.size`
    pub fn gso_size(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::GSO_SIZE)
    }
    /// `u.gso.type`
    pub fn gso_type(&self) -> u8 {
        self.byte(field::GSO_TYPE)
    }
    /// `u.gso.features`
    pub fn gso_features(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::GSO_FEATURES)
    }
    /// The 6 type-specific bytes.
    pub fn payload(&self) -> [u8; 6] {
        let mut p = [0u8; 6];
        for (i, b) in p.iter_mut().enumerate() {
            *b = self.byte(2 + i);
        }
        p
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ExtraInfoPacket<T> {
    fn set_byte(&mut self, at: usize, v: u8) {
        if let Some(b) = self.buf.as_mut().get_mut(at) {
            *b = v;
        }
    }
    /// Set `type`.
    pub fn set_extra_type(&mut self, v: u8) {
        self.set_byte(field::TYPE, v)
    }
    /// Set `flags`.
    pub fn set_flags(&mut self, v: u8) {
        self.set_byte(field::FLAGS, v)
    }
    /// Set the 6 type-specific bytes.
    pub fn set_payload(&mut self, p: [u8; 6]) {
        for (i, b) in p.into_iter().enumerate() {
            self.set_byte(2 + i, b);
        }
    }
    /// Set the GSO fields (size, type, pad = 0, features).
    pub fn set_gso(&mut self, size: u16, gso_type: u8, features: u16) {
        set_u16(self.buf.as_mut(), field::GSO_SIZE, size);
        self.set_byte(field::GSO_TYPE, gso_type);
        self.set_byte(field::GSO_PAD, 0);
        set_u16(self.buf.as_mut(), field::GSO_FEATURES, features);
    }
}

/// An extra-info slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtraInfo {
    /// `XEN_NETIF_EXTRA_TYPE_GSO`
    Gso {
        /// The segment size (MSS).
        size: u16,
        /// The raw GSO type (see [`GsoType::from_u8`]).
        gso_type: u8,
        /// `XEN_NETIF_GSO_FEAT_*`
        features: u16,
        /// Another extra slot follows.
        more: bool,
    },
    /// Any other type (multicast, hash, or invalid ones the datapath rejects).
    Other {
        /// `type`
        extra_type: u8,
        /// `flags`
        flags: u8,
        /// The type-specific bytes.
        payload: [u8; 6],
    },
}

impl ExtraInfo {
    /// A GSO extra with no further extra slot.
    pub const fn gso(mss: u16, t: GsoType) -> ExtraInfo {
        ExtraInfo::Gso {
            size: mss,
            gso_type: t.to_u8(),
            features: 0,
            more: false,
        }
    }
    /// The `type` byte.
    pub fn extra_type(&self) -> u8 {
        match self {
            ExtraInfo::Gso { .. } => XEN_NETIF_EXTRA_TYPE_GSO,
            ExtraInfo::Other { extra_type, .. } => *extra_type,
        }
    }
    /// Whether `XEN_NETIF_EXTRA_FLAG_MORE` is set.
    pub fn more(&self) -> bool {
        match self {
            ExtraInfo::Gso { more, .. } => *more,
            ExtraInfo::Other { flags, .. } => flags & XEN_NETIF_EXTRA_FLAG_MORE != 0,
        }
    }
    /// Parse a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &ExtraInfoPacket<T>) -> Result<Self, Truncated> {
        p.check_len()?;
        Ok(Self::decode(p.buf.as_ref()))
    }
    /// Write into a packet (at least [`field::LEN`] bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ExtraInfoPacket<T>) {
        match *self {
            ExtraInfo::Gso {
                size,
                gso_type,
                features,
                more,
            } => {
                p.set_extra_type(XEN_NETIF_EXTRA_TYPE_GSO);
                p.set_flags(if more { XEN_NETIF_EXTRA_FLAG_MORE } else { 0 });
                p.set_gso(size, gso_type, features);
            }
            ExtraInfo::Other {
                extra_type,
                flags,
                payload,
            } => {
                p.set_extra_type(extra_type);
                p.set_flags(flags);
                p.set_payload(payload);
            }
        }
    }
}

/// In a tx ring an extra-info slot is 12 bytes wide (the tail is padding, written as zeros).
impl RingEntry for ExtraInfo {
    const SIZE: usize = field::LEN;
    const ALIGN: usize = 2;
    fn encode(&self, out: &mut [u8]) {
        self.emit(&mut ExtraInfoPacket::new_unchecked(out))
    }
    fn decode(src: &[u8]) -> Self {
        let p = ExtraInfoPacket::new_unchecked(src);
        if p.extra_type() == XEN_NETIF_EXTRA_TYPE_GSO {
            ExtraInfo::Gso {
                size: p.gso_size(),
                gso_type: p.gso_type(),
                features: p.gso_features(),
                more: p.flags() & XEN_NETIF_EXTRA_FLAG_MORE != 0,
            }
        } else {
            ExtraInfo::Other {
                extra_type: p.extra_type(),
                flags: p.flags(),
                payload: p.payload(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gso_layout() {
        let e = ExtraInfo::Gso {
            size: 1448,
            gso_type: GsoType::TcpV4.to_u8(),
            features: 0x0102,
            more: true,
        };
        let mut b = [0xaau8; 8];
        e.encode(&mut b);
        let mss = 1448u16.to_le_bytes();
        assert_eq!(b, [1, 1, mss[0], mss[1], 1, 0, 2, 1]);
        assert_eq!(ExtraInfo::decode(&b), e);
        assert!(e.more());
        let p = ExtraInfoPacket::new_checked(&b[..]).unwrap();
        assert_eq!(ExtraInfo::parse(&p), Ok(e));
        assert!(ExtraInfoPacket::new_checked(&b[..7]).is_err());
        assert_eq!(GsoType::from_u8(2), Some(GsoType::TcpV6));
        assert_eq!(GsoType::from_u8(0), None);
    }

    #[test]
    fn other_types_are_kept_raw() {
        let b = [2u8, 0, 1, 2, 3, 4, 5, 6];
        let e = ExtraInfo::decode(&b);
        assert_eq!(
            e,
            ExtraInfo::Other {
                extra_type: 2,
                flags: 0,
                payload: [1, 2, 3, 4, 5, 6]
            }
        );
        let mut out = [0u8; 8];
        e.encode(&mut out);
        assert_eq!(out, b);
        assert!(!e.more());
    }
}
