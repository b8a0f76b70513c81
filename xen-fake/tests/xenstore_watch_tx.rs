//! Watches (routed to their owner) and transactions (commit, abort, conflict retry).

use std::pin::pin;

use xen_fake::{drive, poll_once, FakeClient, FakeXenstored, XenstoreSetup};
use xen_traits::DomId;
use xenbus::{Error, XsErrno};

const GUEST: DomId = DomId(5);

fn setup() -> (XenstoreSetup, FakeXenstored, FakeClient) {
    XenstoreSetup::client(GUEST, 0)
}

#[test]
fn watch_fires_initially_and_on_changes_routed_to_the_right_watch() {
    let (_s, mut d, xs) = setup();
    let wa = drive(xs.watch("data/a"), &mut d).unwrap().unwrap();
    let wb = drive(xs.watch("/local/domain/5/data/b"), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(d.watches().len(), 2);
    // Initial events, with the path as registered (relative stays relative).
    assert_eq!(drive(wa.next(), &mut d).unwrap().unwrap().path, "data/a");
    assert_eq!(
        drive(wb.next(), &mut d).unwrap().unwrap().path,
        "/local/domain/5/data/b"
    );
    // A change below a: only a's owner hears it.
    d.dom0_write("data/a/x", b"1");
    assert_eq!(drive(wa.next(), &mut d).unwrap().unwrap().path, "data/a/x");
    assert!(wb.try_next().is_none());
    // A sibling with a common prefix is not "below".
    d.dom0_write("data/ab", b"1");
    xs.on_event();
    assert!(wa.try_next().is_none());
    // Our own write fires our watch too.
    drive(xs.write("/local/domain/5/data/b/y", b"2"), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(
        drive(wb.next(), &mut d).unwrap().unwrap().path,
        "/local/domain/5/data/b/y"
    );
    // Removing a parent fires watches below it.
    d.dom0_rm("data");
    assert_eq!(drive(wa.next(), &mut d).unwrap().unwrap().path, "data");
    assert_eq!(
        drive(wb.next(), &mut d).unwrap().unwrap().path,
        "/local/domain/5/data"
    );
}

#[test]
fn waiting_on_a_watch_is_woken_by_a_dom0_write() {
    let (_s, mut d, xs) = setup();
    let w = drive(xs.watch("control/shutdown"), &mut d)
        .unwrap()
        .unwrap();
    drive(w.next(), &mut d).unwrap().unwrap();
    let mut next = pin!(w.next());
    assert!(poll_once(next.as_mut()).is_pending());
    d.run_until_idle();
    assert!(
        poll_once(next.as_mut()).is_pending(),
        "no event without a change"
    );
    d.dom0_write("control/shutdown", b"poweroff");
    assert_eq!(
        drive(next, &mut d).unwrap().unwrap().path,
        "control/shutdown"
    );
    assert_eq!(
        drive(xs.read("control/shutdown"), &mut d).unwrap().unwrap(),
        b"poweroff"
    );
}

#[test]
fn unwatch_and_drop_unregister() {
    let (_s, mut d, xs) = setup();
    let w = drive(xs.watch("data"), &mut d).unwrap().unwrap();
    let id = w.id();
    drive(w.unwatch(), &mut d).unwrap().unwrap();
    assert!(d.watches().is_empty());
    assert!(!xs.with_core(|c| c.has_watch(id)));
    let w2 = drive(xs.watch("data"), &mut d).unwrap().unwrap();
    drop(w2);
    d.run_until_idle();
    xs.on_event();
    assert!(d.watches().is_empty(), "dropping a watch unregisters it");
    // Events for the dropped watch that were already in flight are harmless.
    d.dom0_write("data/x", b"1");
    xs.on_event();
}

#[test]
fn watch_registration_errors() {
    let (_s, mut d, xs) = setup();
    assert_eq!(
        drive(xs.watch("data//x"), &mut d).unwrap().err(),
        Some(Error::Xs(XsErrno::Einval))
    );
    assert_eq!(xs.with_core(|c| c.diagnostics()).rejected, 0);
    // Special watch paths are accepted.
    drive(xs.watch("@releaseDomain"), &mut d).unwrap().unwrap();
}

#[test]
fn many_events_are_bounded_not_lost_silently() {
    let (_s, mut d, xs) = setup();
    let w = drive(xs.watch("data"), &mut d).unwrap().unwrap();
    for i in 0..100 {
        d.dom0_write(&format!("data/k{i}"), b"v");
        xs.on_event();
    }
    let dropped = xs.with_core(|c| c.watch_events_dropped(w.id()));
    let mut got = 0;
    while w.try_next().is_some() {
        got += 1;
    }
    assert_eq!(got, xenbus::watch::MAX_QUEUED_EVENTS);
    assert_eq!(
        dropped as usize + got,
        101,
        "initial event + 100 changes, each either queued or counted"
    );
}

#[test]
fn transaction_commit_and_abort() {
    let (_s, mut d, xs) = setup();
    let tx = drive(xs.transaction_start(), &mut d).unwrap().unwrap();
    drive(tx.write("data/t", b"1"), &mut d).unwrap().unwrap();
    assert_eq!(drive(tx.read("data/t"), &mut d).unwrap().unwrap(), b"1");
    assert!(
        d.value("data/t").is_none(),
        "invisible outside the transaction before commit"
    );
    drive(tx.commit(), &mut d).unwrap().unwrap();
    assert_eq!(d.value("data/t").unwrap(), b"1");

    let tx = drive(xs.transaction_start(), &mut d).unwrap().unwrap();
    drive(tx.write("data/t", b"2"), &mut d).unwrap().unwrap();
    drive(tx.abort(), &mut d).unwrap().unwrap();
    assert_eq!(d.value("data/t").unwrap(), b"1");

    // Dropping an open transaction aborts it.
    let tx = drive(xs.transaction_start(), &mut d).unwrap().unwrap();
    drive(tx.write("data/t", b"3"), &mut d).unwrap().unwrap();
    assert_eq!(d.open_transactions(), 1);
    drop(tx);
    d.run_until_idle();
    assert_eq!(d.open_transactions(), 0);
    assert_eq!(d.value("data/t").unwrap(), b"1");
}

#[test]
fn conflicting_transaction_is_retried() {
    let (_s, mut d, xs) = setup();
    d.dom0_write("data/counter", b"0");
    // The body bumps a counter; the first attempt races with a dom0 write.
    let attempts = std::cell::Cell::new(0);
    let result = {
        let fut = xs.transaction(5, async |tx| {
            attempts.set(attempts.get() + 1);
            let v: u32 = tx.read_string("data/counter").await?.parse().unwrap();
            tx.write("data/counter", (v + 1).to_string().as_bytes())
                .await?;
            Ok(v + 1)
        });
        let mut fut = pin!(fut);
        // Let the first attempt read, then interfere before it commits.
        let mut interfered = false;
        let mut idle = 0;
        loop {
            if let std::task::Poll::Ready(v) = poll_once(fut.as_mut()) {
                break v;
            }
            if !interfered
                && d.open_transactions() == 1
                && d.received().iter().any(|r| r.msg_type == 11)
            {
                d.dom0_write("data/counter", b"10");
                interfered = true;
            }
            idle = if d.run_until_idle() { 0 } else { idle + 1 };
            assert!(idle < 3, "stalled");
        }
    };
    assert_eq!(result, Ok(11));
    assert_eq!(attempts.get(), 2);
    assert_eq!(d.commit_stats(), (1, 1));
    assert_eq!(d.value("data/counter").unwrap(), b"11");
}

#[test]
fn forced_conflicts_retry_then_give_up() {
    let (_s, mut d, xs) = setup();
    d.force_conflicts(2);
    let n = drive(
        xs.transaction(3, async |tx| tx.write("data/x", b"v").await),
        &mut d,
    )
    .unwrap();
    assert_eq!(n, Ok(()));
    assert_eq!(d.commit_stats(), (1, 2));
    d.force_conflicts(10);
    let r = drive(
        xs.transaction(3, async |tx| tx.write("data/y", b"v").await),
        &mut d,
    )
    .unwrap();
    assert_eq!(r, Err(Error::TooManyRetries));
    assert!(d.value("data/y").is_none());
    assert_eq!(d.open_transactions(), 0);
}

#[test]
fn transaction_body_error_aborts() {
    let (_s, mut d, xs) = setup();
    let r = drive(
        xs.transaction(3, async |tx| {
            tx.write("data/z", b"v").await?;
            tx.read("data/missing").await
        }),
        &mut d,
    )
    .unwrap();
    assert_eq!(r, Err(Error::Xs(XsErrno::Enoent)));
    assert!(d.value("data/z").is_none());
    assert_eq!(d.open_transactions(), 0);
}

#[test]
fn dropping_a_pending_transaction_start_aborts_it_when_it_arrives() {
    let (_s, mut d, xs) = setup();
    {
        let mut f = Box::pin(xs.transaction_start());
        assert!(poll_once(f.as_mut()).is_pending());
    }
    d.run_until_idle(); // the daemon opens the transaction and replies
    xs.on_event(); // the client sees a reply nobody wants: it aborts the transaction
    d.run_until_idle();
    xs.on_event();
    assert_eq!(d.open_transactions(), 0);
    assert_eq!(xs.with_core(|c| c.diagnostics()).abandoned, 2);
}

#[test]
fn reset_watches_clears_daemon_state() {
    let (_s, mut d, xs) = setup();
    let _w = drive(xs.watch("data"), &mut d).unwrap().unwrap();
    let _tx = drive(xs.transaction_start(), &mut d).unwrap().unwrap();
    assert_eq!((d.watches().len(), d.open_transactions()), (1, 1));
    let r = drive(
        xs.request(xenbus::Request::ResetWatches, xenbus::TxId::NONE),
        &mut d,
    )
    .unwrap();
    assert_eq!(r, Ok(xenbus::Response::Ok));
    assert_eq!((d.watches().len(), d.open_transactions()), (0, 0));
}
