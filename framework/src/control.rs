//! Graceful stop: the toolstack's `control/` requests (`xl shutdown`, `xl reboot`, `xl sysrq`) as the
//! application sees them.
//!
//! The framework runs [`serve`] as a task next to `main` (see `start_async`): it advertises
//! `control/feature-{poweroff,reboot,sysrq}`, watches `control/shutdown` and `control/sysrq`, and
//! acknowledges each request by clearing the node (xenbus's [`take_shutdown_request`] / [`take_sysrq`],
//! which validate what xenstored sent).
//!
//! * `poweroff`, `reboot`, `halt` (and `crash`) become a [`Shutdown`] that [`shutdown_requested`]
//!   resolves to, so the application can flush, close and return from `main`; the domain then ends with
//!   the matching `SCHEDOP_shutdown` reason (reboot → `SHUTDOWN_reboot`, so the config's `on_reboot=`
//!   decides between restart and destroy). If the application has never asked for
//!   [`shutdown_requested`] it is not listening, and the domain stops at once; if it has, it gets a grace
//!   period ([`GRACE`]) before the domain is stopped anyway.
//! * Unknown values (and `suspend`, which Xenolith does not support) are acknowledged, logged and
//!   ignored.
//! * Sysrq keys are acknowledged and logged; Xenolith has no sysrq actions.
//! * Every request (carried out, ignored, sysrq) is noted in the flight recorder ([`pvh_boot::flight`]),
//!   which crash reports print.
//!
//! ```ignore
//! match xenolith::executor::select(work(), xenolith::control::shutdown_requested()).await {
//!     Either::Left(r) => r,
//!     Either::Right(why) => { flush().await; Ok(()) } // the domain ends with `why`'s reason
//! }
//! ```

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use pvh_boot::flight::{self, Kind};
use xen_traits::{EventChannels, SharedPage};
use xenbus::control::{advertise_features, take_shutdown_request, take_sysrq};
use xenbus::{Client, Error, ShutdownRequest, XsErrno};

use crate::executor::{select, sleep, Either};
use crate::power::Reason;

/// How long an application that listens for [`shutdown_requested`] has to return from `main`.
pub const GRACE: Duration = Duration::from_secs(5);

/// The features advertised under `control/feature-*`.
pub const FEATURES: [&str; 3] = ["poweroff", "reboot", "sysrq"];

/// A stop the toolstack asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `xl shutdown` (`poweroff`).
    Poweroff,
    /// `xl reboot`.
    Reboot,
    /// `halt`: ends like a poweroff.
    Halt,
    /// `crash`: ends with reason crash.
    Crash,
}

impl Shutdown {
    /// The reason the domain ends with.
    pub fn reason(self) -> Reason {
        match self {
            Shutdown::Poweroff | Shutdown::Halt => Reason::Poweroff,
            Shutdown::Reboot => Reason::Reboot,
            Shutdown::Crash => Reason::Crash,
        }
    }

    /// The request's code in the flight recorder ([`pvh_boot::flight::control`]).
    pub fn flight_code(self) -> u64 {
        use pvh_boot::flight::control;
        match self {
            Shutdown::Poweroff => control::POWEROFF,
            Shutdown::Reboot => control::REBOOT,
            Shutdown::Halt => control::HALT,
            Shutdown::Crash => control::CRASH,
        }
    }

    /// The request as a [`Shutdown`]; `None` for what we ignore (unknown values, suspend).
    pub fn from_request(r: ShutdownRequest) -> Option<Shutdown> {
        match r {
            ShutdownRequest::Poweroff => Some(Shutdown::Poweroff),
            ShutdownRequest::Reboot => Some(Shutdown::Reboot),
            ShutdownRequest::Halt => Some(Shutdown::Halt),
            ShutdownRequest::Crash => Some(Shutdown::Crash),
            ShutdownRequest::Suspend | ShutdownRequest::Unknown => None,
        }
    }
}

impl fmt::Display for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shutdown::Poweroff => "poweroff",
            Shutdown::Reboot => "reboot",
            Shutdown::Halt => "halt",
            Shutdown::Crash => "crash",
        })
    }
}

struct State {
    request: Option<Shutdown>,
    /// When the request's watch event arrived (platform nanoseconds; 0 on the host).
    requested_ns: u64,
    /// Someone called [`Control::requested`] (the application listens).
    listening: bool,
    wakers: Vec<Waker>,
}

/// The shutdown state of one domain: the request, if any, and who waits for it. The framework uses the
/// global [`CONTROL`]; tests make their own.
pub struct Control {
    state: spin::Mutex<State>,
}

/// The domain's control state.
pub static CONTROL: Control = Control::new();

impl Default for Control {
    fn default() -> Self {
        Control::new()
    }
}

impl Control {
    pub const fn new() -> Control {
        Control { state: spin::Mutex::new(State { request: None, requested_ns: 0, listening: false, wakers: Vec::new() }) }
    }

    /// Resolves to the request once there is one (at once if there is one already).
    pub fn requested(&self) -> Requested<'_> {
        self.state.lock().listening = true;
        Requested { control: self }
    }

    /// The request, if one arrived.
    pub fn pending(&self) -> Option<Shutdown> {
        self.state.lock().request
    }

    /// Records a request (the first one stands) and wakes the waiters. Returns whether the application
    /// listens.
    pub fn request(&self, s: Shutdown) -> bool {
        self.request_at(s, 0)
    }

    /// [`Control::request`], noting when the request arrived (platform nanoseconds).
    pub fn request_at(&self, s: Shutdown, at_ns: u64) -> bool {
        let (wakers, listening) = {
            let mut st = self.state.lock();
            if st.request.is_none() {
                st.request = Some(s);
                st.requested_ns = at_ns;
            }
            (core::mem::take(&mut st.wakers), st.listening)
        };
        wakers.into_iter().for_each(Waker::wake);
        listening
    }

    /// When the request arrived (platform nanoseconds), if there is one.
    pub fn requested_at_ns(&self) -> Option<u64> {
        let st = self.state.lock();
        st.request.map(|_| st.requested_ns)
    }

    /// How the domain should end when `main` returned successfully: the requested reason, or poweroff.
    pub fn final_reason(&self) -> Reason {
        self.pending().map_or(Reason::Poweroff, Shutdown::reason)
    }
}

/// Future of [`Control::requested`] / [`shutdown_requested`].
#[must_use = "futures do nothing unless polled"]
pub struct Requested<'a> {
    control: &'a Control,
}

impl Future for Requested<'_> {
    type Output = Shutdown;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Shutdown> {
        let mut st = self.control.state.lock();
        if let Some(s) = st.request {
            return Poll::Ready(s);
        }
        if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Resolves when the toolstack asks this domain to stop (`xl shutdown`, `xl reboot`, ...). Calling it
/// tells the framework that the application stops by itself: it then gets [`GRACE`] to return from
/// `main` before the domain is stopped anyway.
pub fn shutdown_requested() -> Requested<'static> {
    CONTROL.requested()
}

/// The request that arrived, if any (without waiting).
pub fn pending_shutdown() -> Option<Shutdown> {
    CONTROL.pending()
}

/// Writes `control/feature-*` = 1. libxl creates `feature-poweroff` and `feature-reboot` writable by the
/// guest, but not `feature-sysrq`, and `control/` itself is read-only to the guest: that one fails with
/// `EACCES` (as it does for Linux guests) and is skipped. `xl shutdown` itself only needs the event
/// channel callback (`HVM_PARAM_CALLBACK_IRQ`), and `xl sysrq` no feature at all.
async fn advertise<P: SharedPage, E: EventChannels>(xs: &Client<P, E>) -> Result<(), Error> {
    for f in FEATURES {
        match advertise_features(xs, &[f]).await {
            Ok(()) => {}
            Err(Error::Xs(XsErrno::Eacces)) => log::debug!("control: feature-{f} not advertised (EACCES)"),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The control task: serves `control/` on `xs` until a shutdown request is carried out. `stop` ends the
/// domain (on Xen it does not return); `grace` is the time a listening application gets.
///
/// Returns `Ok` after `stop` returned (host tests), `Err` when xenstore fails (the caller logs it: the
/// domain then simply cannot be stopped through xenstore).
pub async fn serve<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
    control: &Control,
    grace: Duration,
    mut stop: impl FnMut(Reason),
) -> Result<(), Error> {
    advertise(xs).await?;
    let shutdown = xs.watch(xenbus::control::SHUTDOWN).await?;
    let sysrq = xs.watch(xenbus::control::SYSRQ).await?;
    loop {
        match select(shutdown.next(), sysrq.next()).await {
            Either::Left(event) => {
                event?;
                let at = now_ns();
                let Some(request) = take_shutdown_request(xs).await? else { continue };
                let Some(s) = Shutdown::from_request(request) else {
                    flight::record(Kind::Control, flight::control::IGNORED, 0);
                    crate::println!("xenolith: control: ignoring shutdown request {request:?}");
                    continue;
                };
                flight::record(Kind::Control, s.flight_code(), 0);
                crate::println!("xenolith: control: {s} requested (acknowledged in {} us)", now_ns().saturating_sub(at) / 1000);
                if control.request_at(s, at) {
                    sleep(grace).await;
                    crate::println!("xenolith: control: the application did not stop within {grace:?}; stopping");
                }
                stop(s.reason());
                return Ok(());
            }
            Either::Right(event) => {
                event?;
                if let Some(key) = take_sysrq(xs).await? {
                    flight::record(Kind::Control, flight::control::SYSRQ, u64::from(key));
                    crate::println!("xenolith: control: sysrq '{}' acknowledged (no sysrq actions)", key.escape_ascii());
                }
            }
        }
    }
}

/// The platform clock on Xen (for the latency reports); 0 elsewhere.
fn now_ns() -> u64 {
    #[cfg(all(target_os = "none", feature = "executor"))]
    return crate::xen::now_ns().unwrap_or(0);
    #[cfg(not(all(target_os = "none", feature = "executor")))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::sync::atomic::{AtomicUsize, Ordering};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_request_wakes_the_listener_and_the_first_request_stands() {
        let control = Control::new();
        assert_eq!(control.final_reason(), Reason::Poweroff);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = core::pin::pin!(control.requested());
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
        assert!(control.request(Shutdown::Reboot), "the application listens");
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken once (the waker is kept once)");
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(Shutdown::Reboot));
        control.request(Shutdown::Poweroff);
        assert_eq!(control.pending(), Some(Shutdown::Reboot));
        assert_eq!(control.final_reason(), Reason::Reboot);
    }

    #[test]
    fn nobody_listening_means_stop_at_once() {
        let control = Control::new();
        assert!(!control.request(Shutdown::Halt));
        assert_eq!(control.final_reason(), Reason::Poweroff);
    }

    /// `serve` against the fake xenstored, laid out as libxl does (`control/` read-only to the guest, its
    /// request and feature nodes guest-owned), driven by hand: poll the task, let dom0 run, pump the ring.
    /// The application does not listen here, so no grace sleep (which needs the executor) is taken.
    #[test]
    fn serve_acks_sysrq_ignores_unknown_values_and_stops_with_the_reason() {
        use xen_fake::XenstoreSetup;
        use xen_traits::DomId;
        use xenbus::perms::{Access, Perm};

        let (_setup, mut daemon, client) = XenstoreSetup::client(DomId(7), 0);
        let home = daemon.home();
        let guest_owned = [Perm { domid: DomId(7), access: Access::None }];
        for n in ["shutdown", "sysrq", "feature-poweroff", "feature-reboot"] {
            daemon.dom0_write(&alloc::format!("{home}/control/{n}"), b"");
            daemon.dom0_set_perms(&alloc::format!("{home}/control/{n}"), &guest_owned);
        }
        daemon.dom0_set_perms(&alloc::format!("{home}/control"), &[Perm { domid: DomId(0), access: Access::None }, Perm { domid: DomId(7), access: Access::Read }]);

        let control = Control::new();
        let stopped = core::cell::Cell::new(None);
        let mut task = core::pin::pin!(serve(&client, &control, GRACE, |r| stopped.set(Some(r))));
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        fn drive<F: Future>(
            mut task: core::pin::Pin<&mut F>,
            daemon: &mut xen_fake::FakeXenstored,
            client: &xen_fake::FakeClient,
            cx: &mut Context<'_>,
        ) -> Option<F::Output> {
            for _ in 0..20 {
                if let Poll::Ready(r) = task.as_mut().poll(cx) {
                    return Some(r);
                }
                daemon.run_until_idle();
                client.on_event();
            }
            None
        }
        let value = |d: &xen_fake::FakeXenstored, n: &str| d.value(&alloc::format!("{home}/control/{n}")).unwrap_or_default();

        assert!(drive(task.as_mut(), &mut daemon, &client, &mut cx).is_none());
        assert_eq!(daemon.watches().len(), 2, "watches on control/shutdown and control/sysrq");
        assert_eq!(value(&daemon, "feature-poweroff"), b"1");
        assert_eq!(value(&daemon, "feature-reboot"), b"1");
        assert_eq!(daemon.value(&alloc::format!("{home}/control/feature-sysrq")), None, "EACCES, skipped");

        daemon.dom0_write(&alloc::format!("{home}/control/sysrq"), b"s");
        assert!(drive(task.as_mut(), &mut daemon, &client, &mut cx).is_none());
        assert_eq!(value(&daemon, "sysrq"), b"", "acknowledged");

        daemon.dom0_write(&alloc::format!("{home}/control/shutdown"), b"bogus");
        assert!(drive(task.as_mut(), &mut daemon, &client, &mut cx).is_none(), "an unknown value does not stop the domain");
        assert_eq!(value(&daemon, "shutdown"), b"", "acknowledged");
        assert_eq!(control.pending(), None);

        daemon.dom0_write(&alloc::format!("{home}/control/shutdown"), b"reboot");
        assert!(matches!(drive(task.as_mut(), &mut daemon, &client, &mut cx), Some(Ok(()))));
        assert_eq!(stopped.get(), Some(Reason::Reboot));
        assert_eq!(control.pending(), Some(Shutdown::Reboot));
        assert_eq!(value(&daemon, "shutdown"), b"", "acknowledged");
    }

    #[test]
    fn requests_map_to_reasons() {
        assert_eq!(Shutdown::from_request(ShutdownRequest::Poweroff), Some(Shutdown::Poweroff));
        assert_eq!(Shutdown::from_request(ShutdownRequest::Reboot).map(Shutdown::reason), Some(Reason::Reboot));
        assert_eq!(Shutdown::from_request(ShutdownRequest::Halt).map(Shutdown::reason), Some(Reason::Poweroff));
        assert_eq!(Shutdown::from_request(ShutdownRequest::Crash).map(Shutdown::reason), Some(Reason::Crash));
        assert_eq!(Shutdown::from_request(ShutdownRequest::Suspend), None);
        assert_eq!(Shutdown::from_request(ShutdownRequest::Unknown), None);
    }
}
