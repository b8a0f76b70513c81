//! Crashes on purpose, to show Xenolith's crash reports. By default it dereferences a bad pointer (into
//! the unmapped page 0): the page fault is reported (vector, error code, RIP, RSP, CR2, registers,
//! stack walk) and the domain shuts down with reason `crash`. With `extra = "panic"` it panics instead
//! (message and location are printed); with `extra = "overflow"` it overflows its stack into the
//! guard page. Before crashing it notes an application event in the flight recorder
//! (`xenolith::trace(1, 42)`), which the report lists under `recent events` as `app code=1 value=42`.
#![no_std]
#![no_main]

use xenolith::{println, Context};

xenolith::main_sync!(main);

fn main(ctx: &Context) {
    xenolith::trace(1, 42);
    match ctx.cmdline().trim() {
        "panic" => {
            println!("crash: panicking");
            panic!("deliberate panic from the crash example");
        }
        "overflow" => {
            println!("crash: overflowing the stack");
            println!("depth {}", recurse(0, &[0; 64]));
        }
        _ => {
            println!("crash: reading through a bad pointer");
            fault_here();
        }
    }
}

#[inline(never)]
fn fault_here() {
    xenolith::debug::read_null_page();
}

/// Unbounded recursion on purpose (the guard page stops it); the black_box keeps the frames from being
/// optimised away.
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64, pad: &[u8; 64]) -> u64 {
    let local = core::hint::black_box(*pad);
    recurse(depth + 1, &local) + u64::from(local[0])
}
