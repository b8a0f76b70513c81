//! Building unikernel images: `examples/NAME` for x86_64-unknown-none, installed stripped as
//! `target/images/NAME` (the path the configs in `xl-configs/` name: what is deployed), with the
//! unstripped ELF beside it as the symbol side file `target/images/NAME.sym` (see `symbols.rs`).

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

/// The symbol side file and the image of `name`.
pub fn paths(name: &str) -> (PathBuf, PathBuf) {
    let dir = repo_root().join("target/images");
    (dir.join(format!("{name}.sym")), dir.join(name))
}

/// Builds `examples/NAME` in release mode and returns the installed (stripped) image's path.
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
    let (sym, dest) = paths(name);
    std::fs::create_dir_all(root.join("target/images"))?;
    std::fs::copy(&built, &sym).map_err(|e| err!("cannot copy {}: {e}", built.display()))?;
    run(Command::new("strip").arg("-o").arg(&dest).arg(&built))?;
    Ok(dest)
}
