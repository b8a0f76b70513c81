//! A frontend's side of the xenbus handshake: publish our state, follow the backend's.

use alloc::format;
use alloc::string::String;

use xen_traits::{DomId, EventChannels, SharedPage};

use crate::async_client::Client;
use crate::discovery::DeviceInfo;
use crate::error::{Error, Invalid};
use crate::state::XenbusState;

/// The xenbus node pair of one device, and the state we last published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontend {
    device: DeviceInfo,
    state: XenbusState,
}

impl Frontend {
    /// A frontend for a discovered device, in state `Initialising` (what the toolstack wrote).
    pub fn new(device: DeviceInfo) -> Frontend {
        Frontend {
            device,
            state: XenbusState::Initialising,
        }
    }

    /// The device.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }
    /// Our frontend directory (`device/vif/0`).
    pub fn nodename(&self) -> &str {
        &self.device.nodename
    }
    /// The backend directory.
    pub fn backend(&self) -> &str {
        &self.device.backend
    }
    /// The backend domain.
    pub fn backend_id(&self) -> DomId {
        self.device.backend_id
    }
    /// The state we last published.
    pub fn state(&self) -> XenbusState {
        self.state
    }

    /// Path of a key in our directory.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{}", self.device.nodename, name)
    }
    /// Path of a key in the backend's directory.
    pub fn backend_key(&self, name: &str) -> String {
        format!("{}/{}", self.device.backend, name)
    }

    /// Publish a new state (`<nodename>/state`), refusing transitions a frontend must not make.
    pub async fn switch_state<P: SharedPage, E: EventChannels>(
        &mut self,
        xs: &Client<P, E>,
        to: XenbusState,
    ) -> Result<(), Error> {
        if !self.state.frontend_may_switch(to) {
            log::warn!(
                "xenbus: {}: refusing state change {} -> {}",
                self.device.nodename,
                self.state,
                to
            );
            return Err(Invalid::StateTransition.into());
        }
        xs.write(&self.key("state"), to.as_str().as_bytes()).await?;
        log::debug!("xenbus: {}: {} -> {}", self.device.nodename, self.state, to);
        self.state = to;
        Ok(())
    }

    /// The backend's current state; a missing `state` node reads as `Unknown` (backend gone or not yet
    /// created), a value that does not parse is an error.
    pub async fn backend_state<P: SharedPage, E: EventChannels>(
        &self,
        xs: &Client<P, E>,
    ) -> Result<XenbusState, Error> {
        match xs.read(&self.backend_key("state")).await {
            Ok(v) => Ok(XenbusState::parse(&v)?),
            Err(e) if e.is_not_found() => Ok(XenbusState::Unknown),
            Err(e) => Err(e),
        }
    }

    /// Wait until the backend's state satisfies `want`, using a watch on it. Returns that state. If the
    /// backend reaches `Closing`/`Closed` and `want` does not accept it, fails with
    /// [`Error::BackendClosed`].
    pub async fn wait_for_backend<P: SharedPage, E: EventChannels>(
        &self,
        xs: &Client<P, E>,
        want: impl Fn(XenbusState) -> bool,
    ) -> Result<XenbusState, Error> {
        let watch = xs.watch(&self.backend_key("state")).await?;
        loop {
            let s = self.backend_state(xs).await?;
            if want(s) {
                watch.unwatch().await.ok();
                return Ok(s);
            }
            if matches!(s, XenbusState::Closing | XenbusState::Closed) {
                watch.unwatch().await.ok();
                return Err(Error::BackendClosed(s));
            }
            watch.next().await?;
        }
    }
}
