//! Symbolising crash reports. Images are deployed stripped; `cargo xtask build` keeps the unstripped
//! ELF beside each image as its symbol side file (`target/images/NAME.sym`). A Xenolith crash report
//! prints the faulting RIP and a stack walk of return addresses (`#N 0x...`); this module finds the
//! function around each address. `cargo xtask run` annotates the console as it streams, and
//! `cargo xtask symbolize NAME [LOG]` does it for a console log saved on a real Xen host.

use std::io::BufRead as _;

use crate::inspect::sections;
use crate::util::Result;
use crate::{err, images};

/// `SHT_SYMTAB`.
const SHT_SYMTAB: u32 = 2;
/// `STT_FUNC`.
const STT_FUNC: u8 = 2;

/// Functions of an image, sorted by address.
pub struct Symbols {
    funcs: Vec<(u64, u64, String)>,
}

impl Symbols {
    /// The function symbols of an (unstripped) ELF64 image; an error when it has no symbol table.
    pub fn from_elf(elf: &[u8]) -> Result<Symbols> {
        let secs = sections(elf)?;
        let (symtab, link) = secs
            .iter()
            .enumerate()
            .find(|(_, s)| s.kind == SHT_SYMTAB)
            .map(|(_, s)| (s.clone(), s.link as usize))
            .ok_or_else(|| err!("the image has no symbol table (stripped): use its .sym side file"))?;
        let strtab = secs.get(link).ok_or_else(|| err!("the symbol table names no string table"))?;
        let slice = |off: u64, size: u64| {
            let start = off as usize;
            start.checked_add(size as usize).and_then(|end| elf.get(start..end)).ok_or_else(|| err!("truncated ELF file"))
        };
        let syms = slice(symtab.offset, symtab.size)?;
        let strs = slice(strtab.offset, strtab.size)?;
        let mut funcs = Vec::new();
        for e in syms.chunks_exact(24) {
            let name_off = u32::from_le_bytes(e[0..4].try_into().unwrap()) as usize;
            let info = e[4];
            let value = u64::from_le_bytes(e[8..16].try_into().unwrap());
            let size = u64::from_le_bytes(e[16..24].try_into().unwrap());
            if info & 0xf != STT_FUNC || value == 0 {
                continue;
            }
            let tail = strs.get(name_off..).unwrap_or_default();
            let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
            funcs.push((value, size, demangle(&String::from_utf8_lossy(&tail[..end]))));
        }
        funcs.sort_by_key(|f| f.0);
        Ok(Symbols { funcs })
    }

    /// The function containing `addr`, and the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.funcs.partition_point(|f| f.0 <= addr).checked_sub(1)?;
        let (start, size, name) = &self.funcs[i];
        (addr < start + (*size).max(1)).then(|| (name.as_str(), addr - start))
    }

    /// `line` with `  <function+0xoff>` after the address of a stack-walk line (`#N 0x...`) or of the
    /// faulting `RIP 0x...`; other lines unchanged. A return address (`#N` with N > 0) is looked up one
    /// byte back, inside the call that pushed it (a call can be a function's last instruction).
    pub fn annotate(&self, line: &str) -> String {
        let found = ["RIP 0x", "#"]
            .iter()
            .filter_map(|key| {
                let at = line.find(key)? + key.len();
                let rest = &line[at..];
                let (hex, is_return) = if *key == "#" {
                    let (n, rest) = rest.split_once(' ')?;
                    (rest.strip_prefix("0x")?, n.parse::<u32>().ok()? > 0)
                } else {
                    (rest, false)
                };
                let digits: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
                Some((u64::from_str_radix(&digits, 16).ok()?, is_return))
            })
            .next();
        let Some((addr, is_return)) = found else { return line.to_string() };
        match self.lookup(if is_return { addr.saturating_sub(1) } else { addr }) {
            Some((name, off)) => format!("{line}  <{name}+{:#x}>", off + u64::from(is_return)),
            None => line.to_string(),
        }
    }
}

/// A symbol's Rust path without its hash (v0 `_R...` and legacy `_ZN...E` manglings, by the
/// `rustc-demangle` crate); anything else unchanged.
pub fn demangle(sym: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(sym))
}

/// The symbols of image `name` (its side file, else the image itself), if any.
pub fn of_image(name: &str) -> Option<Symbols> {
    let (sym, image) = images::paths(name);
    [sym, image].iter().find_map(|p| Symbols::from_elf(&std::fs::read(p).ok()?).ok())
}

/// `cargo xtask symbolize NAME [LOG]`: prints LOG (or standard input) with addresses annotated.
pub fn symbolize(name: &str, log: Option<&str>) -> Result<i32> {
    let syms = of_image(name)
        .ok_or_else(|| err!("no symbols for {name}: build it with `cargo xtask build {name}` (target/images/{name}.sym)"))?;
    let input: Box<dyn std::io::BufRead> = match log {
        Some(path) => Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(|e| err!("{path}: {e}"))?)),
        None => Box::new(std::io::stdin().lock()),
    };
    for line in input.lines() {
        println!("{}", syms.annotate(&line?));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_rust_symbols_without_their_hash() {
        assert_eq!(demangle("_ZN8pvh_boot5fault14read_null_page17h0123456789abcdefE"), "pvh_boot::fault::read_null_page");
        assert_eq!(demangle("_RNvCsfLfy6EI15iL_7___rustc17rust_begin_unwind"), "__rustc::rust_begin_unwind");
        assert_eq!(demangle("pvh_boot_entry64"), "pvh_boot_entry64");
    }

    #[test]
    fn annotates_rip_and_stack_walk_lines() {
        let syms = Symbols {
            funcs: vec![(0x1000, 0x40, "a::f".into()), (0x1040, 0x10, "b::g".into()), (0x2000, 0x8, "c::h".into())],
        };
        assert_eq!(syms.lookup(0x1000), Some(("a::f", 0)));
        assert_eq!(syms.lookup(0x1045), Some(("b::g", 5)));
        assert_eq!(syms.lookup(0x1800), None, "between functions");
        assert_eq!(syms.lookup(0x10), None, "below the first");
        assert_eq!(
            syms.annotate("    #0 0x0000000000001044 (faulting RIP)"),
            "    #0 0x0000000000001044 (faulting RIP)  <b::g+0x4>"
        );
        assert_eq!(syms.annotate("[0xe9]     #3 0x0000000000002002"), "[0xe9]     #3 0x0000000000002002  <c::h+0x2>");
        // A return address just past a function's last instruction belongs to that function.
        assert_eq!(syms.annotate("    #1 0x0000000000001040"), "    #1 0x0000000000001040  <a::f+0x40>");
        assert_eq!(
            syms.annotate("  RIP 0x0000000000001010  CS 0x0008  RFLAGS 0x2"),
            "  RIP 0x0000000000001010  CS 0x0008  RFLAGS 0x2  <a::f+0x10>"
        );
        assert_eq!(syms.annotate("evtchn: #5 is not an address"), "evtchn: #5 is not an address");
        assert_eq!(syms.annotate("hello"), "hello");
    }
}
