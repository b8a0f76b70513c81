//! Test helper for layout tests: compiles a small C program against Xen's public headers
//! (`/usr/include/xen`, Debian's `libxen-dev`) with gcc, runs it, and returns its output as
//! `KEY VALUE` lines (split at the last space). A missing gcc or missing headers is a test failure,
//! never a skip: install `gcc` and `libxen-dev`.

use std::process::Command;
use std::str::FromStr;

/// What the C program printed, one `(key, value)` per line, in order.
pub struct Printed(Vec<(String, String)>);

impl Printed {
    /// All lines, in the order printed.
    pub fn lines(&self) -> &[(String, String)] {
        &self.0
    }

    /// The value printed for `key`, parsed. Panics (failing the test) when it is missing or unparsable.
    pub fn get<T: FromStr>(&self, key: &str) -> T {
        let (_, v) = self.0.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("the C program printed no {key}"));
        v.parse().unwrap_or_else(|_| panic!("{key}: cannot parse {v:?}"))
    }
}

/// Compiles `program` (C11 with GNU extensions, warnings on) and runs it. `tag` names the temporary
/// directory (tests of several crates may run at once).
pub fn compile_and_run(tag: &str, program: &str) -> Printed {
    let dir = std::env::temp_dir().join(format!("xen-c-headers-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&src, program).unwrap();
    let out = Command::new("gcc")
        .args(["-std=gnu11", "-Wall", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("gcc not found: install gcc (and libxen-dev for the Xen headers)");
    assert!(
        out.status.success(),
        "compiling against the Xen headers failed (install libxen-dev):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success(), "the layout program failed: {:?}", out.status);
    std::fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8(out.stdout).expect("the layout program printed UTF-8");
    Printed(
        text.lines()
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap_or_else(|| panic!("not a KEY VALUE line: {l:?}"));
                (k.to_string(), v.to_string())
            })
            .collect(),
    )
}
