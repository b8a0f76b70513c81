//! The xenbus handshake with blkback (Linux `talk_to_blkback` + `blkfront_connect`):
//!
//! 1. wait for the backend to reach `InitWait`; read `max-ring-page-order`;
//! 2. allocate and grant the ring pages (`2^order`, order capped by [`Config`]), allocate the event
//!    channel, and write `ring-ref` (one page) or `ring-page-order` + `ring-ref0..N`, `event-channel` and
//!    `protocol` in one transaction; switch to `Initialised`;
//! 3. wait for `Connected`; read `sectors`, `info`, `sector-size`, `physical-sector-size` and the
//!    features (`feature-flush-cache`, `feature-barrier`, `feature-discard` + parameters,
//!    `feature-max-indirect-segments`); switch to `Connected`.
//!
//! [`disconnect`] closes the device the same way Linux does: `Closing`, wait for the backend to reach
//! `Closed` (it unmaps the ring first), release grants and the event channel, `Closed`.
//!
//! On failure everything set up is released (ring grants revoked, port closed, pages freed; a grant
//! the backend still maps keeps its page, which is then leaked rather than reused).

use alloc::format;
use alloc::vec::Vec;

use xen_traits::{EventChannels, GrantRef, GrantTable, Pfn, Port, SharedPage};
use xenbus::discovery::DeviceInfo;
use xenbus::{Client, FrontRing, Frontend, XenbusState};

use crate::device::{BlkFront, BlkRing, Parts};
use crate::error::ConnectError;
use crate::info::{number, BackendKeys, DiskInfo};
use crate::pages::Pages;
use crate::wire::{ring, PROTOCOL_X86_64};

/// Largest ring order we ever use (`XENBUS_MAX_RING_GRANT_ORDER` of Linux: 16 pages).
pub const MAX_RING_PAGE_ORDER: u32 = 4;

/// Driver choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest ring order we accept (`0..=4`); the backend's `max-ring-page-order` may lower it.
    pub max_ring_page_order: u32,
    /// Largest number of indirect segments per request (the backend's limit may lower it; Linux
    /// blkback offers 256: 1 MiB requests).
    pub max_indirect_segments: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_ring_page_order: 2,
            max_indirect_segments: 256,
        }
    }
}

async fn read_opt<XP: SharedPage, XE: EventChannels>(
    xs: &Client<XP, XE>,
    path: &str,
) -> Result<Option<Vec<u8>>, ConnectError> {
    match xs.read(path).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What the ring setup allocated, for the handshake and for cleanup.
struct RingSetup<P> {
    /// The ring memory, initialised; wrapped in the datapath's ring only once connected, so a failed
    /// handshake can give it back.
    page: Option<P>,
    frames: Vec<Pfn>,
    grefs: Vec<GrantRef>,
    port: Option<Port>,
}

/// Connect to the backend of `device` (a `device/vbd/N` found by [`xenbus::discovery`]).
pub async fn connect<XP, XE, G, E, A>(
    xs: &Client<XP, XE>,
    device: DeviceInfo,
    mut gnt: G,
    evtchn: E,
    mut pages: A,
    config: Config,
) -> Result<BlkFront<G, E, A>, ConnectError>
where
    XP: SharedPage,
    XE: EventChannels,
    G: GrantTable,
    E: EventChannels,
    A: Pages,
{
    let mut fe = Frontend::new(device);
    let mut setup = RingSetup {
        page: None,
        frames: Vec::new(),
        grefs: Vec::new(),
        port: None,
    };
    let r = handshake(
        xs, &mut fe, &mut gnt, &evtchn, &mut pages, config, &mut setup,
    )
    .await;
    match r {
        Ok(info) => {
            let page = setup.page.take().ok_or(ConnectError::NoMemory)?;
            let ring = BlkRing::attach(page, 0).map_err(ConnectError::Ring)?;
            let port = setup.port.ok_or(ConnectError::NoMemory)?;
            let handle = fe.device().id as u16;
            let backend = fe.backend_id();
            log::info!(
                "blkfront: {}: {} sectors of {} bytes{}, ring {} slots",
                fe.nodename(),
                info.capacity(),
                info.sector_size,
                if info.read_only() { " (read-only)" } else { "" },
                ring.size()
            );
            Ok(BlkFront::from_parts(Parts {
                ring,
                ring_frames: setup.frames,
                ring_grefs: setup.grefs,
                gnt,
                evtchn,
                port,
                pages,
                backend,
                handle,
                info,
                max_indirect_segments: config.max_indirect_segments,
                frontend: fe,
            }))
        }
        Err(e) => {
            log::error!("blkfront: {}: connect failed: {e:?}", fe.nodename());
            cleanup(&mut gnt, &evtchn, &mut pages, setup);
            Err(e)
        }
    }
}

fn cleanup<G: GrantTable, E: EventChannels, A: Pages>(
    gnt: &mut G,
    evtchn: &E,
    pages: &mut A,
    s: RingSetup<A::Page>,
) {
    let mut all_revoked = true;
    for g in &s.grefs {
        if gnt.revoke(*g).is_err() {
            all_revoked = false;
        }
    }
    if let Some(p) = s.port {
        evtchn.close(p).ok();
    }
    if let Some(page) = s.page {
        if all_revoked {
            pages.free(page, &s.frames);
        } else {
            log::warn!("blkfront: ring pages still mapped by the backend: not reused");
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn handshake<XP, XE, G, E, A>(
    xs: &Client<XP, XE>,
    fe: &mut Frontend,
    gnt: &mut G,
    evtchn: &E,
    pages: &mut A,
    config: Config,
    s: &mut RingSetup<A::Page>,
) -> Result<DiskInfo, ConnectError>
where
    XP: SharedPage,
    XE: EventChannels,
    G: GrantTable,
    E: EventChannels,
    A: Pages,
{
    fe.wait_for_backend(xs, |st| st == XenbusState::InitWait)
        .await?;

    // Ring geometry.
    let offered = match read_opt(xs, &fe.backend_key("max-ring-page-order")).await? {
        None => 0,
        Some(v) => number(&v).unwrap_or_else(|| {
            log::warn!("blkfront: ignoring unparsable max-ring-page-order");
            0
        }),
    };
    let order = (offered.min(u64::from(
        config.max_ring_page_order.min(MAX_RING_PAGE_ORDER),
    ))) as u32;
    let npages = 1usize << order;
    let (page, frames) = pages.alloc(npages).map_err(|_| ConnectError::NoMemory)?;
    if frames.len() != npages || page.size() != npages * xen_traits::PAGE_SIZE {
        pages.free(page, &frames);
        return Err(ConnectError::NoMemory);
    }
    s.frames = frames;
    // SHARED_RING_INIT through a borrowed view; the page stays ours until connected.
    let init = FrontRing::<&A::Page, ring::Request, ring::Response>::init(&page).map(drop);
    s.page = Some(page);
    init.map_err(ConnectError::Ring)?;
    let backend = fe.backend_id();
    for &f in &s.frames {
        let g = gnt.grant(backend, f, false).map_err(ConnectError::Grant)?;
        s.grefs.push(g);
    }
    let port = evtchn
        .alloc_unbound(backend)
        .map_err(ConnectError::EventChannel)?;
    s.port = Some(port);
    evtchn.unmask(port);

    // Publish it all at once.
    let grefs = s.grefs.clone();
    let fe_ref = &*fe;
    xs.transaction(8, async |tx| {
        if order == 0 {
            tx.write(
                &fe_ref.key("ring-ref"),
                format!("{}", grefs[0].0).as_bytes(),
            )
            .await?;
        } else {
            tx.write(
                &fe_ref.key("ring-page-order"),
                format!("{order}").as_bytes(),
            )
            .await?;
            for (i, g) in grefs.iter().enumerate() {
                tx.write(
                    &fe_ref.key(&format!("ring-ref{i}")),
                    format!("{}", g.0).as_bytes(),
                )
                .await?;
            }
        }
        tx.write(
            &fe_ref.key("event-channel"),
            format!("{}", port.0).as_bytes(),
        )
        .await?;
        tx.write(&fe_ref.key("protocol"), PROTOCOL_X86_64.as_bytes())
            .await?;
        Ok(())
    })
    .await?;
    fe.switch_state(xs, XenbusState::Initialised).await?;

    fe.wait_for_backend(xs, |st| st == XenbusState::Connected)
        .await?;
    let mut vals: Vec<Option<Vec<u8>>> = Vec::new();
    for k in KEYS {
        vals.push(read_opt(xs, &fe.backend_key(k)).await?);
    }
    let v = |i: usize| vals[i].as_deref();
    let keys = BackendKeys {
        sectors: v(0),
        sector_size: v(1),
        physical_sector_size: v(2),
        info: v(3),
        feature_flush_cache: v(4),
        feature_barrier: v(5),
        feature_discard: v(6),
        discard_granularity: v(7),
        discard_alignment: v(8),
        discard_secure: v(9),
        feature_max_indirect_segments: v(10),
    };
    let info = DiskInfo::parse(&keys)?;
    fe.switch_state(xs, XenbusState::Connected).await?;
    Ok(info)
}

/// The backend keys read at connect time, in [`BackendKeys`] order.
const KEYS: [&str; 11] = [
    "sectors",
    "sector-size",
    "physical-sector-size",
    "info",
    "feature-flush-cache",
    "feature-barrier",
    "feature-discard",
    "discard-granularity",
    "discard-alignment",
    "discard-secure",
    "feature-max-indirect-segments",
];

/// Close the device: fail what is in flight, switch to `Closing`, wait until the backend is `Closed`
/// (or gone), release grants, pages and the event channel, switch to `Closed`. Returns the number of
/// grants the backend still mapped (their pages are leaked, never reused).
pub async fn disconnect<XP, XE, G, E, A>(
    xs: &Client<XP, XE>,
    blk: &mut BlkFront<G, E, A>,
) -> Result<usize, ConnectError>
where
    XP: SharedPage,
    XE: EventChannels,
    G: GrantTable,
    E: EventChannels,
    A: Pages,
{
    blk.shut_down();
    let mut fe = blk.frontend().clone();
    fe.switch_state(xs, XenbusState::Closing).await?;
    *blk.frontend_mut() = fe.clone();
    let watch = xs.watch(&fe.backend_key("state")).await?;
    loop {
        let st = fe.backend_state(xs).await?;
        if matches!(st, XenbusState::Closed | XenbusState::Unknown) {
            break;
        }
        watch.next().await?;
    }
    watch.unwatch().await.ok();
    let leaked = blk.release_resources();
    if leaked > 0 {
        log::warn!(
            "blkfront: {}: {leaked} grants still mapped after close",
            fe.nodename()
        );
    }
    fe.switch_state(xs, XenbusState::Closed).await?;
    *blk.frontend_mut() = fe;
    Ok(leaked)
}
