//! The xenstore message format of `io/xs_wire.h`, in the style of smoltcp's `wire` module.
//!
//! A message is a 16-byte header (`struct xsd_sockmsg`: type, req_id, tx_id, len — native-endian `u32`s,
//! little-endian on x86) followed by `len` bytes of payload, `len <= XENSTORE_PAYLOAD_MAX`.
//! [`Packet`] wraps a byte buffer; [`Packet::new_checked`] validates the lengths once, after which no
//! accessor can panic. [`Repr`] is the parsed, high-level form.

use core::fmt;

/// Largest payload a message may carry (`XENSTORE_PAYLOAD_MAX`).
pub const XENSTORE_PAYLOAD_MAX: usize = 4096;
/// Longest absolute path xenstored accepts (`XENSTORE_ABS_PATH_MAX`).
pub const XENSTORE_ABS_PATH_MAX: usize = 3072;
/// Longest relative path xenstored accepts (`XENSTORE_REL_PATH_MAX`).
pub const XENSTORE_REL_PATH_MAX: usize = 2048;
/// Size of the message header (`sizeof(struct xsd_sockmsg)`).
pub const HEADER_LEN: usize = 16;

/// Byte ranges of the header fields.
pub mod field {
    use core::ops::Range;
    /// `type`
    pub const TYPE: Range<usize> = 0..4;
    /// `req_id`
    pub const REQ_ID: Range<usize> = 4..8;
    /// `tx_id`
    pub const TX_ID: Range<usize> = 8..12;
    /// `len`
    pub const LEN: Range<usize> = 12..16;
    /// Start of the payload.
    pub const PAYLOAD: usize = 16;
}

/// `enum xsd_sockmsg_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[allow(missing_docs)]
pub enum MsgType {
    Control = 0,
    Directory = 1,
    Read = 2,
    GetPerms = 3,
    Watch = 4,
    Unwatch = 5,
    TransactionStart = 6,
    TransactionEnd = 7,
    Introduce = 8,
    Release = 9,
    GetDomainPath = 10,
    Write = 11,
    Mkdir = 12,
    Rm = 13,
    SetPerms = 14,
    WatchEvent = 15,
    Error = 16,
    IsDomainIntroduced = 17,
    Resume = 18,
    SetTarget = 19,
    // 20 was XS_RESTRICT, removed.
    ResetWatches = 21,
    DirectoryPart = 22,
}

impl MsgType {
    /// `XS_TYPE_COUNT`: one past the last valid type.
    pub const TYPE_COUNT: u32 = 23;
    /// `XS_INVALID`: guaranteed never to be a valid type.
    pub const INVALID: u32 = 0xffff;

    /// Decode a type number; `None` for unknown or removed types.
    pub const fn from_u32(v: u32) -> Option<MsgType> {
        use MsgType::*;
        Some(match v {
            0 => Control,
            1 => Directory,
            2 => Read,
            3 => GetPerms,
            4 => Watch,
            5 => Unwatch,
            6 => TransactionStart,
            7 => TransactionEnd,
            8 => Introduce,
            9 => Release,
            10 => GetDomainPath,
            11 => Write,
            12 => Mkdir,
            13 => Rm,
            14 => SetPerms,
            15 => WatchEvent,
            16 => Error,
            17 => IsDomainIntroduced,
            18 => Resume,
            19 => SetTarget,
            21 => ResetWatches,
            22 => DirectoryPart,
            _ => return None,
        })
    }
}

/// Why a buffer is not a valid xenstore message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Truncated,
    /// The `len` field exceeds [`XENSTORE_PAYLOAD_MAX`].
    PayloadTooLong(u32),
    /// The buffer is shorter than the header plus `len`.
    PayloadTruncated,
    /// The `type` field is not a known message type.
    UnknownType(u32),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => write!(f, "message shorter than its 16-byte header"),
            WireError::PayloadTooLong(n) => {
                write!(
                    f,
                    "payload length {n} exceeds XENSTORE_PAYLOAD_MAX ({XENSTORE_PAYLOAD_MAX})"
                )
            }
            WireError::PayloadTruncated => write!(f, "buffer shorter than header + len"),
            WireError::UnknownType(t) => write!(f, "unknown message type {t}"),
        }
    }
}

fn get_u32(buf: &[u8], r: core::ops::Range<usize>) -> u32 {
    match buf.get(r) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn set_u32(buf: &mut [u8], r: core::ops::Range<usize>, v: u32) {
    if let Some(dst) = buf.get_mut(r) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

/// A read/write wrapper around a xenstore message buffer.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it. Accessors stay panic-free (they return 0 / empty slices for
    /// missing bytes), but the values are meaningless until [`Packet::check_len`] succeeds.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer and check that it holds a whole message ([`Packet::check_len`]).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check that the buffer holds the header, that `len <= XENSTORE_PAYLOAD_MAX`, and that the payload is
    /// all there. Extra bytes after the payload are allowed (and ignored).
    pub fn check_len(&self) -> Result<(), WireError> {
        let buf = self.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = self.len();
        if len as usize > XENSTORE_PAYLOAD_MAX {
            return Err(WireError::PayloadTooLong(len));
        }
        if buf.len() < HEADER_LEN + len as usize {
            return Err(WireError::PayloadTruncated);
        }
        Ok(())
    }

    /// Unwrap the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The raw `type` field.
    pub fn msg_type(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::TYPE)
    }
    /// The `req_id` field.
    pub fn req_id(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::REQ_ID)
    }
    /// The `tx_id` field.
    pub fn tx_id(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::TX_ID)
    }
    /// The `len` field.
    pub fn len(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::LEN)
    }
    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The payload (`len` bytes after the header; empty if the buffer was not checked and is short).
    pub fn payload(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let end = HEADER_LEN.saturating_add(self.len() as usize);
        buf.get(field::PAYLOAD..end).unwrap_or(&[])
    }
    /// Total length of the message: header plus payload.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.len() as usize
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the `type` field.
    pub fn set_msg_type(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::TYPE, v)
    }
    /// Set the `req_id` field.
    pub fn set_req_id(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::REQ_ID, v)
    }
    /// Set the `tx_id` field.
    pub fn set_tx_id(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::TX_ID, v)
    }
    /// Set the `len` field.
    pub fn set_len(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::LEN, v)
    }
    /// The payload, mutable (`len` bytes after the header, or less if the buffer is short).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN.saturating_add(self.len() as usize);
        let buf = self.buffer.as_mut();
        let end = end.min(buf.len());
        buf.get_mut(field::PAYLOAD.min(end)..end).unwrap_or(&mut [])
    }
}

/// A parsed xenstore message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Message type.
    pub msg_type: MsgType,
    /// Request id, echoed by the daemon in its reply.
    pub req_id: u32,
    /// Transaction id (0 outside transactions).
    pub tx_id: u32,
    /// The payload bytes (usually nul-terminated strings).
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parse a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &'a Packet<&'a T>,
    ) -> Result<Repr<'a>, WireError> {
        packet.check_len()?;
        let t = packet.msg_type();
        let msg_type = MsgType::from_u32(t).ok_or(WireError::UnknownType(t))?;
        Ok(Repr {
            msg_type,
            req_id: packet.req_id(),
            tx_id: packet.tx_id(),
            payload: packet.payload(),
        })
    }

    /// Parse a message from the start of `buf`.
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Repr<'a>, WireError> {
        let p = Packet::new_checked(buf)?;
        let t = p.msg_type();
        let msg_type = MsgType::from_u32(t).ok_or(WireError::UnknownType(t))?;
        let end = p.total_len();
        Ok(Repr {
            msg_type,
            req_id: p.req_id(),
            tx_id: p.tx_id(),
            payload: buf.get(field::PAYLOAD..end).unwrap_or(&[]),
        })
    }

    /// Bytes needed to emit this message.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Write the message into `packet`, whose buffer must be at least [`Repr::buffer_len`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
    ) -> Result<(), WireError> {
        if self.payload.len() > XENSTORE_PAYLOAD_MAX {
            return Err(WireError::PayloadTooLong(self.payload.len() as u32));
        }
        if packet.buffer.as_ref().len() < self.buffer_len() {
            return Err(WireError::PayloadTruncated);
        }
        packet.set_msg_type(self.msg_type as u32);
        packet.set_req_id(self.req_id);
        packet.set_tx_id(self.tx_id);
        packet.set_len(self.payload.len() as u32);
        packet.payload_mut().copy_from_slice(self.payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let repr = Repr {
            msg_type: MsgType::Write,
            req_id: 7,
            tx_id: 3,
            payload: b"a/b\0v",
        };
        let mut buf = [0u8; 64];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        repr.emit(&mut p).unwrap();
        assert_eq!(
            &buf[..16],
            &[11, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0]
        );
        let parsed = Repr::parse_bytes(&buf).unwrap();
        assert_eq!(parsed, repr);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn rejects_short_and_long() {
        assert_eq!(Repr::parse_bytes(&[0u8; 15]), Err(WireError::Truncated));
        let mut buf = [0u8; 20];
        buf[12..16].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(Repr::parse_bytes(&buf), Err(WireError::PayloadTruncated));
        buf[12..16].copy_from_slice(&4097u32.to_le_bytes());
        assert_eq!(
            Repr::parse_bytes(&buf),
            Err(WireError::PayloadTooLong(4097))
        );
        buf[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Repr::parse_bytes(&buf),
            Err(WireError::PayloadTooLong(u32::MAX))
        );
        // unchecked accessors do not panic on a hostile len
        let p = Packet::new_unchecked(&buf[..]);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn rejects_unknown_types() {
        let mut buf = [0u8; 16];
        for t in [20u32, 23, 0xffff, u32::MAX] {
            buf[0..4].copy_from_slice(&t.to_le_bytes());
            assert_eq!(Repr::parse_bytes(&buf), Err(WireError::UnknownType(t)));
        }
        for t in 0..MsgType::TYPE_COUNT {
            if t == 20 {
                continue;
            }
            assert_eq!(MsgType::from_u32(t).map(|m| m as u32), Some(t));
        }
    }

    #[test]
    fn emit_rejects_oversized_payload_and_small_buffer() {
        let big = [b'x'; XENSTORE_PAYLOAD_MAX + 1];
        let repr = Repr {
            msg_type: MsgType::Write,
            req_id: 1,
            tx_id: 0,
            payload: &big,
        };
        let mut buf = [0u8; 8192];
        assert!(matches!(
            repr.emit(&mut Packet::new_unchecked(&mut buf[..])),
            Err(WireError::PayloadTooLong(_))
        ));
        let repr = Repr {
            msg_type: MsgType::Write,
            req_id: 1,
            tx_id: 0,
            payload: b"abc",
        };
        let mut small = [0u8; 18];
        assert_eq!(
            repr.emit(&mut Packet::new_unchecked(&mut small[..])),
            Err(WireError::PayloadTruncated)
        );
    }
}
