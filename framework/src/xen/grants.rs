//! The grant table on Xen ([`GrantTable`](xen_traits::GrantTable)), set up on first use with one frame
//! and grown by Xen as references run out, and [`SharedRegion`]: page-aligned heap pages to grant or to
//! use as rings.

use hypervisor::grant::xen::{self as gx, GrantSetupError, XenGrants};
pub use hypervisor::shared_region::SharedRegion;
pub use hypervisor::grant::EntryState;

use crate::xen::{services, SetupError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantsError {
    Setup(SetupError),
    Table(GrantSetupError),
}

impl core::fmt::Display for GrantsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GrantsError::Setup(e) => write!(f, "{e}"),
            GrantsError::Table(e) => write!(f, "grant table setup failed ({e:?})"),
        }
    }
}

static GRANTS: spin::Once<spin::Mutex<XenGrants>> = spin::Once::new();

/// The domain's grant table (locked for the caller).
pub fn grants() -> Result<spin::MutexGuard<'static, XenGrants>, GrantsError> {
    let table = GRANTS.try_call_once(|| {
        let s = services().map_err(GrantsError::Setup)?;
        gx::init(s.xen).map(spin::Mutex::new).map_err(GrantsError::Table)
    })?;
    Ok(table.lock())
}

/// Grant frames mapped now, and Xen's limit for this domain.
pub fn frames() -> Result<(u32, u32), GrantsError> {
    grants().map(|g| g.memory().frames())
}

/// A handle on the domain's grant table for drivers that own their
/// [`GrantTable`](xen_traits::GrantTable) (blkfront, netfront): each call locks the table. A table that
/// cannot be set up refuses every grant ([`GrantError::Exhausted`](xen_traits::GrantError)).
#[derive(Debug, Default, Clone, Copy)]
pub struct DomainGrants;

impl xen_traits::GrantTable for DomainGrants {
    fn grant(
        &mut self,
        dom: xen_traits::DomId,
        frame: xen_traits::Pfn,
        readonly: bool,
    ) -> Result<xen_traits::GrantRef, xen_traits::GrantError> {
        let mut g = grants().map_err(|_| xen_traits::GrantError::Exhausted)?;
        xen_traits::GrantTable::grant(&mut *g, dom, frame, readonly)
    }

    fn revoke(&mut self, gref: xen_traits::GrantRef) -> Result<(), xen_traits::RevokeError> {
        let mut g = grants().map_err(|_| xen_traits::RevokeError::InvalidRef)?;
        xen_traits::GrantTable::revoke(&mut *g, gref)
    }
}
