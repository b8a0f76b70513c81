//! The first Xenolith unikernel: greets, shows what it was given, and powers off.
#![no_std]
#![no_main]

use xenolith::context::human_size;
use xenolith::{println, Context};

xenolith::main_sync!(main);

fn main(ctx: &Context) {
    println!("Hello from Xenolith");
    println!("Command line: {}", ctx.cmdline());
    match ctx.memory_above_4g_bytes() {
        0 => println!("Memory: {}", human_size(ctx.memory_bytes())),
        high => println!("Memory: {} ({} above 4 GiB, mapped)", human_size(ctx.memory_bytes()), human_size(high)),
    }
    match ctx.xen_version() {
        Some(v) => println!("Xen version: {v}"),
        None => println!("Xen version: none (not running on Xen)"),
    }
}
