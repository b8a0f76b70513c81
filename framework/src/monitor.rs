//! Monitoring through xenstore: an async image publishes its vital signs under its own
//! `data/xenolith/` (the part of its xenstore home the toolstack lets it write), where dom0 — an operator
//! with `xenstore-ls /local/domain/ID/data/xenolith`, or any monitoring agent — reads them without
//! touching the guest's network or console.
//!
//! Keys, each a decimal number: `uptime_ms`, `heap_used` and `heap_free` (bytes), `heap_allocations`,
//! `stack_used` (the boot stack's high-water mark, bytes; the stack is `pvh_boot::entry::BOOT_STACK_SIZE`),
//! `events` (event channel deliveries), `blocks` (times the vCPU blocked), `timer_fires`, `upcalls`,
//! `hlt_skips` (upcalls that landed inside `sti; hlt` and skipped the `hlt`),
//! for each network interface `net/IFACE/KEY` (`tx_packets`, `tx_bytes`, `tx_gso_packets`,
//! `tx_gso_segments`, `rx_packets`, `rx_bytes`, `rx_gso_packets`, `rx_bad_checksums`, `tx_errors`; see
//! `xenolith::net::counters`), and last `updates` (samples published so far, written after the others:
//! a reader that sees the same `updates` before and after its reads has one sample).
//!
//! The period is `xenolith.stats=SECS` on the command line (`extra=` in the xl config): 10 s by default,
//! `0` turns publishing off.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use xen_traits::{EventChannels, SharedPage};
use xenbus::Client;

use crate::executor::sleep;

/// Where the vital signs go, relative to the domain's xenstore home.
pub const DIR: &str = "data/xenolith";
/// Publishing period when the command line says nothing.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(10);
/// The command-line option.
pub const OPTION: &str = "xenolith.stats=";

/// One sample of the domain's vital signs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vitals {
    pub uptime_ms: u64,
    pub heap_used: u64,
    pub heap_free: u64,
    pub heap_allocations: u64,
    pub stack_used: u64,
    pub events: u64,
    pub blocks: u64,
    pub timer_fires: u64,
    pub upcalls: u64,
    pub hlt_skips: u64,
}

impl Vitals {
    /// (key, value) of each sign, in publishing order.
    pub fn entries(&self) -> [(&'static str, u64); 10] {
        [
            ("uptime_ms", self.uptime_ms),
            ("heap_used", self.heap_used),
            ("heap_free", self.heap_free),
            ("heap_allocations", self.heap_allocations),
            ("stack_used", self.stack_used),
            ("events", self.events),
            ("blocks", self.blocks),
            ("timer_fires", self.timer_fires),
            ("upcalls", self.upcalls),
            ("hlt_skips", self.hlt_skips),
        ]
    }

    /// [`Vitals::entries`] with owned keys, to append more to.
    pub fn keyed(&self) -> Vec<(String, u64)> {
        self.entries().iter().map(|&(k, v)| (String::from(k), v)).collect()
    }
}

/// A `xenolith.stats=` value that is not a whole number of seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPeriod(pub alloc::string::String);

impl core::fmt::Display for BadPeriod {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{OPTION}{:?} is not a number of seconds", self.0)
    }
}

/// The publishing period the command line asks for: `None` when it turns publishing off. The last
/// `xenolith.stats=` word counts.
pub fn period(cmdline: &str) -> Result<Option<Duration>, BadPeriod> {
    match cmdline.split_whitespace().filter_map(|w| w.strip_prefix(OPTION)).next_back() {
        None => Ok(Some(DEFAULT_PERIOD)),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(s) => Ok(Some(Duration::from_secs(s))),
            Err(_) => Err(BadPeriod(v.to_string())),
        },
    }
}

/// Publishes a fresh `sample()` — (key under [`DIR`], value) pairs — every `period`, for ever; returns
/// only when xenstore refuses a write.
pub async fn publish<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
    period: Duration,
    mut sample: impl FnMut() -> Vec<(String, u64)>,
) -> Result<(), xenbus::Error> {
    let mut updates = 0u64;
    loop {
        for (key, value) in sample() {
            xs.write(&format!("{DIR}/{key}"), value.to_string().as_bytes()).await?;
        }
        updates += 1;
        xs.write(&format!("{DIR}/updates"), updates.to_string().as_bytes()).await?;
        sleep(period).await;
    }
}

/// Everything published: the vital signs, and with networking each interface's traffic.
#[cfg(all(target_os = "none", feature = "executor"))]
pub fn sample(start: crate::executor::Instant) -> Vec<(String, u64)> {
    #[allow(unused_mut)]
    let mut all = vitals(start).keyed();
    #[cfg(feature = "net")]
    for (iface, t) in crate::net::counters::latest() {
        all.extend(t.entries().iter().map(|&(k, v)| (format!("net/{iface}/{k}"), v)));
    }
    all
}

/// This domain's vital signs now; `start` is when the framework started.
#[cfg(all(target_os = "none", feature = "executor"))]
pub fn vitals(start: crate::executor::Instant) -> Vitals {
    let (blocks, _timer_sets, events, timer_fires) = crate::xen::platform::stats();
    let heap = pvh_boot::heap::usage();
    Vitals {
        uptime_ms: start.elapsed().as_millis() as u64,
        heap_used: heap.allocated,
        heap_free: heap.available,
        heap_allocations: heap.allocations,
        stack_used: pvh_boot::entry::stack_high_water() as u64,
        events,
        blocks,
        timer_fires,
        upcalls: pvh_boot::upcall::count(),
        hlt_skips: pvh_boot::upcall::hlt_skips(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_comes_from_the_command_line() {
        assert_eq!(period(""), Ok(Some(DEFAULT_PERIOD)));
        assert_eq!(period("ip=10.0.0.2/24 xenolith.stats=3"), Ok(Some(Duration::from_secs(3))));
        assert_eq!(period("xenolith.stats=0"), Ok(None));
        assert_eq!(period("xenolith.stats=5 xenolith.stats=0"), Ok(None), "the last one counts");
        assert_eq!(period("xenolith.stats=soon"), Err(BadPeriod("soon".into())));
        assert_eq!(period("xenolith.statsx=1"), Ok(Some(DEFAULT_PERIOD)));
    }

    #[test]
    fn entries_name_every_sign_once() {
        let v = Vitals {
            uptime_ms: 1,
            heap_used: 2,
            heap_free: 3,
            heap_allocations: 4,
            stack_used: 9,
            events: 5,
            blocks: 6,
            timer_fires: 7,
            upcalls: 8,
            hlt_skips: 10,
        };
        let e = v.entries();
        let mut keys: alloc::vec::Vec<&str> = e.iter().map(|(k, _)| *k).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 10);
        assert_eq!(e.iter().map(|(_, v)| v).sum::<u64>(), 55);
    }
}
