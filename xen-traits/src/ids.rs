//! Newtypes for the numbers Xen hands around, so a port is never passed where a grant reference is expected.

use core::fmt;

/// A domain id (`domid_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomId(pub u16);

impl DomId {
    /// The control domain.
    pub const DOM0: DomId = DomId(0);
    /// `DOMID_FIRST_RESERVED`: ids at or above this are not real domains.
    pub const FIRST_RESERVED: u16 = 0x7ff0;
    /// `DOMID_SELF`: "the calling domain" in hypercall arguments.
    pub const SELF: DomId = DomId(0x7ff0);

    /// Whether this is the id of a real domain (below `DOMID_FIRST_RESERVED`).
    pub const fn is_real(self) -> bool {
        self.0 < Self::FIRST_RESERVED
    }
}

impl fmt::Display for DomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dom{}", self.0)
    }
}

/// An event channel port (`evtchn_port_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(pub u32);

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port {}", self.0)
    }
}

/// A grant reference (`grant_ref_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantRef(pub u32);

impl fmt::Display for GrantRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gref {}", self.0)
    }
}

/// A guest page frame number (guest-physical address >> 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub u64);

impl Pfn {
    /// The frame that contains guest-physical address `addr`.
    pub const fn containing(addr: u64) -> Pfn {
        Pfn(addr >> 12)
    }

    /// The guest-physical address of the first byte of the frame.
    pub const fn addr(self) -> u64 {
        self.0 << 12
    }
}

impl fmt::Display for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pfn {:#x}", self.0)
    }
}
