//! The cooperative async executor: tasks, timers and event-channel waits on one vCPU.
//!
//! # Model
//! A Xenolith guest runs one vCPU and one executor. The application's `async fn main` is the main
//! future given to [`run`]; it can [`spawn`] more tasks, and everything ends when `main` returns (tasks
//! still running then are dropped). Scheduling is cooperative: a task runs until it returns `Pending`
//! at an `.await`, and nothing preempts it, so a long computation should `yield_now().await` now and then.
//!
//! Tasks sleep on two kinds of things, both driven by the [`Platform`]:
//! - **time**: [`sleep`], [`sleep_until`], [`timeout`] register a deadline in the timer queue
//!   (a `BTreeMap` keyed by deadline); [`Instant`] is nanoseconds on the platform clock (the PV clock).
//! - **event channels**: [`wait_event`] completes when a port fires. An event that fires while nobody
//!   waits is remembered once (see [`event`] for the exact, never-lossy semantics).
//!
//! Anything else (a [`JoinHandle`], a xenstore reply) wakes a task through an ordinary
//! [`core::task::Waker`], which puts the task back on the ready queue.
//!
//! # One turn of the loop
//! 1. The ports that fired since the last turn wake their waiters.
//! 2. The timers that are due wake theirs.
//! 3. One round: every task ready at the start of the round is polled once, in the order it was woken.
//!    Tasks woken during the round (including by themselves, as `yield_now` does) wait for the next
//!    round, after events and timers were checked again: no task can starve another.
//!
//! # When idle
//! When no task is ready, the executor arms the one-shot timer for the nearest deadline (or disarms it)
//! and calls [`Platform::wait_for_event`], which blocks the vCPU (`SCHEDOP_block` on Xen) until an event
//! or the timer fires. It never polls a task that was not woken and never spins: an idle guest uses no
//! CPU. If nothing could ever wake a task (no timer, no event waiter, nothing ready) `run` panics with a
//! deadlock report instead of blocking forever.
//!
//! # Global access
//! [`spawn`], [`Instant::now`], [`sleep`] and [`wait_event`] find the running executor through a global
//! (`spin::Mutex`, held only briefly and never while user code runs), set by [`run`] and cleared when it
//! returns; they panic outside `run`. This is why spawned futures and the platform must be `Send`;
//! [`join`], [`select`] and a [`LocalSet`] run futures inside the calling task, with no such requirement.

pub mod event;
mod handle;
mod join;
mod local;
mod platform;
mod run;
mod runtime;
mod select;
mod task;
mod time;
mod timer;
mod waker;
mod yield_now;

pub use event::{wait_event, WaitEvent};
pub use handle::JoinHandle;
pub use join::join;
pub use local::LocalSet;
pub use platform::Platform;
pub use run::run;
pub use select::{select, Either};
pub use task::spawn;
pub use time::{sleep, sleep_until, timeout, timeout_at, Elapsed, Instant, Sleep};
pub use yield_now::{yield_now, YieldNow};

#[cfg(test)]
mod fake;
#[cfg(test)]
pub(crate) mod tests;
