//! The life of one vif on Xen after it first connected: drive it; when the toolstack takes it away
//! (`xl network-detach`: the backend leaves `Connected`), release it cleanly (netback unmaps
//! everything before the grants are revoked), keep the stack and its sockets, and wait for a new vif
//! (`xl network-attach`) to take its place: the interface gets the new MAC and asks DHCP again (or
//! re-applies its static address), and listeners answer again.
//!
//! A vif that is in use is *claimed* (by its xenstore node), so with several interfaces each new vif
//! is taken by one of them only.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use hypervisor::shared_region::SharedRegion;
use netfront::Config;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};
use xenbus::discovery::{self, DeviceInfo};
use xenbus::{Frontend, XenbusState};

use crate::executor::{select, timeout, Either};
use crate::net::config::IpConfig;
use crate::net::device::NetDevice;
use crate::net::interface::{drive, Net};
use crate::xen::grants::DomainGrants;
use crate::xen::events;
use crate::xenstore::Xenstore;

/// How long netback may take to let go of a detached vif before its pages are given up for leaked.
const RELEASE_LIMIT: Duration = Duration::from_secs(30);

/// The netfront device type on Xen.
pub(crate) type XenNetfront = netfront::Netfront<SharedRegion, DomainGrants, &'static hypervisor::evtchn::channels::XenEvents>;

static CLAIMED: spin::Mutex<Vec<String>> = spin::Mutex::new(Vec::new());

/// Marks `nodename` as in use; false if it already was.
pub(crate) fn claim(nodename: &str) -> bool {
    let mut c = CLAIMED.lock();
    if c.iter().any(|n| n == nodename) {
        return false;
    }
    c.push(String::from(nodename));
    true
}

fn unclaim(nodename: &str) {
    CLAIMED.lock().retain(|n| n != nodename);
}

/// Connects `device` (already claimed) to its backend.
pub(crate) async fn connect(xs: &Xenstore, device: DeviceInfo) -> Result<(XenNetfront, Frontend), netfront::ConnectError> {
    let evs = events().map_err(|_| netfront::ConnectError::Setup(netfront::SetupError::BadConfig))?;
    let mut alloc = || SharedRegion::alloc(1).map(|p| (p.pfn(), p));
    let config = Config::sized_for(pvh_boot::heap::usage().available);
    let id = device.id;
    let connected = netfront::connect(xs, device, DomainGrants, evs, &mut alloc, config).await?;
    crate::xen::record_frontend_state(id, XenbusState::Connected);
    Ok(connected)
}

/// A vif nobody uses whose frontend is `Initialising` (just created by the toolstack), claimed.
async fn next_vif(xs: &Xenstore) -> Result<DeviceInfo, xenbus::Error> {
    let watch = xs.watch("device/vif").await?;
    loop {
        for d in discovery::discover(xs, discovery::VIF).await? {
            let fresh = match xs.read(&alloc::format!("{}/state", d.nodename)).await {
                Ok(v) => XenbusState::parse(&v).is_ok_and(|s| s == XenbusState::Initialising),
                Err(_) => false,
            };
            if fresh && claim(&d.nodename) {
                watch.unwatch().await.ok();
                return Ok(d);
            }
        }
        watch.next().await?;
    }
}

/// Our side closes ([`Net::close`], e.g. before a power-off): `Closing`, netback disconnects, then
/// every grant is revoked and we are `Closed`.
async fn close(xs: &Xenstore, name: &str, fe: &mut Frontend, dev: NetDevice<SharedRegion, DomainGrants, &'static hypervisor::evtchn::channels::XenEvents>) {
    let node = String::from(fe.nodename());
    crate::println!("net: {name}: {}", dev.traffic());
    crate::xen::record_frontend_state(fe.device().id, XenbusState::Closing);
    match timeout(RELEASE_LIMIT, netfront::disconnect(xs, fe, dev.into_netfront())).await {
        Ok(Ok(r)) if r.leaked_pages == 0 => crate::println!("net: {name}: {node} disconnected cleanly"),
        Ok(Ok(r)) => crate::println!("net: {name}: {node} disconnected, {} pages leaked", r.leaked_pages),
        Ok(Err(e)) => crate::println!("net: {name}: disconnecting {node} failed ({e})"),
        Err(_) => crate::println!("net: {name}: netback kept {node} past {RELEASE_LIMIT:?}"),
    }
}

/// Drives the vif of `net` for the rest of the domain's life, through detaches and re-attaches; ends
/// only when the device breaks (a misbehaving backend) or xenstore fails.
pub(crate) async fn run(xs: Rc<Xenstore>, net: Net, mut dev: NetDevice<SharedRegion, DomainGrants, &'static hypervisor::evtchn::channels::XenEvents>, mut fe: Frontend, ip: IpConfig) {
    let name = net.name();
    let again: Option<(Ipv4Cidr, Option<Ipv4Address>)> = match ip {
        IpConfig::Dhcp => None,
        IpConfig::Static { address, gateway } => Some((address, gateway)),
    };
    loop {
        let leaving = netfront::wait_backend_leaving(&*xs, &fe);
        let left = match select(drive(net.clone(), &mut dev), select(leaving, net.close_requested())).await {
            // The device broke: `drive` reported it and failed the sockets.
            Either::Left(()) => {
                net.stopped();
                return;
            }
            Either::Right(Either::Left(r)) => r,
            Either::Right(Either::Right(())) => {
                close(&xs, &name, &mut fe, dev).await;
                unclaim(fe.nodename());
                net.stopped();
                return;
            }
        };
        match left {
            Ok(s) => crate::println!("net: {name}: backend went {s}: the vif is being detached"),
            Err(e) => crate::println!("net: {name}: watching the backend failed ({e}): releasing the vif"),
        }
        net.shared.borrow_mut().lost_device();
        let old = String::from(fe.nodename());
        match timeout(RELEASE_LIMIT, netfront::release(&*xs, &mut fe, dev.into_netfront())).await {
            Ok(Ok(r)) if r.leaked_pages == 0 => crate::println!("net: {name}: {old} released cleanly"),
            Ok(Ok(r)) => crate::println!("net: {name}: {old} released, {} pages leaked", r.leaked_pages),
            Ok(Err(e)) => crate::println!("net: {name}: releasing {old} failed ({e}); device dropped"),
            Err(_) => crate::println!("net: {name}: netback kept {old} past {RELEASE_LIMIT:?}; device dropped"),
        }
        crate::xen::record_frontend_state(fe.device().id, XenbusState::Closed);
        unclaim(&old);
        crate::println!("net: {name}: waiting for a new vif");
        let (nf, new_fe) = loop {
            let info = match next_vif(&xs).await {
                Ok(i) => i,
                Err(e) => {
                    crate::println!("net: {name}: watching device/vif failed ({e}); the interface stays down");
                    net.stopped();
                    return;
                }
            };
            let node = info.nodename.clone();
            match connect(&xs, info).await {
                Ok(c) => break c,
                // Left claimed: a vif that failed once is not retried in a loop.
                Err(e) => crate::println!("net: {name}: connecting {node} failed: {e}"),
            }
        };
        let mac = nf.mac();
        crate::println!(
            "net: {name}: {} attached, mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            new_fe.nodename(), mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
        );
        dev = NetDevice::new(nf);
        fe = new_fe;
        net.shared.borrow_mut().new_device(mac, again);
    }
}
