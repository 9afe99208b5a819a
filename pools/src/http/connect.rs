//! Dialling: resolve the host, connect to one of its addresses, run hyper's HTTP/1
//! handshake, and hand the socket to a task that owns its slot.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::HttpError;
use super::dns::DnsCache;
use super::pool::{Conn, Pool, SocketSlot};
use super::target::Target;

/// How long a closing socket waits for the server to close its side before the slot is
/// given back anyway (a server that vanished without a reset).
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Sends our FIN and waits for the server's (discarding anything it still sends).
async fn close_gracefully(stream: &mut TcpStream) -> io::Result<()> {
    stream.shutdown().await?;
    let mut sink = [0u8; 256];
    while stream.read(&mut sink).await? != 0 {}
    Ok(())
}

/// Gives the slot back if the dial does not finish (error or cancellation).
struct DialGuard<'a> {
    pool: &'a Pool,
    key: &'a str,
    armed: bool,
}

impl Drop for DialGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.pool.dial_failed(self.key);
        }
    }
}

/// Opens a connection with a slot already taken for `key`.
///
/// Cancel safety: dropping the future gives the slot back and closes any half-open socket.
pub(crate) async fn dial(
    pool: &Arc<Pool>,
    dns: &DnsCache,
    key: &Arc<str>,
    target: &Target<'_>,
) -> Result<Conn, HttpError> {
    let mut guard = DialGuard {
        pool,
        key,
        armed: true,
    };
    let stream = match connect(dns, target).await {
        Ok(stream) => stream,
        Err(e) => {
            pool.counters.error();
            return Err(e);
        }
    };
    // Requests are small writes answered at once: Nagle's delay would only add latency.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|source| {
            pool.counters.error();
            HttpError::Protocol { source }
        })?;
    let slot = SocketSlot::new(pool, Arc::clone(key));
    guard.armed = false;
    pool.dial_done();
    pool.counters.connection_created();
    tokio::spawn(async move {
        let mut connection = connection;
        // Ends when the server closes the socket, on an error, or when every `Conn`
        // handle is dropped (idle timeout, eviction, a body dropped half read).
        let _ = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)).await;
        let mut stream = connection.into_parts().io.into_inner();
        // The slot is free once the server has closed its side too (or after a short
        // linger), so that the server never sees more connections than the limits either.
        let _ = tokio::time::timeout(CLOSE_LINGER, close_gracefully(&mut stream)).await;
        drop(stream);
        drop(slot);
    });
    Ok(Conn { sender })
}

async fn connect(dns: &DnsCache, target: &Target<'_>) -> Result<TcpStream, HttpError> {
    let resolved;
    let addrs: Box<dyn Iterator<Item = IpAddr> + Send + '_> = match target.ip {
        Some(ip) => Box::new(std::iter::once(ip)),
        None => {
            resolved = dns
                .lookup(target.host)
                .await
                .map_err(|source| HttpError::Resolve {
                    host: target.host.into(),
                    source,
                })?;
            Box::new(resolved.iter())
        }
    };
    let mut last = None;
    for ip in addrs {
        let addr = SocketAddr::new(ip, target.port);
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(source) => last = Some(HttpError::Connect { addr, source }),
        }
    }
    Err(last.unwrap_or_else(|| HttpError::Resolve {
        host: target.host.into(),
        source: Arc::new(io::Error::new(io::ErrorKind::NotFound, "no address")),
    }))
}
