//! Task wakers: waking a task puts its id on the ready queue, at most once until it is polled again.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::task::Wake;
use core::sync::atomic::{AtomicBool, Ordering};

/// A task's number; the main future is [`MAIN_TASK`], spawned tasks count up from 1 and are never reused.
pub(crate) type TaskId = u64;

/// The future given to `run`.
pub(crate) const MAIN_TASK: TaskId = 0;

/// The ids of the tasks to poll, in the order they were woken.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    ids: spin::Mutex<VecDeque<TaskId>>,
}

impl ReadyQueue {
    pub(crate) fn push(&self, id: TaskId) {
        self.ids.lock().push_back(id);
    }

    pub(crate) fn pop(&self) -> Option<TaskId> {
        self.ids.lock().pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.lock().len()
    }
}

/// The shared part of a task that its `Waker` points to. It does not own the future (futures stay with
/// the executor loop), so wakers are `Send + Sync` whatever the task holds, and a waker that outlives its
/// task or its executor is harmless.
pub(crate) struct TaskWaker {
    id: TaskId,
    /// On the ready queue (or finished): further wakes are no-ops.
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl TaskWaker {
    /// A waker for task `id` that is not queued yet.
    pub(crate) fn new(id: TaskId, ready: Arc<ReadyQueue>) -> Arc<TaskWaker> {
        Arc::new(TaskWaker { id, queued: AtomicBool::new(false), ready })
    }

    /// Puts the task on the ready queue unless it is there already.
    pub(crate) fn schedule(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.push(self.id);
        }
    }

    /// The task was taken off the queue and is about to be polled: a wake from now on (even one during
    /// this poll) queues it again, for the next round.
    pub(crate) fn begin_poll(&self) {
        self.queued.store(false, Ordering::Release);
    }

    /// The task finished: wakes through left-over wakers are ignored.
    pub(crate) fn retire(&self) {
        self.queued.store(true, Ordering::Release);
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}
