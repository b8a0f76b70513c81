//! echo: TCP and UDP echo (RFC 862) on port 7 of `eth0`, over xenolith::net (netfront + smoltcp),
//! TCP discard (RFC 863) on port 9 (what arrives is counted and dropped: a sink for stream benchmarks),
//! and a TCP source on port 19 (chargen-like: each connection gets exactly `SOURCE_BYTES` of printable
//! ASCII, then a clean close: a source for stream benchmarks).
//!
//! The address comes from DHCP, or from the command line: `extra = "ip=10.99.0.50/24 gw=10.99.0.1"`.
//! Every TCP connection is served by its own task: on port 7 what arrives is sent back until the peer
//! closes its side, then the connection is closed. Each UDP datagram is sent back to its sender. On
//! `xl shutdown` it prints its counters and powers off.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::time::Duration;
use core::pin::pin;

use xenolith::executor::{select, timeout, Either, Instant, LocalSet};
use xenolith::net::{self, IpEndpoint, Net, TcpListener, TcpStream, UdpSocket};
use xenolith::{println, shutdown_requested, Context};

const PORT: u16 = 7;
const DISCARD: u16 = 9;
const SOURCE: u16 = 19;
/// What the source service sends on each connection: 8 MiB (xtask's `BENCH_STREAM_MIB`).
const SOURCE_BYTES: u64 = 8 * 1024 * 1024;
/// The source's data, written again and again: printable ASCII in rotation, as chargen (RFC 864) sends.
static PATTERN: [u8; 16 * 1024] = {
    let mut b = [0u8; 16 * 1024];
    let mut i = 0;
    while i < b.len() {
        b[i] = b' ' + (i % 95) as u8;
        i += 1;
    }
    b
};

#[derive(Default)]
struct Counters {
    connections: Cell<u64>,
    tcp_bytes: Cell<u64>,
    datagrams: Cell<u64>,
}

async fn serve_tcp(mut stream: TcpStream, n: u64, counters: Rc<Counters>) {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let mut total = 0u64;
    let result = loop {
        match stream.read(&mut buf).await {
            Ok(0) => break Ok(()),
            Ok(k) => {
                if let Err(e) = stream.write_all(&buf[..k]).await {
                    break Err(e);
                }
                total += k as u64;
                counters.tcp_bytes.set(counters.tcp_bytes.get() + k as u64);
            }
            Err(e) => break Err(e),
        }
    };
    let ms = started.elapsed().as_millis();
    match result {
        Ok(()) => {
            // Everything echoed is queued; the close sends FIN after it.
            let _ = stream.flush().await;
            println!("echo: tcp #{n} closed after {total} bytes in {ms} ms");
        }
        Err(e) => println!("echo: tcp #{n} ended after {total} bytes: {e}"),
    }
    stream.close();
}

/// Accepts connections on `port` for ever; `handle` makes the task that serves each.
async fn accept_each<F: Future<Output = ()> + 'static>(
    net: Net,
    local: LocalSet,
    port: u16,
    mut handle: impl FnMut(TcpStream, IpEndpoint) -> F,
) -> Result<(), net::Error> {
    let mut listener = TcpListener::bind(&net, port)?;
    loop {
        let (stream, peer) = listener.accept().await?;
        drop(local.spawn(handle(stream, peer)));
    }
}

async fn tcp(net: Net, local: LocalSet, counters: Rc<Counters>) -> Result<(), net::Error> {
    accept_each(net, local, PORT, |stream, peer| {
        let n = counters.connections.get() + 1;
        counters.connections.set(n);
        println!("echo: tcp #{n} from {peer}");
        serve_tcp(stream, n, counters.clone())
    })
    .await
}

/// Port 9: counts what arrives until the peer closes.
async fn discard_one(mut stream: TcpStream) {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let mut total = 0u64;
    while let Ok(k @ 1..) = stream.read(&mut buf).await {
        total += k as u64;
    }
    println!("echo: discard took {total} bytes in {} ms", started.elapsed().as_millis());
    stream.close();
}

/// Port 19: sends `SOURCE_BYTES` of the pattern, then closes.
async fn source_one(mut stream: TcpStream) {
    let started = Instant::now();
    let mut total = 0u64;
    let mut result = Ok(());
    while total < SOURCE_BYTES {
        let k = (SOURCE_BYTES - total).min(PATTERN.len() as u64) as usize;
        if let Err(e) = stream.write_all(&PATTERN[..k]).await {
            result = Err(e);
            break;
        }
        total += k as u64;
    }
    match result {
        Ok(()) => {
            // Everything is queued; the close sends FIN after it.
            let _ = stream.flush().await;
            println!("echo: source sent {total} bytes in {} ms", started.elapsed().as_millis());
        }
        Err(e) => println!("echo: source ended after {total} bytes: {e}"),
    }
    stream.close();
}

async fn udp(net: Net, counters: Rc<Counters>) -> Result<(), net::Error> {
    let socket = UdpSocket::bind(&net, PORT)?;
    let mut buf = [0u8; 2048];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        counters.datagrams.set(counters.datagrams.get() + 1);
        println!("echo: udp {n} bytes from {from}");
        socket.send_to(&buf[..n], from).await?;
    }
}

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), &'static str> {
    let mut stop = pin!(shutdown_requested());
    let local = LocalSet::new();
    let counters = Rc::new(Counters::default());
    let started: RefCell<Option<Net>> = RefCell::new(None);
    let app = async {
        let net = match net::start(&ctx, &local).await {
            Ok(n) => n,
            Err(e) => {
                println!("echo: no network: {e}");
                return Err("no network");
            }
        };
        *started.borrow_mut() = Some(net.clone());
        let c = net.configured().await;
        let udp_task = local.spawn(udp(net.clone(), counters.clone()));
        let discard_task = local.spawn(accept_each(net.clone(), local.clone(), DISCARD, |s, _| discard_one(s)));
        let source_task = local.spawn(accept_each(net.clone(), local.clone(), SOURCE, |s, _| source_one(s)));
        println!(
            "echo: listening on {}:{PORT} (tcp, udp), discard on {DISCARD}, source on {SOURCE}",
            c.address.address()
        );
        let r = tcp(net, local.clone(), counters.clone()).await;
        drop(udp_task);
        drop(discard_task);
        drop(source_task);
        r.map_err(|e| {
            println!("echo: tcp listener failed: {e}");
            "tcp listener failed"
        })
    };
    match select(local.run_until(app), stop.as_mut()).await {
        Either::Left(r) => r,
        Either::Right(why) => {
            println!(
                "echo: {why} requested: {} tcp connections, {} bytes echoed, {} datagrams; goodbye",
                counters.connections.get(),
                counters.tcp_bytes.get(),
                counters.datagrams.get()
            );
            // Disconnect from the backend through xenstore before powering off (bounded).
            let net = started.borrow().clone();
            if let Some(net) = net {
                if local.run_until(timeout(Duration::from_secs(5), net.close())).await.is_err() {
                    println!("echo: the backend did not let go within 5 s");
                }
            }
            Ok(())
        }
    }
}
