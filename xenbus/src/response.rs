//! Replies from xenstored, decoded according to the request they answer.

use alloc::string::String;
use alloc::vec::Vec;

use crate::errno::XsErrno;
use crate::error::{Error, Malformed};
use crate::payload;
use crate::perms::Perm;
use crate::request::{TxId, WatchId};
use crate::wire::MsgType;

/// A successful reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// `OK` (write, mkdir, rm, set-perms, unwatch, transaction end).
    Ok,
    /// A node's value (`XS_READ`).
    Value(Vec<u8>),
    /// Child names (`XS_DIRECTORY`).
    List(Vec<String>),
    /// One part of a long child list (`XS_DIRECTORY_PART`).
    ListPart {
        /// The node's generation: parts from different generations must not be mixed.
        generation: u64,
        /// Names in this part.
        names: Vec<String>,
        /// Bytes of the full list this part covers (names + terminators): add to the offset.
        covered: u32,
        /// Whether the list ends in this part.
        done: bool,
    },
    /// Permissions (`XS_GET_PERMS`).
    Perms(Vec<Perm>),
    /// A new transaction (`XS_TRANSACTION_START`).
    Transaction(TxId),
    /// The watch is registered (`XS_WATCH`).
    Watch(WatchId),
    /// A path (`XS_GET_DOMAIN_PATH`).
    Path(String),
}

/// Decode the reply to a request of type `expected`.
///
/// `got` is the reply's raw type. `XS_ERROR` becomes [`Error::Xs`]; any other type than `expected` is
/// rejected, as is a payload that does not have the shape the request calls for.
pub fn decode(
    expected: MsgType,
    watch: Option<WatchId>,
    got: u32,
    payload: &[u8],
) -> Result<Response, Error> {
    let got = match MsgType::from_u32(got) {
        Some(t) => t,
        None => {
            return Err(Error::Malformed(Malformed::Wire(
                crate::wire::WireError::UnknownType(got),
            )))
        }
    };
    if got == MsgType::Error {
        let e = XsErrno::from_payload(payload);
        if e == XsErrno::Unknown {
            log::warn!(
                "xenstore: unknown error string {:?}",
                payload::strip_nul(payload)
            );
        }
        return Err(Error::Xs(e));
    }
    if got != expected {
        return Err(Error::Malformed(Malformed::UnexpectedType {
            expected,
            got,
        }));
    }
    Ok(match expected {
        MsgType::Read => Response::Value(Vec::from(payload)),
        MsgType::Directory => Response::List(payload::string_list(payload)?),
        MsgType::DirectoryPart => {
            let (generation, names, covered, done) = payload::directory_part(payload)?;
            Response::ListPart {
                generation,
                names,
                covered,
                done,
            }
        }
        MsgType::GetPerms => Response::Perms(payload::perm_list(payload)?),
        MsgType::TransactionStart => Response::Transaction(TxId(payload::decimal_u32(payload)?)),
        MsgType::GetDomainPath => Response::Path(payload::single_string(payload)?),
        MsgType::Watch => {
            payload::ok(payload)?;
            match watch {
                Some(w) => Response::Watch(w),
                None => Response::Ok,
            }
        }
        _ => {
            payload::ok(payload)?;
            Response::Ok
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_by_request() {
        assert_eq!(
            decode(MsgType::Read, None, 2, b"v\0x"),
            Ok(Response::Value(b"v\0x".to_vec()))
        );
        assert_eq!(
            decode(MsgType::Read, None, 16, b"ENOENT\0"),
            Err(Error::Xs(XsErrno::Enoent))
        );
        assert_eq!(
            decode(MsgType::Read, None, 16, b"EWHAT\0"),
            Err(Error::Xs(XsErrno::Unknown))
        );
        assert_eq!(
            decode(MsgType::Read, None, 11, b"OK\0"),
            Err(Error::Malformed(Malformed::UnexpectedType {
                expected: MsgType::Read,
                got: MsgType::Write
            }))
        );
        assert!(matches!(
            decode(MsgType::Read, None, 999, b""),
            Err(Error::Malformed(Malformed::Wire(_)))
        ));
        assert_eq!(
            decode(MsgType::TransactionStart, None, 6, b"17\0"),
            Ok(Response::Transaction(TxId(17)))
        );
        assert_eq!(
            decode(MsgType::TransactionStart, None, 6, b"x\0"),
            Err(Error::Malformed(Malformed::BadNumber))
        );
        assert_eq!(
            decode(MsgType::Write, None, 11, b"NO\0"),
            Err(Error::Malformed(Malformed::NotOk))
        );
        assert_eq!(
            decode(MsgType::Watch, Some(WatchId(4)), 4, b"OK\0"),
            Ok(Response::Watch(WatchId(4)))
        );
    }
}
