//! kv: a persistent key-value store on a raw disk (`xvda`): an append-only log of checksummed records
//! (see [`record`]), replayed into memory at start-up; every change is acknowledged only after the disk
//! flushed it (see [`store`]).
//!
//! - `mode=serve` (xl-configs/kv-http.cfg): over HTTP on port 80 (see [`serve`]): `PUT /kv/KEY` with
//!   the value as body, `GET /kv/KEY`, `DELETE /kv/KEY`, `GET /stats`. Address by DHCP (or `ip=`/`gw=`
//!   on the command line); prints `kv: listening on A.B.C.D:80`. `xl shutdown` prints the counters.
//!
//! Without a network, the command line drives it:
//!
//! - `mode=load count=N nonce=W`: replays the log, then PUTs `key-0000..` with values naming the nonce
//!   (one flushed record each, printing `kv: ack` every 100), PUTs and DELETEs ten `tmp-*` keys, prints
//!   `kv: acknowledged N puts`, then idles until the domain is destroyed (`xl destroy`: no clean
//!   shutdown, nothing written after the acknowledgements).
//! - `mode=verify count=N nonce=W`: replays the log and checks every value (and that the `tmp-*` keys
//!   are gone): `kv: PASS served N values ...` or `kv: FAIL ...`, then power-off.
#![no_std]
#![no_main]

extern crate alloc;

mod http;
mod lock;
mod record;
mod serve;
mod store;

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::pin::pin;
use core::time::Duration;

use xenolith::block::{open, XenDisk};
use xenolith::executor::{select, sleep, Either, Instant, LocalSet};
use xenolith::{println, shutdown_requested, Context};

use store::Store;

fn arg<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline.split_ascii_whitespace().find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

fn key(i: usize) -> String {
    format!("key-{i:04}")
}

/// Values of different lengths (some records span two sectors).
fn value(nonce: &str, i: usize) -> Vec<u8> {
    let mut v = format!("value-{nonce}-{i}-").into_bytes();
    v.resize(v.len() + (i * 37) % 700, b'a' + (i % 26) as u8);
    v
}

fn generation_of(nonce: &str) -> u32 {
    nonce.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), String> {
    // The whole application on the heap: `main`'s future starts on the 64 KiB boot stack, and
    // with blkfront and the network stack inline it overflowed it.
    Box::pin(run(ctx)).await
}

async fn run(ctx: Context) -> Result<(), String> {
    let mode = arg(ctx.cmdline(), "mode").unwrap_or("verify").to_string();
    let count: usize = arg(ctx.cmdline(), "count").and_then(|c| c.parse().ok()).unwrap_or(1000);
    let nonce = arg(ctx.cmdline(), "nonce").unwrap_or("none").to_string();
    // The store lives as long as the domain (tasks serving connections borrow it).
    let disk: &'static XenDisk = Box::leak(Box::new(open(&ctx, "xvda").await.map_err(|e| format!("kv: FAIL {e}"))?));
    let t = Instant::now();
    let (mut store, rep) = Store::open(disk, generation_of(&nonce)).await.map_err(|e| format!("kv: FAIL {e}"))?;
    println!(
        "kv: replayed {} records ({} keys, log {} KiB, generation {:08x}) in {} ms; stopped at {}{}",
        rep.records,
        store.len(),
        store.log_sectors() * disk.sector_size() as u64 / 1024,
        store.generation(),
        Instant::now().duration_since(t).as_millis(),
        rep.stopped,
        if rep.formatted { "; formatted a new log" } else { "" }
    );
    match mode.as_str() {
        "serve" => Box::pin(serve_http(&ctx, store)).await,
        "load" => {
            let t = Instant::now();
            for i in 0..count {
                store.put(key(i).as_bytes(), &value(&nonce, i)).await.map_err(|e| format!("kv: FAIL put {i}: {e}"))?;
                if (i + 1) % 100 == 0 {
                    println!("kv: ack {} puts", i + 1);
                }
            }
            let ms = Instant::now().duration_since(t).as_millis().max(1);
            for i in 0..10 {
                let k = format!("tmp-{i}");
                store.put(k.as_bytes(), b"temporary").await.map_err(|e| format!("kv: FAIL put {k}: {e}"))?;
                store.delete(k.as_bytes()).await.map_err(|e| format!("kv: FAIL delete {k}: {e}"))?;
            }
            println!(
                "kv: acknowledged {count} puts in {ms} ms ({} flushed puts/s) and 10 deletes; {} keys; waiting to be destroyed",
                count as u128 * 1000 / ms,
                store.len()
            );
            loop {
                sleep(Duration::from_secs(3600)).await;
            }
        }
        _ => {
            let mut bad = Vec::new();
            for i in 0..count {
                if store.get(key(i).as_bytes()) != Some(&value(&nonce, i)[..]) {
                    bad.push(i);
                }
            }
            let tmp_left = (0..10).filter(|i| store.get(format!("tmp-{i}").as_bytes()).is_some()).count();
            if bad.is_empty() && tmp_left == 0 {
                println!("kv: PASS served {count} values of nonce {nonce}; deleted keys absent");
                Ok(())
            } else {
                println!(
                    "kv: FAIL {} of {count} values missing or wrong (first: {:?}), {tmp_left} deleted keys present",
                    bad.len(),
                    bad.first().map(|&i| key(i))
                );
                Err(String::from("verification failed"))
            }
        }
    }
}

/// `mode=serve`: the store over HTTP until `xl shutdown`.
async fn serve_http(ctx: &Context, store: Store<'static>) -> Result<(), String> {
    let mut stop = pin!(shutdown_requested());
    let local = LocalSet::new();
    let counters = Rc::new(serve::Counters::default());
    let store = Rc::new(lock::Lock::new(store));
    // Each large future on the heap (see `main`): the boot stack is 64 KiB.
    let app = Box::pin(async {
        let net = Box::pin(xenolith::net::start(ctx, &local)).await.map_err(|e| format!("kv: FAIL no network: {e}"))?;
        let c = net.configured().await;
        println!("kv: listening on {}:{}", c.address.address(), serve::PORT);
        Box::pin(serve::serve(net, local.clone(), store.clone(), counters.clone()))
            .await
            .map_err(|e| format!("kv: FAIL listener: {e}"))
    });
    match select(local.run_until(app), stop.as_mut()).await {
        Either::Left(r) => r,
        Either::Right(why) => {
            println!(
                "kv: {why} requested: {} connections, {} puts, {} gets, {} deletes, {} errors; goodbye",
                counters.connections.get(),
                counters.puts.get(),
                counters.gets.get(),
                counters.deletes.get(),
                counters.errors.get()
            );
            Ok(())
        }
    }
}
