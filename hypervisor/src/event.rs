//! Event channel operations needed so far.

use xen_sys::{evtchn_send, EVTCHNOP_send, __HYPERVISOR_event_channel_op};

use crate::hvm::XenError;
use crate::hypercall::Xen;

impl Xen {
    /// Signals the remote end of event channel `port`.
    pub fn evtchn_send(&self, port: u32) -> Result<(), XenError> {
        let arg = evtchn_send { port };
        // SAFETY: EVTCHNOP_send takes a pointer to a `struct evtchn_send` (size checked against the C
        // header), on our stack during the call.
        let rc = unsafe {
            self.call(__HYPERVISOR_event_channel_op, [u64::from(EVTCHNOP_send), &arg as *const _ as u64, 0, 0, 0])
        };
        if rc < 0 {
            Err(XenError(rc))
        } else {
            Ok(())
        }
    }
}
