//! Transport checksums of Ethernet frames in software: what offload leaves to the frontend.
//!
//! - [`complete`]: a packet from a local sender with checksum offload (dom0 or another guest on the same
//!   host) arrives with `NETRXF_csum_blank`: its TCP/UDP checksum field was never completed. Before the
//!   frame is forwarded or handed to a stack that verifies checksums, compute and store it — without
//!   trusting whatever the field held.
//! - [`verify`]: a frame that arrives with neither `NETRXF_data_validated` nor `NETRXF_csum_blank` came
//!   from outside the host unchecked; its TCP/UDP checksum is checked here, so the stack above need not
//!   verify (and validated frames are not summed twice).
//! - [`prepare_blank`]: the transmit half of offload. Store only the pseudo-header sum in the field and
//!   send with `NETTXF_csum_blank`; netback (or the NIC) completes it. Linux's `CHECKSUM_PARTIAL` layout.
//!
//! IPv4 and IPv6 (no extension headers) with TCP or UDP, behind an Ethernet header with at most one
//! VLAN tag.

/// Why a frame's checksum could not be handled. The frame is left unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumError {
    /// The frame is too short for the headers it announces.
    Truncated,
    /// Not IPv4/IPv6, or an IPv4 header length below 20.
    UnsupportedNetwork,
    /// Not TCP or UDP (or IPv6 extension headers).
    UnsupportedTransport,
}

const ETH_HLEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Ones' complement sum of `data` (big-endian 16-bit words, odd byte padded), unfolded.
fn sum(data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    let mut s: u64 = chunks
        .by_ref()
        .map(|c| u64::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        s += u64::from(*last) << 8;
    }
    s
}

fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The Internet checksum (RFC 1071) of `data`, e.g. an IPv4 header with its checksum field zeroed.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// Where a frame's transport segment and checksum field are, and its pseudo-header sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    proto: u8,
    /// Offset of the TCP/UDP header.
    start: usize,
    /// Length of header + payload (from the IP header, checked against the frame).
    len: usize,
    /// Offset of the checksum field.
    field: usize,
    /// Pseudo-header sum, unfolded.
    pseudo: u64,
    /// IPv6 (where a UDP checksum is mandatory).
    ipv6: bool,
}

impl Segment {
    /// Walk the Ethernet, (VLAN,) IP headers of `frame`; every offset is checked against its length.
    fn locate(frame: &[u8]) -> Result<Segment, ChecksumError> {
        let mut l3 = ETH_HLEN;
        let mut ethertype = be16(frame, 12).ok_or(ChecksumError::Truncated)?;
        if ethertype == ETHERTYPE_VLAN {
            ethertype = be16(frame, 16).ok_or(ChecksumError::Truncated)?;
            l3 += 4;
        }
        let (proto, start, len, pseudo) = match ethertype {
            ETHERTYPE_IPV4 => {
                let ihl = usize::from(*frame.get(l3).ok_or(ChecksumError::Truncated)? & 0x0f) * 4;
                if ihl < 20 {
                    return Err(ChecksumError::UnsupportedNetwork);
                }
                let total = usize::from(be16(frame, l3 + 2).ok_or(ChecksumError::Truncated)?);
                if total < ihl || frame.len() < l3 + total {
                    return Err(ChecksumError::Truncated);
                }
                let proto = frame[l3 + 9];
                let len = total - ihl;
                let pseudo = sum(&frame[l3 + 12..l3 + 20]) + u64::from(proto) + len as u64;
                (proto, l3 + ihl, len, pseudo)
            }
            ETHERTYPE_IPV6 => {
                let payload = usize::from(be16(frame, l3 + 4).ok_or(ChecksumError::Truncated)?);
                if frame.len() < l3 + 40 + payload {
                    return Err(ChecksumError::Truncated);
                }
                let proto = frame[l3 + 6];
                let pseudo = sum(&frame[l3 + 8..l3 + 40]) + u64::from(proto) + payload as u64;
                (proto, l3 + 40, payload, pseudo)
            }
            _ => return Err(ChecksumError::UnsupportedNetwork),
        };
        let field = match proto {
            PROTO_TCP if len >= 20 => start + 16,
            PROTO_UDP if len >= 8 => start + 6,
            PROTO_TCP | PROTO_UDP => return Err(ChecksumError::Truncated),
            _ => return Err(ChecksumError::UnsupportedTransport),
        };
        Ok(Segment { proto, start, len, field, pseudo, ipv6: ethertype == ETHERTYPE_IPV6 })
    }

    fn store(&self, frame: &mut [u8], value: u16) {
        frame[self.field..self.field + 2].copy_from_slice(&value.to_be_bytes());
    }
}

/// A transport protocol whose checksum this module handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TCP
    Tcp,
    /// UDP
    Udp,
}

/// The transport protocol of an Ethernet frame, if it is TCP or UDP with headers that parse.
pub fn transport(frame: &[u8]) -> Option<Transport> {
    match Segment::locate(frame).ok()?.proto {
        PROTO_TCP => Some(Transport::Tcp),
        _ => Some(Transport::Udp),
    }
}

/// Compute and store the TCP/UDP checksum of an Ethernet frame.
pub fn complete(frame: &mut [u8]) -> Result<(), ChecksumError> {
    let seg = Segment::locate(frame)?;
    seg.store(frame, 0);
    let mut c = !fold(seg.pseudo + sum(&frame[seg.start..seg.start + seg.len]));
    if c == 0 && seg.proto == PROTO_UDP {
        c = 0xffff;
    }
    seg.store(frame, c);
    Ok(())
}

/// Whether the TCP/UDP checksum of an Ethernet frame is right. A UDP checksum of 0 (none sent, IPv4
/// only) passes, as RFC 768 says.
pub fn verify(frame: &[u8]) -> Result<bool, ChecksumError> {
    let seg = Segment::locate(frame)?;
    if seg.proto == PROTO_UDP && !seg.ipv6 && be16(frame, seg.field) == Some(0) {
        return Ok(true);
    }
    Ok(fold(seg.pseudo + sum(&frame[seg.start..seg.start + seg.len])) == 0xffff)
}

/// Store the pseudo-header sum (folded, not complemented) in the TCP/UDP checksum field, as a frame sent
/// with `NETTXF_csum_blank` must carry it: the completer sums the segment with that field in place.
pub fn prepare_blank(frame: &mut [u8]) -> Result<(), ChecksumError> {
    let seg = Segment::locate(frame)?;
    seg.store(frame, fold(seg.pseudo));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// An Ethernet + IPv4 + TCP/UDP frame with a garbage checksum field.
    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let l4_hdr = if proto == PROTO_TCP { 20 } else { 8 };
        let total = 20 + l4_hdr + payload.len();
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            proto,
            0,
            0,
        ]);
        f.extend_from_slice(&[10, 99, 0, 1, 10, 99, 0, 100]);
        let mut l4 = vec![0u8; l4_hdr];
        l4[0..4].copy_from_slice(&[0x1f, 0x90, 0xc0, 0x01]);
        if proto == PROTO_UDP {
            l4[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            l4[6..8].copy_from_slice(&[0xde, 0xad]);
        } else {
            l4[12] = 0x50;
            l4[16..18].copy_from_slice(&[0xbe, 0xef]);
        }
        f.extend_from_slice(&l4);
        f.extend_from_slice(payload);
        f
    }

    /// Verify as a receiver does: the sum over pseudo-header and segment folds to 0xffff.
    fn verifies(f: &[u8]) -> bool {
        let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
        let seg = &f[34..14 + total];
        let pseudo = sum(&f[26..34]) + u64::from(f[23]) + seg.len() as u64;
        fold(pseudo + sum(seg)) == 0xffff
    }

    #[test]
    fn tcp_and_udp_over_ipv4() {
        for proto in [PROTO_TCP, PROTO_UDP] {
            for len in [0usize, 1, 2, 17, 1000, 1460] {
                let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut f = ipv4(proto, &payload);
                assert!(!verifies(&f));
                complete(&mut f).unwrap();
                assert!(verifies(&f), "proto {proto} len {len}");
            }
        }
    }

    #[test]
    fn verify_accepts_complete_and_rejects_damage() {
        for proto in [PROTO_TCP, PROTO_UDP] {
            for len in [0usize, 1, 17, 1460] {
                let payload: Vec<u8> = (0..len).map(|i| (i * 5 + 1) as u8).collect();
                let mut f = ipv4(proto, &payload);
                complete(&mut f).unwrap();
                assert_eq!(verify(&f), Ok(true), "proto {proto} len {len}");
                let last = f.len() - 1;
                f[last] ^= 0x40;
                assert_eq!(verify(&f), Ok(false), "proto {proto} len {len}: damage unnoticed");
            }
        }
        // IPv4 UDP without a checksum (0) is valid.
        let mut f = ipv4(PROTO_UDP, b"no sum");
        f[40] = 0;
        f[41] = 0;
        assert_eq!(verify(&f), Ok(true));
        assert_eq!(verify(&[0u8; 5]), Err(ChecksumError::Truncated));
    }

    #[test]
    fn blank_then_completed_by_the_backend() {
        // What netback's completer does with a csum_blank frame: sum the segment with the field as we
        // left it, store the complement. The result must verify.
        for proto in [PROTO_TCP, PROTO_UDP] {
            let payload: Vec<u8> = (0..999).map(|i| (i * 3) as u8).collect();
            let mut f = ipv4(proto, &payload);
            prepare_blank(&mut f).unwrap();
            let field = if proto == PROTO_TCP { 34 + 16 } else { 34 + 6 };
            let mut c = !fold(sum(&f[34..]));
            if c == 0 && proto == PROTO_UDP {
                c = 0xffff;
            }
            f[field..field + 2].copy_from_slice(&c.to_be_bytes());
            assert!(verifies(&f), "proto {proto}");
        }
        let mut arp = ipv4(PROTO_TCP, b"x");
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert_eq!(prepare_blank(&mut arp), Err(ChecksumError::UnsupportedNetwork));
        assert_eq!(transport(&arp), None);
        assert_eq!(transport(&ipv4(PROTO_TCP, b"x")), Some(Transport::Tcp));
        assert_eq!(transport(&ipv4(PROTO_UDP, b"x")), Some(Transport::Udp));
    }

    #[test]
    fn known_value() {
        // UDP 10.99.0.1:8080 -> 10.99.0.100:49153, payload "hi": computed by hand from RFC 768.
        let mut f = ipv4(PROTO_UDP, b"hi");
        complete(&mut f).unwrap();
        let pseudo: u32 = 0x0a63 + 0x0001 + 0x0a63 + 0x0064 + 17 + 10;
        let seg: u32 = 0x1f90 + 0xc001 + 10 + 0x6869;
        let mut s = pseudo + seg;
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        assert_eq!(u16::from_be_bytes([f[40], f[41]]), !(s as u16));
    }

    #[test]
    fn ipv6_and_vlan() {
        let payload = b"hello, world";
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f.extend_from_slice(&[0, 5]);
        f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        let plen = (8 + payload.len()) as u16;
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&[PROTO_UDP, 64]);
        f.extend((0..32).map(|i| i as u8));
        f.extend_from_slice(&[0, 7, 0, 7]);
        f.extend_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&[0x12, 0x34]);
        f.extend_from_slice(payload);
        complete(&mut f).unwrap();
        let l3 = 18;
        let seg = &f[l3 + 40..];
        let pseudo = sum(&f[l3 + 8..l3 + 40]) + 17 + seg.len() as u64;
        assert_eq!(fold(pseudo + sum(seg)), 0xffff);
    }

    #[test]
    fn refuses_what_it_cannot_parse() {
        let mut f = ipv4(PROTO_TCP, b"x");
        let n = f.len();
        assert_eq!(complete(&mut f[..n - 1]), Err(ChecksumError::Truncated));
        let mut g = f.clone();
        g[23] = 1; // ICMP
        assert_eq!(complete(&mut g), Err(ChecksumError::UnsupportedTransport));
        let mut h = f.clone();
        h[12] = 0x08;
        h[13] = 0x06; // ARP
        assert_eq!(complete(&mut h), Err(ChecksumError::UnsupportedNetwork));
        let mut i = f.clone();
        i[14] = 0x44; // IHL 16 bytes
        assert_eq!(complete(&mut i), Err(ChecksumError::UnsupportedNetwork));
        assert_eq!(complete(&mut [0u8; 5]), Err(ChecksumError::Truncated));
        let mut j = f.clone();
        j[16] = 0xff; // total length beyond the frame
        assert_eq!(complete(&mut j), Err(ChecksumError::Truncated));
    }
}
