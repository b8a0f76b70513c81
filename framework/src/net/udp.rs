//! [`UdpSocket`]: `bind`, `recv_from`, `send_to`, over a smoltcp UDP socket.

use alloc::vec;
use core::future::poll_fn;
use core::task::Poll;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;
use smoltcp::wire::IpEndpoint;

use crate::net::interface::Net;
use crate::net::Error;

/// Datagrams buffered each way.
pub const PACKETS: usize = 32;
/// Payload bytes buffered each way.
pub const BUFFER: usize = 64 * 1024;

/// A UDP socket bound to a port of one interface.
pub struct UdpSocket {
    net: Net,
    handle: SocketHandle,
}

impl UdpSocket {
    /// Binds `port` (not 0).
    pub fn bind(net: &Net, port: u16) -> Result<UdpSocket, Error> {
        let rx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; PACKETS], vec![0; BUFFER]);
        let tx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; PACKETS], vec![0; BUFFER]);
        let mut sock = udp::Socket::new(rx, tx);
        sock.bind(port).map_err(|_| Error::InvalidPort)?;
        let handle = net.with(|s| s.sockets.add(sock));
        Ok(UdpSocket { net: net.clone(), handle })
    }

    /// Waits for a datagram; copies it into `buf` (truncated if longer) and returns its length and sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, IpEndpoint), Error> {
        poll_fn(|cx| {
            let mut s = self.net.shared.borrow_mut();
            let down = s.down;
            let sock = s.sockets.get_mut::<udp::Socket>(self.handle);
            match sock.recv() {
                Ok((data, meta)) => {
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    Poll::Ready(Ok((n, meta.endpoint)))
                }
                Err(_) if down => Poll::Ready(Err(Error::InterfaceDown)),
                Err(_) => {
                    sock.register_recv_waker(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Sends one datagram to `to` (waiting for buffer room).
    pub async fn send_to(&self, data: &[u8], to: IpEndpoint) -> Result<(), Error> {
        if data.len() > BUFFER {
            return Err(Error::TooLarge);
        }
        poll_fn(|cx| {
            let mut s = self.net.shared.borrow_mut();
            if s.down {
                return Poll::Ready(Err(Error::InterfaceDown));
            }
            let sock = s.sockets.get_mut::<udp::Socket>(self.handle);
            match sock.send_slice(data, to) {
                Ok(()) => {
                    s.poke();
                    Poll::Ready(Ok(()))
                }
                Err(udp::SendError::BufferFull) => {
                    sock.register_send_waker(cx.waker());
                    Poll::Pending
                }
                Err(udp::SendError::Unaddressable) => Poll::Ready(Err(Error::Unaddressable)),
            }
        })
        .await
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.net.shared.borrow_mut().sockets.remove(self.handle);
    }
}
