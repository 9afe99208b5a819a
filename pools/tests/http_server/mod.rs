//! In-process HTTP/1.1 servers on 127.0.0.1 that count the connections they accept, for the
//! HTTP client's tests and benches.

#![allow(dead_code, unreachable_pub)] // Each test or bench binary uses a part of it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// What a server (or several sharing it) has seen.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted so far.
    pub accepted: AtomicUsize,
    /// Connections open now.
    pub open: AtomicUsize,
    /// The most connections open at once.
    pub max_open: AtomicUsize,
    /// Requests received.
    pub requests: AtomicUsize,
    /// Requests inside the handler now (held by the gate).
    pub in_handler: AtomicUsize,
    /// Request paths in arrival order.
    pub paths: Mutex<Vec<String>>,
    changed: Notify,
}

impl Stats {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(SeqCst)
    }

    pub fn open(&self) -> usize {
        self.open.load(SeqCst)
    }

    pub fn max_open(&self) -> usize {
        self.max_open.load(SeqCst)
    }

    pub fn in_handler(&self) -> usize {
        self.in_handler.load(SeqCst)
    }

    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }

    /// Waits until `cond` holds (re-checked at every change the servers record).
    pub async fn wait_until(&self, cond: impl Fn(&Self) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if cond(self) {
                return;
            }
            changed.await;
        }
    }

    fn connection_opened(&self) {
        self.accepted.fetch_add(1, SeqCst);
        let open = self.open.fetch_add(1, SeqCst) + 1;
        self.max_open.fetch_max(open, SeqCst);
        self.changed.notify_waiters();
    }

    fn connection_closed(&self) {
        self.open.fetch_sub(1, SeqCst);
        self.changed.notify_waiters();
    }
}

/// A hyper server answering `ok` to every request, optionally holding each request until a
/// gate opens.
pub struct Server {
    pub addr: SocketAddr,
    /// This server's own counts.
    pub stats: Arc<Stats>,
    accept: JoinHandle<()>,
    kill: watch::Sender<u64>,
}

impl Server {
    /// A server recording into its own stats.
    pub async fn start() -> Self {
        Self::with(None, None).await
    }

    /// A server recording into its own stats and into `shared` (to count several servers
    /// together), holding every request until `gate` reads `true` when one is given.
    pub async fn with(shared: Option<Arc<Stats>>, gate: Option<watch::Receiver<bool>>) -> Self {
        Self::start_inner(shared, gate, true, None).await
    }

    /// A server for benches: counts connections and requests, records no paths, answers
    /// after `delay` when one is given.
    pub async fn for_bench(delay: Option<std::time::Duration>) -> Self {
        Self::start_inner(None, None, false, delay).await
    }

    async fn start_inner(
        shared: Option<Arc<Stats>>,
        gate: Option<watch::Receiver<bool>>,
        record_paths: bool,
        delay: Option<std::time::Duration>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Stats::new();
        let all: Arc<[Arc<Stats>]> = std::iter::once(Arc::clone(&stats)).chain(shared).collect();
        let (kill, killed) = watch::channel(0u64);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                for st in all.iter() {
                    st.connection_opened();
                }
                let stream = Counted {
                    stream,
                    stats: Arc::clone(&all),
                    closed: false,
                };
                let all = Arc::clone(&all);
                let gate = gate.clone();
                let mut killed = killed.clone();
                killed.mark_unchanged();
                tokio::spawn(async move {
                    let service = service_fn(|req: Request<Incoming>| {
                        let all = Arc::clone(&all);
                        let gate = gate.clone();
                        async move {
                            for st in all.iter() {
                                st.requests.fetch_add(1, SeqCst);
                                if record_paths {
                                    st.paths.lock().unwrap().push(req.uri().path().to_owned());
                                }
                            }
                            if let Some(mut gate) = gate {
                                for st in all.iter() {
                                    st.in_handler.fetch_add(1, SeqCst);
                                    st.changed.notify_waiters();
                                }
                                let _ = gate.wait_for(|open| *open).await;
                                for st in all.iter() {
                                    st.in_handler.fetch_sub(1, SeqCst);
                                }
                            }
                            if let Some(delay) = delay {
                                tokio::time::sleep(delay).await;
                            }
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                        }
                    });
                    // `Counted` records the close before the socket is closed.
                    let serve = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = serve => {}
                        // Dropped mid-whatever, as a crashing server would.
                        _ = killed.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            stats,
            accept,
            kill,
        }
    }

    /// Closes every open connection at once, without a word, as a restarting server does;
    /// the listener keeps accepting.
    pub fn kill_connections(&self) {
        self.kill.send_modify(|generation| *generation += 1);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The client's pool key for this server.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A server-side socket that records its close *before* closing, so that a client that
/// waits for the close can never be seen with one connection too many.
struct Counted {
    stream: TcpStream,
    stats: Arc<[Arc<Stats>]>,
    closed: bool,
}

impl Counted {
    /// Records the close once: at the server's shutdown (its FIN) or at the drop.
    fn record_close(&mut self) {
        if !std::mem::replace(&mut self.closed, true) {
            for st in self.stats.iter() {
                st.connection_closed();
            }
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.record_close();
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.record_close();
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// What a [`ScriptedServer`] does with the n-th request (from 1) of a connection.
#[derive(Clone, Copy, Debug)]
pub enum Script {
    /// Answer `ok` and keep the connection open; close it without answering the request
    /// after `n` answers (a server closing an idle keep-alive connection as a request comes).
    CloseAfter(usize),
    /// On the first connection, send the head and part of the body, then close; answer
    /// `ok` on later connections.
    TruncateFirstBody,
    /// Answer `ok` with `connection: close`, then close.
    CloseEach,
}

/// A raw TCP server speaking just enough HTTP/1.1 to misbehave on purpose.
pub struct ScriptedServer {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    accept: JoinHandle<()>,
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

impl ScriptedServer {
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Stats::new();
        let st = Arc::clone(&stats);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                st.connection_opened();
                let nth_conn = st.accepted();
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    serve_scripted(stream, script, nth_conn, &st).await;
                    st.connection_closed();
                });
            }
        });
        Self {
            addr,
            stats,
            accept,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve_scripted(mut stream: TcpStream, script: Script, nth_conn: usize, st: &Stats) {
    let mut buf = Vec::new();
    let mut answered = 0;
    loop {
        // Read one request head (the client sends no bodies here, or small ones we skip).
        let head_end = loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let body_len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < head_end + body_len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + body_len);
        st.requests.fetch_add(1, SeqCst);
        let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        st.paths.lock().unwrap().push(path);
        match script {
            Script::CloseAfter(n) if answered == n => return,
            Script::TruncateFirstBody if nth_conn == 1 => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
                    .await;
                let _ = stream.flush().await;
                return;
            }
            Script::CloseEach => {
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
                    )
                    .await;
                return;
            }
            _ => {}
        }
        if stream.write_all(OK).await.is_err() {
            return;
        }
        answered += 1;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
