//! Tests that run in the lab, against real Xen. Each waits for explicit markers with generous
//! timeouts (TCG is slow) and prints what it saw, so a log shows the evidence.

pub(crate) mod block;
mod boot;
#[path = "core.rs"] mod core_tests;
mod dom0;
mod linux_ref;
pub(crate) mod net;
mod xenstore;

use crate::util::Result;

pub struct LabTest {
    pub name: &'static str,
    pub run: fn() -> Result<()>,
}

/// Lab tests that are known to fail some of the time, with the reason. They are listed as
/// ignored, not run, unless `XENOLITH_RUN_KNOWN_BUGS=1`; each one is an open bug.
pub const KNOWN_BUGS: &[(&str, &str)] = &[];

pub fn known_bug(name: &str) -> Option<&'static str> {
    if std::env::var("XENOLITH_RUN_KNOWN_BUGS").is_ok_and(|v| v == "1") {
        return None;
    }
    KNOWN_BUGS.iter().find(|(n, _)| *n == name).map(|(_, why)| *why)
}

pub fn all() -> Vec<LabTest> {
    let mut v = Vec::new();
    v.extend(dom0::tests());
    v.extend(boot::tests());
    v.extend(linux_ref::tests());
    v.extend(xenstore::tests());
    v.extend(block::tests());
    v.extend(core_tests::tests());
    v.extend(net::tests());
    v
}
