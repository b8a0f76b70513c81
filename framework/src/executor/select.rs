//! `select`: run two futures concurrently within one task; the first to finish wins.

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;

/// Which of the two futures of [`select`] finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls `a`, then `b`, until one finishes; returns its output and drops the other (cancelling it:
/// a losing `sleep` removes its timer, a losing `wait_event` keeps its event pending). Biased: when both
/// are ready in the same poll, `a` wins. Like [`join`](super::join), it runs inside the calling task.
pub async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    })
    .await
}
