//! Fallback paths: a flavour that cannot be built is passed over, recorded, and the next one
//! built; with nothing buildable the error lists every reason.

use asyncperf_runtime_select::{
    Error, Flavor, RejectReason, RuntimeSelect, Unavailable, Workload, recommend,
};

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[test]
fn a_failing_check_falls_back_to_the_next_preference() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::ThreadPerCore { cores: Some(2) })
        .fallback(Flavor::CurrentThread)
        .check(|f| match f {
            Flavor::ThreadPerCore { .. } => Err(Unavailable::new("injected: no shards here")),
            _ => Ok(()),
        })
        .build()
        .unwrap();
    let sel = rt.selection();
    assert_eq!(sel.flavor(), Flavor::CurrentThread);
    assert!(sel.fell_back());
    assert!(!sel.is_default_fallback());
    assert_eq!(sel.rejected().len(), 1);
    let rejection = &sel.rejected()[0];
    assert_eq!(rejection.flavor(), Flavor::ThreadPerCore { cores: Some(2) });
    assert!(
        matches!(rejection.reason(), RejectReason::Unavailable(u) if u.reason() == "injected: no shards here")
    );
    let line = sel.to_string();
    assert!(line.starts_with("built current_thread"), "{line}");
    assert!(
        line.contains("thread_per_core:2 rejected: check failed: injected"),
        "{line}"
    );
    assert_eq!(rt.block_on(async { 1 + 1 }), 2);
}

#[test]
fn nothing_on_the_list_builds_so_the_default_multi_thread_runtime_is_built() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::CurrentThread)
        .fallback(Flavor::ThreadPerCore { cores: None })
        .event_interval(7)
        .check(|f| match f {
            Flavor::MultiThread { .. } => Ok(()),
            _ => Err(Unavailable::new("injected")),
        })
        .build()
        .unwrap();
    let sel = rt.selection();
    assert!(sel.is_default_fallback());
    assert_eq!(sel.rejected().len(), 2);
    assert!(matches!(sel.flavor(), Flavor::MultiThread { workers: Some(n) } if n >= 1));
    assert!(rt.as_tokio().is_some());
    assert_eq!(
        rt.block_on(async { tokio::spawn(async { 5 }).await.unwrap() }),
        5
    );
}

#[test]
fn with_the_default_fallback_off_the_error_lists_every_rejection() {
    let err = RuntimeSelect::builder()
        .preferences([Flavor::CurrentThread, Flavor::DEFAULT])
        .default_fallback(false)
        .check(|f| Err(Unavailable::new(format!("injected for {}", f.name()))))
        .build()
        .unwrap_err();
    let Error::NoRuntime { rejected } = &err else {
        panic!("expected NoRuntime, got {err:?}")
    };
    assert_eq!(rejected.len(), 2);
    let message = err.to_string();
    assert!(
        message.contains("current_thread rejected: check failed: injected for current_thread"),
        "{message}"
    );
    assert!(message.contains("injected for multi_thread"), "{message}");
}

#[test]
fn a_rejecting_check_applies_to_the_default_fallback_too() {
    let err = RuntimeSelect::builder()
        .flavor(Flavor::CurrentThread)
        .check(|_| Err(Unavailable::new("nothing here")))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::NoRuntime { ref rejected } if rejected.len() == 2),
        "{err}"
    );
}

/// A real OS failure, nothing injected: no thread can have a 1 PiB stack, so the shards cannot
/// start; current-thread starts no thread at build time and is built instead.
#[test]
fn a_shard_thread_the_os_refuses_falls_back() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::ThreadPerCore { cores: Some(2) })
        .fallback(Flavor::CurrentThread)
        .thread_stack_size(1 << 50)
        .build()
        .unwrap();
    let sel = rt.selection();
    assert_eq!(sel.flavor(), Flavor::CurrentThread, "{sel}");
    assert!(
        matches!(sel.rejected()[0].reason(), RejectReason::Build(_)),
        "{sel}"
    );
}

#[test]
fn zero_knobs_are_errors_before_anything_is_built() {
    let cases: Vec<(&str, asyncperf_runtime_select::Builder)> = vec![
        ("event_interval", RuntimeSelect::builder().event_interval(0)),
        (
            "global_queue_interval",
            RuntimeSelect::builder().global_queue_interval(0),
        ),
        (
            "max_io_events_per_tick",
            RuntimeSelect::builder().max_io_events_per_tick(0),
        ),
        (
            "max_blocking_threads",
            RuntimeSelect::builder().max_blocking_threads(0),
        ),
        (
            "thread_stack_size",
            RuntimeSelect::builder().thread_stack_size(0),
        ),
        ("workers", RuntimeSelect::builder().workers(0)),
        (
            "workers",
            RuntimeSelect::builder().flavor(Flavor::MultiThread { workers: Some(0) }),
        ),
        (
            "cores",
            RuntimeSelect::builder().flavor(Flavor::ThreadPerCore { cores: Some(0) }),
        ),
    ];
    for (knob, builder) in cases {
        // A check that would record any build attempt proves nothing was tried.
        let tried = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = tried.clone();
        let err = builder
            .check(move |_| {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            })
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::ZeroKnob { knob: k } if k == knob),
            "{knob}: {err}"
        );
        assert!(err.to_string().contains("must be at least 1"), "{err}");
        assert!(!tried.load(std::sync::atomic::Ordering::Relaxed), "{knob}");
    }
}

#[cfg(not(tokio_unstable))]
#[test]
fn disabling_the_lifo_slot_needs_tokio_unstable() {
    let err = RuntimeSelect::builder()
        .lifo_slot(false)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::NeedsTokioUnstable { knob: "lifo_slot" }),
        "{err}"
    );
    // Keeping it on is tokio's default and always fine.
    RuntimeSelect::builder().lifo_slot(true).build().unwrap();
}

#[cfg(tokio_unstable)]
#[test]
fn disabling_the_lifo_slot_builds_under_tokio_unstable() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::MultiThread { workers: Some(2) })
        .lifo_slot(false)
        .build()
        .unwrap();
    assert!(!rt.selection().fell_back());
    assert_eq!(
        rt.block_on(async { tokio::spawn(async { 1 }).await.unwrap() }),
        1
    );
}

#[test]
fn no_preference_builds_the_default_multi_thread_runtime() {
    let rt = RuntimeSelect::builder().workers(3).build().unwrap();
    assert_eq!(rt.flavor(), Flavor::MultiThread { workers: Some(3) });
    assert_eq!(rt.selection().requested(), &[Flavor::DEFAULT]);
    assert!(!rt.selection().fell_back());
    assert_eq!(rt.as_tokio().unwrap().metrics().num_workers(), 3);
}

#[test]
fn counts_come_from_workers_unless_the_flavour_has_its_own() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::ThreadPerCore { cores: None })
        .workers(3)
        .build()
        .unwrap();
    assert_eq!(rt.flavor(), Flavor::ThreadPerCore { cores: Some(3) });
    assert_eq!(rt.as_thread_per_core().unwrap().shards().len(), 3);
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::MultiThread { workers: Some(1) })
        .workers(3)
        .build()
        .unwrap();
    assert_eq!(rt.flavor(), Flavor::MultiThread { workers: Some(1) });
}

#[test]
fn auto_without_a_workload_goes_by_the_cpu_count() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::Auto)
        .build()
        .unwrap();
    let expected = if cpus() == 1 {
        "current_thread"
    } else {
        "multi_thread"
    };
    assert_eq!(rt.flavor().name(), expected);
    assert!(
        rt.selection()
            .notes()
            .iter()
            .any(|n| n.starts_with("auto:")),
        "{}",
        rt.selection()
    );
}

#[test]
fn auto_with_a_workload_builds_what_recommend_answers() {
    for workload in [
        Workload::SpawnMany,
        Workload::PingPong,
        Workload::TcpEcho {
            message_bytes: 512,
            connections: 30,
        },
    ] {
        let rt = RuntimeSelect::builder()
            .flavor(Flavor::Auto)
            .workload(workload)
            .build()
            .unwrap();
        assert_eq!(
            rt.flavor().without_count(),
            recommend(workload).flavor().without_count(),
            "{}",
            rt.selection()
        );
        let note = rt.selection().notes().join("; ");
        assert!(note.contains(&format!("auto: {workload}")), "{note}");
    }
}

#[test]
fn auto_as_a_fallback_is_resolved_when_reached() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::ThreadPerCore { cores: Some(2) })
        .fallback(Flavor::Auto)
        .check(|f| match f {
            Flavor::ThreadPerCore { .. } => Err(Unavailable::new("injected")),
            _ => Ok(()),
        })
        .build()
        .unwrap();
    assert_ne!(rt.flavor().name(), "thread_per_core");
    assert_ne!(rt.flavor(), Flavor::Auto);
    assert_eq!(rt.selection().rejected().len(), 1);
}

/// tokio panics when the OS refuses a multi-thread worker; the panic is caught and recorded.
#[test]
fn a_worker_thread_the_os_refuses_falls_back() {
    let rt = RuntimeSelect::builder()
        .flavor(Flavor::MultiThread { workers: Some(2) })
        .fallback(Flavor::CurrentThread)
        .thread_stack_size(1 << 50)
        .build()
        .unwrap();
    let sel = rt.selection();
    assert_eq!(sel.flavor(), Flavor::CurrentThread, "{sel}");
    assert!(
        matches!(
            sel.rejected()[0].reason(),
            RejectReason::Build(_) | RejectReason::Panicked(_)
        ),
        "{sel}"
    );
}
