//! Block storage for the application: the domain's `disk=` entries (`device/vbd/N`), each connected
//! through [`blkfront`] and offered as an async [`Disk`] with `read`, `write`, `flush`, `discard`,
//! `capacity` and `sector_size`.
//!
//! ```ignore
//! let disks = xenolith::block::open_all(&ctx).await?;
//! let disk = &disks[0];
//! let mut buf = vec![0u8; disk.sector_size()];
//! disk.read(0, &mut buf).await?;
//! disk.write(0, &buf).await?;
//! disk.flush().await?; // durable from here on
//! ```
//!
//! LBAs and lengths are in logical sectors of [`Disk::sector_size`] bytes (512 or 4096); a length that is
//! not a whole number of sectors, a range beyond the disk, or a write to a read-only disk is refused
//! before anything reaches the ring. Large transfers are split into concurrent requests (indirect
//! descriptors when the backend offers them: 1 MiB per request with Linux blkback).
//!
//! Several tasks may use one disk at once: share it as `Rc<Disk>` between local tasks (or `join` /
//! `select` futures). There is no background task: every operation, while it waits, also listens on the
//! device's event channel and completes responses (its own and other tasks'). Responses are validated by
//! blkfront (the backend is untrusted); a protocol violation breaks the device and fails its requests.

use alloc::format;
use alloc::string::String;
use core::convert::Infallible;
use core::fmt;
use core::future::Future;

pub use blkfront::{Broken, ConnectError, DiskInfo, FlushMode, IoError, Stats, SubmitError};
use blkfront::{BlockDevice, BlockError, Pages};
use xen_traits::{EventChannels, GrantTable, Port};

use crate::executor::{select, wait_event, Either};

/// Why a block operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Refused before reaching the ring: nothing was sent (alignment, range, read-only, no memory,
    /// broken device).
    Rejected(SubmitError),
    /// Sent, and failed (backend error, or the device broke meanwhile).
    Failed(IoError),
}

impl From<BlockError> for Error {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::Submit(s) => Error::Rejected(s),
            BlockError::Io(i) => Error::Failed(i),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected(SubmitError::Unaligned) => f.write_str("rejected: length not a whole number of sectors"),
            Error::Rejected(SubmitError::OutOfRange) => f.write_str("rejected: beyond the end of the disk"),
            Error::Rejected(SubmitError::ReadOnly) => f.write_str("rejected: the disk is read-only"),
            Error::Rejected(SubmitError::NotSupported) => f.write_str("rejected: not supported by the backend"),
            Error::Rejected(e) => write!(f, "rejected: {e:?}"),
            Error::Failed(IoError::Backend) => f.write_str("failed: the backend reported an I/O error"),
            Error::Failed(e) => write!(f, "failed: {e:?}"),
        }
    }
}

/// The Linux name of a vbd id (`51712` → `xvda`), or `vbd<id>` for other encodings.
pub fn vdev_name(id: u32) -> String {
    // Xen's vbd encoding (xen/include/public/io/blkif.h, "Virtual device specifications"):
    // 202 << 8 | disk << 4 | partition for xvd[a-p]; 1 << 28 | disk << 8 | partition beyond.
    let (disk, part) = if id >> 8 == 202 {
        ((id >> 4) & 0xf, id & 0xf)
    } else if id >> 28 == 1 {
        ((id >> 8) & 0xfffff, id & 0xff)
    } else {
        return format!("vbd{id}");
    };
    let mut name = String::from("xvd");
    // Bijective base 26: a..z, aa..
    let mut letters = [0u8; 8];
    let mut n = disk + 1;
    let mut len = 0;
    while n > 0 && len < letters.len() {
        n -= 1;
        letters[len] = b'a' + (n % 26) as u8;
        n /= 26;
        len += 1;
    }
    for &c in letters[..len].iter().rev() {
        name.push(c as char);
    }
    if part != 0 {
        name.push_str(&format!("{part}"));
    }
    name
}

/// One connected disk. See the [module docs](self).
pub struct Disk<G: GrantTable, E: EventChannels, A: Pages> {
    dev: BlockDevice<G, E, A>,
    port: Port,
    id: u32,
    name: String,
}

impl<G: GrantTable, E: EventChannels, A: Pages> fmt::Debug for Disk<G, E, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disk").field("name", &self.name).field("info", &self.dev.info()).finish_non_exhaustive()
    }
}

/// Waits on `port` and completes the device's responses, forever.
async fn pump<G: GrantTable, E: EventChannels, A: Pages>(dev: &BlockDevice<G, E, A>, port: Port) -> Infallible {
    loop {
        wait_event(port.0).await;
        dev.on_event();
    }
}

impl<G: GrantTable, E: EventChannels, A: Pages> Disk<G, E, A> {
    /// Wraps a connected device (`id` is its vbd id, `device/vbd/<id>`).
    pub fn new(dev: BlockDevice<G, E, A>, id: u32) -> Self {
        let port = dev.with(|b| b.port());
        Disk { dev, port, id, name: vdev_name(id) }
    }

    /// Runs `op` while completing the device's responses.
    async fn drive<T>(&self, op: impl Future<Output = T>) -> T {
        // Responses that arrived before anyone listened are collected first.
        self.dev.on_event();
        match select(op, pump(&self.dev, self.port)).await {
            Either::Left(v) => v,
            Either::Right(never) => match never {},
        }
    }

    /// Reads `buf.len()` bytes (a whole number of sectors) starting at sector `lba`.
    pub async fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.drive(self.dev.read(lba, buf)).await.map_err(Error::from)
    }

    /// Writes `buf` (a whole number of sectors) starting at sector `lba`. Durable after [`Disk::flush`].
    pub async fn write(&self, lba: u64, buf: &[u8]) -> Result<(), Error> {
        self.drive(self.dev.write(lba, buf)).await.map_err(Error::from)
    }

    /// Makes every write completed so far durable.
    pub async fn flush(&self) -> Result<(), Error> {
        self.drive(self.dev.flush()).await.map_err(Error::from)
    }

    /// Discards `count` sectors at `lba` (refused with [`SubmitError::NotSupported`] when the backend
    /// offers no discard).
    pub async fn discard(&self, lba: u64, count: u64) -> Result<(), Error> {
        self.drive(self.dev.discard(lba, count)).await.map_err(Error::from)
    }

    /// Number of logical sectors.
    pub fn capacity(&self) -> u64 {
        self.dev.capacity()
    }

    /// Logical sector size in bytes.
    pub fn sector_size(&self) -> usize {
        self.dev.sector_size()
    }

    /// Whether writes are refused.
    pub fn read_only(&self) -> bool {
        self.dev.read_only()
    }

    /// Everything negotiated with the backend.
    pub fn info(&self) -> DiskInfo {
        self.dev.info()
    }

    /// Requests, errors and bytes so far.
    pub fn stats(&self) -> Stats {
        self.dev.with(|b| b.stats())
    }

    /// Why the device is broken, if it is.
    pub fn broken(&self) -> Option<Broken> {
        self.dev.with(|b| b.broken())
    }

    /// The largest transfer one request carries, in bytes.
    pub fn max_request_bytes(&self) -> usize {
        self.dev.with(|b| b.max_request_bytes())
    }

    /// Ring slots.
    pub fn ring_size(&self) -> u32 {
        self.dev.with(|b| b.ring_size())
    }

    /// The vbd id (`N` of `device/vbd/N`).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The Linux name of the device (`xvda`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(all(target_os = "none", feature = "executor"))]
mod xen {
    use alloc::rc::Rc;
    use alloc::vec::Vec;
    use core::fmt;

    use blkfront::{BlockDevice, Config, ConnectError};
    use xenbus::discovery::{self, DeviceInfo};

    use super::Disk;
    use crate::xen::grants::DomainGrants;
    use crate::xen::pages::HeapPages;
    use crate::xen::{events, Events, SetupError};
    use crate::Context;

    /// A disk on Xen.
    pub type XenDisk = Disk<DomainGrants, &'static Events, HeapPages>;

    /// Why the disks could not be opened.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum OpenError {
        /// No xenstore connection: devices cannot be found.
        NoXenstore,
        /// The Xen services are unavailable.
        Setup(SetupError),
        /// Listing `device/vbd` failed.
        Discovery(xenbus::Error),
        /// The handshake with a backend failed.
        Connect(String, ConnectError),
        /// No disk of that name.
        NotFound(String),
    }
    use alloc::string::String;

    impl fmt::Display for OpenError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                OpenError::NoXenstore => f.write_str("no xenstore connection"),
                OpenError::Setup(e) => write!(f, "{e}"),
                OpenError::Discovery(e) => write!(f, "listing device/vbd failed: {e}"),
                OpenError::Connect(n, e) => write!(f, "{n}: connecting to the backend failed: {e:?}"),
                OpenError::NotFound(n) => write!(f, "no disk {n}"),
            }
        }
    }

    /// Connects one discovered vbd.
    pub async fn connect(ctx: &Context, device: DeviceInfo) -> Result<XenDisk, OpenError> {
        let xs = ctx.xenstore().ok_or(OpenError::NoXenstore)?;
        let evs = events().map_err(OpenError::Setup)?;
        let id = device.id;
        let blk = blkfront::connect(xs, device, DomainGrants, evs, HeapPages, Config::default())
            .await
            .map_err(|e| OpenError::Connect(super::vdev_name(id), e))?;
        crate::xen::record_frontend_state(id, xenbus::XenbusState::Connected);
        Ok(Disk::new(BlockDevice::new(blk), id))
    }

    /// Finds the domain's disks (`device/vbd/*`, sorted by id: `xvda` first) and connects each.
    pub async fn open_all(ctx: &Context) -> Result<Vec<Rc<XenDisk>>, OpenError> {
        let xs = ctx.xenstore().ok_or(OpenError::NoXenstore)?;
        let found = discovery::discover(xs, discovery::VBD).await.map_err(OpenError::Discovery)?;
        let mut out = Vec::new();
        for d in found {
            out.push(Rc::new(connect(ctx, d).await?));
        }
        Ok(out)
    }

    /// Connects the disk named `name` (`xvda`, `xvdb`, ...).
    pub async fn open(ctx: &Context, name: &str) -> Result<Rc<XenDisk>, OpenError> {
        let xs = ctx.xenstore().ok_or(OpenError::NoXenstore)?;
        let found = discovery::discover(xs, discovery::VBD).await.map_err(OpenError::Discovery)?;
        let d = found
            .into_iter()
            .find(|d| super::vdev_name(d.id) == name)
            .ok_or_else(|| OpenError::NotFound(String::from(name)))?;
        connect(ctx, d).await.map(Rc::new)
    }
}

#[cfg(all(target_os = "none", feature = "executor"))]
pub use xen::{connect, open, open_all, OpenError, XenDisk};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn vdev_names() {
        assert_eq!(vdev_name(51712), "xvda");
        assert_eq!(vdev_name(51728), "xvdb");
        assert_eq!(vdev_name(51713), "xvda1");
        assert_eq!(vdev_name((1 << 28) | (26 << 8)), "xvdaa");
        assert_eq!(vdev_name(768), "vbd768");
    }
}
