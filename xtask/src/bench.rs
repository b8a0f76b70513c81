//! `cargo xtask bench`: figures measured in one lab session, each beside the Linux reference
//! guest measured in the same run. Prints a table and writes `target/bench/results.json`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::domain::{CreateOpts, Domain};
use crate::err;
use crate::images;
use crate::lab::qemu;
use crate::util::{repo_root, Progress, Result};

/// Runs per boot-time measurement.
const RUNS: usize = 5;
const BOOT_LIMIT: Duration = Duration::from_secs(180);

/// min / median / max of a sample, in the sample's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(samples: &[f64]) -> Option<Stats> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Stats { min: v[0], median, max: v[n - 1] })
    }

    /// A single measurement.
    pub fn one(x: f64) -> Stats {
        Stats { min: x, median: x, max: x }
    }
}

/// One row of the results: a figure of ours and the reference guest's, same unit.
pub struct Row {
    pub name: &'static str,
    pub unit: &'static str,
    pub ours: Stats,
    pub reference: Option<Stats>,
    /// Lower is better (times, sizes) or higher (throughput).
    pub lower_is_better: bool,
}

impl Row {
    /// How many times better ours is than the reference (>1: ours is better), by median.
    pub fn advantage(&self) -> Option<f64> {
        let r = self.reference?;
        if self.lower_is_better {
            Some(r.median / self.ours.median)
        } else {
            Some(self.ours.median / r.median)
        }
    }
}

/// Seconds from the start of `xl create` until a console line containing `marker`.
fn time_to(cfg: &str, overrides: Vec<(&str, String)>, marker: &str) -> Result<f64> {
    let mut dom = Domain::create(cfg, CreateOpts { overrides, echo: false })?;
    let line = dom.wait_for(marker, BOOT_LIMIT)?;
    dom.destroy();
    Ok(line.at.as_secs_f64())
}

pub fn sample(p: &Progress, what: &str, mut f: impl FnMut() -> Result<f64>) -> Result<Stats> {
    let mut v = Vec::new();
    for i in 0..RUNS {
        let x = f()?;
        p.step(format!("bench: {what}: run {}/{RUNS}: {x:.3}", i + 1));
        v.push(x);
    }
    Stats::of(&v).ok_or_else(|| err!("no samples for {what}"))
}

/// The parts of `cargo xtask bench`, each measured beside the Linux reference guest.
pub const SECTIONS: &[&str] = &["boot", "net", "block"];

/// Runs the named sections (all when `only` is empty), prints the table, writes the JSON.
pub fn bench(p: &Progress, only: &[&str]) -> Result<i32> {
    if let Some(bad) = only.iter().find(|s| !SECTIONS.contains(s)) {
        return Err(err!("unknown bench section {bad:?}; sections: {}", SECTIONS.join(", ")));
    }
    let wanted = |s: &str| only.is_empty() || only.contains(&s);
    qemu::up(p)?;
    let mut rows = Vec::new();
    if wanted("boot") {
        rows.extend(boot_rows(p)?);
    }
    if wanted("net") {
        rows.extend(crate::labtests::net::bench_rows(p)?);
    }
    if wanted("block") {
        rows.extend(crate::labtests::block::bench_rows(p)?);
    }
    print_table(&rows);
    let dir = repo_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    std::fs::write(&path, to_json(&rows))?;
    p.step(format!("bench: results written to {}", path.display()));
    Ok(0)
}

/// Image size and boot time: hello beside the reference guest booted without devices.
fn boot_rows(p: &Progress) -> Result<Vec<Row>> {
    p.step("bench: building hello");
    let image = images::build("hello")?;
    let stripped = std::fs::metadata(&image)?.len() as f64;
    let size = std::fs::metadata(images::paths("hello").0)?.len() as f64;

    // The reference guest boots without devices here, like hello: this measures the boot path.
    let no_devices = || vec![("vif", "[]".to_string()), ("disk", "[]".to_string())];
    let hello = sample(p, "hello: xl create -> greeting (s)", || {
        time_to("hello", vec![], "Hello from Xenolith")
    })?;
    let ref_first = sample(p, "linux-ref: xl create -> first console line (s)", || {
        time_to("linux-ref", no_devices(), "Linux version")
    })?;
    let ref_init = sample(p, "linux-ref: xl create -> init (s)", || {
        time_to("linux-ref", no_devices(), "xenolith-ref: init")
    })?;
    let ref_kernel = std::fs::metadata(repo_root().join("target/lab/boot/vmlinuz"))?.len() as f64
        + std::fs::metadata(repo_root().join("target/lab/boot/linux-ref.cpio.gz"))?.len() as f64;

    let one = Stats::one;
    Ok(vec![
        Row {
            name: "hello image size, stripped (KiB)",
            unit: "KiB",
            ours: one(stripped / 1024.0),
            reference: Some(one(ref_kernel / 1024.0)),
            lower_is_better: true,
        },
        Row { name: "hello image size, as built (KiB)", unit: "KiB", ours: one(size / 1024.0), reference: None, lower_is_better: true },
        Row {
            name: "xl create -> first output (s)",
            unit: "s",
            ours: hello,
            reference: Some(ref_first),
            lower_is_better: true,
        },
        Row {
            name: "xl create -> app running (s)",
            unit: "s",
            ours: hello,
            reference: Some(ref_init),
            lower_is_better: true,
        },
    ])
}

pub fn print_table(rows: &[Row]) {
    println!("\n{:<36} {:>28} {:>28} {:>9}", "figure", "Xenolith min/median/max", "Linux ref min/median/max", "ratio");
    for r in rows {
        let f = |s: &Stats| format!("{:.2}/{:.2}/{:.2}", s.min, s.median, s.max);
        let reference = r.reference.as_ref().map(f).unwrap_or_else(|| "-".into());
        let adv = r.advantage().map(|a| format!("{a:.2}x")).unwrap_or_else(|| "-".into());
        println!("{:<36} {:>28} {:>28} {:>9}", r.name, f(&r.ours), reference, adv);
    }
    println!("(ratio: how many times better Xenolith is than the Linux reference guest, by median)");
}

pub fn to_json(rows: &[Row]) -> String {
    let stats = |s: &Stats| format!("{{\"min\": {:.6}, \"median\": {:.6}, \"max\": {:.6}}}", s.min, s.median, s.max);
    let mut out = String::from("{\n  \"results\": [\n");
    for (i, r) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {{\"name\": \"{}\", \"unit\": \"{}\", \"lower_is_better\": {}, \"xenolith\": {}, \"linux_ref\": {}, \"advantage\": {}}}{}",
            r.name,
            r.unit,
            r.lower_is_better,
            stats(&r.ours),
            r.reference.as_ref().map(stats).unwrap_or_else(|| "null".into()),
            r.advantage().map(|a| format!("{a:.4}")).unwrap_or_else(|| "null".into()),
            if i + 1 < rows.len() { "," } else { "" }
        );
    }
    out.push_str("  ]\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_odd_and_even_samples() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]), Some(Stats { min: 1.0, median: 2.0, max: 3.0 }));
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]), Some(Stats { min: 1.0, median: 2.5, max: 4.0 }));
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn advantage_follows_direction() {
        let s = |x| Stats { min: x, median: x, max: x };
        let time = Row { name: "t", unit: "s", ours: s(1.0), reference: Some(s(4.0)), lower_is_better: true };
        assert_eq!(time.advantage(), Some(4.0));
        let tput = Row { name: "b", unit: "MB/s", ours: s(50.0), reference: Some(s(100.0)), lower_is_better: false };
        assert_eq!(tput.advantage(), Some(0.5));
        let json = to_json(&[time, tput]);
        assert!(json.contains("\"advantage\": 4.0000"), "{json}");
        assert!(json.contains("\"advantage\": 0.5000"), "{json}");
    }
}
