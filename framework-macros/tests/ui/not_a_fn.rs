#![no_main] // as in a real unikernel image
#[xenolith_macros::main]
struct Main;

