//! Prints a line every second, forever, until the toolstack asks it to stop: on `xl shutdown` (or
//! `xl reboot`) it prints its clean-shutdown message and returns from `main`; the framework then ends the
//! domain with the reason asked for (poweroff, or reboot, where the config's `on_reboot=` decides).
#![no_std]
#![no_main]

use core::pin::pin;
use core::time::Duration;

use xenolith::executor::{select, sleep_until, Either, Instant};
use xenolith::{println, shutdown_requested, Context};

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), &'static str> {
    // Asking early tells the framework this application stops by itself (it gets a grace period).
    let mut stop = pin!(shutdown_requested());
    match ctx.xenstore() {
        Some(xs) => match xenolith::xenstore::identity(xs).await {
            Ok(id) => println!("hello-forever: up as {} (domid {}), command line {:?}", id.name, id.domid, ctx.cmdline()),
            Err(e) => println!("hello-forever: up (cannot read its xenstore identity: {e})"),
        },
        None => println!("hello-forever: up (no xenstore: xl shutdown cannot reach it)"),
    }
    let ignore = ctx.cmdline().split_whitespace().any(|w| w == "ignore-shutdown");
    let mut ignoring = false;
    let start = Instant::now();
    let mut ticks: u64 = 0;
    loop {
        let next = start + Duration::from_secs(ticks + 1);
        if ignoring {
            sleep_until(next).await;
        } else if let Either::Right(why) = select(sleep_until(next), stop.as_mut()).await {
            if ignore {
                println!("hello-forever: {why} requested after {ticks} ticks: ignoring it");
                ignoring = true;
                continue;
            }
            println!("hello-forever: {why} requested after {ticks} ticks: clean shutdown, goodbye");
            return Ok(());
        }
        ticks += 1;
        println!("hello-forever: tick {ticks}");
    }
}
