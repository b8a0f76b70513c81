//! Bounded fuzzing of every target in `fuzz/` (cargo-fuzz, nightly), as part of `cargo xtask test`.

use std::process::Command;

use crate::err;
use crate::util::{have_program, output, repo_root, run, Progress, Result};

/// Seconds per target; `XENOLITH_FUZZ_SECS` overrides.
fn seconds() -> u64 {
    std::env::var("XENOLITH_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20)
}

fn ensure_tools(p: &Progress) -> Result<()> {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"]))?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        p.step("fuzz: rustup toolchain install nightly");
        run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    let have_fuzz = have_program("cargo-fuzz")
        || Command::new("cargo").args(["fuzz", "--version"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !have_fuzz {
        p.step("fuzz: cargo install cargo-fuzz");
        run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    Ok(())
}

/// Runs each target for a bounded time; returns (passed, failed).
pub fn fuzz(p: &Progress) -> Result<(usize, usize)> {
    ensure_tools(p)?;
    let dir = repo_root().join("fuzz");
    let list = output(Command::new("cargo").current_dir(&dir).args(["+nightly", "fuzz", "list"]))?;
    let targets: Vec<&str> = list.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if targets.is_empty() {
        return Err(err!("cargo fuzz list found no targets in {}", dir.display()));
    }
    let secs = seconds();
    let (mut passed, mut failed) = (0, 0);
    for t in targets {
        p.step(format!("fuzz: {t} for {secs}s"));
        let ok = Command::new("cargo")
            .current_dir(&dir)
            .args(["+nightly", "fuzz", "run", t, "--"])
            .arg(format!("-max_total_time={secs}"))
            .args(["-rss_limit_mb=2048", "-print_final_stats=1"])
            .status()?
            .success();
        if ok {
            passed += 1;
            println!("--- fuzz {t} ... ok");
        } else {
            failed += 1;
            println!("--- fuzz {t} ... FAILED (reproducer under fuzz/artifacts/{t}/)");
        }
    }
    Ok((passed, failed))
}
