//! Xenstore node permissions: `n0`, `r5`, `w5`, `b5` — access letter followed by a domain id.
//!
//! The first entry names the owner (who always has full access) and the access everyone else gets by
//! default; later entries grant specific domains other access.

use core::fmt;
use xen_traits::DomId;

/// Access granted by one permission entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// `n`: no access.
    None,
    /// `r`: read.
    Read,
    /// `w`: write.
    Write,
    /// `b`: read and write.
    Both,
}

impl Access {
    /// The wire letter.
    pub const fn letter(self) -> u8 {
        match self {
            Access::None => b'n',
            Access::Read => b'r',
            Access::Write => b'w',
            Access::Both => b'b',
        }
    }
    /// Decode the wire letter.
    pub const fn from_letter(c: u8) -> Option<Access> {
        Some(match c {
            b'n' => Access::None,
            b'r' => Access::Read,
            b'w' => Access::Write,
            b'b' => Access::Both,
            _ => return None,
        })
    }
    /// Whether this access allows reading.
    pub const fn can_read(self) -> bool {
        matches!(self, Access::Read | Access::Both)
    }
    /// Whether this access allows writing.
    pub const fn can_write(self) -> bool {
        matches!(self, Access::Write | Access::Both)
    }
}

/// One permission entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Perm {
    /// The domain the entry is about (the owner, for the first entry).
    pub domid: DomId,
    /// What it may do.
    pub access: Access,
}

impl Perm {
    /// Parse one entry (without its nul terminator), e.g. `b"r5"`.
    pub fn parse(s: &[u8]) -> Option<Perm> {
        let (&c, digits) = s.split_first()?;
        let access = Access::from_letter(c)?;
        let domid = crate::payload::parse_decimal(digits)?;
        Some(Perm {
            domid: DomId(u16::try_from(domid).ok()?),
            access,
        })
    }

    /// Write the entry (without terminator) into `out`, returning the bytes used (at most 6).
    pub fn encode(&self, out: &mut [u8; 6]) -> usize {
        out[0] = self.access.letter();
        let mut digits = [0u8; 5];
        let mut n = self.domid.0;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            out[1 + i] = digits[len - 1 - i];
        }
        1 + len
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.access.letter() as char, self.domid.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode() {
        for (s, p) in [
            (
                &b"n0"[..],
                Perm {
                    domid: DomId(0),
                    access: Access::None,
                },
            ),
            (
                b"r5",
                Perm {
                    domid: DomId(5),
                    access: Access::Read,
                },
            ),
            (
                b"w65535",
                Perm {
                    domid: DomId(65535),
                    access: Access::Write,
                },
            ),
            (
                b"b12",
                Perm {
                    domid: DomId(12),
                    access: Access::Both,
                },
            ),
        ] {
            assert_eq!(Perm::parse(s), Some(p));
            let mut out = [0u8; 6];
            let n = p.encode(&mut out);
            assert_eq!(&out[..n], s);
        }
        for bad in [&b""[..], b"r", b"x1", b"r65536", b"r-1", b"r1a", b"r 1"] {
            assert_eq!(Perm::parse(bad), None, "{:?}", bad);
        }
    }
}
