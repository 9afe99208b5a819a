//! A pool of workers fed by priority: urgent jobs overtake the backlog, equal priorities run in
//! submission order, producers feel backpressure, and shutdown drains what is queued.
//!
//! Run with `cargo run -p asyncperf-prioq --example workers`.

use std::time::Duration;

use asyncperf_prioq::bounded;

enum Job {
    Page(&'static str),
    Report(u32),
}

async fn run(worker: usize, job: Job) {
    match job {
        Job::Page(what) => println!("worker {worker}: paging the on-call: {what}"),
        Job::Report(n) => println!("worker {worker}: report #{n}"),
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Lower value = more urgent.
const URGENT: u8 = 0;
const BACKGROUND: u8 = 5;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (tx, rx) = bounded::<Job, u8>(64);

    let workers: Vec<_> = (0..3)
        .map(|id| {
            let rx = rx.clone();
            tokio::spawn(async move {
                // Ends once the channel is closed *and* drained.
                while let Ok(job) = rx.recv().await {
                    run(id, job).await;
                }
            })
        })
        .collect();
    drop(rx);

    let producer = {
        let tx = tx.clone();
        tokio::spawn(async move {
            for n in 0..20 {
                // Waits while 64 jobs are queued.
                if tx.send(Job::Report(n), BACKGROUND).await.is_err() {
                    break; // every worker is gone
                }
            }
        })
    };
    tx.send(Job::Page("disk full on db-1"), URGENT)
        .await
        .unwrap();

    producer.await.unwrap();
    drop(tx); // last sender: the channel closes, workers finish the backlog and stop
    for w in workers {
        w.await.unwrap();
    }
}
