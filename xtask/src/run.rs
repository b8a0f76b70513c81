//! `cargo xtask run NAME`: build the image, boot it in the lab, stream its console, and exit 0
//! only when the domain powered off.

use std::time::Duration;

use crate::domain::{CreateOpts, Domain, Outcome};
use crate::err;
use crate::images;
use crate::lab::qemu;
use crate::util::{Progress, Result};

pub fn run(p: &Progress, cfg_name: &str, timeout: Duration) -> Result<i32> {
    if !images::is_prebuilt(cfg_name) {
        if let Some(example) = images::example_of_config(cfg_name)? {
            p.step(format!("run: building {example}"));
            images::build(&example)?;
        }
    }
    qemu::up(p)?;
    p.step(format!("run: xl create xl-configs/{cfg_name}.cfg"));
    let mut dom = Domain::create(cfg_name, CreateOpts { overrides: vec![], echo: true })?;
    p.step(format!("run: domain {} is d{}; console follows", dom.name, dom.domid));
    let outcome = dom.wait_end(timeout)?;
    let secs = dom.created.elapsed().as_secs_f64();
    match outcome {
        Outcome::Poweroff => {
            p.step(format!("run: {} powered off after {secs:.1}s", dom.name));
            Ok(0)
        }
        other => Err(err!("domain {} ended with {other:?} after {secs:.1}s", dom.name)),
    }
}
