//! The Xen services of this domain, as the application and the executor see them (target only).
//!
//! [`services`] brings them up once, on first use: `shared_info` mapped over a page of the image, the
//! event channel upcall gate and `HVM_PARAM_CALLBACK_IRQ`, the PV clock, `VIRQ_TIMER` bound to a port
//! (Xen's default periodic timer stopped, so an idle guest is not woken). The grant table is set up on
//! first use of [`grants`].
//!
//! * [`platform`]: [`XenPlatform`], the executor's [`Platform`](crate::executor::Platform) on Xen.
//! * [`grants`]: the grant table and shared pages.
//! * `events()` gives the [`EventChannels`](xen_traits::EventChannels) implementation; `clock()` the
//!   monotonic and wall clocks.

pub mod grants;
#[cfg(feature = "block")]
pub mod pages;
pub mod platform;

use core::fmt;

use hypervisor::clock::Clock;
use hypervisor::evtchn::channels::XenEvents;
use hypervisor::hvm::XenError;
use hypervisor::hypercall::{InitError, Xen};
use hypervisor::shared_info::SharedInfo;

pub use hypervisor::evtchn::channels::XenEvents as Events;
pub use platform::XenPlatform;
pub use xen_traits::{DomId, EventChannels, EvtchnError, GrantError, GrantRef, GrantTable, Pfn, Port, RevokeError, SharedPage};

/// Why the Xen services could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupError {
    /// Not on Xen, or no hypercall page.
    NoXen(InitError),
    SharedInfo(XenError),
    Callback(XenError),
    TimerVirq(EvtchnError),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::NoXen(e) => write!(f, "Xen unavailable ({e:?})"),
            SetupError::SharedInfo(e) => write!(f, "mapping shared_info failed (Xen error {})", e.0),
            SetupError::Callback(e) => write!(f, "setting the event callback vector failed (Xen error {})", e.0),
            SetupError::TimerVirq(e) => write!(f, "binding VIRQ_TIMER failed ({e:?})"),
        }
    }
}

/// The domain's Xen services.
pub struct Services {
    pub xen: Xen,
    pub events: XenEvents,
    pub clock: Clock,
    /// The port `VIRQ_TIMER` (the one-shot timer) fires on.
    pub timer_port: Port,
}

static SERVICES: spin::Once<Services> = spin::Once::new();

/// The services, brought up on first call.
pub fn services() -> Result<&'static Services, SetupError> {
    SERVICES.try_call_once(setup)
}

fn setup() -> Result<Services, SetupError> {
    let xen = Xen::init().map_err(SetupError::NoXen)?;
    let shared = SharedInfo::map(&xen).map_err(SetupError::SharedInfo)?;
    let vector = pvh_boot::upcall::install(shared);
    let events = XenEvents::new(xen, shared, vector).map_err(SetupError::Callback)?;
    // Not every Xen starts one; failure means there is none to stop.
    let _ = xen.stop_periodic_timer(0);
    let timer_port = events.bind_virq(hypervisor::abi::evtchn::VIRQ_TIMER).map_err(SetupError::TimerVirq)?;
    let clock = Clock::new(shared);
    Ok(Services { xen, events, clock, timer_port })
}

/// The event channel service ([`EventChannels`] and more).
pub fn events() -> Result<&'static XenEvents, SetupError> {
    services().map(|s| &s.events)
}

/// Monotonic nanoseconds since the services came up (the PV clock).
pub fn now_ns() -> Result<u64, SetupError> {
    services().map(|s| s.clock.now_ns())
}

/// Wall-clock time: (seconds, nanoseconds) since the Unix epoch, from shared_info and the PV clock.
pub fn wall_clock() -> Result<(u64, u32), SetupError> {
    services().map(|s| s.clock.wall())
}

/// Event channel upcalls taken so far (each ends one block).
/// Notes in the flight recorder that the frontend of device `id` reached `state` (shown in crash
/// reports as `xenbus device=ID state=N`).
pub fn record_frontend_state(id: u32, state: xenbus::XenbusState) {
    pvh_boot::flight::record(pvh_boot::flight::Kind::Xenbus, u64::from(id), state as u64);
}

pub fn upcalls() -> u64 {
    pvh_boot::upcall::count()
}
