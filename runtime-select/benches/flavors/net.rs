//! Loopback servers (TCP echo, HTTP hello on hyper) on each target, and their load
//! generators: a current-thread runtime on the bench thread, the same for every target, with
//! one request in flight per connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use crate::targets::{Driven, Target};

const HELLO: &[u8] = b"Hello, World!";

#[derive(Clone, Copy)]
pub(crate) enum Proto {
    Echo,
    Http,
}

/// Starts `proto`'s server on `target` and keeps it driven; returns where it listens.
pub(crate) fn serve(target: Target, proto: Proto) -> (Driven, SocketAddr) {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let addr = match &target {
        Target::Ours(rt) => {
            let listeners = rt.listen(any).expect("listen");
            let addr = listeners.local_addr();
            rt.serve(listeners, move |l| accept_loop(l, proto))
                .expect("serve");
            addr
        }
        Target::Tokio(rt) => {
            let socket = bind(any, false);
            let addr = socket.local_addr().expect("address");
            let listener = {
                let _context = rt.enter();
                TcpListener::from_std(socket).expect("register")
            };
            rt.spawn(accept_loop(listener, proto));
            addr
        }
        Target::Shards(shards) => {
            let first = bind(any, true);
            let addr = first.local_addr().expect("address");
            let mut sockets = vec![first];
            sockets.extend((1..shards.handles.len()).map(|_| bind(addr, true)));
            for (handle, socket) in shards.handles.iter().zip(sockets) {
                let listener = {
                    let _context = handle.enter();
                    TcpListener::from_std(socket).expect("register")
                };
                handle.spawn(accept_loop(listener, proto));
            }
            addr
        }
    };
    (Driven::new(target), addr)
}

/// A listening socket bound by hand (the peers do not use this crate's helper).
fn bind(addr: SocketAddr, reuse_port: bool) -> std::net::TcpListener {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    if reuse_port {
        socket.set_reuse_port(true).expect("SO_REUSEPORT");
    }
    socket.set_nonblocking(true).expect("non-blocking");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(1024).expect("listen");
    socket.into()
}

async fn accept_loop(listener: TcpListener, proto: Proto) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        match proto {
            Proto::Echo => drop(tokio::spawn(echo(stream))),
            Proto::Http => drop(tokio::spawn(hello(stream))),
        }
    }
}

async fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn hello(stream: TcpStream) {
    let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(HELLO))))
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn client_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}

/// `connections` echo clients, each sending `message_bytes` and reading them back.
pub(crate) struct EchoLoad {
    rt: Runtime,
    streams: Vec<TcpStream>,
    message: Arc<[u8]>,
}

impl EchoLoad {
    pub(crate) fn connect(addr: SocketAddr, connections: usize, message_bytes: usize) -> Self {
        let rt = client_runtime();
        let streams = rt.block_on(async {
            let mut streams = Vec::with_capacity(connections);
            for _ in 0..connections {
                let s = TcpStream::connect(addr).await.expect("connect");
                s.set_nodelay(true).expect("nodelay");
                streams.push(s);
            }
            streams
        });
        let message: Vec<u8> = (0..message_bytes).map(|i| i as u8).collect();
        Self {
            rt,
            streams,
            message: message.into(),
        }
    }

    /// `iters` round trips on every connection at once; the wall time.
    pub(crate) fn run(&mut self, iters: u64) -> Duration {
        let streams = std::mem::take(&mut self.streams);
        let message = self.message.clone();
        let (elapsed, streams) = self.rt.block_on(async move {
            let start = Instant::now();
            let tasks: Vec<_> = streams
                .into_iter()
                .map(|mut stream| {
                    let message = message.clone();
                    tokio::spawn(async move {
                        let mut back = vec![0u8; message.len()];
                        for _ in 0..iters {
                            stream.write_all(&message).await.expect("send");
                            stream.read_exact(&mut back).await.expect("echo");
                        }
                        // The load really was applied: every byte came back.
                        assert_eq!(back[..], message[..]);
                        stream
                    })
                })
                .collect();
            let mut streams = Vec::with_capacity(tasks.len());
            for task in tasks {
                streams.push(task.await.expect("client"));
            }
            (start.elapsed(), streams)
        });
        self.streams = streams;
        elapsed
    }
}

/// `connections` keep-alive HTTP/1.1 clients, each with one `GET /` in flight.
pub(crate) struct HttpLoad {
    rt: Runtime,
    senders: Vec<SendRequest<Empty<Bytes>>>,
}

impl HttpLoad {
    pub(crate) fn connect(addr: SocketAddr, connections: usize) -> Self {
        let rt = client_runtime();
        let senders = rt.block_on(async {
            let mut senders = Vec::with_capacity(connections);
            for _ in 0..connections {
                let stream = TcpStream::connect(addr).await.expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
                tokio::spawn(conn);
                senders.push(sender);
            }
            senders
        });
        Self { rt, senders }
    }

    pub(crate) fn run(&mut self, iters: u64) -> Duration {
        let senders = std::mem::take(&mut self.senders);
        let (elapsed, senders) = self.rt.block_on(async move {
            let start = Instant::now();
            let tasks: Vec<_> = senders
                .into_iter()
                .map(|mut sender| {
                    tokio::spawn(async move {
                        for _ in 0..iters {
                            sender.ready().await.expect("connection open");
                            let request = Request::get("/")
                                .header(hyper::header::HOST, "localhost")
                                .body(Empty::<Bytes>::new())
                                .expect("request");
                            let response = sender.send_request(request).await.expect("response");
                            let body = response.into_body().collect().await.expect("body");
                            assert_eq!(body.to_bytes(), HELLO);
                        }
                        sender
                    })
                })
                .collect();
            let mut senders = Vec::with_capacity(tasks.len());
            for task in tasks {
                senders.push(task.await.expect("client"));
            }
            (start.elapsed(), senders)
        });
        self.senders = senders;
        elapsed
    }
}
