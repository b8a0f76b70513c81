//! Grant tables: how a frontend lets a backend map one of its pages.

use crate::{DomId, GrantRef, Pfn};

/// Why a grant could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantError {
    /// Every grant entry is in use and the table cannot grow further.
    Exhausted,
    /// The frame is not one this domain may grant.
    InvalidFrame,
    /// The domain id is not a real domain.
    InvalidDomain,
}

/// Why a grant could not be revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeError {
    /// The peer still has the page mapped (or a copy in progress). The entry and the page stay reserved;
    /// try again later. The page must not be reused for anything else meanwhile.
    StillInUse,
    /// The reference is not one we granted (or was already revoked).
    InvalidRef,
}

/// Grant table v1 operations. `&mut self`: a grant table has one owner (the driver set of a domain hands
/// out references through it), and a fake records each call.
pub trait GrantTable {
    /// Let domain `dom` map frame `frame` (read-only if `readonly`).
    fn grant(&mut self, dom: DomId, frame: Pfn, readonly: bool) -> Result<GrantRef, GrantError>;
    /// End the grant. Fails with [`RevokeError::StillInUse`] while the peer still maps the page.
    fn revoke(&mut self, gref: GrantRef) -> Result<(), RevokeError>;
}

impl<T: GrantTable + ?Sized> GrantTable for &mut T {
    fn grant(&mut self, dom: DomId, frame: Pfn, readonly: bool) -> Result<GrantRef, GrantError> {
        (**self).grant(dom, frame, readonly)
    }
    fn revoke(&mut self, gref: GrantRef) -> Result<(), RevokeError> {
        (**self).revoke(gref)
    }
}
