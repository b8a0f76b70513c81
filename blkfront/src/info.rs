//! What the backend tells us about the disk (`sectors`, `sector-size`, `info`, features), parsed from the
//! raw xenstore values. Pure functions: the values come from an untrusted backend and every one is
//! checked here; the async code in [`crate::negotiate`] only fetches them.

use xenbus::payload::parse_decimal;

use crate::error::ConnectError;
use crate::wire::{VDISK_CDROM, VDISK_READONLY, VDISK_REMOVABLE, WIRE_SECTOR};

/// How the backend lets us make writes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushMode {
    /// `feature-flush-cache`: `BLKIF_OP_FLUSH_DISKCACHE`.
    FlushDiskCache,
    /// `feature-barrier`: `BLKIF_OP_WRITE_BARRIER` (older backends).
    WriteBarrier,
    /// Neither: the backend offers no cache control; a flush completes at once.
    None,
}

/// `feature-discard` and its parameters (bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discard {
    /// `discard-granularity` (default: the sector size).
    pub granularity: u32,
    /// `discard-alignment` (default 0).
    pub alignment: u32,
    /// `discard-secure`.
    pub secure: bool,
}

/// Everything negotiated about the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// `sectors`: size in 512-byte units (the Linux meaning, whatever the sector size).
    pub sectors_512: u64,
    /// `sector-size`: the logical block size in bytes (512..=4096, a power of two).
    pub sector_size: u32,
    /// `physical-sector-size` (defaults to `sector_size`; a multiple of it).
    pub physical_sector_size: u32,
    /// `info` bits (`VDISK_*`).
    pub info: u32,
    /// Cache control.
    pub flush: FlushMode,
    /// Discard, if offered.
    pub discard: Option<Discard>,
    /// `feature-max-indirect-segments`, if above the 11 direct segments (0 otherwise).
    pub max_indirect_segments: u32,
}

impl DiskInfo {
    /// Number of logical sectors ([`DiskInfo::sector_size`] bytes each).
    pub fn capacity(&self) -> u64 {
        // `sectors` is in 512-byte units; a tail shorter than one logical sector is not addressable.
        self.sectors_512 / u64::from(self.sector_size / WIRE_SECTOR as u32)
    }
    /// `VDISK_READONLY`
    pub fn read_only(&self) -> bool {
        self.info & VDISK_READONLY != 0
    }
    /// `VDISK_REMOVABLE`
    pub fn removable(&self) -> bool {
        self.info & VDISK_REMOVABLE != 0
    }
    /// `VDISK_CDROM`
    pub fn cdrom(&self) -> bool {
        self.info & VDISK_CDROM != 0
    }
}

/// The raw backend values, `None` where the key does not exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendKeys<'a> {
    /// `sectors`
    pub sectors: Option<&'a [u8]>,
    /// `sector-size`
    pub sector_size: Option<&'a [u8]>,
    /// `physical-sector-size`
    pub physical_sector_size: Option<&'a [u8]>,
    /// `info`
    pub info: Option<&'a [u8]>,
    /// `feature-flush-cache`
    pub feature_flush_cache: Option<&'a [u8]>,
    /// `feature-barrier`
    pub feature_barrier: Option<&'a [u8]>,
    /// `feature-discard`
    pub feature_discard: Option<&'a [u8]>,
    /// `discard-granularity`
    pub discard_granularity: Option<&'a [u8]>,
    /// `discard-alignment`
    pub discard_alignment: Option<&'a [u8]>,
    /// `discard-secure`
    pub discard_secure: Option<&'a [u8]>,
    /// `feature-max-indirect-segments`
    pub feature_max_indirect_segments: Option<&'a [u8]>,
}

/// A xenstore number, tolerating the trailing nul some tools write.
pub fn number(v: &[u8]) -> Option<u64> {
    let v = v.strip_suffix(&[0]).unwrap_or(v);
    parse_decimal(v)
}

/// A boolean feature flag: only a number other than 0 enables it; garbage disables it (logged).
pub fn flag(name: &str, v: Option<&[u8]>) -> bool {
    match v.map(number) {
        None => false,
        Some(Some(n)) => n != 0,
        Some(None) => {
            log::warn!("blkfront: ignoring unparsable {name}");
            false
        }
    }
}

fn required(name: &'static str, v: Option<&[u8]>) -> Result<u64, ConnectError> {
    v.and_then(number).ok_or(ConnectError::BadBackendKey(name))
}

impl DiskInfo {
    /// Parse and check the backend's values. Required: `sectors`, `info`, `sector-size` (as Linux
    /// blkfront requires them). Optional values that do not parse are ignored with a warning.
    pub fn parse(k: &BackendKeys<'_>) -> Result<DiskInfo, ConnectError> {
        let sectors_512 = required("sectors", k.sectors)?;
        let info = u32::try_from(required("info", k.info)?)
            .map_err(|_| ConnectError::BadBackendKey("info"))?;
        let ss = required("sector-size", k.sector_size)?;
        if !(512..=4096).contains(&ss) || !ss.is_power_of_two() {
            return Err(ConnectError::UnsupportedSectorSize(ss));
        }
        let sector_size = ss as u32;
        let physical_sector_size = match k.physical_sector_size.map(number) {
            None => sector_size,
            Some(Some(p)) if p >= ss && p % ss == 0 && p <= u64::from(u32::MAX) => p as u32,
            Some(_) => {
                log::warn!("blkfront: ignoring bad physical-sector-size");
                sector_size
            }
        };
        let flush = if flag("feature-flush-cache", k.feature_flush_cache) {
            FlushMode::FlushDiskCache
        } else if flag("feature-barrier", k.feature_barrier) {
            FlushMode::WriteBarrier
        } else {
            FlushMode::None
        };
        let discard = flag("feature-discard", k.feature_discard).then(|| {
            let opt = |v: Option<&[u8]>, default: u32| {
                v.and_then(number)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(default)
            };
            Discard {
                granularity: opt(k.discard_granularity, sector_size).max(1),
                alignment: opt(k.discard_alignment, 0),
                secure: flag("discard-secure", k.discard_secure),
            }
        });
        let max_indirect_segments = k
            .feature_max_indirect_segments
            .and_then(number)
            .map(|n| n.min(u64::from(u32::MAX)) as u32)
            .filter(|&n| n as usize > crate::wire::MAX_SEGMENTS_PER_REQUEST)
            .unwrap_or(0);
        Ok(DiskInfo {
            sectors_512,
            sector_size,
            physical_sector_size,
            info,
            flush,
            discard,
            max_indirect_segments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BackendKeys<'static> {
        BackendKeys {
            sectors: Some(b"2048"),
            sector_size: Some(b"512"),
            info: Some(b"0"),
            ..Default::default()
        }
    }

    #[test]
    fn minimal_disk() {
        let d = DiskInfo::parse(&base()).unwrap();
        assert_eq!(d.capacity(), 2048);
        assert_eq!(d.physical_sector_size, 512);
        assert_eq!(d.flush, FlushMode::None);
        assert_eq!(d.discard, None);
        assert_eq!(d.max_indirect_segments, 0);
        assert!(!d.read_only() && !d.removable() && !d.cdrom());
    }

    #[test]
    fn large_sectors_and_features() {
        let k = BackendKeys {
            sectors: Some(b"2047\0"), // 512-byte units: 255 whole 4 KiB sectors
            sector_size: Some(b"4096"),
            physical_sector_size: Some(b"8192"),
            info: Some(b"6"),
            feature_flush_cache: Some(b"1"),
            feature_barrier: Some(b"1"),
            feature_discard: Some(b"1"),
            discard_granularity: Some(b"65536"),
            feature_max_indirect_segments: Some(b"256"),
            ..Default::default()
        };
        let d = DiskInfo::parse(&k).unwrap();
        assert_eq!(d.capacity(), 255);
        assert_eq!(d.physical_sector_size, 8192);
        assert!(d.read_only() && d.removable());
        assert_eq!(d.flush, FlushMode::FlushDiskCache);
        assert_eq!(
            d.discard,
            Some(Discard {
                granularity: 65536,
                alignment: 0,
                secure: false
            })
        );
        assert_eq!(d.max_indirect_segments, 256);
    }

    #[test]
    fn barrier_only_and_garbage_optionals() {
        let k = BackendKeys {
            feature_flush_cache: Some(b"0"),
            feature_barrier: Some(b"1"),
            physical_sector_size: Some(b"700"),
            feature_discard: Some(b"yes"),
            feature_max_indirect_segments: Some(b"8"),
            ..base()
        };
        let d = DiskInfo::parse(&k).unwrap();
        assert_eq!(d.flush, FlushMode::WriteBarrier);
        assert_eq!(d.physical_sector_size, 512);
        assert_eq!(d.discard, None);
        assert_eq!(d.max_indirect_segments, 0, "8 <= 11: no indirect");
    }

    #[test]
    fn bad_required_keys() {
        for (k, e) in [
            (
                BackendKeys {
                    sectors: None,
                    ..base()
                },
                ConnectError::BadBackendKey("sectors"),
            ),
            (
                BackendKeys {
                    sectors: Some(b"-1"),
                    ..base()
                },
                ConnectError::BadBackendKey("sectors"),
            ),
            (
                BackendKeys {
                    info: Some(b"99999999999"),
                    ..base()
                },
                ConnectError::BadBackendKey("info"),
            ),
            (
                BackendKeys {
                    sector_size: None,
                    ..base()
                },
                ConnectError::BadBackendKey("sector-size"),
            ),
            (
                BackendKeys {
                    sector_size: Some(b"1000"),
                    ..base()
                },
                ConnectError::UnsupportedSectorSize(1000),
            ),
            (
                BackendKeys {
                    sector_size: Some(b"256"),
                    ..base()
                },
                ConnectError::UnsupportedSectorSize(256),
            ),
            (
                BackendKeys {
                    sector_size: Some(b"8192"),
                    ..base()
                },
                ConnectError::UnsupportedSectorSize(8192),
            ),
        ] {
            assert_eq!(DiskInfo::parse(&k), Err(e));
        }
    }
}
