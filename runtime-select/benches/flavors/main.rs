//! Every runtime flavour side by side on tokio's scheduler shapes, TCP echo and an HTTP hello
//! server, and the measured table `recommend()` reads.
//!
//! Convention (see the README): one criterion group per workload; `asyncperf` is the runtime
//! `RuntimeSelect` builds for that workload with `Flavor::Auto` (so it follows the table of
//! the previous full run), and each flavour built by hand with plain tokio is a peer:
//! `tokio-multi-thread` (the default), `tokio-current-thread`, `tokio-thread-per-core`
//! (N current-thread runtimes + `SO_REUSEPORT`, by hand). The report's ratio column is then
//! "what following the advice gives against the best flavour"; the ratio of every flavour to
//! the default is in the measured table this bench writes on full runs.

mod net;
mod scheduler;
mod table;
mod targets;

use std::time::SystemTime;

use asyncperf_runtime_select::Workload;
use asyncperf_testkit::bench::{note, quick};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

use crate::net::{EchoLoad, HttpLoad, Proto};
use crate::targets::{IDS, Target, cores};

/// Echo and HTTP matrix: message sizes (group suffix, bytes) and connection counts.
const ECHO_SIZES: [(&str, usize); 2] = [("100B", 100), ("1KiB", 1024)];
const CONNECTIONS: [usize; 3] = [1, 10, 100];
const HTTP_CONNECTIONS: usize = 10;

/// One measured row: criterion group, parameter, and the workload it stands for.
pub(crate) struct Measured {
    pub(crate) group: String,
    pub(crate) parameter: Option<String>,
    pub(crate) workload: Workload,
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    let mut measured = Vec::new();
    let mut ours = Vec::new();

    for shape in scheduler::shapes() {
        let mut group = c.benchmark_group(shape.group);
        group
            .throughput(Throughput::Elements(shape.ops))
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat);
        for id in IDS {
            let target = Target::build(id, shape.workload);
            if let Some(built) = target.describe() {
                ours.push(format!("{}={built}", shape.workload));
            }
            let parts = cores();
            let part = shape.part;
            group.bench_function(id, |b| {
                b.iter_custom(|iters| target.run_parts(iters, move || part(parts)));
            });
        }
        group.finish();
        measured.push(Measured {
            group: shape.group.to_owned(),
            parameter: None,
            workload: shape.workload,
        });
    }

    for (suffix, bytes) in ECHO_SIZES {
        let name = format!("tcp_echo_{suffix}");
        let mut group = c.benchmark_group(&name);
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
        for connections in CONNECTIONS {
            let workload = Workload::TcpEcho {
                message_bytes: bytes,
                connections,
            };
            group.throughput(Throughput::Elements(connections as u64));
            for id in IDS {
                let target = Target::build(id, workload);
                if let Some(built) = target.describe() {
                    ours.push(format!("{workload}={built}"));
                }
                let (server, addr) = net::serve(target, Proto::Echo);
                let mut load = EchoLoad::connect(addr, connections, bytes);
                group.bench_function(BenchmarkId::new(id, connections), |b| {
                    b.iter_custom(|iters| load.run(iters));
                });
                drop(load);
                drop(server);
            }
            measured.push(Measured {
                group: name.clone(),
                parameter: Some(connections.to_string()),
                workload,
            });
        }
        group.finish();
    }

    {
        let workload = Workload::Http {
            connections: HTTP_CONNECTIONS,
        };
        let mut group = c.benchmark_group("http_hello");
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Elements(HTTP_CONNECTIONS as u64));
        for id in IDS {
            let target = Target::build(id, workload);
            if let Some(built) = target.describe() {
                ours.push(format!("{workload}={built}"));
            }
            let (server, addr) = net::serve(target, Proto::Http);
            let mut load = HttpLoad::connect(addr, HTTP_CONNECTIONS);
            group.bench_function(BenchmarkId::new(id, HTTP_CONNECTIONS), |b| {
                b.iter_custom(|iters| load.run(iters));
            });
            drop(load);
            drop(server);
        }
        group.finish();
        measured.push(Measured {
            group: "http_hello".to_owned(),
            parameter: Some(HTTP_CONNECTIONS.to_string()),
            workload,
        });
    }

    c.final_summary();
    note(format!(
        "runtime-select: `asyncperf` = RuntimeSelect with Flavor::Auto per workload (the table \
         of the previous full run); peers = each flavour built by hand, {} threads each. \
         Auto built: {}",
        cores(),
        ours.join(", ")
    ));
    if !quick() {
        table::regenerate(started, &measured);
    }
}
