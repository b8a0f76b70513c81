//! The xenstore handshake with netback, as Linux netfront's `talk_to_netback` does it.
//!
//! 1. Wait for the backend to reach `InitWait` (it has published its features).
//! 2. Read our `mac` (the toolstack writes it in both directories; ours first, the backend's as a
//!    fallback) and the backend's `feature-*` keys. `feature-rx-copy` is required.
//! 3. Set up the device ([`Netfront::new`]: rings, grants, event channel, receive buffers).
//! 4. In one transaction (retried on conflict) write `tx-ring-ref`, `rx-ring-ref`, `event-channel`,
//!    `request-rx-copy = 1`, `feature-rx-notify = 1`, `feature-sg`, `feature-gso-tcpv4`,
//!    `feature-no-csum-offload` (0 unless [`Config::rx_csum_offload`] is off), and
//!    `multi-queue-num-queues = 1` if the backend advertises `multi-queue-max-queues`.
//! 5. Switch to `Connected`, wait for the backend's `Connected`, kick the event channel.
//!
//! Failures after step 3 drop the device, which revokes its grants and closes its port.
//!
//! Going away: [`disconnect`] when we close (e.g. at power-off); [`wait_backend_leaving`] then
//! [`release`] when the toolstack takes the vif away (`xl network-detach`).

use alloc::format;
use alloc::vec::Vec;
use core::fmt;

use xen_traits::{EventChannels, GrantTable, SharedPage};
use xenbus::{Client, DeviceInfo, Error, Frontend, XenbusState};

use crate::config::{parse_flag, parse_mac, parse_u32, BackendFeatures, Config};
use crate::device::Netfront;
use crate::error::SetupError;
use crate::pages::PageAlloc;

/// Transaction attempts before giving up on conflicts.
const TX_ATTEMPTS: u32 = 8;

/// Why connecting failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// A xenstore operation failed (including the backend closing).
    Xenstore(Error),
    /// The backend does not offer `feature-rx-copy`.
    NoRxCopy,
    /// No usable `mac` key.
    BadMac,
    /// Setting up rings, grants or buffers failed.
    Setup(SetupError),
}

impl From<Error> for ConnectError {
    fn from(e: Error) -> Self {
        ConnectError::Xenstore(e)
    }
}

impl From<SetupError> for ConnectError {
    fn from(e: SetupError) -> Self {
        ConnectError::Setup(e)
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Xenstore(e) => write!(f, "xenstore: {e:?}"),
            ConnectError::NoRxCopy => write!(f, "backend lacks feature-rx-copy"),
            ConnectError::BadMac => write!(f, "no valid mac"),
            ConnectError::Setup(e) => write!(f, "setup: {e:?}"),
        }
    }
}

/// Read a key; a missing key is `None`.
async fn read_opt<XP: SharedPage, XE: EventChannels>(
    xs: &Client<XP, XE>,
    path: &str,
) -> Result<Option<Vec<u8>>, Error> {
    match xs.read(path).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The backend's `feature-*` keys (absent keys are off).
pub async fn read_backend_features<XP: SharedPage, XE: EventChannels>(
    xs: &Client<XP, XE>,
    fe: &Frontend,
) -> Result<BackendFeatures, Error> {
    let flag = async |name: &str| -> Result<bool, Error> {
        Ok(read_opt(xs, &fe.backend_key(name))
            .await?
            .is_some_and(|v| parse_flag(&v)))
    };
    Ok(BackendFeatures {
        sg: flag("feature-sg").await?,
        gso_tcpv4: flag("feature-gso-tcpv4").await?,
        gso_tcpv6: flag("feature-gso-tcpv6").await?,
        rx_copy: flag("feature-rx-copy").await?,
        rx_notify: flag("feature-rx-notify").await?,
        ipv6_csum_offload: flag("feature-ipv6-csum-offload").await?,
        split_event_channels: flag("feature-split-event-channels").await?,
        max_queues: read_opt(xs, &fe.backend_key("multi-queue-max-queues"))
            .await?
            .and_then(|v| parse_u32(&v)),
    })
}

/// Our MAC: `<frontend>/mac`, else `<backend>/mac`.
pub async fn read_mac<XP: SharedPage, XE: EventChannels>(
    xs: &Client<XP, XE>,
    fe: &Frontend,
) -> Result<[u8; 6], ConnectError> {
    for path in [fe.key("mac"), fe.backend_key("mac")] {
        if let Some(v) = read_opt(xs, &path).await? {
            return parse_mac(&v).map_err(|_| {
                log::warn!("netfront: {path}: not a MAC address");
                ConnectError::BadMac
            });
        }
    }
    Err(ConnectError::BadMac)
}

/// Write our keys for `dev` in one transaction (retried on conflict).
pub async fn publish<XP, XE, P, G, E>(
    xs: &Client<XP, XE>,
    fe: &Frontend,
    dev: &Netfront<P, G, E>,
) -> Result<(), Error>
where
    XP: SharedPage,
    XE: EventChannels,
    P: SharedPage,
    G: GrantTable,
    E: EventChannels,
{
    let cfg = dev.config();
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut keys = alloc::vec![
        ("tx-ring-ref", format!("{}", dev.tx_ring_ref().0)),
        ("rx-ring-ref", format!("{}", dev.rx_ring_ref().0)),
        ("event-channel", format!("{}", dev.port().0)),
        ("request-rx-copy", "1".into()),
        ("feature-rx-notify", "1".into()),
        ("feature-sg", flag(cfg.rx_sg).into()),
        ("feature-gso-tcpv4", flag(cfg.rx_gso_tcpv4).into()),
        ("feature-no-csum-offload", flag(!cfg.rx_csum_offload).into()),
    ];
    if dev.features().max_queues.is_some() {
        keys.push(("multi-queue-num-queues", "1".into()));
    }
    xs.transaction(TX_ATTEMPTS, async |tx| {
        for (k, v) in &keys {
            tx.write(&fe.key(k), v.as_bytes()).await?;
        }
        Ok(())
    })
    .await
}

/// Connect to the backend of `device` and return the running device. See the [module docs](self).
#[allow(clippy::too_many_arguments)]
pub async fn connect<XP, XE, P, G, E, A>(
    xs: &Client<XP, XE>,
    device: DeviceInfo,
    grants: G,
    evtchn: E,
    alloc: &mut A,
    config: Config,
) -> Result<(Netfront<P, G, E>, Frontend), ConnectError>
where
    XP: SharedPage,
    XE: EventChannels,
    P: SharedPage,
    G: GrantTable,
    E: EventChannels,
    A: PageAlloc<Page = P>,
{
    let mut fe = Frontend::new(device);
    fe.wait_for_backend(xs, |s| s == XenbusState::InitWait)
        .await?;
    let mac = read_mac(xs, &fe).await?;
    let features = read_backend_features(xs, &fe).await?;
    if !features.rx_copy {
        log::warn!("netfront: {}: backend lacks feature-rx-copy", fe.nodename());
        return Err(ConnectError::NoRxCopy);
    }
    let dev = Netfront::new(
        grants,
        evtchn,
        fe.backend_id(),
        mac,
        features,
        config,
        alloc,
    )?;
    publish(xs, &fe, &dev).await?;
    fe.switch_state(xs, XenbusState::Connected).await?;
    fe.wait_for_backend(xs, |s| s == XenbusState::Connected)
        .await?;
    dev.kick();
    log::info!(
        "netfront: {} connected to {} (mac {:02x?}, sg {}, gso-tcpv4 {})",
        fe.nodename(),
        fe.backend_id(),
        mac,
        features.sg,
        features.gso_tcpv4
    );
    Ok((dev, fe))
}

/// Tear the connection down, whoever started it (us, or the toolstack detaching the vif and the backend
/// going to `Closing`): switch to `Closing`, wait until the backend has disconnected (`Closing`,
/// `Closed`, or gone), close the device (revoking every grant — the backend has unmapped the rings by
/// then), switch to `Closed`. Returns what the device could not give back.
pub async fn disconnect<XP, XE, P, G, E>(
    xs: &Client<XP, XE>,
    fe: &mut Frontend,
    dev: Netfront<P, G, E>,
) -> Result<crate::CloseReport, Error>
where
    XP: SharedPage,
    XE: EventChannels,
    P: SharedPage,
    G: GrantTable,
    E: EventChannels,
{
    fe.switch_state(xs, XenbusState::Closing).await?;
    let gone = |s| {
        matches!(
            s,
            XenbusState::Closing | XenbusState::Closed | XenbusState::Unknown
        )
    };
    fe.wait_for_backend(xs, gone).await?;
    let report = close_device(fe, dev);
    fe.switch_state(xs, XenbusState::Closed).await?;
    Ok(report)
}

/// Closes the device once the backend has let go of it, and reports pages it still maps (leaked).
fn close_device<P: SharedPage, G: GrantTable, E: EventChannels>(
    fe: &Frontend,
    dev: Netfront<P, G, E>,
) -> crate::CloseReport {
    let report = dev.close();
    if report.leaked_pages > 0 {
        log::warn!(
            "netfront: {}: {} pages still mapped by the backend, leaked",
            fe.nodename(),
            report.leaked_pages
        );
    }
    report
}

/// Waits until the backend leaves `Connected` (or its `state` node vanishes); returns the state it
/// went to. With a connected device this is how a detach by the toolstack is noticed.
pub async fn wait_backend_leaving<XP: SharedPage, XE: EventChannels>(
    xs: &Client<XP, XE>,
    fe: &Frontend,
) -> Result<XenbusState, Error> {
    fe.wait_for_backend(xs, |s| s != XenbusState::Connected)
        .await
}

/// The toolstack is taking the vif away: `xl network-detach` writes the backend's `state` = `Closing`
/// (and `online` = 0) itself, while netback still maps our rings. Answer as Linux netfront does:
/// switch to `Closed`, which makes netback disconnect (unmap the rings and every page, close its
/// port) and then reach `Closed` — wait for that, or for the backend's directory to vanish — and only
/// then close the device, so no page has to be leaked. Returns what the device could not give back.
pub async fn release<XP, XE, P, G, E>(
    xs: &Client<XP, XE>,
    fe: &mut Frontend,
    dev: Netfront<P, G, E>,
) -> Result<crate::CloseReport, Error>
where
    XP: SharedPage,
    XE: EventChannels,
    P: SharedPage,
    G: GrantTable,
    E: EventChannels,
{
    fe.switch_state(xs, XenbusState::Closed).await?;
    let watch = xs.watch(&fe.backend_key("state")).await?;
    loop {
        match fe.backend_state(xs).await? {
            XenbusState::Closed | XenbusState::Unknown => break,
            _ => {
                watch.next().await?;
            }
        }
    }
    watch.unwatch().await.ok();
    Ok(close_device(fe, dev))
}
