//! `sleep`, `sleep_until`, `timeout`, `Instant` on the virtual clock.

use core::time::Duration;

use super::*;
use crate::executor::{sleep, sleep_until, spawn, timeout, timeout_at, Elapsed, Instant};

#[test]
fn sleepers_wake_in_deadline_order_exactly_on_time() {
    let fake = FakePlatform::new();
    let log = Log::default();
    let l = log.clone();
    run_fake(&fake, async move {
        let handles: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|ms| {
                let l = l.clone();
                spawn(async move {
                    sleep(Duration::from_millis(ms)).await;
                    l.push(format!("{ms}ms@{}", Instant::now().as_nanos() / MS));
                })
            })
            .collect();
        for h in handles {
            h.await;
        }
    });
    assert_eq!(log.take(), ["10ms@10", "20ms@20", "30ms@30"]);
    assert_eq!(fake.now(), 30 * MS);
}

#[test]
fn equal_deadlines_wake_in_registration_order() {
    let fake = FakePlatform::new();
    let log = Log::default();
    let l = log.clone();
    run_fake(&fake, async move {
        let deadline = Instant::from_nanos(5 * MS);
        let handles: Vec<_> = ["first", "second", "third"]
            .into_iter()
            .map(|name| {
                let l = l.clone();
                spawn(async move {
                    sleep_until(deadline).await;
                    l.push(name);
                })
            })
            .collect();
        for h in handles {
            h.await;
        }
    });
    assert_eq!(log.take(), ["first", "second", "third"]);
    assert_eq!(fake.waits().len(), 1, "one deadline, one wait");
}

#[test]
fn a_deadline_in_the_past_completes_without_waiting() {
    let fake = FakePlatform::new();
    fake.advance(7 * MS);
    run_fake(&fake, async {
        sleep(Duration::ZERO).await;
        sleep_until(Instant::from_nanos(MS)).await;
        assert_eq!(Instant::now().as_nanos(), 7 * MS);
    });
    assert!(fake.waits().is_empty());
    assert_eq!(fake.set_timer_calls(), 0);
}

#[test]
fn sleep_measures_from_its_creation() {
    let fake = FakePlatform::new();
    let clock = fake.clone();
    run_fake(&fake, async move {
        let start = Instant::now();
        let s = sleep(Duration::from_millis(10));
        assert_eq!(s.deadline(), start + Duration::from_millis(10));
        clock.advance(4 * MS); // the task computes for 4 ms
        s.await;
        assert_eq!(start.elapsed(), Duration::from_millis(10));
    });
}

#[test]
fn a_late_poll_is_not_early_and_lateness_is_visible() {
    let fake = FakePlatform::new();
    let clock = fake.clone();
    let lateness = run_fake(&fake, async move {
        let hog = spawn(async move {
            sleep(Duration::from_millis(1)).await;
            clock.advance(5 * MS); // computes past the other task's deadline
        });
        let deadline = Instant::now() + Duration::from_millis(2);
        let sleeper = spawn(async move {
            sleep_until(deadline).await;
            Instant::now() - deadline
        });
        hog.await;
        sleeper.await
    });
    assert_eq!(lateness, Duration::from_millis(4));
}

#[test]
fn timeout_returns_the_output_when_in_time() {
    let fake = FakePlatform::new();
    let r = run_fake(&fake, async {
        timeout(Duration::from_millis(10), async {
            sleep(Duration::from_millis(5)).await;
            "ok"
        })
        .await
    });
    assert_eq!(r, Ok("ok"));
    assert_eq!(fake.now(), 5 * MS);
}

#[test]
fn timeout_elapses_and_cancels_the_inner_timer() {
    let fake = FakePlatform::new();
    let r = run_fake(&fake, async {
        let r = timeout(Duration::from_millis(5), sleep(Duration::from_millis(10))).await;
        assert_eq!(Instant::now().as_nanos(), 5 * MS);
        sleep(Duration::from_millis(20)).await;
        r
    });
    assert_eq!(r, Err(Elapsed));
    // The inner 10 ms sleep was dropped with the timeout: the vCPU never woke for it.
    let armed: Vec<_> = fake.waits().iter().map(|w| w.armed).collect();
    assert_eq!(armed, [Some(5 * MS), Some(25 * MS)]);
}

#[test]
fn timeout_prefers_the_output_when_both_are_due() {
    let fake = FakePlatform::new();
    let r = run_fake(&fake, async {
        let deadline = Instant::from_nanos(3 * MS);
        timeout_at(deadline, sleep_until(deadline)).await
    });
    assert_eq!(r, Ok(()));
}

#[test]
fn a_dropped_sleep_removes_its_timer() {
    let fake = FakePlatform::new();
    run_fake(&fake, async {
        let mut long = Box::pin(sleep(Duration::from_millis(100)));
        // Poll it once so it registers, then drop it.
        std::future::poll_fn(|cx| {
            assert!(long.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        drop(long);
        sleep(Duration::from_millis(1)).await;
        sleep(Duration::from_millis(1)).await;
    });
    let armed: Vec<_> = fake.waits().iter().map(|w| w.armed).collect();
    assert_eq!(armed, [Some(MS), Some(2 * MS)]);
}

#[test]
#[should_panic(expected = "Instant::now needs a running executor")]
fn now_outside_run_panics() {
    let _serial = serial();
    let _ = Instant::now();
}
