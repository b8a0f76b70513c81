//! Building unikernel images: `examples/NAME` for x86_64-unknown-none, copied to
//! `target/images/NAME`, the path the configs in `xl-configs/` name.

use std::path::PathBuf;
use std::process::Command;

use crate::err;
use crate::util::{repo_root, run, Result};

/// Configs whose kernel is not built from `examples/` (the Linux reference guest).
pub fn is_prebuilt(name: &str) -> bool {
    name == "linux-ref"
}

/// The example that a config boots: `kernel = "target/images/NAME"`.
pub fn example_of_config(cfg_name: &str) -> Result<Option<String>> {
    let path = repo_root().join("xl-configs").join(format!("{cfg_name}.cfg"));
    let cfg = std::fs::read_to_string(&path).map_err(|e| err!("cannot read {}: {e}", path.display()))?;
    Ok(crate::xlcfg::get_string(&cfg, "kernel")
        .and_then(|k| k.strip_prefix("target/images/").map(str::to_string)))
}

/// Builds `examples/NAME` in release mode and returns the installed image's path.
pub fn build(name: &str) -> Result<PathBuf> {
    crate::lab::host::ensure_rust_target(&crate::util::Progress::new())?;
    let root = repo_root();
    let examples = root.join("examples");
    if !examples.join(name).join("Cargo.toml").exists() {
        return Err(err!("there is no example {name:?} (no examples/{name}/Cargo.toml)"));
    }
    run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&examples)
        .args(["build", "--release", "--package", name]))?;
    let built = examples.join("target/x86_64-unknown-none/release").join(name);
    let dest_dir = root.join("target/images");
    std::fs::create_dir_all(&dest_dir)?;
    let dest = dest_dir.join(name);
    std::fs::copy(&built, &dest).map_err(|e| err!("cannot copy {}: {e}", built.display()))?;
    Ok(dest)
}
