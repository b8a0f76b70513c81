//! Ships the linker script to the final link of any image that depends on pvh-boot, wherever that
//! image's crate lives: the script is copied to OUT_DIR, which is added to the native library search
//! path (search paths propagate from dependencies to the final binary). The image then only needs
//! `-C link-arg=-Txenolith-pvh.ld` (lld looks `-T` scripts up in the search path).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::copy("link.ld", out.join("xenolith-pvh.ld")).expect("copy link.ld");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rerun-if-changed=link.ld");
}
