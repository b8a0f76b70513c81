//! DHCP: what a lease from smoltcp's DHCPv4 client means for the interface.

use smoltcp::socket::dhcpv4;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

/// An address and a gateway from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The address and prefix offered.
    pub address: Ipv4Cidr,
    /// The router, if the server named one.
    pub gateway: Option<Ipv4Address>,
}

impl Lease {
    /// `Some(lease)` for a new or changed configuration, `None` for a lost one.
    pub fn from_event(ev: dhcpv4::Event<'_>) -> Option<Lease> {
        match ev {
            dhcpv4::Event::Configured(c) => Some(Lease { address: c.address, gateway: c.router }),
            dhcpv4::Event::Deconfigured => None,
        }
    }
}

/// A DHCP client socket.
pub fn client() -> dhcpv4::Socket<'static> {
    dhcpv4::Socket::new()
}
