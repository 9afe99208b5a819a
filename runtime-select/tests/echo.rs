//! The same echo server, written once against `RuntimeSelect`, passes on every flavour, and
//! shuts down gracefully on each.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use asyncperf_runtime_select::{Flavor, RuntimeSelect, ShutdownSignal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CLIENTS: usize = 16;
const ROUNDS: usize = 20;

/// Accepts until shutdown; each connection echoes until the peer closes.
async fn accept_loop(listener: TcpListener, stop: ShutdownSignal, accepted: Arc<AtomicUsize>) {
    loop {
        tokio::select! {
            () = stop.requested() => break,
            conn = listener.accept() => {
                let Ok((mut stream, _)) = conn else { continue };
                accepted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        }
    }
}

/// Starts the echo server; returns its address and one accept counter per listener.
fn start_echo(rt: &RuntimeSelect) -> (SocketAddr, Vec<Arc<AtomicUsize>>) {
    let listeners = rt.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listeners.local_addr();
    let counters: Vec<Arc<AtomicUsize>> = (0..listeners.len())
        .map(|_| Arc::new(AtomicUsize::new(0)))
        .collect();
    let stop = rt.shutdown_signal();
    let mut next = counters.clone().into_iter();
    rt.serve(listeners, move |listener| {
        accept_loop(listener, stop.clone(), next.next().unwrap())
    })
    .unwrap();
    (addr, counters)
}

/// Plain blocking clients on their own threads: no runtime of ours involved on this side.
fn run_clients(addr: SocketAddr, clients: usize) {
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                for round in 0..ROUNDS {
                    let len = 1 + (c * 131 + round * 977) % 3000;
                    let msg: Vec<u8> = (0..len).map(|i| (i * 7 + c + round) as u8).collect();
                    stream.write_all(&msg).unwrap();
                    let mut back = vec![0u8; len];
                    stream.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg, "client {c} round {round}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Runs the clients while the runtime is driven: a current-thread runtime only runs its tasks
/// while a thread is inside `block_on` (tokio's rule), so every server `main` blocks on
/// something, here on the clients finishing.
fn drive_clients(rt: &RuntimeSelect, addr: SocketAddr, clients: usize) {
    rt.block_on(async move {
        tokio::task::spawn_blocking(move || run_clients(addr, clients))
            .await
            .unwrap();
    });
}

fn echo_on(flavor: Flavor) -> Vec<usize> {
    let rt = RuntimeSelect::builder()
        .flavor(flavor)
        .default_fallback(false)
        .build()
        .unwrap();
    assert!(!rt.selection().fell_back(), "{}", rt.selection());
    let (addr, counters) = start_echo(&rt);
    drive_clients(&rt, addr, CLIENTS);
    let report = rt.shutdown_timeout(Duration::from_secs(10));
    assert!(report.is_clean(), "{flavor}: {report}");
    let accepted: Vec<usize> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(accepted.iter().sum::<usize>(), CLIENTS, "{flavor}");
    accepted
}

#[test]
fn echo_on_current_thread() {
    assert_eq!(echo_on(Flavor::CurrentThread).len(), 1);
}

#[test]
fn echo_on_multi_thread() {
    assert_eq!(echo_on(Flavor::MultiThread { workers: Some(2) }).len(), 1);
}

#[test]
fn echo_on_thread_per_core() {
    assert_eq!(echo_on(Flavor::ThreadPerCore { cores: Some(2) }).len(), 2);
}

#[test]
fn echo_on_auto() {
    echo_on(Flavor::Auto);
}

/// `SO_REUSEPORT` spreads connections over the shards' sockets by a hash of the 4-tuple: with
/// 64 connections on 2 shards, all on one shard has probability 2^-63.
#[test]
fn thread_per_core_shards_accept_their_own_connections() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::ThreadPerCore { cores: Some(2) })
        .default_fallback(false)
        .build()
        .unwrap();
    let (addr, counters) = start_echo(&rt);
    let mut streams: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // One echo each (the shards serve on their own threads): every connection has been
    // accepted before shutdown stops the accept loops, however loaded the machine is.
    for stream in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(b"?").unwrap();
        let mut back = [0u8; 1];
        stream.read_exact(&mut back).unwrap();
    }
    drive_clients(&rt, addr, 4);
    let report = rt.shutdown_timeout(Duration::from_secs(10));
    drop(streams);
    assert!(report.is_clean(), "{report}");
    let accepted: Vec<usize> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(accepted.iter().sum::<usize>(), 68, "{accepted:?}");
    assert!(accepted.iter().all(|n| *n > 0), "{accepted:?}");
}
