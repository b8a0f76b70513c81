//! The domain's xenstore connection, as the application sees it.
//!
//! On Xen the framework opens the connection before `main` (the ring page at `HVM_PARAM_STORE_PFN`,
//! the event channel at `HVM_PARAM_STORE_EVTCHN`), runs [`drive`] as a task that turns events on that
//! port into [`Client::on_event`], and the control task ([`crate::control::serve`]) next to it. The
//! application gets the client from [`Context::xenstore`](crate::Context::xenstore): reads, writes,
//! directories, watches and transactions of [`xenbus::Client`], with relative paths resolved under the
//! domain's home (`/local/domain/<domid>`), and [`identity`] for its own `name`, `domid` and `vm`.
//!
//! The client is `!Sync` (one vCPU, a `RefCell` inside): share it as `Rc` between `main` and tasks of a
//! [`LocalSet`](crate::executor::LocalSet), not with `spawn`.
//!
//! Everything xenstored sends is validated by xenbus (framing, lengths, request ids, UTF-8); nothing
//! here bypasses it. xenbus's log records (e.g. rejected replies) are printed through [`log`].

pub mod log;
#[cfg(all(target_os = "none", feature = "executor"))]
mod xen;

use alloc::string::String;

use xen_traits::{EventChannels, SharedPage};
pub use xenbus::{Client, Error, Malformed, Transaction, Watch, WatchEvent, Work, XsErrno};

use crate::executor::{wait_event, yield_now};

#[cfg(all(target_os = "none", feature = "executor"))]
pub use xen::{connect, ConnectError, Xenstore};

/// Pumps the client's ring each time its event channel fires; never returns. Run it as a task next to
/// everything that uses the client (requests also pump the ring when polled, but watch events and
/// replies to requests nobody polls only arrive through this loop).
pub async fn drive<P: SharedPage, E: EventChannels>(xs: &Client<P, E>) -> ! {
    let port = xs.with_core(|c| c.port());
    loop {
        // Pump first: replies may have arrived before the port was first waited on.
        while xs.on_event() == Work::More {
            yield_now().await;
        }
        wait_event(port.0).await;
    }
}

/// Who this domain is, from its own xenstore keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `name`: the config's `name=`.
    pub name: String,
    /// `domid`.
    pub domid: u16,
    /// `vm`: the toolstack's path for this VM (`/vm/<uuid>`).
    pub vm: String,
    /// The home path, `/local/domain/<domid>`.
    pub home: String,
}

/// Reads `name`, `domid` and `vm` under the domain's home. A `domid` that is not a number is reported as
/// [`Error::Malformed`].
pub async fn identity<P: SharedPage, E: EventChannels>(xs: &Client<P, E>) -> Result<Identity, Error> {
    let name = xs.read_string("name").await?;
    let domid_text = xs.read_string("domid").await?;
    let domid: u16 = domid_text
        .trim_end_matches('\0')
        .parse()
        .map_err(|_| Error::Malformed(xenbus::Malformed::BadNumber))?;
    let vm = xs.read_string("vm").await?;
    let home = xs.get_domain_path(xen_traits::DomId(domid)).await?;
    Ok(Identity { name, domid, vm, home })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    use xen_fake::{FakeXenstored, XenstoreSetup};
    use xen_traits::DomId;

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    /// Polls `fut`, letting the fake daemon run between polls, as the driver task does on Xen.
    fn block_on<F: Future>(fut: F, daemon: &mut FakeXenstored, client: &xen_fake::FakeClient) -> F::Output {
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        for _ in 0..100 {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            daemon.run_until_idle();
            client.on_event();
        }
        panic!("no progress after 100 round trips");
    }

    #[test]
    fn identity_reads_the_domains_own_keys() {
        let (_setup, mut daemon, client) = XenstoreSetup::client(DomId(9), 0);
        let id = block_on(identity(&client), &mut daemon, &client).unwrap();
        assert_eq!(id.name, "guest9");
        assert_eq!(id.domid, 9);
        assert_eq!(id.vm, "/vm/00000000-0000-0000-0000-000000000001");
        assert_eq!(id.home, "/local/domain/9");
    }

    #[test]
    fn a_domid_that_is_no_number_is_malformed() {
        let (_setup, mut daemon, client) = XenstoreSetup::client(DomId(9), 0);
        daemon.dom0_write("/local/domain/9/domid", b"nine");
        let r = block_on(identity(&client), &mut daemon, &client);
        assert_eq!(r, Err(Error::Malformed(xenbus::Malformed::BadNumber)));
    }
}
