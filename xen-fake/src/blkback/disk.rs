//! The in-memory disk behind the fake blkback: contents, a write cache that a flush makes durable,
//! discarded ranges.

/// A disk of `sectors` logical sectors of `sector_size` bytes.
#[derive(Clone, Debug)]
pub struct Disk {
    sector_size: usize,
    data: Vec<u8>,
    durable: Vec<u8>,
    discarded: Vec<(u64, u64)>,
}

impl Disk {
    /// A zeroed disk.
    pub fn new(sector_size: usize, sectors: u64) -> Disk {
        assert!(sector_size.is_power_of_two() && (512..=4096).contains(&sector_size));
        let bytes = sector_size * sectors as usize;
        Disk {
            sector_size,
            data: vec![0; bytes],
            durable: vec![0; bytes],
            discarded: Vec::new(),
        }
    }

    /// Logical sector size.
    pub fn sector_size(&self) -> usize {
        self.sector_size
    }
    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// Whether the disk has no sectors.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Size in 512-byte units (the `sectors` key).
    pub fn sectors_512(&self) -> u64 {
        (self.data.len() / 512) as u64
    }
    /// What a read sees now.
    pub fn contents(&self) -> &[u8] {
        &self.data
    }
    /// What survives a power cut: the contents at the last flush.
    pub fn durable(&self) -> &[u8] {
        &self.durable
    }
    /// Discards received: (byte offset, bytes).
    pub fn discarded(&self) -> &[(u64, u64)] {
        &self.discarded
    }
    /// Overwrite bytes directly (what dom0 wrote into the image before boot); durable at once.
    pub fn preload(&mut self, offset: usize, bytes: &[u8]) {
        self.data[offset..offset + bytes.len()].copy_from_slice(bytes);
        self.durable[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self.data[offset..offset + out.len()]);
    }
    pub(crate) fn write(&mut self, offset: usize, bytes: &[u8]) {
        self.data[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
    pub(crate) fn flush(&mut self) {
        self.durable.copy_from_slice(&self.data);
    }
    pub(crate) fn discard(&mut self, offset: u64, len: u64) {
        let (o, l) = (offset as usize, len as usize);
        self.data[o..o + l].fill(0);
        self.discarded.push((offset, len));
    }
}
