//! blkbench for the Linux reference guest (xenolith.mode=blkbench): the same measurements as
//! examples/blkcheck, through Linux's xen-blkfront with O_DIRECT (no page cache), on a whole disk.
//!
//! `blkbench DEVICE`: writes the disk in 1 MiB requests (except the 1 MiB areas at 4, 8 and 16 MiB,
//! which blkcheck keeps for its markers) then fsync, reads it back in 1 MiB requests and verifies,
//! then random 4 KiB reads (80 at depth 1: one thread; 320 at depth 16: 16 threads, each with one
//! O_DIRECT read in flight), each read verified. Timings include making and checking the pattern, as
//! blkcheck's do. Prints one line:
//! `blkbench: bench xvda seq_write_mib_s=.. seq_read_mib_s=.. randread_4k_iops_qd1=.. randread_4k_iops_qd16=..`
//!
//! Built by `cargo xtask lab build` with `rustc -C target-feature=+crt-static` (std only, static) into the
//! reference guest's initramfs as /bin/blkbench.
use std::alloc::{alloc_zeroed, Layout};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::time::Instant;

const MIB: u64 = 1 << 20;
const O_DIRECT: i32 = 0o40000;
const RESERVED: [u64; 3] = [4 * MIB, 8 * MIB, 16 * MIB];

/// A page-aligned buffer (O_DIRECT needs aligned memory); lives as long as the program.
fn aligned(len: usize) -> &'static mut [u8] {
    let layout = Layout::from_size_align(len, 4096).expect("layout");
    // SAFETY: the layout has a non-zero size; the memory is zeroed, so every byte is initialised,
    // and it is never freed, so the 'static slice stays valid.
    unsafe {
        let p = alloc_zeroed(layout);
        assert!(!p.is_null(), "out of memory");
        std::slice::from_raw_parts_mut(p, len)
    }
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The content of the 1 MiB chunk at `at`: words of a pattern, the first word of each 512 bytes the offset.
fn fill(buf: &mut [u8], at: u64) {
    for (i, w) in buf.chunks_mut(8).enumerate() {
        let off = at + 8 * i as u64;
        let v = if off % 512 == 0 { off } else { mix(off) };
        w.copy_from_slice(&v.to_le_bytes());
    }
}

fn reserved(off: u64, len: u64) -> bool {
    RESERVED.iter().any(|&r| off < r + MIB && r < off + len)
}

fn random_reads(dev: &str, size: u64, depth: u64, count: u64) -> Result<f64, String> {
    let t = Instant::now();
    let threads: Vec<_> = (0..depth)
        .map(|task| {
            let dev = dev.to_string();
            std::thread::spawn(move || -> Result<(), String> {
                let f = open(&dev)?;
                let buf = aligned(4096);
                let mut want = vec![0u8; 4096];
                let mut seed = 0x5eed ^ (task * 7919);
                let mut done = 0;
                while done < count / depth {
                    seed += 1;
                    let off = (mix(seed) % (size / 4096)) * 4096;
                    if reserved(off, 4096) {
                        continue;
                    }
                    f.read_exact_at(buf, off).map_err(|e| format!("random read at {off}: {e}"))?;
                    fill(&mut want, off);
                    if buf[..] != want[..] {
                        return Err(format!("random read at {off}: data differs"));
                    }
                    done += 1;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a reader thread panicked".to_string())??;
    }
    Ok((count / depth * depth) as f64 / t.elapsed().as_secs_f64())
}

fn open(dev: &str) -> Result<File, String> {
    OpenOptions::new().read(true).write(true).custom_flags(O_DIRECT).open(dev).map_err(|e| format!("open {dev}: {e}"))
}

fn run(dev: &str) -> Result<String, String> {
    let name = dev.rsplit('/').next().unwrap_or(dev);
    let mut f = open(dev)?;
    let size = f.seek(SeekFrom::End(0)).map_err(|e| format!("size of {dev}: {e}"))?;
    let chunks: Vec<u64> = (0..size / MIB).map(|i| i * MIB).filter(|&o| !reserved(o, MIB)).collect();
    let total = chunks.len() as u64 * MIB;
    let buf = aligned(MIB as usize);
    let t = Instant::now();
    for &off in &chunks {
        fill(buf, off);
        f.write_all_at(buf, off).map_err(|e| format!("write at {off}: {e}"))?;
    }
    f.sync_all().map_err(|e| format!("fsync: {e}"))?;
    let w = total as f64 / MIB as f64 / t.elapsed().as_secs_f64();
    let mut want = vec![0u8; MIB as usize];
    // Timed with the verification, as blkcheck times its sweep.
    let t = Instant::now();
    for &off in &chunks {
        f.read_exact_at(buf, off).map_err(|e| format!("read at {off}: {e}"))?;
        fill(&mut want, off);
        if buf[..] != want[..] {
            return Err(format!("read back at {off}: data differs"));
        }
    }
    let r = total as f64 / MIB as f64 / t.elapsed().as_secs_f64();
    let qd1 = random_reads(dev, size, 1, 80)?;
    let qd16 = random_reads(dev, size, 16, 320)?;
    Ok(format!(
        "bench {name} seq_write_mib_s={w:.2} seq_read_mib_s={r:.2} randread_4k_iops_qd1={qd1:.0} randread_4k_iops_qd16={qd16:.0} ({} MiB, verified)",
        total / MIB
    ))
}

fn main() {
    let dev = std::env::args().nth(1).unwrap_or_else(|| "/dev/xvda".into());
    match run(&dev) {
        Ok(line) => println!("blkbench: {line}"),
        Err(e) => {
            println!("blkbench: FAIL {e}");
            std::process::exit(1);
        }
    }
}
