//! Opening the xenstore connection on Xen: the ring page and port the toolstack set up
//! (`hypervisor::special_page`), the domain's event channels, and the client over them.

use alloc::rc::Rc;
use core::fmt;

use hypervisor::shared_region::SharedRegion;
use hypervisor::special_page::{self, Special, SpecialPageError};
use xenbus::{Client, XenStore};

use crate::xen::{services, Events, SetupError};

/// The xenstore client of this domain.
pub type Xenstore = Client<SharedRegion, &'static Events>;

/// Why the connection could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    Setup(SetupError),
    Store(SpecialPageError),
    /// [`connect`] was called before: there is one client per domain.
    AlreadyOpen,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Setup(e) => write!(f, "{e}"),
            ConnectError::Store(e) => write!(f, "no xenstore ring ({e:?})"),
            ConnectError::AlreadyOpen => f.write_str("the xenstore connection is open already"),
        }
    }
}

static OPENED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Opens the domain's xenstore connection (once; the framework does it before `main`).
pub fn connect() -> Result<Rc<Xenstore>, ConnectError> {
    let s = services().map_err(ConnectError::Setup)?;
    if OPENED.swap(true, core::sync::atomic::Ordering::AcqRel) {
        return Err(ConnectError::AlreadyOpen);
    }
    let (page, port) = special_page::open(&s.xen, Special::Xenstore).map_err(ConnectError::Store)?;
    super::log::install();
    Ok(Rc::new(Client::new(XenStore::new(page, &s.events, port))))
}
