//! Sleeps 20 s (or `extra = "SECONDS"`) on the executor and reports what the vCPU did meanwhile: an idle
//! Xenolith guest blocks in Xen (`SCHEDOP_block` through HLT) until its one-shot timer fires, so its CPU
//! time (`xl list`, Time(s)) hardly grows. The lab test reads that column before and after.
#![no_std]
#![no_main]

use core::time::Duration;

use xenolith::executor::{sleep, Instant};
use xenolith::xen::platform::stats;
use xenolith::{println, Context};

/// Seconds the domain stays up (idle) after reporting.
const HOLD_SECS: u64 = 15;

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), &'static str> {
    let secs: u64 = ctx.cmdline().trim().parse().unwrap_or(20);
    let (blocks0, _, _, fires0) = stats();
    println!("idle: sleeping {secs} s");
    let start = Instant::now();
    sleep(Duration::from_secs(secs)).await;
    let slept = start.elapsed();
    let (blocks, sets, _, fires) = stats();
    println!(
        "idle: woke after {} ms ({} blocks, {} timer fires, {} timer settings, {} upcalls)",
        slept.as_millis(),
        blocks - blocks0,
        fires - fires0,
        sets,
        xenolith::xen::upcalls()
    );
    if slept < Duration::from_secs(secs) {
        return Err("woke before the deadline");
    }
    // Stay up a little longer, still idle, so a reader of `xl list` that reacts to the line above
    // finds the domain alive.
    sleep(Duration::from_secs(HOLD_SECS)).await;
    println!("idle: done");
    Ok(())
}
