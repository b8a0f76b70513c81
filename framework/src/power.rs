//! Ending the unikernel: flush the console, then ask Xen to power off / reboot / crash the domain.
//! Outside Xen (plain QEMU), QEMU's isa-debug-exit port ends QEMU when present: poweroff exits 1,
//! crash exits 7.

use crate::console;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Poweroff,
    Reboot,
    Crash,
}

/// Powers the domain off after flushing the console.
pub fn poweroff() -> ! {
    shutdown(Reason::Poweroff)
}

/// Reboots the domain after flushing the console.
pub fn reboot() -> ! {
    shutdown(Reason::Reboot)
}

pub fn shutdown(reason: Reason) -> ! {
    console::flush();
    stop(reason)
}

/// Stops without touching the console lock (for the crash paths, which flushed already).
pub(crate) fn stop(reason: Reason) -> ! {
    #[cfg(target_os = "none")]
    {
        use hypervisor::sched::ShutdownReason;
        match hypervisor::hypercall::Xen::init() {
            Ok(xen) => xen.shutdown(match reason {
                Reason::Poweroff => ShutdownReason::Poweroff,
                Reason::Reboot => ShutdownReason::Reboot,
                Reason::Crash => ShutdownReason::Crash,
            }),
            Err(_) => {
                hypervisor::emergency::qemu_debug_exit(match reason {
                    Reason::Poweroff => 0,
                    Reason::Reboot => 1,
                    Reason::Crash => pvh_boot::stop::QEMU_CRASH_CODE,
                });
                hypervisor::sched::halt_forever()
            }
        }
    }
    #[cfg(not(target_os = "none"))]
    {
        panic!("xenolith: shutdown({reason:?}) outside a unikernel")
    }
}
