//! `async fn main()` without the context.
mod common;
use common::{boot, xenolith};

#[xenolith_macros::main]
async fn main() -> Result<(), core::fmt::Error> {
    Err(core::fmt::Error)
}

#[test]
fn main_without_context() {
    // `xenolith` is used by the expansion only.
    let _ = xenolith::Context { id: 0 };
    assert_eq!(boot(__xenolith_boot_main, 5), "Err(Error) after 1 polls");
}
