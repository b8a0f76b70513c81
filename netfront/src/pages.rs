//! Buffer pages and their grants: a page is free, granted (owned by an in-flight slot), or in
//! quarantine (the backend still maps it: revoke failed, retried later, never reused meanwhile).

use alloc::vec::Vec;

use xen_traits::{DomId, GrantError, GrantRef, GrantTable, Pfn, RevokeError, SharedPage};

/// Where the driver gets the pages it shares (rings and buffers), at setup only.
pub trait PageAlloc {
    /// The page type.
    type Page: SharedPage;
    /// A zeroed page and its frame, or `None` when memory is exhausted.
    fn alloc_page(&mut self) -> Option<(Pfn, Self::Page)>;
}

impl<P: SharedPage, F: FnMut() -> Option<(Pfn, P)>> PageAlloc for F {
    type Page = P;
    fn alloc_page(&mut self) -> Option<(Pfn, P)> {
        self()
    }
}

/// A page the driver owns.
#[derive(Debug)]
pub struct Buf<P> {
    /// Its frame (what is granted).
    pub pfn: Pfn,
    /// Its memory.
    pub page: P,
}

/// A page granted to the backend: owned by whoever holds this (an in-flight slot or the quarantine).
#[derive(Debug)]
pub struct Granted<P> {
    /// The page.
    pub buf: Buf<P>,
    /// The grant.
    pub gref: GrantRef,
}

/// Grant `buf` to `dom`; on failure the page comes back with the error.
pub fn grant<P, G: GrantTable>(
    gt: &mut G,
    dom: DomId,
    buf: Buf<P>,
    readonly: bool,
) -> Result<Granted<P>, (Buf<P>, GrantError)> {
    match gt.grant(dom, buf.pfn, readonly) {
        Ok(gref) => Ok(Granted { buf, gref }),
        Err(e) => Err((buf, e)),
    }
}

/// End a grant. `Err` gives the grant back when the backend still maps the page: keep it (and its page)
/// reserved and retry later.
pub fn revoke<P, G: GrantTable>(gt: &mut G, g: Granted<P>) -> Result<Buf<P>, Granted<P>> {
    match gt.revoke(g.gref) {
        Ok(()) => Ok(g.buf),
        Err(RevokeError::StillInUse) => Err(g),
        Err(RevokeError::InvalidRef) => {
            // Not granted (any more): nobody can map the page through it.
            log::error!("netfront: revoking {} failed: not a live grant", g.gref);
            Ok(g.buf)
        }
    }
}

/// Grants whose revoke failed because the backend still maps them.
#[derive(Debug)]
pub struct Quarantine<P> {
    held: Vec<Granted<P>>,
}

impl<P> Default for Quarantine<P> {
    fn default() -> Self {
        Quarantine { held: Vec::new() }
    }
}

impl<P> Quarantine<P> {
    /// Revoke `g`; a page the backend still maps is kept here. Returns the page if it is free.
    pub fn release<G: GrantTable>(&mut self, gt: &mut G, g: Granted<P>) -> Option<Buf<P>> {
        match revoke(gt, g) {
            Ok(b) => Some(b),
            Err(g) => {
                log::debug!("netfront: {} still mapped by the backend, deferred", g.gref);
                self.held.push(g);
                None
            }
        }
    }

    /// Retry every held grant; pages the backend let go of are pushed to `free`.
    pub fn retry<G: GrantTable>(&mut self, gt: &mut G, free: &mut Vec<Buf<P>>) -> usize {
        let mut freed = 0;
        let mut i = 0;
        while i < self.held.len() {
            match gt.revoke(self.held[i].gref) {
                Err(RevokeError::StillInUse) => i += 1,
                _ => {
                    free.push(self.held.swap_remove(i).buf);
                    freed += 1;
                }
            }
        }
        freed
    }

    /// Number of pages held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no page is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Take every held grant (teardown).
    pub fn drain(&mut self) -> impl Iterator<Item = Granted<P>> + '_ {
        self.held.drain(..)
    }
}
