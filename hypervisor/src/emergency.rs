//! The emergency console: I/O port 0xe9. Xen prints a PVH guest's bytes there on its own console as
//! `(dN) text` (one line per newline); QEMU sends them to `-debugcon`. Works before anything else is set
//! up and needs no shared state, so it is the console of last resort.

/// `XEN_HVM_DEBUGCONS_IOPORT`.
pub const PORT: u16 = 0xe9;

/// A `core::fmt::Write` sink for port 0xe9.
#[derive(Debug, Default, Clone, Copy)]
pub struct Emergency;

impl Emergency {
    pub fn write_bytes(&self, bytes: &[u8]) {
        for &b in bytes {
            out_byte(b);
        }
    }
}

impl core::fmt::Write for Emergency {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(target_os = "none")]
fn out_byte(b: u8) {
    // SAFETY: writing port 0xe9 only emits a byte on the hypervisor's (or QEMU's) debug console; it has
    // no effect on memory.
    unsafe { core::arch::asm!("out dx, al", in("dx") PORT, in("al") b, options(nomem, nostack, preserves_flags)) }
}

/// Host builds (tests) have no port 0xe9: the bytes go to stderr.
#[cfg(not(target_os = "none"))]
fn out_byte(b: u8) {
    extern crate std;
    use std::io::Write;
    let _ = std::io::stderr().write_all(&[b]);
}

/// I/O port of QEMU's `isa-debug-exit` device, used only when not running on Xen (plain QEMU boots for
/// development): QEMU exits with status `(code << 1) | 1`. Without the device the write is ignored.
pub const QEMU_DEBUG_EXIT_PORT: u16 = 0xf4;

#[cfg(target_os = "none")]
pub fn qemu_debug_exit(code: u8) {
    // SAFETY: a write to the isa-debug-exit port ends QEMU or, without that device, does nothing; it
    // does not touch memory.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") QEMU_DEBUG_EXIT_PORT, in("al") code, options(nomem, nostack, preserves_flags))
    }
}
