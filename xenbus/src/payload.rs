//! Parsers for reply payloads: nul-separated strings, decimal numbers, `OK`.
//!
//! Every function takes the (already length-checked) payload copied out of the ring and either returns a
//! value or a [`Malformed`] reason; none panics.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Malformed;
use crate::perms::Perm;

/// Parse an unsigned decimal number without sign, spaces or leading `+`; `None` on overflow.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Strip one trailing nul, if present.
pub fn strip_nul(payload: &[u8]) -> &[u8] {
    match payload.split_last() {
        Some((0, rest)) => rest,
        _ => payload,
    }
}

/// A single string, nul-terminated or not, with no interior nul, valid UTF-8.
pub fn single_string(payload: &[u8]) -> Result<String, Malformed> {
    let s = strip_nul(payload);
    if s.contains(&0) {
        return Err(Malformed::InteriorNul);
    }
    core::str::from_utf8(s)
        .map(String::from)
        .map_err(|_| Malformed::NotUtf8)
}

/// A list of nul-terminated strings (`XS_DIRECTORY`, `XS_GET_PERMS`, watch events). Empty strings (an
/// empty directory is sent as `""` by C xenstored and as `"\0"` by oxenstored) are skipped.
pub fn string_list(payload: &[u8]) -> Result<Vec<String>, Malformed> {
    if payload.is_empty() {
        return Ok(Vec::new());
    }
    let body = match payload.split_last() {
        Some((0, rest)) => rest,
        _ => return Err(Malformed::NotNulTerminated),
    };
    let mut out = Vec::new();
    for part in body.split(|&c| c == 0) {
        if part.is_empty() {
            continue;
        }
        let s = core::str::from_utf8(part).map_err(|_| Malformed::NotUtf8)?;
        out.push(String::from(s));
    }
    Ok(out)
}

/// One `XS_DIRECTORY_PART` reply: `gencnt\0name\0name\0…`, with an extra `\0` (an empty name) when
/// the list ends in this part. Returns (generation, names, bytes of the full list covered, done).
pub fn directory_part(payload: &[u8]) -> Result<(u64, Vec<String>, u32, bool), Malformed> {
    let body = match payload.split_last() {
        Some((0, rest)) => rest,
        _ => return Err(Malformed::NotNulTerminated),
    };
    let mut parts = body.split(|&c| c == 0);
    let generation = parts
        .next()
        .and_then(parse_decimal)
        .ok_or(Malformed::BadNumber)?;
    let mut names = Vec::new();
    let mut covered: u32 = 0;
    let mut done = false;
    for part in parts {
        if done {
            // Nothing may follow the terminating empty name.
            return Err(Malformed::NotNulTerminated);
        }
        if part.is_empty() {
            done = true;
            continue;
        }
        let s = core::str::from_utf8(part).map_err(|_| Malformed::NotUtf8)?;
        covered = covered.saturating_add(part.len() as u32 + 1);
        names.push(String::from(s));
    }
    Ok((generation, names, covered, done))
}

/// The acknowledgement of a write-like request: `"OK\0"` (or `"OK"`).
pub fn ok(payload: &[u8]) -> Result<(), Malformed> {
    if strip_nul(payload) == b"OK" {
        Ok(())
    } else {
        Err(Malformed::NotOk)
    }
}

/// A decimal `u32`, nul-terminated or not (transaction ids).
pub fn decimal_u32(payload: &[u8]) -> Result<u32, Malformed> {
    parse_decimal(strip_nul(payload))
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(Malformed::BadNumber)
}

/// A permission list (`XS_GET_PERMS` reply): at least one entry, each nul-terminated.
pub fn perm_list(payload: &[u8]) -> Result<Vec<Perm>, Malformed> {
    let body = match payload.split_last() {
        Some((0, rest)) => rest,
        _ => return Err(Malformed::NotNulTerminated),
    };
    let mut out = Vec::new();
    for part in body.split(|&c| c == 0) {
        out.push(Perm::parse(part).ok_or(Malformed::BadPerms)?);
    }
    Ok(out)
}

/// A watch event: `path\0token\0` (later Xen versions may append more fields; they are ignored).
pub fn watch_event(payload: &[u8]) -> Result<(String, String), Malformed> {
    let nul = payload
        .iter()
        .position(|&c| c == 0)
        .ok_or(Malformed::BadWatchEvent)?;
    let (path, rest) = (&payload[..nul], &payload[nul + 1..]);
    let nul = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or(Malformed::BadWatchEvent)?;
    let token = &rest[..nul];
    if path.is_empty() {
        return Err(Malformed::BadWatchEvent);
    }
    let path = core::str::from_utf8(path).map_err(|_| Malformed::NotUtf8)?;
    let token = core::str::from_utf8(token).map_err(|_| Malformed::NotUtf8)?;
    Ok((String::from(path), String::from(token)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"-1"), None);
        assert_eq!(parse_decimal(b"+1"), None);
        assert_eq!(decimal_u32(b"42\0"), Ok(42));
        assert_eq!(decimal_u32(b"4294967296\0"), Err(Malformed::BadNumber));
        assert_eq!(decimal_u32(b"4\x002\0"), Err(Malformed::BadNumber));
    }

    #[test]
    fn lists() {
        assert_eq!(string_list(b""), Ok(vec![]));
        assert_eq!(string_list(b"\0"), Ok(vec![]));
        assert_eq!(string_list(b"a\0bc\0"), Ok(vec!["a".into(), "bc".into()]));
        assert_eq!(string_list(b"a\0bc"), Err(Malformed::NotNulTerminated));
        assert_eq!(string_list(b"\xff\0"), Err(Malformed::NotUtf8));
    }

    #[test]
    fn directory_parts() {
        assert_eq!(
            directory_part(b"7\0a\0bc\0"),
            Ok((7, vec!["a".into(), "bc".into()], 5, false))
        );
        assert_eq!(
            directory_part(b"7\0a\0\0"),
            Ok((7, vec!["a".into()], 2, true))
        );
        assert_eq!(directory_part(b"7\0\0"), Ok((7, vec![], 0, true)));
        assert_eq!(directory_part(b"7\0"), Ok((7, vec![], 0, false)));
        assert_eq!(directory_part(b"x\0a\0"), Err(Malformed::BadNumber));
        assert_eq!(directory_part(b"7\0a"), Err(Malformed::NotNulTerminated));
        assert_eq!(
            directory_part(b"7\0\0a\0"),
            Err(Malformed::NotNulTerminated)
        );
    }

    #[test]
    fn oks_and_events() {
        assert_eq!(ok(b"OK\0"), Ok(()));
        assert_eq!(ok(b"OK"), Ok(()));
        assert_eq!(ok(b"KO\0"), Err(Malformed::NotOk));
        assert_eq!(watch_event(b"a/b\0tok\0"), Ok(("a/b".into(), "tok".into())));
        assert_eq!(watch_event(b"a/b\0tok"), Err(Malformed::BadWatchEvent));
        assert_eq!(watch_event(b"a/b\0"), Err(Malformed::BadWatchEvent));
        assert_eq!(watch_event(b"\0tok\0"), Err(Malformed::BadWatchEvent));
        assert_eq!(perm_list(b"n0\0r5\0").map(|v| v.len()), Ok(2));
        assert_eq!(perm_list(b"n0\0\0"), Err(Malformed::BadPerms));
        assert_eq!(perm_list(b""), Err(Malformed::NotNulTerminated));
        assert_eq!(
            single_string(b"/local/domain/3\0"),
            Ok("/local/domain/3".into())
        );
        assert_eq!(single_string(b"a\0b\0"), Err(Malformed::InteriorNul));
    }
}
