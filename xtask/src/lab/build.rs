//! `cargo xtask lab build`: the dom0 root file system, Xen, the kernel, the reference guest.
//!
//! Each stage is keyed on the content of its inputs (a stamp file holds the key), so running
//! the build again is a no-op when nothing changed, and a changed input rebuilds only what
//! depends on it.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::host;
use super::layout::Layout;
use crate::err;
use crate::util::{fnv1a, is_root, output, run, run_quiet, Context, Progress, Result, FNV_SEED};

const SUITE: &str = "bookworm";
/// dom0 user land (debootstrap --include); the chroot step adds Xen and the kernel.
const DOM0_PACKAGES: &str =
    "xen-utils-4.17,xenstore-utils,iproute2,busybox,kmod,iputils-ping,bridge-utils,procps,util-linux";
const ROOTFS_SETUP: &str = include_str!("../../files/rootfs-setup.sh");
const DOM0_INIT: &str = include_str!("../../files/dom0-init.sh");
const REF_INIT: &str = include_str!("../../files/linux-ref-init.sh");
/// Benchmark modes of the reference guest (`xenolith.mode=NAME` runs `/modes/NAME.sh`), one file each.
const REF_MODES: &[(&str, &str)] = &[
    ("serve", include_str!("../../files/linux-ref-mode-serve.sh")),
    ("blkbench", include_str!("../../files/linux-ref-mode-blkbench.sh")),
];
/// The reference guest's /bin/blkbench (O_DIRECT block benchmark; std only, linked statically).
const REF_BLKBENCH: &str = include_str!("../../files/linux-ref-mode-blkbench.rs");

fn mirror() -> String {
    std::env::var("XENOLITH_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into())
}
fn security_mirror() -> String {
    std::env::var("XENOLITH_DEBIAN_SECURITY_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian-security".into())
}

struct Stamp<'a> {
    layout: &'a Layout,
    name: &'static str,
    key: u64,
}

impl Stamp<'_> {
    fn fresh(&self) -> bool {
        fs::read_to_string(self.layout.stamps().join(self.name)).ok().as_deref()
            == Some(format!("{:016x}\n", self.key).as_str())
    }
    fn invalidate(&self) {
        let _ = fs::remove_file(self.layout.stamps().join(self.name));
    }
    fn write(&self) -> Result<()> {
        fs::create_dir_all(self.layout.stamps())?;
        fs::write(self.layout.stamps().join(self.name), format!("{:016x}\n", self.key))?;
        Ok(())
    }
}

/// Builds whatever is out of date. Returns quickly when everything is current.
pub fn build(p: &Progress) -> Result<()> {
    let l = Layout::new();
    fs::create_dir_all(&l.dir).context(|| format!("cannot create {}", l.dir.display()))?;

    let rootfs_key = fnv1a(
        format!("{SUITE}|{DOM0_PACKAGES}|{}|{}|{ROOTFS_SETUP}", mirror(), security_mirror()).as_bytes(),
        FNV_SEED,
    );
    let rootfs = Stamp { layout: &l, name: "rootfs", key: rootfs_key };
    if !rootfs.fresh() || !l.xen().exists() || !l.vmlinuz().exists() {
        need_root_and_host(p)?;
        build_rootfs(p, &l, &rootfs)?;
    } else {
        p.step("lab build: dom0 root file system is up to date");
    }

    p.step("lab build: building lab-agent");
    let agent = build_agent(&l)?;
    let agent_bytes = fs::read(&agent)?;
    let dom0_key = fnv1a(&agent_bytes, fnv1a(DOM0_INIT.as_bytes(), rootfs_key));
    let dom0 = Stamp { layout: &l, name: "dom0-cpio", key: dom0_key };
    if !dom0.fresh() || !l.dom0_cpio().exists() {
        need_root_and_host(p)?;
        pack_dom0(p, &l, &agent, &dom0)?;
    } else {
        p.step("lab build: dom0 initramfs is up to date");
    }

    let busybox = fs::read("/bin/busybox").unwrap_or_default();
    let modes_key = REF_MODES.iter().fold(rootfs_key, |k, (n, m)| fnv1a(m.as_bytes(), fnv1a(n.as_bytes(), k)));
    let ref_key = fnv1a(&busybox, fnv1a(REF_INIT.as_bytes(), fnv1a(REF_BLKBENCH.as_bytes(), modes_key)));
    let reference = Stamp { layout: &l, name: "linux-ref", key: ref_key };
    if !reference.fresh() || !l.ref_initrd().exists() {
        need_root_and_host(p)?;
        pack_reference_guest(p, &l, &reference)?;
    } else {
        p.step("lab build: Linux reference guest is up to date");
    }
    p.step(format!("lab build: done; everything is under {}", l.dir.display()));
    Ok(())
}

fn need_root_and_host(p: &Progress) -> Result<()> {
    host::ensure(p, host::LAB)?;
    if !is_root() {
        return Err(err!(
            "building the lab needs root (debootstrap, chroot, mount); run `sudo cargo xtask lab build`"
        ));
    }
    Ok(())
}

fn build_rootfs(p: &Progress, l: &Layout, stamp: &Stamp) -> Result<()> {
    stamp.invalidate();
    let root = l.rootfs();
    if root.exists() {
        p.step("lab build: removing the old dom0 root file system");
        unmount_below(&root);
        fs::remove_dir_all(&root).context(|| format!("cannot remove {}", root.display()))?;
    }
    p.step(format!("lab build: debootstrap {SUITE} (minbase + Xen tools) from {}", mirror()));
    run_quiet(Command::new("debootstrap").args([
        "--variant=minbase",
        &format!("--include={DOM0_PACKAGES}"),
        SUITE,
        root.to_str().expect("UTF-8 path"),
        &mirror(),
    ]))?;

    p.step("lab build: updating dom0 packages, installing Xen 4.17 and the Debian kernel (chroot)");
    fs::write(root.join("tmp/setup.sh"), ROOTFS_SETUP)?;
    run(Command::new("mount").args(["-t", "proc", "proc"]).arg(root.join("proc")))?;
    let res = run_quiet(
        Command::new("chroot")
            .arg(&root)
            .args(["/bin/sh", "/tmp/setup.sh", &mirror(), &security_mirror(), SUITE])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    );
    unmount_below(&root);
    res?;

    p.step("lab build: extracting Xen and the kernel");
    let boot = l.xen().parent().expect("boot dir").to_path_buf();
    fs::create_dir_all(&boot)?;
    let xen_gz = find_one(&root.join("boot"), |n| n.starts_with("xen-4.17") && n.ends_with(".gz"))?;
    let xen = output(Command::new("sh").arg("-c").arg(format!(
        "zcat '{}' > '{}' && echo ok",
        xen_gz.display(),
        l.xen().display()
    )))?;
    if xen.trim() != "ok" {
        return Err(err!("cannot decompress {}", xen_gz.display()));
    }
    let vmlinuz = find_one(&root.join("boot"), |n| n.starts_with("vmlinuz-"))?;
    fs::copy(&vmlinuz, l.vmlinuz())?;
    // dom0 boots these from QEMU, and the reference guest's kernel is read from target/lab/boot
    // over 9p: no copy is needed inside the initramfs.
    for e in fs::read_dir(root.join("boot"))? {
        let e = e?;
        if e.file_type()?.is_file() {
            fs::remove_file(e.path())?;
        }
    }
    stamp.write()
}

/// Unmounts anything left mounted inside the chroot (after a failed or finished setup).
fn unmount_below(root: &Path) {
    let Ok(mounts) = fs::read_to_string("/proc/mounts") else { return };
    let mut below: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| Path::new(m).starts_with(root) && Path::new(m) != root)
        .collect();
    below.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in below {
        let _ = Command::new("umount").arg("-l").arg(m).status();
    }
}

fn find_one(dir: &Path, pred: impl Fn(&str) -> bool) -> Result<std::path::PathBuf> {
    let mut hits: Vec<_> = fs::read_dir(dir)
        .context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).map(&pred).unwrap_or(false))
        .collect();
    hits.sort();
    hits.pop().ok_or_else(|| err!("nothing matching in {}", dir.display()))
}

/// Builds the dom0 agent for the host (Debian 12, the same glibc as the bookworm dom0).
fn build_agent(l: &Layout) -> Result<std::path::PathBuf> {
    run_quiet(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&l.repo)
            .args(["build", "--quiet", "--release", "--package", "xtask", "--bin", "lab-agent"]),
    )?;
    Ok(l.repo.join("target/release/lab-agent"))
}

fn pack_dom0(p: &Progress, l: &Layout, agent: &Path, stamp: &Stamp) -> Result<()> {
    stamp.invalidate();
    let root = l.rootfs();
    p.step("lab build: installing the dom0 init and agent");
    fs::write(root.join("init"), DOM0_INIT)?;
    set_exec(&root.join("init"))?;
    fs::create_dir_all(root.join("usr/local/bin"))?;
    fs::copy(agent, root.join("usr/local/bin/lab-agent"))?;
    p.step("lab build: packing the dom0 initramfs");
    pack_cpio(&root, &l.dom0_cpio(), false)?;
    let mb = fs::metadata(l.dom0_cpio())?.len() / (1 << 20);
    p.step(format!("lab build: dom0 initramfs is {mb} MiB"));
    stamp.write()
}

fn pack_reference_guest(p: &Progress, l: &Layout, stamp: &Stamp) -> Result<()> {
    stamp.invalidate();
    p.step("lab build: packing the Linux reference guest (busybox + xen-netfront + xen-blkfront)");
    let dir = l.dir.join("linux-ref-root");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    for d in ["bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "etc", "lib/modules", "modes"] {
        fs::create_dir_all(dir.join(d))?;
    }
    fs::copy("/bin/busybox", dir.join("bin/busybox"))?;
    fs::write(dir.join("init"), REF_INIT)?;
    set_exec(&dir.join("init"))?;
    for (name, script) in REF_MODES {
        fs::write(dir.join("modes").join(format!("{name}.sh")), script)?;
    }
    let src = l.dir.join("linux-ref-blkbench.rs");
    fs::write(&src, REF_BLKBENCH)?;
    run_quiet(Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())).arg("-O").args(["--edition", "2021"]).args(["-C", "target-feature=+crt-static", "-C", "strip=symbols", "-o"]).arg(dir.join("bin/blkbench")).arg(&src))?;
    let modules = find_one(&l.rootfs().join("lib/modules"), |_| true)?;
    for name in ["xen-netfront.ko", "xen-blkfront.ko"] {
        let found = output(Command::new("find").arg(&modules).args(["-name", name]))?;
        let src = found.lines().next().ok_or_else(|| err!("{name} is not in {}", modules.display()))?;
        fs::copy(src, dir.join("lib/modules").join(name))?;
    }
    pack_cpio(&dir, &l.ref_initrd(), true)?;
    stamp.write()
}

fn pack_cpio(dir: &Path, out: &Path, gzip: bool) -> Result<()> {
    let tmp = out.with_extension("tmp");
    let compress = if gzip { "| gzip -1" } else { "" };
    run(Command::new("sh").current_dir(dir).arg("-c").arg(format!(
        "find . -print0 | cpio --null --create --format=newc --quiet {compress} > '{}'",
        tmp.display()
    )))?;
    fs::rename(&tmp, out)?;
    Ok(())
}

fn set_exec(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}
