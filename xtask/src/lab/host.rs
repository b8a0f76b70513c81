//! The host packages the lab needs, installed with apt when we are root.

use std::process::Command;

use crate::util::{have_program, is_root, run, Progress, Result};
use crate::err;

/// (program that must exist, Debian package that brings it): what the lab needs.
pub const LAB: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("debootstrap", "debootstrap"),
    ("cpio", "cpio"),
    ("gzip", "gzip"),
    ("/bin/busybox", "busybox-static"),
];
/// What the host tests and fuzz targets need: C and C++ compilers (layout checks, libFuzzer) and
/// Xen's public headers (layout checks).
pub const HOST_TESTS: &[(&str, &str)] = &[("gcc", "gcc"), ("g++", "g++"), ("/usr/include/xen/xen.h", "libxen-dev")];

/// A need is a program on PATH, or an absolute file path. `/bin/busybox` must be *static*: the
/// reference guest runs it alone, so the dynamic one of package `busybox` will not do.
fn missing(needs: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    needs
        .iter()
        .filter(|(what, _)| match *what {
            "/bin/busybox" => !is_static_elf(what),
            f if f.starts_with('/') => !std::path::Path::new(f).exists(),
            prog => !have_program(prog),
        })
        .map(|(_, pkg)| *pkg)
        .collect()
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

/// Makes sure the host has `needs`; installs them when root, else says how.
pub fn ensure(p: &Progress, needs: &[(&'static str, &'static str)]) -> Result<()> {
    let pkgs = missing(needs);
    if pkgs.is_empty() {
        return Ok(());
    }
    let line = format!("apt-get install -y --no-install-recommends {}", pkgs.join(" "));
    if !is_root() {
        return Err(err!("host packages are missing; run as root:\n  apt-get update && {line}"));
    }
    p.step(format!("host: installing {}", pkgs.join(" ")));
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&pkgs)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    let still = missing(needs);
    if !still.is_empty() {
        return Err(err!("still missing after apt-get install: {}", still.join(" ")));
    }
    Ok(())
}

/// Makes sure the bare-metal target is installed (rust-toolchain.toml names it; older rustup
/// versions do not add targets to a toolchain that is already installed).
pub fn ensure_rust_target(p: &Progress) -> Result<()> {
    let installed = crate::util::output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|l| l.trim() == "x86_64-unknown-none") {
        return Ok(());
    }
    p.step("host: rustup target add x86_64-unknown-none");
    run(Command::new("rustup").args(["target", "add", "x86_64-unknown-none"]))
}
