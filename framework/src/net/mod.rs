//! Networking: each `vif=` of the domain (`device/vif/N`) as an IPv4 interface — netfront under
//! smoltcp — with async [`TcpListener`], [`TcpStream`] and [`UdpSocket`] in the style of tokio.
//!
//! ```ignore
//! let local = LocalSet::new();
//! local.run_until(async {
//!     let net = xenolith::net::start(&ctx, &local).await?;   // eth0, DHCP unless `ip=` says otherwise
//!     net.configured().await;
//!     let mut listener = TcpListener::bind(&net, 7)?;
//!     loop {
//!         let (mut stream, _peer) = listener.accept().await?;
//!         local.spawn(async move { /* stream.read / write_all */ });
//!     }
//! }).await
//! ```
//!
//! * [`config`]: the command line's `ip=A.B.C.D/N gw=A.B.C.D` (static) or DHCP (default).
//! * [`device`]: smoltcp's `phy::Device` over netfront (tokens only when buffers are free; checksum
//!   offload both ways, TCP segmentation offload through [`coalesce`]).
//! * [`interface`]: the shared stack ([`Net`]) and the task driving the device: event channel → netfront
//!   → `Interface::poll`, smoltcp's timers through the executor's `sleep`.
//! * [`counters`]: each interface's traffic, for monitoring and the log.
//! * [`dhcp`], [`tcp`], [`udp`].
//!
//! The stack is `!Send`: it and the tasks using it live in a [`LocalSet`](crate::executor::LocalSet).
//! When `net` is configured, a line `net: eth0 10.99.0.123/24 via dhcp ...` is printed. ARP and ICMP
//! echo (ping) are answered by smoltcp.

pub mod coalesce;
pub mod config;
pub mod counters;
pub mod device;
pub mod dhcp;
pub mod interface;
pub mod tcp;
pub mod udp;
#[cfg(test)]
mod tests;
#[cfg(all(target_os = "none", feature = "net"))]
mod vif;
#[cfg(all(target_os = "none", feature = "net"))]
mod xen;

use core::fmt;

pub use config::IpConfig;
pub use interface::{Configured, Net, Origin};
pub use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(all(target_os = "none", feature = "net"))]
pub use xen::{start, start_all, StartError};

/// Why a socket operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Port 0, or one smoltcp refuses.
    InvalidPort,
    /// The peer reset the connection (or it timed out).
    ConnectionReset,
    /// The connection (or its sending side) is closed.
    Closed,
    /// No route or no address to send from.
    Unaddressable,
    /// A datagram larger than the socket buffer.
    TooLarge,
    /// The device broke (the backend misbehaved or went away).
    InterfaceDown,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::InvalidPort => "invalid port",
            Error::ConnectionReset => "connection reset",
            Error::Closed => "connection closed",
            Error::Unaddressable => "destination unaddressable",
            Error::TooLarge => "datagram too large",
            Error::InterfaceDown => "interface down",
        })
    }
}
