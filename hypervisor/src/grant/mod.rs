//! Grant tables, version 1.
//!
//! * [`table`]: free list, entry states, growth and revoke protocol over [`table::GrantMemory`]
//!   (pure, host-tested); implements [`xen_traits::GrantTable`].
//! * `xen` (target): the frames mapped with `XENMEM_add_to_physmap(XENMAPSPACE_grant_table)`.

pub mod table;
#[cfg(target_os = "none")]
pub mod xen;

pub use table::{EntryState, GrantMemory, Grants};
