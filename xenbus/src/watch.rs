//! Routing of `XS_WATCH_EVENT` messages to the watch (and so the task) that asked for them.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use core::task::Waker;

use crate::error::Malformed;
use crate::request::WatchId;

/// How many undelivered events a watch keeps; older ones are dropped (and counted) beyond that. Watch
/// events mean "something under this path changed": a reader that fell behind re-reads the state anyway.
pub const MAX_QUEUED_EVENTS: usize = 64;

/// One watch event: the path that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// The node that changed (or the watched path itself, for the initial event).
    pub path: String,
}

#[derive(Debug)]
struct Entry {
    path: String,
    events: VecDeque<WatchEvent>,
    dropped: u64,
    waker: Option<Waker>,
}

/// The watch table: token → queue of events and the waker of the task waiting on it.
#[derive(Debug, Default)]
pub struct Watches {
    next: u32,
    map: BTreeMap<u32, Entry>,
}

/// Prefix of the tokens we put on the wire.
const TOKEN_PREFIX: &str = "xl";

impl Watches {
    /// Allocate a watch id for `path`, routing its events from now on.
    pub fn add(&mut self, path: &str) -> WatchId {
        loop {
            self.next = self.next.wrapping_add(1);
            if !self.map.contains_key(&self.next) {
                break;
            }
        }
        self.map.insert(
            self.next,
            Entry {
                path: String::from(path),
                events: VecDeque::new(),
                dropped: 0,
                waker: None,
            },
        );
        WatchId(self.next)
    }

    /// The wire token of a watch.
    pub fn token(id: WatchId) -> String {
        alloc::format!("{TOKEN_PREFIX}{}", id.0)
    }

    /// The path a watch was registered on.
    pub fn path(&self, id: WatchId) -> Option<&str> {
        self.map.get(&id.0).map(|e| e.path.as_str())
    }

    /// Stop routing events to `id`; wakes a task still waiting on it.
    pub fn remove(&mut self, id: WatchId) -> Option<Waker> {
        self.map.remove(&id.0).and_then(|e| e.waker)
    }

    /// Whether `id` is registered.
    pub fn contains(&self, id: WatchId) -> bool {
        self.map.contains_key(&id.0)
    }

    /// Route an event to the watch owning `token`. Returns the waker to wake.
    pub fn deliver(&mut self, path: String, token: &str) -> Result<Option<Waker>, Malformed> {
        let id = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|n| crate::payload::parse_decimal(n.as_bytes()))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(Malformed::UnknownWatchToken)?;
        let e = self.map.get_mut(&id).ok_or(Malformed::UnknownWatchToken)?;
        if e.events.len() >= MAX_QUEUED_EVENTS {
            e.events.pop_front();
            e.dropped += 1;
        }
        e.events.push_back(WatchEvent { path });
        Ok(e.waker.take())
    }

    /// Take the oldest event of `id`, or register `waker` to be woken when one arrives.
    /// `None` if the watch does not exist.
    pub fn take(&mut self, id: WatchId, waker: Option<&Waker>) -> Option<Option<WatchEvent>> {
        let e = self.map.get_mut(&id.0)?;
        match e.events.pop_front() {
            Some(ev) => Some(Some(ev)),
            None => {
                if let Some(w) = waker {
                    e.waker = Some(w.clone());
                }
                Some(None)
            }
        }
    }

    /// Events dropped from `id`'s queue because nobody read them in time.
    pub fn dropped(&self, id: WatchId) -> u64 {
        self.map.get(&id.0).map(|e| e.dropped).unwrap_or(0)
    }

    /// Take every waiting waker (the connection broke).
    pub fn drain_wakers(&mut self) -> impl Iterator<Item = Waker> + '_ {
        self.map.values_mut().filter_map(|e| e.waker.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_token() {
        let mut w = Watches::default();
        let a = w.add("a");
        let b = w.add("b");
        assert_ne!(Watches::token(a), Watches::token(b));
        w.deliver("a/x".into(), &Watches::token(a)).unwrap();
        assert_eq!(w.take(b, None), Some(None));
        assert_eq!(
            w.take(a, None),
            Some(Some(WatchEvent { path: "a/x".into() }))
        );
        assert_eq!(
            w.deliver("q".into(), "xl999").err(),
            Some(Malformed::UnknownWatchToken)
        );
        assert_eq!(
            w.deliver("q".into(), "other").err(),
            Some(Malformed::UnknownWatchToken)
        );
        assert_eq!(
            w.deliver("q".into(), "xl99999999999999999999").err(),
            Some(Malformed::UnknownWatchToken)
        );
        w.remove(a);
        assert_eq!(w.take(a, None), None);
        assert_eq!(
            w.deliver("a".into(), &Watches::token(a)).err(),
            Some(Malformed::UnknownWatchToken)
        );
    }

    #[test]
    fn bounded_queue() {
        let mut w = Watches::default();
        let a = w.add("a");
        for i in 0..MAX_QUEUED_EVENTS + 5 {
            w.deliver(alloc::format!("a/{i}"), &Watches::token(a))
                .unwrap();
        }
        assert_eq!(w.dropped(a), 5);
        assert_eq!(
            w.take(a, None),
            Some(Some(WatchEvent { path: "a/5".into() }))
        );
    }
}
