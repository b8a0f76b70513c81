//! `JoinHandle`: the output of a spawned task.

use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

enum State<T> {
    /// The task runs; the waker is the handle's awaiter.
    Running(Option<Waker>),
    Done(T),
    /// The output was returned by the handle.
    Taken,
    /// The handle was dropped: the output is dropped when the task finishes.
    Detached,
    /// The task was dropped before it finished (its executor stopped).
    Cancelled,
}

/// Resolves to the output of a task started with [`spawn`](super::spawn). Dropping it detaches the task.
#[must_use = "dropping a JoinHandle detaches the task; `drop(spawn(..))` says so explicitly"]
pub struct JoinHandle<T> {
    state: Arc<spin::Mutex<State<T>>>,
}

/// The task's end of the handle.
pub(crate) struct Completer<T> {
    state: Arc<spin::Mutex<State<T>>>,
    completed: bool,
}

pub(crate) fn pair<T>() -> (JoinHandle<T>, Completer<T>) {
    let state = Arc::new(spin::Mutex::new(State::Running(None)));
    (JoinHandle { state: state.clone() }, Completer { state, completed: false })
}

impl<T> JoinHandle<T> {
    /// Whether the task has finished (its output may have been taken already).
    pub fn is_finished(&self) -> bool {
        !matches!(*self.state.lock(), State::Running(_))
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    /// # Panics
    /// When polled again after it returned the output, or when the task was dropped unfinished because its
    /// executor stopped (only possible by carrying the handle out of `run`).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.state.lock();
        match &mut *state {
            State::Running(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Done(_) => match core::mem::replace(&mut *state, State::Taken) {
                State::Done(value) => Poll::Ready(value),
                _ => unreachable!("checked Done just above"),
            },
            State::Taken => panic!("JoinHandle polled after it returned the task's output"),
            State::Cancelled => panic!("the task was dropped unfinished: its executor stopped"),
            State::Detached => unreachable!("only a dropped handle detaches"),
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let old = core::mem::replace(&mut *self.state.lock(), State::Detached);
        drop(old); // a finished task's output, dropped outside the lock
    }
}

impl<T> Completer<T> {
    pub(crate) fn complete(mut self, value: T) {
        self.completed = true;
        self.finish(State::Done(value));
    }

    fn finish(&mut self, end: State<T>) {
        let mut state = self.state.lock();
        let waker = match &mut *state {
            State::Running(waker) => {
                let waker = waker.take();
                *state = end;
                waker
            }
            // Detached: nobody wants the output; drop it below, outside the lock.
            _ => None,
        };
        drop(state);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if !self.completed {
            self.finish(State::Cancelled);
        }
    }
}
