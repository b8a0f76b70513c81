//! Xenstore from a Xenolith guest, end to end:
//! 1. its identity (`name`, `domid`, `vm`) and command line;
//! 2. a listing of its own subtree `/local/domain/<domid>` (names and values, three levels deep);
//! 3. a key written and read back;
//! 4. a watch on `data/from-dom0` that fires when dom0 writes it (the lab test runs
//!    `xenstore-write /local/domain/<domid>/data/from-dom0 ...` after the "watching" line);
//! 5. a transaction committed;
//! 6. two transactions on one key: the second commits first, so the first gets `EAGAIN` at commit, and
//!    the client's transaction helper retries it, which then succeeds.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use core::cell::Cell;
use core::time::Duration;

use xenolith::executor::timeout;
use xenolith::xenstore::{identity, Error, Xenstore};
use xenolith::{println, Context};

const WATCHED: &str = "data/from-dom0";
const KEY: &str = "data/xenolith-example";
const COUNTER: &str = "data/counter";
/// Generous: under emulation, dom0's reaction to our marker takes seconds.
const WATCH_LIMIT: Duration = Duration::from_secs(120);
const MAX_LISTED: usize = 200;

fn fail(what: &str) -> impl FnOnce(Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Lists `root` and its descendants to `depth` levels, each node with its value.
async fn list(xs: &Xenstore, root: &str, depth: usize) -> Result<usize, String> {
    let mut stack = vec![(String::from(root), 0usize)];
    let mut shown = 0;
    while let Some((path, level)) = stack.pop() {
        let value = match xs.read(&path).await {
            Ok(v) => v,
            // A node that vanished meanwhile, or that we may not read.
            Err(e) => format!("<{e}>").into_bytes(),
        };
        println!("xenstore:   {path} = \"{}\"", value.escape_ascii());
        shown += 1;
        if shown >= MAX_LISTED {
            println!("xenstore:   ... (stopped after {MAX_LISTED} nodes)");
            break;
        }
        if level < depth {
            let mut children = xs.directory(&path).await.map_err(fail("directory"))?;
            children.sort();
            for child in children.into_iter().rev() {
                stack.push((format!("{path}/{child}"), level + 1));
            }
        }
    }
    Ok(shown)
}

fn parse_counter(v: &str) -> Result<u64, Error> {
    v.trim_end_matches('\0').parse().map_err(|_| Error::Malformed(xenolith::xenstore::Malformed::BadNumber))
}

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), String> {
    let xs = ctx.xenstore().ok_or("no xenstore connection")?.clone();

    let id = identity(&xs).await.map_err(fail("identity"))?;
    println!("xenstore: I am {} (domid {}), vm {}, home {}", id.name, id.domid, id.vm, id.home);
    println!("xenstore: command line: {:?}", ctx.cmdline());

    println!("xenstore: tree of {}:", id.home);
    let n = list(&xs, &id.home, 2).await?;
    println!("xenstore: listed {n} nodes");

    xs.write(KEY, b"written by the guest").await.map_err(fail("write"))?;
    let back = xs.read_string(KEY).await.map_err(fail("read back"))?;
    println!("xenstore: wrote and read back {KEY} = {back:?}");
    if back != "written by the guest" {
        return Err("read back a different value".into());
    }

    let watch = xs.watch(WATCHED).await.map_err(fail("watch"))?;
    // xenstored fires every new watch once at once.
    watch.next().await.map_err(fail("initial watch event"))?;
    println!("xenstore: watching {}/{WATCHED}", id.home);
    let value = loop {
        let event = timeout(WATCH_LIMIT, watch.next())
            .await
            .map_err(|_| "no watch event from dom0 within the limit")?
            .map_err(fail("watch event"))?;
        match xs.read_string(WATCHED).await {
            Ok(v) if !v.is_empty() => {
                println!("xenstore: watch fired on {}: {WATCHED} = {v:?}", event.path);
                break v;
            }
            Ok(_) => continue,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(fail("read watched")(e)),
        }
    };
    drop(watch);
    xs.write("data/echo", value.as_bytes()).await.map_err(fail("echo"))?;

    xs.transaction(8, async |tx| {
        tx.write(COUNTER, b"0").await?;
        tx.write("data/tx-note", b"set in one transaction").await
    })
    .await
    .map_err(fail("transaction"))?;
    println!("xenstore: transaction committed ({COUNTER} = 0)");

    let attempts = Cell::new(0u32);
    let final_value = xs
        .transaction(8, async |tx| {
            attempts.set(attempts.get() + 1);
            let n = parse_counter(&tx.read_string(COUNTER).await?)?;
            if attempts.get() == 1 {
                // A second transaction on the same key commits first: ours must then fail with EAGAIN.
                let other = xs.transaction_start().await?;
                let m = parse_counter(&other.read_string(COUNTER).await?)?;
                other.write(COUNTER, format!("{}", m + 1).as_bytes()).await?;
                other.commit().await?;
                println!("xenstore: a second transaction committed {COUNTER} = {} first", m + 1);
            }
            tx.write(COUNTER, format!("{}", n + 1).as_bytes()).await?;
            Ok(n + 1)
        })
        .await
        .map_err(fail("conflicting transaction"))?;
    let stored = parse_counter(&xs.read_string(COUNTER).await.map_err(fail("read counter"))?).map_err(fail("counter"))?;
    println!(
        "xenstore: conflicting transaction retried: committed on attempt {} with {COUNTER} = {final_value} (stored {stored})",
        attempts.get()
    );
    if attempts.get() < 2 || stored != 2 {
        return Err("the conflict was not detected and retried".into());
    }
    println!("xenstore: done");
    Ok(())
}
