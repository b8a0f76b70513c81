//! `cargo xtask`: build, run, test and benchmark Xenolith images in the Xen lab.

mod bench;
mod domain;
mod fuzz;
mod images;
mod inspect;
mod lab;
mod labtests;
mod run;
mod symbols;
mod test;
mod util;
mod xlcfg;

use util::{Progress, Result};

const USAGE: &str = "usage: cargo xtask <command>

  lab build                 fetch and build the lab (Xen, dom0, Linux reference guest)
  lab up | down | status    start, stop or inspect the background lab
  lab sh -- 'CMD'           run CMD in dom0, print its output, exit with its status
  build NAME                build examples/NAME into target/images/NAME
  run NAME [--timeout SECS] boot xl-configs/NAME.cfg in the lab, stream its console;
                            exit 0 only when the domain powered off
  symbolize NAME [LOG]      annotate a crash report's addresses with functions (LOG or stdin)
  inspect IMAGE|NAME        what an image holds: size, symbols, PVH entry, memory, manifest
  bench [boot|net|block]..  measure images beside the Linux reference guest (target/bench/;
                            default: every section)
  test [--host] [--fuzz] [--lab] [FILTER]
                            host tests, bounded fuzzing, then lab tests (default: all three;
                            FILTER: lab tests whose name contains it)
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    match dispatch(&args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("xtask: error: {e}");
            std::process::exit(1);
        }
    }
}

fn dispatch(args: &[&str]) -> Result<i32> {
    let p = Progress::new();
    match args {
        ["lab", "build"] => lab::build::build(&p).map(|_| 0),
        ["lab", "up"] => lab::qemu::up(&p).map(|_| 0),
        ["lab", "down"] => lab::qemu::down(&p).map(|_| 0),
        ["lab", "status"] => lab::qemu::status(),
        ["lab", "sh", "--", cmd @ ..] | ["lab", "sh", cmd @ ..] if !cmd.is_empty() => {
            lab::client::sh_to_stdout(&cmd.join(" "))
        }
        ["build", name] => images::build(name).map(|p| {
            println!("{}", p.display());
            0
        }),
        ["run", name, rest @ ..] => {
            let timeout = match rest {
                [] => 300,
                ["--timeout", s] => s.parse().map_err(|_| err!("--timeout takes seconds, not {s:?}"))?,
                _ => return Err(err!("usage: cargo xtask run NAME [--timeout SECS]")),
            };
            run::run(&p, name, std::time::Duration::from_secs(timeout))
        }
        ["inspect", image] => inspect::inspect(image),
        ["symbolize", name] => symbols::symbolize(name, None),
        ["symbolize", name, log] => symbols::symbolize(name, Some(log)),
        ["bench", only @ ..] => bench::bench(&p, only),
        ["test", rest @ ..] => {
            let mut opts = test::TestOpts { host: false, fuzz: false, lab: false, filter: None };
            for a in rest {
                match *a {
                    "--host" => opts.host = true,
                    "--fuzz" => opts.fuzz = true,
                    "--lab" => opts.lab = true,
                    f if !f.starts_with('-') => opts.filter = Some(f.to_string()),
                    other => return Err(err!("unknown test option {other}")),
                }
            }
            if !(opts.host || opts.fuzz || opts.lab) {
                (opts.host, opts.fuzz, opts.lab) = (true, true, true);
            }
            test::test(&p, &opts)
        }
        _ => {
            eprint!("{USAGE}");
            Ok(2)
        }
    }
}
