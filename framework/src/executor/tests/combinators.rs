//! `join`, `select`, and `JoinHandle` as a future.

use core::time::Duration;

use super::*;
use crate::executor::{join, select, sleep, spawn, yield_now, Either, Instant};

#[test]
fn join_waits_for_both_and_runs_them_concurrently() {
    let fake = FakePlatform::new();
    let (a, b) = run_fake(&fake, async {
        join(
            async {
                sleep(Duration::from_millis(30)).await;
                'a'
            },
            async {
                sleep(Duration::from_millis(10)).await;
                Instant::now().as_nanos()
            },
        )
        .await
    });
    assert_eq!((a, b), ('a', 10 * MS));
    assert_eq!(fake.now(), 30 * MS, "concurrent: 30 ms, not 40");
}

#[test]
fn join_can_borrow_locals() {
    let fake = FakePlatform::new();
    let n = run_fake(&fake, async {
        let counter = std::cell::Cell::new(0); // !Sync: fine inside one task
        let bump = || async {
            for _ in 0..3 {
                counter.set(counter.get() + 1);
                yield_now().await;
            }
        };
        join(bump(), bump()).await;
        counter.get()
    });
    assert_eq!(n, 6);
}

#[test]
fn select_returns_the_first_to_finish() {
    let fake = FakePlatform::new();
    let r = run_fake(&fake, async {
        let r = select(
            async {
                sleep(Duration::from_millis(10)).await;
                "slow"
            },
            async {
                sleep(Duration::from_millis(5)).await;
                5u8
            },
        )
        .await;
        sleep(Duration::from_millis(20)).await;
        r
    });
    assert_eq!(r, Either::Right(5));
    // The loser's 10 ms timer went with it: the vCPU woke at 5 ms and 25 ms only.
    let armed: Vec<_> = fake.waits().iter().map(|w| w.armed).collect();
    assert_eq!(armed, [Some(5 * MS), Some(25 * MS)]);
}

#[test]
fn select_is_biased_to_the_left_when_both_are_ready() {
    let fake = FakePlatform::new();
    let r = run_fake(&fake, async { select(async { 1 }, async { 2 }).await });
    assert_eq!(r, Either::Left(1));
}

#[test]
fn join_handles_in_select_and_join() {
    let fake = FakePlatform::new();
    let (first, both) = run_fake(&fake, async {
        let slow = spawn(async {
            sleep(Duration::from_millis(8)).await;
            "slow"
        });
        let fast = spawn(async {
            sleep(Duration::from_millis(2)).await;
            "fast"
        });
        let first = match select(slow, fast).await {
            Either::Left(s) | Either::Right(s) => s,
        };
        // The losing handle was dropped (detached); new tasks can still be joined.
        let both = join(spawn(async { 1 }), spawn(async { 2 })).await;
        (first, both)
    });
    assert_eq!((first, both), ("fast", (1, 2)));
}
