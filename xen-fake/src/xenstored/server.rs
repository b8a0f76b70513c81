//! The fake xenstored: the real wire format over a real ring page, with a tree, permissions, watches,
//! transactions (conflicts → `EAGAIN`) and hostile modes.
//!
//! Deterministic by default: a test calls [`FakeXenstored::step`] (or uses [`crate::drive`]) to let it
//! work. [`FakeXenstored::spawn`] runs it on a thread that blocks on its event channel instead.
//!
//! The ring code here is written independently of `xenbus::xs_ring`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use xen_traits::{DomId, EventChannels, Port, SharedPage};
use xenbus::xs_ring::layout;
use xenbus::{Access, MsgType, Perm, XsErrno};

use super::hostile::Hostile;
use super::store::{is_at_or_under, perm, valid_path, Changes, Tree};
use crate::evtchn::FakeEventChannels;
use crate::page::FakePage;

const RING: u32 = 1024;
const PAYLOAD_MAX: usize = 4096;

/// A request the daemon received (for assertions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Raw type.
    pub msg_type: u32,
    /// Request id.
    pub req_id: u32,
    /// Transaction id.
    pub tx_id: u32,
    /// Payload.
    pub payload: Vec<u8>,
}

#[derive(Debug)]
struct Tx {
    base_generation: u64,
    tree: Tree,
    changes: Changes,
}

/// The fake daemon: the real wire format over a real ring page, with a tree, permissions, watches,
/// transactions (conflicts → `EAGAIN`) and [`Hostile`] modes.
///
/// Deterministic by default: a test calls [`FakeXenstored::step`] (or uses [`crate::drive`]) to let it
/// work. [`FakeXenstored::spawn`] runs it on a thread that blocks on its event channel instead.
#[derive(Debug)]
pub struct FakeXenstored {
    page: FakePage,
    evtchn: FakeEventChannels,
    port: Port,
    guest: DomId,
    req_cons: u32,
    rsp_prod: u32,
    inbuf: Vec<u8>,
    outbuf: VecDeque<u8>,
    tree: Tree,
    generation: u64,
    watches: Vec<(String, String)>,
    txs: HashMap<u32, Tx>,
    next_tx: u32,
    hostile: VecDeque<Hostile>,
    forced_conflicts: u32,
    trickle: Option<usize>,
    received: Vec<Received>,
    guest_error: Option<String>,
    delayed: Option<Vec<u8>>,
    commits: u64,
    conflicts: u64,
}

fn header(t: u32, req_id: u32, tx_id: u32, len: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    for (i, v) in [t, req_id, tx_id, len].into_iter().enumerate() {
        h[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    h
}

fn nul_strings(payload: &[u8]) -> Vec<&[u8]> {
    let body = payload.strip_suffix(&[0]).unwrap_or(payload);
    body.split(|&c| c == 0).collect()
}

impl FakeXenstored {
    /// A daemon serving domain `guest` over `page`, signalling the guest through `port` of `evtchn`
    /// (the daemon's side of the channel). The tree is laid out as `xl create` does: the guest's home
    /// `/local/domain/<guest>` (owner dom0, guest may read) with `name`, `domid`, `vm`, and writable
    /// `data/`, `control/` and `device/` directories.
    pub fn new(
        page: FakePage,
        evtchn: FakeEventChannels,
        port: Port,
        guest: DomId,
    ) -> FakeXenstored {
        Self::with_start_index(page, evtchn, port, guest, 0)
    }

    /// Like [`FakeXenstored::new`] but with all four ring indices starting at `start` (to test index and
    /// ring wrap-around); call it before the client attaches.
    pub fn with_start_index(
        page: FakePage,
        evtchn: FakeEventChannels,
        port: Port,
        guest: DomId,
        start: u32,
    ) -> Self {
        for off in [
            layout::REQ_CONS,
            layout::REQ_PROD,
            layout::RSP_CONS,
            layout::RSP_PROD,
        ] {
            page.write_u32(off, start);
        }
        let mut xs = FakeXenstored {
            page,
            evtchn,
            port,
            guest,
            req_cons: start,
            rsp_prod: start,
            inbuf: Vec::new(),
            outbuf: VecDeque::new(),
            tree: Tree::default(),
            generation: 0,
            watches: Vec::new(),
            txs: HashMap::new(),
            next_tx: 0,
            hostile: VecDeque::new(),
            forced_conflicts: 0,
            trickle: None,
            received: Vec::new(),
            guest_error: None,
            delayed: None,
            commits: 0,
            conflicts: 0,
        };
        let home = xs.home();
        let g = guest.0;
        xs.dom0_write(&format!("{home}/name"), format!("guest{g}").as_bytes());
        xs.dom0_write(&format!("{home}/domid"), g.to_string().as_bytes());
        xs.dom0_write(
            &format!("{home}/vm"),
            b"/vm/00000000-0000-0000-0000-000000000001",
        );
        xs.dom0_set_perms(&home, &[perm(0, Access::None), perm(g, Access::Read)]);
        for n in ["name", "domid", "vm"] {
            xs.dom0_set_perms(
                &format!("{home}/{n}"),
                &[perm(0, Access::None), perm(g, Access::Read)],
            );
        }
        for d in ["data", "control", "device"] {
            xs.dom0_mkdir(&format!("{home}/{d}"));
            xs.dom0_set_perms(&format!("{home}/{d}"), &[perm(g, Access::None)]);
        }
        xs.dom0_mkdir("/local/domain/0/backend");
        xs.outbuf.clear();
        xs.generation = 0;
        xs
    }

    /// `/local/domain/<guest>`.
    pub fn home(&self) -> String {
        format!("/local/domain/{}", self.guest.0)
    }

    /// The tree (for assertions).
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// A node's value, if it exists.
    pub fn value(&self, path: &str) -> Option<Vec<u8>> {
        self.tree.get(&self.absolute(path)).map(|n| n.value.clone())
    }

    /// Every request received so far.
    pub fn received(&self) -> &[Received] {
        &self.received
    }

    /// Registered watches: (path as given, token).
    pub fn watches(&self) -> &[(String, String)] {
        &self.watches
    }

    /// Open transactions.
    pub fn open_transactions(&self) -> usize {
        self.txs.len()
    }

    /// (commits, conflicts reported with EAGAIN).
    pub fn commit_stats(&self) -> (u64, u64) {
        (self.commits, self.conflicts)
    }

    /// Misbehaviour the daemon detected on the guest's side of the ring (e.g. an index jump).
    pub fn guest_error(&self) -> Option<&str> {
        self.guest_error.as_deref()
    }

    /// Queue a misbehaviour for the next reply.
    pub fn push_hostile(&mut self, h: Hostile) {
        self.hostile.push_back(h);
    }

    /// Make the next `n` transaction commits fail with `EAGAIN`, as if another client had interfered.
    pub fn force_conflicts(&mut self, n: u32) {
        self.forced_conflicts = n;
    }

    /// Write at most `n` reply bytes per [`FakeXenstored::step`] (`None`: as many as fit).
    pub fn set_trickle(&mut self, n: Option<usize>) {
        self.trickle = n;
    }

    fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') || path.starts_with('@') {
            path.to_string()
        } else {
            format!("{}/{}", self.home(), path)
        }
    }

    // ---- dom0 (toolstack) side: changes made by another client, firing watches -----------------------

    /// Write a node as dom0 (like `xenstore-write`), firing watches.
    pub fn dom0_write(&mut self, path: &str, value: &[u8]) {
        let mut ch = Changes::default();
        let p = self.absolute(path);
        self.tree
            .write(DomId::DOM0, &p, value, &mut ch)
            .expect("dom0 write");
        self.committed(ch);
    }

    /// Create a node as dom0.
    pub fn dom0_mkdir(&mut self, path: &str) {
        let mut ch = Changes::default();
        let p = self.absolute(path);
        self.tree
            .mkdir(DomId::DOM0, &p, &mut ch)
            .expect("dom0 mkdir");
        self.committed(ch);
    }

    /// Remove a node as dom0.
    pub fn dom0_rm(&mut self, path: &str) {
        let mut ch = Changes::default();
        let p = self.absolute(path);
        self.tree.rm(DomId::DOM0, &p, &mut ch).expect("dom0 rm");
        self.committed(ch);
    }

    /// Set permissions as dom0.
    pub fn dom0_set_perms(&mut self, path: &str, perms: &[Perm]) {
        let mut ch = Changes::default();
        let p = self.absolute(path);
        self.tree
            .set_perms(DomId::DOM0, &p, perms.to_vec(), &mut ch)
            .expect("dom0 set_perms");
        self.committed(ch);
    }

    /// Create a device the way `xl` does: `device/<kind>/<id>` (owned by the guest, readable by the
    /// backend) with `backend`, `backend-id`, `state` = 1, and the backend directory
    /// `/local/domain/<backend>/backend/<kind>/<guest>/<id>` with `frontend`, `frontend-id`, `state` = 1.
    pub fn add_device(&mut self, kind: &str, id: u32, backend: DomId) -> (String, String) {
        let g = self.guest.0;
        let front = format!("{}/device/{kind}/{id}", self.home());
        let back = format!("/local/domain/{}/backend/{kind}/{g}/{id}", backend.0);
        self.dom0_write(&format!("{front}/backend"), back.as_bytes());
        self.dom0_write(
            &format!("{front}/backend-id"),
            backend.0.to_string().as_bytes(),
        );
        self.dom0_write(&format!("{front}/state"), b"1");
        self.dom0_write(&format!("{back}/frontend"), front.as_bytes());
        self.dom0_write(&format!("{back}/frontend-id"), g.to_string().as_bytes());
        self.dom0_write(&format!("{back}/state"), b"1");
        for p in [
            front.clone(),
            format!("{front}/backend"),
            format!("{front}/backend-id"),
            format!("{front}/state"),
        ] {
            self.dom0_set_perms(&p, &[perm(g, Access::None), perm(backend.0, Access::Read)]);
        }
        for p in [
            back.clone(),
            format!("{back}/frontend"),
            format!("{back}/frontend-id"),
            format!("{back}/state"),
        ] {
            self.dom0_set_perms(&p, &[perm(backend.0, Access::None), perm(g, Access::Read)]);
        }
        (front, back)
    }

    fn committed(&mut self, ch: Changes) {
        if ch.paths.is_empty() {
            return;
        }
        self.generation += 1;
        self.fire(&ch);
        self.flush();
    }

    fn fire(&mut self, ch: &Changes) {
        let mut events = Vec::new();
        for (path, removed) in &ch.paths {
            for (wpath, token) in &self.watches {
                let w = self.absolute(wpath);
                if is_at_or_under(path, &w) || (*removed && is_at_or_under(&w, path)) {
                    // Relative watches get relative event paths, as xenstored does.
                    let home = format!("{}/", self.home());
                    let shown = if wpath.starts_with('/') {
                        path.clone()
                    } else {
                        path.trim_start_matches(&home).to_string()
                    };
                    events.push((shown, token.clone()));
                }
            }
        }
        for (p, t) in events {
            self.send_event(&p, &t);
        }
    }

    fn send_event(&mut self, path: &str, token: &str) {
        let mut payload = Vec::new();
        payload.extend_from_slice(path.as_bytes());
        payload.push(0);
        payload.extend_from_slice(token.as_bytes());
        payload.push(0);
        self.send_raw(MsgType::WatchEvent as u32, 0, 0, &payload);
    }

    fn send_raw(&mut self, t: u32, req_id: u32, tx_id: u32, payload: &[u8]) {
        self.outbuf
            .extend(header(t, req_id, tx_id, payload.len() as u32));
        self.outbuf.extend(payload);
    }

    // ---- the ring ------------------------------------------------------------------------------------

    /// Do all available work once: take request bytes, answer complete requests, write replies (as many
    /// as fit), notify the guest. Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        if self.guest_error.is_some() {
            return false;
        }
        let mut progress = self.read_requests();
        while let Some(msg) = self.next_message() {
            self.handle(msg);
            progress = true;
        }
        progress |= self.write_replies();
        if progress {
            self.evtchn.notify(self.port);
        }
        progress
    }

    /// [`FakeXenstored::step`] until nothing happens. Returns whether anything happened.
    pub fn run_until_idle(&mut self) -> bool {
        let mut any = false;
        while self.step() {
            any = true;
        }
        any
    }

    /// Write pending replies/events now and notify.
    pub fn flush(&mut self) {
        if self.write_replies() {
            self.evtchn.notify(self.port);
        }
    }

    /// Bytes of replies and events not yet in the ring.
    pub fn pending_output(&self) -> usize {
        self.outbuf.len()
    }

    fn read_requests(&mut self) -> bool {
        let prod = self.page.load_acquire_u32(layout::REQ_PROD);
        let avail = prod.wrapping_sub(self.req_cons);
        if avail > RING {
            self.guest_error = Some(format!(
                "guest req_prod {prod} jumped past req_cons {}",
                self.req_cons
            ));
            return false;
        }
        if avail == 0 {
            return false;
        }
        self.page.fence_read();
        for _ in 0..avail {
            let mut b = [0u8];
            self.page
                .read_bytes(layout::REQ + (self.req_cons % RING) as usize, &mut b);
            self.inbuf.push(b[0]);
            self.req_cons = self.req_cons.wrapping_add(1);
        }
        self.page.fence_full();
        self.page.store_release_u32(layout::REQ_CONS, self.req_cons);
        true
    }

    fn write_replies(&mut self) -> bool {
        if self.outbuf.is_empty() {
            return false;
        }
        let cons = self.page.load_acquire_u32(layout::RSP_CONS);
        let used = self.rsp_prod.wrapping_sub(cons);
        if used > RING {
            self.guest_error = Some(format!(
                "guest rsp_cons {cons} moved past rsp_prod {}",
                self.rsp_prod
            ));
            return false;
        }
        let mut n = ((RING - used) as usize).min(self.outbuf.len());
        if let Some(t) = self.trickle {
            n = n.min(t);
        }
        if n == 0 {
            return false;
        }
        self.page.fence_full();
        for _ in 0..n {
            let b = self.outbuf.pop_front().unwrap_or(0);
            self.page
                .write_bytes(layout::RSP + (self.rsp_prod % RING) as usize, &[b]);
            self.rsp_prod = self.rsp_prod.wrapping_add(1);
        }
        self.page.fence_write();
        self.page.store_release_u32(layout::RSP_PROD, self.rsp_prod);
        true
    }

    fn next_message(&mut self) -> Option<Received> {
        if self.inbuf.len() < 16 {
            return None;
        }
        let w = |i: usize| {
            u32::from_le_bytes([
                self.inbuf[i],
                self.inbuf[i + 1],
                self.inbuf[i + 2],
                self.inbuf[i + 3],
            ])
        };
        let (t, req_id, tx_id, len) = (w(0), w(4), w(8), w(12) as usize);
        if len > PAYLOAD_MAX {
            self.guest_error = Some(format!("guest sent a {len}-byte payload"));
            self.inbuf.clear();
            return None;
        }
        if self.inbuf.len() < 16 + len {
            return None;
        }
        let payload = self.inbuf[16..16 + len].to_vec();
        self.inbuf.drain(..16 + len);
        Some(Received {
            msg_type: t,
            req_id,
            tx_id,
            payload,
        })
    }

    // ---- protocol ------------------------------------------------------------------------------------

    fn handle(&mut self, msg: Received) {
        self.received.push(msg.clone());
        let Received {
            msg_type,
            req_id,
            tx_id,
            payload,
        } = msg;
        let mut ch = Changes::default();
        let mut after_reply: Vec<(String, String)> = Vec::new();
        let result = self.execute(msg_type, tx_id, &payload, &mut ch, &mut after_reply);
        let (t, body) = match result {
            Ok(body) => (msg_type, body),
            Err(e) => {
                let mut b = e.as_str().as_bytes().to_vec();
                b.push(0);
                (MsgType::Error as u32, b)
            }
        };
        self.reply(t, req_id, tx_id, &body);
        if tx_id == 0 || msg_type == MsgType::TransactionEnd as u32 {
            self.committed_quietly(&ch);
        }
        for (p, tok) in after_reply {
            self.send_event(&p, &tok);
        }
    }

    fn committed_quietly(&mut self, ch: &Changes) {
        if !ch.paths.is_empty() {
            self.generation += 1;
            self.fire(ch);
        }
    }

    fn reply(&mut self, t: u32, req_id: u32, tx_id: u32, body: &[u8]) {
        let held = self.delayed.take();
        self.reply_inner(t, req_id, tx_id, body);
        if let Some(bytes) = held {
            self.outbuf.extend(bytes);
        }
    }

    fn reply_inner(&mut self, t: u32, req_id: u32, tx_id: u32, body: &[u8]) {
        match self.hostile.pop_front() {
            None | Some(Hostile::Normal) => self.send_raw(t, req_id, tx_id, body),
            Some(Hostile::Garbage(bytes)) => self.outbuf.extend(bytes),
            Some(Hostile::WrongReqId) => {
                self.send_raw(t, req_id ^ 0x8000_0000, tx_id, body);
                self.send_raw(t, req_id, tx_id, body);
            }
            Some(Hostile::DuplicateReply) => {
                self.send_raw(t, req_id, tx_id, body);
                self.send_raw(t, req_id, tx_id, body);
            }
            Some(Hostile::WrongType) => {
                let other = if t == MsgType::Read as u32 {
                    MsgType::Write
                } else {
                    MsgType::Read
                };
                self.send_raw(other as u32, req_id, tx_id, body);
            }
            Some(Hostile::UnknownType(u)) => self.send_raw(u, req_id, tx_id, body),
            Some(Hostile::BadPayload(p)) => self.send_raw(t, req_id, tx_id, &p),
            Some(Hostile::ErrorString(s)) => {
                let mut b = s.into_bytes();
                b.push(0);
                self.send_raw(MsgType::Error as u32, req_id, tx_id, &b);
            }
            Some(Hostile::OversizedLen(len)) => {
                self.outbuf.extend(header(t, req_id, tx_id, len));
                self.outbuf.extend(std::iter::repeat_n(b'A', 64));
            }
            Some(Hostile::RspProdJump(jump)) => {
                self.send_raw(t, req_id, tx_id, body);
                self.write_replies();
                self.rsp_prod = self.rsp_prod.wrapping_add(jump);
                self.page.store_release_u32(layout::RSP_PROD, self.rsp_prod);
            }
            Some(Hostile::ReqConsJump) => {
                let prod = self.page.load_acquire_u32(layout::REQ_PROD);
                self.page
                    .store_release_u32(layout::REQ_CONS, prod.wrapping_add(5000));
            }
            Some(Hostile::SpuriousWatchEvent) => {
                self.send_event("/spurious", "not-a-token-of-yours");
                self.send_raw(t, req_id, tx_id, body);
            }
            Some(Hostile::MalformedWatchEvent) => {
                self.send_raw(MsgType::WatchEvent as u32, 0, 0, b"no-terminators");
                self.send_raw(t, req_id, tx_id, body);
            }
            Some(Hostile::Silent) => {}
            Some(Hostile::Delay) => {
                let mut held = header(t, req_id, tx_id, body.len() as u32).to_vec();
                held.extend_from_slice(body);
                self.delayed = Some(held);
            }
        }
    }

    fn path_arg(&self, s: &[u8]) -> Result<String, XsErrno> {
        let s = std::str::from_utf8(s).map_err(|_| XsErrno::Einval)?;
        let p = self.absolute(s);
        if !valid_path(&p) {
            return Err(XsErrno::Einval);
        }
        Ok(p)
    }

    fn execute(
        &mut self,
        msg_type: u32,
        tx_id: u32,
        payload: &[u8],
        ch: &mut Changes,
        after: &mut Vec<(String, String)>,
    ) -> Result<Vec<u8>, XsErrno> {
        let ok = || b"OK\0".to_vec();
        let guest = self.guest;
        let t = MsgType::from_u32(msg_type).ok_or(XsErrno::Einval)?;
        if tx_id != 0 && !self.txs.contains_key(&tx_id) {
            return Err(XsErrno::Enoent);
        }
        let args = nul_strings(payload);
        let first = args.first().copied().unwrap_or(b"");
        match t {
            MsgType::DirectoryPart => {
                let path = self.path_arg(first)?;
                let offset: usize = args
                    .get(1)
                    .and_then(|o| std::str::from_utf8(o).ok())
                    .and_then(|o| o.parse().ok())
                    .ok_or(XsErrno::Einval)?;
                let tree = if tx_id != 0 {
                    &self.txs[&tx_id].tree
                } else {
                    &self.tree
                };
                let mut all = Vec::new();
                for c in tree.children(guest, &path)? {
                    all.extend_from_slice(c.as_bytes());
                    all.push(0);
                }
                // The generation stands in for the node's generation count: any change restarts a listing.
                let mut out = format!("{}\0", self.generation).into_bytes();
                let rest = all.get(offset..).ok_or(XsErrno::Einval)?;
                let mut taken = 0;
                for name in rest.split_inclusive(|&c| c == 0) {
                    if out.len() + name.len() + 1 > PAYLOAD_MAX {
                        break;
                    }
                    out.extend_from_slice(name);
                    taken += name.len();
                }
                if taken == rest.len() {
                    out.push(0);
                }
                Ok(out)
            }
            MsgType::Read | MsgType::Directory | MsgType::GetPerms => {
                let path = self.path_arg(first)?;
                let tree = if tx_id != 0 {
                    &self.txs[&tx_id].tree
                } else {
                    &self.tree
                };
                match t {
                    MsgType::Read => Ok(tree.read(guest, &path)?.value.clone()),
                    MsgType::Directory => {
                        let mut out = Vec::new();
                        for c in tree.children(guest, &path)? {
                            out.extend_from_slice(c.as_bytes());
                            out.push(0);
                        }
                        if out.len() > PAYLOAD_MAX {
                            return Err(XsErrno::E2big);
                        }
                        Ok(out)
                    }
                    _ => {
                        let mut out = Vec::new();
                        for p in tree.get_perms(guest, &path)? {
                            out.extend_from_slice(p.to_string().as_bytes());
                            out.push(0);
                        }
                        Ok(out)
                    }
                }
            }
            MsgType::Write | MsgType::Mkdir | MsgType::Rm | MsgType::SetPerms => {
                let path = if t == MsgType::Write {
                    let nul = payload
                        .iter()
                        .position(|&c| c == 0)
                        .ok_or(XsErrno::Einval)?;
                    self.path_arg(&payload[..nul])?
                } else {
                    self.path_arg(first)?
                };
                let (tree, changes) = match tx_id {
                    0 => (&mut self.tree, ch),
                    id => {
                        let tx = self.txs.get_mut(&id).ok_or(XsErrno::Enoent)?;
                        (&mut tx.tree, &mut tx.changes)
                    }
                };
                match t {
                    MsgType::Write => {
                        let nul = payload.iter().position(|&c| c == 0).unwrap_or(0);
                        tree.write(guest, &path, &payload[nul + 1..], changes)?
                    }
                    MsgType::Mkdir => tree.mkdir(guest, &path, changes)?,
                    MsgType::Rm => tree.rm(guest, &path, changes)?,
                    _ => {
                        let perms: Option<Vec<Perm>> =
                            args[1..].iter().map(|p| Perm::parse(p)).collect();
                        tree.set_perms(guest, &path, perms.ok_or(XsErrno::Einval)?, changes)?
                    }
                }
                Ok(ok())
            }
            MsgType::Watch | MsgType::Unwatch => {
                if args.len() < 2 {
                    return Err(XsErrno::Einval);
                }
                let path = std::str::from_utf8(args[0])
                    .map_err(|_| XsErrno::Einval)?
                    .to_string();
                let token = std::str::from_utf8(args[1])
                    .map_err(|_| XsErrno::Einval)?
                    .to_string();
                if !path.starts_with('@') && !valid_path(&self.absolute(&path)) {
                    return Err(XsErrno::Einval);
                }
                let pos = self
                    .watches
                    .iter()
                    .position(|(p, tk)| *p == path && *tk == token);
                if t == MsgType::Watch {
                    if pos.is_some() {
                        return Err(XsErrno::Eexist);
                    }
                    self.watches.push((path.clone(), token.clone()));
                    after.push((path, token));
                } else {
                    self.watches.remove(pos.ok_or(XsErrno::Enoent)?);
                }
                Ok(ok())
            }
            MsgType::TransactionStart => {
                self.next_tx += 1;
                let id = self.next_tx;
                self.txs.insert(
                    id,
                    Tx {
                        base_generation: self.generation,
                        tree: self.tree.clone(),
                        changes: Changes::default(),
                    },
                );
                Ok(format!("{id}\0").into_bytes())
            }
            MsgType::TransactionEnd => {
                let tx = self.txs.remove(&tx_id).ok_or(XsErrno::Enoent)?;
                match first {
                    b"F" => Ok(ok()),
                    b"T" => {
                        if self.forced_conflicts > 0 || tx.base_generation != self.generation {
                            self.forced_conflicts = self.forced_conflicts.saturating_sub(1);
                            self.conflicts += 1;
                            return Err(XsErrno::Eagain);
                        }
                        self.commits += 1;
                        self.tree = tx.tree;
                        *ch = tx.changes;
                        Ok(ok())
                    }
                    _ => Err(XsErrno::Einval),
                }
            }
            MsgType::GetDomainPath => {
                let s = std::str::from_utf8(first).map_err(|_| XsErrno::Einval)?;
                let d: u16 = s.parse().map_err(|_| XsErrno::Einval)?;
                Ok(format!("/local/domain/{d}\0").into_bytes())
            }
            MsgType::ResetWatches => {
                self.watches.clear();
                self.txs.clear();
                Ok(ok())
            }
            _ => Err(XsErrno::Enosys),
        }
    }

    // ---- threaded mode -------------------------------------------------------------------------------

    /// Run the daemon on its own thread: it sleeps on its event channel port and works whenever the
    /// guest notifies it.
    pub fn spawn(self) -> XenstoredThread {
        let evtchn = self.evtchn.clone();
        let port = self.port;
        let shared = Arc::new(Mutex::new(self));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, stop2, ev2) = (shared.clone(), stop.clone(), evtchn.clone());
        let handle = std::thread::spawn(move || {
            while !stop2.load(Ordering::Acquire) {
                s2.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .run_until_idle();
                // Timeout only guards against a hung test; wake-ups come from the guest's notify.
                ev2.wait_pending(port, Duration::from_secs(60), || {
                    stop2.load(Ordering::Acquire)
                });
            }
        });
        XenstoredThread {
            shared,
            stop,
            handle: Some(handle),
            evtchn,
        }
    }
}

/// A [`FakeXenstored`] running on its own thread.
#[derive(Debug)]
pub struct XenstoredThread {
    shared: Arc<Mutex<FakeXenstored>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    evtchn: FakeEventChannels,
}

impl XenstoredThread {
    /// Lock the daemon (e.g. to make dom0 changes; they are flushed to the ring at once).
    pub fn lock(&self) -> MutexGuard<'_, FakeXenstored> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stop the thread and get the daemon back.
    pub fn stop(mut self) -> FakeXenstored {
        self.shutdown();
        let shared = self.shared.clone();
        drop(self);
        match Arc::try_unwrap(shared) {
            Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
            Err(_) => panic!("daemon still shared"),
        }
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.evtchn.wake_all();
        if let Some(h) = self.handle.take() {
            h.join().expect("xenstored thread panicked");
        }
    }
}

impl Drop for XenstoredThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}
