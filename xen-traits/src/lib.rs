//! The small interface Xenolith drivers stand on.
//!
//! Drivers (`xenbus`, `netfront`, `blkfront`) are generic over these traits so the same code runs on Xen
//! (real implementations in the hypervisor crate: hypercalls, volatile pointers) and on the host against
//! the fakes of `xen-fake`. All methods take `&self`/`&mut self` (never associated functions) so a fake can
//! record what the driver did.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod evtchn;
mod grant;
mod ids;
mod shared_page;

pub use evtchn::{EventChannels, EvtchnError};
pub use grant::{GrantError, GrantTable, RevokeError};
pub use ids::{DomId, GrantRef, Pfn, Port};
pub use shared_page::{SharedPage, PAGE_SIZE};
