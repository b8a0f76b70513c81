//! `cargo xtask lab up | down | status`: the lab as a background QEMU process.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::build;
use super::client;
use super::layout::Layout;
use crate::err;
use crate::util::{run_quiet, Context, Progress, Result};

/// Xen's command line. `smap=0`: the PV dom0 kernel crashes at once without it under TCG.
/// `bootscrub=0`: scrubbing 8 GiB under emulation costs minutes and buys nothing here.
/// `dom0_vcpus_pin`: dom0's one vCPU stays on physical CPU 0, and the runner pins guests to CPU 1
/// (`cpus="1"`, see `xlcfg::LAB_SETTINGS`): no vCPU ever moves between the emulated CPUs, which under
/// QEMU's nested SVM made guests triple-fault at random.
const XEN_CMDLINE: &str = "console=com1 com1=115200 loglvl=all guest_loglvl=all smap=0 bootscrub=0 \
                           dom0_mem=1024M,max:1024M dom0_max_vcpus=1 dom0_vcpus_pin";
/// Guest RAM of the emulated machine: room for dom0 (1 GiB) and a guest with RAM above 4 GiB.
const MACHINE_MEM_MB: u32 = 8192;
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

fn running_pid(l: &Layout) -> Option<u32> {
    let pid: u32 = fs::read_to_string(l.pidfile()).ok()?.trim().parse().ok()?;
    pid_alive(pid).then_some(pid)
}

pub fn is_up() -> bool {
    running_pid(&Layout::new()).is_some() && client::agent_answers()
}

/// Starts the lab unless it is already up. Builds what is missing first.
pub fn up(p: &Progress) -> Result<()> {
    let l = Layout::new();
    if running_pid(&l).is_some() {
        if client::agent_answers() {
            p.step("lab up: the lab is already up");
            return Ok(());
        }
        return Err(err!(
            "a lab QEMU is running but its agent does not answer; see {} or run `cargo xtask lab down`",
            l.serial_log().display()
        ));
    }
    build::build(p)?;
    let state_rel = l
        .state()
        .strip_prefix(&l.repo)
        .map(|r| r.display().to_string())
        .map_err(|_| err!("the lab directory must be inside the repository (it is shared with dom0)"))?;
    if state_rel.contains(',') || state_rel.contains(' ') {
        return Err(err!("the lab state path {state_rel:?} may not contain commas or spaces"));
    }
    // Fresh runtime state; built artefacts stay.
    let _ = fs::remove_dir_all(l.state());
    fs::create_dir_all(l.xen_logs().join("console"))?;
    let port = free_port()?;
    p.step(format!("lab up: starting QEMU (TCG, {MACHINE_MEM_MB} MiB, 2 vCPUs)"));
    let dom0_module = format!(
        "{} console=hvc0 earlyprintk=xen xenolith.state={state_rel},{}",
        l.vmlinuz().display(),
        l.dom0_cpio().display()
    );
    run_quiet(
        Command::new("qemu-system-x86_64")
            .args(["-accel", "tcg", "-machine", "q35", "-cpu", "max", "-smp", "2"])
            .args(["-m", &MACHINE_MEM_MB.to_string()])
            .args(["-display", "none", "-no-reboot", "-nodefaults"])
            .arg("-monitor")
            .arg(format!("unix:{},server=on,wait=off", l.monitor_sock().display()))
            .arg("-serial")
            .arg(format!("file:{}", l.serial_log().display()))
            .arg("-kernel")
            .arg(l.xen())
            .args(["-append", XEN_CMDLINE])
            .args(["-initrd", &dom0_module])
            .arg("-netdev")
            .arg(format!("user,id=ctl,restrict=on,hostfwd=tcp:127.0.0.1:{port}-10.0.2.15:7000"))
            .args(["-device", "virtio-net-pci,netdev=ctl,romfile="])
            .arg("-virtfs")
            .arg(format!("local,path={},mount_tag=lab,security_model=none,id=lab", l.repo.display()))
            .arg("-pidfile")
            .arg(l.pidfile())
            .arg("-daemonize"),
    )?;
    fs::write(l.portfile(), format!("{port}\n"))?;
    wait_ready(p, &l)?;
    p.step(format!("lab up: ready; dom0 agent on 127.0.0.1:{port}"));
    Ok(())
}

/// Follows the serial log until dom0 says it is ready, reporting the stages on the way.
fn wait_ready(p: &Progress, l: &Layout) -> Result<()> {
    let stages: &[(&str, &str)] = &[
        ("Xen version", "lab up: Xen is booting"),
        ("Linux version", "lab up: dom0 kernel is booting"),
        ("xenolith-lab: xl:", "lab up: dom0 toolstack is running"),
    ];
    let mut seen = 0;
    let start = Instant::now();
    loop {
        let log = fs::read(l.serial_log()).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        while seen < stages.len() && log.contains(stages[seen].0) {
            p.step(stages[seen].1);
            seen += 1;
        }
        if let Some(i) = log.find("XENOLITH-LAB-FAILED") {
            let line = log[i..].lines().next().unwrap_or("");
            let _ = down(p);
            return Err(err!("dom0 set-up failed: {line} (see {})", l.serial_log().display()));
        }
        if log.contains("XENOLITH-LAB-READY") && client::agent_answers() {
            return Ok(());
        }
        if running_pid(l).is_none() {
            return Err(err!("QEMU exited during boot; its serial log:\n{}", tail(&log, 30)));
        }
        if start.elapsed() > BOOT_TIMEOUT {
            let _ = down(p);
            return Err(err!("the lab did not become ready in {BOOT_TIMEOUT:?}; serial log:\n{}", tail(&log, 30)));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context(|| "cannot find a free local port".into())?;
    Ok(l.local_addr()?.port())
}

/// Stops the lab: dom0 powers off (which ends QEMU); QEMU's monitor and then a signal if not.
pub fn down(p: &Progress) -> Result<()> {
    let l = Layout::new();
    let Some(pid) = running_pid(&l) else {
        p.step("lab down: the lab is not running");
        let _ = fs::remove_file(l.portfile());
        return Ok(());
    };
    p.step("lab down: powering dom0 off");
    let _ = client::sh_stream("sync; busybox poweroff -f", Duration::from_secs(10), |_| {});
    if !wait_exit(pid, Duration::from_secs(30)) {
        p.step("lab down: QEMU still running; quitting through its monitor");
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(l.monitor_sock()) {
            use std::io::Write;
            let _ = s.write_all(b"quit\n");
        }
        if !wait_exit(pid, Duration::from_secs(10)) {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            wait_exit(pid, Duration::from_secs(10));
        }
    }
    let _ = fs::remove_file(l.portfile());
    let _ = fs::remove_file(l.pidfile());
    p.step("lab down: stopped");
    Ok(())
}

fn wait_exit(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    !pid_alive(pid)
}

/// Prints whether the lab is up; exit status 0 when up, 3 when not.
pub fn status() -> Result<i32> {
    let l = Layout::new();
    match running_pid(&l) {
        None => {
            println!("lab: down");
            Ok(3)
        }
        Some(pid) => match client::sh("xl list") {
            Ok((0, out)) => {
                println!("lab: up (QEMU pid {pid}, serial log {})", l.serial_log().display());
                print!("{out}");
                Ok(0)
            }
            _ => {
                println!("lab: QEMU pid {pid} is running but dom0's agent does not answer (booting?)");
                Ok(3)
            }
        },
    }
}
