//! Bringing the domain's vifs up on Xen: discovery, the netfront handshake, the smoltcp interface, the
//! address (DHCP or static), and the driver task.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use netfront::ConnectError;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
use smoltcp::wire::{EthernetAddress, HardwareAddress};
use xenbus::discovery::{self, DeviceInfo};

use crate::executor::{Instant, LocalSet};
use crate::net::config::{BadConfig, IpConfig};
use crate::net::device::NetDevice;
use crate::net::interface::{smol_now, Net, Origin};
use crate::net::vif;
use crate::net::dhcp;
use crate::xen::{events, SetupError};
use crate::Context;

/// Why networking could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// No xenstore connection: devices cannot be found.
    NoXenstore,
    /// The Xen services are unavailable.
    Setup(SetupError),
    /// Listing `device/vif` failed.
    Discovery(xenbus::Error),
    /// The domain has no vif.
    NoDevice,
    /// The handshake with a backend failed.
    Connect(String, ConnectError),
    /// A bad `ip=`/`gw=` on the command line.
    Config(BadConfig),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NoXenstore => f.write_str("no xenstore connection"),
            StartError::Setup(e) => write!(f, "{e}"),
            StartError::Discovery(e) => write!(f, "listing device/vif failed: {e}"),
            StartError::NoDevice => f.write_str("no vif (add vif = ['bridge=xenbr0'] to the config)"),
            StartError::Connect(n, e) => write!(f, "{n}: connecting to the backend failed: {e}"),
            StartError::Config(e) => write!(f, "command line: {e}"),
        }
    }
}

/// Connects one vif, configures it with `ip`, and spawns its driver in `local`.
async fn bring_up(ctx: &Context, local: &LocalSet, device: DeviceInfo, ip: IpConfig) -> Result<Net, StartError> {
    let xs = ctx.xenstore().ok_or(StartError::NoXenstore)?;
    events().map_err(StartError::Setup)?;
    let name = format!("eth{}", device.id);
    vif::claim(&device.nodename);
    let (nf, frontend) = vif::connect(xs, device).await.map_err(|e| StartError::Connect(name.clone(), e))?;
    let mac = nf.mac();
    let mut dev = NetDevice::new(nf);
    let mut cfg = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    // Different on each boot (TCP sequence numbers, ephemeral ports): the clock and the MAC.
    let seed = Instant::now().as_nanos() ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0x5a, 0xa5]);
    cfg.random_seed = seed;
    let iface = Interface::new(cfg, &mut dev, smol_now());
    let net = Net::new(name, iface, SocketSet::new(Vec::new()));
    // More than 64 KiB in flight each way where memory allows: 256 KiB buffers per connection from
    // 32 MiB of free heap (a listener keeps 4 sockets ready: 2 MiB).
    if pvh_boot::heap::usage().available >= 32 << 20 {
        net.set_tcp_buffers(256 * 1024, 256 * 1024);
    }
    {
        let mut s = net.shared.borrow_mut();
        let m = mac;
        crate::println!(
            "net: {} up, mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {}",
            s.name, m[0], m[1], m[2], m[3], m[4], m[5],
            match ip { IpConfig::Dhcp => "asking DHCP", IpConfig::Static { .. } => "static address" }
        );
        match ip {
            IpConfig::Dhcp => {
                let h = s.sockets.add(dhcp::client());
                s.dhcp = Some(h);
            }
            IpConfig::Static { address, gateway } => s.apply(address, gateway, Origin::Static),
        }
    }
    drop(local.spawn(vif::run(xs.clone(), net.clone(), dev, frontend, ip)));
    Ok(net)
}

/// Starts the first vif (`eth0`): the address comes from the command line (`ip=A.B.C.D/N
/// gw=A.B.C.D`) or DHCP. Its driver runs as a task of `local`. Returns once the device is connected; wait
/// for the address with [`Net::configured`].
pub async fn start(ctx: &Context, local: &LocalSet) -> Result<Net, StartError> {
    let ip = IpConfig::from_cmdline(ctx.cmdline()).map_err(StartError::Config)?;
    let xs = ctx.xenstore().ok_or(StartError::NoXenstore)?;
    let found = discovery::discover(xs, discovery::VIF).await.map_err(StartError::Discovery)?;
    let first = found.into_iter().next().ok_or(StartError::NoDevice)?;
    bring_up(ctx, local, first, ip).await
}

/// Starts every vif, each by DHCP except the first, which follows the command line as in [`start`].
pub async fn start_all(ctx: &Context, local: &LocalSet) -> Result<Vec<Net>, StartError> {
    let ip = IpConfig::from_cmdline(ctx.cmdline()).map_err(StartError::Config)?;
    let xs = ctx.xenstore().ok_or(StartError::NoXenstore)?;
    let found = discovery::discover(xs, discovery::VIF).await.map_err(StartError::Discovery)?;
    if found.is_empty() {
        return Err(StartError::NoDevice);
    }
    let mut out = Vec::new();
    for (i, d) in found.into_iter().enumerate() {
        out.push(bring_up(ctx, local, d, if i == 0 { ip } else { IpConfig::Dhcp }).await?);
    }
    Ok(out)
}
