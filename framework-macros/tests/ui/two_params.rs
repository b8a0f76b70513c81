#![no_main] // as in a real unikernel image
#[xenolith_macros::main]
async fn main(a: Option<(u8, u16)>, b: fn(u8, u8) -> Result<u8, u8>) {
    let _ = (a, b);
}
