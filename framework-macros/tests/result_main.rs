//! `async fn main(ctx) -> Result<(), E>`: the context arrives, an `Err` reaches `start_async`.
mod common;
use common::{boot, xenolith, YieldOnce};

#[xenolith_macros::main]
async fn app(ctx: xenolith::Context) -> Result<(), String> {
    YieldOnce(false).await;
    if ctx.id == 7 {
        Err(format!("failed in domain {}", ctx.id))
    } else {
        Ok(())
    }
}

#[test]
fn ok_and_err_reach_start_async() {
    assert_eq!(boot(__xenolith_boot_main, 1), "Ok(()) after 2 polls");
    assert_eq!(boot(__xenolith_boot_main, 7), "Err(\"failed in domain 7\") after 2 polls");
}

#[test]
fn the_function_stays_callable() {
    // The item is emitted unchanged: other code (and tests) can still call it.
    let fut = app(xenolith::Context { id: 3 });
    drop(fut);
}
