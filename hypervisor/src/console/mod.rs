//! The PV console: the `out` ring of `struct xencons_interface` (see `io/console.h`).
//!
//! * [`ring`]: the producer logic over any [`RingMemory`], host-tested.
//! * [`page`]: [`RingMemory`] over the real shared page (a `SharedRegion`).
//! * [`writer`]: writing a whole buffer with notify/wait, and flushing, with a bounded wait.
//! * `xen` (target): the console of this domain, found through HVM params.

pub mod page;
pub mod ring;
pub mod writer;
#[cfg(target_os = "none")]
pub mod xen;

pub use ring::{ConsoleRing, RingError, RingMemory};
pub use writer::{flush, write_all, ConsoleError, Wait};
