//! Networking against the real Linux netback in dom0 (examples/echo on xenbr0): the guest gets a
//! DHCP address (or the static one its command line names), dom0 pings it, UDP echo answers, 1 MiB
//! through the TCP echo comes back byte-identical, and `xl shutdown` powers it off (examples/http: see
//! `http_keepalive_and_new_connections`, written but not registered yet).

use std::time::Duration;

use super::LabTest;
use crate::domain::{CreateOpts, Domain, Outcome};
use crate::err;
use crate::images;
use crate::util::Result;

pub fn tests() -> Vec<LabTest> {
    vec![
        LabTest { name: "net::echo_dhcp_ping_udp_tcp_1mib", run: echo_dhcp },
        LabTest { name: "net::echo_static_address", run: echo_static },
    ]
}

const LIMIT: Duration = Duration::from_secs(180);

fn nonce() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("n{}x{}", t.as_nanos() % 1_000_000_007, std::process::id())
}

fn boot(overrides: Vec<(&str, String)>) -> Result<Domain> {
    images::build("echo")?;
    create("echo", overrides)
}

/// `xl create`, once more if the vif hotplug script timed out: libxl gives `vif-bridge` 40 s, which a
/// dom0 busy with other guests' hotplug scripts under emulation can exceed (seen in this lab); the
/// guest never ran then.
fn create(cfg: &str, overrides: Vec<(&str, String)>) -> Result<Domain> {
    match Domain::create(cfg, CreateOpts { overrides: overrides.clone(), echo: true }) {
        Err(e) if e.0.contains("vif-bridge online because of timeout") => {
            println!("the vif hotplug script timed out in dom0; creating {cfg} once more");
            Domain::create(cfg, CreateOpts { overrides, echo: true })
        }
        r => r,
    }
}

/// Waits for `net: eth0 A.B.C.D/N via HOW` and returns the address.
fn address(dom: &mut Domain, how: &str) -> Result<String> {
    // `net: eth0 A.B.C.D/N via HOW (gateway G, T ms)` (an earlier `net: eth0 up, mac ...` line precedes it).
    let line = dom.wait_for(&format!(" via {how} ("), LIMIT)?;
    let rest = line.text.split("net: eth0 ").nth(1).unwrap_or("");
    let mut words = rest.split_whitespace();
    let cidr = words.next().unwrap_or("");
    if words.next() != Some("via") || words.next() != Some(how) {
        return Err(err!("unexpected interface line {:?} (expected an address via {how})", line.text));
    }
    let ip = cidr.split('/').next().unwrap_or("").to_string();
    if !ip.starts_with("10.99.0.") {
        return Err(err!("unexpected guest address {ip:?} (xenbr0 is 10.99.0.0/24)"));
    }
    println!("guest has {cidr} via {how} after {:.2}s", line.at.as_secs_f64());
    dom.wait_for("echo: listening on", LIMIT)?;
    Ok(ip)
}

fn ping(dom: &Domain, ip: &str) -> Result<()> {
    let out = dom.dom0(&format!("ping -c 5 -W 5 {ip}"))?;
    if !out.contains("5 received") {
        return Err(err!("dom0 ping to {ip} lost replies"));
    }
    Ok(())
}

fn udp_echo(dom: &Domain, ip: &str, word: &str) -> Result<()> {
    // dom0's busybox nc has no UDP mode: bash's /dev/udp sends one datagram and reads the answer.
    let msg = format!("udp-{word}");
    let out = dom.dom0(&format!(
        "bash -c 'exec 3<>/dev/udp/{ip}/7; echo {msg} >&3; timeout 10 head -c {} <&3; echo'",
        msg.len() + 1
    ))?;
    if !out.contains(&msg) {
        return Err(err!("no UDP echo from {ip}:7"));
    }
    Ok(())
}

fn tcp_echo_1mib(dom: &mut Domain, ip: &str) -> Result<()> {
    let out = dom.dom0(&format!(
        "head -c 1048576 /dev/urandom > /tmp/echo-a && rm -f /tmp/echo-b && \
         t0=$(date +%s%N) && timeout 120 busybox nc {ip} 7 < /tmp/echo-a > /tmp/echo-b; \
         t1=$(date +%s%N); echo \"bytes=$(wc -c < /tmp/echo-b) ms=$(( (t1 - t0) / 1000000 ))\"; \
         cmp /tmp/echo-a /tmp/echo-b && echo IDENTICAL"
    ))?;
    if !out.contains("IDENTICAL") {
        return Err(err!("1 MiB through the TCP echo did not come back identical"));
    }
    dom.wait_for("echo: tcp #1 closed after 1048576 bytes", LIMIT)?;
    Ok(())
}

fn shutdown(dom: &mut Domain) -> Result<()> {
    dom.dom0("xl shutdown echo")?;
    dom.wait_for("requested:", LIMIT)?;
    match dom.wait_end(LIMIT)? {
        Outcome::Poweroff => Ok(()),
        o => Err(err!("echo ended with {o:?} after xl shutdown, expected a poweroff")),
    }
}

fn echo_dhcp() -> Result<()> {
    let mut dom = boot(vec![])?;
    let ip = address(&mut dom, "dhcp")?;
    ping(&dom, &ip)?;
    udp_echo(&dom, &ip, &nonce())?;
    dom.wait_for("echo: udp", LIMIT)?;
    tcp_echo_1mib(&mut dom, &ip)?;
    shutdown(&mut dom)
}

fn echo_static() -> Result<()> {
    let mut dom = boot(vec![("extra", "\"ip=10.99.0.50/24 gw=10.99.0.1\"".to_string())])?;
    let ip = address(&mut dom, "static")?;
    if ip != "10.99.0.50" {
        return Err(err!("static address {ip}, expected 10.99.0.50"));
    }
    ping(&dom, &ip)?;
    udp_echo(&dom, &ip, &nonce())?;
    shutdown(&mut dom)
}

/// Not registered yet: the keep-alive part passes (1000 pipelined requests, all 200, 2.3 s), but
/// during the new-connection loop the guest stopped answering (ARP included) after ~30 connections in
/// the one run so far; to be found before this is registered.
#[allow(dead_code)]
/// examples/http: the page and /stats by busybox wget, `KEEPALIVE` requests over one connection
/// (pipelined through busybox nc), and `FRESH` requests each on a new connection (bash /dev/tcp).
fn http_keepalive_and_new_connections() -> Result<()> {
    const KEEPALIVE: u32 = 1000;
    const FRESH: u32 = 1000;
    images::build("http")?;
    let mut dom = create("http", vec![])?;
    let line = dom.wait_for(" via dhcp (", LIMIT)?;
    let ip = line.text.split("net: eth0 ").nth(1).and_then(|r| r.split('/').next()).unwrap_or("").to_string();
    if !ip.starts_with("10.99.0.") {
        return Err(err!("unexpected guest address in {:?}", line.text));
    }
    dom.wait_for("http: listening on", LIMIT)?;
    let page = dom.dom0(&format!("busybox wget -q -O - http://{ip}/"))?;
    if !page.contains("Hello from Xenolith") {
        return Err(err!("GET / did not return the page"));
    }
    // Keep-alive: all requests pipelined over one connection (shell builtins only: a process per
    // request would measure dom0's fork under emulation, not the guest).
    let out = dom.dom0(&format!(
        "t0=$(date +%s%N); for i in $(seq {KEEPALIVE}); do printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'; done \
         | timeout 300 busybox nc {ip} 80 > /tmp/http-ka; t1=$(date +%s%N); \
         echo keepalive_ok=$(grep -c '^HTTP/1.1 200 OK' /tmp/http-ka) ms=$(( (t1 - t0) / 1000000 ))"
    ))?;
    if !out.contains(&format!("keepalive_ok={KEEPALIVE} ")) {
        return Err(err!("not every keep-alive request got 200"));
    }
    // A new connection per request (bash /dev/tcp, builtins only), each read to the server's close.
    let out = dom.dom0(&format!(
        "timeout 600 bash -c 't0=$(date +%s%N); ok=0; for i in $(seq {FRESH}); do exec 3<>/dev/tcp/{ip}/80 || continue; \
         printf \"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n\" >&3; read -r -u 3 status; \
         case \"$status\" in *\"200 OK\"*) ok=$((ok+1));; esac; while read -r -u 3 l; do :; done; exec 3<&-; done; \
         t1=$(date +%s%N); echo fresh_ok=$ok ms=$(( (t1 - t0) / 1000000 ))'"
    ))?;
    if !out.contains(&format!("fresh_ok={FRESH} ")) {
        return Err(err!("not every request on a new connection got 200"));
    }
    let stats = dom.dom0(&format!("busybox wget -q -O - http://{ip}/stats"))?;
    if !stats.contains("responses_200") {
        return Err(err!("/stats is not the counters page"));
    }
    dom.dom0("xl shutdown http")?;
    dom.wait_for("requested:", LIMIT)?;
    match dom.wait_end(LIMIT)? {
        Outcome::Poweroff => Ok(()),
        o => Err(err!("http ended with {o:?} after xl shutdown, expected a poweroff")),
    }
}

/// Rows for `cargo xtask bench net`: none measured yet (issue 6: TCP stream dom0->guest, request/response
/// latency, HTTP requests/s, each beside the Linux reference guest).
pub fn bench_rows(_p: &crate::util::Progress) -> Result<Vec<crate::bench::Row>> {
    Ok(Vec::new())
}
