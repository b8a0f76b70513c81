//! `cargo xtask inspect IMAGE|NAME`: what an image is, read from the ELF file alone — its size, whether
//! it carries symbols, the PVH entry point Xen will use, how much memory its sections occupy once
//! loaded, and the manifest the entry macros put in its `.note.xenolith` note (application, framework
//! version, features, drivers, profile, compiler; see `framework/src/manifest.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::err;
use crate::util::{repo_root, Result};

/// `XEN_ELFNOTE_PHYS32_ENTRY` (`xen/include/public/elfnote.h`).
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
/// `SHF_ALLOC`: the section occupies memory at run time.
const SHF_ALLOC: u64 = 2;
/// `SHT_NOBITS`: occupies memory, not file space (`.bss`).
const SHT_NOBITS: u32 = 8;

/// One section header, the fields we use.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub kind: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    /// `sh_link`: for a symbol table, its string table's index.
    pub link: u32,
}

/// One ELF note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub owner: String,
    pub kind: u32,
    pub desc: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or_else(|| err!("truncated ELF file"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap())).ok_or_else(|| err!("truncated ELF file"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap())).ok_or_else(|| err!("truncated ELF file"))
}

/// The section headers of a little-endian ELF64 file, with their names.
pub fn sections(elf: &[u8]) -> Result<Vec<Section>> {
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err(err!("not a little-endian 64-bit ELF file"));
    }
    let shoff = u64_at(elf, 0x28)? as usize;
    let shentsize = u16_at(elf, 0x3a)? as usize;
    let shnum = u16_at(elf, 0x3c)? as usize;
    let shstrndx = u16_at(elf, 0x3e)? as usize;
    if shentsize < 64 {
        return Err(err!("bad section header size {shentsize}"));
    }
    let mut raw = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        raw.push((
            u32_at(elf, h)?,
            Section {
                name: String::new(),
                kind: u32_at(elf, h + 4)?,
                flags: u64_at(elf, h + 8)?,
                addr: u64_at(elf, h + 0x10)?,
                offset: u64_at(elf, h + 0x18)?,
                size: u64_at(elf, h + 0x20)?,
                link: u32_at(elf, h + 0x28)?,
            },
        ));
    }
    let strtab = raw.get(shstrndx).map(|(_, s)| s.clone()).ok_or_else(|| err!("no section name table"))?;
    let names = bytes(elf, &strtab)?;
    Ok(raw
        .into_iter()
        .map(|(name_off, mut s)| {
            let tail = names.get(name_off as usize..).unwrap_or_default();
            let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
            s.name = String::from_utf8_lossy(&tail[..end]).into_owned();
            s
        })
        .collect())
}

/// The file bytes of a section (empty for `.bss`-like sections).
fn bytes<'a>(elf: &'a [u8], s: &Section) -> Result<&'a [u8]> {
    if s.kind == SHT_NOBITS {
        return Ok(&[]);
    }
    let start = s.offset as usize;
    start
        .checked_add(s.size as usize)
        .and_then(|end| elf.get(start..end))
        .ok_or_else(|| err!("section {} lies outside the file", s.name))
}

/// The notes in a note section's bytes (4-byte aligned name and description).
pub fn notes(data: &[u8]) -> Result<Vec<Note>> {
    let pad = |n: usize| (n + 3) & !3;
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= data.len() {
        let namesz = u32_at(data, at)? as usize;
        let descsz = u32_at(data, at + 4)? as usize;
        let kind = u32_at(data, at + 8)?;
        let name_at = at + 12;
        let desc_at = name_at + pad(namesz);
        let end = desc_at + pad(descsz);
        if desc_at + descsz > data.len() {
            return Err(err!("a note runs past its section"));
        }
        let name = &data[name_at..name_at + namesz];
        let owner = String::from_utf8_lossy(name.strip_suffix(&[0]).unwrap_or(name)).into_owned();
        out.push(Note { owner, kind, desc: data[desc_at..desc_at + descsz].to_vec() });
        at = end;
    }
    Ok(out)
}

fn kib(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

/// The report `cargo xtask inspect` prints for the image bytes `elf` read from `path`.
pub fn report(path: &Path, elf: &[u8]) -> Result<String> {
    let secs = sections(elf)?;
    let mut out = String::new();
    let symbols = secs.iter().any(|s| s.name == ".symtab");
    let _ = writeln!(
        out,
        "image:    {} ({} bytes, {}; symbols: {})",
        path.display(),
        elf.len(),
        kib(elf.len() as u64),
        if symbols { "yes" } else { "stripped" }
    );
    let mut entry = None;
    let mut manifest = None;
    for s in secs.iter().filter(|s| s.kind == 7) {
        for n in notes(bytes(elf, s)?)? {
            match (n.owner.as_str(), n.kind) {
                ("Xen", XEN_ELFNOTE_PHYS32_ENTRY) if n.desc.len() >= 4 => {
                    let mut v = [0u8; 8];
                    v[..n.desc.len().min(8)].copy_from_slice(&n.desc[..n.desc.len().min(8)]);
                    entry = Some(u64::from_le_bytes(v));
                }
                ("Xenolith", 1) => manifest = Some(String::from_utf8_lossy(&n.desc).into_owned()),
                _ => {}
            }
        }
    }
    match entry {
        Some(e) => _ = writeln!(out, "entry:    {e:#x} (XEN_ELFNOTE_PHYS32_ENTRY: boots as a PVH guest)"),
        None => _ = writeln!(out, "entry:    none: no XEN_ELFNOTE_PHYS32_ENTRY note, Xen cannot boot this as PVH"),
    }
    let alloc: Vec<&Section> = secs.iter().filter(|s| s.flags & SHF_ALLOC != 0 && s.size > 0).collect();
    if let (Some(lo), Some(hi)) = (alloc.iter().map(|s| s.addr).min(), alloc.iter().map(|s| s.addr + s.size).max()) {
        let sum = |pred: &dyn Fn(&Section) -> bool| alloc.iter().filter(|s| pred(s)).map(|s| s.size).sum::<u64>();
        let code = sum(&|s| s.name.starts_with(".text"));
        let ro = sum(&|s| s.name.starts_with(".rodata") || s.name.starts_with(".note"));
        let data = sum(&|s| s.name.starts_with(".data"));
        let bss = sum(&|s| s.kind == SHT_NOBITS);
        let _ = writeln!(
            out,
            "memory:   {lo:#x}..{hi:#x}, {} loaded (code {}, read-only data {}, data {}, bss {}); the rest of the RAM is heap",
            kib(hi - lo),
            kib(code),
            kib(ro),
            kib(data),
            kib(bss)
        );
    }
    match manifest {
        Some(m) => {
            let _ = writeln!(out, "manifest:");
            for line in m.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        None => _ = writeln!(out, "manifest: none (not built with the Xenolith entry macros)"),
    }
    Ok(out)
}

/// `IMAGE` is a path, or the name of an image built by `cargo xtask build` (target/images/NAME).
fn resolve(arg: &str) -> PathBuf {
    let p = PathBuf::from(arg);
    if p.exists() || arg.contains('/') {
        p
    } else {
        repo_root().join("target/images").join(arg)
    }
}

pub fn inspect(arg: &str) -> Result<i32> {
    let path = resolve(arg);
    let elf = std::fs::read(&path).map_err(|e| err!("{}: {e} (build it with `cargo xtask build NAME`)", path.display()))?;
    print!("{}", report(&path, &elf)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(owner: &str, kind: u32, desc: &[u8]) -> Vec<u8> {
        let pad = |v: &mut Vec<u8>| {
            while !v.len().is_multiple_of(4) {
                v.push(0)
            }
        };
        let mut v = Vec::new();
        v.extend((owner.len() as u32 + 1).to_le_bytes());
        v.extend((desc.len() as u32).to_le_bytes());
        v.extend(kind.to_le_bytes());
        v.extend(owner.as_bytes());
        v.push(0);
        pad(&mut v);
        v.extend(desc);
        pad(&mut v);
        v
    }

    /// A minimal ELF64 file: a null section, .text, .bss, .note.Xen, .note.xenolith, .shstrtab.
    fn image(manifest: &str) -> Vec<u8> {
        let xen = note("Xen", XEN_ELFNOTE_PHYS32_ENTRY, &0x100000u64.to_le_bytes());
        let xl = note("Xenolith", 1, manifest.as_bytes());
        let names = b"\0.text\0.bss\0.note.Xen\0.note.xenolith\0.shstrtab\0".to_vec();
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let text_off = f.len() as u64;
        f.extend([0x90u8; 100]);
        let xen_off = f.len() as u64;
        f.extend(&xen);
        let xl_off = f.len() as u64;
        f.extend(&xl);
        let names_off = f.len() as u64;
        f.extend(&names);
        while !f.len().is_multiple_of(8) {
            f.push(0);
        }
        let shoff = f.len() as u64;
        // (name offset, type, flags, addr, offset, size)
        let headers: [(u32, u32, u64, u64, u64, u64); 6] = [
            (0, 0, 0, 0, 0, 0),
            (1, 1, SHF_ALLOC | 4, 0x100000, text_off, 100),
            (7, SHT_NOBITS, SHF_ALLOC | 1, 0x101000, 0, 0x3000),
            (12, 7, SHF_ALLOC, 0x100064, xen_off, xen.len() as u64),
            (22, 7, SHF_ALLOC, 0x100080, xl_off, xl.len() as u64),
            (37, 3, 0, 0, names_off, names.len() as u64),
        ];
        for (name, kind, flags, addr, off, size) in headers {
            let mut h = [0u8; 64];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[8..16].copy_from_slice(&flags.to_le_bytes());
            h[0x10..0x18].copy_from_slice(&addr.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&off.to_le_bytes());
            h[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            f.extend(h);
        }
        f[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        f[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        f[0x3c..0x3e].copy_from_slice(&6u16.to_le_bytes());
        f[0x3e..0x40].copy_from_slice(&5u16.to_le_bytes());
        f
    }

    #[test]
    fn reports_entry_memory_and_manifest() {
        let elf = image("app=demo 1.0.0\nxenolith=0.1.0\nfeatures=none\n");
        let r = report(Path::new("demo"), &elf).unwrap();
        assert!(r.contains("symbols: stripped"), "{r}");
        assert!(r.contains("entry:    0x100000 (XEN_ELFNOTE_PHYS32_ENTRY"), "{r}");
        assert!(r.contains("memory:   0x100000..0x104000, 16.0 KiB loaded"), "{r}");
        assert!(r.contains("bss 12.0 KiB"), "{r}");
        assert!(r.contains("manifest:\n  app=demo 1.0.0\n  xenolith=0.1.0\n  features=none\n"), "{r}");
    }

    #[test]
    fn rejects_what_is_not_elf64_and_truncated_files() {
        assert!(report(Path::new("x"), b"#!/bin/sh\n").is_err());
        let elf = image("app=x 1\n");
        assert!(report(Path::new("x"), &elf[..200]).is_err());
    }

    #[test]
    fn a_note_past_its_section_is_an_error() {
        let mut n = note("Xenolith", 1, b"app=x 1\n");
        n[4] = 200; // descsz larger than the data
        assert!(notes(&n).is_err());
    }
}
