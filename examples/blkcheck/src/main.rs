//! blkcheck: exercises every disk of the domain through `xenolith::block` and prints a verdict.
//!
//! Command line (`extra=`): `nonce=WORD expect=WORD` (both optional).
//!
//! For each writable disk:
//! 1. reads the marker dom0 wrote at byte 4 MiB before boot and compares it with `expect=`;
//! 2. checks that bad requests are refused before reaching the ring (a length that is not a whole
//!    number of sectors, empty, beyond the end), with no request sent;
//! 3. discards a region (when the backend offers discard);
//! 4. writes patterns at the first and last sectors, random sectors (4 tasks at once) and in sizes from
//!    one sector to 3 MiB (direct and indirect requests, split I/O), flushes, reads them back, verifies;
//! 5. writes a pattern over the whole disk in 1 MiB requests, flushes, reads it back and verifies
//!    (timed: sequential MiB/s), then random 4 KiB reads (IOPS at queue depth 1 and 16);
//! 6. leaves text dom0 can check in the backing file: a tag with the nonce in the first sector, the last
//!    sector and at 8 MiB, and 2048 lines `XENOLITH-PATTERN <nonce> block=NNNNNNNN` at 16 MiB.
//!
//! For a read-only disk: the marker, then writes and discards must be refused with `ReadOnly` and no
//! request sent.
//!
//! Last line: `blkcheck: PASS ...` or `blkcheck: FAIL ...`; then power-off (or a crash on FAIL).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use xenolith::block::{open_all, Error, SubmitError, XenDisk};
use xenolith::executor::{Instant, JoinHandle, LocalSet};
use xenolith::{println, Context};

const MIB: u64 = 1 << 20;
/// dom0 writes its marker here before boot.
const MARKER_AT: u64 = 4 * MIB;
/// The nonce tag the guest leaves for dom0.
const TAG_AT: u64 = 8 * MIB;
/// The text pattern the guest leaves for dom0 (1 MiB of 512-byte lines).
const TEXT_AT: u64 = 16 * MIB;
/// Scratch region for the discard check.
const DISCARD_AT: u64 = 32 * MIB;
/// Random 4 KiB reads at depth 16 (a quarter of that at depth 1).
const RANDOM_READS: usize = 320;
/// The smallest disk the layout above fits in.
const MIN_DISK: u64 = 40 * MIB;

/// Deterministic pseudo-random words (splitmix64).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The pattern of `seed` for the bytes at absolute disk offset `at..at + buf.len()` (8-aligned).
fn fill(buf: &mut [u8], at: u64, seed: u64) {
    for (i, w) in buf.chunks_mut(8).enumerate() {
        let v = mix(seed ^ ((at / 8) + i as u64)).to_le_bytes();
        w.copy_from_slice(&v[..w.len()]);
    }
}

/// The first byte offset where `buf` differs from the pattern, if any.
fn mismatch(buf: &[u8], at: u64, seed: u64) -> Option<u64> {
    for (i, w) in buf.chunks(8).enumerate() {
        let v = mix(seed ^ ((at / 8) + i as u64)).to_le_bytes();
        if w != &v[..w.len()] {
            let j = w.iter().zip(v.iter()).position(|(a, b)| a != b).unwrap_or(0);
            return Some(at + (i * 8 + j) as u64);
        }
    }
    None
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mix(self.0)
    }
}

fn arg<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline.split_ascii_whitespace().find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Collects failures of one disk.
struct Report {
    name: String,
    failures: Vec<String>,
}
impl Report {
    fn fail(&mut self, what: String) {
        println!("blkcheck: {}: FAIL {what}", self.name);
        self.failures.push(what);
    }
}

fn mib_s(bytes: u64, since: Instant) -> f64 {
    let ns = Instant::now().duration_since(since).as_nanos().max(1) as f64;
    bytes as f64 / (1 << 20) as f64 / (ns / 1e9)
}

/// Reads the marker dom0 wrote at [`MARKER_AT`] and compares it with `expect`.
async fn check_marker(disk: &XenDisk, expect: Option<&str>, r: &mut Report) {
    let ss = disk.sector_size() as u64;
    let mut buf = vec![0u8; 4096];
    match disk.read(MARKER_AT / ss, &mut buf).await {
        Err(e) => r.fail(format!("reading the dom0 marker: {e}")),
        Ok(()) => {
            let end = buf.iter().position(|&b| b == 0 || b == b'\n').unwrap_or(buf.len());
            let text = String::from_utf8_lossy(&buf[..end]).to_string();
            println!("blkcheck: {}: dom0 marker at {} MiB: \"{}\"", r.name, MARKER_AT / MIB, text.escape_default());
            if let Some(want) = expect {
                if text != want {
                    r.fail(format!("dom0 marker is \"{}\", expected \"{want}\"", text.escape_default()));
                }
            }
        }
    }
}

/// `op` must be refused with `want` and send nothing.
async fn expect_rejected<F: core::future::Future<Output = Result<(), Error>>>(
    disk: &XenDisk,
    what: &str,
    want: SubmitError,
    op: F,
    r: &mut Report,
) {
    let before = disk.stats().submitted;
    let got = op.await;
    let sent = disk.stats().submitted - before;
    if got != Err(Error::Rejected(want)) || sent != 0 {
        r.fail(format!("{what}: expected Rejected({want:?}) with nothing sent, got {got:?} ({sent} requests sent)"));
    } else {
        println!("blkcheck: {}: {what}: refused ({})", r.name, Error::Rejected(want));
    }
}

async fn check_rejections(disk: &XenDisk, r: &mut Report) {
    let ss = disk.sector_size();
    let cap = disk.capacity();
    let mut buf = vec![0u8; 2 * ss];
    expect_rejected(disk, "write of sector size - 1 bytes", SubmitError::Unaligned, disk.write(0, &buf[..ss - 1]), r).await;
    if ss > 512 {
        expect_rejected(disk, "write of 512 bytes", SubmitError::Unaligned, disk.write(0, &buf[..512]), r).await;
    }
    expect_rejected(disk, "empty write", SubmitError::Unaligned, disk.write(0, &buf[..0]), r).await;
    expect_rejected(disk, "write past the end", SubmitError::OutOfRange, disk.write(cap - 1, &buf), r).await;
    expect_rejected(disk, "write at u64::MAX", SubmitError::OutOfRange, disk.write(u64::MAX, &buf[..ss]), r).await;
    expect_rejected(disk, "read of 1.5 sectors", SubmitError::Unaligned, disk.read(0, &mut buf[..ss + ss / 2]), r).await;
    expect_rejected(disk, "read past the end", SubmitError::OutOfRange, disk.read(cap, &mut buf[..ss]), r).await;
}

/// One region: (first sector, sectors).
type Region = (u64, u64);

/// Writes the pattern of `seed` over `regions` (several at once from 4 tasks), flushes, reads back and
/// verifies. The regions avoid the marker and tag areas.
/// Runs the local tasks until each has finished; their error lists, in spawn order.
async fn all_errors(local: &LocalSet, handles: Vec<JoinHandle<Vec<String>>>) -> Vec<String> {
    local
        .run_until(async {
            let mut all = Vec::new();
            for h in handles {
                all.extend(h.await);
            }
            all
        })
        .await
}

async fn check_regions(disk: &Rc<XenDisk>, regions: Vec<Region>, seed: u64, r: &mut Report) {
    let ss = disk.sector_size() as u64;
    let local = LocalSet::new();
    let per_task = regions.len().div_ceil(4);
    let mut handles = Vec::new();
    for part in regions.chunks(per_task) {
        let part = part.to_vec();
        let disk = disk.clone();
        handles.push(local.spawn(async move {
            let mut errs = Vec::new();
            for (lba, n) in part {
                let mut buf = vec![0u8; (n * ss) as usize];
                fill(&mut buf, lba * ss, seed);
                if let Err(e) = disk.write(lba, &buf).await {
                    errs.push(format!("write of {n} sectors at {lba}: {e}"));
                }
            }
            errs
        }));
    }
    let errs = all_errors(&local, handles).await;
    for e in errs {
        r.fail(e);
    }
    if let Err(e) = disk.flush().await {
        r.fail(format!("flush: {e}"));
    }
    let mut bytes = 0;
    for &(lba, n) in &regions {
        let mut buf = vec![0u8; (n * ss) as usize];
        match disk.read(lba, &mut buf).await {
            Err(e) => r.fail(format!("read of {n} sectors at {lba}: {e}")),
            Ok(()) => {
                if let Some(at) = mismatch(&buf, lba * ss, seed) {
                    r.fail(format!("read back of {n} sectors at {lba}: first difference at byte {at}"));
                }
            }
        }
        bytes += n * ss;
    }
    println!("blkcheck: {}: {} regions ({} KiB) written by 4 tasks, flushed, read back", r.name, regions.len(), bytes >> 10);
}

/// Whether `[lba, lba + n)` (sectors) touches an area the guest must not overwrite with patterns.
fn reserved(lba: u64, n: u64, ss: u64) -> bool {
    let (a, b) = (lba * ss, (lba + n) * ss);
    [(MARKER_AT, MARKER_AT + MIB), (TAG_AT, TAG_AT + MIB), (TEXT_AT, TEXT_AT + MIB)].iter().any(|&(x, y)| a < y && x < b)
}

fn regions(cap: u64, ss: u64, rng: &mut Rng) -> Vec<Region> {
    let mut v = vec![(0, 1), (cap - 1, 1)];
    // Random single sectors.
    while v.len() < 66 {
        let lba = rng.next() % cap;
        if !reserved(lba, 1, ss) {
            v.push((lba, 1));
        }
    }
    // Sizes around the request limits: 11 segments (direct), 12 (indirect), 1 MiB (one indirect
    // request), 3 MiB + one sector (split into several).
    for bytes in [8 << 10, 44 << 10, 48 << 10, 100 << 10, 1 << 20, (3 << 20) + 4096] {
        let n = (bytes as u64).div_ceil(ss);
        loop {
            let lba = rng.next() % (cap - n);
            if !reserved(lba, n, ss) {
                v.push((lba, n));
                break;
            }
        }
    }
    // Sorted and without overlaps, so each region's read back sees its own write.
    v.sort_unstable();
    let mut out: Vec<Region> = Vec::new();
    for (lba, n) in v {
        match out.last() {
            Some(&(l, m)) if lba < l + m => {}
            _ => out.push((lba, n)),
        }
    }
    out
}

/// The sweep's content at absolute byte offset `at` (512-aligned): the 1 MiB base pattern repeated,
/// each 512-byte block stamped with its own offset (so a misplaced request shows).
fn sweep_data(buf: &mut [u8], at: u64, base: &[u8]) {
    for (i, block) in buf.chunks_mut(512).enumerate() {
        let a = at + (i as u64) * 512;
        let from = (a % MIB) as usize;
        block.copy_from_slice(&base[from..from + block.len()]);
        block[..8].copy_from_slice(&a.to_le_bytes());
    }
}

/// The whole disk in 1 MiB requests (except the reserved areas): write, flush, read, verify; timed.
async fn sweep(disk: &XenDisk, base: &[u8], r: &mut Report) -> (f64, f64) {
    let ss = disk.sector_size() as u64;
    let cap = disk.capacity();
    let per = MIB / ss;
    let chunks: Vec<Region> = (0..cap.div_ceil(per))
        .map(|i| (i * per, per.min(cap - i * per)))
        .filter(|&(lba, n)| !reserved(lba, n, ss))
        .collect();
    let total: u64 = chunks.iter().map(|&(_, n)| n * ss).sum();
    let mut buf = vec![0u8; MIB as usize];
    let mut want = vec![0u8; MIB as usize];
    let t = Instant::now();
    for &(lba, n) in &chunks {
        let p = &mut want[..(n * ss) as usize];
        sweep_data(p, lba * ss, base);
        if let Err(e) = disk.write(lba, p).await {
            r.fail(format!("sweep write at {lba}: {e}"));
            return (0.0, 0.0);
        }
    }
    if let Err(e) = disk.flush().await {
        r.fail(format!("sweep flush: {e}"));
    }
    let w = mib_s(total, t);
    let t = Instant::now();
    let mut bad = 0;
    for &(lba, n) in &chunks {
        let len = (n * ss) as usize;
        if let Err(e) = disk.read(lba, &mut buf[..len]).await {
            r.fail(format!("sweep read at {lba}: {e}"));
            return (w, 0.0);
        }
        sweep_data(&mut want[..len], lba * ss, base);
        if buf[..len] != want[..len] {
            bad += 1;
            if bad == 1 {
                let at = buf[..len].iter().zip(&want[..len]).position(|(a, b)| a != b).unwrap_or(0);
                r.fail(format!("sweep: data read back at sector {lba} differs (byte {at} of the request)"));
            }
        }
    }
    let rd = mib_s(total, t);
    println!(
        "blkcheck: {}: whole disk: {} MiB in {} requests of 1 MiB: write+flush {:.1} MiB/s, read {:.1} MiB/s, verified ({} bad)",
        r.name,
        total >> 20,
        chunks.len(),
        w,
        rd,
        bad
    );
    (w, rd)
}

/// Random 4 KiB reads, `depth` at once (local tasks), verified against the sweep's pattern; IOPS.
async fn random_reads(disk: &Rc<XenDisk>, base: &Rc<Vec<u8>>, seed: u64, depth: usize, count: usize, r: &mut Report) -> f64 {
    let ss = disk.sector_size() as u64;
    let n = 4096 / ss;
    let cap = disk.capacity();
    let local = LocalSet::new();
    let mut handles = Vec::new();
    let t = Instant::now();
    for task in 0..depth {
        let disk = disk.clone();
        let base = base.clone();
        let mut rng = Rng(seed ^ (task as u64 * 7919));
        handles.push(local.spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut want = vec![0u8; 4096];
            let mut errs = Vec::new();
            let mut done = 0;
            while done < count / depth {
                let lba = (rng.next() % (cap / n)) * n;
                if reserved(lba, n, ss) {
                    continue;
                }
                match disk.read(lba, &mut buf).await {
                    Err(e) => errs.push(format!("random read at {lba}: {e}")),
                    Ok(()) => {
                        sweep_data(&mut want, lba * ss, &base);
                        if buf != want {
                            errs.push(format!("random read at {lba}: data differs"));
                        }
                    }
                }
                done += 1;
            }
            errs
        }));
    }
    let errs = all_errors(&local, handles).await;
    let ns = Instant::now().duration_since(t).as_nanos().max(1) as f64;
    println!("blkcheck: {}: {} random 4 KiB reads at depth {depth} in {} ms", r.name, count / depth * depth, (ns / 1e6) as u64);
    for e in errs.into_iter().take(5) {
        r.fail(e);
    }
    (count / depth * depth) as f64 / (ns / 1e9)
}

/// Text dom0 can find in the backing file.
async fn leave_tags(disk: &XenDisk, nonce: &str, r: &mut Report) {
    let ss = disk.sector_size() as u64;
    let cap = disk.capacity();
    for (what, lba) in [("first", 0), ("last", cap - 1), ("tag", TAG_AT / ss)] {
        let mut buf = vec![0u8; ss as usize];
        let text = format!("XENOLITH-BLKCHECK {} nonce={nonce} where={what}\n", r.name);
        buf[..text.len()].copy_from_slice(text.as_bytes());
        if let Err(e) = disk.write(lba, &buf).await {
            r.fail(format!("tag write at {lba}: {e}"));
        }
    }
    let mut text = vec![b'.'; MIB as usize];
    for (i, line) in text.chunks_mut(512).enumerate() {
        let head = format!("XENOLITH-PATTERN {nonce} block={i:08}");
        line[..head.len()].copy_from_slice(head.as_bytes());
        line[511] = b'\n';
    }
    if let Err(e) = disk.write(TEXT_AT / ss, &text).await {
        r.fail(format!("text pattern write: {e}"));
    }
    if let Err(e) = disk.flush().await {
        r.fail(format!("final flush: {e}"));
    }
    println!("blkcheck: {}: tags with nonce {nonce} at sectors 0, {} and {} MiB; 2048 pattern lines at {} MiB", r.name, cap - 1, TAG_AT / MIB, TEXT_AT / MIB);
}

async fn check_writable(disk: &Rc<XenDisk>, nonce: &str, expect: Option<&str>, r: &mut Report) -> String {
    let ss = disk.sector_size() as u64;
    let cap = disk.capacity();
    if cap * ss < MIN_DISK {
        r.fail(format!("disk of {} MiB is smaller than the {} MiB this check needs", (cap * ss) >> 20, MIN_DISK >> 20));
        return String::new();
    }
    check_marker(disk, expect, r).await;
    check_rejections(disk, r).await;
    if disk.info().discard.is_some() {
        match disk.discard(DISCARD_AT / ss, MIB / ss).await {
            Ok(()) => println!("blkcheck: {}: discard of 1 MiB at {} MiB: ok", r.name, DISCARD_AT / MIB),
            Err(e) => r.fail(format!("discard: {e}")),
        }
    } else {
        println!("blkcheck: {}: the backend offers no discard", r.name);
    }
    let seed = seed_of(nonce);
    let mut rng = Rng(seed);
    let regions = regions(cap, ss, &mut rng);
    check_regions(disk, regions, seed ^ 0xa5a5, r).await;
    let mut base = vec![0u8; MIB as usize];
    fill(&mut base, 0, seed ^ 0x5a5a);
    let base = Rc::new(base);
    let (w, rd) = sweep(disk, &base, r).await;
    let qd1 = random_reads(disk, &base, seed, 1, RANDOM_READS / 4, r).await;
    let qd16 = random_reads(disk, &base, seed, 16, RANDOM_READS, r).await;
    println!("blkcheck: {}: random 4 KiB reads: {:.0} IOPS at depth 1, {:.0} IOPS at depth 16, verified", r.name, qd1, qd16);
    leave_tags(disk, nonce, r).await;
    let s = disk.stats();
    println!(
        "blkcheck: {}: requests {} ({} indirect), completed {}, notifications {}",
        r.name, s.submitted, s.indirect, s.completed, s.notifies
    );
    format!("bench {} seq_write_mib_s={w:.2} seq_read_mib_s={rd:.2} randread_4k_iops_qd1={qd1:.0} randread_4k_iops_qd16={qd16:.0}", r.name)
}

async fn check_read_only(disk: &XenDisk, expect: Option<&str>, r: &mut Report) {
    let ss = disk.sector_size();
    check_marker(disk, expect, r).await;
    let buf = vec![0u8; ss];
    expect_rejected(disk, "write to the read-only disk", SubmitError::ReadOnly, disk.write(0, &buf), r).await;
    expect_rejected(disk, "large write to the read-only disk", SubmitError::ReadOnly, disk.write(0, &vec![0u8; 1 << 20]), r).await;
    if disk.info().discard.is_some() {
        expect_rejected(disk, "discard on the read-only disk", SubmitError::ReadOnly, disk.discard(0, 1), r).await;
    }
    // Reads still work.
    let mut all = vec![0u8; 1 << 20];
    match disk.read(0, &mut all).await {
        Ok(()) => println!("blkcheck: {}: read of 1 MiB: ok", r.name),
        Err(e) => r.fail(format!("read of 1 MiB: {e}")),
    }
}

#[xenolith::main]
async fn main(ctx: Context) -> Result<(), String> {
    let nonce = arg(ctx.cmdline(), "nonce").unwrap_or("none").to_string();
    let expect = arg(ctx.cmdline(), "expect").map(|s| s.to_string());
    let disks = match open_all(&ctx).await {
        Ok(d) => d,
        Err(e) => {
            println!("blkcheck: FAIL opening the disks: {e}");
            return Err(e.to_string());
        }
    };
    if disks.is_empty() {
        println!("blkcheck: FAIL no disks (add disk= to the config)");
        return Err("no disks".into());
    }
    let mut failures = 0;
    let mut summary = Vec::new();
    for disk in &disks {
        let info = disk.info();
        println!(
            "blkcheck: {}: {} sectors of {} bytes ({} MiB){}, physical sector {} bytes, flush {:?}, discard {}, indirect segments {}, ring {} slots, max request {} KiB",
            disk.name(),
            disk.capacity(),
            disk.sector_size(),
            (disk.capacity() * disk.sector_size() as u64) >> 20,
            if disk.read_only() { ", read-only" } else { "" },
            info.physical_sector_size,
            info.flush,
            if info.discard.is_some() { "yes" } else { "no" },
            info.max_indirect_segments,
            disk.ring_size(),
            disk.max_request_bytes() >> 10,
        );
        let mut r = Report { name: disk.name().to_string(), failures: Vec::new() };
        if disk.read_only() {
            check_read_only(disk, expect.as_deref(), &mut r).await;
            summary.push(format!("{}:ro", disk.name()));
        } else {
            let bench = check_writable(disk, &nonce, expect.as_deref(), &mut r).await;
            println!("blkcheck: {bench}");
            summary.push(format!("{}:rw/{}", disk.name(), disk.sector_size()));
        }
        if let Some(b) = disk.broken() {
            r.fail(format!("device broken: {b:?}"));
        }
        failures += r.failures.len();
    }
    if failures == 0 {
        println!("blkcheck: PASS disks={} {} nonce={nonce}", disks.len(), summary.join(" "));
        Ok(())
    } else {
        println!("blkcheck: FAIL {failures} failures, disks={} {}", disks.len(), summary.join(" "));
        Err(format!("{failures} failures"))
    }
}
