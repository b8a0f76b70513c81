//! `cargo xtask test`: the host tests of the workspace, then the lab tests against real Xen.

use std::process::Command;
use std::time::Instant;

use crate::lab::{host, qemu};
use crate::labtests;
use crate::util::{repo_root, Progress, Result};

pub struct TestOpts {
    pub host: bool,
    pub fuzz: bool,
    pub lab: bool,
    pub filter: Option<String>,
}

pub fn test(p: &Progress, opts: &TestOpts) -> Result<i32> {
    let mut failed_groups = Vec::new();
    if opts.host {
        host::ensure(p, host::HOST_TESTS)?;
        host::ensure_rust_target(p)?;
        p.step("test: host tests (cargo test --workspace)");
        let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(repo_root())
            .args(["test", "--workspace"])
            .status()?
            .success();
        if !ok {
            failed_groups.push("host tests");
        }
    }
    if opts.fuzz {
        host::ensure(p, host::HOST_TESTS)?;
        let (passed, failed) = crate::fuzz::fuzz(p)?;
        if failed > 0 {
            failed_groups.push("fuzz targets");
        }
        println!("fuzz targets: {passed} passed, {failed} failed");
    }
    if opts.lab {
        let (passed, failed, ignored) = lab_tests(p, opts.filter.as_deref())?;
        if failed > 0 {
            failed_groups.push("lab tests");
        }
        println!("lab tests: {passed} passed, {failed} failed, {ignored} skipped");
    }
    if failed_groups.is_empty() {
        p.step("test: all passed");
        Ok(0)
    } else {
        p.step(format!("test: FAILED: {}", failed_groups.join(", ")));
        Ok(1)
    }
}

fn lab_tests(p: &Progress, filter: Option<&str>) -> Result<(usize, usize, usize)> {
    let was_up = qemu::is_up();
    qemu::up(p)?;
    let (mut passed, mut failed, mut ignored) = (0, 0, 0);
    let mut failures = Vec::new();
    let tests: Vec<_> = labtests::all().into_iter().filter(|t| filter.is_none_or(|f| t.name.contains(f))).collect();
    let total = tests.len();
    for t in tests {
        if !failures.is_empty() && !crate::lab::client::agent_answers() {
            // A hung dom0 would make every later test wait out its timeouts.
            println!("\nthe lab stopped answering: {} lab tests not run", total - passed - failed - ignored);
            failed = total - passed - ignored;
            break;
        }
        if let Some(why) = labtests::known_bug(t.name) {
            ignored += 1;
            println!("\n--- {} ... ignored (known bug: {why})", t.name);
            continue;
        }
        println!("\n=== lab test {} ===", t.name);
        let start = Instant::now();
        match (t.run)() {
            Ok(()) => {
                passed += 1;
                println!("--- {} ... ok ({:.1}s)", t.name, start.elapsed().as_secs_f64());
            }
            Err(e) => {
                failed += 1;
                println!("--- {} ... FAILED ({:.1}s): {e}", t.name, start.elapsed().as_secs_f64());
                failures.push(t.name);
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailed lab tests:");
        for f in &failures {
            println!("    {f}");
        }
    }
    if !was_up {
        qemu::down(p)?;
    }
    Ok((passed, failed, ignored))
}
