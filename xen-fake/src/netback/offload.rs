//! What a Linux host does with an offloaded packet from the frontend before anyone else sees it:
//! complete a blank transport checksum (`NETTXF_csum_blank`) and split a GSO packet (a TCPv4 extra-info
//! slot) into MSS-sized segments, as `tcp4_gso_segment` does (IP ids counting up, sequence numbers
//! advancing, PSH and FIN only on the last segment, every checksum recomputed).
//!
//! Written independently of the driver's own checksum code, so a test that passes frames through here
//! checks the driver rather than agreeing with it.

use netfront::wire::{ExtraInfo, GsoType, NETTXF_CSUM_BLANK};

use super::TxPacket;

const ETH: usize = 14;
const TCP_PSH: u8 = 0x08;
const TCP_FIN: u8 = 0x01;

fn ones_sum(data: &[u8], mut acc: u32) -> u32 {
    for pair in data.chunks(2) {
        let w = if pair.len() == 2 { u16::from_be_bytes([pair[0], pair[1]]) } else { u16::from(pair[0]) << 8 };
        acc += u32::from(w);
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

fn put16(f: &mut [u8], at: usize, v: u16) {
    f[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Offsets of an Ethernet/IPv4 frame carrying TCP or UDP: (IP header length, transport protocol).
fn ipv4_transport(f: &[u8]) -> Result<(usize, u8), String> {
    if f.len() < ETH + 20 || f[12..14] != [0x08, 0x00] {
        return Err("offload on a frame that is not IPv4".into());
    }
    let ihl = usize::from(f[ETH] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([f[ETH + 2], f[ETH + 3]]));
    if ihl < 20 || total < ihl || ETH + total != f.len() {
        return Err(format!("IPv4 header length {ihl} / total length {total} do not match a {}-byte frame", f.len()));
    }
    Ok((ihl, f[ETH + 9]))
}

/// Recompute the IPv4 header checksum and the TCP/UDP checksum of a complete frame.
fn fill_checksums(f: &mut [u8]) -> Result<(), String> {
    let (ihl, proto) = ipv4_transport(f)?;
    put16(f, ETH + 10, 0);
    let ip = !(ones_sum(&f[ETH..ETH + ihl], 0) as u16);
    put16(f, ETH + 10, ip);
    let l4 = ETH + ihl;
    let field = match proto {
        6 if f.len() >= l4 + 20 => l4 + 16,
        17 if f.len() >= l4 + 8 => l4 + 6,
        _ => return Err(format!("blank checksum on IP protocol {proto} (or a short header)")),
    };
    put16(f, field, 0);
    let len = (f.len() - l4) as u32;
    let pseudo = ones_sum(&f[ETH + 12..ETH + 20], u32::from(proto) + len);
    let mut c = !(ones_sum(&f[l4..], pseudo) as u16);
    if c == 0 && proto == 17 {
        c = 0xffff;
    }
    put16(f, field, c);
    Ok(())
}

/// Split a TCPv4 frame into segments of at most `mss` payload bytes.
fn segment(f: &[u8], mss: usize) -> Result<Vec<Vec<u8>>, String> {
    let (ihl, proto) = ipv4_transport(f)?;
    let l4 = ETH + ihl;
    if proto != 6 || f.len() < l4 + 20 {
        return Err(format!("GSO TCPv4 on IP protocol {proto}"));
    }
    let thl = usize::from(f[l4 + 12] >> 4) * 4;
    if thl < 20 || f.len() < l4 + thl {
        return Err("GSO packet with a bad TCP header length".into());
    }
    if mss == 0 {
        return Err("GSO with MSS 0".into());
    }
    let (headers, payload) = f.split_at(l4 + thl);
    let id = u16::from_be_bytes([f[ETH + 4], f[ETH + 5]]);
    let seq = u32::from_be_bytes([f[l4 + 4], f[l4 + 5], f[l4 + 6], f[l4 + 7]]);
    let chunks: Vec<&[u8]> = payload.chunks(mss).collect();
    let mut out = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        let mut s = headers.to_vec();
        s.extend_from_slice(chunk);
        let total = (s.len() - ETH) as u16;
        put16(&mut s, ETH + 2, total);
        put16(&mut s, ETH + 4, id.wrapping_add(i as u16));
        let seq_i = seq.wrapping_add((i * mss) as u32);
        s[l4 + 4..l4 + 8].copy_from_slice(&seq_i.to_be_bytes());
        if i + 1 < chunks.len() {
            s[l4 + 13] &= !(TCP_PSH | TCP_FIN);
        }
        fill_checksums(&mut s)?;
        out.push(s);
    }
    Ok(out)
}

impl TxPacket {
    /// The frames this packet becomes beyond netback: itself, its checksum completed if it was sent
    /// blank, or — with a GSO extra — its segments. An error says what a real host would reject.
    pub fn wire_frames(&self) -> Result<Vec<Vec<u8>>, String> {
        let gso = self.extras.iter().find_map(|e| match *e {
            ExtraInfo::Gso { size, gso_type, .. } => Some((size, gso_type)),
            ExtraInfo::Other { .. } => None,
        });
        match gso {
            Some((mss, t)) if GsoType::from_u8(t) == Some(GsoType::TcpV4) => segment(&self.data, usize::from(mss)),
            Some((_, t)) => Err(format!("GSO type {t} not supported by the fake")),
            None if self.flags & NETTXF_CSUM_BLANK != 0 => {
                let mut f = self.data.clone();
                fill_checksums(&mut f)?;
                Ok(vec![f])
            }
            None => Ok(vec![self.data.clone()]),
        }
    }
}
