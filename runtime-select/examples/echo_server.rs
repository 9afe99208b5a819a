//! An echo server whose runtime the deployment picks:
//!
//! ```text
//! ASYNCPERF_RUNTIME=thread_per_core,multi_thread cargo run --example echo_server
//! ```
//!
//! It logs the selection, serves on 127.0.0.1:7878 until ctrl-c, then shuts down gracefully.

use std::time::Duration;

use asyncperf_runtime_select::{RuntimeSelect, ShutdownSignal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn accept_loop(listener: TcpListener, stop: ShutdownSignal) {
    loop {
        tokio::select! {
            () = stop.requested() => return,
            accepted = listener.accept() => {
                let Ok((mut stream, _)) = accepted else { continue };
                // Stays on this shard under thread-per-core.
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = RuntimeSelect::from_env()?;
    eprintln!("runtime: {}", rt.selection());

    let listeners = rt.listen("127.0.0.1:7878".parse()?)?;
    eprintln!(
        "echo on {} ({} listening socket(s))",
        listeners.local_addr(),
        listeners.len()
    );
    let stop = rt.shutdown_signal();
    rt.serve(listeners, move |listener| {
        accept_loop(listener, stop.clone())
    })?;

    // The main thread blocks on the server's lifetime (a current-thread runtime runs its tasks
    // only while someone is inside `block_on`).
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    let report = rt.shutdown_timeout(Duration::from_secs(5));
    eprintln!("shut down: {report}");
    Ok(())
}
