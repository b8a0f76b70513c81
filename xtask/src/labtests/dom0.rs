//! The lab itself: dom0 runs the Xen toolstack on a hypervisor that can run PVH guests.

use super::LabTest;
use crate::err;
use crate::lab::client;
use crate::util::Result;

pub fn tests() -> Vec<LabTest> {
    vec![
        LabTest { name: "lab::xl_list_shows_domain0", run: xl_list_shows_domain0 },
        LabTest { name: "lab::xl_info_has_hvm", run: xl_info_has_hvm },
        LabTest { name: "lab::sh_returns_exit_status", run: sh_returns_exit_status },
    ]
}

fn xl_list_shows_domain0() -> Result<()> {
    let out = client::sh_ok("xl list")?;
    print!("{out}");
    out.lines()
        .any(|l| l.starts_with("Domain-0 ") && l.split_whitespace().nth(1) == Some("0"))
        .then_some(())
        .ok_or_else(|| err!("Domain-0 with id 0 is not in `xl list`"))
}

fn xl_info_has_hvm() -> Result<()> {
    let out = client::sh_ok("xl info")?;
    let caps = out
        .lines()
        .find(|l| l.starts_with("virt_caps"))
        .ok_or_else(|| err!("`xl info` has no virt_caps line:\n{out}"))?;
    println!("{caps}");
    if let Some(v) = out.lines().find(|l| l.starts_with("xen_version")) {
        println!("{v}");
    }
    caps.split_whitespace()
        .any(|w| w == "hvm")
        .then_some(())
        .ok_or_else(|| err!("virt_caps lacks hvm: {caps}"))
}

fn sh_returns_exit_status() -> Result<()> {
    let (code, out) = client::sh("echo to-stdout; echo to-stderr >&2; exit 7")?;
    if code != 7 || !out.contains("to-stdout") || !out.contains("to-stderr") {
        return Err(err!("expected status 7 and both streams, got {code}: {out:?}"));
    }
    Ok(())
}
