//! Device discovery: the toolstack lists a domain's devices under `device/<kind>/<id>` (relative to the
//! domain's home), each with the path and domain of its backend.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xen_traits::{DomId, EventChannels, SharedPage};

use crate::async_client::Client;
use crate::error::{Error, Malformed};
use crate::wire::XENSTORE_ABS_PATH_MAX;

/// Network interfaces (`netfront`).
pub const VIF: &str = "vif";
/// Block devices (`blkfront`).
pub const VBD: &str = "vbd";

/// One device found under `device/<kind>/<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device id (`N` of `device/vif/N`; for vbds the encoded virtual device number).
    pub id: u32,
    /// The frontend's directory, relative: `device/vif/0`.
    pub nodename: String,
    /// The backend's directory, absolute: `/local/domain/0/backend/vif/5/0`.
    pub backend: String,
    /// The domain running the backend.
    pub backend_id: DomId,
}

/// The ids of the devices of `kind`, sorted. No `device/<kind>` directory means no device.
/// Entries that are not decimal ids are skipped (and logged).
pub async fn list_devices<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
    kind: &str,
) -> Result<Vec<u32>, Error> {
    let names = match xs.directory(&format!("device/{kind}")).await {
        Ok(n) => n,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids: Vec<u32> = names
        .iter()
        .filter_map(|n| {
            let id =
                crate::payload::parse_decimal(n.as_bytes()).and_then(|v| u32::try_from(v).ok());
            if id.is_none() {
                log::warn!("xenbus: ignoring device/{kind}/{n}: not a device id");
            }
            id
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Check a backend path: absolute, in the backend domain's home, xenstore path characters only.
pub fn check_backend_path(path: &str, backend_id: DomId) -> Result<(), Malformed> {
    let home = format!("/local/domain/{}/", backend_id.0);
    let ok = path.len() <= XENSTORE_ABS_PATH_MAX
        && path.starts_with(&home)
        && path.len() > home.len()
        && !path.ends_with('/')
        && !path.contains("//")
        && path
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"/_@-".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(Malformed::BadPath)
    }
}

/// Read and check the `backend` and `backend-id` keys of `device/<kind>/<id>`.
pub async fn device_info<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
    kind: &str,
    id: u32,
) -> Result<DeviceInfo, Error> {
    let nodename = format!("device/{kind}/{id}");
    let backend = xs.read_string(&format!("{nodename}/backend")).await?;
    let raw_id = xs.read(&format!("{nodename}/backend-id")).await?;
    let backend_id = crate::payload::parse_decimal(crate::payload::strip_nul(&raw_id))
        .and_then(|v| u16::try_from(v).ok())
        .map(DomId)
        .filter(|d| d.is_real())
        .ok_or(Malformed::BadNumber)?;
    if let Err(e) = check_backend_path(&backend, backend_id) {
        log::warn!("xenbus: {nodename}: backend path {backend:?} rejected");
        return Err(e.into());
    }
    Ok(DeviceInfo {
        id,
        nodename,
        backend,
        backend_id,
    })
}

/// All devices of `kind` with their backends. A device whose keys are missing or invalid is skipped
/// (logged): one bad entry must not hide the others.
pub async fn discover<P: SharedPage, E: EventChannels>(
    xs: &Client<P, E>,
    kind: &str,
) -> Result<Vec<DeviceInfo>, Error> {
    let mut out = Vec::new();
    for id in list_devices(xs, kind).await? {
        match device_info(xs, kind, id).await {
            Ok(d) => out.push(d),
            Err(e @ Error::Broken(_)) => return Err(e),
            Err(e) => log::warn!("xenbus: skipping device/{kind}/{id}: {e}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_paths() {
        assert_eq!(
            check_backend_path("/local/domain/0/backend/vif/5/0", DomId(0)),
            Ok(())
        );
        for bad in [
            "/local/domain/1/backend/vif/5/0",
            "local/domain/0/backend/vif/5/0",
            "/local/domain/0/",
            "/local/domain/0/backend//vif",
            "/local/domain/0/backend/vif/",
            "/local/domain/0/backend/../x",
            "/local/domain/0/backend/v f",
        ] {
            assert_eq!(
                check_backend_path(bad, DomId(0)),
                Err(Malformed::BadPath),
                "{bad}"
            );
        }
    }
}
