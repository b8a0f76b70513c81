//! Grant table self-test on Xen: grants 600 pages (or `extra = "N"`) to dom0 read-only, more than the
//! first grant frame holds (504 usable references), so the table grows; revokes them all; checks that
//! freed references are reused (last freed first) and that revoking twice or a reserved reference is refused.
//!
//! With `extra = "N map"` it then grants one more page to dom0 and waits (up to 120 s) for dom0 to map
//! it (the lab test does, through /dev/xen/gntdev): while dom0 maps the page, revoking must fail and the
//! reference stay granted; once dom0 unmaps it, the revoke succeeds.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use core::time::Duration;

use xenolith::executor::{sleep, Instant};
use xenolith::xen::grants::{frames, grants, SharedRegion};
use xenolith::xen::{DomId, GrantRef, RevokeError, SharedPage};
use xenolith::{println, Context};

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), &'static str> {
    let mut args = ctx.cmdline().split_whitespace();
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(600);
    let with_map = args.next() == Some("map");
    let (f0, max) = frames().map_err(|_| "grant table setup failed")?;
    println!("grants: table has {f0} frame(s), Xen allows {max}");
    let mut pages = Vec::with_capacity(n);
    for i in 0..n {
        let p = SharedRegion::alloc(1).ok_or("out of memory")?;
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
    drop(g);
    if with_map {
        revoke_while_mapped(&pages[0]).await?;
    }
    println!("grants: done");
    Ok(())
}

/// Grants `page` to dom0, waits for dom0 to map it, checks that revoking fails while it is mapped and
/// succeeds after dom0 unmapped it.
async fn revoke_while_mapped(page: &SharedRegion) -> Result<(), &'static str> {
    let r = grants().map_err(|_| "grant table")?.grant(DomId(0), page.pfn(), true).map_err(|_| "grant failed")?;
    println!("grants: map-me ref={}", r.0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !grants().map_err(|_| "grant table")?.in_use(r) {
        if Instant::now() > deadline {
            return Err("dom0 never mapped the page");
        }
        sleep(Duration::from_millis(20)).await;
    }
    let refused = grants().map_err(|_| "grant table")?.revoke(r);
    println!("grants: dom0 maps ref {}: revoke -> {:?}", r.0, refused);
    if refused != Err(RevokeError::StillInUse) {
        return Err("revoke succeeded while dom0 mapped the page");
    }
    loop {
        // The table lock is released before any await.
        let result = grants().map_err(|_| "grant table")?.revoke(r);
        match result {
            Ok(()) => break,
            Err(RevokeError::StillInUse) if Instant::now() < deadline => sleep(Duration::from_millis(20)).await,
            Err(_) => return Err("revoke after dom0 unmapped failed"),
        }
    }
    println!("grants: dom0 unmapped ref {}: revoke -> Ok", r.0);
    Ok(())
}
