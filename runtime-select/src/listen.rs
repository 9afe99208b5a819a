//! Listening sockets for a runtime: one for a shared scheduler, one per shard with
//! `SO_REUSEPORT` so each shard accepts its own connections.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// tokio's `TcpListener::bind` uses the same backlog.
const BACKLOG: i32 = 1024;

/// One or more listening sockets on the same address, ready to hand to a runtime
/// ([`RuntimeSelect::serve`](crate::RuntimeSelect::serve)).
///
/// With several, each has `SO_REUSEPORT` and the kernel spreads incoming connections over
/// them by a hash of the 4-tuple: balanced over many connections, uneven over a few
/// long-lived ones (there is no stealing between shards).
#[derive(Debug)]
pub struct Listeners {
    local_addr: SocketAddr,
    sockets: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// One listening socket on `addr` (port 0 picks a free port), non-blocking,
    /// `SO_REUSEADDR` on Unix as tokio sets it.
    ///
    /// # Errors
    ///
    /// The OS error from creating, binding or listening.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = listen(addr, false)?;
        Ok(Self {
            local_addr: socket.local_addr()?,
            sockets: vec![socket],
        })
    }

    /// `count` listening sockets on one address, each with `SO_REUSEPORT`. With port 0 the
    /// first picks a free port and the others join it.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `count == 0`; `Unsupported` where `SO_REUSEPORT` does not exist
    /// (Windows, Solaris); otherwise the OS error from creating, binding or listening.
    pub fn bind_reuse_port(addr: SocketAddr, count: usize) -> io::Result<Self> {
        if count == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "at least one listener is needed",
            ));
        }
        let first = listen(addr, true)?;
        let local_addr = first.local_addr()?;
        let mut sockets = Vec::with_capacity(count);
        sockets.push(first);
        for _ in 1..count {
            sockets.push(listen(local_addr, true)?);
        }
        Ok(Self {
            local_addr,
            sockets,
        })
    }

    /// The address every socket listens on (with the port picked for port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How many sockets there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Never true for a value built by this crate; here for the usual pairing with `len`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The sockets, non-blocking, for `tokio::net::TcpListener::from_std` in the runtime that
    /// will accept on each.
    #[must_use]
    pub fn into_std(self) -> Vec<std::net::TcpListener> {
        self.sockets
    }
}

fn listen(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    if reuse_port {
        set_reuse_port(&socket)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
)))]
fn set_reuse_port(_socket: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT is not available on this platform",
    ))
}
