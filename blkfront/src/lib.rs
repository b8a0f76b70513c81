//! Xen PV block frontend (`io/blkif.h`), generic over [`xen_traits`] and [`xenbus`], with no `unsafe`
//! and no executor: the same code runs on Xen and on the host against `xen-fake`'s blkback.
//!
//! # Layers (one concern per module)
//! - [`wire`]: the blkif request/response structures (x86_64 ABI), checked views and values.
//! - [`info`]: parsing the backend's disk description and features (untrusted strings).
//! - [`negotiate`]: the xenbus handshake (`talk_to_blkback` + `blkfront_connect` of Linux): ring pages,
//!   grants, event channel, states.
//! - [`table`]: the in-flight table and request ids.
//! - [`device`]: the datapath ([`BlkFront`]): submit, validate responses, grant lifetimes.
//! - [`pages`]: the page allocator trait the driver gets shared memory from.
//! - [`block`]: [`BlockDevice`], async `read`/`write`/`flush`/`discard` over the datapath for any
//!   executor (splits large I/O, waits for ring slots, abandons requests of dropped futures).
//!
//! Sector units: LBAs and counts in this API are logical sectors of [`BlkFront::sector_size`] bytes;
//! the wire always uses 512-byte units (as Linux does).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod block;
pub mod device;
pub mod error;
pub mod info;
pub mod negotiate;
pub mod pages;
pub mod table;
pub mod wire;

pub use block::{BlockDevice, BlockError};
pub use device::{BlkFront, BlkRing, Op, Parts, Stats};
pub use error::{Broken, ConnectError, IoError, SubmitError};
pub use info::{Discard, DiskInfo, FlushMode};
pub use negotiate::{connect, disconnect, Config};
pub use pages::{OutOfMemory, Pages};
pub use table::{Kind, RequestId};
