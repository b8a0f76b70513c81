//! Boots the real images in plain QEMU (no Xen): QEMU enters PVH ELF images through the same
//! XEN_ELFNOTE_PHYS32_ENTRY note Xen uses. This checks the whole boot path on the host — 32-bit entry,
//! paging, long mode, GDT/IDT, start-info parsing (QEMU writes one too), RAM above 4 GiB, exceptions —
//! and that the images detect "not on Xen" and report on port 0xe9 instead of faulting. QEMU's
//! isa-debug-exit device turns the guest's stop into an exit status: (code << 1) | 1.
//! The Xen side (PV console, hypercalls, shutdown reasons) is tested in the lab (`cargo xtask test`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Builds the example images once (release, as the lab does) and returns the directory holding them.
fn images() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(examples_dir())
            .args(["build", "--release", "-p", "hello", "-p", "crash"])
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the example images failed");
        examples_dir().join("target/x86_64-unknown-none/release")
    })
}

struct Run {
    out: String,
    exit: Option<i32>,
}

fn boot(image: &str, mem_mib: u32, cmdline: &str) -> Run {
    let image = images().join(image);
    let out = Command::new("timeout")
        .arg("60")
        .arg("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-smp", "2", "-display", "none", "-no-reboot", "-nic", "none"])
        .args(["-monitor", "none", "-serial", "none", "-debugcon", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=1"])
        .args(["-m", &mem_mib.to_string()])
        .arg("-kernel")
        .arg(&image)
        .args(["-append", cmdline])
        .output()
        .expect("qemu-system-x86_64 must be installed (apt-get install qemu-system-x86)");
    Run { out: String::from_utf8_lossy(&out.stdout).into_owned(), exit: out.status.code() }
}

#[test]
fn hello_boots_and_powers_off() {
    let r = boot("hello", 128, "greeting=from-qemu x=1");
    assert!(r.out.contains("not running on Xen"), "{}", r.out);
    assert!(r.out.contains("\nHello from Xenolith\n"), "{}", r.out);
    assert!(r.out.contains("Command line: greeting=from-qemu x=1\n"), "{}", r.out);
    assert!(r.out.contains("Memory: 127 MiB\n"), "{}", r.out);
    assert_eq!(r.exit, Some(1), "poweroff is QEMU exit status 1\n{}", r.out);
}

#[test]
fn hello_maps_ram_above_4g() {
    let r = boot("hello", 5000, "");
    // QEMU puts RAM beyond ~2-3 GiB above 4 GiB; the boot code maps and probes it.
    assert!(r.out.contains("Memory: 4999 MiB ("), "{}", r.out);
    assert!(r.out.contains("above 4 GiB, mapped)"), "{}", r.out);
    assert_eq!(r.exit, Some(1), "{}", r.out);
}

#[test]
fn hello_boots_in_4_mib() {
    let r = boot("hello", 4, "tiny");
    assert!(r.out.contains("Hello from Xenolith"), "{}", r.out);
    assert_eq!(r.exit, Some(1), "{}", r.out);
}

#[test]
fn crash_reports_the_page_fault() {
    let r = boot("crash", 64, "");
    for needle in ["EXCEPTION 14 (#PF page fault) error code 0x0", "CR2 0x0000000000000010", "RIP 0x", "RSP 0x",
                   "R15 0x", "stack walk", "#1 0x", "crashed, shutting down with reason crash"] {
        assert!(r.out.contains(needle), "missing {needle:?}:\n{}", r.out);
    }
    assert_eq!(r.exit, Some(7), "crash is QEMU exit status 7\n{}", r.out);
}

#[test]
fn panic_prints_message_and_location() {
    let r = boot("crash", 64, "panic");
    assert!(r.out.contains("PANIC at crash/src/main.rs:"), "{}", r.out);
    assert!(r.out.contains("deliberate panic from the crash example"), "{}", r.out);
    assert_eq!(r.exit, Some(7), "{}", r.out);
}

#[test]
fn stack_overflow_hits_the_guard_page() {
    let r = boot("crash", 64, "overflow");
    assert!(r.out.contains("EXCEPTION 14 (#PF page fault) error code 0x2"), "{}", r.out);
    assert_eq!(r.exit, Some(7), "{}", r.out);
}
