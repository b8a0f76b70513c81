//! Event channels: the doorbells between a frontend and its backend.

use crate::{DomId, Port};

/// Why an event channel operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvtchnError {
    /// No free port is left in this domain.
    NoFreePort,
    /// The port is not allocated, or not in a state that allows the operation.
    InvalidPort,
    /// The remote domain or port does not exist, or refused the binding.
    InvalidRemote,
    /// The hypervisor returned another error (a negative errno value).
    Hypervisor(i32),
}

/// The event channel operations drivers need (`EVTCHNOP_*`).
///
/// All methods take `&self`: event channels are a per-domain service shared by every driver, and a real
/// implementation only issues hypercalls and flips bits in `shared_info`.
pub trait EventChannels {
    /// Send an event to the remote end of `port` (`EVTCHNOP_send`). Sending on a closed or unbound port is
    /// ignored (Xen reports it; a driver has nothing useful to do about it).
    fn notify(&self, port: Port);
    /// Allow delivery of events on `port` (clears the mask bit; re-raises a pending event).
    fn unmask(&self, port: Port);
    /// Stop delivery of events on `port` (they stay pending).
    fn mask(&self, port: Port);
    /// Allocate a port that `remote` may bind to (`EVTCHNOP_alloc_unbound`); the frontend side of a
    /// split driver publishes this port in xenstore.
    fn alloc_unbound(&self, remote: DomId) -> Result<Port, EvtchnError>;
    /// Bind a local port to `remote_port` of domain `remote` (`EVTCHNOP_bind_interdomain`).
    fn bind_interdomain(&self, remote: DomId, remote_port: Port) -> Result<Port, EvtchnError>;
    /// Close `port` (`EVTCHNOP_close`).
    fn close(&self, port: Port) -> Result<(), EvtchnError>;
}

impl<T: EventChannels + ?Sized> EventChannels for &T {
    fn notify(&self, port: Port) {
        (**self).notify(port)
    }
    fn unmask(&self, port: Port) {
        (**self).unmask(port)
    }
    fn mask(&self, port: Port) {
        (**self).mask(port)
    }
    fn alloc_unbound(&self, remote: DomId) -> Result<Port, EvtchnError> {
        (**self).alloc_unbound(remote)
    }
    fn bind_interdomain(&self, remote: DomId, remote_port: Port) -> Result<Port, EvtchnError> {
        (**self).bind_interdomain(remote, remote_port)
    }
    fn close(&self, port: Port) -> Result<(), EvtchnError> {
        (**self).close(port)
    }
}
