//! Executor tests on the [`FakePlatform`](super::fake::FakePlatform): virtual time, scripted events, no
//! real sleeping. `run` uses one global, so these tests take a lock and run one at a time.

mod combinators;
mod events;
mod idle;
mod local;
mod ordering;
mod timers;
mod wakers;
mod xenstore;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::vec::Vec;

use super::fake::FakePlatform;

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the executor-test lock (also after a test that held it panicked). Every test in the crate that
/// runs the executor takes it (the executor is global).
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `run` on a fake platform, serialized with the other executor tests.
fn run_fake<F: Future>(fake: &FakePlatform, main: F) -> F::Output {
    let _serial = serial();
    super::run(fake.clone(), main)
}

const MS: u64 = 1_000_000;

/// A shared, ordered log of what the tasks did.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A one-shot flag a task can wait for; setting it wakes the waiter (a minimal channel).
#[derive(Clone, Default)]
struct Signal(Arc<Mutex<(bool, Option<Waker>)>>);

impl Signal {
    fn set(&self) {
        let waker = {
            let mut s = self.0.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
    /// The waker registered by the waiter, without setting the flag.
    fn waker(&self) -> Option<Waker> {
        self.0.lock().unwrap().1.clone()
    }
    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            let mut s = self.0.lock().unwrap();
            if s.0 {
                Poll::Ready(())
            } else {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Wraps a future and counts its polls.
async fn counted<F: Future>(polls: Arc<std::sync::atomic::AtomicUsize>, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        fut.as_mut().poll(cx)
    })
    .await
}
