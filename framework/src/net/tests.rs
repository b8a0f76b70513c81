//! The device adapter and smoltcp against the fake netback: a guest interface over [`NetDevice`] and a
//! peer interface on the backend's side of the rings, exchanging ARP, ICMP, UDP and 256 KiB of TCP
//! echo. Driven step by step on one thread (no executor).

use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

use netfront::{BackendFeatures, Config, Netfront};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use xen_fake::netback::{FrontendKeys, RxMeta};
use xen_fake::{EventHub, FakeEventChannels, FakeGrantTable, FakeMemory, FakeNetback, FakePage, NetbackConfig};
use xen_traits::DomId;

use super::coalesce::Coalescer;
use super::device::{NetDevice, MAX_FRAME};

const GUEST: DomId = DomId(7);
const GUEST_MAC: [u8; 6] = [0x00, 0x16, 0x3e, 0x12, 0x34, 0x56];
const PEER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

type Dev = NetDevice<FakePage, FakeGrantTable, FakeEventChannels>;

/// The peer's device: frames the guest sent come in, frames the peer sends go out to the netback.
#[derive(Default)]
struct Wire {
    inbox: VecDeque<Vec<u8>>,
    outbox: VecDeque<Vec<u8>>,
}

struct WireRx(Vec<u8>);
struct WireTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for WireRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for WireTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for Wire {
    type RxToken<'a> = WireRx;
    type TxToken<'a> = WireTx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(WireRx, WireTx<'_>)> {
        let f = self.inbox.pop_front()?;
        Some((WireRx(f), WireTx(&mut self.outbox)))
    }

    fn transmit(&mut self, _: Instant) -> Option<WireTx<'_>> {
        Some(WireTx(&mut self.outbox))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = MAX_FRAME;
        c
    }
}

struct World {
    dev: Dev,
    nb: FakeNetback,
    guest: Interface,
    guest_sockets: SocketSet<'static>,
    wire: Wire,
    peer: Interface,
    peer_sockets: SocketSet<'static>,
    now: Instant,
    /// Frames the netback could not deliver yet (no rx buffer posted), with the MSS of merged ones.
    held: VecDeque<(Vec<u8>, Option<u16>)>,
    /// Merge the peer's TCP segments into GSO packets, as dom0 sends a stream to a frontend that
    /// asked for `feature-gso-tcpv4`.
    gso_rx: bool,
    /// Deliver TCP/UDP frames as dom0's netback does for local senders: the checksum field blank
    /// (garbage here) and `NETRXF_csum_blank | NETRXF_data_validated`.
    blank: bool,
    /// Every frame the peer received from the guest, after netback's host completed checksums and
    /// split GSO packets.
    on_wire: usize,
}

/// Overwrites the transport checksum of an IPv4 TCP/UDP frame; returns whether it did.
fn blank_checksum(f: &mut [u8]) -> bool {
    if f.len() < 34 || f[12..14] != [0x08, 0x00] {
        return false;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let at = match f[23] {
        6 => 14 + ihl + 16,
        17 => 14 + ihl + 6,
        _ => return false,
    };
    if f.len() < at + 2 {
        return false;
    }
    f[at..at + 2].copy_from_slice(&[0x55, 0xaa]);
    true
}

fn iface(mac: [u8; 6], ip: [u8; 4], dev: &mut (impl Device + ?Sized)) -> Interface {
    let mut cfg = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    cfg.random_seed = u64::from(ip[3]);
    let mut i = Interface::new(cfg, dev, Instant::from_millis(0));
    i.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::v4(ip[0], ip[1], ip[2], ip[3]), 24)).unwrap();
    });
    i
}

fn world(blank: bool) -> World {
    world_with(blank, false)
}

/// A world whose backend offers (`gso`) or not segmentation offload.
fn world_with(blank: bool, gso: bool) -> World {
    let mem = FakeMemory::new();
    let grants = FakeGrantTable::new(mem.clone(), 4096);
    let hub = EventHub::new();
    let evs = hub.domain(GUEST);
    let nbcfg = NetbackConfig { mac: GUEST_MAC, ..NetbackConfig::default() };
    let features = BackendFeatures { sg: true, rx_copy: true, rx_notify: true, gso_tcpv4: gso, ..Default::default() };
    let cfg = Config { rx_gso_tcpv4: gso, ..Config::default() };
    let nf = Netfront::new(grants.clone(), evs, DomId::DOM0, GUEST_MAC, features, cfg, &mut || Some(mem.alloc_page()))
        .expect("setup");
    let mut nb = FakeNetback::new(grants, hub.domain(DomId::DOM0), GUEST, nbcfg);
    nb.attach(FrontendKeys {
        tx_ring_ref: nf.tx_ring_ref(),
        rx_ring_ref: nf.rx_ring_ref(),
        event_channel: nf.port(),
        rx_sg: cfg.rx_sg,
        rx_gso_tcpv4: gso,
        rx_notify: true,
        csum_offload: true,
    })
    .expect("attach");
    let mut dev = NetDevice::new(nf);
    let guest = iface(GUEST_MAC, [10, 0, 0, 2], &mut dev);
    let mut wire = Wire::default();
    let peer = iface(PEER_MAC, [10, 0, 0, 1], &mut wire);
    World {
        dev,
        nb,
        guest,
        guest_sockets: SocketSet::new(Vec::new()),
        wire,
        peer,
        peer_sockets: SocketSet::new(Vec::new()),
        now: Instant::from_millis(0),
        held: VecDeque::new(),
        gso_rx: gso,
        blank,
        on_wire: 0,
    }
}

impl World {
    /// One step: both stacks poll, the netback moves frames both ways, time advances 1 ms.
    fn step(&mut self) {
        self.guest.poll(self.now, &mut self.dev, &mut self.guest_sockets);
        self.dev.flush();
        for p in self.nb.process_tx() {
            assert!(p.data.len() >= 14);
            for f in p.wire_frames().expect("netback's host rejects the packet") {
                assert!(f.len() <= MAX_FRAME, "{}-byte frame on the wire", f.len());
                self.wire.inbox.push_back(f);
                self.on_wire += 1;
            }
        }
        self.peer.poll(self.now, &mut self.wire, &mut self.peer_sockets);
        if self.gso_rx {
            let mut c = Coalescer::default();
            for f in self.wire.outbox.drain(..) {
                if !c.try_append(&f, 65535) {
                    self.held.extend(c.take().map(|m| (m.frame, m.mss)));
                    if !c.start(&f) {
                        self.held.push_back((f, None));
                    }
                }
            }
            self.held.extend(c.take().map(|m| (m.frame, m.mss)));
        } else {
            self.held.extend(self.wire.outbox.drain(..).map(|f| (f, None)));
        }
        let blank_flags = netfront::wire::NETRXF_CSUM_BLANK | netfront::wire::NETRXF_DATA_VALIDATED;
        while let Some((f, mss)) = self.held.front() {
            let mut f = f.clone();
            let meta = if let Some(mss) = *mss {
                // The merged packet's checksum field is its first segment's: blank, as from dom0.
                blank_checksum(&mut f);
                RxMeta { flags: blank_flags, gso: Some((mss, 1)) }
            } else if self.blank && blank_checksum(&mut f) {
                RxMeta { flags: blank_flags, gso: None }
            } else {
                RxMeta::default()
            };
            if self.nb.deliver_rx(&f, meta).is_err() {
                break;
            }
            self.held.pop_front();
        }
        self.now += smoltcp::time::Duration::from_millis(1);
    }
}

fn tcp_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 65536]), tcp::SocketBuffer::new(vec![0; 65536]))
}

#[test]
fn tcp_echo_of_256_kib_through_netfront_and_the_fake_netback() {
    let w = tcp_echo(world(false));
    assert_eq!(w.dev.stats().tx_gso_packets, 0, "GSO without the backend offering it");
}

#[test]
fn tcp_echo_with_blank_checksums_from_the_backend() {
    tcp_echo(world(true));
}

#[test]
fn tcp_echo_with_segmentation_offload() {
    // The peer's smoltcp verifies every checksum, so frames reach it only if the pseudo-header sums we
    // leave and the merged IP headers are right; the echo compares every byte.
    let w = tcp_echo(world_with(true, true));
    let s = w.dev.stats();
    assert!(s.tx_gso_packets > 0, "no segments merged: {s:?}");
    assert!(s.tx_gso_segments >= 2 * s.tx_gso_packets, "{s:?}");
    let sent = w.dev.netfront_ref().stats().tx.packets as usize;
    assert!(sent < w.on_wire, "{sent} packets sent became {} frames", w.on_wire);
    let rx = w.dev.netfront_ref().stats().rx;
    assert!(rx.bytes > rx.packets * MAX_FRAME as u64, "no GSO packet received: {rx:?}");
}

fn tcp_echo(mut w: World) -> World {
    let mut server = tcp_socket();
    server.listen(7).unwrap();
    let server = w.guest_sockets.add(server);
    let client = w.peer_sockets.add(tcp_socket());
    let ctx = w.peer.context();
    w.peer_sockets
        .get_mut::<tcp::Socket>(client)
        .connect(ctx, IpEndpoint::new(IpAddress::v4(10, 0, 0, 2), 7), 49152)
        .unwrap();

    let data: Vec<u8> = (0..256 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let (mut sent, mut back) = (0usize, Vec::new());
    let mut buf = vec![0u8; 8192];
    for _ in 0..200_000 {
        w.step();
        // Guest: echo what arrives.
        let s = w.guest_sockets.get_mut::<tcp::Socket>(server);
        while s.can_recv() && s.send_capacity() - s.send_queue() > 0 {
            let room = (s.send_capacity() - s.send_queue()).min(buf.len());
            let n = s.recv_slice(&mut buf[..room]).unwrap();
            if n == 0 {
                break;
            }
            assert_eq!(s.send_slice(&buf[..n]).unwrap(), n);
        }
        // Peer: send the data, collect the echo.
        let c = w.peer_sockets.get_mut::<tcp::Socket>(client);
        if c.can_send() && sent < data.len() {
            sent += c.send_slice(&data[sent..]).unwrap();
        }
        while c.can_recv() {
            let n = c.recv_slice(&mut buf).unwrap();
            back.extend_from_slice(&buf[..n]);
        }
        if back.len() == data.len() {
            break;
        }
    }
    assert_eq!(back.len(), data.len(), "echo incomplete");
    assert!(back == data, "echo differs");
    let stats = w.dev.stats();
    assert_eq!(stats.rx_bad_checksum, 0);
    assert_eq!(stats.tx_refused, 0);
    assert!(w.nb.errors().is_empty(), "{:?}", w.nb.errors());
    w
}

#[test]
fn udp_round_trip_with_blank_checksums() {
    let mut w = world(true);
    let mk = || {
        udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0; 8192]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0; 8192]),
        )
    };
    let mut g = mk();
    g.bind(7).unwrap();
    let g = w.guest_sockets.add(g);
    let mut p = mk();
    p.bind(5000).unwrap();
    let p = w.peer_sockets.add(p);
    w.peer_sockets
        .get_mut::<udp::Socket>(p)
        .send_slice(b"ping over netfront", IpEndpoint::new(IpAddress::v4(10, 0, 0, 2), 7))
        .unwrap();
    let mut got = None;
    for _ in 0..1000 {
        w.step();
        let s = w.guest_sockets.get_mut::<udp::Socket>(g);
        if let Ok((data, meta)) = s.recv() {
            let data = data.to_vec();
            s.send_slice(&data, meta.endpoint).unwrap();
        }
        if let Ok((data, _)) = w.peer_sockets.get_mut::<udp::Socket>(p).recv() {
            got = Some(data.to_vec());
            break;
        }
    }
    assert_eq!(got.as_deref(), Some(&b"ping over netfront"[..]));
}

#[test]
fn a_frame_with_a_wrong_checksum_is_dropped_and_counted() {
    let mut w = world(false);
    let mut g = udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0; 8192]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0; 8192]),
    );
    g.bind(7).unwrap();
    let g = w.guest_sockets.add(g);
    // Let the guest learn nothing: build the frame by hand (peer MAC/IP to guest, UDP 5000 -> 7).
    let payload = b"checked once";
    let mut f = Vec::new();
    f.extend_from_slice(&GUEST_MAC);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let mut s: u32 = ip.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    ip[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x13, 0x88, 0, 7]);
    f.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    netfront::checksum::complete(&mut f).unwrap();
    let mut bad = f.clone();
    *bad.last_mut().unwrap() ^= 1;
    for frame in [bad, f] {
        w.nb.deliver_rx(&frame, RxMeta::default()).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..10 {
        w.step();
        while let Ok((data, _)) = w.guest_sockets.get_mut::<udp::Socket>(g).recv() {
            got.push(data.to_vec());
        }
    }
    assert_eq!(got, vec![payload.to_vec()], "only the intact datagram arrives");
    assert_eq!(w.dev.stats().rx_bad_checksum, 1);
}
