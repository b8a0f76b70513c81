//! Xenolith: a framework for Xen PVH unikernels.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! xenolith::main_sync!(main);
//! fn main(ctx: &xenolith::Context) {
//!     xenolith::println!("Hello from Xenolith");
//! }
//! ```
//! Build for `x86_64-unknown-none` with `-C link-arg=-Txenolith-pvh.ld` (the linker script ships with
//! the `pvh-boot` dependency; see `examples/.cargo/config.toml`). Returning from `main` powers the
//! domain off; a panic or a CPU exception prints a report and shuts it down with reason `crash`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

// The executor allocates (tasks, timers, wakers): it needs the global allocator, which images get with
// the heap. Until every image has one it is behind the `executor` feature (always built for host tests).
#[cfg(any(test, feature = "executor"))]
extern crate alloc;

#[cfg(any(test, feature = "block"))]
pub mod block;
pub mod console;
pub mod context;
#[cfg(any(test, feature = "executor"))]
pub mod control;
pub mod crash;
pub mod manifest;
#[cfg(any(test, feature = "executor"))]
pub mod monitor;
#[cfg(any(test, feature = "net"))]
pub mod net;
#[cfg(any(test, feature = "executor"))]
pub mod executor;
pub mod power;
mod start;
#[cfg(all(target_os = "none", feature = "executor"))]
pub mod xen;
#[cfg(any(test, feature = "executor"))]
pub mod xenstore;

pub use context::Context;
#[cfg(any(test, feature = "executor"))]
pub use control::{pending_shutdown, shutdown_requested, Shutdown};
pub use power::{poweroff, reboot};
/// `#[xenolith::main] async fn main(ctx: xenolith::Context) -> Result<(), E>`: the application's entry
/// point, run on the [`executor`]. See [`xenolith_macros::main`].
pub use xenolith_macros::main;

/// Items the macros expand to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::manifest;
    pub use crate::start::{start, MainOutput};
    #[cfg(all(target_os = "none", feature = "executor"))]
    pub use crate::start::start_async;
    pub use pvh_boot::Boot;
}

/// Notes an application event in the flight recorder, the ring of the last 64 events (event-channel
/// deliveries, timer fires, blocks, control requests, and these) that crash reports print under
/// `recent events`: `code` says what happened (the application's own numbering), `value` a detail.
/// Cheap (a TSC read and a few stores; no allocation, no lock, never fails): call it at the points an
/// operator would want to see after a crash, not per packet.
///
/// ```ignore
/// xenolith::trace(1, request_id); // the report then shows `app code=1 value=...`
/// ```
#[inline]
pub fn trace(code: u16, value: u64) {
    pvh_boot::flight::record(pvh_boot::flight::Kind::App, u64::from(code), value);
}

/// Debugging aids.
pub mod debug {
    /// Reads through a pointer into the unmapped page 0: a page fault the crash handler reports.
    #[cfg(target_os = "none")]
    pub use pvh_boot::fault::read_null_page;
}

/// Declares a synchronous entry point: `xenolith::main_sync!(path::to::main)` with
/// `fn main(ctx: &xenolith::Context)` (no executor). Async applications use `#[xenolith::main]`.
#[macro_export]
macro_rules! main_sync {
    ($main:path) => {
        $crate::__manifest!();
        #[no_mangle]
        pub fn __xenolith_boot_main(boot: $crate::__private::Boot) -> ! {
            let main: fn(&$crate::Context) = $main;
            $crate::__private::start(boot, main)
        }
    };
}

/// Prints to the console (the PV console, or port 0xe9 when there is none).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the console. Lines are written whole: output of different callers never interleaves
/// within a line.
#[macro_export]
macro_rules! println {
    () => { $crate::console::print_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}
