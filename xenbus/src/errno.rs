//! The error strings xenstored sends in `XS_ERROR` replies (`xsd_errors[]` of `io/xs_wire.h`).

use core::fmt;

/// An error reported by xenstored. The wire carries the errno *name* (e.g. `"ENOENT"`), not its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum XsErrno {
    Einval,
    Eacces,
    Eexist,
    Eisdir,
    Enoent,
    Enomem,
    Enospc,
    Eio,
    Enotempty,
    Enosys,
    Erofs,
    Ebusy,
    Eagain,
    Eisconn,
    E2big,
    Eperm,
    /// A string not in `xsd_errors[]` (logged by the caller).
    Unknown,
}

const TABLE: [(XsErrno, &str); 16] = [
    (XsErrno::Einval, "EINVAL"),
    (XsErrno::Eacces, "EACCES"),
    (XsErrno::Eexist, "EEXIST"),
    (XsErrno::Eisdir, "EISDIR"),
    (XsErrno::Enoent, "ENOENT"),
    (XsErrno::Enomem, "ENOMEM"),
    (XsErrno::Enospc, "ENOSPC"),
    (XsErrno::Eio, "EIO"),
    (XsErrno::Enotempty, "ENOTEMPTY"),
    (XsErrno::Enosys, "ENOSYS"),
    (XsErrno::Erofs, "EROFS"),
    (XsErrno::Ebusy, "EBUSY"),
    (XsErrno::Eagain, "EAGAIN"),
    (XsErrno::Eisconn, "EISCONN"),
    (XsErrno::E2big, "E2BIG"),
    (XsErrno::Eperm, "EPERM"),
];

impl XsErrno {
    /// Decode the payload of an `XS_ERROR` reply: the name, optionally nul-terminated.
    pub fn from_payload(payload: &[u8]) -> XsErrno {
        let name = match payload.split_last() {
            Some((0, rest)) => rest,
            _ => payload,
        };
        TABLE
            .iter()
            .find(|(_, s)| s.as_bytes() == name)
            .map(|(e, _)| *e)
            .unwrap_or(XsErrno::Unknown)
    }

    /// The wire name (`"ENOENT"`…); `"EUNKNOWN"` for [`XsErrno::Unknown`].
    pub fn as_str(self) -> &'static str {
        TABLE
            .iter()
            .find(|(e, _)| *e == self)
            .map(|(_, s)| *s)
            .unwrap_or("EUNKNOWN")
    }

    /// All known errors, in `xsd_errors[]` order.
    pub fn all() -> impl Iterator<Item = XsErrno> {
        TABLE.iter().map(|(e, _)| *e)
    }
}

impl fmt::Display for XsErrno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        for e in XsErrno::all() {
            let mut buf = [0u8; 16];
            let s = e.as_str().as_bytes();
            buf[..s.len()].copy_from_slice(s);
            assert_eq!(XsErrno::from_payload(&buf[..s.len() + 1]), e);
            assert_eq!(XsErrno::from_payload(s), e);
        }
        assert_eq!(XsErrno::from_payload(b"ENOENT"), XsErrno::Enoent);
        assert_eq!(XsErrno::from_payload(b"EAGAIN\0"), XsErrno::Eagain);
        assert_eq!(XsErrno::from_payload(b"ENOENT\0\0"), XsErrno::Unknown);
        assert_eq!(XsErrno::from_payload(b"enoent"), XsErrno::Unknown);
        assert_eq!(XsErrno::from_payload(b""), XsErrno::Unknown);
    }
}
