//! The state `run` shares with the futures it drives, and the global through which `spawn`, `sleep`,
//! `Instant::now` and `wait_event` reach it while `run` is active.
//!
//! A `static` must be `Sync` and this crate has no `unsafe`, so the global is a `spin::Mutex` holding an
//! `Arc<Shared>`: everything in it is `Send` (the platform, spawned futures). The locks are only held for
//! a few instructions and never while a future is polled, dropped or a waker is called, so a future may
//! call any executor function from `poll` or `drop`.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use super::event::EventTable;
use super::platform::Platform;
use super::task::Task;
use super::timer::TimerQueue;
use super::waker::{ReadyQueue, TaskId, MAIN_TASK};

/// The executor's shared state.
pub(crate) struct Shared {
    platform: spin::Mutex<Box<dyn Platform + Send>>,
    pub(crate) ready: Arc<ReadyQueue>,
    /// Tasks spawned since the loop last looked; it moves them into its own set.
    pub(crate) spawned: spin::Mutex<Vec<Task>>,
    pub(crate) timers: spin::Mutex<TimerQueue>,
    pub(crate) events: spin::Mutex<EventTable>,
    next_task: AtomicU64,
}

impl Shared {
    pub(crate) fn new(platform: Box<dyn Platform + Send>) -> Shared {
        Shared {
            platform: spin::Mutex::new(platform),
            ready: Arc::default(),
            spawned: spin::Mutex::new(Vec::new()),
            timers: spin::Mutex::new(TimerQueue::default()),
            events: spin::Mutex::new(EventTable::default()),
            next_task: AtomicU64::new(MAIN_TASK + 1),
        }
    }

    /// Runs `f` with the platform (its lock held: `f` must not call back into the executor).
    pub(crate) fn with_platform<R>(&self, f: impl FnOnce(&dyn Platform) -> R) -> R {
        f(&**self.platform.lock())
    }

    pub(crate) fn now_ns(&self) -> u64 {
        self.with_platform(|p| p.now_ns())
    }

    pub(crate) fn next_task_id(&self) -> TaskId {
        self.next_task.fetch_add(1, Ordering::Relaxed)
    }
}

static CURRENT: spin::Mutex<Option<Arc<Shared>>> = spin::Mutex::new(None);

/// The running executor, if any.
pub(crate) fn current() -> Option<Arc<Shared>> {
    CURRENT.lock().clone()
}

/// The running executor; panics with a message naming `what` outside `run`.
pub(crate) fn expect_current(what: &str) -> Arc<Shared> {
    match current() {
        Some(shared) => shared,
        None => panic!("xenolith: {what} needs a running executor (it is only usable inside executor::run)"),
    }
}

/// Makes `shared` the running executor until dropped (also when `run` unwinds in a host test).
pub(crate) struct Installed {
    shared: Arc<Shared>,
}

impl Installed {
    /// Panics if an executor is running already: `run` does not nest.
    pub(crate) fn new(shared: Arc<Shared>) -> Installed {
        let mut current = CURRENT.lock();
        if current.is_some() {
            drop(current);
            panic!("xenolith: executor::run called while an executor is running (it does not nest)");
        }
        *current = Some(shared.clone());
        Installed { shared }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        // Tasks spawned but never polled hold futures; drop them while the executor is still reachable
        // (their destructors may use it) and without holding its lock.
        loop {
            let orphans = core::mem::take(&mut *self.shared.spawned.lock());
            if orphans.is_empty() {
                break;
            }
            drop(orphans);
        }
        *CURRENT.lock() = None;
    }
}
