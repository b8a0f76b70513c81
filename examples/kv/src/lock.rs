//! A lock for tasks of one executor: the store is used by one request at a time (a PUT holds it
//! across its write and flush), and waiting tasks sleep until the holder lets go (no spinning).

use alloc::collections::VecDeque;
use core::cell::{Cell, RefCell, RefMut};
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

pub struct Lock<T> {
    value: RefCell<T>,
    held: Cell<bool>,
    waiters: RefCell<VecDeque<Waker>>,
}

impl<T> Lock<T> {
    pub fn new(value: T) -> Self {
        Lock { value: RefCell::new(value), held: Cell::new(false), waiters: RefCell::new(VecDeque::new()) }
    }

    /// Waits until no other task holds the lock, then holds it until the guard is dropped.
    pub async fn lock(&self) -> Guard<'_, T> {
        Acquire { lock: self }.await;
        Guard { lock: self, value: Some(self.value.borrow_mut()) }
    }
}

struct Acquire<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Future for Acquire<'_, T> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.lock.held.get() {
            self.lock.waiters.borrow_mut().push_back(cx.waker().clone());
            Poll::Pending
        } else {
            self.lock.held.set(true);
            Poll::Ready(())
        }
    }
}

pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
    value: Option<RefMut<'a, T>>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().expect("held until drop")
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_deref_mut().expect("held until drop")
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.value = None;
        self.lock.held.set(false);
        // Every waiter polls again; the first to run takes the lock, the others queue again.
        let waiters: VecDeque<Waker> = core::mem::take(&mut *self.lock.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}
