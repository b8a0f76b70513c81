//! Rounds, FIFO order, fairness, spawning, and the end of `run`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;
use crate::executor::{spawn, yield_now};

#[test]
fn main_alone_returns_its_output() {
    let fake = FakePlatform::new();
    assert_eq!(run_fake(&fake, async { 6 * 7 }), 42);
    assert!(fake.waits().is_empty(), "a main that never waits never blocks");
}

#[test]
fn tasks_run_in_spawn_order_and_interleave_by_rounds() {
    let fake = FakePlatform::new();
    let log = Log::default();
    let l = log.clone();
    run_fake(&fake, async move {
        let handles: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let l = l.clone();
                spawn(async move {
                    for step in 1..=3 {
                        l.push(format!("{name}{step}"));
                        yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await;
        }
    });
    assert_eq!(log.take(), ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3"]);
}

#[test]
fn a_task_that_yields_forever_cannot_starve_the_others() {
    let fake = FakePlatform::new();
    let spins = Arc::new(AtomicUsize::new(0));
    let s = spins.clone();
    let rounds_of_worker = run_fake(&fake, async move {
        let _hog = spawn(async move {
            loop {
                s.fetch_add(1, Ordering::SeqCst);
                yield_now().await;
            }
        });
        let worker = spawn(async {
            for _ in 0..5 {
                yield_now().await;
            }
            5
        });
        worker.await
    });
    assert_eq!(rounds_of_worker, 5);
    // The hog ran once per round, not more: the worker needed 6 polls, main waited one more round.
    let spins = spins.load(Ordering::SeqCst);
    assert!((6..=8).contains(&spins), "hog polled {spins} times");
}

#[test]
fn a_task_woken_many_times_in_one_round_is_polled_once_per_round() {
    let fake = FakePlatform::new();
    let log = Log::default();
    let l = log.clone();
    run_fake(&fake, async move {
        let l2 = l.clone();
        let noisy = spawn(async move {
            for i in 0..2 {
                l2.push(format!("noisy{i}"));
                // Three wakes in one poll: still one entry on the ready queue.
                std::future::poll_fn(|cx| {
                    cx.waker().wake_by_ref();
                    cx.waker().wake_by_ref();
                    #[allow(clippy::waker_clone_wake)] // waking by value is a path of its own
                    cx.waker().clone().wake();
                    Poll::Ready(())
                })
                .await;
                yield_now().await;
            }
        });
        let l3 = l.clone();
        let quiet = spawn(async move {
            for i in 0..2 {
                l3.push(format!("quiet{i}"));
                yield_now().await;
            }
        });
        noisy.await;
        quiet.await;
    });
    assert_eq!(log.take(), ["noisy0", "quiet0", "noisy1", "quiet1"]);
}

#[test]
fn tasks_spawned_by_tasks_run_and_return_results() {
    let fake = FakePlatform::new();
    let total = run_fake(&fake, async {
        let outer = spawn(async {
            let inner: Vec<_> = (1..=4u64).map(|i| spawn(async move { i * 10 })).collect();
            let mut sum = 0;
            for h in inner {
                sum += h.await;
            }
            sum
        });
        outer.await + 1
    });
    assert_eq!(total, 101);
}

#[test]
fn a_finished_tasks_handle_returns_its_output_later() {
    let fake = FakePlatform::new();
    let out = run_fake(&fake, async {
        let h = spawn(async { String::from("done") });
        for _ in 0..3 {
            yield_now().await;
        }
        assert!(h.is_finished());
        h.await
    });
    assert_eq!(out, "done");
}

#[test]
fn a_detached_task_keeps_running() {
    let fake = FakePlatform::new();
    let finished = Signal::default();
    let f = finished.clone();
    run_fake(&fake, async move {
        drop(spawn(async move {
            yield_now().await;
            yield_now().await;
            f.set();
        }));
        finished.wait().await;
    });
}

#[test]
fn unfinished_tasks_are_dropped_when_main_returns() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let fake = FakePlatform::new();
    let polled_dropped = Arc::new(AtomicBool::new(false));
    let never_polled_dropped = Arc::new(AtomicBool::new(false));
    let (a, b) = (polled_dropped.clone(), never_polled_dropped.clone());
    run_fake(&fake, async move {
        drop(spawn(async move {
            let _guard = SetOnDrop(a);
            std::future::pending::<()>().await;
        }));
        yield_now().await; // the first task starts and parks forever
        let guard = SetOnDrop(b); // owned by the future from the start
        drop(spawn(async move {
            let _guard = guard;
        }));
        // main returns before the second task was ever polled
    });
    assert!(polled_dropped.load(Ordering::SeqCst));
    assert!(never_polled_dropped.load(Ordering::SeqCst));
    // The executor is gone: spawning now panics (checked in `spawn_outside_run_panics`).
}

#[test]
#[should_panic(expected = "spawn needs a running executor")]
fn spawn_outside_run_panics() {
    let _serial = serial();
    drop(spawn(async {}));
}

#[test]
#[should_panic(expected = "does not nest")]
fn nested_run_panics() {
    let fake = FakePlatform::new();
    let inner = fake.clone();
    run_fake(&fake, async move {
        crate::executor::run(inner, async {});
    });
}

#[test]
fn run_can_be_used_again_after_a_panic_inside() {
    let fake = FakePlatform::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_fake(&fake, async { panic!("boom") })));
    assert!(r.is_err());
    assert_eq!(run_fake(&fake, async { 1 }), 1, "the global was cleared while unwinding");
}

#[test]
fn timers_and_events_are_checked_between_rounds_even_when_a_task_always_yields() {
    let fake = FakePlatform::new();
    let clock = fake.clone();
    fake.raise_at(3 * MS, 4);
    let hog_polls = Arc::new(AtomicUsize::new(0));
    let h = hog_polls.clone();
    run_fake(&fake, async move {
        let _hog = spawn(async move {
            loop {
                // Each round takes 1 ms of virtual time; without rounds the loop would never look at
                // the clock or the ports again.
                assert!(h.fetch_add(1, Ordering::SeqCst) < 1000, "the hog starved the executor");
                clock.advance(MS);
                yield_now().await;
            }
        });
        // The event arrives during the hog's 3rd round; main is woken behind the hog (FIFO), so it runs
        // in the next round, after the hog's 4th millisecond.
        crate::executor::wait_event(4).await;
        assert_eq!(fake_now_ms(), 4);
        // Deadline 6 ms: due after the hog's 6th round, main runs in the 7th.
        crate::executor::sleep(core::time::Duration::from_millis(2)).await;
        assert_eq!(fake_now_ms(), 7);
    });
    assert_eq!(hog_polls.load(Ordering::SeqCst), 7);
    assert!(fake.waits().is_empty(), "a ready task means no blocking");
}

fn fake_now_ms() -> u64 {
    crate::executor::Instant::now().as_nanos() / MS
}
