//! dom0's side of the TCP stream benchmarks (`cargo xtask bench net`), run the same way against our
//! guests and the Linux reference guest. std only, linked statically, built by the bench and run from
//! the lab's share. busybox nc moves 8 KiB per poll round; under the lab's emulation that, not the
//! guest, was the limit. This moves 256 KiB per system call.
//!
//! - `send ADDR PORT BYTES`: connect, write BYTES zeros, shut the sending side, read until the peer
//!   closes (a discard service closes once it has read everything), print `secs=S bytes=BYTES`.
//! - `recv ADDR PORT`: connect, read until the peer closes, print `secs=S bytes=N`.
//! - `echo ADDR PORT BYTES`: write BYTES of a pseudo-random pattern (from a second thread) while
//!   reading the echo back, compare every byte, print `secs=S bytes=N identical=0|1`.
//!
//! Time runs from before the connect until the peer's close.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::time::Instant;

const CHUNK: usize = 256 * 1024;

fn drain(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<u64> {
    let mut total = 0u64;
    loop {
        match s.read(buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// Byte `i` of the echo pattern (xorshift of the position: no period a TCP bug could hide in).
fn pattern(i: u64) -> u8 {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995;
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (x >> 32) as u8
}

/// Sends `total` pattern bytes from a thread, reads them back here; true if all came back unchanged.
fn echo(s: &mut TcpStream, total: u64, buf: &mut [u8]) -> Result<bool, String> {
    let mut w = s.try_clone().map_err(|e| format!("clone: {e}"))?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = vec![0u8; CHUNK];
        let mut at = 0u64;
        while at < total {
            let k = (total - at).min(CHUNK as u64) as usize;
            for (j, b) in out[..k].iter_mut().enumerate() {
                *b = pattern(at + j as u64);
            }
            w.write_all(&out[..k])?;
            at += k as u64;
        }
        w.shutdown(Shutdown::Write)
    });
    let (mut got, mut same) = (0u64, true);
    loop {
        let n = s.read(buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        same &= buf[..n].iter().enumerate().all(|(j, b)| *b == pattern(got + j as u64));
        got += n as u64;
    }
    writer.join().map_err(|_| "writer panicked".to_string())?.map_err(|e| format!("write: {e}"))?;
    Ok(same && got == total)
}

fn run(args: &[String]) -> Result<String, String> {
    let mut buf = vec![0u8; CHUNK];
    let t0 = Instant::now();
    let (mode, addr) = match args {
        [m, a, p, ..] => (m.as_str(), format!("{a}:{p}")),
        _ => return Err("usage: netstream send ADDR PORT BYTES | recv ADDR PORT | echo ADDR PORT BYTES".into()),
    };
    let mut s = TcpStream::connect(&addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let bytes = match (mode, args.get(3)) {
        ("send", Some(n)) => {
            let mut left: u64 = n.parse().map_err(|_| format!("bad byte count {n}"))?;
            while left > 0 {
                let k = left.min(CHUNK as u64) as usize;
                s.write_all(&buf[..k]).map_err(|e| format!("write: {e}"))?;
                left -= k as u64;
            }
            s.shutdown(Shutdown::Write).map_err(|e| format!("shutdown: {e}"))?;
            drain(&mut s, &mut buf).map_err(|e| format!("read: {e}"))?;
            n.parse::<u64>().unwrap_or(0)
        }
        ("recv", None) => drain(&mut s, &mut buf).map_err(|e| format!("read: {e}"))?,
        ("echo", Some(n)) => {
            let total: u64 = n.parse().map_err(|_| format!("bad byte count {n}"))?;
            let identical = echo(&mut s, total, &mut buf)?;
            return Ok(format!("secs={:.6} bytes={total} identical={}", t0.elapsed().as_secs_f64(), u8::from(identical)));
        }
        _ => return Err(format!("bad arguments {args:?}")),
    };
    Ok(format!("secs={:.6} bytes={bytes}", t0.elapsed().as_secs_f64()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netstream: {e}");
            ExitCode::FAILURE
        }
    }
}
