//! `EVTCHNOP_*` hypercalls.

use crate::abi::evtchn::*;
use crate::abi::hvm::DOMID_SELF;
use crate::abi::hypercalls::__HYPERVISOR_event_channel_op;
use crate::hvm::XenError;
use crate::hypercall::Xen;

impl Xen {
    /// # Safety
    /// `arg` must be the argument structure Xen's `event_channel.h` defines for `cmd`.
    unsafe fn evtchn_op<T>(&self, cmd: u32, arg: &mut T) -> Result<(), XenError> {
        // SAFETY: the caller matches `T` to `cmd`; `arg` lives on the caller's stack during the call.
        let rc = unsafe { self.call(__HYPERVISOR_event_channel_op, [u64::from(cmd), arg as *mut T as u64, 0, 0, 0]) };
        if rc < 0 {
            Err(XenError(rc))
        } else {
            Ok(())
        }
    }

    /// Signals the remote end of event channel `port`.
    pub fn evtchn_send(&self, port: u32) -> Result<(), XenError> {
        let mut arg = evtchn_port_arg { port };
        // SAFETY: EVTCHNOP_send takes a `struct evtchn_send` (one port; size checked against the C header).
        unsafe { self.evtchn_op(EVTCHNOP_send, &mut arg) }
    }

    /// Binds `virq` on vCPU `vcpu` to a new local port.
    pub fn evtchn_bind_virq(&self, virq: u32, vcpu: u32) -> Result<u32, XenError> {
        let mut arg = evtchn_bind_virq { virq, vcpu, port: 0 };
        // SAFETY: EVTCHNOP_bind_virq takes a `struct evtchn_bind_virq` (layout checked).
        unsafe { self.evtchn_op(EVTCHNOP_bind_virq, &mut arg) }?;
        Ok(arg.port)
    }

    /// Allocates a port that domain `remote` (DOMID_SELF allowed) may bind to.
    pub fn evtchn_alloc_unbound(&self, remote: u16) -> Result<u32, XenError> {
        let mut arg = evtchn_alloc_unbound { dom: DOMID_SELF, remote_dom: remote, port: 0 };
        // SAFETY: EVTCHNOP_alloc_unbound takes a `struct evtchn_alloc_unbound` (layout checked).
        unsafe { self.evtchn_op(EVTCHNOP_alloc_unbound, &mut arg) }?;
        Ok(arg.port)
    }

    /// Binds a new local port to `remote_port` of domain `remote` (DOMID_SELF allowed: a loopback).
    pub fn evtchn_bind_interdomain(&self, remote: u16, remote_port: u32) -> Result<u32, XenError> {
        let mut arg = evtchn_bind_interdomain { remote_dom: remote, remote_port, local_port: 0 };
        // SAFETY: EVTCHNOP_bind_interdomain takes a `struct evtchn_bind_interdomain` (layout checked).
        unsafe { self.evtchn_op(EVTCHNOP_bind_interdomain, &mut arg) }?;
        Ok(arg.local_port)
    }

    pub fn evtchn_close(&self, port: u32) -> Result<(), XenError> {
        let mut arg = evtchn_port_arg { port };
        // SAFETY: EVTCHNOP_close takes a `struct evtchn_close` (one port; size checked).
        unsafe { self.evtchn_op(EVTCHNOP_close, &mut arg) }
    }

    /// Clears the mask bit of `port`; Xen re-raises the port if it is pending.
    pub fn evtchn_unmask(&self, port: u32) -> Result<(), XenError> {
        let mut arg = evtchn_port_arg { port };
        // SAFETY: EVTCHNOP_unmask takes a `struct evtchn_unmask` (one port; size checked).
        unsafe { self.evtchn_op(EVTCHNOP_unmask, &mut arg) }
    }
}
