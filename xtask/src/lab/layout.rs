//! Where the lab keeps its files. Everything lives under one directory (default `target/lab`
//! in the repository, or `$XENOLITH_LAB_DIR`), inside the folder that dom0 mounts over 9p at
//! `/lab`, so dom0 sees the same files at `/lab/<path relative to the repo>`.

use std::path::{Path, PathBuf};

use crate::util::repo_root;

/// Where dom0 mounts the repository (QEMU 9p share).
pub const DOM0_SHARE: &str = "/lab";

pub struct Layout {
    pub repo: PathBuf,
    pub dir: PathBuf,
}

impl Layout {
    pub fn new() -> Self {
        let repo = repo_root();
        let dir = std::env::var_os("XENOLITH_LAB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("target/lab"));
        Layout { repo, dir }
    }

    /// debootstrap output: the dom0 root file system before packing.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    /// The uncompressed Xen hypervisor (an ELF32 multiboot image that QEMU `-kernel` loads).
    pub fn xen(&self) -> PathBuf {
        self.dir.join("boot/xen-4.17-amd64")
    }
    /// The Debian kernel, used for dom0 and for the Linux reference guest.
    pub fn vmlinuz(&self) -> PathBuf {
        self.dir.join("boot/vmlinuz")
    }
    /// dom0's initramfs (the whole root file system).
    pub fn dom0_cpio(&self) -> PathBuf {
        self.dir.join("boot/dom0.cpio")
    }
    /// The Linux reference guest's initramfs.
    pub fn ref_initrd(&self) -> PathBuf {
        self.dir.join("boot/linux-ref.cpio.gz")
    }
    pub fn stamps(&self) -> PathBuf {
        self.dir.join("stamps")
    }
    /// Runtime state of a running lab: pid, port, logs.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state")
    }
    pub fn pidfile(&self) -> PathBuf {
        self.state().join("qemu.pid")
    }
    pub fn portfile(&self) -> PathBuf {
        self.state().join("agent.port")
    }
    pub fn serial_log(&self) -> PathBuf {
        self.state().join("serial.log")
    }
    pub fn monitor_sock(&self) -> PathBuf {
        self.state().join("monitor.sock")
    }
    /// dom0's /var/log/xen (bind-mounted from here): xl and console logs.
    pub fn xen_logs(&self) -> PathBuf {
        self.state().join("xen-logs")
    }
    pub fn console_log(&self, domain: &str) -> PathBuf {
        self.xen_logs().join(format!("console/guest-{domain}.log"))
    }
    pub fn xl_log(&self, domain: &str) -> PathBuf {
        self.xen_logs().join(format!("xl-{domain}.log"))
    }
    /// Configs rewritten for the lab (absolute /lab paths, lab-only settings).
    pub fn run_configs(&self) -> PathBuf {
        self.state().join("configs")
    }

    /// The path dom0 sees for a host path inside the repository.
    pub fn in_dom0(&self, host: &Path) -> Option<String> {
        let rel = host.strip_prefix(&self.repo).ok()?;
        Some(format!("{DOM0_SHARE}/{}", rel.display()))
    }

    /// A repository-relative path as dom0 sees it.
    pub fn rel_in_dom0(rel: &str) -> String {
        format!("{DOM0_SHARE}/{}", rel.trim_start_matches("./"))
    }
}
