//! Prints `log` records (xenbus logs rejected replies, unknown requests, transaction retries) on the
//! console as `xenolith: LEVEL target: message`. Installed once when the xenstore connection opens;
//! records below [`LEVEL`] are dropped before formatting.

/// The most verbose level printed.
pub const LEVEL: ::log::LevelFilter = ::log::LevelFilter::Info;

struct ConsoleLog;

impl ::log::Log for ConsoleLog {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        metadata.level() <= LEVEL
    }

    fn log(&self, record: &::log::Record<'_>) {
        if self.enabled(record.metadata()) {
            crate::println!("xenolith: {} {}: {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: ConsoleLog = ConsoleLog;

/// Routes `log` records to the console (a no-op if a logger is installed already).
pub fn install() {
    if ::log::set_logger(&LOGGER).is_ok() {
        ::log::set_max_level(LEVEL);
    }
}
