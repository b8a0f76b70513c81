//! Event channels end to end on Xen, over an interdomain loopback (alloc_unbound to DOMID_SELF, then
//! bind_interdomain to it: two ports, each signalling the other):
//! 1. handshake: 100 000 events (or `extra = "N"`), each acknowledged before the next is sent, so none
//!    can coalesce with another: the receiver must count exactly N, and a lost event would stall the
//!    exchange (caught by a timeout);
//! 2. storm: N sends without waiting; events coalesce on the pending bit, so the receiver sees at most N
//!    deliveries and at least one, a task on a timer keeps running meanwhile, and a final handshake
//!    still gets through;
//! 3. mask/unmask: an event on a masked port stays pending and is delivered on unmask;
//! 4. close.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use xenolith::executor::{select, sleep, spawn, timeout, wait_event, yield_now, Either, Instant};
use xenolith::xen::{events, DomId, EventChannels, Events, Port};
use xenolith::{println, Context};

const LIMIT: Duration = Duration::from_secs(300);

/// Progress of the current handshake (received, acks seen by the sender), for a report if it stalls.
static RECEIVED: AtomicU64 = AtomicU64::new(0);
static ACKED: AtomicU64 = AtomicU64::new(0);

async fn handshake(ev: &'static Events, a: Port, b: Port, n: u64) -> Result<u64, &'static str> {
    RECEIVED.store(0, Ordering::Relaxed);
    ACKED.store(0, Ordering::Relaxed);
    let receiver = spawn(async move {
        let mut got = 0u64;
        while got < n {
            wait_event(a.0).await;
            got += 1;
            RECEIVED.store(got, Ordering::Relaxed);
            ev.notify(a); // ack: fires b
        }
        got
    });
    for i in 0..n {
        ev.notify(b); // fires a
        wait_event(b.0).await;
        ACKED.store(i + 1, Ordering::Relaxed);
    }
    let got = receiver.await;
    Ok(got)
}

async fn storm(ev: &'static Events, a: Port, b: Port, n: u64) -> (u64, u64) {
    let deliveries = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (d, s) = (deliveries.clone(), stop.clone());
    let receiver = spawn(async move {
        while !s.load(Ordering::Acquire) {
            if let Either::Left(()) = select(wait_event(a.0), sleep(Duration::from_millis(20))).await {
                d.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let s2 = stop.clone();
    let ticker = spawn(async move {
        let mut ticks = 0u64;
        while !s2.load(Ordering::Acquire) {
            sleep(Duration::from_millis(5)).await;
            ticks += 1;
        }
        ticks
    });
    for i in 0..n {
        ev.notify(b);
        if i % 64 == 63 {
            yield_now().await;
        }
    }
    sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Release);
    receiver.await;
    let ticks = ticker.await;
    (deliveries.load(Ordering::Relaxed), ticks)
}

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), &'static str> {
    let n: u64 = ctx.cmdline().trim().parse().unwrap_or(100_000);
    let ev = events().map_err(|_| "no event channels")?;
    let a = ev.alloc_unbound(DomId::SELF).map_err(|_| "alloc_unbound failed")?;
    let b = ev.bind_interdomain(DomId::SELF, a).map_err(|_| "bind_interdomain failed")?;
    println!("evtchn: loopback ports {} <-> {}", a.0, b.0);
    // Xen's bind_interdomain sets the new local port pending ("we may have lost notifications on the
    // remote unbound port"): consume that event, so the handshake starts from a quiet channel.
    let bind_event = timeout(Duration::from_secs(5), wait_event(b.0)).await.is_ok();
    println!("evtchn: bind_interdomain raised the local port: {bind_event}");

    let t0 = Instant::now();
    let got = timeout(LIMIT, handshake(ev, a, b, n)).await.map_err(|_| "handshake stalled: an event was lost")??;
    let ms = t0.elapsed().as_millis();
    println!("evtchn: handshake: sent {n}, received {got}, {ms} ms ({} events/s)", n * 1000 / (ms as u64).max(1));
    if got != n {
        return Err("handshake count mismatch");
    }
    // Exactly n events each way: nothing may be left over on either port.
    let stray = select(select(wait_event(a.0), wait_event(b.0)), sleep(Duration::from_millis(300))).await;
    if let Either::Left(_) = stray {
        return Err("a stray event after the handshake");
    }
    println!("evtchn: handshake: no event lost, none extra");

    let t1 = Instant::now();
    let (deliveries, ticks) = storm(ev, a, b, n).await;
    println!(
        "evtchn: storm: sent {n}, {deliveries} deliveries (coalesced), timer task ticked {ticks} times, {} ms",
        t1.elapsed().as_millis()
    );
    if deliveries == 0 || deliveries > n || ticks == 0 {
        return Err("storm: bad delivery or starved timer task");
    }
    // The storm may leave one coalesced event pending on `a`: consume it, so the next handshake starts
    // from a quiet channel (a stale event would let two acks coalesce).
    let mut stale = 0;
    while let Either::Left(()) = select(wait_event(a.0), sleep(Duration::from_millis(100))).await {
        stale += 1;
    }
    println!("evtchn: {stale} coalesced event(s) left after the storm");
    let got = match timeout(Duration::from_secs(30), handshake(ev, a, b, 10)).await {
        Ok(r) => r?,
        Err(_) => {
            println!(
                "evtchn: stalled: received {} acked {}; a pending {} masked {}, b pending {} masked {}, has_pending {}",
                RECEIVED.load(Ordering::Relaxed),
                ACKED.load(Ordering::Relaxed),
                ev.is_pending(a),
                ev.is_masked(a),
                ev.is_pending(b),
                ev.is_masked(b),
                ev.has_pending()
            );
            return Err("handshake after storm stalled");
        }
    };
    println!("evtchn: handshake after the storm: {got}/10");

    ev.mask(a);
    ev.notify(b);
    let masked = select(wait_event(a.0), sleep(Duration::from_millis(200))).await;
    let held = matches!(masked, Either::Right(())) && ev.is_pending(a) && ev.is_masked(a);
    ev.unmask(a);
    let after = timeout(Duration::from_secs(10), wait_event(a.0)).await.is_ok();
    println!("evtchn: mask: held while masked {held}, delivered after unmask {after}");
    if !held || !after {
        return Err("mask/unmask");
    }

    ev.close(b).map_err(|_| "close failed")?;
    ev.close(a).map_err(|_| "close failed")?;
    println!("evtchn: closed; {} upcalls in all", xenolith::xen::upcalls());
    println!("evtchn: done");
    Ok(())
}
