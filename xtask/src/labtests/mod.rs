//! Tests that run in the lab, against real Xen. Each waits for explicit markers with generous
//! timeouts (TCG is slow) and prints what it saw, so a log shows the evidence.

mod block;
mod boot;
#[path = "core.rs"] mod core_tests;
mod dom0;
mod linux_ref;
mod xenstore;

use crate::util::Result;

pub struct LabTest {
    pub name: &'static str,
    pub run: fn() -> Result<()>,
}

pub fn all() -> Vec<LabTest> {
    let mut v = Vec::new();
    v.extend(dom0::tests());
    v.extend(boot::tests());
    v.extend(linux_ref::tests());
    v.extend(xenstore::tests());
    v.extend(block::tests());
    v.extend(core_tests::tests());
    v
}
