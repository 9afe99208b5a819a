//! Thread-per-core with state per shard: each shard keeps its own `Rc<RefCell<..>>` counters
//! (no locks, no atomics), accepts its own connections through `SO_REUSEPORT`, and the runtime
//! shuts down gracefully.
//!
//! ```text
//! cargo run --example thread_per_core
//! ```

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use asyncperf_runtime_select::{Flavor, RuntimeSelect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::ThreadPerCore { cores: None })
        .build()?;
    println!("runtime: {}", rt.selection());
    let Some(tpc) = rt.as_thread_per_core() else {
        println!("thread-per-core was not available here; nothing to show");
        return Ok(());
    };

    let listeners = tpc.bind_reuse_port("127.0.0.1:0".parse()?)?;
    let addr = listeners.local_addr();
    for (shard, socket) in tpc.shards().iter().zip(listeners.into_std()) {
        let stop = shard.shutdown_signal();
        let index = shard.index();
        // `spawn_local` runs the closure on the shard's thread: the future may hold `Rc`s.
        shard.spawn_local(move || async move {
            let listener = TcpListener::from_std(socket).expect("register the socket");
            let served = Rc::new(RefCell::new(0usize));
            loop {
                tokio::select! {
                    () = stop.requested() => break,
                    accepted = listener.accept() => {
                        let Ok((mut stream, _)) = accepted else { continue };
                        let served = served.clone();
                        tokio::task::spawn_local(async move {
                            let mut buf = [0u8; 64];
                            if let Ok(n) = stream.read(&mut buf).await {
                                *served.borrow_mut() += 1;
                                let reply = format!("shard {index} says {}", String::from_utf8_lossy(&buf[..n]));
                                let _ = stream.write_all(reply.as_bytes()).await;
                            }
                        });
                    }
                }
            }
            println!("shard {index} served {} connection(s)", served.borrow());
        });
    }

    for i in 0..8 {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.write_all(format!("hello {i}").as_bytes())?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply)?;
        println!("{reply}");
    }

    let report = rt.shutdown_timeout(Duration::from_secs(1));
    println!("shut down: {report}");
    Ok(())
}
