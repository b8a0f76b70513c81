//! xl configuration files: reading the domain name and rewriting a config for the lab.
//!
//! The configs in `xl-configs/` are what users deploy: paths are relative to the repository
//! root (run `xl` from there) and there is nothing lab-specific in them. For the lab, relative
//! `kernel`, `ramdisk` and disk `target=` paths become absolute paths under dom0's `/lab` share,
//! settings the lab needs are added, and callers can override keys (e.g. `extra`).

/// Settings every lab domain gets (none is needed on a real Xen host):
/// - `tsc_mode="native"`: under TCG, an intercepted RDTSCP loops forever.
/// - `on_crash="preserve"`: a crashed domain stays listed, so the runner can see it.
/// - `cpus="1"`: guests' vCPUs stay on physical CPU 1 of the emulated host (dom0 is not pinned). A guest
///   vCPU that Xen moves between the two emulated CPUs was seen to triple-fault at random under QEMU's
///   nested SVM: examples/evtchn (200 000 event deliveries) failed in 10 of 20 unpinned runs and in
///   none of 8 pinned ones; the saved vCPU state of failed runs showed intact descriptor tables, page tables
///   and stack, and a #PF (error 0, CR2 0) pending at a `ret` whose stack was mapped — nothing the
///   guest's own instruction can raise. See the note of issue 4.
pub const LAB_SETTINGS: &[(&str, &str)] =
    &[("tsc_mode", "\"native\""), ("on_crash", "\"preserve\""), ("cpus", "\"1\"")];

fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.starts_with('#') {
        return None;
    }
    let (k, _) = t.split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(k)
}

/// The string value of a one-line `key = "value"` setting.
pub fn get_string(cfg: &str, key: &str) -> Option<String> {
    cfg.lines().rfind(|l| key_of(l) == Some(key)).and_then(|l| {
        let v = l.split_once('=')?.1.trim();
        let q = v.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &v[1..];
        Some(inner[..inner.find(q)?].to_string())
    })
}

fn absolutize(path: &str, share: &str) -> String {
    if path.starts_with('/') || path.is_empty() {
        path.to_string()
    } else {
        format!("{share}/{}", path.trim_start_matches("./"))
    }
}

/// The user's config with the lab settings and `overrides` applied: each replaces (or adds) a
/// whole setting, given as (key, value as written in xl syntax).
pub fn merge(cfg: &str, overrides: &[(&str, String)]) -> String {
    let replaced: Vec<&str> = LAB_SETTINGS.iter().map(|(k, _)| *k).chain(overrides.iter().map(|(k, _)| *k)).collect();
    let kept = cfg.lines().filter(|l| !key_of(l).is_some_and(|k| replaced.contains(&k))).map(str::to_string);
    let added = LAB_SETTINGS.iter().map(|(k, v)| (*k, v.to_string())).chain(overrides.iter().cloned());
    kept.chain(added.map(|(k, v)| format!("{k} = {v}"))).map(|l| l + "\n").collect()
}

/// Relative `kernel`, `ramdisk` and disk `target=` paths made absolute under `share`.
pub fn absolute_paths(cfg: &str, share: &str) -> String {
    let mut out = String::new();
    for line in cfg.lines() {
        let path_key = key_of(line).filter(|k| matches!(*k, "kernel" | "ramdisk"));
        match path_key.and_then(|k| Some((k, get_string(line, k)?))) {
            Some((k, v)) => out.push_str(&format!("{k} = \"{}\"", absolutize(&v, share))),
            None => out.push_str(&rewrite_targets(line, share)),
        }
        out.push('\n');
    }
    out
}

/// Points `kernel` and `ramdisk` at copies in `dir` (dom0's tmpfs): libxl reads them in small
/// pieces, which over the 9p share costs seconds for a Linux kernel. Returns the new config and
/// the (source, copy) pairs to make before `xl create`.
pub fn stage_boot_files(cfg: &str, dir: &str, name: &str) -> (String, Vec<(String, String)>) {
    let mut copies = Vec::new();
    let mut out = String::new();
    for line in cfg.lines() {
        let key = key_of(line).filter(|k| matches!(*k, "kernel" | "ramdisk"));
        match key.and_then(|k| Some((k, get_string(line, k)?))) {
            Some((k, src)) => {
                let dst = format!("{dir}/{name}.{k}");
                out.push_str(&format!("{k} = \"{dst}\""));
                copies.push((src, dst));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    (out, copies)
}

/// `target=PATH` inside disk specs (up to the next comma or quote) made absolute.
fn rewrite_targets(line: &str, share: &str) -> String {
    map_targets(line, |path| absolutize(path, share))
}

/// `line` with each `target=PATH` (up to the next comma or quote) replaced by `f(PATH)`.
fn map_targets(line: &str, mut f: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("target=") {
        let (head, tail) = rest.split_at(i + "target=".len());
        out.push_str(head);
        let end = tail.find([',', '\'', '"']).unwrap_or(tail.len());
        out.push_str(&f(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Disk `target=` paths of a config (to create missing scratch disks).
pub fn disk_targets(cfg: &str) -> Vec<String> {
    let mut v = Vec::new();
    for line in cfg.lines().filter(|l| !l.trim_start().starts_with('#')) {
        map_targets(line, |path| {
            v.push(path.to_string());
            path.to_string()
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"# a comment with kernel = "x"
type = "pvh"
name = "hello"
kernel = "target/images/hello"
ramdisk = '/abs/initrd'
extra = "a=1"
tsc_mode = "always_emulate"
disk = [ 'format=raw,vdev=xvda,access=rw,target=target/lab/disks/a.img',
         "vdev=xvdb,access=ro,target=/srv/b.img" ]
"#;

    #[test]
    fn reads_strings() {
        assert_eq!(get_string(CFG, "name").as_deref(), Some("hello"));
        assert_eq!(get_string(CFG, "ramdisk").as_deref(), Some("/abs/initrd"));
        assert_eq!(get_string(CFG, "memory"), None);
    }

    #[test]
    fn rewrites_paths_and_adds_lab_settings() {
        let out = absolute_paths(
            &merge(
                CFG,
                &[("extra", "\"b=2\"".into()), ("vif", "['bridge=xenbr1']".into()), ("ramdisk", "\"r.gz\"".into())],
            ),
            "/lab",
        );
        assert!(out.contains("kernel = \"/lab/target/images/hello\"\n"), "{out}");
        assert!(out.contains("ramdisk = \"/lab/r.gz\"\n"), "overrides are rewritten too: {out}");
        assert!(!out.contains("/abs/initrd"), "{out}");
        assert!(out.contains("vif = ['bridge=xenbr1']\n"), "{out}");
        assert!(out.contains("target=/lab/target/lab/disks/a.img'"), "{out}");
        assert!(out.contains("target=/srv/b.img\""), "{out}");
        assert!(!out.contains("always_emulate"), "lab settings replace the user's: {out}");
        assert!(out.contains("tsc_mode = \"native\"\n"));
        assert!(out.contains("on_crash = \"preserve\"\n"));
        assert!(out.contains("cpus = \"1\"\n"));
        assert!(!out.contains("a=1"), "{out}");
        assert_eq!(get_string(&out, "extra").as_deref(), Some("b=2"));
        // The comment is kept as it was.
        assert!(out.starts_with("# a comment with kernel = \"x\"\n"));
    }

    #[test]
    fn stages_kernel_and_ramdisk() {
        let (out, copies) = stage_boot_files(&absolute_paths(CFG, "/lab"), "/run/stage", "hello");
        assert!(out.contains("kernel = \"/run/stage/hello.kernel\"\n"), "{out}");
        assert!(out.contains("ramdisk = \"/run/stage/hello.ramdisk\"\n"), "{out}");
        assert_eq!(
            copies,
            vec![
                ("/lab/target/images/hello".to_string(), "/run/stage/hello.kernel".to_string()),
                ("/abs/initrd".to_string(), "/run/stage/hello.ramdisk".to_string()),
            ]
        );
    }

    #[test]
    fn lists_disk_targets() {
        assert_eq!(disk_targets(CFG), vec!["target/lab/disks/a.img", "/srv/b.img"]);
    }
}
