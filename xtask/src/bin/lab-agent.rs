//! lab-agent: runs in the lab's dom0 and executes shell commands sent by `cargo xtask lab sh`.
//!
//! Each TCP connection carries one command (see `lab/proto.rs`). The command's output goes to a
//! file, never a pipe: `xl create` leaves background processes that would otherwise hold a pipe
//! (and the reply) open forever. The agent tails that file while the command runs and streams
//! what appears, then sends the exit status once the command itself has exited.

#[path = "../lab/proto.rs"]
mod proto;

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "0.0.0.0:7000".into());
    let listener = loop {
        match TcpListener::bind(&addr) {
            Ok(l) => break l,
            Err(e) => {
                eprintln!("lab-agent: bind {addr}: {e}; retrying");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    };
    eprintln!("lab-agent: listening on {addr}");
    for conn in listener.incoming() {
        match conn {
            Ok(c) => {
                std::thread::spawn(move || {
                    if let Err(e) = serve(c) {
                        eprintln!("lab-agent: connection: {e}");
                    }
                });
            }
            Err(e) => eprintln!("lab-agent: accept: {e}"),
        }
    }
}

fn serve(conn: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let cmd = proto::read_request(&mut reader)?;
    let mut out = conn;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    std::fs::create_dir_all("/run/lab-agent")?;
    let path = format!("/run/lab-agent/{id}.out");
    let file = File::create(&path)?;
    // Rust opens every descriptor (the listener, this connection) close-on-exec, so the command
    // and whatever it leaves running cannot hold the connection open.
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(&cmd)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()?;
    let mut tail = File::open(&path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let status = loop {
        let exited = child.try_wait()?;
        // Drain everything written so far (after exit: everything the command wrote).
        loop {
            let n = tail.read(&mut buf)?;
            if n == 0 {
                break;
            }
            proto::write_output(&mut out, &buf[..n])?;
        }
        if let Some(st) = exited {
            break st;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&path);
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c as u32,
        (None, Some(sig)) => 128 + sig as u32,
        (None, None) => 255,
    };
    proto::write_exit(&mut out, code)?;
    out.flush()
}
