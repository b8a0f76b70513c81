//! Segmentation offload for a stack that has none: TCP segments smoltcp builds back to back for one
//! flow are merged into one large packet, sent with a GSO extra-info slot (`feature-gso-tcpv4`) and
//! split again by dom0 (netback hands it to Linux as a GSO packet). Forty segments then cost one ring
//! request chain, one notification and one pass through dom0's bridge instead of forty.
//!
//! A frame joins the pending packet when it continues it exactly: IPv4 TCP with ACK (PSH allowed),
//! no SYN/FIN/RST/URG, a payload no longer than the first one's (the MSS), every segment before it
//! exactly that long, its sequence number right after the pending data, and every other header byte —
//! Ethernet, IP (but length, id and checksum), TCP (but sequence number, PSH, checksum) including
//! options — the same. A segment with PSH, or shorter than the MSS, closes the packet. The merged packet
//! keeps the first header, the last segment's flags, the IP length and header checksum of the whole;
//! the TCP checksum is left to offload (see [`netfront::checksum::prepare_blank`]).

use alloc::vec::Vec;

const ETH: usize = 14;
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_URG: u8 = 0x20;

/// Where the parts of an Ethernet/IPv4/TCP data segment are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tcp {
    /// Offset of the TCP header.
    l4: usize,
    /// Offset of the payload (end of the headers).
    payload: usize,
    seq: u32,
    flags: u8,
}

impl Tcp {
    /// A mergeable segment: IPv4 without fragmentation, TCP with ACK and data, no other control flag.
    fn parse(f: &[u8]) -> Option<Tcp> {
        if f.len() < ETH + 20 || f[12..14] != [0x08, 0x00] || f[ETH] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(f[ETH] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([f[ETH + 2], f[ETH + 3]]));
        let frag = u16::from_be_bytes([f[ETH + 6], f[ETH + 7]]) & 0x3fff;
        if ihl < 20 || ETH + total != f.len() || frag != 0 || f[ETH + 9] != 6 {
            return None;
        }
        let l4 = ETH + ihl;
        if f.len() < l4 + 20 {
            return None;
        }
        let thl = usize::from(f[l4 + 12] >> 4) * 4;
        let flags = f[l4 + 13];
        let payload = l4 + thl;
        if thl < 20 || payload >= f.len() || flags & TCP_ACK == 0 || flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_URG) != 0 {
            return None;
        }
        let seq = u32::from_be_bytes([f[l4 + 4], f[l4 + 5], f[l4 + 6], f[l4 + 7]]);
        Some(Tcp { l4, payload, seq, flags })
    }
}

/// Header bytes that may differ between segments of one merged packet: IP total length and id
/// (`ETH+2..ETH+6`), IP checksum (`ETH+10..ETH+12`), TCP sequence number (`l4+4..l4+8`), TCP checksum
/// (`l4+16..l4+18`); the TCP flags byte is compared without PSH.
fn same_headers(a: &[u8], b: &[u8], t: &Tcp) -> bool {
    let ranges = [(0, ETH + 2), (ETH + 6, ETH + 10), (ETH + 12, t.l4 + 4), (t.l4 + 8, t.l4 + 13), (t.l4 + 14, t.l4 + 16), (t.l4 + 18, t.payload)];
    ranges.iter().all(|&(s, e)| a[s..e] == b[s..e]) && (a[t.l4 + 13] | TCP_PSH) == (b[t.l4 + 13] | TCP_PSH)
}

/// The packet being merged.
#[derive(Debug)]
struct Pending {
    tcp: Tcp,
    mss: usize,
    next_seq: u32,
    segments: usize,
    /// A segment shorter than the MSS or with PSH came: nothing may follow.
    closed: bool,
}

/// A packet ready to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Merged {
    /// The frame.
    pub frame: Vec<u8>,
    /// The segment size to split it at, when it holds more than one segment.
    pub mss: Option<u16>,
    /// Segments in it.
    pub segments: usize,
}

/// Merges consecutive TCP segments; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Coalescer {
    frame: Vec<u8>,
    pending: Option<Pending>,
}

impl Coalescer {
    /// Length of the pending packet, if any.
    pub fn pending_len(&self) -> Option<usize> {
        self.pending.as_ref().map(|_| self.frame.len())
    }

    /// Appends `f` to the pending packet if it continues it and the result stays within `limit` bytes.
    pub fn try_append(&mut self, f: &[u8], limit: usize) -> bool {
        let Some(p) = self.pending.as_mut() else { return false };
        let Some(t) = Tcp::parse(f) else { return false };
        let len = f.len() - t.payload;
        let fits = self.frame.len() + len <= limit && len <= p.mss && (p.segments as u64 + 1) * p.mss as u64 <= 0xffff;
        if p.closed || !fits || t.payload != p.tcp.payload || t.seq != p.next_seq || !same_headers(&self.frame, f, &t) {
            return false;
        }
        self.frame.extend_from_slice(&f[t.payload..]);
        p.next_seq = p.next_seq.wrapping_add(len as u32);
        p.segments += 1;
        p.tcp.flags = t.flags;
        p.closed = len < p.mss || t.flags & TCP_PSH != 0;
        true
    }

    /// Makes `f` the pending packet if more segments could join it; false if it should go out alone.
    /// Call only with nothing pending ([`Coalescer::take`] first).
    pub fn start(&mut self, f: &[u8]) -> bool {
        debug_assert!(self.pending.is_none(), "coalescer: start with a packet pending");
        let Some(t) = Tcp::parse(f) else { return false };
        if t.flags & TCP_PSH != 0 || self.pending.is_some() {
            return false;
        }
        let mss = f.len() - t.payload;
        self.frame.clear();
        self.frame.extend_from_slice(f);
        self.pending = Some(Pending { tcp: t, mss, next_seq: t.seq.wrapping_add(mss as u32), segments: 1, closed: false });
        true
    }

    /// The pending packet, finished: for more than one segment, the last segment's flags, the IP total
    /// length of the whole and its header checksum.
    pub fn take(&mut self) -> Option<Merged> {
        let p = self.pending.take()?;
        let mut frame = core::mem::take(&mut self.frame);
        if p.segments == 1 {
            return Some(Merged { frame, mss: None, segments: 1 });
        }
        frame[p.tcp.l4 + 13] = p.tcp.flags;
        let total = (frame.len() - ETH) as u16;
        frame[ETH + 2..ETH + 4].copy_from_slice(&total.to_be_bytes());
        let ihl = p.tcp.l4 - ETH;
        frame[ETH + 10..ETH + 12].copy_from_slice(&[0, 0]);
        let sum = netfront::checksum::internet_checksum(&frame[ETH..ETH + ihl]);
        frame[ETH + 10..ETH + 12].copy_from_slice(&sum.to_be_bytes());
        Some(Merged { frame, mss: Some(p.mss as u16), segments: p.segments })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// An Ethernet/IPv4/TCP frame: ACK (plus `extra` flags), `seq`, `payload` bytes of `fill`.
    fn seg(seq: u32, payload: usize, extra: u8, fill: u8) -> Vec<u8> {
        let mut f = vec![0u8; ETH + 20 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[ETH] = 0x45;
        f[ETH + 2..ETH + 4].copy_from_slice(&((40 + payload) as u16).to_be_bytes());
        f[ETH + 4..ETH + 6].copy_from_slice(&seq.to_be_bytes()[2..]);
        f[ETH + 8] = 64;
        f[ETH + 9] = 6;
        f[ETH + 12..ETH + 20].copy_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
        let l4 = ETH + 20;
        f[l4..l4 + 4].copy_from_slice(&[0, 80, 0xc0, 0]);
        f[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        f[l4 + 12] = 5 << 4;
        f[l4 + 13] = TCP_ACK | extra;
        f[l4 + 16..l4 + 18].copy_from_slice(&[0xab, 0xcd]);
        f.extend(core::iter::repeat_n(fill, payload));
        f
    }

    #[test]
    fn consecutive_segments_merge_into_one_packet() {
        let mut c = Coalescer::default();
        assert!(c.start(&seg(1000, 100, 0, 1)));
        assert!(c.try_append(&seg(1100, 100, 0, 2), 65535));
        assert!(c.try_append(&seg(1200, 40, TCP_PSH, 3), 65535));
        // Closed by the short segment with PSH.
        assert!(!c.try_append(&seg(1240, 100, 0, 4), 65535));
        let m = c.take().unwrap();
        assert_eq!((m.mss, m.segments), (Some(100), 3));
        let f = &m.frame;
        assert_eq!(f.len(), 54 + 240);
        assert_eq!(u16::from_be_bytes([f[16], f[17]]), 280);
        assert_eq!(f[ETH + 20 + 13], TCP_ACK | TCP_PSH, "the last segment's flags");
        assert_eq!(netfront::checksum::internet_checksum(&f[ETH..ETH + 20]), 0, "IP header checksum of the whole");
        assert_eq!(&f[54..154], &[1u8; 100][..]);
        assert_eq!(&f[254..], &[3u8; 40][..]);
        assert!(c.take().is_none());
    }

    #[test]
    fn what_does_not_continue_stays_apart() {
        let mut c = Coalescer::default();
        assert!(c.start(&seg(0, 100, 0, 0)));
        assert!(!c.try_append(&seg(101, 100, 0, 0), 65535), "sequence gap");
        assert!(!c.try_append(&seg(100, 101, 0, 0), 65535), "longer than the MSS");
        assert!(!c.try_append(&seg(100, 100, TCP_FIN, 0), 65535), "FIN");
        assert!(!c.try_append(&seg(100, 100, 0, 0), 199), "over the limit");
        let mut other_port = seg(100, 100, 0, 0);
        other_port[ETH + 20 + 3] = 1;
        assert!(!c.try_append(&other_port, 65535), "another flow");
        let mut other_ack = seg(100, 100, 0, 0);
        other_ack[ETH + 20 + 8] = 9;
        assert!(!c.try_append(&other_ack, 65535), "another ack number");
        assert!(c.try_append(&seg(100, 60, 0, 0), 65535));
        assert!(!c.try_append(&seg(160, 60, 0, 0), 65535), "after a short segment");
        assert_eq!(c.take().unwrap().segments, 2);
    }

    #[test]
    fn only_tcp_data_segments_start_a_packet() {
        let mut c = Coalescer::default();
        assert!(!c.start(&seg(0, 0, 0, 0)), "a bare ACK");
        assert!(!c.start(&seg(0, 10, TCP_PSH, 0)), "PSH: nothing can follow");
        assert!(!c.start(&seg(0, 10, TCP_SYN, 0)));
        let mut udp = seg(0, 10, 0, 0);
        udp[ETH + 9] = 17;
        assert!(!c.start(&udp));
        let mut frag = seg(0, 10, 0, 0);
        frag[ETH + 6] = 0x20; // more fragments
        assert!(!c.start(&frag));
        assert!(!c.start(&seg(0, 10, 0, 0)[..60]), "IP length beyond the frame");
        assert_eq!(c.pending_len(), None);
        assert!(c.start(&seg(0, 10, 0, 0)));
        assert_eq!(c.pending_len(), Some(64));
        let m = c.take().unwrap();
        assert_eq!((m.mss, m.segments, m.frame), (None, 1, seg(0, 10, 0, 0)), "one segment goes out as built");
    }
}
