//! The flight recorder: a static ring of the last [`CAPACITY`] `Copy` events (event-channel deliveries,
//! timer fires, blocks and wake-ups, control requests, application trace points), printed by the crash
//! reports (`recent events (oldest first, ...)`) so an operator sees what the domain was doing.
//!
//! * [`record`] is cheap: one `rdtsc`, one `fetch_add` on the cursor and five plain atomic stores; it
//!   never allocates, locks or fails, so it may be called anywhere except hot per-packet paths (the
//!   ring would only hold the last packets).
//! * Time stamps are raw TSC values (one instruction, available from the first instruction of the
//!   image, before and without the PV clock, which lives in the framework's services). A report turns
//!   them into seconds before the report with the TSC frequency Xen announces in its CPUID time leaf,
//!   the same frequency the PV clock scales by. Every event also has a sequence number, so the order
//!   stays exact when no frequency is known.
//! * No `unsafe` but RDTSC itself: each slot is four `AtomicU64` words, `[tag, tsc, a, b]` with `tag = (seq + 1) << 16 |
//!   kind` (0: empty), written like a seqlock (tag cleared, data, tag set with release). A reader keeps
//!   a slot only when its tag holds the sequence number it expects before and after reading the data.
//!   Two writers on two vCPUs can still interleave one entry (the older writer's data under the newer
//!   tag, or a slot the reader then skips); Xenolith guests run one vCPU and take interrupts only inside
//!   `sti; hlt`, so there a record is never interrupted by another.
//! * [`Recent`] is a snapshot; its `Display` is the report section (host-tested).

use core::fmt;
use core::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

/// Events the global recorder keeps.
pub const CAPACITY: usize = 64;

/// What an event is; `a` and `b` mean what each variant says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
    /// An event-channel port fired and was delivered to its waiters. `a`: the port.
    Event = 1,
    /// The one-shot timer fired (`VIRQ_TIMER`). `a`: its port.
    Timer = 2,
    /// The vCPU is about to block until an event. `a`: microseconds until the timer, or `u64::MAX`
    /// when no timer is armed.
    Block = 3,
    /// The vCPU came back from a block (or did not block: an event was pending already; then the
    /// upcall count has not moved). `a`: event-channel upcalls taken so far.
    Wake = 4,
    /// A xenbus frontend reached a state. `a`: device id, `b`: the `XenbusState` number. Recorded by the
    /// framework where a device's handshake or teardown completes (vif and vbd connected, vif closing
    /// and released); the switches inside `xenbus::Frontend` itself are not seen here.
    Xenbus = 5,
    /// A control request from the toolstack. `a`: [`control`] code, `b`: the sysrq key (for sysrq).
    Control = 6,
    /// An application trace point (`xenolith::trace(code, value)`). `a`: code, `b`: value.
    App = 7,
}

/// Codes of [`Kind::Control`] events.
pub mod control {
    pub const IGNORED: u64 = 0;
    pub const POWEROFF: u64 = 1;
    pub const REBOOT: u64 = 2;
    pub const HALT: u64 = 3;
    pub const CRASH: u64 = 4;
    pub const SYSRQ: u64 = 5;

    /// Name of a control code.
    pub fn name(code: u64) -> &'static str {
        match code {
            IGNORED => "ignored",
            POWEROFF => "poweroff",
            REBOOT => "reboot",
            HALT => "halt",
            CRASH => "crash",
            SYSRQ => "sysrq",
            _ => "unknown",
        }
    }
}

/// One recorded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Position in the recorder's history (0 for the first event ever recorded).
    pub seq: u64,
    /// TSC when it was recorded.
    pub tsc: u64,
    /// A [`Kind`] as a number.
    pub kind: u16,
    pub a: u64,
    pub b: u64,
}

impl Event {
    pub const EMPTY: Event = Event { seq: 0, tsc: 0, kind: 0, a: 0, b: 0 };
}

const KIND_BITS: u32 = 16;

/// A ring of the last `N` events. The global one is [`RECORDER`]; tests make their own.
pub struct Recorder<const N: usize> {
    /// Events ever recorded; the next one goes to slot `cursor % N`.
    cursor: AtomicUsize,
    slots: [[AtomicU64; 4]; N],
}

impl<const N: usize> Default for Recorder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Recorder<N> {
    pub const fn new() -> Self {
        Recorder { cursor: AtomicUsize::new(0), slots: [const { [const { AtomicU64::new(0) }; 4] }; N] }
    }

    /// Records one event stamped `tsc`.
    pub fn push(&self, tsc: u64, kind: u16, a: u64, b: u64) {
        let seq = self.cursor.fetch_add(1, Ordering::Relaxed);
        let slot = &self.slots[seq % N];
        slot[0].store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        slot[1].store(tsc, Ordering::Relaxed);
        slot[2].store(a, Ordering::Relaxed);
        slot[3].store(b, Ordering::Relaxed);
        slot[0].store(((seq as u64).wrapping_add(1) << KIND_BITS) | u64::from(kind), Ordering::Release);
    }

    /// Events ever recorded (including those overwritten since).
    pub fn total(&self) -> u64 {
        self.cursor.load(Ordering::Acquire) as u64
    }

    /// Calls `f` for each event still in the ring, oldest first. A slot being rewritten meanwhile (only
    /// possible with several vCPUs) is skipped.
    pub fn for_each_recent(&self, mut f: impl FnMut(Event)) {
        let end = self.cursor.load(Ordering::Acquire);
        for seq in end.saturating_sub(N)..end {
            let slot = &self.slots[seq % N];
            let want = (seq as u64).wrapping_add(1) << KIND_BITS;
            let tag = slot[0].load(Ordering::Acquire);
            let (tsc, a, b) = (slot[1].load(Ordering::Relaxed), slot[2].load(Ordering::Relaxed), slot[3].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            let again = slot[0].load(Ordering::Relaxed);
            if tag != again || tag >> KIND_BITS != want >> KIND_BITS {
                continue;
            }
            f(Event { seq: seq as u64, tsc, kind: tag as u16, a, b });
        }
    }

    /// A copy of the events still in the ring, oldest first.
    pub fn snapshot(&self) -> Recent<N> {
        let mut r = Recent::empty();
        r.total = self.total();
        self.for_each_recent(|e| {
            if r.len < N {
                r.events[r.len] = e;
                r.len += 1;
            }
        });
        r
    }
}

/// The domain's recorder.
pub static RECORDER: Recorder<CAPACITY> = Recorder::new();

/// Records an event in the domain's recorder, stamped with the TSC.
#[inline]
pub fn record(kind: Kind, a: u64, b: u64) {
    RECORDER.push(tsc(), kind as u16, a, b);
}

/// The time stamp counter (RDTSC; never RDTSCP, which loops forever under the lab's emulated SVM).
#[inline]
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: RDTSC only reads the time stamp counter (the same instruction the PV clock reads).
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

/// A snapshot of the recorder for a report: the events, when the report was made, and how to turn TSC
/// ticks into time. Its `Display` is the report section.
#[derive(Debug, Clone, Copy)]
pub struct Recent<const N: usize = CAPACITY> {
    pub events: [Event; N],
    pub len: usize,
    /// Events ever recorded (more than `len` once the ring wrapped).
    pub total: u64,
    /// TSC when the snapshot was taken (the report's "now").
    pub now_tsc: u64,
    /// TSC ticks per millisecond, when known.
    pub tsc_khz: Option<u64>,
}

impl<const N: usize> Recent<N> {
    pub const fn empty() -> Self {
        Recent { events: [Event::EMPTY; N], len: 0, total: 0, now_tsc: 0, tsc_khz: None }
    }

    pub fn events(&self) -> &[Event] {
        &self.events[..self.len]
    }
}

impl Recent<CAPACITY> {
    /// The domain's recorder now; `tsc_khz`: the TSC frequency (see `capture` on the target).
    pub fn capture_with(tsc_khz: Option<u64>) -> Self {
        let mut r = RECORDER.snapshot();
        r.now_tsc = tsc();
        r.tsc_khz = tsc_khz;
        r
    }

    /// The domain's recorder now, with the TSC frequency Xen announces (CPUID time leaf), if any.
    #[cfg(target_os = "none")]
    pub fn capture() -> Self {
        let khz = hypervisor::cpuid::XenCpuid::find(hypervisor::cpuid::cpuid)
            .filter(|x| x.time_leaf().is_some())
            .map(hypervisor::time::tsc_khz);
        Self::capture_with(khz)
    }
}

/// Name of a kind number.
pub fn kind_name(kind: u16) -> &'static str {
    match kind {
        1 => "evtchn",
        2 => "timer",
        3 => "block",
        4 => "wake",
        5 => "xenbus",
        6 => "control",
        7 => "app",
        _ => "unknown",
    }
}

/// One event's description: kind name and arguments.
struct Describe<'a>(&'a Event);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        let name = kind_name(e.kind);
        match e.kind {
            1 | 2 => write!(f, "{name} port={}", e.a),
            3 if e.a == u64::MAX => write!(f, "{name} (no timer)"),
            3 => write!(f, "{name} timer_in_us={}", e.a),
            4 => write!(f, "{name} upcalls={}", e.a),
            5 => write!(f, "{name} device={} state={}", e.a, e.b),
            // `escape_ascii`, not `{:?}` of a char: that would pull Unicode tables into every image.
            6 if e.a == control::SYSRQ => write!(f, "{name} sysrq key='{}'", (e.b as u8).escape_ascii()),
            6 => write!(f, "{name} {}", control::name(e.a)),
            7 => write!(f, "{name} code={} value={}", e.a, e.b),
            k => write!(f, "{name} kind={k} a={:#x} b={:#x}", e.a, e.b),
        }
    }
}

/// The report section. The lines carry no `#N 0x...` or `RIP 0x`, which the symbolizer annotates.
impl<const N: usize> fmt::Display for Recent<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            return writeln!(f, "  recent events: none recorded");
        }
        let older = self.total.saturating_sub(self.len as u64);
        match self.tsc_khz {
            Some(_) => write!(f, "  recent events (oldest first; seconds before this report)")?,
            None => write!(f, "  recent events (oldest first; TSC ticks before this report)")?,
        }
        if older > 0 {
            write!(f, ", {older} older ones overwritten")?;
        }
        writeln!(f, ":")?;
        for e in self.events() {
            let ticks = self.now_tsc.saturating_sub(e.tsc);
            match self.tsc_khz {
                Some(khz) if khz > 0 => {
                    // No 128-bit division (it would add a runtime routine to every image); exact until
                    // ticks reach u64::MAX / 1000 (months), coarser beyond.
                    let us = match ticks.checked_mul(1000) {
                        Some(t) => t / khz,
                        None => ticks / khz * 1000,
                    };
                    write!(f, "    seq {:<5} -{}.{:06} s  ", e.seq, us / 1_000_000, us % 1_000_000)?;
                }
                _ => write!(f, "    seq {:<5} -{ticks} ticks  ", e.seq)?,
            }
            writeln!(f, "{}", Describe(e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(r: &Recorder<4>) -> Vec<(u64, u64, u16, u64)> {
        let mut v = Vec::new();
        r.for_each_recent(|e| v.push((e.seq, e.tsc, e.kind, e.a)));
        v
    }

    #[test]
    fn empty_recorder_yields_nothing() {
        let r = Recorder::<4>::new();
        assert!(kinds(&r).is_empty());
        let s = r.snapshot();
        assert_eq!((s.len, s.total), (0, 0));
        assert_eq!(format!("{s}"), "  recent events: none recorded\n");
    }

    #[test]
    fn keeps_order_before_the_ring_is_full() {
        let r = Recorder::<4>::new();
        r.push(10, Kind::Event as u16, 3, 0);
        r.push(20, Kind::App as u16, 1, 42);
        assert_eq!(kinds(&r), vec![(0, 10, 1, 3), (1, 20, 7, 1)]);
    }

    #[test]
    fn wraps_around_keeping_the_newest_oldest_first() {
        let r = Recorder::<4>::new();
        for i in 0..11u64 {
            r.push(100 + i, Kind::Timer as u16, i, 0);
        }
        assert_eq!(kinds(&r), vec![(7, 107, 2, 7), (8, 108, 2, 8), (9, 109, 2, 9), (10, 110, 2, 10)]);
        let s = r.snapshot();
        assert_eq!((s.len, s.total), (4, 11));
        assert_eq!(s.events()[0].seq, 7);
    }

    #[test]
    fn a_slot_being_rewritten_is_skipped() {
        let r = Recorder::<4>::new();
        r.push(1, 7, 1, 1);
        r.push(2, 7, 2, 2);
        // A writer on another vCPU has cleared slot 1's tag and not set it yet.
        r.slots[1][0].store(0, Ordering::Relaxed);
        assert_eq!(kinds(&r), vec![(0, 1, 7, 1)]);
    }

    #[test]
    fn the_global_recorder_stamps_with_the_tsc() {
        record(Kind::App, 9, 99);
        let mut found = false;
        RECORDER.for_each_recent(|e| found |= e.kind == Kind::App as u16 && e.a == 9 && e.b == 99);
        assert!(found);
        let r = Recent::capture_with(Some(1_000_000));
        assert!(r.len >= 1 && r.now_tsc >= r.events()[r.len - 1].tsc);
    }

    #[test]
    fn report_section_names_kinds_and_ages() {
        let r = Recorder::<8>::new();
        let ev = [
            (Kind::Event, 3, 0),
            (Kind::Timer, 2, 0),
            (Kind::Block, u64::MAX, 0),
            (Kind::Block, 1500, 0),
            (Kind::Wake, 17, 0),
            (Kind::Xenbus, 0, 4),
            (Kind::Control, control::REBOOT, 0),
            (Kind::Control, control::SYSRQ, u64::from(b'h')),
            (Kind::App, 1, 42),
        ];
        for (i, (k, a, b)) in ev.iter().enumerate() {
            r.push(1_000_000 * i as u64, *k as u16, *a, *b);
        }
        let mut s = r.snapshot();
        s.now_tsc = 10_000_000;
        s.tsc_khz = Some(1_000_000); // 1 GHz: 1 ms per million ticks
        let text = format!("{s}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  recent events (oldest first; seconds before this report), 1 older ones overwritten:");
        assert_eq!(lines.len(), 9);
        assert_eq!(lines[1], "    seq 1     -0.009000 s  timer port=2");
        assert_eq!(lines[2], "    seq 2     -0.008000 s  block (no timer)");
        assert_eq!(lines[3], "    seq 3     -0.007000 s  block timer_in_us=1500");
        assert_eq!(lines[4], "    seq 4     -0.006000 s  wake upcalls=17");
        assert_eq!(lines[5], "    seq 5     -0.005000 s  xenbus device=0 state=4");
        assert_eq!(lines[6], "    seq 6     -0.004000 s  control reboot");
        assert_eq!(lines[7], "    seq 7     -0.003000 s  control sysrq key='h'");
        assert_eq!(lines[8], "    seq 8     -0.002000 s  app code=1 value=42");
        // Nothing the symbolizer would take for a stack-walk or RIP line.
        assert!(!text.contains('#') && !text.contains("RIP"));

        s.tsc_khz = None;
        let text = format!("{s}");
        assert!(text.starts_with("  recent events (oldest first; TSC ticks before this report)"), "{text}");
        assert!(text.contains("    seq 8     -2000000 ticks  app code=1 value=42\n"), "{text}");
        assert_eq!(format!("{}", Describe(&Event { seq: 0, tsc: 0, kind: 99, a: 1, b: 2 })), "unknown kind=99 a=0x1 b=0x2");
    }
}
