//! PVH boot of our own images: hello prints through the PV console and powers off, in every
//! memory and vCPU shape; crash produces an exception report (with the flight recorder's recent
//! events) and a crash shutdown; the http server (netfront + smoltcp) serves in 4 MiB of RAM.

use std::time::Duration;

use super::LabTest;
use crate::domain::{CreateOpts, Domain, Outcome};
use crate::err;
use crate::images;
use crate::util::Result;

pub fn tests() -> Vec<LabTest> {
    vec![
        LabTest { name: "boot::hello", run: hello },
        LabTest { name: "boot::hello_memory_2", run: || hello_variant("hello-mem2", Some(2)) },
        LabTest { name: "boot::hello_memory_4", run: || hello_variant("hello-mem4", Some(4)) },
        LabTest { name: "boot::hello_memory_5000", run: || hello_variant("hello-mem5000", Some(5000)) },
        LabTest { name: "boot::hello_two_vcpus", run: || hello_variant("hello-smp2", None) },
        LabTest { name: "boot::crash_reports_exception", run: crash_reports_exception },
        LabTest { name: "boot::http_serves_at_memory_4", run: http_serves_at_memory_4 },
    ]
}

const LIMIT: Duration = Duration::from_secs(120);

fn boot(cfg: &str, overrides: Vec<(&str, String)>) -> Result<Domain> {
    images::build(images::example_of_config(cfg)?.as_deref().unwrap_or(cfg))?;
    Domain::create(cfg, CreateOpts { overrides, echo: true })
}

fn expect_poweroff(dom: &mut Domain) -> Result<()> {
    match dom.wait_end(LIMIT)? {
        Outcome::Poweroff => Ok(()),
        o => Err(err!("{} ended with {o:?}, expected a poweroff", dom.name)),
    }
}

fn hello() -> Result<()> {
    // A command line no earlier run printed: the guest must really read it from start info.
    let word = format!("probe{}", std::process::id());
    let mut dom = boot("hello", vec![("extra", format!("\"greeting=lab {word}\""))])?;
    let greet = dom.wait_for("Hello from Xenolith", LIMIT)?;
    println!("greeting after {:.2}s", greet.at.as_secs_f64());
    dom.wait_for(&format!("Command line: greeting=lab {word}"), LIMIT)?;
    dom.wait_for("Memory: 32 MiB", LIMIT)?;
    dom.wait_for("Xen version: 4.17", LIMIT)?;
    expect_poweroff(&mut dom)
}

/// Hello with another config; `mib`: the memory size it must report.
fn hello_variant(cfg: &str, mib: Option<u64>) -> Result<()> {
    let mut dom = boot(cfg, vec![])?;
    dom.wait_for("Hello from Xenolith", LIMIT)?;
    let line = dom.wait_for("Memory: ", LIMIT)?;
    if let Some(want) = mib {
        let got: u64 = line
            .text
            .split("Memory: ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| err!("cannot read the memory size in {:?}", line.text))?;
        // Xen may keep a few pages of the configured size for itself (special pages).
        if got > want || got + 2 < want {
            return Err(err!("{cfg}: reported {got} MiB, configured {want} MiB"));
        }
    }
    dom.wait_for("Xen version: 4.17", LIMIT)?;
    expect_poweroff(&mut dom)
}

fn crash_reports_exception() -> Result<()> {
    let mut dom = boot("crash", vec![])?;
    let report = dom.wait_for("EXCEPTION", LIMIT)?;
    println!("exception report after {:.2}s", report.at.as_secs_f64());
    for field in ["RIP", "RSP", "CR2", "RAX", "stack"] {
        dom.wait_for(field, LIMIT)?;
    }
    // The flight recorder's section, with the event the example traced before crashing.
    dom.wait_for("recent events (oldest first", LIMIT)?;
    dom.wait_for("app code=1 value=42", LIMIT)?;
    match dom.wait_end(LIMIT)? {
        Outcome::Crash => Ok(()),
        o => Err(err!("crash ended with {o:?}, expected Xen to see a crash")),
    }
}

/// examples/http at `memory = 4` (xl-configs/http-mem4.cfg): an address by DHCP, 100 requests from dom0
/// each on a new connection, all answered, /stats counting them; `xl shutdown` powers it off.
fn http_serves_at_memory_4() -> Result<()> {
    const REQUESTS: u32 = 100;
    let mut dom = boot("http-mem4", vec![])?;
    let line = dom.wait_for("http: listening on ", LIMIT)?;
    let ip = line.text.split("listening on ").nth(1).and_then(|r| r.split(':').next()).unwrap_or("").to_string();
    if !ip.starts_with("10.99.0.") {
        return Err(err!("unexpected listening line {:?}", line.text));
    }
    let out = dom.dom0(&format!(
        "n=0; for i in $(seq 1 {REQUESTS}); do timeout 20 busybox wget -q -O /dev/null http://{ip}/ && n=$((n+1)); done; \
         echo answered=$n; timeout 20 busybox wget -q -O - http://{ip}/stats"
    ))?;
    if !out.contains(&format!("answered={REQUESTS}\n")) {
        return Err(err!("not every request was answered at memory = 4"));
    }
    let counted = out.lines().find_map(|l| l.strip_prefix("responses_200 ")).and_then(|v| v.trim().parse::<u32>().ok());
    if counted.is_none_or(|c| c < REQUESTS) {
        return Err(err!("/stats counts {counted:?} answered requests, expected at least {REQUESTS}"));
    }
    dom.dom0(&format!("xl shutdown {}", dom.name))?;
    expect_poweroff(&mut dom)
}
