//! Three tasks sleeping 100 ms, 250 ms and 1 s in a loop for 10 s (or `extra = "SECONDS"`), on absolute
//! deadlines (no drift): each prints its wake-up count (expected 100, 40, 10) and its largest and mean
//! lateness (how long after its deadline it ran).
#![no_std]
#![no_main]

use core::time::Duration;

use xenolith::executor::{sleep_until, spawn, Instant};
use xenolith::{println, Context};

struct Report {
    period_ms: u64,
    wakeups: u64,
    max_late: Duration,
    /// When (since the start) the largest lateness happened.
    max_late_at: Duration,
    total_late: Duration,
}

async fn ticker(period_ms: u64, start: Instant, end: Instant) -> Report {
    let period = Duration::from_millis(period_ms);
    let mut r = Report { period_ms, wakeups: 0, max_late: Duration::ZERO, max_late_at: Duration::ZERO, total_late: Duration::ZERO };
    let mut next = start + period;
    while next <= end {
        sleep_until(next).await;
        let late = Instant::now() - next;
        r.wakeups += 1;
        if late > r.max_late {
            r.max_late = late;
            r.max_late_at = next - start;
        }
        r.total_late += late;
        next += period;
    }
    r
}

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), &'static str> {
    let secs: u64 = ctx.cmdline().trim().parse().unwrap_or(10);
    println!("timers: 3 tasks (100 ms, 250 ms, 1 s) for {secs} s");
    if let Ok((sec, nsec)) = xenolith::xen::wall_clock() {
        println!("timers: wall clock {sec}.{:03} s since the epoch (shared_info + PV clock)", nsec / 1_000_000);
    }
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let tasks = [spawn(ticker(100, start, end)), spawn(ticker(250, start, end)), spawn(ticker(1000, start, end))];
    let mut ok = true;
    for t in tasks {
        let r = t.await;
        let expected = secs * 1000 / r.period_ms;
        let mean_us = r.total_late.as_micros() as u64 / r.wakeups.max(1);
        println!(
            "timers: task {} ms: {} wake-ups (expected {}), max lateness {} us (at {} ms), mean lateness {} us",
            r.period_ms,
            r.wakeups,
            expected,
            r.max_late.as_micros(),
            r.max_late_at.as_millis(),
            mean_us
        );
        ok &= r.wakeups.abs_diff(expected) <= 1;
    }
    println!("timers: finished after {} ms", start.elapsed().as_millis());
    if !ok {
        return Err("a task woke up the wrong number of times");
    }
    println!("timers: done");
    Ok(())
}
