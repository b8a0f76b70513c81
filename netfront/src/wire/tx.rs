//! `struct netif_tx_request` (12 bytes) and `struct netif_tx_response` (4 bytes).

use xen_traits::GrantRef;
use xenbus::RingEntry;

use super::{get_u16, get_u32, set_u16, set_u32, Truncated};

/// Byte offsets of the fields.
pub mod field {
    /// `grant_ref_t gref`
    pub const GREF: usize = 0;
    /// `uint16_t offset`
    pub const OFFSET: usize = 4;
    /// `uint16_t flags`
    pub const FLAGS: usize = 6;
    /// `uint16_t id`
    pub const ID: usize = 8;
    /// `uint16_t size`
    pub const SIZE: usize = 10;
    /// `sizeof(struct netif_tx_request)`
    pub const REQ_LEN: usize = 12;
    /// response `uint16_t id`
    pub const RSP_ID: usize = 0;
    /// response `int16_t status`
    pub const RSP_STATUS: usize = 2;
    /// `sizeof(struct netif_tx_response)`
    pub const RSP_LEN: usize = 4;
}

/// A view of a `netif_tx_request` in a byte buffer.
#[derive(Debug, Clone)]
pub struct TxRequestPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TxRequestPacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buf: T) -> Self {
        TxRequestPacket { buf }
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
    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }
    /// `gref`
    pub fn gref(&self) -> u32 {
        get_u32(self.buf.as_ref(), field::GREF)
    }
    /// `offset`
    pub fn offset(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::OFFSET)
    }
    /// `flags`
    pub fn flags(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::FLAGS)
    }
    /// `id`
    pub fn id(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::ID)
    }
    /// `size`
    pub fn size(&self) -> u16 {
        get_u16(self.buf.as_ref(), field::SIZE)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TxRequestPacket<T> {
    /// Set `gref`.
    pub fn set_gref(&mut self, v: u32) {
        set_u32(self.buf.as_mut(), field::GREF, v)
    }
    /// Set `offset`.
    pub fn set_offset(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::OFFSET, v)
    }
    /// Set `flags`.
    pub fn set_flags(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::FLAGS, v)
    }
    /// Set `id`.
    pub fn set_id(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::ID, v)
    }
    /// Set `size`.
    pub fn set_size(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::SIZE, v)
    }
}

/// A transmit request: one slot of packet data in a granted page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxRequest {
    /// The granted page.
    pub gref: GrantRef,
    /// Start of the data in the page.
    pub offset: u16,
    /// `NETTXF_*`
    pub flags: u16,
    /// Echoed in the response.
    pub id: u16,
    /// First slot: the whole packet's size; later slots: this slot's size.
    pub size: u16,
}

impl TxRequest {
    /// Parse a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &TxRequestPacket<T>) -> Result<Self, Truncated> {
        p.check_len()?;
        Ok(TxRequest {
            gref: GrantRef(p.gref()),
            offset: p.offset(),
            flags: p.flags(),
            id: p.id(),
            size: p.size(),
        })
    }
    /// Write into a packet (at least [`field::REQ_LEN`] bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut TxRequestPacket<T>) {
        p.set_gref(self.gref.0);
        p.set_offset(self.offset);
        p.set_flags(self.flags);
        p.set_id(self.id);
        p.set_size(self.size);
    }
}

impl RingEntry for TxRequest {
    const SIZE: usize = field::REQ_LEN;
    const ALIGN: usize = 4;
    fn encode(&self, out: &mut [u8]) {
        self.emit(&mut TxRequestPacket::new_unchecked(out))
    }
    fn decode(src: &[u8]) -> Self {
        let p = TxRequestPacket::new_unchecked(src);
        TxRequest {
            gref: GrantRef(p.gref()),
            offset: p.offset(),
            flags: p.flags(),
            id: p.id(),
            size: p.size(),
        }
    }
}

/// A view of a `netif_tx_response` in a byte buffer.
#[derive(Debug, Clone)]
pub struct TxResponsePacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TxResponsePacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buf: T) -> Self {
        TxResponsePacket { buf }
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
    /// `status`
    pub fn status(&self) -> i16 {
        get_u16(self.buf.as_ref(), field::RSP_STATUS) as i16
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TxResponsePacket<T> {
    /// Set `id`.
    pub fn set_id(&mut self, v: u16) {
        set_u16(self.buf.as_mut(), field::RSP_ID, v)
    }
    /// Set `status`.
    pub fn set_status(&mut self, v: i16) {
        set_u16(self.buf.as_mut(), field::RSP_STATUS, v as u16)
    }
}

/// A transmit response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxResponse {
    /// The request's id.
    pub id: u16,
    /// `NETIF_RSP_*`
    pub status: i16,
}

impl TxResponse {
    /// Parse a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &TxResponsePacket<T>) -> Result<Self, Truncated> {
        p.check_len()?;
        Ok(TxResponse {
            id: p.id(),
            status: p.status(),
        })
    }
    /// Write into a packet.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut TxResponsePacket<T>) {
        p.set_id(self.id);
        p.set_status(self.status);
    }
}

impl RingEntry for TxResponse {
    const SIZE: usize = field::RSP_LEN;
    const ALIGN: usize = 2;
    fn encode(&self, out: &mut [u8]) {
        self.emit(&mut TxResponsePacket::new_unchecked(out))
    }
    fn decode(src: &[u8]) -> Self {
        let p = TxResponsePacket::new_unchecked(src);
        TxResponse {
            id: p.id(),
            status: p.status(),
        }
    }
}

/// What a tx ring slot carries on the request side: a request, or the extra-info entry that follows a
/// request with `NETTXF_extra_info` (8 bytes, then 4 bytes of zero padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxSlot {
    /// A data request.
    Request(TxRequest),
    /// An extra-info entry.
    Extra(super::ExtraInfo),
}

impl TxSlot {
    /// Reinterpret a slot decoded as a request as an extra-info entry (its first 8 bytes).
    pub fn extra_from_request(r: &TxRequest) -> super::ExtraInfo {
        let mut b = [0u8; field::REQ_LEN];
        r.encode(&mut b);
        super::ExtraInfo::decode(&b[..super::extra::field::LEN])
    }
}

impl RingEntry for TxSlot {
    const SIZE: usize = field::REQ_LEN;
    const ALIGN: usize = 4;
    fn encode(&self, out: &mut [u8]) {
        match self {
            TxSlot::Request(r) => r.encode(out),
            TxSlot::Extra(e) => {
                out.fill(0);
                e.encode(&mut out[..super::extra::field::LEN]);
            }
        }
    }
    /// Always a request: which slots are extras is known only from the previous slot's flags.
    fn decode(src: &[u8]) -> Self {
        TxSlot::Request(TxRequest::decode(src))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_and_layout() {
        let r = TxRequest {
            gref: GrantRef(0x0403_0201),
            offset: 0x0605,
            flags: 0x0807,
            id: 0x0a09,
            size: 0x0c0b,
        };
        let mut b = [0u8; 12];
        r.encode(&mut b);
        assert_eq!(b, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(TxRequest::decode(&b), r);
        let p = TxRequestPacket::new_checked(&b[..]).unwrap();
        assert_eq!(TxRequest::parse(&p), Ok(r));
        assert_eq!(
            TxRequestPacket::new_checked(&b[..11]).err(),
            Some(Truncated)
        );
        // Unchecked short buffers read as zero, never panic.
        assert_eq!(TxRequestPacket::new_unchecked(&b[..3]).size(), 0);
    }

    #[test]
    fn extra_slot_in_a_tx_ring() {
        let e = super::super::ExtraInfo::gso(1448, super::super::GsoType::TcpV4);
        let mut b = [0xffu8; 12];
        TxSlot::Extra(e).encode(&mut b);
        assert_eq!(&b[8..], &[0, 0, 0, 0]);
        let TxSlot::Request(r) = TxSlot::decode(&b) else {
            panic!("decodes as a request")
        };
        assert_eq!(TxSlot::extra_from_request(&r), e);
    }

    #[test]
    fn response_round_trip() {
        let r = TxResponse { id: 7, status: -2 };
        let mut b = [0u8; 4];
        r.encode(&mut b);
        assert_eq!(b, [7, 0, 0xfe, 0xff]);
        assert_eq!(TxResponse::decode(&b), r);
        assert_eq!(
            TxResponsePacket::new_checked(&b[..3]).err(),
            Some(Truncated)
        );
    }
}
