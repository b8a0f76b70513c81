//! Spawned tasks: `spawn`, and the set of tasks the executor loop owns and polls.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};

use super::handle::{self, JoinHandle};
use super::runtime::{expect_current, Shared};
use super::waker::{TaskId, TaskWaker};

/// A spawned task: its future (output already routed to its `JoinHandle`) and its waker.
pub(crate) struct Task {
    id: TaskId,
    header: Arc<TaskWaker>,
    waker: Waker,
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// Runs `future` as a new task, concurrently with the caller; returns a handle that resolves to its
/// output. Dropping the handle detaches the task (it still runs to the end; its output is dropped).
///
/// The task is first polled in the executor's next round, after the tasks that are ready now. Tasks still
/// unfinished when the main future returns are dropped.
///
/// Tasks must be `Send + 'static` because spawning goes through a global (no `unsafe` in this crate, so
/// no `!Sync` global). Work that borrows local or `!Send` state (an `Rc`, a `RefCell`-based client) runs
/// inside the spawning task instead: a fixed set with [`join`](super::join()) or
/// [`select`](super::select()), any number in a [`LocalSet`](super::LocalSet).
///
/// # Panics
/// Outside [`run`](super::run).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let shared = expect_current("spawn");
    let (handle, completer) = handle::pair();
    let id = shared.next_task_id();
    let header = TaskWaker::new(id, shared.ready.clone());
    let task = Task {
        id,
        waker: Waker::from(header.clone()),
        header: header.clone(),
        future: Box::pin(async move { completer.complete(future.await) }),
    };
    shared.spawned.lock().push(task);
    header.schedule();
    handle
}

/// The spawned tasks that have not finished, owned by the executor loop.
#[derive(Default)]
pub(crate) struct TaskSet {
    tasks: BTreeMap<TaskId, Task>,
}

impl TaskSet {
    /// Takes over the tasks spawned since the last call.
    pub(crate) fn adopt_spawned(&mut self, shared: &Shared) {
        let new = core::mem::take(&mut *shared.spawned.lock());
        for task in new {
            self.tasks.insert(task.id, task);
        }
    }

    /// Polls task `id` once; a finished task is removed and dropped. An unknown id (a task that finished,
    /// woken through a stale waker) is ignored.
    pub(crate) fn poll(&mut self, id: TaskId) {
        let Some(task) = self.tasks.get_mut(&id) else { return };
        task.header.begin_poll();
        let mut cx = Context::from_waker(&task.waker);
        if task.future.as_mut().poll(&mut cx).is_ready() {
            if let Some(done) = self.tasks.remove(&id) {
                done.header.retire();
                drop(done);
            }
        }
    }

    /// Number of unfinished spawned tasks.
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }
}
