#![no_main] // as in a real unikernel image
#[xenolith_macros::main(threads = 2)]
async fn main() {}
