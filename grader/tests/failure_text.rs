//! What a report says: for a known mistake (a mutant), the failure names what the student's
//! program did — its output, its stderr, its exit status — and not a consequence seen
//! elsewhere (the grader's own peer's log, a later step's "exit status 3"); the hint follows
//! what was observed; what the grader made a program leave is not its leak; a passing timing
//! check shows its figure and its bound.
//!
//! Each test materialises one mutant where `make validate-grader` does (so a build is shared
//! and incremental), grades it with one check, asserts the few words that matter, and pins the
//! check's part of the report in `snapshots/failure_text__NAME.snap`. Figures that change from
//! run to run (times, rates, ids, keys, temporary paths) are filtered out of the snapshot.

mod common;

use std::path::Path;

use serial_test::serial;

/// What grading `check` of `assignment` in `implementation` gave: the check's rows of the
/// report for people (its line and the details under it), and its `extra_data.status`.
fn graded(implementation: &Path, assignment: &str, check: &str, verbose: bool) -> (String, String) {
    let json = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = common::grader();
    cmd.arg("grade")
        .arg(implementation)
        .args(["-a", assignment, "--only", check, "--json"])
        .arg(json.path());
    if verbose {
        cmd.arg("-v");
    }
    let out = cmd.assert().success().get_output().clone();
    let human = String::from_utf8(out.stdout).unwrap();
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    let test = &results["tests"][0];
    assert_eq!(test["extra_data"]["check"], check, "{human}");
    let status = test["extra_data"]["status"].as_str().unwrap().to_string();
    // From the check's row to the assignment's total, which is not part of it.
    let part: Vec<&str> = human
        .lines()
        .skip_while(|l| !l.contains(&format!(" {check} ")) && !l.ends_with(&format!(" {check}")))
        .take_while(|l| !l.trim_start().starts_with("TOTAL"))
        .collect();
    assert!(!part.is_empty(), "no row of {check} in:\n{human}");
    (part.join("\n"), status)
}

/// The check's part of the report when grading mutant `name` of `assignment`, which must not
/// pass it.
fn failure_of(assignment: &str, name: &str, check: &str) -> String {
    let dir = common::mutant(assignment, name);
    let (part, status) = graded(&dir, assignment, check, false);
    assert_ne!(status, "pass", "{name} passed {check}:\n{part}");
    part
}

/// The one-line reason on the check's row.
fn reason(part: &str) -> &str {
    part.lines().next().unwrap_or_default()
}

/// Pins `part` as snapshot `name`, with what changes from run to run filtered out.
fn pin(name: &str, part: &str) {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in [
        (r"/tmp/ipclab-programs-\w+/", "[PROGRAMS]/"),
        (r"/tmp/ipclab-grading-\w+/check-\w+/", "[CHECK]/"),
        (r"/tmp/ipclab-grading-\w+/", "[GRADING]/"),
        // The grader's unique names: key files, shared objects, output files.
        (r"-\d+-\d+-[0-9a-f]{8}\b", "-[UNIQUE]"),
        // The proj_id a check draws for ftok after its key file.
        (r"(key-\[UNIQUE\]) \d+ ", "$1 [PROJ] "),
        (r"0x[0-9a-f]{8}", "[KEY]"),
        (r"\b(queue|set|segment) id \d+", "$1 id [ID]"),
        (r"\(id \d+\)", "(id [ID])"),
        (r"ipcrm -(\w) \d+", "ipcrm -$1 [ID]"),
        (r"\bpids? [\d, ]*\d", "pid [PID]"),
        // The time a check took is shown from 1 s on.
        (r"(?m) \(\d+(\.\d+)? s\)$", ""),
        (r"after \d+(\.\d+)? s", "after [T] s"),
        (r"\d+(\.\d+)? (ms|MiB/s|GB/s|%)", "[N] $2"),
        (r"\d+\.\d+×", "[N]×"),
        (r"syscr \d+, rchar \d+", "syscr [N], rchar [N]"),
        (
            r"at line \d+ \(\d+ lines expected, \d+ written\)",
            "at line [N] ([N] lines expected, [N] written)",
        ),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, part));
}

/// The client printed the wrong number: the failure is the client's stdout, and the grader's
/// server's log only explains it (before, the log of the server the grader had killed was the
/// failure).
#[test]
#[serial(grading)]
fn client_vs_grader_server_reports_the_clients_output() {
    let part = failure_of("msgq", "sum-printed-unsigned", "client-vs-grader-server");
    assert!(reason(&part).contains("stdout differs"), "{part}");
    assert!(part.contains("18446744073709551605"), "{part}");
    assert!(part.contains("THE GRADER'S SERVER SERVED"), "{part}");
    // The grader's server is in the recipe too, run by the kit's grader.
    assert!(part.contains("grader tool msgq-peer"), "{part}");
    pin("client-vs-grader-server", &part);
}

/// A server the grader had to end left its queue: shown, not counted, and no hint about
/// removing objects, which the server had no chance to do.
#[test]
#[serial(grading)]
fn what_a_server_the_grader_ended_left_is_not_its_leak() {
    let part = failure_of("msgq", "sum-printed-unsigned", "sum-basic");
    assert!(reason(&part).starts_with("  FAIL "), "{part}");
    assert!(
        part.contains("LEFT BEHIND when the grader ended a program, not counted against you"),
        "{part}"
    );
    assert!(!part.contains("IPC objects outlive"), "{part}");
    pin("server-ended-by-the-grader", &part);
}

/// A client that exits at once instead of waiting in msgrcv: the failure says so, with its
/// exit status and its stderr, rather than what starting the server later made of it.
#[test]
#[serial(grading)]
fn a_wait_for_msgrcv_says_the_program_ended_first() {
    let part = failure_of("msgq", "client-never-creates", "either-start-order");
    assert!(
        reason(&part).contains("was to queue its request and wait in msgrcv")
            && reason(&part).contains("ended first"),
        "{part}"
    );
    assert!(part.contains("ENDED WITH EXIT STATUS 1"), "{part}");
    assert!(part.contains("msgq-client: msgget"), "{part}");
    pin("wait-for-msgrcv-ended-first", &part);
}

/// A server that dies of EINTR: the failure shows the server's exit status and stderr.
#[test]
#[serial(grading)]
fn a_failure_shows_the_servers_stderr_and_exit_status() {
    let part = failure_of("msgq", "eintr-fatal", "signal-in-msgrcv");
    assert!(
        part.contains("YOUR SERVER ENDED WITH EXIT STATUS 1"),
        "{part}"
    );
    assert!(part.contains("msgq-server: "), "{part}");
    // What the client saw of the server's end (its queue gone, or no answer) depends on
    // when it ended: the row and the server's part are pinned.
    let (row, rest) = part.split_once('\n').unwrap();
    let at = rest.find("YOUR SERVER").unwrap();
    let server = &rest[rest[..at].rfind('\n').map_or(0, |n| n + 1)..];
    pin("server-stderr-and-status", &format!("{row}\n{server}"));
}

/// A server whose queue has another key: `killed-server` blames the server's key, not the
/// client for removing a queue it did not create.
#[test]
#[serial(grading)]
fn killed_server_blames_a_server_under_another_key() {
    let part = failure_of("msgq", "server-ignores-id", "killed-server");
    assert!(
        reason(&part).contains("no queue has the key ftok(PATH, 90)"),
        "{part}"
    );
    assert!(!part.contains("the client removed"), "{part}");
    assert!(part.contains("YOUR SERVER WAS STILL RUNNING"), "{part}");
    pin("killed-server-other-key", &part);
}

/// A pipeline whose parent keeps each pipe's write end: the reader waits for an end-of-file
/// that never comes, and the grader ends the run once nothing can move (not at the limit),
/// saying so and showing what each process waited for.
#[test]
#[serial(grading)]
fn a_deadlocked_pipeline_is_stopped_as_stuck() {
    let part = failure_of("pipes", "write-end-open", "eof-reaches-reader");
    assert!(
        reason(&part).contains("stuck: nothing could move after"),
        "{part}"
    );
    assert!(
        part.contains("STUCK (what each process was doing"),
        "{part}"
    );
    assert!(part.contains("sleeping in read"), "{part}");
    assert!(part.contains("HINT: "), "{part}");
    pin("pipeline-stuck", &part);
}

/// A wait with no bound: at the limit the report says what each process was waiting for.
#[test]
#[serial(grading)]
fn a_timeout_says_what_each_process_waited_for() {
    let part = failure_of("posix-shm", "unbounded-wait", "alone");
    assert!(reason(&part).contains("timed out after"), "{part}");
    assert!(
        part.contains("AT THE LIMIT (what each process was doing)"),
        "{part}"
    );
    assert!(part.contains("HINT: "), "{part}");
    pin("timeout-at-the-limit", &part);
}

/// A process the check killed on purpose, mid-run: the recipe kills it at that point, by its
/// job number, and the one left waiting is marked and ended at the end.
#[test]
#[serial(grading)]
fn a_kill_in_the_scenario_is_a_step_of_the_recipe() {
    let part = failure_of("posix-shm", "unbounded-wait", "peer-killed");
    assert!(reason(&part).contains("timed out after"), "{part}");
    assert!(
        part.contains("kill -KILL %2   # the check killed it at this point"),
        "{part}"
    );
    assert!(part.contains("# ← failed"), "{part}");
    pin("peer-killed-mid-run", &part);
}

/// Lines printed through a buffer come out in the wrong order: the hint speaks of the buffer.
/// A wrong line that no buffer explains gets no such hint.
#[test]
#[serial(grading)]
fn the_buffering_hint_comes_only_with_lines_out_of_order() {
    let part = failure_of("semaphores", "pingpong-buffered-output", "pingpong-order");
    assert!(
        part.contains("HINT: write each line with one write(2)"),
        "{part}"
    );
    // Which round and line go wrong first depends on the scheduler: the reason and the hint
    // are pinned, not the lines around the difference.
    let pinned: Vec<&str> = part
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.trim_start().starts_with("HINT:"))
        .map(|(_, l)| l)
        .collect();
    pin("buffered-lines", &pinned.join("\n"));
    let part = failure_of("pipes", "stray-newline", "stream-one-byte");
    assert!(!part.to_lowercase().contains("buffer"), "{part}");
    pin("stray-newline", &part);
}

/// A transfer mutex made without the attributes of the layout: the hint is about the mutex,
/// not about struct offsets; a ring position masked with `& (DATA_SIZE - 1)` gets the ring's.
#[test]
#[serial(grading)]
fn a_layout_failure_hints_at_what_differed() {
    let part = failure_of("sysv-shm", "transfer-mutex-not-robust", "transfer-layout");
    assert!(
        part.contains("initialise the mutex with the attributes"),
        "{part}"
    );
    assert!(!part.contains("offset_of!"), "{part}");
    pin("layout-mutex", &part);
    let part = failure_of("sysv-shm", "ring-position-masked", "transfer-layout");
    assert!(part.contains("i % DATA_SIZE"), "{part}");
    assert!(!part.contains("offset_of!"), "{part}");
    pin("layout-ring", &part);
}

/// A slow transfer's hint follows where its time went: a side never woken sleeps; rounds of
/// a few bytes spend their time in system calls.
#[test]
#[serial(grading)]
fn a_slow_transfer_hints_from_where_its_time_went() {
    let part = failure_of("sysv-shm", "no-signal-after-write", "transfer-throughput");
    assert!(part.contains("so the processes slept"), "{part}");
    assert!(part.contains("HINT: after each round, signal"), "{part}");
    pin("slow-asleep", &part);
    let part = failure_of("sysv-shm", "tiny-rounds", "transfer-throughput");
    assert!(part.contains("spent in the kernel"), "{part}");
    assert!(part.contains("HINT: move up to 1 MiB per round"), "{part}");
    pin("slow-in-the-kernel", &part);
}

/// The semaphores' `add` that fails leaves the set and segment `finish` would have removed:
/// the check fails, without charging those as a leak.
#[test]
#[serial(grading)]
fn objects_a_skipped_finish_would_remove_are_not_a_leak() {
    let part = failure_of("semaphores", "mutex-one-increment-short", "mutex-exact");
    assert!(reason(&part).starts_with("  FAIL "), "{part}");
    assert!(!part.contains("LEFT BEHIND"), "{part}");
    pin("mutex-short", &part);
}

/// A passing timing check shows what it measured and the bound it was held to.
#[test]
#[serial(grading)]
fn a_passing_timing_check_shows_its_figure_and_bound() {
    let (part, status) = graded(
        &common::kit().join("solution"),
        "pipes",
        "pipeline-throughput",
        true,
    );
    assert_eq!(status, "pass", "{part}");
    assert!(
        part.contains("as long as") && part.contains("(allowed"),
        "{part}"
    );
    pin("timing-pass", &part);
}
