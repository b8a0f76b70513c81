//! What the application's `main` receives.

use pvh_boot::StartInfo;

/// The Xen version, when running on Xen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
    extra: [u8; 16],
    extra_len: usize,
}

impl Version {
    pub fn new(major: u16, minor: u16, extra: &str) -> Version {
        let mut buf = [0u8; 16];
        let n = extra.len().min(16);
        buf[..n].copy_from_slice(&extra.as_bytes()[..n]);
        // Cut at a char boundary so `extra()` stays valid UTF-8.
        let n = (0..=n).rev().find(|&i| extra.is_char_boundary(i)).unwrap_or(0);
        Version { major, minor, extra: buf, extra_len: n }
    }

    pub fn extra(&self) -> &str {
        core::str::from_utf8(&self.extra[..self.extra_len]).unwrap_or("")
    }
}

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}{}", self.major, self.minor, self.extra())
    }
}

/// The environment of this unikernel.
pub struct Context {
    start_info: StartInfo,
    xen_version: Option<Version>,
    high_ram_mapped: u64,
    /// The xenstore connection, set by the async runtime before `main`.
    #[cfg(all(target_os = "none", feature = "executor"))]
    xenstore: Option<alloc::rc::Rc<crate::xenstore::Xenstore>>,
}

impl Context {
    pub fn new(start_info: StartInfo, xen_version: Option<Version>, high_ram_mapped: u64) -> Context {
        Context {
            start_info,
            xen_version,
            high_ram_mapped,
            #[cfg(all(target_os = "none", feature = "executor"))]
            xenstore: None,
        }
    }

    /// The domain's xenstore client (see [`crate::xenstore`]); `None` when there is no connection (not
    /// on Xen, or the toolstack gave none). Clone the `Rc` to share it with local tasks.
    #[cfg(all(target_os = "none", feature = "executor"))]
    pub fn xenstore(&self) -> Option<&alloc::rc::Rc<crate::xenstore::Xenstore>> {
        self.xenstore.as_ref()
    }

    #[cfg(all(target_os = "none", feature = "executor"))]
    pub(crate) fn set_xenstore(&mut self, xs: alloc::rc::Rc<crate::xenstore::Xenstore>) {
        self.xenstore = Some(xs);
    }

    /// RAM above 4 GiB that is mapped (and was probed at boot), in bytes.
    pub fn memory_above_4g_bytes(&self) -> u64 {
        self.high_ram_mapped
    }

    /// The command line (`extra=` in the xl config); empty if it is not UTF-8.
    pub fn cmdline(&self) -> &str {
        self.start_info.cmdline().unwrap_or("")
    }

    /// RAM given to the domain, in bytes (sum of the memory map's RAM regions).
    pub fn memory_bytes(&self) -> u64 {
        self.start_info.ram_bytes()
    }

    /// Xen's version; `None` when not running on Xen.
    pub fn xen_version(&self) -> Option<Version> {
        self.xen_version
    }

    pub fn start_info(&self) -> &StartInfo {
        &self.start_info
    }
}

/// Formats a byte count as "N MiB" (rounded down), or "N KiB" below 1 MiB.
pub fn human_size(bytes: u64) -> impl core::fmt::Display {
    struct S(u64);
    impl core::fmt::Display for S {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            if self.0 >= 1 << 20 {
                write!(f, "{} MiB", self.0 >> 20)
            } else {
                write!(f, "{} KiB", self.0 >> 10)
            }
        }
    }
    S(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_display() {
        assert_eq!(Version::new(4, 17, ".7").to_string(), "4.17.7");
        assert_eq!(Version::new(4, 17, "").to_string(), "4.17");
        // Over-long extra strings are cut at a char boundary.
        let v = Version::new(1, 2, "0123456789abcdeé");
        assert_eq!(v.extra(), "0123456789abcde");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(128 << 20).to_string(), "128 MiB");
        assert_eq!(human_size((5000 << 20) - 1).to_string(), "4999 MiB");
        assert_eq!(human_size(640 << 10).to_string(), "640 KiB");
    }
}
