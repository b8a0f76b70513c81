//! Checked reader of Xen's `hvm_start_info` (`arch-x86/hvm/start_info.h`).
//!
//! Guest memory is never cast to a struct: bytes are copied through [`PhysMemory`], which refuses any
//! range it cannot read, then decoded and validated. The result owns copies of everything (command
//! line, memory map, module list), so nothing points back into memory the loader wrote.

use core::ops::Range;

use hypervisor::abi::start_info::{field, memmap_field, modlist_field, XEN_HVM_MEMMAP_TYPE_RAM, XEN_HVM_START_MAGIC_VALUE};

/// Longest command line kept (Xen's MAX_GUEST_CMDLINE), including the terminating NUL.
pub const MAX_CMDLINE: usize = 1024;
/// Largest memory map accepted.
pub const MAX_MEMMAP_ENTRIES: usize = 64;
/// Most modules accepted.
pub const MAX_MODULES: usize = 8;

/// Read access to guest-physical memory.
pub trait PhysMemory {
    /// Copies `buf.len()` bytes from `paddr`. Fails, reading nothing, when any byte of the range is not
    /// readable (unmapped, or out of bounds).
    fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), Unreadable>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// Which part of the start info an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Cmdline,
    Memmap,
    Modlist,
    Module(u8),
    ModuleCmdline(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartInfoError {
    /// `%ebx` was 0.
    Null,
    BadMagic(u32),
    /// Version 0 carries no memory map; we need version 1 or newer (Xen >= 4.11, QEMU).
    BadVersion(u32),
    /// A pointer (or pointer + length) lies outside readable memory, or overflows.
    Unreadable { part: Part, paddr: u64 },
    /// Command line or module data lies outside the RAM of the memory map.
    NotInRam { part: Part, paddr: u64, len: u64 },
    TooManyMemmapEntries(u32),
    NoMemmap,
    TooManyModules(u32),
    /// No NUL within [`MAX_CMDLINE`] bytes.
    CmdlineTooLong,
}

impl core::fmt::Display for StartInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartInfoError::Null => write!(f, "no start info (ebx = 0)"),
            StartInfoError::BadMagic(m) => write!(f, "bad start info magic {m:#x}"),
            StartInfoError::BadVersion(v) => write!(f, "unsupported start info version {v}"),
            StartInfoError::Unreadable { part, paddr } => write!(f, "{part:?} at {paddr:#x} is not readable"),
            StartInfoError::NotInRam { part, paddr, len } => {
                write!(f, "{part:?} at {paddr:#x} (+{len:#x}) is outside RAM")
            }
            StartInfoError::TooManyMemmapEntries(n) => write!(f, "memory map has {n} entries (max {MAX_MEMMAP_ENTRIES})"),
            StartInfoError::NoMemmap => write!(f, "no memory map"),
            StartInfoError::TooManyModules(n) => write!(f, "{n} modules (max {MAX_MODULES})"),
            StartInfoError::CmdlineTooLong => write!(f, "command line is not terminated within {MAX_CMDLINE} bytes"),
        }
    }
}

/// One memory map entry (`hvm_memmap_table_entry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryRegion {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
}

impl MemoryRegion {
    pub fn is_ram(&self) -> bool {
        self.kind == XEN_HVM_MEMMAP_TYPE_RAM
    }
    /// The region's range; its end is checked not to overflow when the map is read.
    pub fn range(&self) -> Range<u64> {
        self.addr..self.addr + self.size
    }
}

/// One module (`hvm_modlist_entry`), its data checked to lie in RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Module {
    pub paddr: u64,
    pub size: u64,
    pub cmdline_paddr: u64,
}

/// A validated copy of the start info.
#[derive(Clone)]
pub struct StartInfo {
    pub version: u32,
    pub flags: u32,
    /// Physical address of the ACPI RSDP, if any (not dereferenced here).
    pub rsdp_paddr: Option<u64>,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    memmap: [MemoryRegion; MAX_MEMMAP_ENTRIES],
    memmap_len: usize,
    modules: [Module; MAX_MODULES],
    modules_len: usize,
}

impl core::fmt::Debug for StartInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StartInfo")
            .field("version", &self.version)
            .field("cmdline", &self.cmdline())
            .field("memmap", &self.memmap())
            .field("modules", &self.modules())
            .finish()
    }
}

fn u32_at(b: &[u8], r: Range<usize>) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[r]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], r: Range<usize>) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[r]);
    u64::from_le_bytes(a)
}

impl StartInfo {
    /// Reads and validates the start info at `paddr`.
    pub fn read(mem: &impl PhysMemory, paddr: u64) -> Result<StartInfo, StartInfoError> {
        if paddr == 0 {
            return Err(StartInfoError::Null);
        }
        let unreadable = |part, paddr| StartInfoError::Unreadable { part, paddr };

        let mut hdr = [0u8; field::V1_LEN];
        mem.read(paddr, &mut hdr[..field::V0_LEN]).map_err(|_| unreadable(Part::Header, paddr))?;
        let magic = u32_at(&hdr, field::MAGIC);
        if magic != XEN_HVM_START_MAGIC_VALUE {
            return Err(StartInfoError::BadMagic(magic));
        }
        let version = u32_at(&hdr, field::VERSION);
        if version < 1 {
            return Err(StartInfoError::BadVersion(version));
        }
        // Newer versions only append fields, so the version 1 prefix is valid for them too.
        mem.read(paddr, &mut hdr).map_err(|_| unreadable(Part::Header, paddr))?;

        let mut info = StartInfo {
            version,
            flags: u32_at(&hdr, field::FLAGS),
            rsdp_paddr: Some(u64_at(&hdr, field::RSDP_PADDR)).filter(|&p| p != 0),
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            memmap: [MemoryRegion::default(); MAX_MEMMAP_ENTRIES],
            memmap_len: 0,
            modules: [Module::default(); MAX_MODULES],
            modules_len: 0,
        };

        // Memory map first: the other pointers are checked against its RAM.
        let n = u32_at(&hdr, field::MEMMAP_ENTRIES);
        if n == 0 {
            return Err(StartInfoError::NoMemmap);
        }
        if n as usize > MAX_MEMMAP_ENTRIES {
            return Err(StartInfoError::TooManyMemmapEntries(n));
        }
        let map = u64_at(&hdr, field::MEMMAP_PADDR);
        for i in 0..n as usize {
            let at = map
                .checked_add((i * memmap_field::LEN) as u64)
                .ok_or(unreadable(Part::Memmap, map))?;
            let mut e = [0u8; memmap_field::LEN];
            mem.read(at, &mut e).map_err(|_| unreadable(Part::Memmap, at))?;
            let region = MemoryRegion {
                addr: u64_at(&e, memmap_field::ADDR),
                size: u64_at(&e, memmap_field::SIZE),
                kind: u32_at(&e, memmap_field::TYPE),
            };
            if region.addr.checked_add(region.size).is_none() {
                return Err(unreadable(Part::Memmap, at));
            }
            info.memmap[i] = region;
        }
        info.memmap_len = n as usize;

        let cmdline = u64_at(&hdr, field::CMDLINE_PADDR);
        if cmdline != 0 {
            info.cmdline_len = read_cstr(mem, cmdline, &mut info.cmdline, Part::Cmdline)?;
            info.check_in_ram(Part::Cmdline, cmdline, info.cmdline_len as u64 + 1)?;
        }

        let nr = u32_at(&hdr, field::NR_MODULES);
        if nr as usize > MAX_MODULES {
            return Err(StartInfoError::TooManyModules(nr));
        }
        let list = u64_at(&hdr, field::MODLIST_PADDR);
        for i in 0..nr as usize {
            let at = list
                .checked_add((i * modlist_field::LEN) as u64)
                .ok_or(unreadable(Part::Modlist, list))?;
            let mut e = [0u8; modlist_field::LEN];
            mem.read(at, &mut e).map_err(|_| unreadable(Part::Modlist, at))?;
            let m = Module {
                paddr: u64_at(&e, modlist_field::PADDR),
                size: u64_at(&e, modlist_field::SIZE),
                cmdline_paddr: u64_at(&e, modlist_field::CMDLINE_PADDR),
            };
            info.check_in_ram(Part::Module(i as u8), m.paddr, m.size)?;
            if m.cmdline_paddr != 0 {
                let mut scratch = [0u8; MAX_CMDLINE];
                let len = read_cstr(mem, m.cmdline_paddr, &mut scratch, Part::ModuleCmdline(i as u8))?;
                info.check_in_ram(Part::ModuleCmdline(i as u8), m.cmdline_paddr, len as u64 + 1)?;
            }
            info.modules[i] = m;
        }
        info.modules_len = nr as usize;
        Ok(info)
    }

    fn check_in_ram(&self, part: Part, paddr: u64, len: u64) -> Result<(), StartInfoError> {
        let end = paddr.checked_add(len).ok_or(StartInfoError::NotInRam { part, paddr, len })?;
        let inside = self.memmap().iter().any(|r| r.is_ram() && r.addr <= paddr && end <= r.addr + r.size);
        if inside {
            Ok(())
        } else {
            Err(StartInfoError::NotInRam { part, paddr, len })
        }
    }

    /// The command line bytes (without the NUL).
    pub fn cmdline_bytes(&self) -> &[u8] {
        &self.cmdline[..self.cmdline_len]
    }

    /// The command line, if it is UTF-8.
    pub fn cmdline(&self) -> Option<&str> {
        core::str::from_utf8(self.cmdline_bytes()).ok()
    }

    pub fn memmap(&self) -> &[MemoryRegion] {
        &self.memmap[..self.memmap_len]
    }

    pub fn modules(&self) -> &[Module] {
        &self.modules[..self.modules_len]
    }

    /// Total RAM of the memory map, in bytes.
    pub fn ram_bytes(&self) -> u64 {
        self.memmap().iter().filter(|r| r.is_ram()).map(|r| r.size).sum()
    }

    /// Highest RAM address + 1.
    pub fn ram_end(&self) -> u64 {
        self.memmap().iter().filter(|r| r.is_ram()).map(|r| r.addr + r.size).max().unwrap_or(0)
    }
}

/// Reads a NUL-terminated string into `buf` one chunk at a time (so a string near the end of readable
/// memory still reads) and returns its length without the NUL.
fn read_cstr(mem: &impl PhysMemory, paddr: u64, buf: &mut [u8; MAX_CMDLINE], part: Part) -> Result<usize, StartInfoError> {
    const CHUNK: usize = 64;
    let mut len = 0;
    while len < MAX_CMDLINE {
        let at = paddr.checked_add(len as u64).ok_or(StartInfoError::Unreadable { part, paddr })?;
        // Never cross a chunk boundary relative to the string start, so a short string at the very end
        // of readable memory is still found by the byte-wise fallback.
        let n = CHUNK.min(MAX_CMDLINE - len);
        let chunk = &mut buf[len..len + n];
        if mem.read(at, chunk).is_err() {
            // Fall back to single bytes up to the first unreadable one.
            for i in 0..n {
                let mut b = [0u8];
                mem.read(at + i as u64, &mut b).map_err(|_| StartInfoError::Unreadable { part, paddr: at + i as u64 })?;
                buf[len + i] = b[0];
                if b[0] == 0 {
                    return Ok(len + i);
                }
            }
        } else if let Some(nul) = chunk.iter().position(|&b| b == 0) {
            return Ok(len + nul);
        }
        len += n;
    }
    Err(StartInfoError::CmdlineTooLong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypervisor::abi::start_info::XEN_HVM_MEMMAP_TYPE_RESERVED;

    /// Guest memory: one readable window [base, base + bytes.len()).
    struct Window {
        base: u64,
        bytes: Vec<u8>,
    }

    impl PhysMemory for Window {
        fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), Unreadable> {
            let off = paddr.checked_sub(self.base).ok_or(Unreadable)? as usize;
            let end = off.checked_add(buf.len()).ok_or(Unreadable)?;
            buf.copy_from_slice(self.bytes.get(off..end).ok_or(Unreadable)?);
            Ok(())
        }
    }

    const BASE: u64 = 0x10_0000;
    const SI: u64 = BASE + 0x100;
    const MAP: u64 = BASE + 0x200;
    const CMD: u64 = BASE + 0x400;
    const MODS: u64 = BASE + 0x800;

    struct Builder {
        w: Window,
    }

    impl Builder {
        fn new() -> Self {
            let mut b = Builder { w: Window { base: BASE, bytes: vec![0; 0x2000] } };
            b.u32(SI, XEN_HVM_START_MAGIC_VALUE);
            b.u32(SI + 4, 1);
            b.u64(SI + 24, CMD);
            b.u64(SI + 32, 0xf_ffe0);
            b.u64(SI + 40, MAP);
            b.memmap(&[(0, 0xa_0000, XEN_HVM_MEMMAP_TYPE_RAM), (0xf_0000, 0x1_0000, XEN_HVM_MEMMAP_TYPE_RESERVED), (BASE, 0x3ff0_0000, XEN_HVM_MEMMAP_TYPE_RAM)]);
            b.bytes(CMD, b"greeting=hi console=pv\0");
            b
        }
        fn u32(&mut self, at: u64, v: u32) {
            self.bytes(at, &v.to_le_bytes())
        }
        fn u64(&mut self, at: u64, v: u64) {
            self.bytes(at, &v.to_le_bytes())
        }
        fn bytes(&mut self, at: u64, v: &[u8]) {
            let o = (at - BASE) as usize;
            self.w.bytes[o..o + v.len()].copy_from_slice(v);
        }
        fn memmap(&mut self, entries: &[(u64, u64, u32)]) {
            for (i, &(a, s, t)) in entries.iter().enumerate() {
                let at = MAP + 24 * i as u64;
                self.u64(at, a);
                self.u64(at + 8, s);
                self.u32(at + 16, t);
            }
            self.u32(SI + 48, entries.len() as u32);
        }
        fn read(&self) -> Result<StartInfo, StartInfoError> {
            StartInfo::read(&self.w, SI)
        }
    }

    #[test]
    fn reads_a_good_start_info() {
        let info = Builder::new().read().unwrap();
        assert_eq!(info.version, 1);
        assert_eq!(info.cmdline(), Some("greeting=hi console=pv"));
        assert_eq!(info.memmap().len(), 3);
        assert_eq!(info.ram_bytes(), 0xa_0000 + 0x3ff0_0000);
        assert_eq!(info.ram_end(), BASE + 0x3ff0_0000);
        assert_eq!(info.rsdp_paddr, Some(0xf_ffe0));
        assert!(info.modules().is_empty());
    }

    #[test]
    fn bad_magic() {
        let mut b = Builder::new();
        b.u32(SI, 0x1234_5678);
        assert_eq!(b.read().unwrap_err(), StartInfoError::BadMagic(0x1234_5678));
    }

    #[test]
    fn bad_version() {
        let mut b = Builder::new();
        b.u32(SI + 4, 0);
        assert_eq!(b.read().unwrap_err(), StartInfoError::BadVersion(0));
        b.u32(SI + 4, 2); // newer versions only append: accepted
        assert_eq!(b.read().unwrap().version, 2);
    }

    #[test]
    fn null_and_unreadable_start_info() {
        let b = Builder::new();
        assert_eq!(StartInfo::read(&b.w, 0).unwrap_err(), StartInfoError::Null);
        assert!(matches!(StartInfo::read(&b.w, 0xdead_0000), Err(StartInfoError::Unreadable { part: Part::Header, .. })));
        // Header straddling the end of readable memory.
        let end = BASE + 0x2000 - 20;
        assert!(matches!(StartInfo::read(&b.w, end), Err(StartInfoError::Unreadable { part: Part::Header, .. })));
    }

    #[test]
    fn memmap_pointer_outside_memory() {
        let mut b = Builder::new();
        b.u64(SI + 40, 0xffff_ffff_ffff_fff0);
        assert!(matches!(b.read(), Err(StartInfoError::Unreadable { part: Part::Memmap, .. })));
        b.u64(SI + 40, BASE + 0x2000 - 30); // first entry fits, second does not
        b.u32(SI + 48, 2);
        assert!(matches!(b.read(), Err(StartInfoError::Unreadable { part: Part::Memmap, .. })));
    }

    #[test]
    fn too_many_memmap_entries() {
        let mut b = Builder::new();
        b.u32(SI + 48, MAX_MEMMAP_ENTRIES as u32 + 1);
        assert_eq!(b.read().unwrap_err(), StartInfoError::TooManyMemmapEntries(65));
        b.u32(SI + 48, u32::MAX);
        assert_eq!(b.read().unwrap_err(), StartInfoError::TooManyMemmapEntries(u32::MAX));
        b.u32(SI + 48, 0);
        assert_eq!(b.read().unwrap_err(), StartInfoError::NoMemmap);
    }

    #[test]
    fn memmap_entry_overflowing_is_rejected() {
        let mut b = Builder::new();
        b.memmap(&[(0xffff_ffff_ffff_0000, 0x2_0000, XEN_HVM_MEMMAP_TYPE_RAM)]);
        assert!(matches!(b.read(), Err(StartInfoError::Unreadable { part: Part::Memmap, .. })));
    }

    #[test]
    fn cmdline_outside_ram() {
        let mut b = Builder::new();
        // Readable, but in the reserved region only.
        b.memmap(&[(0, 0xa_0000, XEN_HVM_MEMMAP_TYPE_RAM), (BASE, 0x2000, XEN_HVM_MEMMAP_TYPE_RESERVED)]);
        assert_eq!(b.read().unwrap_err(), StartInfoError::NotInRam { part: Part::Cmdline, paddr: CMD, len: 23 });
        let mut b = Builder::new();
        b.u64(SI + 24, 0x7fff_0000);
        assert!(matches!(b.read(), Err(StartInfoError::Unreadable { part: Part::Cmdline, .. })));
    }

    #[test]
    fn cmdline_at_end_of_memory_and_unterminated() {
        let mut b = Builder::new();
        let at = BASE + 0x2000 - 4;
        b.bytes(at, b"abc\0");
        b.u64(SI + 24, at);
        assert_eq!(b.read().unwrap().cmdline(), Some("abc"));
        b.bytes(at, b"abcd");
        assert!(matches!(b.read(), Err(StartInfoError::Unreadable { part: Part::Cmdline, .. })));
        let mut b = Builder::new();
        b.bytes(CMD, &[b'x'; MAX_CMDLINE + 10]);
        assert_eq!(b.read().unwrap_err(), StartInfoError::CmdlineTooLong);
        let mut b = Builder::new();
        b.bytes(CMD, &[b'x'; MAX_CMDLINE - 1]);
        b.bytes(CMD + MAX_CMDLINE as u64 - 1, b"\0");
        assert_eq!(b.read().unwrap().cmdline_bytes().len(), MAX_CMDLINE - 1);
    }

    #[test]
    fn no_cmdline_is_empty() {
        let mut b = Builder::new();
        b.u64(SI + 24, 0);
        assert_eq!(b.read().unwrap().cmdline(), Some(""));
    }

    #[test]
    fn modules_are_checked() {
        let mut b = Builder::new();
        b.u32(SI + 12, 1);
        b.u64(SI + 16, MODS);
        b.u64(MODS, BASE + 0x1000);
        b.u64(MODS + 8, 0x800);
        b.u64(MODS + 16, CMD);
        let info = b.read().unwrap();
        assert_eq!(info.modules(), &[Module { paddr: BASE + 0x1000, size: 0x800, cmdline_paddr: CMD }]);
        // Module data beyond RAM.
        b.u64(MODS + 8, 0x4000_0000);
        assert!(matches!(b.read(), Err(StartInfoError::NotInRam { part: Part::Module(0), .. })));
        // Size overflowing the address space.
        b.u64(MODS + 8, u64::MAX);
        assert!(matches!(b.read(), Err(StartInfoError::NotInRam { part: Part::Module(0), .. })));
        // Module list pointer outside memory.
        b.u64(SI + 16, 0x9000_0000);
        assert!(matches!(b.read(), Err(StartInfoError::Unreadable { part: Part::Modlist, .. })));
        b.u32(SI + 12, 9);
        assert_eq!(b.read().unwrap_err(), StartInfoError::TooManyModules(9));
    }
}
