//! The `io/blkif.h` wire format, smoltcp style: a checked view over bytes ([`RequestPacket`],
//! [`ResponsePacket`], [`SegmentPacket`]) with field offsets in [`field`], and plain values
//! ([`RequestRepr`], [`ResponseRepr`], [`Segment`]) with `parse`/`emit`. Once a packet passed
//! `check_len`, no accessor panics.
//!
//! Layouts are the x86_64 ABI ones (`protocol = x86_64-abi`): `blkif_request` is 112 bytes, 8-aligned,
//! with 4 bytes of padding after `handle` so `id` sits at 8 and the segment array at 24. Checked against
//! `/usr/include/xen/io/blkif.h` by `tests/c_layout.rs`.
//!
//! All sector quantities on the wire (`sector_number`, `first_sect`/`last_sect`, discard `nr_sectors`) are
//! in 512-byte units whatever the disk's `sector-size` (what Linux blkfront/blkback do; the deprecated
//! `feature-large-sector-size` variant is not used).

use xen_traits::GrantRef;

/// `BLKIF_OP_READ`
pub const BLKIF_OP_READ: u8 = 0;
/// `BLKIF_OP_WRITE`
pub const BLKIF_OP_WRITE: u8 = 1;
/// `BLKIF_OP_WRITE_BARRIER`
pub const BLKIF_OP_WRITE_BARRIER: u8 = 2;
/// `BLKIF_OP_FLUSH_DISKCACHE`
pub const BLKIF_OP_FLUSH_DISKCACHE: u8 = 3;
/// `BLKIF_OP_RESERVED_1`
pub const BLKIF_OP_RESERVED_1: u8 = 4;
/// `BLKIF_OP_DISCARD`
pub const BLKIF_OP_DISCARD: u8 = 5;
/// `BLKIF_OP_INDIRECT`
pub const BLKIF_OP_INDIRECT: u8 = 6;

/// `BLKIF_RSP_OKAY`
pub const BLKIF_RSP_OKAY: i16 = 0;
/// `BLKIF_RSP_ERROR`
pub const BLKIF_RSP_ERROR: i16 = -1;
/// `BLKIF_RSP_EOPNOTSUPP`
pub const BLKIF_RSP_EOPNOTSUPP: i16 = -2;

/// `BLKIF_MAX_SEGMENTS_PER_REQUEST`
pub const MAX_SEGMENTS_PER_REQUEST: usize = 11;
/// `BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST`
pub const MAX_INDIRECT_PAGES_PER_REQUEST: usize = 8;
/// `sizeof(struct blkif_request_segment)`
pub const SEGMENT_LEN: usize = 8;
/// Segments in one indirect page (`PAGE_SIZE / sizeof(struct blkif_request_segment)`).
pub const SEGMENTS_PER_INDIRECT_FRAME: usize = xen_traits::PAGE_SIZE / SEGMENT_LEN;
/// `BLKIF_DISCARD_SECURE`
pub const BLKIF_DISCARD_SECURE: u8 = 1;
/// The unit of every sector quantity on the wire.
pub const WIRE_SECTOR: usize = 512;
/// 512-byte sectors in a page: `first_sect`/`last_sect` are below this.
pub const SECTORS_PER_PAGE: u8 = (xen_traits::PAGE_SIZE / WIRE_SECTOR) as u8;

/// `VDISK_CDROM`
pub const VDISK_CDROM: u32 = 0x1;
/// `VDISK_REMOVABLE`
pub const VDISK_REMOVABLE: u32 = 0x2;
/// `VDISK_READONLY`
pub const VDISK_READONLY: u32 = 0x4;

/// `XEN_IO_PROTO_ABI_X86_64`
pub const PROTOCOL_X86_64: &str = "x86_64-abi";

/// Field offsets (byte ranges) of the C structs.
pub mod field {
    use core::ops::Range;
    /// Common to every request: `operation`.
    pub const OPERATION: usize = 0;
    /// `blkif_request.nr_segments` / `blkif_request_discard.flag` / `blkif_request_indirect.indirect_op`.
    pub const BYTE1: usize = 1;
    /// `blkif_request.handle` / `blkif_request_discard.handle` / `blkif_request_indirect.nr_segments`.
    pub const HALF2: Range<usize> = 2..4;
    /// `id` (all requests).
    pub const ID: Range<usize> = 8..16;
    /// `sector_number` (all requests).
    pub const SECTOR: Range<usize> = 16..24;
    /// `blkif_request.seg[0]`
    pub const SEGS: usize = 24;
    /// `blkif_request_discard.nr_sectors`
    pub const DISCARD_NR_SECTORS: Range<usize> = 24..32;
    /// `blkif_request_indirect.handle`
    pub const INDIRECT_HANDLE: Range<usize> = 24..26;
    /// `blkif_request_indirect.indirect_grefs[0]`
    pub const INDIRECT_GREFS: usize = 28;
    /// `sizeof(struct blkif_request)`
    pub const REQUEST_LEN: usize = 112;
    /// `sizeof(struct blkif_request_discard)`
    pub const DISCARD_LEN: usize = 32;
    /// `sizeof(struct blkif_request_indirect)`
    pub const INDIRECT_LEN: usize = 64;

    /// `blkif_request_segment.gref`
    pub const SEG_GREF: Range<usize> = 0..4;
    /// `blkif_request_segment.first_sect`
    pub const SEG_FIRST: usize = 4;
    /// `blkif_request_segment.last_sect`
    pub const SEG_LAST: usize = 5;

    /// `blkif_response.id`
    pub const RSP_ID: Range<usize> = 0..8;
    /// `blkif_response.operation`
    pub const RSP_OPERATION: usize = 8;
    /// `blkif_response.status`
    pub const RSP_STATUS: Range<usize> = 10..12;
    /// `sizeof(struct blkif_response)`
    pub const RESPONSE_LEN: usize = 16;
}

/// A buffer too short for the structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncated;

/// Why a request did not parse (requests are parsed by tests, fuzzers and fake backends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Buffer too short.
    Truncated,
    /// `nr_segments` beyond the limit of the request kind.
    TooManySegments,
    /// An operation this codec does not know.
    UnknownOperation(u8),
}

fn u16_at(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    u16::from_le_bytes([b[r.start], b[r.start + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], r: core::ops::Range<usize>) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[r]);
    u64::from_le_bytes(v)
}

/// One `blkif_request_segment`: a granted page and the 512-byte sectors of it to transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The granted frame.
    pub gref: GrantRef,
    /// First 512-byte sector in the frame (inclusive).
    pub first_sect: u8,
    /// Last 512-byte sector in the frame (inclusive).
    pub last_sect: u8,
}

impl Default for Segment {
    fn default() -> Self {
        Segment {
            gref: GrantRef(0),
            first_sect: 0,
            last_sect: 0,
        }
    }
}

impl Segment {
    /// Bytes the segment covers, or `None` if the sector range is empty or leaves the page.
    pub fn bytes(&self) -> Option<usize> {
        if self.first_sect > self.last_sect || self.last_sect >= SECTORS_PER_PAGE {
            None
        } else {
            Some((self.last_sect - self.first_sect + 1) as usize * WIRE_SECTOR)
        }
    }
}

/// A checked view of one segment (8 bytes; in a request or an indirect page).
#[derive(Debug)]
pub struct SegmentPacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> SegmentPacket<T> {
    /// Wrap and check the length.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        if buf.as_ref().len() < SEGMENT_LEN {
            return Err(Truncated);
        }
        Ok(SegmentPacket { buf })
    }
    /// Parse.
    pub fn repr(&self) -> Segment {
        let b = self.buf.as_ref();
        Segment {
            gref: GrantRef(u32_at(b, field::SEG_GREF.start)),
            first_sect: b[field::SEG_FIRST],
            last_sect: b[field::SEG_LAST],
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SegmentPacket<T> {
    /// Emit (padding zeroed).
    pub fn set(&mut self, s: &Segment) {
        let b = &mut self.buf.as_mut()[..SEGMENT_LEN];
        b[field::SEG_GREF].copy_from_slice(&s.gref.0.to_le_bytes());
        b[field::SEG_FIRST] = s.first_sect;
        b[field::SEG_LAST] = s.last_sect;
        b[6] = 0;
        b[7] = 0;
    }
}

/// A request, as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestRepr {
    /// `blkif_request`: read, write, write-barrier, flush (0..=11 direct segments).
    Direct {
        /// `BLKIF_OP_*`
        operation: u8,
        /// Virtual device handle.
        handle: u16,
        /// Echoed in the response.
        id: u64,
        /// First 512-byte sector.
        sector_number: u64,
        /// Segments in use.
        nr_segments: u8,
        /// The segments (only the first `nr_segments` are sent).
        seg: [Segment; MAX_SEGMENTS_PER_REQUEST],
    },
    /// `blkif_request_indirect`: segments live in granted indirect pages.
    Indirect {
        /// `BLKIF_OP_READ` or `BLKIF_OP_WRITE`.
        indirect_op: u8,
        /// Total segments (across the indirect pages).
        nr_segments: u16,
        /// Echoed in the response.
        id: u64,
        /// First 512-byte sector.
        sector_number: u64,
        /// Virtual device handle.
        handle: u16,
        /// Grants of the indirect pages (only the first `ceil(nr_segments / 512)` are used).
        indirect_grefs: [GrantRef; MAX_INDIRECT_PAGES_PER_REQUEST],
    },
    /// `blkif_request_discard`.
    Discard {
        /// `BLKIF_DISCARD_SECURE` or 0.
        flag: u8,
        /// Virtual device handle.
        handle: u16,
        /// Echoed in the response.
        id: u64,
        /// First 512-byte sector.
        sector_number: u64,
        /// 512-byte sectors to discard.
        nr_sectors: u64,
    },
}

impl RequestRepr {
    /// The request's `id`.
    pub fn id(&self) -> u64 {
        match *self {
            RequestRepr::Direct { id, .. }
            | RequestRepr::Indirect { id, .. }
            | RequestRepr::Discard { id, .. } => id,
        }
    }
    /// The `operation` byte.
    pub fn operation(&self) -> u8 {
        match *self {
            RequestRepr::Direct { operation, .. } => operation,
            RequestRepr::Indirect { .. } => BLKIF_OP_INDIRECT,
            RequestRepr::Discard { .. } => BLKIF_OP_DISCARD,
        }
    }
}

/// A checked view of a request slot (at least [`field::REQUEST_LEN`] bytes, the ring slot size).
#[derive(Debug)]
pub struct RequestPacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> RequestPacket<T> {
    /// Wrap and check the length.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        if buf.as_ref().len() < field::REQUEST_LEN {
            return Err(Truncated);
        }
        Ok(RequestPacket { buf })
    }
    /// `operation`
    pub fn operation(&self) -> u8 {
        self.buf.as_ref()[field::OPERATION]
    }
    /// `id`
    pub fn id(&self) -> u64 {
        u64_at(self.buf.as_ref(), field::ID)
    }
    /// Parse into values, checking segment counts.
    pub fn parse(&self) -> Result<RequestRepr, ParseError> {
        let b = self.buf.as_ref();
        let id = self.id();
        let sector_number = u64_at(b, field::SECTOR);
        match self.operation() {
            op @ (BLKIF_OP_READ
            | BLKIF_OP_WRITE
            | BLKIF_OP_WRITE_BARRIER
            | BLKIF_OP_FLUSH_DISKCACHE) => {
                let nr_segments = b[field::BYTE1];
                if nr_segments as usize > MAX_SEGMENTS_PER_REQUEST {
                    return Err(ParseError::TooManySegments);
                }
                let mut seg = [Segment::default(); MAX_SEGMENTS_PER_REQUEST];
                for (i, s) in seg.iter_mut().enumerate().take(nr_segments as usize) {
                    let at = field::SEGS + i * SEGMENT_LEN;
                    *s = SegmentPacket::new_checked(&b[at..at + SEGMENT_LEN])
                        .map_err(|_| ParseError::Truncated)?
                        .repr();
                }
                Ok(RequestRepr::Direct {
                    operation: op,
                    handle: u16_at(b, field::HALF2),
                    id,
                    sector_number,
                    nr_segments,
                    seg,
                })
            }
            BLKIF_OP_INDIRECT => {
                let nr_segments = u16_at(b, field::HALF2);
                if nr_segments as usize
                    > SEGMENTS_PER_INDIRECT_FRAME * MAX_INDIRECT_PAGES_PER_REQUEST
                {
                    return Err(ParseError::TooManySegments);
                }
                let mut indirect_grefs = [GrantRef(0); MAX_INDIRECT_PAGES_PER_REQUEST];
                for (i, g) in indirect_grefs.iter_mut().enumerate() {
                    *g = GrantRef(u32_at(b, field::INDIRECT_GREFS + 4 * i));
                }
                Ok(RequestRepr::Indirect {
                    indirect_op: b[field::BYTE1],
                    nr_segments,
                    id,
                    sector_number,
                    handle: u16_at(b, field::INDIRECT_HANDLE),
                    indirect_grefs,
                })
            }
            BLKIF_OP_DISCARD => Ok(RequestRepr::Discard {
                flag: b[field::BYTE1],
                handle: u16_at(b, field::HALF2),
                id,
                sector_number,
                nr_sectors: u64_at(b, field::DISCARD_NR_SECTORS),
            }),
            op => Err(ParseError::UnknownOperation(op)),
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RequestPacket<T> {
    /// Emit `repr` into the slot; every byte of the slot is written (padding and unused segments zero),
    /// so nothing stale or private leaks to the backend.
    pub fn emit(&mut self, repr: &RequestRepr) {
        let b = &mut self.buf.as_mut()[..field::REQUEST_LEN];
        b.fill(0);
        b[field::OPERATION] = repr.operation();
        b[field::ID].copy_from_slice(&repr.id().to_le_bytes());
        match *repr {
            RequestRepr::Direct {
                handle,
                sector_number,
                nr_segments,
                seg,
                ..
            } => {
                let n = (nr_segments as usize).min(MAX_SEGMENTS_PER_REQUEST);
                b[field::BYTE1] = n as u8;
                b[field::HALF2].copy_from_slice(&handle.to_le_bytes());
                b[field::SECTOR].copy_from_slice(&sector_number.to_le_bytes());
                for (i, s) in seg.iter().enumerate().take(n) {
                    let at = field::SEGS + i * SEGMENT_LEN;
                    SegmentPacket {
                        buf: &mut b[at..at + SEGMENT_LEN],
                    }
                    .set(s);
                }
            }
            RequestRepr::Indirect {
                indirect_op,
                nr_segments,
                sector_number,
                handle,
                indirect_grefs,
                ..
            } => {
                b[field::BYTE1] = indirect_op;
                b[field::HALF2].copy_from_slice(&nr_segments.to_le_bytes());
                b[field::SECTOR].copy_from_slice(&sector_number.to_le_bytes());
                b[field::INDIRECT_HANDLE].copy_from_slice(&handle.to_le_bytes());
                for (i, g) in indirect_grefs.iter().enumerate() {
                    let at = field::INDIRECT_GREFS + 4 * i;
                    b[at..at + 4].copy_from_slice(&g.0.to_le_bytes());
                }
            }
            RequestRepr::Discard {
                flag,
                handle,
                sector_number,
                nr_sectors,
                ..
            } => {
                b[field::BYTE1] = flag;
                b[field::HALF2].copy_from_slice(&handle.to_le_bytes());
                b[field::SECTOR].copy_from_slice(&sector_number.to_le_bytes());
                b[field::DISCARD_NR_SECTORS].copy_from_slice(&nr_sectors.to_le_bytes());
            }
        }
    }
}

/// A response, as values (copied out of the ring once; validated by the driver).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseRepr {
    /// The request's `id`, as the backend claims.
    pub id: u64,
    /// The operation, as the backend claims.
    pub operation: u8,
    /// `BLKIF_RSP_*`
    pub status: i16,
}

/// A checked view of a response.
#[derive(Debug)]
pub struct ResponsePacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> ResponsePacket<T> {
    /// Wrap and check the length.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        if buf.as_ref().len() < field::RESPONSE_LEN {
            return Err(Truncated);
        }
        Ok(ResponsePacket { buf })
    }
    /// Parse (cannot fail once checked: every bit pattern is a value to validate).
    pub fn parse(&self) -> ResponseRepr {
        let b = self.buf.as_ref();
        ResponseRepr {
            id: u64_at(b, field::RSP_ID),
            operation: b[field::RSP_OPERATION],
            status: u16_at(b, field::RSP_STATUS) as i16,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ResponsePacket<T> {
    /// Emit (padding zeroed).
    pub fn emit(&mut self, r: &ResponseRepr) {
        let b = &mut self.buf.as_mut()[..field::RESPONSE_LEN];
        b.fill(0);
        b[field::RSP_ID].copy_from_slice(&r.id.to_le_bytes());
        b[field::RSP_OPERATION] = r.operation;
        b[field::RSP_STATUS].copy_from_slice(&r.status.to_le_bytes());
    }
}

/// The ring entry types (`xenbus::RingEntry`) of the blkif ring.
pub mod ring {
    use super::*;
    use xenbus::RingEntry;

    /// A request slot (the union's request side: `sizeof(struct blkif_request)`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Request(pub RequestRepr);

    impl RingEntry for Request {
        const SIZE: usize = field::REQUEST_LEN;
        const ALIGN: usize = 8;
        fn encode(&self, out: &mut [u8]) {
            if let Ok(mut p) = RequestPacket::new_checked(out) {
                p.emit(&self.0);
            }
        }
        fn decode(src: &[u8]) -> Self {
            // Only fake backends decode requests; an unparsable one decodes as a zero-segment read
            // with the raw id, so they can still answer it.
            let p = RequestPacket::new_checked(src);
            let repr = p.as_ref().ok().and_then(|p| p.parse().ok());
            Request(repr.unwrap_or(RequestRepr::Direct {
                operation: 0xff,
                handle: 0,
                id: p.map(|p| p.id()).unwrap_or(0),
                sector_number: 0,
                nr_segments: 0,
                seg: [Segment::default(); MAX_SEGMENTS_PER_REQUEST],
            }))
        }
    }

    /// A response slot.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Response(pub ResponseRepr);

    impl RingEntry for Response {
        const SIZE: usize = field::RESPONSE_LEN;
        const ALIGN: usize = 8;
        fn encode(&self, out: &mut [u8]) {
            if let Ok(mut p) = ResponsePacket::new_checked(out) {
                p.emit(&self.0);
            }
        }
        fn decode(src: &[u8]) -> Self {
            let r = ResponsePacket::new_checked(src).map(|p| p.parse());
            // The ring always hands us exactly SIZE bytes; a short buffer would be a ring bug and
            // decodes as an id no request ever has (rejected by the driver).
            Response(r.unwrap_or(ResponseRepr {
                id: u64::MAX,
                operation: 0xff,
                status: BLKIF_RSP_ERROR,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_request_round_trip_and_padding() {
        let mut seg = [Segment::default(); MAX_SEGMENTS_PER_REQUEST];
        seg[0] = Segment {
            gref: GrantRef(0x11223344),
            first_sect: 1,
            last_sect: 7,
        };
        seg[1] = Segment {
            gref: GrantRef(9),
            first_sect: 0,
            last_sect: 0,
        };
        seg[5] = Segment {
            gref: GrantRef(77),
            first_sect: 3,
            last_sect: 3,
        }; // beyond nr_segments
        let r = RequestRepr::Direct {
            operation: BLKIF_OP_WRITE,
            handle: 0xbeef,
            id: 0x0102030405060708,
            sector_number: 0x1122334455667788,
            nr_segments: 2,
            seg,
        };
        let mut buf = [0xaau8; field::REQUEST_LEN];
        RequestPacket::new_checked(&mut buf[..]).unwrap().emit(&r);
        assert_eq!(&buf[..4], &[1, 2, 0xef, 0xbe]);
        assert_eq!(&buf[4..8], &[0; 4], "padding zeroed");
        assert_eq!(&buf[8..16], &0x0102030405060708u64.to_le_bytes());
        assert_eq!(&buf[24..32], &[0x44, 0x33, 0x22, 0x11, 1, 7, 0, 0]);
        assert!(buf[40..].iter().all(|&b| b == 0), "unused segments zeroed");
        let back = RequestPacket::new_checked(&buf[..])
            .unwrap()
            .parse()
            .unwrap();
        let mut expect_seg = seg;
        expect_seg[5] = Segment::default();
        if let RequestRepr::Direct { seg: s, .. } = back {
            assert_eq!(s, expect_seg);
        } else {
            panic!("not direct: {back:?}");
        }
    }

    #[test]
    fn indirect_and_discard_round_trip() {
        let mut g = [GrantRef(0); MAX_INDIRECT_PAGES_PER_REQUEST];
        g[0] = GrantRef(5);
        g[1] = GrantRef(6);
        let r = RequestRepr::Indirect {
            indirect_op: BLKIF_OP_READ,
            nr_segments: 600,
            id: 3,
            sector_number: 4096,
            handle: 7,
            indirect_grefs: g,
        };
        let mut buf = [0u8; field::REQUEST_LEN];
        RequestPacket::new_checked(&mut buf[..]).unwrap().emit(&r);
        assert_eq!(buf[0], BLKIF_OP_INDIRECT);
        assert_eq!(&buf[2..4], &600u16.to_le_bytes());
        assert_eq!(&buf[24..26], &7u16.to_le_bytes());
        assert_eq!(&buf[28..36], &[5, 0, 0, 0, 6, 0, 0, 0]);
        assert_eq!(RequestPacket::new_checked(&buf[..]).unwrap().parse(), Ok(r));

        let d = RequestRepr::Discard {
            flag: 1,
            handle: 2,
            id: 9,
            sector_number: 10,
            nr_sectors: 11,
        };
        RequestPacket::new_checked(&mut buf[..]).unwrap().emit(&d);
        assert_eq!(&buf[24..32], &11u64.to_le_bytes());
        assert_eq!(RequestPacket::new_checked(&buf[..]).unwrap().parse(), Ok(d));
    }

    #[test]
    fn bad_requests_and_short_buffers_are_errors() {
        assert_eq!(
            RequestPacket::new_checked(&[0u8; 111][..]).err(),
            Some(Truncated)
        );
        assert_eq!(
            ResponsePacket::new_checked(&[0u8; 15][..]).err(),
            Some(Truncated)
        );
        assert_eq!(
            SegmentPacket::new_checked(&[0u8; 7][..]).err(),
            Some(Truncated)
        );
        let mut buf = [0u8; field::REQUEST_LEN];
        buf[1] = 12;
        assert_eq!(
            RequestPacket::new_checked(&buf[..]).unwrap().parse(),
            Err(ParseError::TooManySegments)
        );
        buf[0] = BLKIF_OP_INDIRECT;
        buf[2..4].copy_from_slice(&4097u16.to_le_bytes());
        assert_eq!(
            RequestPacket::new_checked(&buf[..]).unwrap().parse(),
            Err(ParseError::TooManySegments)
        );
        buf[0] = 42;
        assert_eq!(
            RequestPacket::new_checked(&buf[..]).unwrap().parse(),
            Err(ParseError::UnknownOperation(42))
        );
    }

    #[test]
    fn response_round_trip_negative_status() {
        let r = ResponseRepr {
            id: u64::MAX - 1,
            operation: BLKIF_OP_FLUSH_DISKCACHE,
            status: BLKIF_RSP_EOPNOTSUPP,
        };
        let mut buf = [0x55u8; field::RESPONSE_LEN];
        ResponsePacket::new_checked(&mut buf[..]).unwrap().emit(&r);
        assert_eq!(&buf[8..12], &[3, 0, 0xfe, 0xff]);
        assert_eq!(ResponsePacket::new_checked(&buf[..]).unwrap().parse(), r);
    }

    #[test]
    fn segment_len() {
        let s = |f, l| Segment {
            gref: GrantRef(1),
            first_sect: f,
            last_sect: l,
        };
        assert_eq!(s(0, 7).bytes(), Some(4096));
        assert_eq!(s(3, 3).bytes(), Some(512));
        assert_eq!(s(4, 3).bytes(), None);
        assert_eq!(s(0, 8).bytes(), None);
    }
}
