//! TCP in the style of tokio: [`TcpListener`] (`bind`, `accept`) and [`TcpStream`] (`read`,
//! `write_all`, `shutdown`, `close`), over smoltcp sockets.
//!
//! smoltcp has no listen queue: a listener keeps [`BACKLOG`] sockets listening on its port; `accept`
//! hands out the first that a peer connected to and puts a fresh listening socket in its place.
//! Dropping a stream closes it gracefully (FIN); its socket is removed once smoltcp is done with it.

use alloc::vec;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::task::Poll;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpEndpoint;

use crate::net::interface::{Net, Shared};
use crate::net::Error;

/// Sockets listening per listener (connections a peer can open before `accept` is called).
pub const BACKLOG: usize = 4;
/// Receive and send buffer of each connection, unless [`Net::set_tcp_buffers`] says otherwise.
pub const BUFFER: usize = 64 * 1024;

fn new_socket((rx, tx): (usize, usize)) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; rx]), tcp::SocketBuffer::new(vec![0; tx]));
    s.set_nagle_enabled(false);
    s
}

fn listening(s: &mut Shared, port: u16) -> Result<SocketHandle, Error> {
    let mut sock = new_socket(s.tcp_buffers);
    sock.listen(port).map_err(|_| Error::InvalidPort)?;
    Ok(s.sockets.add(sock))
}

/// A TCP socket listening on a port of one interface.
pub struct TcpListener {
    net: Net,
    port: u16,
    backlog: Vec<SocketHandle>,
}

impl TcpListener {
    /// Listens on `port` (not 0).
    pub fn bind(net: &Net, port: u16) -> Result<TcpListener, Error> {
        if port == 0 {
            return Err(Error::InvalidPort);
        }
        let backlog = net.with(|s| (0..BACKLOG).map(|_| listening(s, port)).collect::<Result<Vec<_>, _>>())?;
        Ok(TcpListener { net: net.clone(), port, backlog })
    }

    /// The port.
    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// Waits for a connection; returns the stream and the peer's address.
    pub async fn accept(&mut self) -> Result<(TcpStream, IpEndpoint), Error> {
        let (i, peer) = poll_fn(|cx| {
            let mut s = self.net.shared.borrow_mut();
            if s.down {
                return Poll::Ready(Err(Error::InterfaceDown));
            }
            for (i, &h) in self.backlog.iter().enumerate() {
                let sock = s.sockets.get_mut::<tcp::Socket>(h);
                match sock.state() {
                    tcp::State::Listen | tcp::State::SynReceived => sock.register_recv_waker(cx.waker()),
                    // Established (or already closing: the peer was quick); the application sees it.
                    _ => return Poll::Ready(Ok((i, sock.remote_endpoint()))),
                }
            }
            Poll::Pending
        })
        .await?;
        let h = self.net.with(|s| listening(s, self.port))?;
        let conn = core::mem::replace(&mut self.backlog[i], h);
        // A connection reset before `accept` has no endpoint: it still is a stream (reads end at once).
        let peer = peer.unwrap_or(IpEndpoint::new(smoltcp::wire::IpAddress::v4(0, 0, 0, 0), 0));
        Ok((TcpStream { net: self.net.clone(), handle: Some(conn) }, peer))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let mut s = self.net.shared.borrow_mut();
        for h in self.backlog.drain(..) {
            let sock = s.sockets.get_mut::<tcp::Socket>(h);
            if sock.state() == tcp::State::Listen {
                s.sockets.remove(h);
            } else {
                sock.abort();
                s.orphan(h);
            }
        }
    }
}

/// One TCP connection.
pub struct TcpStream {
    net: Net,
    /// `None` once closed.
    handle: Option<SocketHandle>,
}

impl TcpStream {
    fn handle(&self) -> Result<SocketHandle, Error> {
        self.handle.ok_or(Error::Closed)
    }

    /// The peer's address, while connected.
    pub fn peer_addr(&self) -> Option<IpEndpoint> {
        let h = self.handle?;
        self.net.shared.borrow().sockets.get::<tcp::Socket>(h).remote_endpoint()
    }

    /// Reads what has arrived (at least one byte, waiting if needed); `Ok(0)` once the peer closed its
    /// side and everything was read.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let h = self.handle()?;
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let mut s = self.net.shared.borrow_mut();
            let down = s.down;
            let sock = s.sockets.get_mut::<tcp::Socket>(h);
            if sock.can_recv() {
                let n = sock.recv_slice(buf).map_err(|_| Error::ConnectionReset);
                // Room in the window: let the driver send a window update.
                s.poke();
                return Poll::Ready(n);
            }
            if !sock.may_recv() {
                // FIN received (end of stream), or reset/closed.
                return Poll::Ready(Ok(0));
            }
            if down {
                return Poll::Ready(Err(Error::InterfaceDown));
            }
            sock.register_recv_waker(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Queues part of `buf` for sending (waiting for room); returns how much was queued.
    pub async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        let h = self.handle()?;
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let mut s = self.net.shared.borrow_mut();
            let down = s.down;
            let sock = s.sockets.get_mut::<tcp::Socket>(h);
            if !sock.may_send() {
                return Poll::Ready(Err(if sock.is_open() { Error::Closed } else { Error::ConnectionReset }));
            }
            if down {
                return Poll::Ready(Err(Error::InterfaceDown));
            }
            if sock.can_send() {
                let n = sock.send_slice(buf).map_err(|_| Error::ConnectionReset);
                s.poke();
                return Poll::Ready(n);
            }
            sock.register_send_waker(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Queues all of `buf` for sending.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> Result<(), Error> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Waits until everything queued was acknowledged by the peer.
    pub async fn flush(&mut self) -> Result<(), Error> {
        let h = self.handle()?;
        poll_fn(|cx| {
            let mut s = self.net.shared.borrow_mut();
            let sock = s.sockets.get_mut::<tcp::Socket>(h);
            if sock.send_queue() == 0 {
                return Poll::Ready(Ok(()));
            }
            if !sock.is_open() {
                return Poll::Ready(Err(Error::ConnectionReset));
            }
            sock.register_send_waker(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Closes the sending side (FIN after the queued data); reading continues until the peer closes.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        let h = self.handle()?;
        self.net.with(|s| s.sockets.get_mut::<tcp::Socket>(h).close());
        Ok(())
    }

    /// Closes the connection gracefully and lets it go (as dropping it does).
    pub fn close(mut self) {
        self.release();
    }

    /// Resets the connection (RST) and lets it go.
    pub fn abort(mut self) {
        if let Some(h) = self.handle {
            self.net.with(|s| s.sockets.get_mut::<tcp::Socket>(h).abort());
        }
        self.release();
    }

    fn release(&mut self) {
        if let Some(h) = self.handle.take() {
            let mut s = self.net.shared.borrow_mut();
            s.sockets.get_mut::<tcp::Socket>(h).close();
            s.orphan(h);
        }
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        self.release();
    }
}
