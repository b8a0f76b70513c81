//! The Linux PVH reference guest: xen-netfront and xen-blkfront against dom0's netback and
//! blkback, on the same bridge and disk set-up our own images use.

use std::time::Duration;

use super::LabTest;
use crate::domain::{CreateOpts, Domain, Outcome};
use crate::err;
use crate::lab::layout::Layout;
use crate::util::Result;

pub fn tests() -> Vec<LabTest> {
    vec![
        LabTest { name: "linux_ref::dhcp_ping_disk_shutdown", run: dhcp_ping_disk_shutdown },
        LabTest { name: "linux_ref::run_powers_off", run: run_powers_off },
    ]
}

const BOOT: Duration = Duration::from_secs(180);

fn nonce() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("n{}x{}", t.as_nanos() % 1_000_000_007, std::process::id())
}

fn dhcp_ping_disk_shutdown() -> Result<()> {
    let nonce = nonce();
    let disk = "target/lab/disks/linux-ref-test.img";
    let mut dom = Domain::create(
        "linux-ref",
        CreateOpts {
            overrides: vec![
                ("extra", format!("\"console=hvc0 xenolith.mode=test xenolith.nonce={nonce}\"")),
                ("disk", format!("['format=raw,vdev=xvda,access=rw,target={disk}']")),
            ],
            echo: true,
        },
    )?;
    // Zero the marker sector so that only this boot's write can satisfy the check.
    let share_disk = Layout::rel_in_dom0(disk);
    dom.dom0(&format!("dd if=/dev/zero of={share_disk} bs=512 count=1 conv=notrunc 2>&1 | tail -n 1"))?;

    let ip_line = dom.wait_for("xenolith-ref: ip=", BOOT)?;
    let ip = ip_line.text.split("ip=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("");
    if !ip.starts_with("10.99.0.") {
        return Err(err!("unexpected guest address {ip:?} (xenbr0 is 10.99.0.0/24)"));
    }
    println!("guest got {ip} by DHCP after {:.1}s", ip_line.at.as_secs_f64());
    let ping = dom.dom0(&format!("ping -c 3 -W 5 {ip}"))?;
    if !ping.contains("3 received") {
        return Err(err!("dom0 ping to {ip} lost replies"));
    }
    dom.wait_for("disk marker written", BOOT)?;
    let marker = dom.dom0(&format!("dd if={share_disk} bs=512 count=1 2>/dev/null | tr -d '\\000'; echo"))?;
    if !marker.contains(&format!("XENOLITH-REF-MARKER {nonce}")) {
        return Err(err!("the backing file does not hold this boot's marker"));
    }
    dom.wait_for("xenolith-ref: ready", BOOT)?;
    dom.dom0("xl shutdown -w linux-ref")?;
    match dom.wait_end(Duration::from_secs(60))? {
        Outcome::Poweroff => Ok(()),
        o => Err(err!("expected poweroff after xl shutdown, got {o:?}")),
    }
}

fn run_powers_off() -> Result<()> {
    let mut dom = Domain::create("linux-ref", CreateOpts { overrides: vec![], echo: true })?;
    dom.wait_for("xenolith-ref: done", BOOT)?;
    match dom.wait_end(BOOT)? {
        Outcome::Poweroff => Ok(()),
        o => Err(err!("linux-ref in run mode ended with {o:?}")),
    }
}
