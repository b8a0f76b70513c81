//! [`NetDevice`]: smoltcp's [`phy::Device`] over one [`Netfront`].
//!
//! - `receive()` gives a token pair only when a frame was received *and* a full-size frame can be sent
//!   (smoltcp may answer at once, e.g. ARP or ICMP echo); a received frame waits in the device until
//!   the transmit side has room. `transmit()` gives a token only when a full-size frame fits.
//! - Frames from dom0 often carry a blank (offloaded) transport checksum: it is completed before smoltcp
//!   sees the frame, so smoltcp verifies every checksum in software. Outgoing frames carry complete
//!   checksums (smoltcp computes them), sent without offload flags.
//! - `None` from either is a safe point to wait on the device's event channel: netfront re-armed the
//!   response event it was short of.

use alloc::vec;
use alloc::vec::Vec;

use netfront::{Netfront, RxPacket, TxMeta};
use smoltcp::phy::{self, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use xen_traits::{EventChannels, GrantTable, SharedPage};

/// Ethernet MTU plus its header: the largest frame smoltcp builds.
pub const MAX_FRAME: usize = 1514;

/// Frames dropped by the adapter (on top of netfront's own counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Received frames whose blank checksum could not be completed (malformed headers).
    pub rx_bad_checksum: u64,
    /// Frames smoltcp built that netfront refused (the device broke meanwhile).
    pub tx_refused: u64,
}

/// One vif as a smoltcp device.
pub struct NetDevice<P: SharedPage, G: GrantTable, E: EventChannels> {
    nf: Netfront<P, G, E>,
    /// A received frame waiting for transmit room.
    pending: Option<RxPacket>,
    /// `transmit()` or `receive()` found no room to send since the last [`NetDevice::take_tx_blocked`].
    tx_blocked: bool,
    stats: DeviceStats,
}

impl<P: SharedPage, G: GrantTable, E: EventChannels> NetDevice<P, G, E> {
    /// Wraps a connected netfront.
    pub fn new(nf: Netfront<P, G, E>) -> Self {
        NetDevice { nf, pending: None, tx_blocked: false, stats: DeviceStats::default() }
    }

    /// The netfront underneath (for its port, MAC, counters, `on_event`).
    pub fn netfront(&mut self) -> &mut Netfront<P, G, E> {
        &mut self.nf
    }

    /// The netfront underneath, taken back (to release or close it).
    pub fn into_netfront(self) -> Netfront<P, G, E> {
        self.nf
    }

    /// The netfront underneath.
    pub fn netfront_ref(&self) -> &Netfront<P, G, E> {
        &self.nf
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
        self.stats
    }

    /// The next received frame with its checksum completed; frames that cannot be completed are dropped.
    fn next_frame(&mut self) -> Option<RxPacket> {
        loop {
            let mut p = self.nf.rx_packet().ok()??;
            if p.complete_checksum().is_ok() {
                return Some(p);
            }
            self.stats.rx_bad_checksum += 1;
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
    nf: &'a mut Netfront<P, G, E>,
    refused: &'a mut u64,
}

impl<P: SharedPage, G: GrantTable, E: EventChannels> phy::TxToken for TxToken<'_, P, G, E> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut f = Some(f);
        let mut out = None;
        let sent = self.nf.transmit(len, TxMeta::default(), |buf| {
            if let Some(f) = f.take() {
                out = Some(f(buf));
            }
        });
        if let Some(r) = out {
            return r;
        }
        // Refused before `fill` ran (the device broke, or a frame netfront cannot carry): smoltcp still
        // needs the closure's result, so the frame is built into scratch memory and dropped.
        let _ = sent;
        *self.refused += 1;
        let mut scratch = vec![0u8; len];
        match f.take() {
            Some(f) => f(&mut scratch),
            // `out` is set whenever `f` ran; both cannot be empty.
            None => unreachable!("xenolith::net: transmit closure ran without a result"),
        }
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
        if !self.nf.tx_ready(MAX_FRAME) {
            self.tx_blocked = true;
            return None;
        }
        let rx = RxToken { data: self.pending.take()?.data };
        Some((rx, TxToken { nf: &mut self.nf, refused: &mut self.stats.tx_refused }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_, P, G, E>> {
        if !self.nf.tx_ready(MAX_FRAME) {
            self.tx_blocked = true;
            return None;
        }
        Some(TxToken { nf: &mut self.nf, refused: &mut self.stats.tx_refused })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME.min(self.nf.max_tx_len());
        caps.max_burst_size = None;
        // Blank checksums are completed on receive; smoltcp computes and verifies all of them.
        caps.checksum = ChecksumCapabilities::default();
        caps
    }
}
