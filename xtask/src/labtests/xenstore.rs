//! Xenstore and the control protocol on real Xen: the xenstore example end to end (its subtree, a key
//! read back, a watch fired by a dom0 write, a transaction, a conflicting one retried), and
//! hello-forever stopped by `xl shutdown` (clean message, poweroff, latency measured), ended by
//! `xl reboot` (reason reboot; the config says `on_reboot = "destroy"`), and `xl sysrq` acknowledged
//! while an unknown shutdown value is ignored.

use std::time::{Duration, Instant};

use super::LabTest;
use crate::domain::{shutdown_reasons, CreateOpts, Domain, Outcome};
use crate::err;
use crate::images;
use crate::lab::client;
use crate::lab::layout::Layout;
use crate::util::Result;

pub fn tests() -> Vec<LabTest> {
    vec![
        LabTest { name: "xenstore::example", run: example },
        LabTest { name: "xenstore::xl_shutdown", run: xl_shutdown },
        LabTest { name: "xenstore::xl_reboot", run: xl_reboot },
        LabTest { name: "xenstore::xl_reboot_with_restart", run: xl_reboot_with_restart },
        LabTest { name: "xenstore::sysrq_and_unknown_requests", run: sysrq_and_unknown_requests },
        LabTest { name: "xenstore::grace_period_for_an_app_that_ignores_shutdown", run: grace_period },
        LabTest { name: "xenstore::xl_shutdown_of_an_app_that_does_not_listen", run: not_listening },
    ]
}

const LIMIT: Duration = Duration::from_secs(120);
/// `xenolith::control::GRACE`.
const GRACE: Duration = Duration::from_secs(5);
/// `xl shutdown` must end hello-forever within this (the bar), plus one dom0 round trip.
const STOP_WITHIN: Duration = Duration::from_secs(2);

fn boot(cfg: &str, overrides: Vec<(&str, String)>) -> Result<Domain> {
    images::build(images::example_of_config(cfg)?.as_deref().unwrap_or(cfg))?;
    Domain::create(cfg, CreateOpts { overrides, echo: true })
}

fn expect(dom: &mut Domain, want: Outcome) -> Result<()> {
    match dom.wait_end(LIMIT)? {
        o if o == want => Ok(()),
        // `Domain` reads xl's log before asking whether the domain exists: a guest that ends between
        // the two looks destroyed. Once it is gone, the log is complete: its last reason decides.
        Outcome::Destroyed => match logged_outcome(&dom.name) {
            Some(o) if o == want => Ok(()),
            o => Err(err!("{} ended ({o:?} in xl's log), expected {want:?}", dom.name)),
        },
        o => Err(err!("{} ended with {o:?}, expected {want:?}", dom.name)),
    }
}

/// The last shutdown reason in the domain's xl log.
fn logged_outcome(name: &str) -> Option<Outcome> {
    let log = std::fs::read_to_string(Layout::new().xl_log(name)).ok()?;
    Some(match *shutdown_reasons(&log).last()? {
        0 => Outcome::Poweroff,
        1 => Outcome::Reboot,
        3 => Outcome::Crash,
        n => Outcome::Unknown(n),
    })
}

/// The number in the last `hello-forever: tick N` line seen so far.
fn last_tick(dom: &Domain) -> u64 {
    dom.lines
        .iter()
        .rev()
        .find_map(|l| l.text.split("hello-forever: tick ").nth(1).and_then(|n| n.trim().parse().ok()))
        .unwrap_or(0)
}

fn example() -> Result<()> {
    let mut dom = boot("xenstore", vec![])?;
    let home = format!("/local/domain/{}", dom.domid);
    dom.wait_for(&format!("xenstore: I am xenstore (domid {}), vm /vm/", dom.domid), LIMIT)?;
    dom.wait_for("xenstore: command line: \"mode=xenstore-demo\"", LIMIT)?;
    // The listing shows its own keys with their values.
    dom.wait_for(&format!("xenstore:   {home}/name = \"xenstore\""), LIMIT)?;
    dom.wait_for(&format!("xenstore:   {home}/domid = \"{}\"", dom.domid), LIMIT)?;
    dom.wait_for("xenstore: listed ", LIMIT)?;
    dom.wait_for("xenstore: wrote and read back data/xenolith-example = \"written by the guest\"", LIMIT)?;
    dom.wait_for(&format!("xenstore: watching {home}/data/from-dom0"), LIMIT)?;
    // A value no earlier run wrote: the guest must really see this write.
    let word = format!("lab-{}", std::process::id());
    let written = Instant::now();
    dom.dom0(&format!("xenstore-write {home}/data/from-dom0 {word}"))?;
    let fired = dom.wait_for(&format!("data/from-dom0 = \"{word}\""), LIMIT)?;
    println!("watch fired {:.2}s after the dom0 write was sent", written.elapsed().as_secs_f64());
    if !fired.text.contains("watch fired") {
        return Err(err!("unexpected line for the watch: {:?}", fired.text));
    }
    dom.wait_for("xenstore: transaction committed", LIMIT)?;
    dom.wait_for("xenstore: a second transaction committed data/counter = 1 first", LIMIT)?;
    dom.wait_for("conflicting transaction retried: committed on attempt 2 with data/counter = 2 (stored 2)", LIMIT)?;
    dom.wait_for("xenstore: done", LIMIT)?;
    expect(&mut dom, Outcome::Poweroff)
}

/// Runs `cmd` in dom0 and returns how long the round trip took.
fn timed_dom0(dom: &Domain, cmd: &str) -> Result<Duration> {
    let t = Instant::now();
    dom.dom0(cmd)?;
    Ok(t.elapsed())
}

fn xl_shutdown() -> Result<()> {
    let mut dom = boot("hello-forever", vec![])?;
    dom.wait_for(&format!("hello-forever: up as hello-forever (domid {})", dom.domid), LIMIT)?;
    dom.wait_for("hello-forever: tick 2", LIMIT)?;
    // The round trip of an xl command that does not involve the guest (starting xl and libxl is slow
    // under emulation), to tell the guest's part from the toolstack's.
    let trivial = timed_dom0(&dom, &format!("xl list {}", dom.name))?;
    let sent = dom.created.elapsed();
    // `-w`: xl returns once the domain has shut down.
    let stopped = timed_dom0(&dom, &format!("xl shutdown -w {}", dom.name))?;
    let clean = dom.wait_for("poweroff requested after", LIMIT)?;
    if !clean.text.contains("clean shutdown, goodbye") {
        return Err(err!("unexpected shutdown line {:?}", clean.text));
    }
    println!(
        "xl shutdown -w returned after {:.2}s (xl list: {:.2}s); clean message seen by the host {:.2}s after the request was sent",
        stopped.as_secs_f64(),
        trivial.as_secs_f64(),
        clean.at.saturating_sub(sent).as_secs_f64()
    );
    // The guest's own account: from the watch event to its shutdown hypercall.
    let inside = guest_stop_latency(&mut dom)?;
    println!("the guest stopped {} ms after the request reached it", inside.as_millis());
    expect(&mut dom, Outcome::Poweroff)?;
    if inside > STOP_WITHIN {
        return Err(err!("the guest took {inside:?} from the request to its shutdown (limit {STOP_WITHIN:?})"));
    }
    if stopped > STOP_WITHIN + trivial {
        return Err(err!("the domain took {stopped:?} to stop after xl shutdown (limit {STOP_WITHIN:?} + {trivial:?})"));
    }
    Ok(())
}

/// The framework's `xenolith: stopping (...) N ms after the request arrived` line, as a duration.
fn guest_stop_latency(dom: &mut Domain) -> Result<Duration> {
    let line = dom.wait_for("ms after the request arrived", LIMIT)?;
    line.text
        .split(") ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .map(Duration::from_millis)
        .ok_or_else(|| err!("cannot read the stop latency in {:?}", line.text))
}

fn xl_reboot() -> Result<()> {
    let mut dom = boot("hello-forever", vec![])?;
    dom.wait_for("hello-forever: tick 1", LIMIT)?;
    let stopped = timed_dom0(&dom, &format!("xl reboot -w {}", dom.name))?;
    let clean = dom.wait_for("reboot requested after", LIMIT)?;
    if !clean.text.contains("clean shutdown, goodbye") {
        return Err(err!("unexpected reboot line {:?}", clean.text));
    }
    println!("xl reboot -w returned after {:.2}s", stopped.as_secs_f64());
    let inside = guest_stop_latency(&mut dom)?;
    println!("the guest stopped {} ms after the request reached it", inside.as_millis());
    if !dom.lines.iter().any(|l| l.text.contains("xenolith: stopping (Reboot)")) {
        return Err(err!("the guest did not stop with reason reboot"));
    }
    // on_reboot = "destroy" in xl-configs/hello-forever.cfg: xl sees reason reboot and destroys it.
    expect(&mut dom, Outcome::Reboot)
}

fn sysrq_and_unknown_requests() -> Result<()> {
    let mut dom = boot("hello-forever", vec![])?;
    let control = format!("/local/domain/{}/control", dom.domid);
    dom.wait_for("hello-forever: tick 1", LIMIT)?;
    for f in ["poweroff", "reboot"] {
        let v = dom.dom0(&format!("xenstore-read {control}/feature-{f}"))?;
        if v.trim() != "1" {
            return Err(err!("control/feature-{f} is {v:?}, expected 1"));
        }
    }
    dom.dom0(&format!("xl sysrq {} s", dom.name))?;
    dom.wait_for("xenolith: control: sysrq 's' acknowledged", LIMIT)?;
    let left = dom.dom0(&format!("xenstore-read {control}/sysrq"))?;
    if !left.trim().is_empty() {
        return Err(err!("control/sysrq still holds {left:?} after the acknowledgement"));
    }
    // An unknown request is acknowledged and ignored: the guest keeps ticking.
    dom.dom0(&format!("xenstore-write {control}/shutdown bogus-request"))?;
    dom.wait_for("xenolith: control: ignoring shutdown request", LIMIT)?;
    let left = dom.dom0(&format!("xenstore-read {control}/shutdown"))?;
    if !left.trim().is_empty() {
        return Err(err!("control/shutdown still holds {left:?} after the acknowledgement"));
    }
    let next = last_tick(&dom) + 2;
    dom.wait_for(&format!("hello-forever: tick {next}"), LIMIT)?;
    let r = client::sh(&format!("xl shutdown -w {}", dom.name))?;
    if r.0 != 0 {
        return Err(err!("xl shutdown failed: {}", r.1));
    }
    dom.wait_for("poweroff requested after", LIMIT)?;
    expect(&mut dom, Outcome::Poweroff)
}

/// hello-forever listens for the request but ignores it: the framework stops the domain `GRACE` later.
fn grace_period() -> Result<()> {
    let mut dom = boot("hello-forever", vec![("extra", "\"ignore-shutdown\"".into())])?;
    dom.wait_for("hello-forever: tick 1", LIMIT)?;
    let stopped = timed_dom0(&dom, &format!("xl shutdown -w {}", dom.name))?;
    dom.wait_for("poweroff requested after", LIMIT)?.text.contains("ignoring it").then_some(()).ok_or_else(|| err!("the app did not ignore the request"))?;
    dom.wait_for("the application did not stop within", LIMIT)?;
    println!("xl shutdown -w of an app ignoring the request returned after {:.2}s (grace {GRACE:?})", stopped.as_secs_f64());
    expect(&mut dom, Outcome::Poweroff)?;
    if stopped < GRACE {
        return Err(err!("stopped after {stopped:?}, before the grace period of {GRACE:?} ended"));
    }
    if stopped > GRACE + Duration::from_secs(10) {
        return Err(err!("stopped only after {stopped:?}; the grace period is {GRACE:?}"));
    }
    Ok(())
}

/// An application that never asks for `shutdown_requested()` (idle, asleep for 300 s) is stopped at once.
fn not_listening() -> Result<()> {
    let mut dom = boot("idle", vec![("extra", "\"300\"".into())])?;
    dom.wait_for("idle: sleeping 300 s", LIMIT)?;
    let trivial = timed_dom0(&dom, &format!("xl list {}", dom.name))?;
    let stopped = timed_dom0(&dom, &format!("xl shutdown -w {}", dom.name))?;
    dom.wait_for("xenolith: control: poweroff requested", LIMIT)?;
    println!(
        "xl shutdown -w of an app that does not listen returned after {:.2}s (xl list: {:.2}s)",
        stopped.as_secs_f64(),
        trivial.as_secs_f64()
    );
    expect(&mut dom, Outcome::Poweroff)?;
    if stopped > STOP_WITHIN + trivial {
        return Err(err!("the domain took {stopped:?} to stop (limit {STOP_WITHIN:?} + {trivial:?})"));
    }
    Ok(())
}

/// With `on_reboot = "restart"` (overriding the config), `xl reboot` brings up a fresh instance, which
/// `xl shutdown` then powers off. `Domain` follows one domain id and takes its disappearance during the
/// restart for its end, so the new instance is followed here through xl and the console log directly:
/// each check is one dom0 round trip, which paces the loop.
fn xl_reboot_with_restart() -> Result<()> {
    let mut dom = boot("hello-forever", vec![("on_reboot", "\"restart\"".into())])?;
    let first = dom.domid;
    dom.wait_for("hello-forever: tick 1", LIMIT)?;
    dom.dom0(&format!("xl reboot -w {}", dom.name))?;
    let start = Instant::now();
    let console = Layout::new().console_log(&dom.name);
    let (second, up) = loop {
        if start.elapsed() > LIMIT {
            return Err(err!("no new instance of {} came up within {LIMIT:?} of xl reboot", dom.name));
        }
        let (code, out) = client::sh(&format!("xl domid {} 2>/dev/null", dom.name))?;
        let Some(id) = out.trim().parse::<u32>().ok().filter(|&id| code == 0 && id != first) else { continue };
        let text = std::fs::read_to_string(&console).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(&format!("up as hello-forever (domid {id})"))) {
            break (id, line.to_string());
        }
    };
    println!("restarted as domid {second} {:.2}s after xl reboot returned: {up}", start.elapsed().as_secs_f64());
    let (code, out) = client::sh(&format!("xl shutdown -w {}", dom.name))?;
    if code != 0 {
        return Err(err!("xl shutdown of the new instance failed: {out}"));
    }
    let text = std::fs::read_to_string(&console).unwrap_or_default();
    let after_restart = &text[text.find(&up).unwrap_or(0)..];
    if !after_restart.contains("poweroff requested after") || !after_restart.contains("xenolith: stopping (Poweroff)") {
        return Err(err!("the new instance did not stop cleanly:\n{after_restart}"));
    }
    let log = std::fs::read_to_string(Layout::new().xl_log(&dom.name)).unwrap_or_default();
    let reasons = shutdown_reasons(&log);
    println!("shutdown reasons in xl's log: {reasons:?}");
    if reasons != [1, 0] {
        return Err(err!("expected a reboot then a poweroff in xl's log, got {reasons:?}"));
    }
    Ok(())
}
