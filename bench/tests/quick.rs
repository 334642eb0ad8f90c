//! The bench's machinery end to end on tiny sizes: every mechanism and both limits measured in
//! real processes, the files written, their shape checked. No time is asserted: this machine
//! may be busy.

use std::collections::BTreeSet;

use bench::channel::Mechanism;

fn tiny() -> bench::Config {
    bench::Config {
        sizes: vec![64, 4096, 1 << 16],
        reps: 2,
        round_trips: 20,
        bytes_per_run: 1 << 16,
        min_messages: 2,
        max_messages: 20,
        ..bench::Config::quick()
    }
}

/// The SysV objects in `/proc/sysvipc/KIND` this process created (`cpid`, shared memory) or
/// last sent to or received from (`lspid`, `lrpid`, message queues).
fn sysv_objects_of_ours(kind: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let text = std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let columns: Vec<usize> = ["cpid", "lspid", "lrpid"]
        .iter()
        .filter_map(|c| header.iter().position(|h| h == c))
        .collect();
    lines
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            columns.iter().any(|&c| fields.get(c) == Some(&me.as_str()))
        })
        .map(String::from)
        .collect()
}

#[test]
fn quick_machinery_writes_well_formed_results_and_leaves_nothing() {
    let results = bench::run(&tiny(), true).expect("the bench runs");
    let dir = tempfile::tempdir().expect("a temporary folder");
    results.write(dir.path()).expect("the results are written");

    // results.json: records with the promised fields and types.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .expect("results.json is JSON");
    let records = json["records"].as_array().expect("a records array");
    assert!(!records.is_empty());
    for r in records {
        for field in [
            "mechanism",
            "metric",
            "unit",
            "placement",
            "family",
            "ratio_to",
        ] {
            assert!(r[field].is_string(), "{field} in {r}");
        }
        for field in ["median", "min", "max", "ratio"] {
            assert!(
                r[field].as_f64().is_some_and(f64::is_finite),
                "{field} in {r}"
            );
        }
        assert!(r["size_bytes"].is_u64(), "size_bytes in {r}");
        let (min, median, max) = (r["min"].as_f64(), r["median"].as_f64(), r["max"].as_f64());
        assert!(min <= median && median <= max, "min ≤ median ≤ max in {r}");
    }
    let seen = |metric: &str| -> BTreeSet<String> {
        records
            .iter()
            .filter(|r| r["metric"] == metric)
            .map(|r| r["mechanism"].as_str().unwrap().to_string())
            .collect()
    };
    let mut expected: BTreeSet<String> = Mechanism::ALL
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    expected.insert("futex".into());
    assert_eq!(seen("round_trip"), expected);
    expected.remove("futex");
    expected.insert("memcpy".into());
    assert_eq!(seen("time_per_message"), expected);
    assert_eq!(seen("throughput"), expected);
    let placements: BTreeSet<&str> = records
        .iter()
        .filter(|r| r["metric"] == "round_trip")
        .map(|r| r["placement"].as_str().unwrap())
        .collect();
    assert!(placements.contains("same-cpu"));
    if results.machine.cpus_allowed.len() > 1 {
        assert!(placements.contains("cross-cpu"));
    }
    assert_eq!(json["crossovers"].as_array().map(Vec::len), Some(2));

    // results.md: a table per metric.
    let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
    assert!(md.contains("| mechanism |") && md.contains("## Crossovers"));

    // plot.svg: well-formed XML whose root is <svg>, with a line per mechanism.
    let svg = std::fs::read_to_string(dir.path().join("plot.svg")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&svg);
    let mut root = None;
    let mut polylines = 0;
    loop {
        match reader.read_event().expect("plot.svg is well-formed XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                root.get_or_insert(name.clone());
                polylines += usize::from(name == "polyline");
            }
            _ => {}
        }
    }
    assert_eq!(root.as_deref(), Some("svg"));
    assert_eq!(polylines, Mechanism::ALL.len() + 1);

    // Nothing left behind: no SysV object of ours, no POSIX name of ours, no child.
    for kind in ["msg", "shm"] {
        assert_eq!(sysv_objects_of_ours(kind), Vec::<String>::new(), "{kind}");
    }
    for dir in ["/dev/shm", "/dev/mqueue"] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with("ipclab-bench-"),
                "{dir}/{name} left behind"
            );
        }
    }
    assert_eq!(
        nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)),
        Err(nix::errno::Errno::ECHILD),
        "no child left"
    );
}
