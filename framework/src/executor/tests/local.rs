//! `LocalSet`: `!Send` tasks inside one executor task.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use core::time::Duration;

use super::*;
use crate::executor::{sleep, spawn, wait_event, yield_now, Instant, LocalSet};

#[test]
fn local_tasks_share_rc_state_and_return_results() {
    let fake = FakePlatform::new();
    let (total, log) = run_fake(&fake, async {
        let shared = Rc::new(RefCell::new(Vec::new())); // neither Send nor Sync
        let local = LocalSet::new();
        let handles: Vec<_> = (1..=3u32)
            .map(|i| {
                let shared = shared.clone();
                local.spawn(async move {
                    shared.borrow_mut().push(format!("start{i}"));
                    yield_now().await;
                    shared.borrow_mut().push(format!("end{i}"));
                    i * 10
                })
            })
            .collect();
        let total = local
            .run_until(async {
                let mut total = 0;
                for h in handles {
                    total += h.await;
                }
                total
            })
            .await;
        let log = shared.borrow().clone();
        (total, log)
    });
    assert_eq!(total, 60);
    assert_eq!(log, ["start1", "start2", "start3", "end1", "end2", "end3"]);
}

#[test]
fn local_tasks_sleep_and_wait_for_events_on_the_executor() {
    let fake = FakePlatform::new();
    fake.raise_at(7 * MS, 2);
    let times = run_fake(&fake, async {
        let times = Rc::new(RefCell::new(Vec::new()));
        let local = LocalSet::new();
        let t = times.clone();
        let sleeper = local.spawn(async move {
            sleep(Duration::from_millis(5)).await;
            t.borrow_mut().push(("slept", Instant::now().as_nanos() / MS));
        });
        let t = times.clone();
        let waiter = local.spawn(async move {
            wait_event(2).await;
            t.borrow_mut().push(("event", Instant::now().as_nanos() / MS));
        });
        local
            .run_until(async {
                sleeper.await;
                waiter.await;
            })
            .await;
        let out = times.borrow().clone();
        out
    });
    assert_eq!(times, [("slept", 5), ("event", 7)]);
    // Blocked twice, until each cause: the set idles like any task.
    let until: Vec<_> = fake.waits().iter().map(|w| w.until / MS).collect();
    assert_eq!(until, [5, 7]);
}

#[test]
fn a_local_hog_starves_neither_its_set_nor_other_executor_tasks() {
    let fake = FakePlatform::new();
    let done = run_fake(&fake, async {
        let outside = spawn(async {
            for _ in 0..3 {
                yield_now().await;
            }
            "outside"
        });
        let local = LocalSet::new();
        let spins = Rc::new(Cell::new(0u32));
        let s = spins.clone();
        drop(local.spawn(async move {
            loop {
                s.set(s.get() + 1);
                assert!(s.get() < 1000, "the local hog starved everyone");
                yield_now().await;
            }
        }));
        let inside = local.spawn(async {
            for _ in 0..3 {
                yield_now().await;
            }
            "inside"
        });
        let both = local.run_until(async { (inside.await, outside.await) }).await;
        assert!(spins.get() <= 6, "the hog ran {} times", spins.get());
        both
    });
    assert_eq!(done, ("inside", "outside"));
}

#[test]
fn local_tasks_can_spawn_siblings_and_unfinished_ones_resume_later() {
    let fake = FakePlatform::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    run_fake(&fake, async move {
        let local = LocalSet::new();
        let set = local.clone();
        let counter = Rc::new(Cell::new(0));
        let c = counter.clone();
        let parent = local.spawn(async move {
            let c2 = c.clone();
            set.spawn(async move { c2.set(c2.get() + 1) }).await;
            c.set(c.get() + 10);
        });
        local.run_until(parent).await;
        assert_eq!(counter.get(), 11);

        // A task left unfinished by one run_until continues in the next.
        let c = counter.clone();
        let slow = local.spawn(async move {
            sleep(Duration::from_millis(10)).await;
            c.set(c.get() + 100);
        });
        local.run_until(sleep(Duration::from_millis(1))).await;
        assert_eq!((counter.get(), local.len()), (11, 1));
        local.run_until(slow).await;
        assert_eq!(counter.get(), 111);

        // Dropping the set drops what is left.
        struct SetOnDrop(Arc<AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let guard = SetOnDrop(d);
        drop(local.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }));
        local.run_until(yield_now()).await;
        drop(local);
    });
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
#[should_panic(expected = "from one of the set's own tasks")]
fn running_a_set_from_its_own_task_panics() {
    let fake = FakePlatform::new();
    run_fake(&fake, async {
        let local = LocalSet::new();
        let inner = local.clone();
        drop(local.spawn(async move {
            inner.run_until(async {}).await;
        }));
        local.run_until(yield_now()).await;
    });
}
