//! `struct netif_rx_request` (8 bytes) and `struct netif_rx_response` (8 bytes).

use xen_traits::GrantRef;
use xenbus::RingEntry;

use super::{get_u16, get_u32, set_u16, set_u32, Truncated};

/// Byte offsets of the fields.
pub mod field {
    /// request `uint16_t id`
    pub const REQ_ID: usize = 0;
    /// request `uint16_t pad`
    pub const REQ_PAD: usize = 2;
    /// request `grant_ref_t gref`
    pub const REQ_GREF: usize = 4;
    /// `sizeof(struct netif_rx_request)`
    pub const REQ_LEN: usize = 8;
    /// response `uint16_t id`
    pub const RSP_ID: usize = 0;
    /// response `uint16_t offset`
    pub const RSP_OFFSET: usize = 2;
    /// response `uint16_t flags`
    pub const RSP_FLAGS: usize = 4;
    /// response `int16_t status`
    pub const RSP_STATUS: usize = 6;
    /// `sizeof(struct netif_rx_response)`
    pub const RSP_LEN: usize = 8;
}

/// A view of a `netif_rx_request` in a byte buffer.
#[derive(Debug, Clone)]
pub struct RxRequestPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> RxRequestPacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buf: T) -> Self {
        RxRequestPacket { buf }
    }
    /// Wrap, checking the length.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        let p = Self::new_unchecked(buf);
        p.check_len()?;
        Ok(p)
    }
    /// At least [`field::REQ_LEN`] bytes.
    pub fn check_len(&self) -> Result<(), Truncated> {
        if self.buf.as_ref().len() < field::REQ_LEN {
            Err(Truncated)
        } else {
            Ok(())
        }
    }
    /// `id`
    pub fn id(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::REQ_ID)
    }
    /// `gref`
    pub fn gref(&self) -> u32 {
        get_u32(self.buf.as_ref(), field::REQ_GREF)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RxRequestPacket<T> {
    /// Set `id` (and clear `pad`).
    pub fn set_id(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::REQ_ID, v);
        set_u16(self.buf.as_mut(), field::REQ_PAD, 0);
    }
    /// Set `gref`.
    pub fn set_gref(&mut self, v: u32) {
        set_u32(self.buf.as_mut(), field::REQ_GREF, v)
    }
}

/// A receive request: a granted page the backend may copy one slot of a packet into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxRequest {
    /// Echoed in the response.
    pub id: u16,
    /// The granted page (writable by the backend).
    pub gref: GrantRef,
}

impl RxRequest {
    /// Parse a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &RxRequestPacket<T>) -> Result<Self, Truncated> {
        p.check_len()?;
        Ok(Self::decode(p.buf.as_ref()))
    }
    /// Write into a packet.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut RxRequestPacket<T>) {
        p.set_id(self.id);
        p.set_gref(self.gref.0);
    }
}

impl RingEntry for RxRequest {
    const SIZE: usize = field::REQ_LEN;
    const ALIGN: usize = 4;
    fn encode(&self, out: &mut [u8]) {
        self.emit(&mut RxRequestPacket::new_unchecked(out))
    }
    fn decode(src: &[u8]) -> Self {
        let p = RxRequestPacket::new_unchecked(src);
        RxRequest {
            id: p.id(),
            gref: GrantRef(p.gref()),
        }
    }
}

/// A view of a `netif_rx_response` in a byte buffer.
#[derive(Debug, Clone)]
pub struct RxResponsePacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> RxResponsePacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buf: T) -> Self {
        RxResponsePacket { buf }
    }
    /// Wrap, checking the length.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        let p = Self::new_unchecked(buf);
        p.check_len()?;
        Ok(p)
    }
    /// At least [`field::RSP_LEN`] bytes.
    pub fn check_len(&self) -> Result<(), Truncated> {
        if self.buf.as_ref().len() < field::RSP_LEN {
            Err(Truncated)
        } else {
            Ok(())
        }
    }
    /// `id`
    pub fn id(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::RSP_ID)
    }
    /// `offset`
    pub fn offset(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::RSP_OFFSET)
    }
    /// `flags`
    pub fn flags(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::RSP_FLAGS)
    }
    /// `status`
    pub fn status(&self) -> i16 {
        get_u16(self.buf.as_ref(), field::RSP_STATUS) as i16
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RxResponsePacket<T> {
    /// Set `id`.
    pub fn set_id(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::RSP_ID, v)
    }
    /// Set `offset`.
    pub fn set_offset(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::RSP_OFFSET, v)
    }
    /// Set `flags`.
    pub fn set_flags(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::RSP_FLAGS, v)
    }
    /// Set `status`.
    pub fn set_status(&mut self, v: i16) {
        set_u16(self.buf.as_mut(), field::RSP_STATUS, v as u16)
    }
}

/// A receive response. The slot may instead hold an [`super::ExtraInfo`] when the previous response had
/// `NETRXF_extra_info`; the raw bytes are the same 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxResponse {
    /// The request's id.
    pub id: u16,
    /// Start of the data in the page.
    pub offset: u16,
    /// `NETRXF_*`
    pub flags: u16,
    /// Negative: `NETIF_RSP_*`; otherwise the number of bytes in this slot.
    pub status: i16,
}

impl RxResponse {
    /// Parse a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &RxResponsePacket<T>) -> Result<Self, Truncated> {
        p.check_len()?;
        Ok(Self::decode(p.buf.as_ref()))
    }
    /// Write into a packet.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut RxResponsePacket<T>) {
        p.set_id(self.id);
        p.set_offset(self.offset);
        p.set_flags(self.flags);
        p.set_status(self.status);
    }
    /// The raw bytes (to reinterpret the slot as an extra-info entry).
    pub fn to_bytes(&self) -> [u8; field::RSP_LEN] {
        let mut b = [0u8; field::RSP_LEN];
        self.encode(&mut b);
        b
    }
}

impl RingEntry for RxResponse {
    const SIZE: usize = field::RSP_LEN;
    const ALIGN: usize = 2;
    fn encode(&self, out: &mut [u8]) {
        self.emit(&mut RxResponsePacket::new_unchecked(out))
    }
    fn decode(src: &[u8]) -> Self {
        let p = RxResponsePacket::new_unchecked(src);
        RxResponse {
            id: p.id(),
            offset: p.offset(),
            flags: p.flags(),
            status: p.status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let r = RxRequest {
            id: 0x0201,
            gref: GrantRef(0x0807_0605),
        };
        let mut b = [0xffu8; 8];
        r.encode(&mut b);
        assert_eq!(b, [1, 2, 0, 0, 5, 6, 7, 8]);
        assert_eq!(RxRequest::decode(&b), r);
        let p = RxRequestPacket::new_checked(&b[..]).unwrap();
        assert_eq!(RxRequest::parse(&p), Ok(r));
        assert!(RxRequestPacket::new_checked(&b[..7]).is_err());
    }

    #[test]
    fn response_layout() {
        let r = RxResponse {
            id: 0x0201,
            offset: 0x0403,
            flags: 0x0605,
            status: -1,
        };
        assert_eq!(r.to_bytes(), [1, 2, 3, 4, 5, 6, 0xff, 0xff]);
        assert_eq!(RxResponse::decode(&r.to_bytes()), r);
        let b = r.to_bytes();
        assert_eq!(
            RxResponse::parse(&RxResponsePacket::new_checked(&b[..]).unwrap()),
            Ok(r)
        );
        assert!(RxResponsePacket::new_checked(&b[..7]).is_err());
    }
}
