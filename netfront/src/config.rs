//! What the driver is configured to do, and what the backend offers.

/// Driver configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Receive buffer pages (at most [`crate::RX_RING_SIZE`]).
    pub rx_buffers: usize,
    /// Transmit buffer pages (a packet takes one per 4 KiB).
    pub tx_buffers: usize,
    /// Received pages kept ready (in assembled packets) before the driver stops taking responses off
    /// the ring.
    pub rx_queue_limit: usize,
    /// Accept multi-slot receive packets (`feature-sg`).
    pub rx_sg: bool,
    /// Accept GSO TCPv4 receive packets (`feature-gso-tcpv4`; needs `rx_sg`).
    pub rx_gso_tcpv4: bool,
    /// Accept received frames with a blank checksum (`feature-no-csum-offload = 0`; complete them with
    /// [`crate::RxPacket::complete_checksum`]). When off, the backend's host completes checksums.
    pub rx_csum_offload: bool,
    /// Ring index both rings start at. Xen backends assume 0; other values exist to test index
    /// wrap-around against the fake backend.
    pub ring_start: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rx_buffers: 256,
            tx_buffers: 256,
            rx_queue_limit: 64,
            rx_sg: true,
            rx_gso_tcpv4: false,
            rx_csum_offload: true,
            ring_start: 0,
        }
    }
}

impl Config {
    /// The default configuration with buffer counts scaled to the memory there is: an eighth of
    /// `free_heap_bytes` per direction, between 16 and the ring size (256) pages. A 4 MiB guest (about
    /// 2.5 MiB of free heap) gets 80 receive and 80 transmit pages; 64 MiB and more, full rings.
    /// From 128 pages on (16 MiB of free heap), receive GSO is on: dom0 then sends up to 64 KiB of a
    /// TCP stream as one packet.
    pub fn sized_for(free_heap_bytes: u64) -> Config {
        let pages = (free_heap_bytes / 4096 / 8).clamp(16, u64::from(crate::RX_RING_SIZE)) as usize;
        let d = Config::default();
        Config {
            rx_buffers: pages,
            tx_buffers: pages,
            rx_queue_limit: d.rx_queue_limit.min(pages / 2),
            rx_gso_tcpv4: pages >= 128,
            ..d
        }
    }
}

/// What the backend advertised in its directory (`feature-*` keys; absent means 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendFeatures {
    /// `feature-sg`: accepts multi-slot transmit packets.
    pub sg: bool,
    /// `feature-gso-tcpv4`: accepts GSO TCPv4 transmit packets.
    pub gso_tcpv4: bool,
    /// `feature-gso-tcpv6`
    pub gso_tcpv6: bool,
    /// `feature-rx-copy`: copies into our receive pages (required).
    pub rx_copy: bool,
    /// `feature-rx-notify`
    pub rx_notify: bool,
    /// `feature-ipv6-csum-offload`
    pub ipv6_csum_offload: bool,
    /// `feature-split-event-channels` (we use one channel either way).
    pub split_event_channels: bool,
    /// `multi-queue-max-queues`, if advertised (we use one queue either way, and then say so in
    /// `multi-queue-num-queues`, as Linux netfront does).
    pub max_queues: Option<u32>,
}

/// Parse a `feature-*` value as Linux's `xenbus_read_unsigned` does: a decimal number, nonzero is on.
/// Anything unparsable is off.
pub fn parse_flag(value: &[u8]) -> bool {
    parse_u32(value).is_some_and(|v| v != 0)
}

/// Parse a small decimal value (a trailing nul or newline tolerated).
pub fn parse_u32(value: &[u8]) -> Option<u32> {
    let v = match value.split_last() {
        Some((0 | b'\n', rest)) => rest,
        _ => value,
    };
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// A MAC address that is not six `:`-separated hex bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadMac;

/// Parse `aa:bb:cc:dd:ee:ff` (either case; a trailing nul or newline tolerated).
pub fn parse_mac(value: &[u8]) -> Result<[u8; 6], BadMac> {
    let v = match value.split_last() {
        Some((0 | b'\n', rest)) => rest,
        _ => value,
    };
    if v.len() != 17 {
        return Err(BadMac);
    }
    let hex = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(BadMac),
    };
    let mut mac = [0u8; 6];
    for (i, m) in mac.iter_mut().enumerate() {
        let at = i * 3;
        if i > 0 && v[at - 1] != b':' {
            return Err(BadMac);
        }
        *m = hex(v[at])? << 4 | hex(v[at + 1])?;
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_scale_with_free_memory() {
        let small = Config::sized_for(2_500_000);
        assert_eq!((small.rx_buffers, small.tx_buffers, small.rx_queue_limit), (76, 76, 38));
        assert_eq!(Config::sized_for(60 << 20).rx_buffers, 256);
        assert_eq!(Config::sized_for(60 << 20), Config { rx_gso_tcpv4: true, ..Config::default() });
        assert!(!small.rx_gso_tcpv4, "no 64 KiB packets in a small guest");
        assert_eq!(Config::sized_for(0).rx_buffers, 16, "never below 16");
    }

    #[test]
    fn flags() {
        assert!(parse_flag(b"1"));
        assert!(parse_flag(b"2\n"));
        assert!(!parse_flag(b"0"));
        assert!(!parse_flag(b""));
        assert!(!parse_flag(b"yes"));
        assert!(!parse_flag(b"99999999999"));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"-1"), None);
    }

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac(b"00:16:3E:0a:ff:01"),
            Ok([0x00, 0x16, 0x3e, 0x0a, 0xff, 0x01])
        );
        assert_eq!(
            parse_mac(b"00:16:3e:0a:ff:01\0"),
            Ok([0, 0x16, 0x3e, 10, 255, 1])
        );
        for bad in [
            &b"00:16:3e:0a:ff"[..],
            b"00-16-3e-0a-ff-01",
            b"00:16:3e:0a:ff:0g",
            b"00:16:3e:0a:ff:012",
            b"",
        ] {
            assert_eq!(parse_mac(bad), Err(BadMac), "{bad:?}");
        }
    }
}
