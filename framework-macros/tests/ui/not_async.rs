#![no_main] // as in a real unikernel image
#[xenolith_macros::main]
fn main(ctx: u32) {
    let _ = ctx;
}
