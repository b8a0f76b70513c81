//! Each interface's traffic counters, kept current by its driver (after every poll) so that monitoring
//! can publish them (`data/xenolith/net/IFACE/...`, see [`crate::monitor`]) and the driver can log them
//! when the vif closes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use spin::Mutex;

/// One interface's counters since its device connected (a re-attached vif starts again from 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Packets handed to netback (a GSO packet counts once).
    pub tx_packets: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// GSO packets sent (several TCP segments merged).
    pub tx_gso_packets: u64,
    /// The segments inside them.
    pub tx_gso_segments: u64,
    /// Packets received (a GSO packet counts once).
    pub rx_packets: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// GSO packets received.
    pub rx_gso_packets: u64,
    /// Received TCP/UDP frames dropped for a wrong checksum.
    pub rx_bad_checksums: u64,
    /// Packets netback answered with an error, or that netfront refused.
    pub tx_errors: u64,
}

impl Traffic {
    /// (key, value) of each counter, in publishing order.
    pub fn entries(&self) -> [(&'static str, u64); 9] {
        [
            ("tx_packets", self.tx_packets),
            ("tx_bytes", self.tx_bytes),
            ("tx_gso_packets", self.tx_gso_packets),
            ("tx_gso_segments", self.tx_gso_segments),
            ("rx_packets", self.rx_packets),
            ("rx_bytes", self.rx_bytes),
            ("rx_gso_packets", self.rx_gso_packets),
            ("rx_bad_checksums", self.rx_bad_checksums),
            ("tx_errors", self.tx_errors),
        ]
    }
}

impl fmt::Display for Traffic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {} packets, {} bytes ({} GSO packets carrying {} segments), received {} packets, {} bytes ({} GSO packets), {} bad checksums, {} send errors",
            self.tx_packets, self.tx_bytes, self.tx_gso_packets, self.tx_gso_segments, self.rx_packets, self.rx_bytes,
            self.rx_gso_packets, self.rx_bad_checksums, self.tx_errors
        )
    }
}

/// The latest counters of every interface, by name.
static LATEST: Mutex<Vec<(String, Traffic)>> = Mutex::new(Vec::new());

/// Records `t` as the counters of interface `name`.
pub fn record(name: &str, t: Traffic) {
    let mut all = LATEST.lock();
    match all.iter_mut().find(|(n, _)| n == name) {
        Some((_, slot)) => *slot = t,
        None => all.push((String::from(name), t)),
    }
}

/// Every interface's latest counters, in the order they first reported.
pub fn latest() -> Vec<(String, Traffic)> {
    LATEST.lock().clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_counters_per_interface() {
        let t = |n| Traffic { rx_packets: n, ..Traffic::default() };
        record("test-a", t(1));
        record("test-b", t(2));
        record("test-a", t(3));
        let all: Vec<_> = latest().into_iter().filter(|(n, _)| n.starts_with("test-")).collect();
        assert_eq!(all, alloc::vec![(String::from("test-a"), t(3)), (String::from("test-b"), t(2))]);
    }

    #[test]
    fn the_log_line() {
        let t = Traffic { tx_packets: 7, tx_bytes: 594, rx_packets: 16, rx_bytes: 1400, tx_errors: 2, ..Traffic::default() };
        assert_eq!(
            t.to_string(),
            "sent 7 packets, 594 bytes (0 GSO packets carrying 0 segments), received 16 packets, 1400 bytes (0 GSO packets), 0 bad checksums, 2 send errors"
        );
    }
}
