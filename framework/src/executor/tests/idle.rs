//! Idle behaviour: block with the right deadline, never spin, never poll what was not woken; deadlock.

use std::sync::atomic::{AtomicUsize, Ordering};

use core::time::Duration;

use super::*;
use crate::executor::{sleep, sleep_until, spawn, wait_event, Instant};

#[test]
fn sleeping_tasks_block_until_the_nearest_deadline_each_time() {
    let fake = FakePlatform::new();
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let counts = run_fake(&fake, async move {
        // The shape of examples/timers: periodic sleepers, counting their wake-ups.
        let periodic = |period_ms: u64, p: Arc<AtomicUsize>| {
            spawn(counted(p, async move {
                let start = Instant::now();
                let mut n = 0;
                loop {
                    n += 1;
                    let next = start + Duration::from_millis(period_ms * n);
                    if next > Instant::from_nanos(1000 * MS) {
                        return n - 1;
                    }
                    sleep_until(next).await;
                }
            }))
        };
        let a = periodic(100, p.clone());
        let b = periodic(250, p.clone());
        (a.await, b.await)
    });
    assert_eq!(counts, (10, 4));
    let waits = fake.waits();
    // One block per distinct deadline (100, 200, 250, 300, ... 1000 ms: 12), armed for exactly it,
    // entered at the previous deadline, left at that one.
    let mut deadlines: Vec<u64> = (1..=10).map(|i| i * 100 * MS).chain((1..=4).map(|i| i * 250 * MS)).collect();
    deadlines.sort();
    deadlines.dedup();
    assert_eq!(waits.len(), deadlines.len());
    for (w, d) in waits.iter().zip(&deadlines) {
        assert_eq!((w.armed, w.until), (Some(*d), *d), "{w:?}");
    }
    // Each task is polled once to start and once per wake-up: nothing is polled without a cause.
    assert_eq!(polls.load(Ordering::SeqCst), (1 + 10) + (1 + 4));
}

#[test]
fn a_long_sleep_is_one_block() {
    let fake = FakePlatform::new();
    run_fake(&fake, async { sleep(Duration::from_secs(20)).await });
    assert_eq!(fake.waits(), [crate::executor::fake::Wait { at: 0, armed: Some(20_000 * MS), until: 20_000 * MS }]);
    assert_eq!(fake.set_timer_calls(), 1);
    assert_eq!(fake.armed(), None, "the one-shot timer fired");
}

#[test]
fn every_block_arms_the_timer_even_for_an_unchanged_deadline() {
    let fake = FakePlatform::new();
    fake.raise_at(3 * MS, 7);
    run_fake(&fake, async {
        let _waiter = spawn(async { wait_event(7).await });
        sleep(Duration::from_millis(10)).await;
    });
    let waits = fake.waits();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert_eq!((waits[0].armed, waits[0].until), (Some(10 * MS), 3 * MS));
    assert_eq!((waits[1].armed, waits[1].until), (Some(10 * MS), 10 * MS));
    // Re-armed after the early event: the executor never relies on a timer that may have fired.
    assert_eq!(fake.set_timer_calls(), 2);
}

#[test]
fn a_timer_that_fires_a_hair_early_is_armed_again() {
    let fake = FakePlatform::new();
    fake.fire_timer_early_once(1_000);
    run_fake(&fake, async { sleep(Duration::from_millis(10)).await });
    let waits = fake.waits();
    // The first wake-up reads 9.999 ms: nothing is due. Had the executor trusted the timer to be still
    // armed, the second block would have no timer and never end (the fake panics on that).
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert_eq!((waits[0].armed, waits[0].until), (Some(10 * MS), 10 * MS - 1_000));
    assert_eq!((waits[1].armed, waits[1].until), (Some(10 * MS), 10 * MS));
}

#[test]
fn the_timer_is_disarmed_when_no_deadline_is_left() {
    let fake = FakePlatform::new();
    fake.raise_at(50 * MS, 2);
    run_fake(&fake, async {
        sleep(Duration::from_millis(1)).await;
        wait_event(2).await;
    });
    let armed: Vec<_> = fake.waits().iter().map(|w| w.armed).collect();
    assert_eq!(armed, [Some(MS), None]);
}

#[test]
#[should_panic(expected = "deadlock")]
fn a_main_that_nothing_can_wake_is_reported() {
    let fake = FakePlatform::new();
    run_fake(&fake, std::future::pending::<()>());
}
