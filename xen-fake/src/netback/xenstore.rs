//! The fake netback's xenstore side: publish features and `InitWait`, read the frontend's keys when it
//! connects, answer its state changes — as Linux netback's `xenbus.c` does.

use xen_traits::DomId;
use xenbus::discovery::VIF;

use netfront::config::{parse_flag, parse_u32};

use super::{FakeNetback, FrontendKeys, NetbackConfig};
use crate::xenstored::FakeXenstored;

/// `XenbusState` numbers as written in `state` nodes.
mod st {
    pub const INITIALISING: &[u8] = b"1";
    pub const INIT_WAIT: &[u8] = b"2";
    pub const INITIALISED: &[u8] = b"3";
    pub const CONNECTED: &[u8] = b"4";
    pub const CLOSING: &[u8] = b"5";
    pub const CLOSED: &[u8] = b"6";
}

/// Format a MAC as xl writes it.
pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl FakeNetback {
    /// Create `device/vif/<id>` of `xs`'s guest with a dom0 backend (as `xl` does, `mac` in both
    /// directories), then a netback for it in state `Initialising`. It advances only in
    /// [`FakeNetback::step_xenstore`].
    pub fn create(
        xs: &mut FakeXenstored,
        id: u32,
        grants: crate::FakeGrantTable,
        hub: &crate::EventHub,
        guest: DomId,
        cfg: NetbackConfig,
    ) -> FakeNetback {
        let (front, back) = xs.add_device(VIF, id, DomId::DOM0);
        let mac = mac_string(cfg.mac);
        xs.dom0_write(&format!("{front}/mac"), mac.as_bytes());
        xs.dom0_write(&format!("{back}/mac"), mac.as_bytes());
        let mut nb = FakeNetback::new(grants, hub.domain(DomId::DOM0), guest, cfg);
        nb.paths = Some((front, back));
        nb
    }

    /// The frontend and backend directories (set by [`FakeNetback::create`]).
    pub fn paths(&self) -> Option<(&str, &str)> {
        self.paths.as_ref().map(|(f, b)| (f.as_str(), b.as_str()))
    }

    /// React to xenstore: publish features and `InitWait` (first call), connect when the frontend is
    /// `Initialised`/`Connected`, disconnect when it closes. Returns whether anything changed.
    pub fn step_xenstore(&mut self, xs: &mut FakeXenstored) -> bool {
        let Some((front, back)) = self.paths.clone() else {
            return false;
        };
        let ours = xs.value(&format!("{back}/state")).unwrap_or_default();
        let theirs = xs.value(&format!("{front}/state")).unwrap_or_default();
        match (ours.as_slice(), theirs.as_slice()) {
            (st::INITIALISING, _) => {
                let c = self.cfg;
                let flag = |b: bool| if b { &b"1"[..] } else { &b"0"[..] };
                xs.dom0_write(&format!("{back}/feature-sg"), flag(c.sg));
                xs.dom0_write(&format!("{back}/feature-gso-tcpv4"), flag(c.gso_tcpv4));
                xs.dom0_write(&format!("{back}/feature-rx-copy"), flag(c.rx_copy));
                xs.dom0_write(&format!("{back}/feature-rx-flip"), b"0");
                xs.dom0_write(&format!("{back}/feature-rx-notify"), b"1");
                if let Some(n) = c.max_queues {
                    xs.dom0_write(
                        &format!("{back}/multi-queue-max-queues"),
                        n.to_string().as_bytes(),
                    );
                }
                xs.dom0_write(&format!("{back}/state"), st::INIT_WAIT);
                true
            }
            (st::INIT_WAIT, st::INITIALISED | st::CONNECTED) => {
                match read_frontend_keys(xs, &front) {
                    Ok(keys) => match self.attach(keys) {
                        Ok(()) => xs.dom0_write(&format!("{back}/state"), st::CONNECTED),
                        Err(e) => self.fail(xs, &back, e),
                    },
                    Err(e) => self.fail(xs, &back, e),
                }
                true
            }
            (st::CONNECTED, st::CLOSING | st::CLOSED) => {
                self.detach();
                xs.dom0_write(&format!("{back}/state"), st::CLOSED);
                true
            }
            (st::CLOSING, st::CLOSING | st::CLOSED) => {
                // After a toolstack detach the rings are still mapped here (see `toolstack_detach`).
                self.detach();
                xs.dom0_write(&format!("{back}/state"), st::CLOSED);
                true
            }
            _ => false,
        }
    }

    /// The toolstack detaches the vif (`xl network-detach`): the backend disconnects (unmapping the
    /// rings) and switches to `Closing`; it reaches `Closed` once the frontend closes.
    pub fn begin_close(&mut self, xs: &mut FakeXenstored) {
        if let Some((_, back)) = self.paths.clone() {
            self.detach();
            xs.dom0_write(&format!("{back}/state"), st::CLOSING);
        }
    }

    /// `xl network-detach` as libxl does it: the toolstack writes the backend's `online` = 0 and
    /// `state` = `Closing` itself; netback still maps the rings, and disconnects only when the frontend
    /// closes (then reaches `Closed`).
    pub fn toolstack_detach(&mut self, xs: &mut FakeXenstored) {
        if let Some((_, back)) = self.paths.clone() {
            xs.dom0_write(&format!("{back}/online"), b"0");
            xs.dom0_write(&format!("{back}/state"), st::CLOSING);
        }
    }

    /// The toolstack re-attaches: the backend starts over at `Initialising` (as a fresh probe).
    pub fn restart(&mut self, xs: &mut FakeXenstored) {
        if let Some((front, back)) = self.paths.clone() {
            self.detach();
            xs.dom0_write(&format!("{front}/state"), st::INITIALISING);
            xs.dom0_write(&format!("{back}/state"), st::INITIALISING);
        }
    }

    fn fail(&mut self, xs: &mut FakeXenstored, back: &str, e: String) {
        self.record(e);
        xs.dom0_write(&format!("{back}/state"), st::CLOSING);
    }
}

/// Read what the frontend published, as netback's `connect_data_rings`/`read_xenbus_vif_flags` do.
fn read_frontend_keys(xs: &FakeXenstored, front: &str) -> Result<FrontendKeys, String> {
    let num = |k: &str| -> Result<u32, String> {
        let v = xs
            .value(&format!("{front}/{k}"))
            .ok_or_else(|| format!("frontend lacks {k}"))?;
        parse_u32(&v).ok_or_else(|| format!("frontend {k} = {v:?}: not a number"))
    };
    let flag = |k: &str| {
        xs.value(&format!("{front}/{k}"))
            .is_some_and(|v| parse_flag(&v))
    };
    if let Some(v) = xs.value(&format!("{front}/multi-queue-num-queues")) {
        if parse_u32(&v) != Some(1) {
            return Err(format!(
                "frontend asked for {v:?} queues; the flat layout needs 1"
            ));
        }
    }
    if !flag("request-rx-copy") {
        return Err("frontend did not request rx-copy".into());
    }
    Ok(FrontendKeys {
        tx_ring_ref: xen_traits::GrantRef(num("tx-ring-ref")?),
        rx_ring_ref: xen_traits::GrantRef(num("rx-ring-ref")?),
        event_channel: xen_traits::Port(num("event-channel")?),
        rx_sg: flag("feature-sg"),
        rx_gso_tcpv4: flag("feature-gso-tcpv4"),
        rx_notify: flag("feature-rx-notify"),
        csum_offload: !flag("feature-no-csum-offload"),
    })
}
