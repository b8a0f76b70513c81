//! The image manifest: what was built into an image, as an ELF note that `cargo xtask inspect IMAGE`
//! prints, so an operator can see exactly what a unikernel runs.
//!
//! The entry macros (`#[xenolith::main]`, `main_sync!`) place one note in section `.note.xenolith`
//! (kept by the linker script; `strip` keeps it): owner `"Xenolith"`, type [`NOTE_TYPE`], and as
//! description UTF-8 text, one `key=value` line each:
//! ```text
//! app=http 0.1.0
//! xenolith=0.1.0
//! features=executor net
//! drivers=console xenstore control netfront smoltcp
//! profile=release
//! rustc=rustc 1.95.0 (59807616e 2026-04-14)
//! ```
//! Everything is computed at compile time (`const fn`): the note costs its bytes and no code.

/// The note's owner name.
pub const NOTE_NAME: &str = "Xenolith";
/// The note's type: a text manifest.
pub const NOTE_TYPE: u32 = 1;

/// Size of the note header (namesz, descsz, type) plus the padded owner name.
const HEADER: usize = 12 + pad4(NOTE_NAME.len() + 1);

const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// Copies `s` into `buf` at `at` (as far as `buf` reaches: a zero-length `buf` only counts), returns
/// the offset after it.
const fn put(buf: &mut [u8], at: usize, s: &str) -> usize {
    let s = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        if at + i < buf.len() {
            buf[at + i] = s[i];
        }
        i += 1;
    }
    at + s.len()
}

const fn put_if(buf: &mut [u8], at: usize, cond: bool, s: &str) -> usize {
    if cond {
        put(buf, at, s)
    } else {
        at
    }
}

/// Writes the manifest text of application `app` `version` into `buf` (or only measures it, for an
/// empty `buf`); returns its length.
const fn text(app: &str, version: &str, buf: &mut [u8]) -> usize {
    let executor = cfg!(feature = "executor");
    let net = cfg!(feature = "net");
    let block = cfg!(feature = "block");
    let mut at = put(buf, 0, "app=");
    at = put(buf, at, app);
    at = put(buf, at, " ");
    at = put(buf, at, version);
    at = put(buf, at, "\nxenolith=");
    at = put(buf, at, env!("CARGO_PKG_VERSION"));
    at = put(buf, at, "\nfeatures=");
    at = put_if(buf, at, !executor, "none");
    at = put_if(buf, at, executor, "executor");
    at = put_if(buf, at, net, " net");
    at = put_if(buf, at, block, " block");
    at = put(buf, at, "\ndrivers=console");
    at = put_if(buf, at, executor, " xenstore control");
    at = put_if(buf, at, net, " netfront smoltcp");
    at = put_if(buf, at, block, " blkfront");
    at = put(buf, at, "\nprofile=");
    at = put(buf, at, if cfg!(debug_assertions) { "debug" } else { "release" });
    at = put(buf, at, "\nrustc=");
    at = put(buf, at, env!("XENOLITH_RUSTC_VERSION"));
    put(buf, at, "\n")
}

/// Size of the note for application `app` `version` (the type of the static the macros emit).
pub const fn note_len(app: &str, version: &str) -> usize {
    let mut none: [u8; 0] = [];
    HEADER + pad4(text(app, version, &mut none))
}

/// The note for application `app` `version`; `N` must be [`note_len`] of the same arguments.
pub const fn note<const N: usize>(app: &str, version: &str) -> [u8; N] {
    let mut buf = [0u8; N];
    let mut none: [u8; 0] = [];
    let desc_len = text(app, version, &mut none);
    assert!(N == HEADER + pad4(desc_len), "note length mismatch (our bug)");
    let header = [(NOTE_NAME.len() + 1) as u32, desc_len as u32, NOTE_TYPE];
    let mut i = 0;
    while i < 3 {
        let b = header[i].to_le_bytes();
        let mut j = 0;
        while j < 4 {
            buf[i * 4 + j] = b[j];
            j += 1;
        }
        i += 1;
    }
    put(&mut buf, 12, NOTE_NAME); // NUL and padding are the zeros already there
    let mut desc = [0u8; N];
    text(app, version, &mut desc);
    let mut k = 0;
    while k < desc_len {
        buf[HEADER + k] = desc[k];
        k += 1;
    }
    buf
}

/// Places the manifest note in the application's image (expanded by the entry macros, in the
/// application's crate, so `CARGO_PKG_NAME` is the application's).
#[doc(hidden)]
#[macro_export]
macro_rules! __manifest {
    () => {
        #[used]
        #[link_section = ".note.xenolith"]
        static __XENOLITH_MANIFEST: [u8; $crate::__private::manifest::note_len(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        )] = $crate::__private::manifest::note(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEN: usize = note_len("demo", "1.2.3");
    const NOTE: [u8; LEN] = note("demo", "1.2.3");

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn the_note_is_a_well_formed_elf_note_with_the_manifest_text() {
        assert_eq!(LEN % 4, 0);
        assert_eq!(u32_at(&NOTE, 0), 9, "namesz counts the NUL");
        let descsz = u32_at(&NOTE, 4) as usize;
        assert_eq!(u32_at(&NOTE, 8), NOTE_TYPE);
        assert_eq!(&NOTE[12..21], b"Xenolith\0");
        assert_eq!(LEN, 24 + pad4(descsz));
        let text = core::str::from_utf8(&NOTE[24..24 + descsz]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "app=demo 1.2.3");
        assert_eq!(lines[1], format!("xenolith={}", env!("CARGO_PKG_VERSION")));
        assert!(lines[2].starts_with("features="), "{text}");
        assert!(lines[3].starts_with("drivers=console"), "{text}");
        assert!(lines.iter().any(|l| l.starts_with("rustc=rustc ")), "{text}");
        assert!(text.ends_with('\n'));
        assert!(NOTE[24 + descsz..].iter().all(|&b| b == 0), "padding is zero");
    }
}
