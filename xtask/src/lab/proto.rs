//! The wire protocol between `cargo xtask lab sh` (host) and `lab-agent` (dom0), over TCP.
//!
//! Request: the line `XLAB1 <len>\n` then `len` bytes of shell command.
//! Reply: a sequence of frames, each a tag byte and a big-endian u32:
//! `O` + length + that many bytes of output (stdout and stderr interleaved), repeated;
//! then `X` + the exit status (as u32; 128+signal for a killed command), which ends the reply.
//! One connection carries one command, so concurrent commands use concurrent connections.

// The host uses the client half and the agent the server half of this module.
#![allow(dead_code)]

use std::io::{self, BufRead, Read, Write};

pub const MAGIC: &str = "XLAB1";
/// Longest command accepted by the agent.
pub const MAX_COMMAND: usize = 1 << 20;
/// Largest output frame the agent sends (the client accepts nothing larger).
pub const MAX_FRAME: u32 = 1 << 20;

pub fn write_request(w: &mut impl Write, cmd: &str) -> io::Result<()> {
    writeln!(w, "{MAGIC} {}", cmd.len())?;
    w.write_all(cmd.as_bytes())?;
    w.flush()
}

pub fn read_request(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    r.by_ref().take(64).read_line(&mut line)?;
    let len = line
        .strip_prefix(MAGIC)
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n <= MAX_COMMAND)
        .ok_or_else(|| bad(format!("bad request header {line:?}")))?;
    let mut buf = vec![0; len];
    r.read_exact(&mut buf)?;
    String::from_utf8(buf).map_err(|_| bad("command is not UTF-8".into()))
}

/// One frame of a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Output(Vec<u8>),
    Exit(u32),
}

pub fn write_output(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    for chunk in data.chunks(MAX_FRAME as usize) {
        w.write_all(b"O")?;
        w.write_all(&(chunk.len() as u32).to_be_bytes())?;
        w.write_all(chunk)?;
    }
    w.flush()
}

pub fn write_exit(w: &mut impl Write, status: u32) -> io::Result<()> {
    w.write_all(b"X")?;
    w.write_all(&status.to_be_bytes())?;
    w.flush()
}

pub fn read_frame(r: &mut impl Read) -> io::Result<Frame> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head)?;
    let n = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    match head[0] {
        b'O' if n <= MAX_FRAME => {
            let mut buf = vec![0; n as usize];
            r.read_exact(&mut buf)?;
            Ok(Frame::Output(buf))
        }
        b'O' => Err(bad(format!("output frame of {n} bytes is too large"))),
        b'X' => Ok(Frame::Exit(n)),
        t => Err(bad(format!("unknown frame tag {t:#x}"))),
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn request_round_trip() {
        let mut buf = Vec::new();
        write_request(&mut buf, "xl list\necho 'a b'").unwrap();
        let got = read_request(&mut Cursor::new(buf)).unwrap();
        assert_eq!(got, "xl list\necho 'a b'");
    }

    #[test]
    fn request_rejects_bad_header_and_huge_length() {
        assert!(read_request(&mut Cursor::new(b"HELLO 3\nabc".to_vec())).is_err());
        let huge = format!("{MAGIC} {}\n", MAX_COMMAND + 1);
        assert!(read_request(&mut Cursor::new(huge.into_bytes())).is_err());
        // Truncated body.
        assert!(read_request(&mut Cursor::new(format!("{MAGIC} 10\nabc").into_bytes())).is_err());
    }

    #[test]
    fn reply_frames_round_trip() {
        let mut buf = Vec::new();
        write_output(&mut buf, b"hello\n").unwrap();
        write_output(&mut buf, b"").unwrap();
        write_exit(&mut buf, 3).unwrap();
        let mut r = Cursor::new(buf);
        assert_eq!(read_frame(&mut r).unwrap(), Frame::Output(b"hello\n".to_vec()));
        assert_eq!(read_frame(&mut r).unwrap(), Frame::Exit(3));
    }

    #[test]
    fn reply_rejects_oversized_and_unknown_frames() {
        let mut big = vec![b'O'];
        big.extend_from_slice(&(MAX_FRAME + 1).to_be_bytes());
        assert!(read_frame(&mut Cursor::new(big)).is_err());
        assert!(read_frame(&mut Cursor::new(b"Z\0\0\0\0".to_vec())).is_err());
    }
}
