//! The store: an in-memory map rebuilt at start-up by replaying the log on the raw disk, and appends
//! that are acknowledged only after the disk flushed them.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xenolith::block::XenDisk;

use crate::record::{encode, Header, Op, HEADER, MAX_KEY, MAX_VALUE};

/// Bytes read at once during replay.
const WINDOW: usize = 1 << 20;

/// What replay found.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Records applied (after the format record).
    pub records: u64,
    /// Why replay stopped: the end of the valid log.
    pub stopped: &'static str,
    /// Whether a new log was formatted (no valid log on the disk).
    pub formatted: bool,
}

pub struct Store<'a> {
    disk: &'a XenDisk,
    sector: usize,
    generation: u32,
    next_seq: u64,
    next_lba: u64,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Reads the disk through a window of [`WINDOW`] bytes.
struct Reader<'a> {
    disk: &'a XenDisk,
    sector: usize,
    start: u64,
    buf: Vec<u8>,
}

impl Reader<'_> {
    /// `len` bytes at sector `lba` (`None` past the end of the disk).
    async fn get(&mut self, lba: u64, len: usize) -> Result<Option<&[u8]>, String> {
        let ss = self.sector as u64;
        let cap = self.disk.capacity();
        let sectors = (len as u64).div_ceil(ss);
        if lba.checked_add(sectors).is_none_or(|e| e > cap) {
            return Ok(None);
        }
        let have = self.buf.len() as u64 / ss;
        if lba < self.start || lba + sectors > self.start + have {
            let n = ((WINDOW as u64 / ss).max(sectors)).min(cap - lba);
            self.buf.resize((n * ss) as usize, 0);
            self.disk.read(lba, &mut self.buf).await.map_err(|e| format!("replay read at {lba}: {e}"))?;
            self.start = lba;
        }
        let off = ((lba - self.start) * ss) as usize;
        Ok(Some(&self.buf[off..off + len]))
    }
}

impl<'a> Store<'a> {
    /// Replays the log on `disk`; formats a new log (generation `generation`) when there is none.
    pub async fn open(disk: &'a XenDisk, generation: u32) -> Result<(Store<'a>, Replayed), String> {
        let sector = disk.sector_size();
        let mut store = Store { disk, sector, generation, next_seq: 0, next_lba: 0, map: BTreeMap::new() };
        let mut rd = Reader { disk, sector, start: 0, buf: Vec::new() };
        let mut rep = Replayed::default();
        loop {
            let lba = store.next_lba;
            let Some(head) = rd.get(lba, HEADER).await? else {
                rep.stopped = "end of the disk";
                break;
            };
            let Some(h) = Header::parse(head) else {
                rep.stopped = "no record header";
                break;
            };
            let expected_gen = if store.next_seq == 0 { h.generation } else { store.generation };
            if h.seq != store.next_seq || h.generation != expected_gen || (h.seq == 0) != (h.op == Op::Format) {
                rep.stopped = "a record of another log or out of sequence";
                break;
            }
            let stored = h.stored_len(sector);
            let Some(rec) = rd.get(lba, stored).await? else {
                rep.stopped = "a record past the end of the disk";
                break;
            };
            let Some((key, value)) = h.verify(rec) else {
                rep.stopped = "a record with a bad checksum (torn or corrupt)";
                break;
            };
            match h.op {
                Op::Format => store.generation = h.generation,
                Op::Put => {
                    store.map.insert(key.to_vec(), value.to_vec());
                }
                Op::Delete => {
                    store.map.remove(key);
                }
            }
            if h.op != Op::Format {
                rep.records += 1;
            }
            store.next_seq += 1;
            store.next_lba += (stored / sector) as u64;
        }
        if store.next_seq == 0 {
            store.generation = generation;
            store.append(Op::Format, b"", b"").await?;
            rep.formatted = true;
        }
        Ok((store, rep))
    }

    async fn append(&mut self, op: Op, key: &[u8], value: &[u8]) -> Result<(), String> {
        let rec = encode(self.generation, self.next_seq, op, key, value, self.sector);
        let sectors = (rec.len() / self.sector) as u64;
        if self.next_lba + sectors > self.disk.capacity() {
            return Err(String::from("the log is full"));
        }
        self.disk.write(self.next_lba, &rec).await.map_err(|e| format!("log write at {}: {e}", self.next_lba))?;
        self.disk.flush().await.map_err(|e| format!("flush: {e}"))?;
        self.next_seq += 1;
        self.next_lba += sectors;
        Ok(())
    }

    /// Stores `value` under `key`; returns once it is durable.
    pub async fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        if key.is_empty() || key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return Err(String::from("key or value too large"));
        }
        self.append(Op::Put, key, value).await?;
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    /// Removes `key`; returns once that is durable.
    pub async fn delete(&mut self, key: &[u8]) -> Result<(), String> {
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(String::from("key too large"));
        }
        self.append(Op::Delete, key, b"").await?;
        self.map.remove(key);
        Ok(())
    }

    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(|v| v.as_slice())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Sectors the log uses.
    pub fn log_sectors(&self) -> u64 {
        self.next_lba
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }
}
