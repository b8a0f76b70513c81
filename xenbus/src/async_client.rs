//! The async API: thin futures over [`XenStore`], usable with any executor.
//!
//! [`Client`] wraps the core in a `RefCell` (single vCPU; the borrow is never held across an `.await` or
//! while waking). Each future submits its request once and completes when [`Client::on_event`] — or its
//! own poll, which pumps the ring too — sees the reply. Dropping a future abandons its request cleanly
//! (a transaction it started is aborted, a watch it registered is removed).
//!
//! [`Client::request`] submits at once (so several requests can be put in flight before awaiting any);
//! the `async fn`s submit on their first poll, like any `async fn`.
//!
//! Driving it: the executor's task for the xenstore event channel calls [`Client::on_event`] each time
//! the port fires; that wakes the tasks whose replies or watch events arrived. No executor type appears
//! here: only `core::task::{Context, Waker}`.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use xen_traits::{DomId, EventChannels, SharedPage};

use crate::client::{Work, XenStore};
use crate::errno::XsErrno;
use crate::error::{Error, Malformed};
use crate::perms::Perm;
use crate::request::{ReqId, Request, TxId, WatchId};
use crate::response::Response;
use crate::watch::WatchEvent;

/// The async xenstore client. See the [module docs](self).
#[derive(Debug)]
pub struct Client<P, E> {
    core: RefCell<XenStore<P, E>>,
}

impl<P: SharedPage, E: EventChannels> Client<P, E> {
    /// Wrap a core.
    pub fn new(core: XenStore<P, E>) -> Self {
        Client {
            core: RefCell::new(core),
        }
    }

    /// Run `f` on the core, then wake whatever it completed (after releasing the borrow).
    pub fn with_core<R>(&self, f: impl FnOnce(&mut XenStore<P, E>) -> R) -> R {
        let mut wakers = Vec::new();
        let r = {
            let mut core = self.core.borrow_mut();
            let r = f(&mut core);
            core.pump_deferred(&mut wakers);
            r
        };
        wakers.into_iter().for_each(Waker::wake);
        r
    }

    /// The xenstore event channel fired: process the ring and wake completed futures. Returns
    /// [`Work::More`] if a storm of replies exceeded one pump's budget: yield, then call again.
    pub fn on_event(&self) -> Work {
        self.with_core(|_| ());
        if self.core.borrow().more_pending() {
            Work::More
        } else {
            Work::Idle
        }
    }

    /// Submit `req` (in transaction `tx`) and wait for its reply.
    pub fn request(&self, req: Request<'_>, tx: TxId) -> Reply<'_, P, E> {
        let state = match self.with_core(|c| c.submit(req, tx)) {
            Ok(id) => ReplyState::Waiting(id),
            Err(e) => ReplyState::Failed(Some(e)),
        };
        Reply {
            client: self,
            state,
        }
    }

    /// Read a node's value.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        ops::read(self, path, TxId::NONE).await
    }
    /// Read a node's value as UTF-8.
    pub async fn read_string(&self, path: &str) -> Result<String, Error> {
        ops::read_string(self, path, TxId::NONE).await
    }
    /// Write a node's value.
    pub async fn write(&self, path: &str, value: &[u8]) -> Result<(), Error> {
        ops::ok(self, Request::Write(path, value), TxId::NONE).await
    }
    /// Create a node.
    pub async fn mkdir(&self, path: &str) -> Result<(), Error> {
        ops::ok(self, Request::Mkdir(path), TxId::NONE).await
    }
    /// Remove a node and its children.
    pub async fn rm(&self, path: &str) -> Result<(), Error> {
        ops::ok(self, Request::Rm(path), TxId::NONE).await
    }
    /// List a node's children.
    pub async fn directory(&self, path: &str) -> Result<Vec<String>, Error> {
        ops::directory(self, path, TxId::NONE).await
    }
    /// A node's permissions.
    pub async fn get_perms(&self, path: &str) -> Result<Vec<Perm>, Error> {
        ops::get_perms(self, path, TxId::NONE).await
    }
    /// Set a node's permissions.
    pub async fn set_perms(&self, path: &str, perms: &[Perm]) -> Result<(), Error> {
        ops::ok(self, Request::SetPerms(path, perms), TxId::NONE).await
    }
    /// The home path of a domain (`/local/domain/<domid>`).
    pub async fn get_domain_path(&self, dom: DomId) -> Result<String, Error> {
        match self
            .request(Request::GetDomainPath(dom), TxId::NONE)
            .await?
        {
            Response::Path(p) => Ok(p),
            _ => Err(Error::Malformed(Malformed::BadPath)),
        }
    }

    /// Watch `path` (and everything below it). xenstored fires one event at once, then one per change.
    pub async fn watch(&self, path: &str) -> Result<Watch<'_, P, E>, Error> {
        match self.request(Request::Watch(path), TxId::NONE).await? {
            Response::Watch(id) => Ok(Watch {
                client: self,
                id,
                active: true,
            }),
            _ => Err(Error::Malformed(Malformed::NotOk)),
        }
    }

    /// Start a transaction.
    pub async fn transaction_start(&self) -> Result<Transaction<'_, P, E>, Error> {
        match self.request(Request::TransactionStart, TxId::NONE).await? {
            Response::Transaction(id) => Ok(Transaction {
                client: self,
                id,
                open: true,
            }),
            _ => Err(Error::Malformed(Malformed::BadNumber)),
        }
    }

    /// Run `body` in a transaction and commit it, retrying the whole body (up to `max_attempts` times)
    /// while xenstored reports a conflict (`EAGAIN`) at commit or during the body. An error from `body`
    /// aborts the transaction and is returned.
    pub async fn transaction<T>(
        &self,
        max_attempts: u32,
        mut body: impl AsyncFnMut(&Transaction<'_, P, E>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        for attempt in 1..=max_attempts {
            let tx = self.transaction_start().await?;
            let value = match body(&tx).await {
                Ok(v) => v,
                Err(e) if e.is_again() => {
                    tx.abort().await.ok();
                    log::debug!(
                        "xenstore: transaction conflict in body (attempt {attempt}), retrying"
                    );
                    continue;
                }
                Err(e) => {
                    tx.abort().await.ok();
                    return Err(e);
                }
            };
            match tx.commit().await {
                Ok(()) => return Ok(value),
                Err(e) if e.is_again() => {
                    log::debug!(
                        "xenstore: transaction conflict at commit (attempt {attempt}), retrying"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::TooManyRetries)
    }
}

#[derive(Debug)]
enum ReplyState {
    Waiting(ReqId),
    Failed(Option<Error>),
    Finished,
}

/// The future of one request's reply. Dropping it abandons the request.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Reply<'a, P: SharedPage, E: EventChannels> {
    client: &'a Client<P, E>,
    state: ReplyState,
}

impl<P: SharedPage, E: EventChannels> Reply<'_, P, E> {
    /// The request id (None if the request could not be submitted or has completed).
    pub fn id(&self) -> Option<ReqId> {
        match self.state {
            ReplyState::Waiting(id) => Some(id),
            _ => None,
        }
    }
}

impl<P: SharedPage, E: EventChannels> Future for Reply<'_, P, E> {
    type Output = Result<Response, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.state {
            ReplyState::Waiting(id) => {
                let r = self.client.with_core(|c| c.poll_reply(id, cx));
                if r.is_ready() {
                    self.state = ReplyState::Finished;
                }
                r
            }
            ReplyState::Failed(ref mut e) => {
                let e = e.take().unwrap_or(Error::UnknownRequest);
                self.state = ReplyState::Finished;
                Poll::Ready(Err(e))
            }
            ReplyState::Finished => Poll::Ready(Err(Error::UnknownRequest)),
        }
    }
}

impl<P: SharedPage, E: EventChannels> Drop for Reply<'_, P, E> {
    fn drop(&mut self) {
        if let ReplyState::Waiting(id) = self.state {
            if let Ok(mut core) = self.client.core.try_borrow_mut() {
                core.cancel(id);
            }
        }
    }
}

/// A registered watch. [`Watch::next`] waits for its next event; dropping it unregisters it.
#[derive(Debug)]
pub struct Watch<'a, P: SharedPage, E: EventChannels> {
    client: &'a Client<P, E>,
    id: WatchId,
    active: bool,
}

impl<'a, P: SharedPage, E: EventChannels> Watch<'a, P, E> {
    /// The watch id.
    pub fn id(&self) -> WatchId {
        self.id
    }

    /// Wait for the next event.
    pub fn next(&self) -> NextEvent<'_, 'a, P, E> {
        NextEvent { watch: self }
    }

    /// Take an already-queued event without waiting.
    pub fn try_next(&self) -> Option<WatchEvent> {
        self.client.with_core(|c| c.take_watch_event(self.id))
    }

    /// Unregister the watch and wait for xenstored to confirm.
    pub async fn unwatch(mut self) -> Result<(), Error> {
        self.active = false;
        ops::ok(self.client, Request::Unwatch(self.id), TxId::NONE).await
    }
}

impl<P: SharedPage, E: EventChannels> Drop for Watch<'_, P, E> {
    fn drop(&mut self) {
        if self.active {
            if let Ok(mut core) = self.client.core.try_borrow_mut() {
                core.submit_detached(Request::Unwatch(self.id), TxId::NONE)
                    .ok();
            }
        }
    }
}

/// Future of [`Watch::next`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct NextEvent<'w, 'a, P: SharedPage, E: EventChannels> {
    watch: &'w Watch<'a, P, E>,
}

impl<P: SharedPage, E: EventChannels> Future for NextEvent<'_, '_, P, E> {
    type Output = Result<WatchEvent, Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.watch.id;
        self.watch.client.with_core(|c| c.poll_watch(id, cx))
    }
}

/// An open transaction. Finish it with [`Transaction::commit`] or [`Transaction::abort`]; dropping it
/// aborts it.
#[derive(Debug)]
pub struct Transaction<'a, P: SharedPage, E: EventChannels> {
    client: &'a Client<P, E>,
    id: TxId,
    open: bool,
}

impl<P: SharedPage, E: EventChannels> Transaction<'_, P, E> {
    /// The transaction id.
    pub fn id(&self) -> TxId {
        self.id
    }
    /// Read a node's value inside the transaction.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        ops::read(self.client, path, self.id).await
    }
    /// Read a node's value as UTF-8 inside the transaction.
    pub async fn read_string(&self, path: &str) -> Result<String, Error> {
        ops::read_string(self.client, path, self.id).await
    }
    /// Write a node's value inside the transaction.
    pub async fn write(&self, path: &str, value: &[u8]) -> Result<(), Error> {
        ops::ok(self.client, Request::Write(path, value), self.id).await
    }
    /// Create a node inside the transaction.
    pub async fn mkdir(&self, path: &str) -> Result<(), Error> {
        ops::ok(self.client, Request::Mkdir(path), self.id).await
    }
    /// Remove a node inside the transaction.
    pub async fn rm(&self, path: &str) -> Result<(), Error> {
        ops::ok(self.client, Request::Rm(path), self.id).await
    }
    /// List children inside the transaction.
    pub async fn directory(&self, path: &str) -> Result<Vec<String>, Error> {
        ops::directory(self.client, path, self.id).await
    }
    /// Set permissions inside the transaction.
    pub async fn set_perms(&self, path: &str, perms: &[Perm]) -> Result<(), Error> {
        ops::ok(self.client, Request::SetPerms(path, perms), self.id).await
    }
    /// Commit. `Err(e)` with `e.is_again()` means a conflict: start over.
    pub async fn commit(mut self) -> Result<(), Error> {
        self.open = false;
        ops::ok(
            self.client,
            Request::TransactionEnd { commit: true },
            self.id,
        )
        .await
    }
    /// Abort.
    pub async fn abort(mut self) -> Result<(), Error> {
        self.open = false;
        ops::ok(
            self.client,
            Request::TransactionEnd { commit: false },
            self.id,
        )
        .await
    }
}

impl<P: SharedPage, E: EventChannels> Drop for Transaction<'_, P, E> {
    fn drop(&mut self) {
        if self.open {
            if let Ok(mut core) = self.client.core.try_borrow_mut() {
                core.submit_detached(Request::TransactionEnd { commit: false }, self.id)
                    .ok();
            }
        }
    }
}

mod ops {
    use super::*;

    pub async fn ok<P: SharedPage, E: EventChannels>(
        c: &Client<P, E>,
        req: Request<'_>,
        tx: TxId,
    ) -> Result<(), Error> {
        match c.request(req, tx).await? {
            Response::Ok => Ok(()),
            _ => Err(Error::Malformed(Malformed::NotOk)),
        }
    }

    pub async fn read<P: SharedPage, E: EventChannels>(
        c: &Client<P, E>,
        path: &str,
        tx: TxId,
    ) -> Result<Vec<u8>, Error> {
        match c.request(Request::Read(path), tx).await? {
            Response::Value(v) => Ok(v),
            _ => Err(Error::Malformed(Malformed::NotOk)),
        }
    }

    pub async fn read_string<P: SharedPage, E: EventChannels>(
        c: &Client<P, E>,
        path: &str,
        tx: TxId,
    ) -> Result<String, Error> {
        let v = read(c, path, tx).await?;
        String::from_utf8(v).map_err(|_| Error::Malformed(Malformed::NotUtf8))
    }

    pub async fn directory<P: SharedPage, E: EventChannels>(
        c: &Client<P, E>,
        path: &str,
        tx: TxId,
    ) -> Result<Vec<String>, Error> {
        match c.request(Request::Directory(path), tx).await {
            Ok(Response::List(v)) => Ok(v),
            Ok(_) => Err(Error::Malformed(Malformed::NotNulTerminated)),
            Err(Error::Xs(XsErrno::E2big)) => directory_parts(c, path, tx).await,
            Err(e) => Err(e),
        }
    }

    /// Most parts read for one long directory, and restarts when the node changes meanwhile.
    const MAX_PARTS: usize = 256;
    const MAX_RESTARTS: u32 = 8;

    /// Read a long child list with `XS_DIRECTORY_PART`, restarting if the node changes in between.
    async fn directory_parts<P: SharedPage, E: EventChannels>(
        c: &Client<P, E>,
        path: &str,
        tx: TxId,
    ) -> Result<Vec<String>, Error> {
        'restart: for _ in 0..MAX_RESTARTS {
            let mut names = Vec::new();
            let mut offset: u32 = 0;
            let mut generation = None;
            for _ in 0..MAX_PARTS {
                let Response::ListPart {
                    generation: g,
                    names: part,
                    covered,
                    done,
                } = c.request(Request::DirectoryPart(path, offset), tx).await?
                else {
                    return Err(Error::Malformed(Malformed::NotNulTerminated));
                };
                if *generation.get_or_insert(g) != g {
                    log::debug!("xenstore: {path} changed while listing it, restarting");
                    continue 'restart;
                }
                names.extend(part);
                if done {
                    return Ok(names);
                }
                if covered == 0 {
                    // No progress and no end: a daemon looping us forever.
                    return Err(Error::Malformed(Malformed::NotNulTerminated));
                }
                offset = offset.saturating_add(covered);
            }
            return Err(Error::Malformed(Malformed::NotNulTerminated));
        }
        Err(Error::TooManyRetries)
    }

    pub async fn get_perms<P: SharedPage, E: EventChannels>(
        c: &Client<P, E>,
        path: &str,
        tx: TxId,
    ) -> Result<Vec<Perm>, Error> {
        match c.request(Request::GetPerms(path), tx).await? {
            Response::Perms(v) => Ok(v),
            _ => Err(Error::Malformed(Malformed::BadPerms)),
        }
    }
}
