//! The stack of one vif: smoltcp's [`Interface`] and [`SocketSet`], shared (as [`Net`]) by the sockets
//! and the task that drives the device ([`drive`]).
//!
//! Sockets never touch the device: they read and write smoltcp's socket buffers and then *poke* the
//! driver, which polls the interface (sending what was queued). smoltcp wakes sockets' wakers when data
//! or room arrives. The driver sleeps on three things: the device's event channel, smoltcp's next timer
//! (`poll_delay`: retransmissions, DHCP, ARP), and a poke.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::{pending, poll_fn};
use core::task::{Poll, Waker};
use core::time::Duration;

use smoltcp::iface::{Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, tcp};
use smoltcp::wire::{IpCidr, Ipv4Address, Ipv4Cidr};
use xen_traits::{EventChannels, GrantTable, SharedPage};

use crate::executor::{select, sleep, wait_event, yield_now, Either, Instant};
use crate::net::device::NetDevice;
use crate::net::dhcp;

/// The current time on smoltcp's clock (the executor's).
pub fn smol_now() -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros((Instant::now().as_nanos() / 1000) as i64)
}

/// How the address was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// From a DHCP server.
    Dhcp,
    /// From the command line.
    Static,
}

/// The interface's IPv4 configuration once it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Configured {
    /// Address and prefix.
    pub address: Ipv4Cidr,
    /// Default gateway.
    pub gateway: Option<Ipv4Address>,
    /// Where it came from.
    pub origin: Origin,
    /// Milliseconds from the start of the interface to the address.
    pub after_ms: u64,
}

pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) iface: Interface,
    pub(crate) sockets: SocketSet<'static>,
    pub(crate) dhcp: Option<SocketHandle>,
    pub(crate) config: Option<Configured>,
    pub(crate) started: Instant,
    config_waiters: Vec<Waker>,
    /// Closed-by-the-application TCP sockets, removed once smoltcp is done with them.
    orphans: Vec<SocketHandle>,
    poked: bool,
    driver: Option<Waker>,
    /// The driver stopped (the device broke): sockets fail instead of waiting forever.
    pub(crate) down: bool,
    /// Devices this interface has had (more than one after a detach and a re-attach).
    devices: u32,
    /// [`Net::close`] asked the driver to disconnect from the backend.
    close_requested: bool,
    /// The driver has stopped (closed, or the device broke).
    stopped: bool,
    /// Waiting for `close_requested` (the driver) or `stopped` (closers).
    close_waiters: Vec<Waker>,
    /// Receive and send buffers of each new TCP socket ([`Net::set_tcp_buffers`]).
    pub(crate) tcp_buffers: (usize, usize),
}

/// A handle on one interface's stack; clones share it. Tasks using it must be local tasks (a
/// [`LocalSet`](crate::executor::LocalSet)): it is `!Send`.
#[derive(Clone)]
pub struct Net {
    pub(crate) shared: Rc<RefCell<Shared>>,
}

impl Net {
    /// A stack over `iface` and `sockets`; run [`drive`] with the device to make it live.
    pub fn new(name: String, iface: Interface, sockets: SocketSet<'static>) -> Net {
        Net {
            shared: Rc::new(RefCell::new(Shared {
                name,
                iface,
                sockets,
                dhcp: None,
                config: None,
                started: Instant::now(),
                config_waiters: Vec::new(),
                orphans: Vec::new(),
                poked: false,
                driver: None,
                down: false,
                devices: 1,
                close_requested: false,
                stopped: false,
                close_waiters: Vec::new(),
                tcp_buffers: (crate::net::tcp::BUFFER, crate::net::tcp::BUFFER),
            })),
        }
    }

    /// The receive and send buffers of TCP sockets created from now on (default
    /// [`crate::net::tcp::BUFFER`] each). They bound the data in flight each way: above 64 KiB the
    /// receive window is scaled (RFC 7323), which a fast sender needs once the round trip is a few
    /// milliseconds.
    pub fn set_tcp_buffers(&self, receive: usize, send: usize) {
        self.shared.borrow_mut().tcp_buffers = (receive.max(1024), send.max(1024));
    }

    /// The interface name (`eth0` for `device/vif/0`).
    pub fn name(&self) -> String {
        self.shared.borrow().name.clone()
    }

    /// The IPv4 configuration, if the interface has one yet.
    pub fn config(&self) -> Option<Configured> {
        self.shared.borrow().config
    }

    /// Waits until the interface has an address (DHCP may take a few seconds).
    pub async fn configured(&self) -> Configured {
        poll_fn(|cx| {
            let mut s = self.shared.borrow_mut();
            match s.config {
                Some(c) => Poll::Ready(c),
                None => {
                    s.config_waiters.push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Disconnects the vif from its backend through xenstore (as before a power-off: netback unmaps
    /// everything, then every grant is revoked) and waits until the driver has stopped. Sockets fail
    /// with [`Error::InterfaceDown`](crate::net::Error::InterfaceDown) afterwards.
    pub async fn close(&self) {
        {
            let mut s = self.shared.borrow_mut();
            s.close_requested = true;
            for w in s.close_waiters.drain(..) {
                w.wake();
            }
        }
        self.until_closing(|s| s.stopped).await
    }

    /// Completes once [`Net::close`] was called (for the driver).
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    pub(crate) async fn close_requested(&self) {
        self.until_closing(|s| s.close_requested).await
    }

    /// Completes once `done` holds, re-checked each time the close waiters are woken.
    async fn until_closing(&self, done: impl Fn(&Shared) -> bool) {
        poll_fn(|cx| {
            let mut s = self.shared.borrow_mut();
            if done(&s) {
                Poll::Ready(())
            } else {
                s.close_waiters.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// The driver has stopped for good: sockets fail from now on, closers are told.
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    pub(crate) fn stopped(&self) {
        let mut s = self.shared.borrow_mut();
        s.down = true;
        s.stopped = true;
        for w in s.close_waiters.drain(..) {
            w.wake();
        }
        for (_, sock) in s.sockets.iter_mut() {
            if let smoltcp::socket::Socket::Tcp(t) = sock {
                t.abort();
            }
        }
    }

    /// Runs `f` on the socket set and pokes the driver.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        let mut s = self.shared.borrow_mut();
        let r = f(&mut s);
        s.poke();
        r
    }
}

impl Shared {
    pub(crate) fn poke(&mut self) {
        self.poked = true;
        if let Some(w) = self.driver.take() {
            w.wake();
        }
    }

    /// Hands a TCP socket the application let go of to the driver, which removes it once closed.
    pub(crate) fn orphan(&mut self, h: SocketHandle) {
        self.orphans.push(h);
        self.poke();
    }

    pub(crate) fn set_config(&mut self, c: Option<Configured>) {
        self.config = c;
        if c.is_some() {
            for w in self.config_waiters.drain(..) {
                w.wake();
            }
        }
    }

    /// Applies an address to the interface.
    pub(crate) fn apply(&mut self, address: Ipv4Cidr, gateway: Option<Ipv4Address>, origin: Origin) {
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            // One address only: the vector has room for it.
            let _ = addrs.push(IpCidr::Ipv4(address));
        });
        self.iface.routes_mut().remove_default_ipv4_route();
        if let Some(gw) = gateway {
            let _ = self.iface.routes_mut().add_default_ipv4_route(gw);
        }
        let after_ms = self.started.elapsed().as_millis() as u64;
        let how = match origin {
            Origin::Dhcp => "dhcp",
            Origin::Static => "static",
        };
        let gw = match gateway {
            Some(gw) => alloc::format!("gateway {gw}, "),
            None => String::new(),
        };
        // After a re-attach the line names the device generation (`device 2`), so it can be told apart.
        let device = match self.devices {
            1 => String::new(),
            n => alloc::format!(", device {n}"),
        };
        crate::println!("net: {} {} via {} ({gw}{after_ms} ms{device})", self.name, address, how);
        self.set_config(Some(Configured { address, gateway, origin, after_ms }));
    }

    /// The vif went away (detached): no address until a new device is attached.
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    pub(crate) fn lost_device(&mut self) {
        self.unapply();
    }

    /// A new device (with `mac`) replaces the one that went away: the interface takes its MAC, and the
    /// address comes back by DHCP (a fresh request) or from the static configuration `again`.
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    pub(crate) fn new_device(&mut self, mac: [u8; 6], again: Option<(Ipv4Cidr, Option<Ipv4Address>)>) {
        self.iface.set_hardware_addr(smoltcp::wire::HardwareAddress::Ethernet(smoltcp::wire::EthernetAddress(mac)));
        self.started = Instant::now();
        self.devices += 1;
        if let Some(h) = self.dhcp {
            self.sockets.get_mut::<dhcpv4::Socket>(h).reset();
        }
        if let Some((address, gateway)) = again {
            self.apply(address, gateway, Origin::Static);
        }
        self.poke();
    }

    /// Drops the address (a DHCP lease lost; smoltcp also reports this once as its client starts).
    pub(crate) fn unapply(&mut self) {
        if self.config.is_none() {
            return;
        }
        self.iface.update_ip_addrs(|addrs| addrs.clear());
        self.iface.routes_mut().remove_default_ipv4_route();
        crate::println!("net: {} lost its address", self.name);
        self.set_config(None);
    }

    /// One poll of the interface, the DHCP client, and the orphan sweep. Returns whether sockets changed.
    fn poll<P: SharedPage, G: GrantTable, E: EventChannels>(&mut self, dev: &mut NetDevice<P, G, E>) -> bool {
        let now = smol_now();
        let changed = self.iface.poll(now, dev, &mut self.sockets) == PollResult::SocketStateChanged;
        dev.flush();
        crate::net::counters::record(&self.name, dev.traffic());
        if let Some(h) = self.dhcp {
            let ev = self.sockets.get_mut::<dhcpv4::Socket>(h).poll().map(dhcp::Lease::from_event);
            match ev {
                Some(Some(lease)) => self.apply(lease.address, lease.gateway, Origin::Dhcp),
                Some(None) => self.unapply(),
                None => {}
            }
        }
        let sockets = &mut self.sockets;
        self.orphans.retain(|&h| {
            let state = sockets.get::<tcp::Socket>(h).state();
            let done = matches!(state, tcp::State::Closed | tcp::State::TimeWait);
            if done {
                sockets.remove(h);
            }
            !done
        });
        changed
    }
}

/// Drives the device of `net` until it breaks: polls the interface after every event, timer and poke.
/// Dropping the future (e.g. when the backend goes away) leaves the device usable for a clean release.
pub async fn drive<P: SharedPage, G: GrantTable, E: EventChannels>(net: Net, dev: &mut NetDevice<P, G, E>) {
    let port = dev.netfront_ref().port().0;
    loop {
        let more = match dev.netfront().on_event() {
            Ok(w) => w == netfront::Work::More,
            Err(b) => {
                let mut s = net.shared.borrow_mut();
                crate::println!("net: {}: device disabled: {b}", s.name);
                s.down = true;
                // Wake every socket waiter so it sees the interface down.
                for (_, sock) in s.sockets.iter_mut() {
                    if let smoltcp::socket::Socket::Tcp(t) = sock {
                        t.abort();
                    }
                }
                let Shared { iface, sockets, .. } = &mut *s;
                let _ = iface.poll(smol_now(), dev, sockets);
                return;
            }
        };
        let delay = {
            let mut s = net.shared.borrow_mut();
            s.poked = false;
            s.poll(dev);
            let now = smol_now();
            let Shared { iface, sockets, .. } = &mut *s;
            iface.poll_delay(now, sockets).map(|d| Duration::from_micros(d.total_micros()))
        };
        let blocked = dev.take_tx_blocked();
        if (more || dev.has_pending()) && !blocked {
            // Work left (a burst larger than one poll took): let other tasks run, then continue.
            yield_now().await;
            continue;
        }
        // With the transmit ring full, smoltcp asks to be polled at once; wait for room instead.
        let delay = match delay {
            Some(d) if d.is_zero() && blocked => None,
            d => d,
        };
        let timer = async {
            match delay {
                Some(d) => sleep(d).await,
                None => pending::<()>().await,
            }
        };
        let poke = poll_fn(|cx| {
            let mut s = net.shared.borrow_mut();
            if s.poked {
                s.poked = false;
                Poll::Ready(())
            } else {
                s.driver = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        match select(wait_event(port), select(timer, poke)).await {
            Either::Left(()) | Either::Right(_) => {}
        }
    }
}
