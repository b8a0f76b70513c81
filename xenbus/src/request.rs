//! Requests to xenstored and their payload encoding.

use alloc::vec::Vec;

use xen_traits::DomId;

use crate::error::Invalid;
use crate::perms::Perm;
use crate::wire::{MsgType, Packet, Repr, XENSTORE_ABS_PATH_MAX, XENSTORE_PAYLOAD_MAX};

/// Identifies a request in flight (the wire `req_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReqId(pub u32);

/// A transaction id (the wire `tx_id`); [`TxId::NONE`] outside transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxId(pub u32);

impl TxId {
    /// Not in a transaction.
    pub const NONE: TxId = TxId(0);
}

/// A watch registered by this client. Its token on the wire is derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WatchId(pub u32);

/// A request. Paths are absolute (`/local/domain/0/...`) or relative to the domain's home
/// (`/local/domain/<domid>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `XS_READ`: the value of a node.
    Read(&'a str),
    /// `XS_WRITE`: set the value of a node (created with its parents if missing).
    Write(&'a str, &'a [u8]),
    /// `XS_MKDIR`: create a node (and parents) with an empty value; no error if it exists.
    Mkdir(&'a str),
    /// `XS_RM`: remove a node and its children.
    Rm(&'a str),
    /// `XS_DIRECTORY`: names of a node's children.
    Directory(&'a str),
    /// `XS_DIRECTORY_PART`: children names from byte `offset` of the full list, for lists longer than a
    /// payload (when `XS_DIRECTORY` answers `E2BIG`).
    DirectoryPart(&'a str, u32),
    /// `XS_GET_PERMS`: a node's permissions.
    GetPerms(&'a str),
    /// `XS_SET_PERMS`: set a node's permissions (first entry: owner and default access).
    SetPerms(&'a str, &'a [Perm]),
    /// `XS_WATCH` on a path; the client picks the token and routes events to the watch.
    Watch(&'a str),
    /// `XS_UNWATCH` of one of our watches.
    Unwatch(WatchId),
    /// `XS_TRANSACTION_START`.
    TransactionStart,
    /// `XS_TRANSACTION_END`, committing (`T`) or aborting (`F`).
    TransactionEnd {
        /// Commit if true, abort if false.
        commit: bool,
    },
    /// `XS_GET_DOMAIN_PATH`: the home path of a domain.
    GetDomainPath(DomId),
    /// `XS_RESET_WATCHES`: drop every watch and transaction xenstored holds for us (after a kexec-style
    /// restart; needs `control/platform-feature-xs_reset_watches`).
    ResetWatches,
}

impl Request<'_> {
    /// The wire type.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Request::Read(_) => MsgType::Read,
            Request::Write(..) => MsgType::Write,
            Request::Mkdir(_) => MsgType::Mkdir,
            Request::Rm(_) => MsgType::Rm,
            Request::Directory(_) => MsgType::Directory,
            Request::DirectoryPart(..) => MsgType::DirectoryPart,
            Request::GetPerms(_) => MsgType::GetPerms,
            Request::SetPerms(..) => MsgType::SetPerms,
            Request::Watch(_) => MsgType::Watch,
            Request::Unwatch(_) => MsgType::Unwatch,
            Request::TransactionStart => MsgType::TransactionStart,
            Request::TransactionEnd { .. } => MsgType::TransactionEnd,
            Request::GetDomainPath(_) => MsgType::GetDomainPath,
            Request::ResetWatches => MsgType::ResetWatches,
        }
    }
}

/// Check a path: non-empty, no nul, not longer than `XENSTORE_ABS_PATH_MAX`.
pub fn check_path(path: &str) -> Result<(), Invalid> {
    if path.is_empty() || path.as_bytes().contains(&0) {
        return Err(Invalid::BadString);
    }
    if path.len() > XENSTORE_ABS_PATH_MAX {
        return Err(Invalid::PathTooLong);
    }
    Ok(())
}

fn push_str0(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

/// Build the payload of a request. `watch` gives the path and token of watches for `Watch`/`Unwatch`
/// (the client resolves them); `Unwatch` needs it, `Watch` uses its token.
pub fn encode_payload(
    req: &Request<'_>,
    token: &[u8],
    unwatch_path: &str,
) -> Result<Vec<u8>, Invalid> {
    let mut p = Vec::new();
    match *req {
        Request::Read(path)
        | Request::Mkdir(path)
        | Request::Rm(path)
        | Request::Directory(path)
        | Request::GetPerms(path) => {
            check_path(path)?;
            push_str0(&mut p, path.as_bytes());
        }
        Request::DirectoryPart(path, offset) => {
            check_path(path)?;
            push_str0(&mut p, path.as_bytes());
            push_str0(&mut p, alloc::format!("{offset}").as_bytes());
        }
        Request::Write(path, value) => {
            check_path(path)?;
            push_str0(&mut p, path.as_bytes());
            p.extend_from_slice(value);
        }
        Request::SetPerms(path, perms) => {
            check_path(path)?;
            if perms.is_empty() {
                return Err(Invalid::NoPerms);
            }
            push_str0(&mut p, path.as_bytes());
            for perm in perms {
                let mut buf = [0u8; 6];
                let n = perm.encode(&mut buf);
                push_str0(&mut p, &buf[..n]);
            }
        }
        Request::Watch(path) => {
            check_path(path)?;
            push_str0(&mut p, path.as_bytes());
            push_str0(&mut p, token);
        }
        Request::Unwatch(_) => {
            check_path(unwatch_path)?;
            push_str0(&mut p, unwatch_path.as_bytes());
            push_str0(&mut p, token);
        }
        Request::TransactionStart | Request::ResetWatches => p.push(0),
        Request::TransactionEnd { commit } => push_str0(&mut p, if commit { b"T" } else { b"F" }),
        Request::GetDomainPath(dom) => {
            let mut buf = [0u8; 6];
            let n = Perm {
                domid: dom,
                access: crate::perms::Access::None,
            }
            .encode(&mut buf);
            push_str0(&mut p, &buf[1..n]);
        }
    }
    if p.len() > XENSTORE_PAYLOAD_MAX {
        return Err(Invalid::PayloadTooLong);
    }
    Ok(p)
}

/// Encode a whole message (header and payload).
pub fn encode_message(
    msg_type: MsgType,
    req_id: ReqId,
    tx: TxId,
    payload: &[u8],
) -> Result<Vec<u8>, Invalid> {
    let repr = Repr {
        msg_type,
        req_id: req_id.0,
        tx_id: tx.0,
        payload,
    };
    let mut buf = alloc::vec![0u8; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]))
        .map_err(|_| Invalid::PayloadTooLong)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perms::Access;

    #[test]
    fn payloads() {
        assert_eq!(
            encode_payload(&Request::Read("a/b"), b"", "").unwrap(),
            b"a/b\0"
        );
        assert_eq!(
            encode_payload(&Request::Write("a", b"xy"), b"", "").unwrap(),
            b"a\0xy"
        );
        let perms = [
            Perm {
                domid: DomId(0),
                access: Access::None,
            },
            Perm {
                domid: DomId(7),
                access: Access::Read,
            },
        ];
        assert_eq!(
            encode_payload(&Request::SetPerms("a", &perms), b"", "").unwrap(),
            b"a\0n0\0r7\0"
        );
        assert_eq!(
            encode_payload(&Request::Watch("a"), b"3", "").unwrap(),
            b"a\x003\0"
        );
        assert_eq!(
            encode_payload(&Request::Unwatch(WatchId(3)), b"3", "a").unwrap(),
            b"a\x003\0"
        );
        assert_eq!(
            encode_payload(&Request::TransactionStart, b"", "").unwrap(),
            b"\0"
        );
        assert_eq!(
            encode_payload(&Request::TransactionEnd { commit: true }, b"", "").unwrap(),
            b"T\0"
        );
        assert_eq!(
            encode_payload(&Request::TransactionEnd { commit: false }, b"", "").unwrap(),
            b"F\0"
        );
        assert_eq!(
            encode_payload(&Request::GetDomainPath(DomId(12)), b"", "").unwrap(),
            b"12\0"
        );
    }

    #[test]
    fn invalid_requests() {
        assert_eq!(
            encode_payload(&Request::Read(""), b"", ""),
            Err(Invalid::BadString)
        );
        assert_eq!(
            encode_payload(&Request::Read("a\0b"), b"", ""),
            Err(Invalid::BadString)
        );
        let long = "x".repeat(XENSTORE_ABS_PATH_MAX + 1);
        assert_eq!(
            encode_payload(&Request::Read(&long), b"", ""),
            Err(Invalid::PathTooLong)
        );
        let big = [0u8; XENSTORE_PAYLOAD_MAX];
        assert_eq!(
            encode_payload(&Request::Write("a", &big), b"", ""),
            Err(Invalid::PayloadTooLong)
        );
        assert_eq!(
            encode_payload(&Request::SetPerms("a", &[]), b"", ""),
            Err(Invalid::NoPerms)
        );
    }
}
