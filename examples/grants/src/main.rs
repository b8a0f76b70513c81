//! Grant table self-test on Xen: grants 600 pages (or `extra = "N"`) to dom0 read-only, more than the
//! first grant frame holds (504 usable references), so the table grows; revokes them all; checks that
//! freed references are reused (last freed first) and that revoking twice or a reserved reference is refused.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use xenolith::xen::grants::{frames, grants, OwnedPage};
use xenolith::xen::{DomId, GrantRef, RevokeError, SharedPage};
use xenolith::{println, Context};

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), &'static str> {
    let n: usize = ctx.cmdline().trim().parse().unwrap_or(600);
    let (f0, max) = frames().map_err(|_| "grant table setup failed")?;
    println!("grants: table has {f0} frame(s), Xen allows {max}");
    let mut pages = Vec::with_capacity(n);
    for i in 0..n {
        let p = OwnedPage::new().ok_or("out of memory")?;
        p.write_bytes(0, b"xenolith grant ");
        p.write_u32(16, i as u32);
        pages.push(p);
    }
    let mut refs = Vec::with_capacity(n);
    {
        let mut g = grants().map_err(|_| "grant table")?;
        for p in &pages {
            refs.push(g.grant(DomId(0), p.pfn(), true).map_err(|_| "grant failed")?);
        }
    }
    let (f1, _) = frames().map_err(|_| "grant table")?;
    let lo = refs.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = refs.iter().map(|r| r.0).max().unwrap_or(0);
    println!("grants: granted {n} pages to dom0 (refs {lo}..={hi}); table grew from {f0} to {f1} frames");
    let mut g = grants().map_err(|_| "grant table")?;
    let mut revoked = 0;
    for r in &refs {
        match g.revoke(*r) {
            Ok(()) => revoked += 1,
            Err(RevokeError::StillInUse) => println!("grants: {r} still mapped by dom0"),
            Err(RevokeError::InvalidRef) => return Err("revoke refused a live grant"),
        }
    }
    println!("grants: revoked {revoked}/{n}");
    let twice = g.revoke(refs[0]) == Err(RevokeError::InvalidRef);
    let reserved = g.revoke(GrantRef(1)) == Err(RevokeError::InvalidRef);
    let again = g.grant(DomId(0), pages[0].pfn(), false).map_err(|_| "re-grant failed")?;
    // The free list is LIFO: the reference freed last is handed out first.
    let reused = again == refs[n - 1];
    g.revoke(again).map_err(|_| "revoke of the re-grant failed")?;
    println!("grants: double revoke refused {twice}, reserved ref refused {reserved}, last freed ref reused first {reused}");
    if revoked != n || !twice || !reserved || !reused || f1 <= f0 && n > 504 {
        return Err("grant self-test failed");
    }
    println!("grants: done");
    Ok(())
}
