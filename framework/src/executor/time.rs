//! Time on the platform clock: `Instant`, `sleep`, `sleep_until`, `timeout`.

use alloc::sync::{Arc, Weak};
use core::fmt;
use core::future::{poll_fn, Future};
use core::ops::{Add, AddAssign, Sub};
use core::pin::{pin, Pin};
use core::task::{Context, Poll};
use core::time::Duration;

use super::runtime::{expect_current, Shared};
use super::timer::TimerKey;

/// A point in time: nanoseconds since boot on the platform's monotonic clock (the PV clock on Xen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The current time.
    ///
    /// # Panics
    /// Outside [`run`](super::run) (the clock belongs to the platform `run` was given).
    pub fn now() -> Instant {
        Instant(expect_current("Instant::now").now_ns())
    }

    pub const fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }

    /// Nanoseconds since boot.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Time since `self`.
    pub fn elapsed(self) -> Duration {
        Instant::now().duration_since(self)
    }

    /// `self + d`, or `None` past the end of the clock (about 584 years after boot).
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        u64::try_from(d.as_nanos()).ok().and_then(|ns| self.0.checked_add(ns)).map(Instant)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of the clock (a deadline that far away never fires).
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant(u64::MAX))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero, like [`Instant::duration_since`].
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturates at boot (time 0).
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
    }
}

/// Completes `duration` from now. See [`Sleep`].
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Completes at `deadline` (at once if it has passed).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, registration: None }
}

/// The future of [`sleep`] and [`sleep_until`]. It registers its deadline with the executor's timer
/// queue on its first pending poll and removes it when dropped, so a cancelled sleep never wakes the
/// vCPU. It completes on the first poll at or after the deadline; earlier (spurious) polls stay pending.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    deadline: Instant,
    registration: Option<(Weak<Shared>, TimerKey)>,
}

impl Sleep {
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn deregister(&mut self) {
        if let Some((shared, key)) = self.registration.take() {
            if let Some(shared) = shared.upgrade() {
                let waker = shared.timers.lock().remove(key);
                drop(waker);
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shared = match self.registration.as_ref().and_then(|(s, _)| s.upgrade()) {
            Some(s) => s,
            None => expect_current("sleep"),
        };
        if shared.now_ns() >= self.deadline.0 {
            self.deregister();
            return Poll::Ready(());
        }
        let still_registered = match &self.registration {
            Some((_, key)) => shared.timers.lock().update(*key, cx.waker()),
            None => false,
        };
        if !still_registered {
            let key = shared.timers.lock().insert(self.deadline.0, cx.waker().clone());
            self.registration = Some((Arc::downgrade(&shared), key));
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// The deadline of a [`timeout`] passed before the future completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

/// Runs `future` for at most `duration` from now: its output, or [`Elapsed`] (and `future` is dropped).
/// When both are ready in the same poll, the output wins.
pub fn timeout<F: Future>(duration: Duration, future: F) -> impl Future<Output = Result<F::Output, Elapsed>> {
    timeout_at(Instant::now() + duration, future)
}

/// Like [`timeout`], with an absolute deadline.
pub async fn timeout_at<F: Future>(deadline: Instant, future: F) -> Result<F::Output, Elapsed> {
    let mut future = pin!(future);
    let mut sleep = sleep_until(deadline);
    poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant::from_nanos(5_000);
        assert_eq!((t + Duration::from_micros(2)).as_nanos(), 7_000);
        assert_eq!(t + Duration::MAX, Instant::from_nanos(u64::MAX));
        assert_eq!(t.checked_add(Duration::MAX), None);
        assert_eq!(Instant::from_nanos(3) - t, Duration::ZERO);
        assert_eq!(t - Instant::from_nanos(1_000), Duration::from_nanos(4_000));
        assert_eq!(t - Duration::from_secs(1), Instant::from_nanos(0));
        let mut u = t;
        u += Duration::from_nanos(1);
        assert_eq!(u.duration_since(t), Duration::from_nanos(1));
    }

    #[test]
    fn elapsed_displays() {
        assert_eq!(Elapsed.to_string(), "deadline elapsed");
    }
}
