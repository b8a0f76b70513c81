//! http: an HTTP/1.1 server on port 80 of every vif (xenolith::net), one task per connection, with
//! keep-alive. `GET /` is a small static page, `GET /stats` a plain-text page of counters; anything
//! else is 404 (405 for methods other than GET and HEAD). Serves on every vif (eth0, eth1, ...), each by
//! DHCP; eth0 may instead be static with
//! `extra = "ip=10.99.0.50/24 gw=10.99.0.1"`. `xl shutdown` prints the counters and powers off.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::time::Duration;
use core::pin::pin;

use xenolith::executor::{select, timeout, Either, Instant, LocalSet};
use xenolith::net::{self, Net, TcpListener, TcpStream};
use xenolith::{println, shutdown_requested, Context};

const PORT: u16 = 80;
/// Longest request head accepted (request line and headers).
const MAX_HEAD: usize = 8 * 1024;

const INDEX: &str = "<!doctype html>\n<html><head><title>Xenolith</title></head>\n\
<body><h1>Hello from Xenolith</h1><p>A Rust unikernel on Xen PVH, serving HTTP through netfront and smoltcp.</p>\n\
<p><a href=\"/stats\">/stats</a></p></body></html>\n";

#[derive(Default)]
struct Stats {
    connections: Cell<u64>,
    open: Cell<u64>,
    requests: Cell<u64>,
    ok: Cell<u64>,
    not_found: Cell<u64>,
    bad: Cell<u64>,
    bytes_out: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

struct Request {
    method: String,
    path: String,
    keep_alive: bool,
    body_len: usize,
}

/// Parses a request head (without the final blank line). `None` if malformed.
fn parse(head: &[u8]) -> Option<Request> {
    let text = core::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?;
    let path = first.next()?;
    let version = first.next()?;
    if first.next().is_some() || method.is_empty() || !path.starts_with('/') {
        return None;
    }
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return None,
    };
    let mut body_len = 0;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
    }
    let path = path.split('?').next().unwrap_or(path);
    Some(Request { method: String::from(method), path: String::from(path), keep_alive, body_len })
}

fn response(status: &str, ctype: &str, body: &str, keep_alive: bool, head_only: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nServer: xenolith\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    )
    .into_bytes();
    if !head_only {
        r.extend_from_slice(body.as_bytes());
    }
    r
}

/// The counters of this server, then each interface's traffic (`net_eth0_rx_bytes 1234`, ...).
fn stats_page(s: &Stats, started: Instant) -> String {
    let mut page = format!(
        "uptime_ms {}\nconnections {}\nopen_connections {}\nrequests {}\nresponses_200 {}\nresponses_404 {}\nbad_requests {}\nbytes_out {}\n",
        started.elapsed().as_millis(),
        s.connections.get(),
        s.open.get(),
        s.requests.get(),
        s.ok.get(),
        s.not_found.get(),
        s.bad.get(),
        s.bytes_out.get()
    );
    for (iface, t) in net::counters::latest() {
        for (key, value) in t.entries() {
            page.push_str(&format!("net_{iface}_{key} {value}\n"));
        }
    }
    page
}

async fn serve(mut stream: TcpStream, stats: Rc<Stats>, started: Instant) {
    bump(&stats.connections);
    stats.open.set(stats.open.get() + 1);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 2048];
    'conn: loop {
        // Read until a whole head is buffered.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD {
                bump(&stats.bad);
                let _ = stream.write_all(&response("431 Request Header Fields Too Large", "text/plain", "too large\n", false, false)).await;
                break 'conn;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break 'conn,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        bump(&stats.requests);
        let Some(req) = parse(&buf[..head_end]) else {
            bump(&stats.bad);
            let _ = stream.write_all(&response("400 Bad Request", "text/plain", "bad request\n", false, false)).await;
            break;
        };
        // Skip a request body.
        let mut consumed = head_end + 4;
        let mut body_left = req.body_len;
        let avail = (buf.len() - consumed).min(body_left);
        consumed += avail;
        body_left -= avail;
        buf.drain(..consumed);
        while body_left > 0 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break 'conn,
                Ok(n) => {
                    let take = n.min(body_left);
                    body_left -= take;
                    buf.extend_from_slice(&chunk[take..n]);
                }
            }
        }
        let head_only = req.method == "HEAD";
        let resp = if req.method != "GET" && !head_only {
            bump(&stats.bad);
            response("405 Method Not Allowed", "text/plain", "method not allowed\n", req.keep_alive, false)
        } else {
            match req.path.as_str() {
                "/" | "/index.html" => {
                    bump(&stats.ok);
                    response("200 OK", "text/html", INDEX, req.keep_alive, head_only)
                }
                "/stats" => {
                    bump(&stats.ok);
                    response("200 OK", "text/plain", &stats_page(&stats, started), req.keep_alive, head_only)
                }
                _ => {
                    bump(&stats.not_found);
                    response("404 Not Found", "text/plain", "not found\n", req.keep_alive, head_only)
                }
            }
        };
        if stream.write_all(&resp).await.is_err() {
            break;
        }
        stats.bytes_out.set(stats.bytes_out.get() + resp.len() as u64);
        if !req.keep_alive {
            break;
        }
    }
    let _ = stream.flush().await;
    stream.close();
    stats.open.set(stats.open.get() - 1);
}

async fn accept_loop(net: Net, local: LocalSet, stats: Rc<Stats>, started: Instant) -> Result<(), net::Error> {
    let mut listener = TcpListener::bind(&net, PORT)?;
    loop {
        let (stream, _peer) = listener.accept().await?;
        drop(local.spawn(serve(stream, stats.clone(), started)));
    }
}

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), &'static str> {
    let mut stop = pin!(shutdown_requested());
    let local = LocalSet::new();
    let stats = Rc::new(Stats::default());
    let started = Instant::now();
    let all: Rc<RefCell<Vec<Net>>> = Rc::new(RefCell::new(Vec::new()));
    let app = async {
        // Every vif: eth0 as the command line says (DHCP by default), the others by DHCP.
        let nets = match net::start_all(&ctx, &local).await {
            Ok(n) => n,
            Err(e) => {
                println!("http: no network: {e}");
                return Err("no network");
            }
        };
        all.borrow_mut().extend(nets.iter().cloned());
        let mut listeners = Vec::new();
        for net in nets {
            let local2 = local.clone();
            let stats = stats.clone();
            listeners.push(local.spawn(async move {
                let c = net.configured().await;
                println!("http: listening on {}:{PORT} ({})", c.address.address(), net.name());
                if let Err(e) = accept_loop(net.clone(), local2, stats, started).await {
                    println!("http: listener on {} failed: {e}", net.name());
                }
            }));
        }
        // Serve until every listener failed.
        for l in listeners {
            let _ = l.await;
        }
        Err("every listener failed")
    };
    match select(local.run_until(app), stop.as_mut()).await {
        Either::Left(r) => r,
        Either::Right(why) => {
            println!(
                "http: {why} requested: {} connections, {} requests ({} ok, {} not found, {} bad); goodbye",
                stats.connections.get(),
                stats.requests.get(),
                stats.ok.get(),
                stats.not_found.get(),
                stats.bad.get()
            );
            // Disconnect from the backends through xenstore before powering off (bounded).
            let nets = all.borrow().clone();
            let close = async {
                for n in &nets {
                    n.close().await;
                }
            };
            if local.run_until(timeout(Duration::from_secs(5), close)).await.is_err() {
                println!("http: the backends did not let go within 5 s");
            }
            Ok(())
        }
    }
}
