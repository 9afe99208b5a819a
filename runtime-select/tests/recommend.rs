//! The measured table: the shipped file parses, parsing rejects what it should, and
//! `recommend` follows the numbers with the noise margin.

use asyncperf_runtime_select::{Flavor, MeasuredTable, NOISE_MARGIN, Workload, recommend};

const TABLE: &str = "\
# a comment
machine: Test CPU (2 cores), linux 6.1, rustc 1.95.0
cores: 2
date: 2026-01-02
tokio: 1.54.1
row: spawn_many current_thread=1000 multi_thread=2000 thread_per_core=1500
row: ping_pong current_thread=980 multi_thread=1000 thread_per_core=1010
row: tcp_echo:100:1 current_thread=10 multi_thread=12 thread_per_core=11
row: tcp_echo:100:100 current_thread=300 multi_thread=200 thread_per_core=100
row: tcp_echo:1024:100 current_thread=400 multi_thread=300 thread_per_core=350
row: yield_many current_thread=800:700:1100 multi_thread=1000:900:1200 thread_per_core=500:450:550
";

#[test]
fn the_shipped_table_parses() {
    let parsed = MeasuredTable::parse(MeasuredTable::shipped_text());
    assert!(parsed.is_ok(), "{parsed:?}");
    assert_eq!(&parsed.unwrap(), MeasuredTable::shipped());
    for row in MeasuredTable::shipped().rows() {
        assert!(row.median_ns(Flavor::DEFAULT).is_some());
    }
}

#[test]
fn the_fastest_flavour_wins_when_it_beats_the_default_by_more_than_the_margin() {
    let t = MeasuredTable::parse(TABLE).unwrap();
    assert_eq!(
        (t.cores(), t.date(), t.tokio_version()),
        (2, "2026-01-02", "1.54.1")
    );
    let r = t.recommend(Workload::SpawnMany);
    assert_eq!(r.flavor(), Flavor::CurrentThread);
    assert_eq!(r.fastest(), Some(Flavor::CurrentThread));
    assert!((r.vs_default().unwrap() - 2.0).abs() < 1e-9);
    assert_eq!(r.measured_as(), Some(Workload::SpawnMany));
    let text = r.to_string();
    assert!(
        text.contains("spawn_many -> current_thread at 2.00x the default"),
        "{text}"
    );
    assert!(
        text.contains("Test CPU (2 cores), linux 6.1, rustc 1.95.0, 2026-01-02, tokio 1.54.1"),
        "{text}"
    );
}

#[test]
fn a_win_inside_the_noise_margin_keeps_the_default() {
    let t = MeasuredTable::parse(TABLE).unwrap();
    let r = t.recommend(Workload::PingPong);
    const { assert!(1000.0 / 980.0 < 1.0 + NOISE_MARGIN) };
    assert_eq!(r.fastest(), Some(Flavor::CurrentThread));
    assert_eq!(r.flavor(), Flavor::DEFAULT);
    assert!((r.vs_default().unwrap() - 1.0).abs() < 1e-9);
    assert!(r.to_string().contains("within the 5% margin"), "{r}");
}

#[test]
fn overlapping_confidence_intervals_are_not_a_win() {
    let t = MeasuredTable::parse(TABLE).unwrap();
    let row = t.nearest(Workload::YieldMany).unwrap();
    // current_thread is 1.25x faster by the median, but its interval reaches the default's.
    assert!(row.vs_default(Flavor::CurrentThread).unwrap() > 1.0 + NOISE_MARGIN);
    assert!(!row.clearly_beats_default(Flavor::CurrentThread));
    // thread_per_core's interval lies wholly below: a clear win, and the fastest.
    assert!(row.clearly_beats_default(Flavor::ThreadPerCore { cores: None }));
    assert_eq!(
        t.recommend(Workload::YieldMany).flavor(),
        Flavor::ThreadPerCore { cores: None }
    );
    let timing = row.timing(Flavor::CurrentThread).unwrap();
    assert_eq!(timing.interval_ns, Some((700.0, 1100.0)));
    // The default is never "clearly faster" than itself.
    assert!(!row.clearly_beats_default(Flavor::DEFAULT));
}

#[test]
fn an_unmeasured_size_takes_the_nearest_measured_row() {
    let t = MeasuredTable::parse(TABLE).unwrap();
    let near = |bytes, conns| {
        t.recommend(Workload::TcpEcho {
            message_bytes: bytes,
            connections: conns,
        })
    };
    let r = near(128, 80);
    assert_eq!(
        r.measured_as(),
        Some(Workload::TcpEcho {
            message_bytes: 100,
            connections: 100
        })
    );
    assert_eq!(r.flavor(), Flavor::ThreadPerCore { cores: None });
    assert!(
        r.to_string().contains("nearest measured: tcp_echo:100:100"),
        "{r}"
    );
    assert_eq!(
        near(4096, 500).measured_as(),
        Some(Workload::TcpEcho {
            message_bytes: 1024,
            connections: 100
        })
    );
    assert_eq!(near(100, 2).flavor(), Flavor::CurrentThread);
}

#[test]
fn an_unmeasured_kind_gets_the_default() {
    let t = MeasuredTable::parse(TABLE).unwrap();
    let r = t.recommend(Workload::Http { connections: 10 });
    assert_eq!(r.flavor(), Flavor::DEFAULT);
    assert_eq!(r.measured_as(), None);
    assert!(r.to_string().contains("not measured"), "{r}");
    let empty = MeasuredTable::parse("# nothing yet\n").unwrap();
    assert_eq!(
        empty.recommend(Workload::SpawnMany).flavor(),
        Flavor::DEFAULT
    );
    assert!(empty.to_markdown().starts_with("Not measured yet"));
}

#[test]
fn recommend_reads_the_shipped_table() {
    for workload in [Workload::SpawnMany, Workload::Http { connections: 10 }] {
        assert_eq!(
            recommend(workload),
            MeasuredTable::shipped().recommend(workload)
        );
    }
}

#[test]
fn bad_tables_are_rejected_with_the_line() {
    let cases = [
        ("machine: m\ncores: two\n", 2, "not a number"),
        ("flavour: x\n", 1, "unknown key"),
        ("just words\n", 1, "key: value"),
        (
            "machine: m\ndate: d\ntokio: t\nrow: spawn_many current_thread=5\n",
            4,
            "baseline",
        ),
        (
            "machine: m\ndate: d\ntokio: t\nrow: lunch multi_thread=5\n",
            4,
            "unknown workload",
        ),
        (
            "machine: m\ndate: d\ntokio: t\nrow: ping_pong multi_thread=-5\n",
            4,
            "positive",
        ),
        (
            "machine: m\ndate: d\ntokio: t\nrow: ping_pong multi_thread=5 auto=4\n",
            4,
            "measurable",
        ),
        (
            "machine: m\ndate: d\ntokio: t\nrow: ping_pong multi_thread=5:6:7\n",
            4,
            "hold the median",
        ),
        (
            "machine: m\ndate: d\ntokio: t\nrow: ping_pong multi_thread=5:4\n",
            4,
            "median:lower:upper",
        ),
        ("row: ping_pong multi_thread=5\n", 1, "without machine"),
    ];
    for (text, line, problem) in cases {
        let err = MeasuredTable::parse(text).unwrap_err();
        assert_eq!(err.line(), line, "{text:?}: {err}");
        assert!(err.to_string().contains(problem), "{text:?}: {err}");
    }
}

#[test]
fn markdown_shows_every_flavour_against_the_default() {
    let md = MeasuredTable::parse(TABLE).unwrap().to_markdown();
    assert!(
        md.contains("Test CPU (2 cores), linux 6.1, rustc 1.95.0, 2026-01-02, tokio 1.54.1"),
        "{md}"
    );
    assert!(
        md.contains("| `spawn_many` | 1.00 µs (2.00×) | 2.00 µs (1.00×) | 1.50 µs (1.33×) | current_thread | current_thread |"),
        "{md}"
    );
    assert!(md.contains("| `ping_pong` |"), "{md}");
    assert!(md.contains("| current_thread | multi_thread |"), "{md}");
}
