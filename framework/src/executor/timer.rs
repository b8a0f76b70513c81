//! The timer queue: wakers keyed by deadline, in a `BTreeMap` so the nearest deadline is the first key.
//! Equal deadlines fire in the order they were registered.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::task::Waker;

/// Identifies one registration: deadline first, then registration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    deadline_ns: u64,
    seq: u64,
}

#[derive(Default)]
pub(crate) struct TimerQueue {
    wakers: BTreeMap<TimerKey, Waker>,
    next_seq: u64,
}

impl TimerQueue {
    pub(crate) fn insert(&mut self, deadline_ns: u64, waker: Waker) -> TimerKey {
        let key = TimerKey { deadline_ns, seq: self.next_seq };
        self.next_seq += 1;
        self.wakers.insert(key, waker);
        key
    }

    /// Refreshes the waker of a registration; false if it is gone (it fired).
    pub(crate) fn update(&mut self, key: TimerKey, waker: &Waker) -> bool {
        match self.wakers.get_mut(&key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Removes a registration, returning its waker so the caller drops it outside the lock.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        self.wakers.remove(&key)
    }

    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.wakers.keys().next().map(|k| k.deadline_ns)
    }

    /// Moves the wakers of every deadline at or before `now_ns` to `out`, nearest first.
    pub(crate) fn expire(&mut self, now_ns: u64, out: &mut Vec<Waker>) {
        while let Some(entry) = self.wakers.first_entry() {
            if entry.key().deadline_ns > now_ns {
                break;
            }
            out.push(entry.remove());
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.wakers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::task::Waker;

    #[test]
    fn expires_in_deadline_then_registration_order() {
        let mut q = TimerQueue::default();
        let noop = Waker::noop();
        let late = q.insert(30, noop.clone());
        let first = q.insert(10, noop.clone());
        let second = q.insert(10, noop.clone());
        assert!(first < second && second < late);
        assert_eq!(q.next_deadline(), Some(10));
        let mut out = Vec::new();
        q.expire(9, &mut out);
        assert!(out.is_empty());
        q.expire(10, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(q.next_deadline(), Some(30));
        assert!(!q.update(first, noop), "fired registrations are gone");
        assert!(q.update(late, noop));
        assert!(q.remove(late).is_some());
        assert_eq!((q.len(), q.next_deadline()), (0, None));
    }
}
