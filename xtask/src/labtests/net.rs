//! Networking against the real Linux netback in dom0 (examples/echo on xenbr0): the guest gets a
//! DHCP address (or the static one its command line names), dom0 pings it, UDP echo answers, 1 MiB
//! through the TCP echo comes back byte-identical, and `xl shutdown` powers it off. examples/http: 1000
//! requests over keep-alive and 1000 on new connections, all 200; two vifs on xenbr0 and xenbr1, each
//! by DHCP, both serving.

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
        LabTest { name: "net::http_keepalive_and_new_connections", run: http_keepalive_and_new_connections },
        LabTest { name: "net::http_two_vifs", run: http_two_vifs },
        LabTest { name: "net::http_network_detach_attach", run: http_network_detach_attach },
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

/// Monitoring publishes eth0's counters under `data/xenolith/net/eth0/`: waits (bounded) until
/// `rx_bytes` there reaches `at_least`, and checks the other keys are there.
fn traffic_in_xenstore(dom: &Domain, at_least: u64) -> Result<()> {
    let dir = format!("/local/domain/{}/data/xenolith/net/eth0", dom.domid);
    let out = dom.dom0(&format!(
        "for i in $(seq 60); do v=$(xenstore-read {dir}/rx_bytes 2>/dev/null || echo 0); \
         [ \"$v\" -ge {at_least} ] && break; sleep 1; done; echo rx_bytes=$v; xenstore-ls {dir}"
    ))?;
    if field(&out, "rx_bytes").is_none_or(|v| v < at_least as f64) {
        return Err(err!("data/xenolith/net/eth0/rx_bytes never reached {at_least}"));
    }
    for key in ["tx_packets", "tx_bytes", "tx_gso_packets", "rx_packets", "rx_gso_packets", "rx_bad_checksums", "tx_errors"] {
        if !out.contains(&format!("{key} = ")) {
            return Err(err!("monitoring lacks net/eth0/{key}"));
        }
    }
    Ok(())
}

/// 8 MiB through the TCP echo from dom0's stream client, written 256 KiB at a time: dom0's stack
/// then sends GSO packets (busybox nc's small writes do not make it), and the echo comes back in
/// merged segments. Every byte is compared.
fn tcp_echo_offloaded(dom: &mut Domain, ip: &str) -> Result<()> {
    let tool = netstream_tool()?;
    let out = dom.dom0(&format!("timeout 300 {tool} echo {ip} 7 8388608"))?;
    if !out.contains("identical=1") {
        return Err(err!("8 MiB through the TCP echo did not come back identical"));
    }
    dom.wait_for("closed after 8388608 bytes", LIMIT)?;
    Ok(())
}

/// `xl shutdown`: the guest prints its traffic, disconnects cleanly, powers off. Returns the traffic.
fn shutdown(dom: &mut Domain) -> Result<Traffic> {
    dom.dom0("xl shutdown echo")?;
    dom.wait_for("requested:", LIMIT)?;
    let t = traffic(dom, "eth0")?;
    disconnected_cleanly(dom, "eth0")?;
    match dom.wait_end(LIMIT)? {
        Outcome::Poweroff => Ok(t),
        o => Err(err!("echo ended with {o:?} after xl shutdown, expected a poweroff")),
    }
}

fn echo_dhcp() -> Result<()> {
    // Monitoring every second: the traffic shows up in xenstore while the guest runs.
    let mut dom = boot(vec![("extra", "\"xenolith.stats=1\"".to_string())])?;
    let ip = address(&mut dom, "dhcp")?;
    ping(&dom, &ip)?;
    udp_echo(&dom, &ip, &nonce())?;
    dom.wait_for("echo: udp", LIMIT)?;
    tcp_echo_1mib(&mut dom, &ip)?;
    tcp_echo_offloaded(&mut dom, &ip)?;
    traffic_in_xenstore(&dom, 9 << 20)?;
    // Segmentation offload both ways: dom0 sent GSO packets (we asked for feature-gso-tcpv4), we sent
    // merged segments (netback offers it), and nothing was dropped.
    let t = shutdown(&mut dom)?;
    if t.tx_gso == 0 || t.rx_gso == 0 || t.bad_checksums != 0 || t.send_errors != 0 {
        return Err(err!("offload not used as expected: {t:?}"));
    }
    Ok(())
}

/// What a guest's `net: IFACE: sent ...` line (printed as it closes the vif) says.
#[derive(Debug, Default, PartialEq)]
struct Traffic {
    tx_gso: u64,
    rx_gso: u64,
    bad_checksums: u64,
    send_errors: u64,
}

/// Waits for the traffic line of `iface` and parses it.
fn traffic(dom: &mut Domain, iface: &str) -> Result<Traffic> {
    let line = dom.wait_for(&format!("net: {iface}: sent "), LIMIT)?;
    println!("{}", line.text);
    parse_traffic(&line.text).ok_or_else(|| err!("unreadable traffic line {:?}", line.text))
}

/// The line's nine numbers, in order: "sent A packets, B bytes (C GSO packets carrying D segments),
/// received E packets, F bytes (G GSO packets), H bad checksums, I send errors".
fn parse_traffic(line: &str) -> Option<Traffic> {
    let rest = line.split(": sent ").nth(1)?;
    let n: Vec<u64> = rest.split([' ', '(', ',']).filter_map(|w| w.parse().ok()).collect();
    match n[..] {
        [_, _, tx_gso, _, _, _, rx_gso, bad_checksums, send_errors] => Some(Traffic { tx_gso, rx_gso, bad_checksums, send_errors }),
        _ => None,
    }
}

fn echo_static() -> Result<()> {
    let mut dom = boot(vec![("extra", "\"ip=10.99.0.50/24 gw=10.99.0.1\"".to_string())])?;
    let ip = address(&mut dom, "static")?;
    if ip != "10.99.0.50" {
        return Err(err!("static address {ip}, expected 10.99.0.50"));
    }
    ping(&dom, &ip)?;
    udp_echo(&dom, &ip, &nonce())?;
    shutdown(&mut dom).map(drop)
}

/// Before powering off, the guest disconnects `iface` through xenbus: netback unmaps everything, so
/// every grant is revoked and no page is leaked.
fn disconnected_cleanly(dom: &mut Domain, iface: &str) -> Result<()> {
    // eth0 is device/vif/0 (also after the detach/attach test's re-attach), eth1 device/vif/1.
    let vif = iface.trim_start_matches("eth");
    dom.wait_for(&format!("net: {iface}: device/vif/{vif} disconnected cleanly"), LIMIT)?;
    Ok(())
}

/// Waits for `net: IFACE A.B.C.D/N via dhcp (` and returns the address, which must be in `subnet`
/// (e.g. `10.99.0.`).
fn dhcp_address(dom: &mut Domain, iface: &str, subnet: &str) -> Result<String> {
    let line = dom.wait_for(&format!("net: {iface} {subnet}"), LIMIT)?;
    let rest = line.text.split(&format!("net: {iface} ")).nth(1).unwrap_or("");
    let mut words = rest.split_whitespace();
    let ip = words.next().unwrap_or("").split('/').next().unwrap_or("").to_string();
    if words.next() != Some("via") || words.next() != Some("dhcp") {
        return Err(err!("unexpected interface line {:?} (expected {iface} by dhcp)", line.text));
    }
    println!("guest {iface} has {ip} by dhcp after {:.2}s", line.at.as_secs_f64());
    Ok(ip)
}

/// `n` requests pipelined over one connection (shell builtins and one busybox nc: a process per
/// request would measure dom0's fork under emulation, not the guest); all must be 200.
fn http_keepalive(dom: &Domain, ip: &str, n: u32) -> Result<()> {
    let out = dom.dom0(&format!(
        "t0=$(date +%s%N); for i in $(seq {n}); do printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'; done \
         | timeout 300 busybox nc {ip} 80 > /tmp/net-http-ka; t1=$(date +%s%N); \
         echo keepalive_ok=$(grep -c '^HTTP/1.1 200 OK' /tmp/net-http-ka) ms=$(( (t1 - t0) / 1000000 ))"
    ))?;
    if !out.contains(&format!("keepalive_ok={n} ")) {
        return Err(err!("not every keep-alive request to {ip} got 200"));
    }
    Ok(())
}

/// `n` requests each on a new connection (bash /dev/tcp, builtins only), each read to the server's
/// close; all must be 200. A line every 50 requests keeps the lab client's silence limit at bay; a
/// guest that stops answering fails the read timeouts instead of hanging the test.
fn http_fresh(dom: &Domain, ip: &str, n: u32) -> Result<()> {
    let out = dom.dom0(&format!(
        "timeout 3600 bash -c 't0=$(date +%s%N); ok=0; for i in $(seq {n}); do \
         exec 3<>/dev/tcp/{ip}/80 || {{ echo connect failed at $i; break; }}; \
         printf \"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n\" >&3; \
         status=; read -r -t 30 -u 3 status; \
         case \"$status\" in *\"200 OK\"*) ok=$((ok+1));; *) echo no 200 at $i: $status; break;; esac; \
         while read -r -t 30 -u 3 l; do :; done; exec 3<&-; \
         [ $((i % 50)) = 0 ] && echo fresh $i ok=$ok; done; \
         t1=$(date +%s%N); echo fresh_ok=$ok ms=$(( (t1 - t0) / 1000000 ))'"
    ))?;
    if !out.contains(&format!("fresh_ok={n} ")) {
        let why = stall_evidence(dom);
        return Err(err!("not every request to {ip} on a new connection got 200{why}"));
    }
    Ok(())
}

/// When a guest stops answering: its vCPU state and event channels as Xen sees them (`xl debug-keys
/// q` and `e` print into Xen's serial log). The lost wake-up seen in this lab looks like: vCPU blocked
/// (`-b-`), `upcall_pend=00`, and the vif's port pending with its selector bit set (`[1/0/1]`).
fn stall_evidence(dom: &Domain) -> String {
    let serial = crate::lab::layout::Layout::new().serial_log();
    let before = std::fs::metadata(&serial).map(|m| m.len()).unwrap_or(0);
    let state = crate::lab::client::sh(&format!(
        "xl list {} | tail -n 1; mount -t debugfs none /sys/kernel/debug 2>/dev/null; \
         cat /sys/kernel/debug/xen-netback/vif{}.0/io_ring_q0 2>/dev/null | head -11; xl debug-keys q; xl debug-keys e",
        dom.name, dom.domid
    ))
        .map(|(_, o)| o)
        .unwrap_or_default();
    // Xen's dump (every domain's) reaches the serial log slowly through QEMU: wait up to 30 s for it.
    let header = format!("Event channel information for domain {}:", dom.domid);
    let mut text = String::new();
    for _ in 0..150 {
        text = std::fs::read(&serial)
            .map(|b| String::from_utf8_lossy(b.get(before as usize..).unwrap_or(&[])).into_owned())
            .unwrap_or_default();
        if text.contains(&header) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut lines: Vec<String> = Vec::new();
    let mut grab = 0;
    let vcpu_header = format!("VCPU information and callbacks for domain {}:", dom.domid);
    for l in text.lines() {
        if l.contains(&header) || l.contains(&vcpu_header) {
            grab = 6;
        }
        if grab > 0 {
            lines.push(l.trim().to_string());
            grab -= 1;
        }
    }
    format!("\nxl list and netback's rings:\n{}\nXen's view of the guest:\n{}", state.trim_end(), lines.join("\n"))
}

fn http_shutdown(dom: &mut Domain, ifaces: &[&str]) -> Result<()> {
    dom.dom0(&format!("xl shutdown {}", dom.name))?;
    dom.wait_for("requested:", LIMIT)?;
    for iface in ifaces {
        disconnected_cleanly(dom, iface)?;
    }
    match dom.wait_end(LIMIT)? {
        Outcome::Poweroff => Ok(()),
        o => Err(err!("{} ended with {o:?} after xl shutdown, expected a poweroff", dom.name)),
    }
}

/// examples/http: the page and /stats by busybox wget, `KEEPALIVE` requests over one connection
/// (pipelined through busybox nc), and `FRESH` requests each on a new connection (bash /dev/tcp).
fn http_keepalive_and_new_connections() -> Result<()> {
    const KEEPALIVE: u32 = 1000;
    const FRESH: u32 = 1000;
    images::build("http")?;
    let mut dom = create("http", vec![])?;
    let ip = dhcp_address(&mut dom, "eth0", "10.99.0.")?;
    dom.wait_for("http: listening on", LIMIT)?;
    let page = dom.dom0(&format!("busybox wget -q -O - http://{ip}/"))?;
    if !page.contains("Hello from Xenolith") {
        return Err(err!("GET / did not return the page"));
    }
    http_keepalive(&dom, &ip, KEEPALIVE)?;
    http_fresh(&dom, &ip, FRESH)?;
    let stats = dom.dom0(&format!("busybox wget -q -O - http://{ip}/stats"))?;
    // 1 + KEEPALIVE + FRESH before this one, which is counted before its page is made (requests
    // someone else made meanwhile, e.g. by hand, count too).
    let want = 2 + KEEPALIVE + FRESH;
    let stat = |key: &str| {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse::<u32>().ok())
            .ok_or_else(|| err!("/stats has no {key} line"))
    };
    let counted = stat("responses_200")?;
    if counted < want {
        return Err(err!("/stats counts {counted} responses 200, expected at least {want}"));
    }
    // eth0's traffic follows the server's counters: every request came in over it.
    let rx_packets = stat("net_eth0_rx_packets")?;
    if rx_packets < want {
        return Err(err!("/stats counts {rx_packets} packets received on eth0 for {want} requests"));
    }
    http_shutdown(&mut dom, &["eth0"])
}

/// examples/http with `vif = ['bridge=xenbr0', 'bridge=xenbr1']`: an address by DHCP on each bridge,
/// and dom0 gets the page, pings, and makes new connections through both.
fn http_two_vifs() -> Result<()> {
    images::build("http")?;
    let mut dom = create("http-2vif", vec![])?;
    let ip0 = dhcp_address(&mut dom, "eth0", "10.99.0.")?;
    let ip1 = dhcp_address(&mut dom, "eth1", "10.99.1.")?;
    dom.wait_for(&format!("http: listening on {ip0}:80 (eth0)"), LIMIT)?;
    dom.wait_for(&format!("http: listening on {ip1}:80 (eth1)"), LIMIT)?;
    for ip in [&ip0, &ip1] {
        ping(&dom, ip)?;
        let page = dom.dom0(&format!("busybox wget -q -O - http://{ip}/"))?;
        if !page.contains("Hello from Xenolith") {
            return Err(err!("GET / through {ip} did not return the page"));
        }
        http_keepalive(&dom, ip, 100)?;
        http_fresh(&dom, ip, 50)?;
    }
    http_shutdown(&mut dom, &["eth0", "eth1"])
}

/// examples/http: `xl network-detach` of its vif while it serves, then `xl network-attach` of a new
/// one: the guest releases the old vif (netback let go of everything: no page leaked), takes the new
/// one (a new MAC, a new DHCP lease), and answers again, on the connection it keeps listening on.
fn http_network_detach_attach() -> Result<()> {
    images::build("http")?;
    let mut dom = create("http", vec![])?;
    let ip = dhcp_address(&mut dom, "eth0", "10.99.0.")?;
    dom.wait_for("http: listening on", LIMIT)?;
    http_fresh(&dom, &ip, 10)?;
    let name = dom.name.clone();
    dom.dom0(&format!("xl network-detach {name} 0"))?;
    dom.wait_for("net: eth0: backend went", LIMIT)?;
    let released = dom.wait_for("net: eth0: device/vif/0 released", LIMIT)?;
    if !released.text.contains("released cleanly") {
        return Err(err!("the old vif was not released cleanly: {:?}", released.text));
    }
    dom.wait_for("net: eth0: waiting for a new vif", LIMIT)?;
    let gone = dom.dom0(&format!("xl network-list {name} | tail -n +2 | wc -l"))?;
    if gone.trim() != "0" {
        return Err(err!("xl network-list still shows a vif after the detach"));
    }
    dom.dom0(&format!("xl network-attach {name} bridge=xenbr0"))?;
    dom.wait_for(" attached, mac ", LIMIT)?;
    let line = dom.wait_for(", device 2)", LIMIT)?;
    let ip2 = line.text.split("net: eth0 ").nth(1).and_then(|r| r.split('/').next()).unwrap_or("").to_string();
    if !ip2.starts_with("10.99.0.") || !line.text.contains(" via dhcp (") {
        return Err(err!("unexpected address line after the re-attach: {:?}", line.text));
    }
    println!("after the re-attach the guest has {ip2} (was {ip})");
    ping(&dom, &ip2)?;
    let page = dom.dom0(&format!("busybox wget -q -O - http://{ip2}/"))?;
    if !page.contains("Hello from Xenolith") {
        return Err(err!("GET / after the re-attach did not return the page"));
    }
    http_fresh(&dom, &ip2, 20)?;
    http_keepalive(&dom, &ip2, 100)?;
    http_shutdown(&mut dom, &["eth0"])
}

/// MiB per stream sample, either way (the source services on port 19 send exactly this much: 8 MiB in
/// examples/echo and xtask/files/linux-ref-mode-serve.sh), requests per HTTP sample, round trips in the
/// latency sample.
const BENCH_STREAM_MIB: u32 = 8;
const BENCH_HTTP_REQUESTS: u32 = 50;
const BENCH_ROUND_TRIPS: u32 = 200;
/// Samples of the HTTP figure per guest.
const BENCH_SAMPLES: usize = 3;
/// Samples of each stream figure per guest (a sample takes about half a second).
const BENCH_STREAM_SAMPLES: usize = 7;

/// What one guest measured: stream MiB/s samples (dom0 → guest, guest → dom0), round-trip times (ms),
/// HTTP requests/s samples.
#[derive(Debug, Default)]
struct NetBench {
    stream_mib_s: Vec<f64>,
    stream_out_mib_s: Vec<f64>,
    rtt_ms: Vec<f64>,
    http_req_s: Vec<f64>,
}

/// The value after `key=` in `out` (the last one).
fn field(out: &str, key: &str) -> Option<f64> {
    out.split_whitespace().filter_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok()).next_back()
}

/// dom0's stream client (xtask/files/dom0-netstream.rs), built for the host (which is what dom0 runs:
/// x86-64 Linux; linked statically) into the lab directory; returns its path as dom0 sees it.
fn netstream_tool() -> Result<String> {
    const SRC: &str = include_str!("../../files/dom0-netstream.rs");
    let l = crate::lab::layout::Layout::new();
    let dir = l.dir.join("tools");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("netstream.rs");
    let bin = dir.join("netstream");
    if std::fs::read_to_string(&src).ok().as_deref() != Some(SRC) || !bin.exists() {
        std::fs::write(&src, SRC)?;
        crate::util::run_quiet(
            std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
                .args(["-O", "--edition", "2021", "-C", "target-feature=+crt-static", "-o"])
                .arg(&bin)
                .arg(&src),
        )?;
    }
    l.in_dom0(&bin).ok_or_else(|| err!("{} is outside the repository dom0 shares", bin.display()))
}

/// One run of dom0's stream client (`send IP 9 BYTES` or `recv IP 19`); MiB/s. Exactly
/// `BENCH_STREAM_MIB` MiB must have moved.
fn bench_stream(dom: &Domain, tool: &str, args: &str) -> Result<f64> {
    let out = dom.dom0(&format!("timeout 300 {tool} {args}"))?;
    let want = f64::from(BENCH_STREAM_MIB << 20);
    match field(&out, "bytes") {
        Some(got) if got == want => {}
        Some(got) => return Err(err!("stream {args}: {got} bytes moved, expected exactly {want}")),
        None => return Err(err!("stream {args}: no result")),
    }
    let secs = field(&out, "secs").filter(|s| *s > 0.0).ok_or_else(|| err!("stream {args}: no time"))?;
    Ok(f64::from(BENCH_STREAM_MIB) / secs)
}

/// Round trips of a short line through the TCP echo (port 7) on one connection, in ms (bash's
/// `$EPOCHREALTIME`: no process per sample).
fn bench_latency(dom: &Domain, ip: &str) -> Result<Vec<f64>> {
    let out = dom.dom0(&format!(
        "timeout 300 bash -c 'exec 3<>/dev/tcp/{ip}/7 || exit 1; for i in $(seq {BENCH_ROUND_TRIPS}); do \
         t0=$EPOCHREALTIME; echo ping$i >&3; read -r -t 10 -u 3 l || break; t1=$EPOCHREALTIME; \
         echo rtt $t0 $t1; done; exec 3<&-'"
    ))?;
    let rtts: Vec<f64> = out
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("rtt ")?.split_whitespace();
            let (a, b): (f64, f64) = (w.next()?.parse().ok()?, w.next()?.parse().ok()?);
            Some((b - a) * 1000.0)
        })
        .collect();
    if rtts.len() != BENCH_ROUND_TRIPS as usize {
        return Err(err!("{} of {BENCH_ROUND_TRIPS} round trips through {ip}:7 completed", rtts.len()));
    }
    Ok(rtts)
}

/// `BENCH_HTTP_REQUESTS` GETs of `/`, each on a new connection (busybox httpd closes after each
/// response), all must be 200; requests per second.
fn bench_http(dom: &Domain, ip: &str) -> Result<f64> {
    let out = dom.dom0(&format!(
        "timeout 600 bash -c 't0=$EPOCHREALTIME; ok=0; for i in $(seq {BENCH_HTTP_REQUESTS}); do \
         exec 3<>/dev/tcp/{ip}/80 || break; \
         printf \"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n\" >&3; status=; read -r -t 30 -u 3 status; \
         case \"$status\" in *\" 200 \"*) ok=$((ok+1));; esac; \
         while read -r -t 30 -u 3 l; do :; done; exec 3<&-; done; t1=$EPOCHREALTIME; \
         echo http_ok=$ok http_s=$(awk \"BEGIN {{ print $t1 - $t0 }}\")'"
    ))?;
    if field(&out, "http_ok") != Some(f64::from(BENCH_HTTP_REQUESTS)) {
        return Err(err!("not every benchmark request to {ip} got 200"));
    }
    let secs = field(&out, "http_s").filter(|s| *s > 0.0).ok_or_else(|| err!("no HTTP time from {ip}"))?;
    Ok(f64::from(BENCH_HTTP_REQUESTS) / secs)
}

/// Everything measured on the guest at `ip` (echo on 7, discard on 9, source on 19, HTTP on 80).
fn bench_guest(p: &crate::util::Progress, who: &str, dom: &Domain, ip: &str, http: Option<&Domain>, http_ip: &str) -> Result<NetBench> {
    let tool = &netstream_tool()?;
    let mut b = NetBench::default();
    for i in 1..=BENCH_STREAM_SAMPLES {
        p.step(format!("bench: net: {who}: stream {i}/{BENCH_STREAM_SAMPLES}"));
        b.stream_mib_s.push(bench_stream(dom, tool, &format!("send {ip} 9 {}", BENCH_STREAM_MIB << 20))?);
    }
    for i in 1..=BENCH_STREAM_SAMPLES {
        p.step(format!("bench: net: {who}: stream out {i}/{BENCH_STREAM_SAMPLES}"));
        b.stream_out_mib_s.push(bench_stream(dom, tool, &format!("recv {ip} 19"))?);
    }
    p.step(format!("bench: net: {who}: {BENCH_ROUND_TRIPS} round trips"));
    b.rtt_ms = bench_latency(dom, ip)?;
    let hdom = http.unwrap_or(dom);
    for i in 1..=BENCH_SAMPLES {
        p.step(format!("bench: net: {who}: HTTP {i}/{BENCH_SAMPLES}"));
        b.http_req_s.push(bench_http(hdom, http_ip)?);
    }
    Ok(b)
}

/// The Linux reference guest in serve mode (xl-configs/net-linux-ref.cfg).
fn bench_linux_ref(p: &crate::util::Progress) -> Result<NetBench> {
    p.step("bench: net: booting the Linux reference guest (serve mode)");
    let mut dom = Domain::create("net-linux-ref", CreateOpts { overrides: vec![], echo: false })?;
    let line = dom.wait_for("xenolith-ref: ip=", LIMIT)?;
    let ip = line.text.split("ip=").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or("").to_string();
    dom.wait_for("xenolith-ref: serving", LIMIT)?;
    let b = bench_guest(p, "linux-ref", &dom, &ip, None, &ip);
    dom.destroy();
    b
}

/// Ours: examples/echo (echo, discard, source) and examples/http, booted one after the other.
fn bench_xenolith(p: &crate::util::Progress) -> Result<NetBench> {
    p.step("bench: net: booting echo and http");
    images::build("echo")?;
    images::build("http")?;
    let mut echo = create("echo", vec![])?;
    let ip = address(&mut echo, "dhcp")?;
    let mut http = create("http", vec![])?;
    let http_ip = dhcp_address(&mut http, "eth0", "10.99.0.")?;
    http.wait_for("http: listening on", LIMIT)?;
    let b = bench_guest(p, "xenolith", &echo, &ip, Some(&http), &http_ip);
    echo.destroy();
    http.destroy();
    b
}

/// p-th percentile (0..=100) of `v` by nearest rank.
fn percentile(v: &[f64], pct: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((pct / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

/// Rows for `cargo xtask bench net`: TCP stream dom0 → guest and guest → dom0, request/response latency
/// p50 and p99, HTTP requests/s on new connections; ours (examples/echo and examples/http) beside the
/// Linux reference guest (busybox nc and httpd, xl-configs/net-linux-ref.cfg), measured in the same run
/// from dom0 with the same shell loops.
pub fn bench_rows(p: &crate::util::Progress) -> Result<Vec<crate::bench::Row>> {
    use crate::bench::{Row, Stats};
    let theirs = bench_linux_ref(p)?;
    println!("linux-ref: {theirs:?}");
    let ours = bench_xenolith(p)?;
    println!("xenolith: {ours:?}");
    let stats = |v: &[f64]| Stats::of(v).ok_or_else(|| err!("no samples"));
    Ok(vec![
        Row {
            name: "net TCP stream dom0->guest (MiB/s)",
            unit: "MiB/s",
            ours: stats(&ours.stream_mib_s)?,
            reference: Stats::of(&theirs.stream_mib_s),
            lower_is_better: false,
        },
        Row {
            name: "net TCP stream guest->dom0 (MiB/s)",
            unit: "MiB/s",
            ours: stats(&ours.stream_out_mib_s)?,
            reference: Stats::of(&theirs.stream_out_mib_s),
            lower_is_better: false,
        },
        Row {
            name: "net TCP echo round trip p50 (ms)",
            unit: "ms",
            ours: Stats::one(percentile(&ours.rtt_ms, 50.0)),
            reference: Some(Stats::one(percentile(&theirs.rtt_ms, 50.0))),
            lower_is_better: true,
        },
        Row {
            name: "net TCP echo round trip p99 (ms)",
            unit: "ms",
            ours: Stats::one(percentile(&ours.rtt_ms, 99.0)),
            reference: Some(Stats::one(percentile(&theirs.rtt_ms, 99.0))),
            lower_is_better: true,
        },
        Row {
            name: "net HTTP GET / on new connections (req/s)",
            unit: "req/s",
            ours: stats(&ours.http_req_s)?,
            reference: Stats::of(&theirs.http_req_s),
            lower_is_better: false,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 100.0);
        assert_eq!(percentile(&v, 99.0), 198.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
    }

    #[test]
    fn traffic_line() {
        let l = "net: eth0: sent 700 packets, 1100000 bytes (25 GSO packets carrying 700 segments), received 900 packets, \
                 1200000 bytes (30 GSO packets), 0 bad checksums, 2 send errors";
        assert_eq!(parse_traffic(l), Some(Traffic { tx_gso: 25, rx_gso: 30, bad_checksums: 0, send_errors: 2 }));
        assert_eq!(parse_traffic("net: eth0: sent"), None);
    }

    #[test]
    fn fields() {
        assert_eq!(field("x\nstream_s=1.25\n", "stream_s"), Some(1.25));
        assert_eq!(field("http_ok=50 http_s=2.5", "http_ok"), Some(50.0));
        assert_eq!(field("http_s=", "http_s"), None);
    }
}
