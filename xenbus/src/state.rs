//! `enum xenbus_state` of `io/xenbus.h` and the transitions a frontend may make.

use core::fmt;

use crate::error::Malformed;

/// The state a frontend or backend publishes in its `state` node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
#[allow(missing_docs)]
pub enum XenbusState {
    Unknown = 0,
    Initialising = 1,
    /// Waiting for information from the peer (typically the backend, before the frontend's keys).
    InitWait = 2,
    /// Initialised and waiting for a connection from the peer.
    Initialised = 3,
    Connected = 4,
    /// Being torn down (the peer should close).
    Closing = 5,
    Closed = 6,
    /// Reconfiguring (used by PV SCSI hot-plug).
    Reconfiguring = 7,
    Reconfigured = 8,
}

impl XenbusState {
    /// Decode a state number.
    pub const fn from_u32(v: u32) -> Option<XenbusState> {
        use XenbusState::*;
        Some(match v {
            0 => Unknown,
            1 => Initialising,
            2 => InitWait,
            3 => Initialised,
            4 => Connected,
            5 => Closing,
            6 => Closed,
            7 => Reconfiguring,
            8 => Reconfigured,
            _ => return None,
        })
    }

    /// Parse a `state` node's value (decimal; a trailing nul or newline is tolerated).
    pub fn parse(value: &[u8]) -> Result<XenbusState, Malformed> {
        let v = match value.split_last() {
            Some((0 | b'\n', rest)) => rest,
            _ => value,
        };
        crate::payload::parse_decimal(v)
            .and_then(|n| u32::try_from(n).ok())
            .and_then(XenbusState::from_u32)
            .ok_or(Malformed::BadState)
    }

    /// The value to write into a `state` node.
    pub const fn as_str(self) -> &'static str {
        ["0", "1", "2", "3", "4", "5", "6", "7", "8"][self as usize]
    }

    /// Whether a frontend in state `self` may switch to `to`. Rewriting the current state is allowed; the
    /// main path only moves forward (`Initialising` → `InitWait` → `Initialised` → `Connected` →
    /// `Closing` → `Closed`, steps may be skipped), anything may close, and `Closed` may restart at
    /// `Initialising` (reconnect).
    pub fn frontend_may_switch(self, to: XenbusState) -> bool {
        use XenbusState::*;
        if self == to {
            return true;
        }
        match (self, to) {
            (_, Unknown) => false,
            (_, Closing | Closed) => !matches!(self, Closed),
            (Closed, Initialising) => true,
            (Connected, Reconfiguring) => true,
            (Reconfiguring, Reconfigured) => true,
            (Reconfigured, Connected) => true,
            (
                Unknown | Initialising | InitWait | Initialised,
                InitWait | Initialised | Connected,
            ) => (to as u32) > (self as u32),
            _ => false,
        }
    }
}

impl fmt::Display for XenbusState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::XenbusState::*;
    use super::*;

    #[test]
    fn parse_values() {
        for n in 0..=8u32 {
            let s = XenbusState::from_u32(n).unwrap();
            assert_eq!(XenbusState::parse(s.as_str().as_bytes()), Ok(s));
            assert_eq!(s as u32, n);
        }
        assert_eq!(XenbusState::parse(b"4\n"), Ok(Connected));
        assert_eq!(XenbusState::parse(b"4\0"), Ok(Connected));
        for bad in [&b"9"[..], b"", b"-1", b"4 ", b"04x", b"99999999999"] {
            assert_eq!(XenbusState::parse(bad), Err(Malformed::BadState), "{bad:?}");
        }
    }

    #[test]
    fn transitions() {
        assert!(Initialising.frontend_may_switch(Initialised));
        assert!(Initialising.frontend_may_switch(Connected));
        assert!(Initialised.frontend_may_switch(Connected));
        assert!(Connected.frontend_may_switch(Closing));
        assert!(Closing.frontend_may_switch(Closed));
        assert!(Closed.frontend_may_switch(Initialising));
        assert!(Connected.frontend_may_switch(Connected));
        assert!(!Connected.frontend_may_switch(Initialised));
        assert!(!Closed.frontend_may_switch(Connected));
        assert!(!Closing.frontend_may_switch(Connected));
        assert!(!Initialising.frontend_may_switch(Unknown));
        assert!(!Initialised.frontend_may_switch(InitWait));
    }
}
