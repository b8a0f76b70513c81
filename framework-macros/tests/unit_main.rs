//! `async fn main(ctx)` returning `()`, with attributes and visibility on the item.
mod common;
use common::{boot, xenolith, YieldOnce};

use std::sync::atomic::{AtomicU32, Ordering};

static SEEN: AtomicU32 = AtomicU32::new(0);

/// Documented, attributed, public: all kept.
#[xenolith_macros::main]
#[allow(clippy::unused_async)]
pub(crate) async fn main(ctx: xenolith::Context) {
    YieldOnce(false).await;
    YieldOnce(false).await;
    SEEN.store(ctx.id, Ordering::SeqCst);
}

#[test]
fn unit_main_runs_with_the_context() {
    assert_eq!(boot(__xenolith_boot_main, 42), "() after 3 polls");
    assert_eq!(SEEN.load(Ordering::SeqCst), 42);
}
