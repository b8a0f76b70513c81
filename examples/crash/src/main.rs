//! Dereferences a bad pointer (into the unmapped page 0). Xenolith reports the page fault (vector,
//! error code, RIP, RSP, CR2, registers, stack walk) and shuts the domain down with reason `crash`.
#![no_std]
#![no_main]

use xenolith::{println, Context};

xenolith::main!(main);

fn main(_ctx: &Context) {
    println!("crash: reading through a bad pointer");
    fault_here();
}

#[inline(never)]
fn fault_here() {
    xenolith::debug::read_null_page();
}
