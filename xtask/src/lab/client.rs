//! The host side of the dom0 agent: run a shell command in dom0 and get its output and status.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::layout::Layout;
use super::proto::{self, Frame};
use crate::err;
use crate::util::{Context, Result};

/// How long a command may stay silent before the client gives up on it.
pub const DEFAULT_SILENCE: Duration = Duration::from_secs(300);

fn connect() -> Result<TcpStream> {
    let l = Layout::new();
    let port = std::fs::read_to_string(l.portfile())
        .map_err(|_| err!("the lab is not up (start it with `cargo xtask lab up`)"))?;
    let port: u16 = port.trim().parse().map_err(|_| err!("corrupt {}", l.portfile().display()))?;
    TcpStream::connect(("127.0.0.1", port))
        .context(|| format!("cannot reach the lab agent on 127.0.0.1:{port} (is the lab up?)"))
}

/// Runs `cmd` in dom0, passing each piece of output to `sink`; returns the exit status.
pub fn sh_stream(cmd: &str, silence: Duration, mut sink: impl FnMut(&[u8])) -> Result<u32> {
    let mut conn = connect()?;
    conn.set_read_timeout(Some(silence))?;
    proto::write_request(&mut conn, cmd)?;
    let mut r = BufReader::new(conn);
    loop {
        match proto::read_frame(&mut r).context(|| format!("lab agent, running `{cmd}`"))? {
            Frame::Output(data) => sink(&data),
            Frame::Exit(code) => return Ok(code),
        }
    }
}

/// Runs `cmd` in dom0 and returns (exit status, output).
pub fn sh(cmd: &str) -> Result<(u32, String)> {
    let mut out = Vec::new();
    let code = sh_stream(cmd, DEFAULT_SILENCE, |d| out.extend_from_slice(d))?;
    Ok((code, String::from_utf8_lossy(&out).into_owned()))
}

/// Runs `cmd` in dom0 and returns its output, failing (with the output) on a non-zero status.
pub fn sh_ok(cmd: &str) -> Result<String> {
    let (code, out) = sh(cmd)?;
    if code != 0 {
        return Err(err!("dom0: `{cmd}` exited with {code}:\n{out}"));
    }
    Ok(out)
}

/// `cargo xtask lab sh -- CMD`: output to stdout, exit with the command's status.
pub fn sh_to_stdout(cmd: &str) -> Result<i32> {
    let stdout = std::io::stdout();
    let code = sh_stream(cmd, DEFAULT_SILENCE, |d| {
        let mut o = stdout.lock();
        let _ = o.write_all(d);
        let _ = o.flush();
    })?;
    Ok(code as i32)
}

/// Does the agent answer a trivial command?
pub fn agent_answers() -> bool {
    matches!(sh_stream("true", Duration::from_secs(10), |_| {}), Ok(0))
}
