//! What an exception handler gets: the saved CPU state, and a report that formats it (vector, error
//! code, RIP, RSP, CR2, general registers, a frame-pointer stack walk, the flight recorder's recent
//! events). Pure logic, host-tested.

use core::fmt;
use core::ops::Range;

use crate::flight::Recent;

/// The stack layout the exception stubs build (see `idt.rs`): general registers pushed by the common
/// stub, vector and error code pushed by the per-vector stub, then the CPU's interrupt frame.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExceptionFrame {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// Mnemonic of an exception vector.
pub fn vector_name(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
        "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
        "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
        "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check",
        "#XM SIMD error", "#VE virtualization", "#CP control protection", "reserved", "reserved",
        "reserved", "reserved", "reserved", "reserved", "#HV hypervisor injection", "#VC VMM communication",
        "#SX security", "reserved",
    ];
    NAMES.get(vector as usize).copied().unwrap_or("unknown")
}

/// Most frames a report walks.
pub const MAX_FRAMES: usize = 16;

/// Walks the `rbp` chain (needs `-C force-frame-pointers=yes`), reading only 8-byte-aligned words
/// inside `stack`, stopping at a null/out-of-range/non-increasing frame pointer. Each frame record is
/// `[rbp] = caller's rbp`, `[rbp + 8] = return address`. Returns the number of return addresses stored.
pub fn walk_stack(rbp: u64, stack: Range<u64>, read: impl Fn(u64) -> u64, out: &mut [u64]) -> usize {
    let mut fp = rbp;
    let mut n = 0;
    while n < out.len() {
        let in_range = fp.is_multiple_of(8) && fp >= stack.start && fp.checked_add(16).is_some_and(|e| e <= stack.end);
        if !in_range {
            break;
        }
        let ret = read(fp + 8);
        if ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        let next = read(fp);
        if next <= fp {
            break;
        }
        fp = next;
    }
    n
}

/// Everything printed about one exception.
#[derive(Debug, Clone, Copy)]
pub struct ExceptionReport {
    pub frame: ExceptionFrame,
    pub cr2: u64,
    pub trace: [u64; MAX_FRAMES],
    pub trace_len: usize,
    /// The flight recorder when the exception was taken.
    pub recent: Recent,
}

impl ExceptionReport {
    pub fn trace(&self) -> &[u64] {
        &self.trace[..self.trace_len]
    }
}

impl fmt::Display for ExceptionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.frame;
        writeln!(f, "EXCEPTION {} ({}) error code {:#x}", r.vector, vector_name(r.vector), r.error_code)?;
        writeln!(f, "  RIP {:#018x}  CS {:#06x}  RFLAGS {:#018x}", r.rip, r.cs, r.rflags)?;
        writeln!(f, "  RSP {:#018x}  SS {:#06x}  CR2 {:#018x}", r.rsp, r.ss, self.cr2)?;
        writeln!(f, "  RAX {:#018x}  RBX {:#018x}  RCX {:#018x}", r.rax, r.rbx, r.rcx)?;
        writeln!(f, "  RDX {:#018x}  RSI {:#018x}  RDI {:#018x}", r.rdx, r.rsi, r.rdi)?;
        writeln!(f, "  RBP {:#018x}  R8  {:#018x}  R9  {:#018x}", r.rbp, r.r8, r.r9)?;
        writeln!(f, "  R10 {:#018x}  R11 {:#018x}  R12 {:#018x}", r.r10, r.r11, r.r12)?;
        writeln!(f, "  R13 {:#018x}  R14 {:#018x}  R15 {:#018x}", r.r13, r.r14, r.r15)?;
        writeln!(f, "  stack walk (return addresses, innermost first):")?;
        writeln!(f, "    #0 {:#018x} (faulting RIP)", r.rip)?;
        for (i, ret) in self.trace().iter().enumerate() {
            writeln!(f, "    #{} {:#018x}", i + 1, ret)?;
        }
        write!(f, "{}", self.recent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn mem(words: &[(u64, u64)]) -> impl Fn(u64) -> u64 {
        let m: HashMap<u64, u64> = words.iter().copied().collect();
        move |a| *m.get(&a).unwrap_or_else(|| panic!("read outside the test stack at {a:#x}"))
    }

    #[test]
    fn walks_a_chain_until_the_null_frame() {
        let read = mem(&[(0x1000, 0x1040), (0x1008, 0xaaaa), (0x1040, 0x1080), (0x1048, 0xbbbb), (0x1080, 0), (0x1088, 0xcccc)]);
        let mut out = [0; 8];
        let n = walk_stack(0x1000, 0x1000..0x2000, read, &mut out);
        assert_eq!(&out[..n], &[0xaaaa, 0xbbbb, 0xcccc]);
    }

    #[test]
    fn stops_at_out_of_range_misaligned_or_looping_frames() {
        let mut out = [0; 8];
        // rbp outside the stack: nothing is read (mem would panic).
        assert_eq!(walk_stack(0x9000, 0x1000..0x2000, mem(&[]), &mut out), 0);
        assert_eq!(walk_stack(0x1004, 0x1000..0x2000, mem(&[]), &mut out), 0);
        // Record straddling the top of the stack.
        assert_eq!(walk_stack(0x1ff8, 0x1000..0x2000, mem(&[]), &mut out), 0);
        // A frame pointing back down (loop) stops after its own entry.
        let read = mem(&[(0x1040, 0x1000), (0x1048, 0xdddd)]);
        assert_eq!(walk_stack(0x1040, 0x1000..0x2000, read, &mut out), 1);
        // Overflowing rbp + 16.
        assert_eq!(walk_stack(u64::MAX - 7, 0..u64::MAX, mem(&[]), &mut out), 0);
    }

    #[test]
    fn depth_is_bounded() {
        let words: Vec<(u64, u64)> = (0..100u64).flat_map(|i| [(0x1000 + i * 16, 0x1000 + (i + 1) * 16), (0x1008 + i * 16, 0x5000 + i)]).collect();
        let mut out = [0; 4];
        assert_eq!(walk_stack(0x1000, 0x1000..0x3000, mem(&words), &mut out), 4);
        assert_eq!(out, [0x5000, 0x5001, 0x5002, 0x5003]);
    }

    #[test]
    fn report_names_everything() {
        let frame = ExceptionFrame { vector: 14, error_code: 2, rip: 0x10_1234, rsp: 0x20_0000, r15: 0xf15, ..Default::default() };
        let mut trace = [0; MAX_FRAMES];
        trace[0] = 0x10_5678;
        let mut recent = Recent::empty();
        recent.events[0] = crate::flight::Event { seq: 0, tsc: 500, kind: crate::flight::Kind::App as u16, a: 1, b: 42 };
        (recent.len, recent.total, recent.now_tsc) = (1, 1, 1000);
        let text = format!("{}", ExceptionReport { frame, cr2: 0x10, trace, trace_len: 1, recent });
        for needle in ["EXCEPTION 14 (#PF page fault) error code 0x2", "RIP 0x0000000000101234", "RSP 0x0000000000200000",
                       "CR2 0x0000000000000010", "R15 0x0000000000000f15", "#1 0x0000000000105678",
                       "#1 0x0000000000105678\n  recent events (oldest first; TSC ticks before this report):\n",
                       "    seq 0     -500 ticks  app code=1 value=42\n"] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert_eq!(vector_name(13), "#GP general protection");
        assert_eq!(vector_name(99), "unknown");
    }
}
