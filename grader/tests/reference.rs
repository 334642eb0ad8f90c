//! The reference solution earns full marks; the untouched starter earns nothing, every check
//! "not implemented"; the report's shapes are pinned.

mod common;

use serial_test::serial;

/// Every assignment the grader declares (`IPCLAB_ASSIGNMENTS=NAME` for one).
#[test]
#[serial(grading)]
fn the_solution_earns_full_marks() {
    common::for_each_assignment(|assignment| {
        let (human, results) = common::grade(&common::kit().join("solution"), assignment, &[]);
        assert_eq!(results["score"], results["max_score"], "{human}");
        assert!(results["max_score"].as_u64().unwrap() > 0);
    });
}

/// Every assignment the grader declares (`IPCLAB_ASSIGNMENTS=NAME` for one); each has its
/// report and results pinned in `snapshots/reference__NAME-starter-*.snap`.
#[test]
#[serial(grading)]
fn the_starter_earns_nothing_and_says_not_implemented() {
    common::for_each_assignment(starter_earns_nothing);
}

fn starter_earns_nothing(assignment: &str) {
    let starter = common::kit().join("starter");
    let before = common::tree_digest(&starter);
    let (human, results) = common::grade(&starter, assignment, &[]);
    assert_eq!(
        common::tree_digest(&starter),
        before,
        "grading changed the graded folder"
    );
    assert_eq!(results["score"], 0, "{human}");
    for (check, status) in common::statuses(&results) {
        assert_eq!(status, "not_implemented", "{check}: {human}");
    }
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&common::kit().display().to_string()), "[KIT]");
    settings.add_filter(r"\(\d+(\.\d)? s\)", "([ELAPSED])");
    settings.add_filter(r"uid 21\d{8}", "uid [GRADING-UID]");
    settings.add_filter(r#""elapsed_s": [0-9.]+"#, r#""elapsed_s": "[ELAPSED]""#);
    settings.bind(|| {
        insta::assert_snapshot!(format!("{assignment}-starter-report"), human);
        insta::assert_json_snapshot!(format!("{assignment}-starter-results"), results, {
            ".tests[].extra_data.elapsed_s" => "[ELAPSED]",
        });
    });
}

/// Escapes a literal for insta's regex filters.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}
