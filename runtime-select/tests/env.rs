//! Configuration from variables: good values, bad values (typed errors naming the accepted
//! values), precedence, and the flavour/workload spellings.

use asyncperf_runtime_select::{
    Error, Flavor, RuntimeConfig, RuntimeSelect, TOKIO_WORKERS_VAR, Workload,
};
use proptest::prelude::*;

fn config(vars: &[(&str, &str)]) -> Result<RuntimeConfig, Error> {
    RuntimeConfig::from_vars(vars.iter().map(|(k, v)| (*k, *v)))
}

#[test]
fn nothing_set_is_an_empty_config() {
    assert_eq!(config(&[]).unwrap(), RuntimeConfig::default());
    // Empty values count as unset; unrelated keys are ignored.
    assert_eq!(
        config(&[
            ("ASYNCPERF_RUNTIME", ""),
            ("ASYNCPERF_WORKERS", " "),
            ("PATH", "/bin")
        ])
        .unwrap(),
        RuntimeConfig::default()
    );
}

#[test]
fn every_variable_is_read() {
    let c = config(&[
        (
            "ASYNCPERF_RUNTIME",
            "thread_per_core:4, multi_thread ,current_thread",
        ),
        ("ASYNCPERF_WORKERS", "3"),
        ("ASYNCPERF_EVENT_INTERVAL", "31"),
        ("ASYNCPERF_GLOBAL_QUEUE_INTERVAL", "61"),
        ("ASYNCPERF_MAX_IO_EVENTS_PER_TICK", "256"),
        ("ASYNCPERF_MAX_BLOCKING_THREADS", "8"),
        ("ASYNCPERF_THREAD_STACK_SIZE", "4194304"),
        ("ASYNCPERF_LIFO_SLOT", "On"),
        ("ASYNCPERF_WORKLOAD", "tcp_echo:100:10"),
    ])
    .unwrap();
    assert_eq!(
        c.runtime,
        [
            Flavor::ThreadPerCore { cores: Some(4) },
            Flavor::DEFAULT,
            Flavor::CurrentThread
        ]
    );
    assert_eq!(c.workers, Some(3));
    assert_eq!(c.event_interval, Some(31));
    assert_eq!(c.global_queue_interval, Some(61));
    assert_eq!(c.max_io_events_per_tick, Some(256));
    assert_eq!(c.max_blocking_threads, Some(8));
    assert_eq!(c.thread_stack_size, Some(4 << 20));
    assert_eq!(c.lifo_slot, Some(true));
    assert_eq!(
        c.workload,
        Some(Workload::TcpEcho {
            message_bytes: 100,
            connections: 10
        })
    );
}

#[test]
fn tokio_worker_threads_is_honoured_only_when_ours_is_unset() {
    assert_eq!(
        config(&[(TOKIO_WORKERS_VAR, "5")]).unwrap().workers,
        Some(5)
    );
    let both = config(&[(TOKIO_WORKERS_VAR, "5"), ("ASYNCPERF_WORKERS", "2")]).unwrap();
    assert_eq!(both.workers, Some(2));
    // Ours set: tokio's is never consulted, so a bad value there does not matter.
    let ours = config(&[(TOKIO_WORKERS_VAR, "lots"), ("ASYNCPERF_WORKERS", "2")]).unwrap();
    assert_eq!(ours.workers, Some(2));
    let err = config(&[(TOKIO_WORKERS_VAR, "0")]).unwrap_err();
    assert!(
        err.to_string().starts_with("TOKIO_WORKER_THREADS=\"0\""),
        "{err}"
    );
}

#[test]
fn bad_values_are_typed_errors_naming_the_variable_and_the_accepted_values() {
    let numeric = [
        "ASYNCPERF_WORKERS",
        "ASYNCPERF_EVENT_INTERVAL",
        "ASYNCPERF_GLOBAL_QUEUE_INTERVAL",
        "ASYNCPERF_MAX_IO_EVENTS_PER_TICK",
        "ASYNCPERF_MAX_BLOCKING_THREADS",
        "ASYNCPERF_THREAD_STACK_SIZE",
    ];
    for var in numeric {
        for bad in ["0", "-1", "two", "1.5", "99999999999999999999999"] {
            let err = config(&[(var, bad)]).unwrap_err();
            let Error::InvalidVar {
                var: v,
                value,
                accepted,
            } = &err
            else {
                panic!("{var}={bad}: {err:?}")
            };
            assert_eq!((v.as_str(), value.as_str()), (var, bad));
            assert_eq!(*accepted, "an integer >= 1");
            assert!(err.to_string().contains(var), "{err}");
        }
    }
    let err = config(&[("ASYNCPERF_LIFO_SLOT", "maybe")]).unwrap_err();
    assert!(err.to_string().contains("on, off"), "{err}");
}

#[test]
fn a_bad_runtime_names_every_accepted_spelling() {
    for bad in [
        "fast",
        "uvloop",
        "multi_thread:0",
        "multi_thread:x",
        "current_thread:2",
        "auto:4",
        "MULTI_THREAD",
        "multi-thread",
        "multi_thread,",
        ",",
    ] {
        let err = config(&[("ASYNCPERF_RUNTIME", bad)]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("ASYNCPERF_RUNTIME={bad:?}")),
            "{message}"
        );
        for spelling in [
            "current_thread",
            "multi_thread:N",
            "thread_per_core:N",
            "auto",
            "commas",
        ] {
            assert!(message.contains(spelling), "{message} lacks {spelling}");
        }
    }
    let err = config(&[("ASYNCPERF_WORKLOAD", "tcp_echo:100")]).unwrap_err();
    assert!(
        err.to_string().contains("tcp_echo:BYTES:CONNECTIONS"),
        "{err}"
    );
}

#[test]
fn config_overrides_code_field_by_field() {
    let from_env = config(&[("ASYNCPERF_RUNTIME", "current_thread")]).unwrap();
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::MultiThread { workers: Some(2) })
        .config(&from_env)
        .build()
        .unwrap();
    assert_eq!(rt.flavor(), Flavor::CurrentThread);
    // A field the config leaves unset keeps the code's value.
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::MultiThread { workers: None })
        .workers(2)
        .config(&config(&[("ASYNCPERF_EVENT_INTERVAL", "7")]).unwrap())
        .build()
        .unwrap();
    assert_eq!(rt.flavor(), Flavor::MultiThread { workers: Some(2) });
}

#[test]
fn flavour_errors_from_code_name_the_accepted_spellings() {
    let err = "epoll".parse::<Flavor>().unwrap_err();
    assert_eq!(err.input(), "epoll");
    assert!(err.to_string().contains(Flavor::ACCEPTED), "{err}");
    let err: Error = err.into();
    assert!(matches!(err, Error::InvalidFlavor(_)));
}

#[cfg(feature = "serde")]
#[test]
fn a_config_file_deserializes_with_the_same_spellings() {
    let c: RuntimeConfig = serde_json::from_str(
        r#"{"runtime": ["thread_per_core", "multi_thread:2"], "workers": 3,
            "workload": "http:10", "lifo_slot": true}"#,
    )
    .unwrap();
    assert_eq!(
        c.runtime,
        [
            Flavor::ThreadPerCore { cores: None },
            Flavor::MultiThread { workers: Some(2) }
        ]
    );
    assert_eq!(c.workers, Some(3));
    assert_eq!(c.workload, Some(Workload::Http { connections: 10 }));
    let err = serde_json::from_str::<RuntimeConfig>(r#"{"runtime": ["fast"]}"#).unwrap_err();
    assert!(
        err.to_string().contains("accepted: current_thread"),
        "{err}"
    );
    let err = serde_json::from_str::<RuntimeConfig>(r#"{"flavour": "auto"}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

fn any_flavor() -> impl Strategy<Value = Flavor> {
    prop_oneof![
        Just(Flavor::CurrentThread),
        Just(Flavor::Auto),
        proptest::option::of(1usize..10_000).prop_map(|workers| Flavor::MultiThread { workers }),
        proptest::option::of(1usize..10_000).prop_map(|cores| Flavor::ThreadPerCore { cores }),
    ]
}

fn any_workload() -> impl Strategy<Value = Workload> {
    prop_oneof![
        Just(Workload::SpawnMany),
        Just(Workload::ChainedSpawn),
        Just(Workload::YieldMany),
        Just(Workload::PingPong),
        (1usize..1 << 20, 1usize..10_000).prop_map(|(message_bytes, connections)| {
            Workload::TcpEcho {
                message_bytes,
                connections,
            }
        }),
        (1usize..10_000).prop_map(|connections| Workload::Http { connections }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn flavours_round_trip_through_text(flavor in any_flavor()) {
        prop_assert_eq!(flavor.to_string().parse::<Flavor>(), Ok(flavor));
    }

    #[test]
    fn workloads_round_trip_through_text(workload in any_workload()) {
        prop_assert_eq!(workload.to_string().parse::<Workload>(), Ok(workload));
    }

    /// Any text either parses to a flavour that survives a round trip, or is an error naming
    /// the accepted values; it never panics.
    #[test]
    fn any_text_parses_or_is_rejected_cleanly(text in "[a-z_:0-9 ,]{0,24}") {
        match text.parse::<Flavor>() {
            Ok(flavor) => prop_assert_eq!(flavor.to_string().parse::<Flavor>(), Ok(flavor)),
            Err(err) => prop_assert!(err.to_string().contains(Flavor::ACCEPTED)),
        }
        match config(&[("ASYNCPERF_RUNTIME", &text)]) {
            Ok(c) => prop_assert!(c.runtime.len() <= text.split(',').count()),
            Err(err) => prop_assert!(err.to_string().contains("current_thread")),
        }
    }
}

/// The real process environment, read in a child process so no test mutates this one's.
#[test]
fn from_env_reads_the_process_environment() {
    let run_child = |vars: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "child_reports_from_env",
            "--nocapture",
        ]);
        cmd.env_remove("ASYNCPERF_RUNTIME")
            .env_remove("ASYNCPERF_WORKERS")
            .env_remove(TOKIO_WORKERS_VAR);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("from_env: "))
            .unwrap_or_else(|| panic!("no report in {stdout}"))
            .to_owned()
    };
    assert_eq!(
        run_child(&[("ASYNCPERF_RUNTIME", "current_thread")]),
        "ok current_thread"
    );
    assert_eq!(
        run_child(&[
            ("ASYNCPERF_RUNTIME", "thread_per_core"),
            (TOKIO_WORKERS_VAR, "3")
        ]),
        "ok thread_per_core:3"
    );
    assert_eq!(
        run_child(&[
            ("ASYNCPERF_RUNTIME", "multi_thread"),
            ("ASYNCPERF_WORKERS", "2")
        ]),
        "ok multi_thread:2"
    );
    // tokio itself would panic on this value; here it is a typed error.
    assert_eq!(
        run_child(&[(TOKIO_WORKERS_VAR, "zero")]),
        "err TOKIO_WORKER_THREADS=\"zero\" is not valid: an integer >= 1"
    );
    assert!(run_child(&[("ASYNCPERF_RUNTIME", "fastest")]).starts_with("err ASYNCPERF_RUNTIME"));
}

#[test]
#[ignore = "run by from_env_reads_the_process_environment in a child process"]
fn child_reports_from_env() {
    match RuntimeSelect::from_env() {
        Ok(rt) => println!("from_env: ok {}", rt.flavor()),
        Err(e) => println!("from_env: err {e}"),
    }
    // `run` goes through the same path.
    if let Ok(v) = asyncperf_runtime_select::run(async { 7 }) {
        assert_eq!(v, 7);
    }
}
