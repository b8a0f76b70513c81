//! [`NetDevice`]: smoltcp's [`phy::Device`] over one [`Netfront`].
//!
//! - `receive()` gives a token pair only when a frame was received *and* a full-size frame can be sent
//!   (smoltcp may answer at once, e.g. ARP or ICMP echo); a received frame waits in the device until
//!   the transmit side has room. `transmit()` gives a token only when a full-size frame fits.
//! - Checksum offload both ways. Received TCP/UDP frames the backend vouches for (`data_validated`, or
//!   `csum_blank` from a local sender) are not summed again; others are verified here, once, and
//!   dropped if wrong — smoltcp verifies no TCP/UDP checksum itself. Outgoing TCP frames carry only
//!   the pseudo-header sum and `NETTXF_csum_blank`: netback's host completes them. UDP checksums are
//!   computed by smoltcp (DHCP servers reading raw packets mishandle blank ones); IP and ICMP ones too.
//! - Segmentation offload: with `feature-gso-tcpv4`, TCP segments built back to back for one flow are
//!   merged into one GSO packet ([`super::coalesce`]). Merged data waits in the device until
//!   [`NetDevice::flush`], which the driver calls after every `Interface::poll`.
//! - `None` from either is a safe point to wait on the device's event channel: netfront re-armed the
//!   response event it was short of.

use alloc::vec::Vec;

use netfront::checksum::{self, Transport};
use netfront::{Gso, GsoType, Netfront, RxPacket, TxChecksum, TxMeta};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use xen_traits::{EventChannels, GrantTable, SharedPage, PAGE_SIZE};

use super::coalesce::Coalescer;
use super::counters::Traffic;

/// Ethernet MTU plus its header: the largest frame smoltcp builds.
pub const MAX_FRAME: usize = 1514;

/// Frames dropped by the adapter (on top of netfront's own counters), and what offload did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Received TCP/UDP frames with a wrong checksum (dropped).
    pub rx_bad_checksum: u64,
    /// Frames smoltcp built that netfront refused (the device broke meanwhile).
    pub tx_refused: u64,
    /// GSO packets sent (each several merged TCP segments).
    pub tx_gso_packets: u64,
    /// TCP segments that went out inside them.
    pub tx_gso_segments: u64,
}

/// The transmit side: netfront, and the packet being merged.
struct Out<P: SharedPage, G: GrantTable, E: EventChannels> {
    nf: Netfront<P, G, E>,
    coalescer: Coalescer,
    /// Where smoltcp builds each frame.
    frame: Vec<u8>,
    /// Largest merged packet (0: no segmentation offload).
    gso_limit: usize,
    stats: DeviceStats,
}

impl<P: SharedPage, G: GrantTable, E: EventChannels> Out<P, G, E> {
    /// Whether one more full-size frame can be taken. With a packet pending, room is kept for it plus
    /// the frame sent apart (a page more than their sum, and the GSO slot); if that is short, the
    /// pending packet goes out first.
    fn ready(&mut self) -> bool {
        if let Some(p) = self.coalescer.pending_len() {
            let need = p + MAX_FRAME + PAGE_SIZE;
            if need <= self.gso_limit && self.nf.tx_ready_for(need, true) {
                return true;
            }
            self.flush();
        }
        self.nf.tx_ready(MAX_FRAME)
    }

    /// Send the pending packet, if any.
    fn flush(&mut self) {
        if let Some(m) = self.coalescer.take() {
            let mut frame = m.frame;
            if self.send(&mut frame, m.mss) && m.segments > 1 {
                self.stats.tx_gso_packets += 1;
                self.stats.tx_gso_segments += m.segments as u64;
            }
        }
    }

    /// Send one frame: a TCP one with its checksum offloaded, and split at `mss` if given. False if
    /// netfront refused it.
    fn send(&mut self, frame: &mut [u8], mss: Option<u16>) -> bool {
        let mut meta = TxMeta::default();
        if checksum::transport(frame) == Some(Transport::Tcp) && checksum::prepare_blank(frame).is_ok() {
            meta.checksum = TxChecksum::Blank;
            meta.gso = mss.map(|mss| Gso { mss, kind: GsoType::TcpV4 });
        }
        let sent = self.nf.transmit_frame(frame, meta).is_ok();
        if !sent {
            self.stats.tx_refused += 1;
        }
        sent
    }

    /// smoltcp's frame of `len` bytes, built by `f`: merged into the pending packet, made the pending
    /// packet, or sent.
    fn consume<R>(&mut self, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut frame = core::mem::take(&mut self.frame);
        frame.clear();
        frame.resize(len, 0);
        let r = f(&mut frame);
        if self.gso_limit == 0 || !self.coalescer.try_append(&frame, self.gso_limit) {
            self.flush();
            if self.gso_limit == 0 || !self.coalescer.start(&frame) {
                let _ = self.send(&mut frame, None);
            }
        }
        self.frame = frame;
        r
    }
}

/// One vif as a smoltcp device.
pub struct NetDevice<P: SharedPage, G: GrantTable, E: EventChannels> {
    out: Out<P, G, E>,
    /// A received frame waiting for transmit room.
    pending: Option<RxPacket>,
    /// `transmit()` or `receive()` found no room to send since the last [`NetDevice::take_tx_blocked`].
    tx_blocked: bool,
}

impl<P: SharedPage, G: GrantTable, E: EventChannels> NetDevice<P, G, E> {
    /// Wraps a connected netfront.
    pub fn new(nf: Netfront<P, G, E>) -> Self {
        let max = nf.max_tx_len();
        let gso_limit = if nf.features().gso_tcpv4 && max >= 2 * MAX_FRAME + PAGE_SIZE { max } else { 0 };
        let out = Out { nf, coalescer: Coalescer::default(), frame: Vec::new(), gso_limit, stats: DeviceStats::default() };
        NetDevice { out, pending: None, tx_blocked: false }
    }

    /// The netfront underneath (for its port, MAC, counters, `on_event`).
    pub fn netfront(&mut self) -> &mut Netfront<P, G, E> {
        &mut self.out.nf
    }

    /// The netfront underneath, taken back (to release or close it). Merged data not yet flushed is
    /// dropped (TCP sends it again).
    pub fn into_netfront(self) -> Netfront<P, G, E> {
        self.out.nf
    }

    /// The netfront underneath.
    pub fn netfront_ref(&self) -> &Netfront<P, G, E> {
        &self.out.nf
    }

    /// Send what segmentation offload holds back. Call after every `Interface::poll`.
    pub fn flush(&mut self) {
        self.out.flush();
    }

    /// Whether a received frame waits for transmit room.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether sending found no room since the last call (and clears it).
    pub fn take_tx_blocked(&mut self) -> bool {
        core::mem::replace(&mut self.tx_blocked, false)
    }

    /// The adapter's counters.
    pub fn stats(&self) -> DeviceStats {
        self.out.stats
    }

    /// The interface's traffic counters (netfront's and the adapter's).
    pub fn traffic(&self) -> Traffic {
        let (n, d) = (self.out.nf.stats(), self.out.stats);
        Traffic {
            tx_packets: n.tx.packets,
            tx_bytes: n.tx.bytes,
            tx_gso_packets: d.tx_gso_packets,
            tx_gso_segments: d.tx_gso_segments,
            rx_packets: n.rx.packets,
            rx_bytes: n.rx.bytes,
            rx_gso_packets: n.rx.gso_packets,
            rx_bad_checksums: d.rx_bad_checksum,
            tx_errors: n.tx.errors + d.tx_refused,
        }
    }

    /// The next received frame whose transport checksum holds; others are dropped and counted.
    fn next_frame(&mut self) -> Option<RxPacket> {
        loop {
            let p = self.out.nf.rx_packet().ok()??;
            if p.checksum_ok() {
                return Some(p);
            }
            self.out.stats.rx_bad_checksum += 1;
        }
    }
}

/// A received frame, owned.
pub struct RxToken {
    data: Vec<u8>,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.data)
    }
}

/// Room for one frame on the transmit ring.
pub struct TxToken<'a, P: SharedPage, G: GrantTable, E: EventChannels> {
    out: &'a mut Out<P, G, E>,
}

impl<P: SharedPage, G: GrantTable, E: EventChannels> phy::TxToken for TxToken<'_, P, G, E> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.out.consume(len, f)
    }
}

impl<P: SharedPage, G: GrantTable, E: EventChannels> phy::Device for NetDevice<P, G, E> {
    type RxToken<'a>
        = RxToken
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, P, G, E>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_, P, G, E>)> {
        if self.pending.is_none() {
            self.pending = self.next_frame();
        }
        self.pending.as_ref()?;
        if !self.out.ready() {
            self.tx_blocked = true;
            return None;
        }
        let rx = RxToken { data: self.pending.take()?.data };
        Some((rx, TxToken { out: &mut self.out }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_, P, G, E>> {
        if !self.out.ready() {
            self.tx_blocked = true;
            return None;
        }
        Some(TxToken { out: &mut self.out })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME.min(self.out.nf.max_tx_len());
        caps.max_burst_size = None;
        // See the module docs: TCP both ways and UDP on receive are checked (or offloaded) here.
        let mut c = ChecksumCapabilities::default();
        c.tcp = Checksum::None;
        c.udp = Checksum::Tx;
        caps.checksum = c;
        caps
    }
}
