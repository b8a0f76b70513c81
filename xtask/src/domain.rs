//! A domain created in the lab: its console, its emergency (port 0xe9) output and how it ended.
//!
//! The console is read from xenconsoled's log file, which dom0 writes into the shared lab state
//! directory; port 0xe9 output is read from Xen's serial log (`(dN) text` lines). How the domain
//! ended comes from `xl`'s own log (`Domain N has shut down, reason code R`).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::err;
use crate::lab::client;
use crate::lab::layout::{Layout, DOM0_SHARE};
use crate::util::Result;
use crate::xlcfg;

/// Xen's shutdown reason codes (public/sched.h SHUTDOWN_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Poweroff,
    Reboot,
    Suspend,
    Crash,
    Watchdog,
    SoftReset,
    Unknown(u32),
    /// More reboots than a healthy guest does in one run.
    RebootLoop,
    /// The domain went away without a recorded shutdown (e.g. `xl destroy`).
    Destroyed,
}

impl Outcome {
    fn from_code(c: u32) -> Self {
        match c {
            0 => Outcome::Poweroff,
            1 => Outcome::Reboot,
            2 => Outcome::Suspend,
            3 => Outcome::Crash,
            4 => Outcome::Watchdog,
            5 => Outcome::SoftReset,
            n => Outcome::Unknown(n),
        }
    }
}

/// dom0's tmpfs directory that kernels and ramdisks are copied to before `xl create`.
const STAGE: &str = "/run/xenolith-stage";

/// Reboots after which a domain that keeps restarting counts as a reboot loop.
const MAX_REBOOTS: usize = 3;

/// Reason codes of every shutdown in an xl log, in order.
pub fn shutdown_reasons(xl_log: &str) -> Vec<u32> {
    xl_log
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find("has shut down, reason code ")? + "has shut down, reason code ".len()..];
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// The domain id in `Waiting for domain NAME (domid N) to die`.
pub fn domid_in_xl_log(xl_log: &str) -> Option<u32> {
    let rest = &xl_log[xl_log.find("(domid ")? + "(domid ".len()..];
    rest[..rest.find(')')?].trim().parse().ok()
}

fn wait_domid(xl_log: &std::path::Path) -> Option<u32> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(id) = fs::read_to_string(xl_log).ok().as_deref().and_then(domid_in_xl_log) {
            return Some(id);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Follows a growing file from an offset and hands out whole lines.
struct Tail {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl Tail {
    fn new(path: PathBuf, offset: u64) -> Self {
        Tail { path, offset, partial: String::new() }
    }
    fn at_end(path: PathBuf) -> Self {
        let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Tail::new(path, len)
    }
    fn lines(&mut self, flush: bool) -> Vec<String> {
        let mut data = Vec::new();
        if let Ok(mut f) = fs::File::open(&self.path) {
            if f.seek(SeekFrom::Start(self.offset)).is_ok() {
                let _ = f.read_to_end(&mut data);
            }
        }
        self.offset += data.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&data));
        let mut out = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            out.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        if flush && !self.partial.is_empty() {
            out.push(std::mem::take(&mut self.partial));
        }
        out
    }
}

/// A line the guest printed, and when the host first saw it.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Duration,
    pub text: String,
}

pub struct Domain {
    pub name: String,
    pub domid: u32,
    /// When `xl create` was started.
    pub created: Instant,
    console: Tail,
    serial: Tail,
    pub lines: Vec<Line>,
    xl_log: PathBuf,
    echo: bool,
    outcome: Option<Outcome>,
    /// When set, echoed crash-report addresses are annotated with their functions.
    symbols: Option<crate::symbols::Symbols>,
}

/// Options of [`Domain::create`].
pub struct CreateOpts<'a> {
    /// Settings replaced in the config, as (key, value in xl syntax).
    pub overrides: Vec<(&'a str, String)>,
    /// Print the guest's output as it arrives.
    pub echo: bool,
}

impl Domain {
    /// `xl create` of `xl-configs/<cfg>.cfg` (or a path), rewritten for the lab.
    pub fn create(cfg_name: &str, opts: CreateOpts) -> Result<Domain> {
        let l = Layout::new();
        let cfg_path = if cfg_name.contains('/') {
            PathBuf::from(cfg_name)
        } else {
            l.repo.join("xl-configs").join(format!("{cfg_name}.cfg"))
        };
        let cfg = fs::read_to_string(&cfg_path).map_err(|e| err!("cannot read {}: {e}", cfg_path.display()))?;
        let name = xlcfg::get_string(&cfg, "name").ok_or_else(|| err!("{} has no name=", cfg_path.display()))?;
        let cfg = xlcfg::merge(&cfg, &opts.overrides);
        // Crash reports of our own images are echoed with function names (target/images/NAME.sym).
        let symbols = xlcfg::get_string(&cfg, "kernel")
            .and_then(|k| k.strip_prefix("target/images/").map(str::to_string))
            .filter(|_| opts.echo)
            .and_then(|image| crate::symbols::of_image(&image));
        for disk in xlcfg::disk_targets(&cfg).iter().filter(|d| !d.starts_with('/')) {
            let host = l.repo.join(disk);
            if !host.exists() {
                if let Some(dir) = host.parent() {
                    fs::create_dir_all(dir)?;
                }
                fs::File::create(&host)?.set_len(64 << 20)?;
            }
        }
        let (lab_cfg, copies) = xlcfg::stage_boot_files(&xlcfg::absolute_paths(&cfg, DOM0_SHARE), STAGE, &name);
        fs::create_dir_all(l.run_configs())?;
        let host_cfg = l.run_configs().join(format!("{name}.cfg"));
        fs::write(&host_cfg, lab_cfg)?;
        let dom0_cfg = l.in_dom0(&host_cfg).ok_or_else(|| err!("lab state is outside the repository"))?;

        // A domain of the same name left from an earlier run goes first, with its logs.
        let _ = client::sh(&format!("xl destroy {name} 2>/dev/null"));
        let _ = fs::remove_file(l.console_log(&name));
        let _ = fs::remove_file(l.xl_log(&name));
        let serial = Tail::at_end(l.serial_log());

        let stage: String = copies.iter().map(|(src, dst)| format!(" && cp '{src}' '{dst}'")).collect();
        client::sh_ok(&format!("mkdir -p {STAGE}{stage}"))?;

        let created = Instant::now();
        let (code, out) = client::sh(&format!("cd {DOM0_SHARE} && xl create {dom0_cfg}"))?;
        if code != 0 {
            return Err(err!("xl create {name} failed ({code}):\n{out}"));
        }
        // A short-lived guest may be gone before we could ask `xl domid`: the domain id comes
        // from the log of the xl process that waits for the domain.
        let domid = wait_domid(&l.xl_log(&name))
            .ok_or_else(|| err!("xl create {name} returned, but its xl log names no domain id"))?;
        Ok(Domain {
            console: Tail::new(l.console_log(&name), 0),
            serial,
            lines: Vec::new(),
            xl_log: l.xl_log(&name),
            name,
            domid,
            created,
            echo: opts.echo,
            outcome: None,
            symbols,
        })
    }

    /// Collects new console and port-0xe9 lines; returns how many arrived.
    fn poll_output(&mut self, flush: bool) -> usize {
        let at = self.created.elapsed();
        let tag = format!("(d{}) ", self.domid);
        let mut new: Vec<String> = self.console.lines(flush);
        new.extend(self.serial.lines(flush).into_iter().filter_map(|l| {
            // Xen prefixes its serial lines with "(XEN) " only for its own messages; guest
            // port-0xe9 output is "(dN) text".
            l.find(&tag).map(|i| format!("[0xe9] {}", &l[i + tag.len()..]))
        }));
        for text in &new {
            if self.echo {
                match &self.symbols {
                    Some(s) => println!("{}", s.annotate(text)),
                    None => println!("{text}"),
                }
            }
            self.lines.push(Line { at, text: text.clone() });
        }
        new.len()
    }

    /// Waits until a line containing `needle` appears; returns it.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> Result<Line> {
        let start = Instant::now();
        let mut checked = 0;
        loop {
            self.poll_output(false);
            if let Some(l) = self.lines[checked..].iter().find(|l| l.text.contains(needle)) {
                return Ok(l.clone());
            }
            checked = self.lines.len();
            if self.outcome.is_none() {
                self.outcome = self.check_end()?;
            }
            if let Some(o) = self.outcome {
                self.poll_output(true);
                if let Some(l) = self.lines[checked..].iter().find(|l| l.text.contains(needle)) {
                    return Ok(l.clone());
                }
                return Err(err!("domain {} ended ({o:?}) before printing {needle:?}", self.name));
            }
            if start.elapsed() > limit {
                return Err(err!("domain {} did not print {needle:?} within {limit:?}", self.name));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Has the domain ended? Looks at xl's log, then at whether the domain still exists.
    fn check_end(&mut self) -> Result<Option<Outcome>> {
        // Ask whether the domain exists before reading xl's log: xl logs the shutdown before it
        // destroys the domain, so a domain found gone has its reason in the log already.
        let (code, list) = client::sh(&format!("xl list {} 2>/dev/null", self.name))?;
        // `xl list NAME` also fails while the domain exists (seen: segfaults, "is an invalid domain
        // identifier" for Domain-0) when other domains come and go; xenstore answers for sure.
        let exists = code == 0
            || client::sh(&format!("xenstore-exists /local/domain/{}", self.domid))?.0 == 0;
        let reasons = shutdown_reasons(&fs::read_to_string(&self.xl_log).unwrap_or_default());
        let reboots = reasons.iter().filter(|&&r| r == 1).count();
        if exists && reboots > MAX_REBOOTS {
            let _ = client::sh(&format!("xl destroy {}", self.name));
            return Ok(Some(Outcome::RebootLoop));
        }
        if exists {
            // A preserved crashed domain stays listed in state 'c'.
            let crashed = list.lines().nth(1).and_then(|l| l.split_whitespace().nth(4)).map(|s| s.contains('c'));
            if crashed == Some(true) {
                return Ok(Some(Outcome::Crash));
            }
            return Ok(None);
        }
        Ok(Some(reasons.last().map(|&c| Outcome::from_code(c)).unwrap_or(Outcome::Destroyed)))
    }

    /// Waits for the domain to end (or `limit` to pass, which destroys it).
    pub fn wait_end(&mut self, limit: Duration) -> Result<Outcome> {
        let start = Instant::now();
        loop {
            self.poll_output(false);
            if self.outcome.is_none() {
                self.outcome = self.check_end()?;
            }
            if let Some(o) = self.outcome {
                // xenconsoled may still be writing the last lines.
                std::thread::sleep(Duration::from_millis(300));
                self.poll_output(true);
                if o == Outcome::Crash {
                    let _ = client::sh(&format!("xl destroy {}", self.name));
                }
                return Ok(o);
            }
            if start.elapsed() > limit {
                self.poll_output(true);
                self.destroy();
                return Err(err!("timeout: domain {} still running after {limit:?}; destroyed", self.name));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn destroy(&mut self) {
        let _ = client::sh(&format!("xl destroy {} 2>/dev/null", self.name));
    }

    /// Runs a command in dom0 about this domain, echoing it and its output.
    pub fn dom0(&self, cmd: &str) -> Result<String> {
        println!("dom0# {cmd}");
        let out = client::sh_ok(cmd)?;
        print!("{out}");
        Ok(out)
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        if self.outcome.is_none() {
            self.destroy();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shutdown_reasons() {
        let log = "Waiting for domain hello (domid 3) to die [pid 812]\n\
                   Domain 3 has shut down, reason code 1 0x1\n\
                   Action for shutdown reason code 1 is restart\n\
                   Domain 4 has shut down, reason code 3 0x3\n";
        assert_eq!(shutdown_reasons(log), vec![1, 3]);
        assert_eq!(domid_in_xl_log(log), Some(3));
        assert_eq!(domid_in_xl_log("Waiting for domain x (domid ) to die"), None);
        assert_eq!(shutdown_reasons("nothing here\n"), Vec::<u32>::new());
    }

    #[test]
    fn tail_returns_whole_lines_only() {
        let dir = std::env::temp_dir().join(format!("xtask-tail-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("log");
        fs::write(&f, "one\ntw").unwrap();
        let mut t = Tail::new(f.clone(), 0);
        assert_eq!(t.lines(false), vec!["one"]);
        fs::write(&f, "one\ntwo\nthree").unwrap();
        assert_eq!(t.lines(false), vec!["two"]);
        assert_eq!(t.lines(true), vec!["three"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
