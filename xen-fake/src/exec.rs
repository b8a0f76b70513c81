//! Minimal future drivers for tests: no executor, no sleeps.
//!
//! - [`drive`] alternates between polling a future and stepping a [`FakeXenstored`] in the same thread,
//!   and reports a stall (neither side can progress) as an error instead of hanging.
//! - [`block_on`] polls a future and blocks on the guest's event channel between polls, for tests where
//!   the daemon runs on its own thread.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use xen_traits::Port;

use crate::evtchn::FakeEventChannels;
use crate::xenstored::FakeXenstored;

/// Neither the future nor the fake daemon could make progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stalled;

struct CountingWaker(std::sync::atomic::AtomicUsize);
impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A waker that does nothing.
pub fn noop_waker() -> Waker {
    Waker::from(Arc::new(CountingWaker(Default::default())))
}

/// Poll `fut` once with a no-op waker.
pub fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    let w = noop_waker();
    fut.poll(&mut Context::from_waker(&w))
}

/// Run `fut` to completion against `daemon` on this thread.
pub fn drive<F: Future>(fut: F, daemon: &mut FakeXenstored) -> Result<F::Output, Stalled> {
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = poll_once(fut.as_mut()) {
            return Ok(v);
        }
        if !daemon.run_until_idle() {
            // The future may have queued work only on this poll; give each side one more chance.
            if let Poll::Ready(v) = poll_once(fut.as_mut()) {
                return Ok(v);
            }
            if !daemon.run_until_idle() {
                return Err(Stalled);
            }
        }
    }
}

/// Run `fut` to completion, blocking on `port` of the guest's `evtchn` between polls (the daemon runs on
/// another thread). Panics after `timeout` without an event — a hung test, never a synchronisation.
pub fn block_on<F: Future>(
    fut: F,
    evtchn: &FakeEventChannels,
    port: Port,
    timeout: Duration,
) -> F::Output {
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = poll_once(fut.as_mut()) {
            return v;
        }
        assert!(
            evtchn.wait_pending(port, timeout, || false),
            "no event within {timeout:?}: stalled"
        );
    }
}

/// Poll several futures of the same type concurrently until all are done; outputs in input order.
pub async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut all = true;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => all = false,
                }
            }
        }
        if all {
            Poll::Ready(out.iter_mut().map(|o| o.take().expect("set")).collect())
        } else {
            Poll::Pending
        }
    })
    .await
}
