//! The host packages the lab needs, installed with apt when we are root.

use std::process::Command;

use crate::util::{have_program, is_root, run, Progress, Result};
use crate::err;

/// (program that must exist, Debian package that brings it)
const NEEDS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("debootstrap", "debootstrap"),
    ("cpio", "cpio"),
    ("gzip", "gzip"),
];
/// Files (not programs on PATH) that must exist.
const NEED_FILES: &[(&str, &str)] = &[("/bin/busybox", "busybox-static")];

fn missing() -> Vec<&'static str> {
    let mut pkgs: Vec<&str> = NEEDS.iter().filter(|(p, _)| !have_program(p)).map(|(_, k)| *k).collect();
    // The reference guest needs a *static* busybox; the dynamic one of package `busybox` will not do.
    for (f, k) in NEED_FILES {
        if !is_static_elf(f) {
            pkgs.push(k);
        }
    }
    pkgs
}

/// An ELF with no PT_INTERP program header is static.
fn is_static_elf(path: &str) -> bool {
    let Ok(data) = std::fs::read(path) else { return false };
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 {
        return false;
    }
    let u = |o: usize, n: usize| -> u64 {
        data.get(o..o + n).map(|b| b.iter().rev().fold(0u64, |a, x| a << 8 | *x as u64)).unwrap_or(0)
    };
    let (phoff, phentsize, phnum) = (u(32, 8) as usize, u(54, 2) as usize, u(56, 2) as usize);
    !(0..phnum).any(|i| u(phoff + i * phentsize, 4) == 3)
}

/// Makes sure the host has what the lab needs; installs it when root, else says how.
pub fn ensure(p: &Progress) -> Result<()> {
    let pkgs = missing();
    if pkgs.is_empty() {
        return Ok(());
    }
    let line = format!("apt-get install -y --no-install-recommends {}", pkgs.join(" "));
    if !is_root() {
        return Err(err!("the lab needs host packages; run as root:\n  apt-get update && {line}"));
    }
    p.step(format!("host: installing {}", pkgs.join(" ")));
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&pkgs)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    let still = missing();
    if !still.is_empty() {
        return Err(err!("still missing after apt-get install: {}", still.join(" ")));
    }
    Ok(())
}
