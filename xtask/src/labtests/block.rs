//! Block storage against the real Linux blkback in dom0 (examples/blkcheck):
//! - `block::blkcheck_512`: a 64 MiB file-backed disk with 512-byte sectors;
//! - `block::blkcheck_4096`: the same through a loop device with `--sector-size 4096`;
//! - `block::read_only_disk`: a disk attached `access=ro`.
//!
//! Before boot, dom0 writes a marker (with this run's nonce) at 4 MiB of each image with `dd`; the
//! guest must print it. After the guest powered off, dom0 reads the guest's tags (first sector, last
//! sector, 8 MiB) and its 2048 text lines at 16 MiB back from the backing file. A read-only image must
//! be byte-for-byte unchanged.
//!
//! `block::kv_survives_xl_destroy`: examples/kv acknowledges 1000 PUTs (each flushed), is ended with
//! `xl destroy` (no clean shutdown), and a new domain on the same disk replays its log and serves all
//! 1000 values.
//!
//! [`bench_rows`] runs blkcheck once for `cargo xtask bench block`.

use std::time::Duration;

use super::LabTest;
use crate::domain::{CreateOpts, Domain, Outcome};
use crate::err;
use crate::images;
use crate::lab::layout::Layout;
use crate::util::Result;

pub fn tests() -> Vec<LabTest> {
    vec![
        LabTest { name: "block::blkcheck_512", run: || blkcheck(512).map(|_| ()) },
        LabTest { name: "block::read_only_disk", run: read_only_disk },
        LabTest { name: "block::kv_survives_xl_destroy", run: kv_survives_xl_destroy },
    ]
}

/// Written, not registered in [`tests`]: not seen passing in the lab. `blkcheck_4096` was running
/// (its first burst of writes through a `losetup --sector-size 4096` loop device over the 9p share) when
/// the lab froze on 2026-11-29 09:40 (dom0's agent stopped answering, QEMU idle; the lab was restarted).
/// Whether the test caused it is not known; register it after it passes a few times in a row.
#[allow(dead_code)]
pub fn unverified() -> Vec<LabTest> {
    vec![LabTest { name: "block::blkcheck_4096", run: || blkcheck(4096).map(|_| ()) }]
}

/// blkcheck's whole run takes about a minute under emulation; generous for a loaded lab.
const LIMIT: Duration = Duration::from_secs(600);
const DISK_BYTES: u64 = 64 << 20;
const MIB: u64 = 1 << 20;

fn nonce() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("n{}x{}", t.as_nanos() % 1_000_000_007, std::process::id())
}

/// A fresh zeroed scratch image (host side of the share), and its path in dom0.
fn fresh_image(rel: &str) -> Result<String> {
    let host = Layout::new().repo.join(rel);
    if let Some(dir) = host.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&host);
    std::fs::File::create(&host)?.set_len(DISK_BYTES)?;
    Ok(Layout::rel_in_dom0(rel))
}

/// dom0 writes `text` at byte 4 MiB of `img` (where blkcheck reads its marker).
fn write_marker(img: &str, text: &str) -> Result<()> {
    println!("dom0# printf {text} | dd of={img} bs=1M seek=4 conv=notrunc");
    crate::lab::client::sh_ok(&format!("printf '%s' '{text}' | dd of={img} bs=1M seek=4 conv=notrunc 2>&1 | tail -n 1"))?;
    Ok(())
}

fn boot(cfg: &str, overrides: Vec<(&str, String)>) -> Result<Domain> {
    images::build(images::example_of_config(cfg)?.as_deref().unwrap_or(cfg))?;
    Domain::create(cfg, CreateOpts { overrides, echo: true })
}

/// Waits for blkcheck's verdict and its power-off; returns the `blkcheck: bench ...` lines.
fn verdict(dom: &mut Domain, nonce: &str) -> Result<Vec<String>> {
    let pass = dom.wait_for("blkcheck: PASS", LIMIT);
    let end = dom.wait_end(LIMIT)?;
    let failures: Vec<&str> =
        dom.lines.iter().map(|l| l.text.as_str()).filter(|t| t.contains("FAIL")).collect();
    if pass.is_err() || !failures.is_empty() {
        return Err(err!("blkcheck did not pass (ended {end:?}): {failures:?}"));
    }
    let pass = pass?;
    if !pass.text.contains(&format!("nonce={nonce}")) {
        return Err(err!("the PASS line is not from this run: {:?}", pass.text));
    }
    if end != Outcome::Poweroff {
        return Err(err!("blkcheck ended with {end:?}, expected a poweroff"));
    }
    Ok(dom.lines.iter().filter(|l| l.text.contains("blkcheck: bench ")).map(|l| l.text.clone()).collect())
}

/// dom0 reads what the guest left in `img` (a disk of `sector`-byte sectors, named `vdev` in the guest).
fn check_backing_file(dom: &Domain, img: &str, vdev: &str, sector: u64, nonce: &str) -> Result<()> {
    let last = DISK_BYTES / sector - 1;
    for (what, skip) in [("first", 0), ("last", last), ("tag", 8 * MIB / sector)] {
        let out = dom.dom0(&format!("dd if={img} bs={sector} skip={skip} count=1 2>/dev/null | tr -d '\\000'; echo"))?;
        let want = format!("XENOLITH-BLKCHECK {vdev} nonce={nonce} where={what}");
        if !out.contains(&want) {
            return Err(err!("sector {skip} of the backing file does not hold {want:?}"));
        }
    }
    let lines = dom.dom0(&format!("dd if={img} bs=1M skip=16 count=1 2>/dev/null | grep -c '^XENOLITH-PATTERN {nonce} block=[0-9]*\\.*$'"))?;
    if lines.trim() != "2048" {
        return Err(err!("expected 2048 pattern lines at 16 MiB of the backing file, found {}", lines.trim()));
    }
    let l1000 = dom.dom0(&format!("dd if={img} bs=512 skip={} count=1 2>/dev/null | cut -c1-60", 16 * 2048 + 1000))?;
    if !l1000.contains(&format!("XENOLITH-PATTERN {nonce} block=00001000")) {
        return Err(err!("block 1000 of the text pattern is not where it belongs"));
    }
    Ok(())
}

/// blkcheck on a 64 MiB disk with `sector`-byte sectors; returns its bench lines.
fn blkcheck(sector: u64) -> Result<Vec<String>> {
    let nonce = nonce();
    let rel = format!("target/lab/disks/blkcheck-test-{sector}.img");
    let img = fresh_image(&rel)?;
    let marker = format!("DOM0-MARKER-{nonce}");
    write_marker(&img, &marker)?;
    let extra = ("extra", format!("\"nonce={nonce} expect={marker}\""));
    let (target, loopdev) = if sector == 512 {
        (rel.clone(), None)
    } else {
        let dev = crate::lab::client::sh_ok(&format!("losetup --find --show --sector-size {sector} {img}"))?;
        let dev = dev.trim().to_string();
        println!("dom0: {img} on {dev} with {sector}-byte sectors");
        (dev.clone(), Some(dev))
    };
    let result = (|| {
        let mut dom =
            boot("blkcheck", vec![extra, ("disk", format!("['format=raw,vdev=xvda,access=rw,backendtype=phy,target={target}']"))])?;
        dom.wait_for(&format!("blkcheck: xvda: {} sectors of {sector} bytes", DISK_BYTES / sector), LIMIT)?;
        dom.wait_for(&format!("blkcheck: xvda: dom0 marker at 4 MiB: \"{marker}\""), LIMIT)?;
        if sector > 512 {
            dom.wait_for("blkcheck: xvda: write of 512 bytes: refused", LIMIT)?;
        }
        let bench = verdict(&mut dom, &nonce)?;
        if let Some(dev) = &loopdev {
            // Let go of the loop device before reading the file (its writes reach the file first).
            dom.dom0(&format!("sync; losetup -d {dev}"))?;
        }
        check_backing_file(&dom, &img, "xvda", sector, &nonce)?;
        Ok(bench)
    })();
    if let Some(dev) = &loopdev {
        let _ = crate::lab::client::sh(&format!("losetup -d {dev} 2>/dev/null"));
    }
    result
}

/// A disk attached `access=ro` (xvda): dom0's marker is read, writes and discards are refused before
/// reaching the ring, reads work, and the image is unchanged. (The two-disk config `blkcheck-ro`, rw +
/// ro, could not be created in the lab: the block hotplug script timed out for the pair.)
fn read_only_disk() -> Result<()> {
    let nonce = nonce();
    let ro_rel = "target/lab/disks/blkcheck-ro-ro.img";
    let ro = fresh_image(ro_rel)?;
    let marker = format!("DOM0-MARKER-{nonce}");
    write_marker(&ro, &marker)?;
    let before = crate::lab::client::sh_ok(&format!("md5sum < {ro}"))?;
    let mut dom = boot(
        "blkcheck-ro",
        vec![
            ("extra", format!("\"nonce={nonce} expect={marker}\"")),
            ("disk", format!("['format=raw,vdev=xvda,access=ro,backendtype=phy,target={ro_rel}']")),
        ],
    )?;
    dom.wait_for(", read-only, physical sector", LIMIT)?;
    dom.wait_for(&format!("blkcheck: xvda: dom0 marker at 4 MiB: \"{marker}\""), LIMIT)?;
    dom.wait_for("blkcheck: xvda: write to the read-only disk: refused (rejected: the disk is read-only)", LIMIT)?;
    dom.wait_for("blkcheck: xvda: large write to the read-only disk: refused", LIMIT)?;
    dom.wait_for("blkcheck: xvda: read of 1 MiB: ok", LIMIT)?;
    verdict(&mut dom, &nonce)?;
    let after = dom.dom0(&format!("md5sum < {ro}"))?;
    if before.trim() != after.trim() {
        return Err(err!("the read-only image changed: {} -> {}", before.trim(), after.trim()));
    }
    Ok(())
}

/// kv: 1000 acknowledged PUTs, `xl destroy`, then a new domain on the same disk serves all of them.
fn kv_survives_xl_destroy() -> Result<()> {
    let nonce = nonce();
    let rel = "target/lab/disks/kv-test.img";
    fresh_image(rel)?;
    let disk = ("disk", format!("['format=raw,vdev=xvda,access=rw,backendtype=phy,target={rel}']"));
    let mut dom = boot("kv", vec![("extra", format!("\"mode=load count=1000 nonce={nonce}\"")), disk.clone()])?;
    dom.wait_for("kv: replayed 0 records", LIMIT)?;
    let acked = dom.wait_for("kv: acknowledged 1000 puts", LIMIT)?;
    println!("1000 puts acknowledged after {:.1}s; destroying the domain", acked.at.as_secs_f64());
    dom.dom0("xl destroy kv")?;
    if dom.wait_end(LIMIT)? != Outcome::Destroyed {
        return Err(err!("kv was not destroyed"));
    }
    let mut dom = boot("kv", vec![("extra", format!("\"mode=verify count=1000 nonce={nonce}\"")), disk])?;
    // 1000 puts and 10 puts + 10 deletes.
    dom.wait_for("kv: replayed 1020 records (1000 keys", LIMIT)?;
    dom.wait_for(&format!("kv: PASS served 1000 values of nonce {nonce}"), LIMIT)?;
    match dom.wait_end(LIMIT)? {
        Outcome::Poweroff => Ok(()),
        o => Err(err!("kv verify ended with {o:?}, expected a poweroff")),
    }
}

/// Rows for `cargo xtask bench block`: blkcheck's throughput and IOPS (the Linux reference guest's
/// side is not measured yet).
pub fn bench_rows(p: &crate::util::Progress) -> Result<Vec<crate::bench::Row>> {
    p.step("bench: block: blkcheck on a 512-byte-sector disk");
    let mut rows = Vec::new();
    for (name, value) in bench()? {
        let (label, unit): (&'static str, &'static str) = match name.as_str() {
            "seq_write_mib_s" => ("block seq write 1 MiB + flush (MiB/s)", "MiB/s"),
            "seq_read_mib_s" => ("block seq read 1 MiB (MiB/s)", "MiB/s"),
            "randread_4k_iops_qd1" => ("block 4 KiB random read qd1 (IOPS)", "IOPS"),
            "randread_4k_iops_qd16" => ("block 4 KiB random read qd16 (IOPS)", "IOPS"),
            _ => continue,
        };
        let ours = crate::bench::Stats::one(value);
        rows.push(crate::bench::Row { name: label, unit, ours, reference: None, lower_is_better: false });
    }
    Ok(rows)
}

/// Block throughput of blkcheck on a 512-byte-sector disk: the values of its
/// `blkcheck: bench` line, e.g. `[("seq_write_mib_s", 4.3), ("seq_read_mib_s", 4.4),
/// ("randread_4k_iops_qd1", 58.0), ("randread_4k_iops_qd16", 114.0)]`.
fn bench() -> Result<Vec<(String, f64)>> {
    let lines = blkcheck(512)?;
    let line = lines.first().ok_or_else(|| err!("blkcheck printed no bench line"))?;
    Ok(parse_bench(line))
}

/// `key=value` pairs with numeric values in a `blkcheck: bench ...` line.
fn parse_bench(line: &str) -> Vec<(String, f64)> {
    line.split_whitespace()
        .filter_map(|w| {
            let (k, v) = w.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bench_lines() {
        let got = parse_bench(
            "blkcheck: bench xvda seq_write_mib_s=4.29 seq_read_mib_s=4.38 randread_4k_iops_qd1=58 randread_4k_iops_qd16=114",
        );
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], ("seq_write_mib_s".to_string(), 4.29));
        assert_eq!(got[3], ("randread_4k_iops_qd16".to_string(), 114.0));
    }
}
