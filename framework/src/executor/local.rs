//! `LocalSet`: tasks that need not be `Send`, run inside the task that awaits [`LocalSet::run_until`].
//!
//! [`spawn`](super::spawn) goes through a global and so needs `Send` futures. A driver loop sharing an
//! `Rc<xenbus::Client>` (a `RefCell` inside) with the application is not `Send`; such tasks go into a
//! `LocalSet` instead. The set lives in one executor task: polling it polls the future given to
//! `run_until` and then one round of its ready tasks (each at most once, in wake order). A local task's
//! waker queues the task in the set and wakes the enclosing executor task, so sleeping, events and
//! idling work as for any task.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::task::Wake;
use core::cell::{Cell, RefCell};
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

use super::handle::{self, JoinHandle};

type LocalId = u64;

/// The ready local tasks, and the waker of the executor task that runs the set.
#[derive(Default)]
struct LocalQueue {
    ids: spin::Mutex<VecDeque<LocalId>>,
    parent: spin::Mutex<Option<Waker>>,
}

struct LocalWaker {
    id: LocalId,
    queued: AtomicBool,
    queue: Arc<LocalQueue>,
}

impl Wake for LocalWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        self.queue.ids.lock().push_back(self.id);
        let parent = self.queue.parent.lock().clone();
        if let Some(p) = parent {
            p.wake();
        }
    }
}

struct LocalTask {
    header: Arc<LocalWaker>,
    waker: Waker,
    future: Pin<Box<dyn Future<Output = ()>>>,
}

struct Inner {
    tasks: RefCell<BTreeMap<LocalId, LocalTask>>,
    queue: Arc<LocalQueue>,
    next_id: Cell<LocalId>,
    /// A round is in progress (to refuse running the set from inside itself).
    running: Cell<bool>,
}

/// A set of `!Send` tasks run inside one executor task. Clones share the set (so a local task can
/// spawn siblings). Tasks still unfinished when `run_until` returns stay in the set and continue at the
/// next `run_until`; they are dropped with the last clone of the set.
#[derive(Clone)]
pub struct LocalSet {
    inner: Rc<Inner>,
}

impl Default for LocalSet {
    fn default() -> Self {
        LocalSet::new()
    }
}

impl LocalSet {
    pub fn new() -> LocalSet {
        LocalSet {
            inner: Rc::new(Inner {
                tasks: RefCell::new(BTreeMap::new()),
                queue: Arc::default(),
                next_id: Cell::new(0),
                running: Cell::new(false),
            }),
        }
    }

    /// Adds a task; it first runs in the next round of the set. Dropping the handle detaches it.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let (handle, completer) = handle::pair();
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        let header = Arc::new(LocalWaker { id, queued: AtomicBool::new(false), queue: self.inner.queue.clone() });
        let task = LocalTask {
            waker: Waker::from(header.clone()),
            header: header.clone(),
            future: Box::pin(async move { completer.complete(future.await) }),
        };
        self.inner.tasks.borrow_mut().insert(id, task);
        header.wake_by_ref();
        handle
    }

    /// Number of unfinished tasks in the set.
    pub fn len(&self) -> usize {
        self.inner.tasks.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `main` and the set's tasks until `main` completes; returns its output.
    ///
    /// # Panics
    /// When called from one of the set's own tasks (the set is already being run).
    pub async fn run_until<F: Future>(&self, main: F) -> F::Output {
        let mut main = pin!(main);
        poll_fn(|cx| {
            assert!(!self.inner.running.get(), "LocalSet::run_until called from one of the set's own tasks");
            self.set_parent(cx.waker());
            if let Poll::Ready(out) = main.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            self.run_round();
            Poll::Pending
        })
        .await
    }

    fn set_parent(&self, waker: &Waker) {
        let mut parent = self.inner.queue.parent.lock();
        match &*parent {
            Some(p) if p.will_wake(waker) => {}
            _ => *parent = Some(waker.clone()),
        }
    }

    /// Polls each task that was ready at the start, once.
    fn run_round(&self) {
        self.inner.running.set(true);
        let round = self.inner.queue.ids.lock().len();
        for _ in 0..round {
            let Some(id) = self.inner.queue.ids.lock().pop_front() else { break };
            // Out of the map while it runs, so it may spawn into the set; a missing id finished already.
            let Some(mut task) = self.inner.tasks.borrow_mut().remove(&id) else { continue };
            task.header.queued.store(false, Ordering::Release);
            if task.future.as_mut().poll(&mut Context::from_waker(&task.waker)).is_ready() {
                task.header.queued.store(true, Ordering::Release);
                drop(task);
            } else {
                self.inner.tasks.borrow_mut().insert(id, task);
            }
        }
        self.inner.running.set(false);
    }
}
