//! `yield_now`: let the other ready tasks run.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Pending once (after waking itself): the task goes to the back of the ready queue and runs again in the
/// executor's next round, after every task that is ready now and after events and timers were checked.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
