//! Xenolith: a framework for Xen PVH unikernels.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! xenolith::main!(main);
//! fn main(ctx: &xenolith::Context) {
//!     xenolith::println!("Hello from Xenolith");
//! }
//! ```
//! Build for `x86_64-unknown-none` with `-C link-arg=-Txenolith-pvh.ld` (the linker script ships with
//! the `pvh-boot` dependency; see `examples/.cargo/config.toml`). Returning from `main` powers the
//! domain off; a panic or a CPU exception prints a report and shuts it down with reason `crash`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod console;
pub mod context;
pub mod crash;
pub mod power;
mod start;

pub use context::Context;
pub use power::{poweroff, reboot};

/// Items the macros expand to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::start::start;
    pub use pvh_boot::Boot;
}

/// Debugging aids.
pub mod debug {
    /// Reads through a pointer into the unmapped page 0: a page fault the crash handler reports.
    #[cfg(target_os = "none")]
    pub use pvh_boot::fault::read_null_page;
}

/// Declares the application's entry point: `xenolith::main!(path::to::main)` with
/// `fn main(ctx: &xenolith::Context)`.
#[macro_export]
macro_rules! main {
    ($main:path) => {
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
