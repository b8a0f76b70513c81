//! `wait_event`: delivery, the remembered-once rule, several waiters, storms, cancellation.

use core::time::Duration;

use super::*;
use crate::executor::{select, sleep, spawn, timeout, wait_event, yield_now, Either, Elapsed, Instant};

#[test]
fn a_waiter_completes_when_its_port_fires() {
    let fake = FakePlatform::new();
    fake.raise_at(7 * MS, 3);
    run_fake(&fake, async {
        wait_event(3).await;
        assert_eq!(Instant::now().as_nanos(), 7 * MS);
    });
    // Blocked once, with no timer armed, until the event.
    assert_eq!(fake.waits(), [crate::executor::fake::Wait { at: 0, armed: None, until: 7 * MS }]);
}

#[test]
fn an_event_while_nobody_waits_is_remembered_once() {
    let fake = FakePlatform::new();
    let port = fake.clone();
    fake.raise_at(50 * MS, 3);
    run_fake(&fake, async move {
        port.raise(3);
        yield_now().await; // the loop drains the event: nobody waits, so it is remembered
        port.raise(3);
        yield_now().await; // fired again: still one remembered event
        wait_event(3).await;
        assert_eq!(Instant::now().as_nanos(), 0, "the remembered event completes the wait at once");
        wait_event(3).await;
        assert_eq!(Instant::now().as_nanos(), 50 * MS, "only one was remembered");
    });
}

#[test]
fn one_event_wakes_every_waiter_of_the_port() {
    let fake = FakePlatform::new();
    fake.raise_at(2 * MS, 9);
    let log = Log::default();
    let l = log.clone();
    run_fake(&fake, async move {
        let waiters: Vec<_> = ["w1", "w2"]
            .into_iter()
            .map(|name| {
                let l = l.clone();
                spawn(async move {
                    wait_event(9).await;
                    l.push(format!("{name}@{}", Instant::now().as_nanos() / MS));
                })
            })
            .collect();
        for w in waiters {
            w.await;
        }
    });
    assert_eq!(log.take(), ["w1@2", "w2@2"]);
}

#[test]
fn an_event_on_another_port_does_not_complete_a_wait() {
    let fake = FakePlatform::new();
    fake.raise_at(MS, 3);
    let r = run_fake(&fake, async { timeout(Duration::from_millis(10), wait_event(4)).await });
    assert_eq!(r, Err(Elapsed));
    assert_eq!(fake.now(), 10 * MS);
}

#[test]
fn a_storm_of_events_is_coalesced_not_lost() {
    let fake = FakePlatform::new();
    let port = fake.clone();
    let wakeups = run_fake(&fake, async move {
        let driver = spawn(async {
            let mut wakeups = 0u32;
            while timeout(Duration::from_millis(1), wait_event(5)).await.is_ok() {
                wakeups += 1;
            }
            wakeups
        });
        yield_now().await; // the driver waits now
        for _ in 0..1000 {
            port.raise(5);
        }
        yield_now().await;
        yield_now().await; // the driver saw the storm and waits again
        for _ in 0..1000 {
            port.raise(5);
        }
        driver.await
    });
    assert_eq!(wakeups, 2, "two bursts, two wake-ups");
}

#[test]
fn a_woken_waiter_dropped_before_seeing_the_event_gives_it_back() {
    let fake = FakePlatform::new();
    let port = fake.clone();
    run_fake(&fake, async move {
        let mut w = Box::pin(wait_event(3));
        std::future::poll_fn(|cx| {
            assert!(w.as_mut().poll(cx).is_pending()); // registered as a waiter
            Poll::Ready(())
        })
        .await;
        port.raise(3);
        yield_now().await; // the loop fires port 3: `w` is woken but never polled again
        drop(w);
        // The event was not lost with `w`: the next wait completes at once.
        wait_event(3).await;
        assert_eq!(Instant::now().as_nanos(), 0);
    });
}

#[test]
fn a_waiter_that_loses_a_select_before_the_event_leaves_nothing_behind() {
    let fake = FakePlatform::new();
    fake.raise_at(20 * MS, 3);
    run_fake(&fake, async {
        let r = select(wait_event(3), sleep(Duration::from_millis(5))).await;
        assert_eq!(r, Either::Right(()));
        // The cancelled waiter is gone: the event at 20 ms is remembered for this wait.
        sleep(Duration::from_millis(30)).await;
        wait_event(3).await;
        assert_eq!(Instant::now().as_nanos(), 35 * MS);
    });
}
