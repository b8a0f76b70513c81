//! Waking: from other tasks, before the poll, during the poll, spuriously, after the end.

use std::sync::atomic::{AtomicUsize, Ordering};

use core::time::Duration;

use super::*;
use crate::executor::{sleep, spawn, wait_event, yield_now, Instant};

#[test]
fn a_task_woken_by_another_task_runs_again() {
    let fake = FakePlatform::new();
    let sig = Signal::default();
    let log = Log::default();
    let (s, l) = (sig.clone(), log.clone());
    run_fake(&fake, async move {
        let l2 = l.clone();
        let waiter = spawn(async move {
            s.wait().await;
            l2.push("woken");
        });
        yield_now().await; // waiter parks
        l.push("setting");
        sig.set();
        waiter.await;
    });
    assert_eq!(log.take(), ["setting", "woken"]);
    assert!(fake.waits().is_empty(), "no blocking: the wake came from a task");
}

#[test]
fn wakes_before_the_next_poll_are_not_lost_and_poll_once() {
    let fake = FakePlatform::new();
    let sig = Signal::default();
    let polls = Arc::new(AtomicUsize::new(0));
    let (s, p) = (sig.clone(), polls.clone());
    run_fake(&fake, async move {
        let waiter = spawn(counted(p, async move { s.wait().await }));
        yield_now().await; // first poll: pending, waker registered
        // Several wakes before the task is polled again: one more poll.
        let w = sig.waker().expect("the waiter registered its waker");
        w.wake_by_ref();
        w.wake_by_ref();
        sig.set();
        waiter.await;
    });
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_wake_during_the_poll_is_kept_for_the_next_round() {
    let fake = FakePlatform::new();
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    run_fake(&fake, async move {
        // Wakes itself, then returns Pending: must be polled again without any outside help.
        let mut first = true;
        counted(
            p,
            std::future::poll_fn(move |cx| {
                if first {
                    first = false;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            }),
        )
        .await;
    });
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    assert!(fake.waits().is_empty());
}

#[test]
fn spurious_wakes_do_not_complete_sleeps_or_event_waits() {
    let fake = FakePlatform::new();
    fake.raise_at(4 * MS, 1);
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    run_fake(&fake, async move {
        // Two futures in one task; the nagger wakes the task every round for 20 rounds.
        let nag = async {
            for _ in 0..20 {
                yield_now().await;
            }
        };
        let work = counted(p, async {
            sleep(Duration::from_millis(3)).await;
            let slept = Instant::now().as_nanos();
            wait_event(1).await;
            (slept, Instant::now().as_nanos())
        });
        let ((), (slept, evented)) = crate::executor::join(nag, work).await;
        assert_eq!(slept, 3 * MS, "the spurious polls at 0 ms did not end the sleep early");
        assert_eq!(evented, 4 * MS, "nor the wait for the event");
    });
    // Polled on every nag round plus the two real wake-ups: spurious polls happened and were harmless.
    assert!(polls.load(Ordering::SeqCst) >= 20);
}

#[test]
fn stale_wakers_are_harmless() {
    let fake = FakePlatform::new();
    let kept = Arc::new(Mutex::new(None::<Waker>));
    let (k, k2) = (kept.clone(), kept.clone());
    run_fake(&fake, async move {
        let done = spawn(async move {
            std::future::poll_fn(|cx| {
                *k.lock().unwrap() = Some(cx.waker().clone());
                Poll::Ready(())
            })
            .await
        });
        done.await;
        // The task has finished: waking it again must neither poll it nor break the loop.
        k2.lock().unwrap().as_ref().unwrap().wake_by_ref();
        yield_now().await;
        k2.lock().unwrap().as_ref().unwrap().wake_by_ref();
    });
    // And after `run` has returned.
    kept.lock().unwrap().take().unwrap().wake();
}
