//! The toolstack's control protocol under `control/`: `xl shutdown`/`reboot` write `control/shutdown`,
//! `xl sysrq` writes `control/sysrq`; the guest acknowledges by clearing the node (in a transaction, as
//! Linux does) and advertises what it supports with `control/feature-*` nodes.
//!
//! The framework's control task watches these nodes and calls [`take_shutdown_request`] /
//! [`take_sysrq`] on each event.

use xen_traits::{EventChannels, SharedPage};

use crate::async_client::Client;
use crate::error::Error;

/// `control/shutdown`.
pub const SHUTDOWN: &str = "control/shutdown";
/// `control/sysrq`.
pub const SYSRQ: &str = "control/sysrq";
/// Attempts for the acknowledging transaction before giving up.
const TX_ATTEMPTS: u32 = 8;

/// What the toolstack asked for in `control/shutdown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownRequest {
    /// `poweroff` (`xl shutdown`).
    Poweroff,
    /// `reboot` (`xl reboot`).
    Reboot,
    /// `halt`.
    Halt,
    /// `suspend` (save/migrate).
    Suspend,
    /// `crash` (`xl trigger ... crash`-style requests some toolstacks send).
    Crash,
    /// Anything else: acknowledged and ignored (logged).
    Unknown,
}

impl ShutdownRequest {
    /// Parse a `control/shutdown` value; `None` for an empty value (no request, or our own ack).
    pub fn parse(value: &[u8]) -> Option<ShutdownRequest> {
        let v = crate::payload::strip_nul(value);
        Some(match v {
            b"" => return None,
            b"poweroff" => ShutdownRequest::Poweroff,
            b"reboot" => ShutdownRequest::Reboot,
            b"halt" => ShutdownRequest::Halt,
            b"suspend" => ShutdownRequest::Suspend,
            b"crash" => ShutdownRequest::Crash,
            _ => ShutdownRequest::Unknown,
        })
    }
}

/// Read and clear a node in one transaction (retried on conflict). `Ok(None)` if it was empty or missing.
async fn take<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
    path: &str,
) -> Result<Option<alloc::vec::Vec<u8>>, Error> {
    xs.transaction(TX_ATTEMPTS, async |tx| {
        let v = match tx.read(path).await {
            Ok(v) => v,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        if crate::payload::strip_nul(&v).is_empty() {
            return Ok(None);
        }
        tx.write(path, b"").await?;
        Ok(Some(v))
    })
    .await
}

/// Take (read and acknowledge) a pending shutdown request. Unknown values are acknowledged, logged and
/// returned as [`ShutdownRequest::Unknown`] so the caller can ignore them.
pub async fn take_shutdown_request<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
) -> Result<Option<ShutdownRequest>, Error> {
    let Some(v) = take(xs, SHUTDOWN).await? else {
        return Ok(None);
    };
    let r = ShutdownRequest::parse(&v);
    if r == Some(ShutdownRequest::Unknown) {
        log::warn!(
            "xenbus: ignoring unknown shutdown request {:?}",
            crate::payload::strip_nul(&v)
        );
    }
    Ok(r)
}

/// Take (read and acknowledge) a pending sysrq key.
pub async fn take_sysrq<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
) -> Result<Option<u8>, Error> {
    Ok(take(xs, SYSRQ).await?.and_then(|v| v.first().copied()))
}

/// Advertise `control/feature-<name>` = `1` for each name (e.g. `poweroff`, `reboot`, `sysrq`), so the
/// toolstack uses the PV control protocol.
pub async fn advertise_features<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
    names: &[&str],
) -> Result<(), Error> {
    for n in names {
        xs.write(&alloc::format!("control/feature-{n}"), b"1")
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_values() {
        assert_eq!(ShutdownRequest::parse(b""), None);
        assert_eq!(ShutdownRequest::parse(b"\0"), None);
        assert_eq!(
            ShutdownRequest::parse(b"poweroff"),
            Some(ShutdownRequest::Poweroff)
        );
        assert_eq!(
            ShutdownRequest::parse(b"reboot\0"),
            Some(ShutdownRequest::Reboot)
        );
        assert_eq!(ShutdownRequest::parse(b"halt"), Some(ShutdownRequest::Halt));
        assert_eq!(
            ShutdownRequest::parse(b"suspend"),
            Some(ShutdownRequest::Suspend)
        );
        assert_eq!(
            ShutdownRequest::parse(b"crash"),
            Some(ShutdownRequest::Crash)
        );
        assert_eq!(
            ShutdownRequest::parse(b"Poweroff"),
            Some(ShutdownRequest::Unknown)
        );
    }
}
