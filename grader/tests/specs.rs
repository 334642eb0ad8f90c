//! The handouts and the grader agree: every check of every assignment has a row in its spec's
//! checks table — `` | `name` | points | `` — with the grader's points, and the spec's total
//! is the grader's. Hidden checks are in no handout.

mod common;

use grader::assignments;
use grader::check::Visibility;

#[test]
fn every_check_is_in_its_spec_with_the_graders_points() {
    let mut wrong = Vec::new();
    for a in assignments::all() {
        if a.checks.is_empty() {
            continue;
        }
        let spec_path = common::kit().join("specs").join(format!("{}.md", a.name));
        let spec = std::fs::read_to_string(&spec_path).unwrap();
        // Hidden checks are in no handout: the handouts ship to students.
        for check in a
            .checks
            .iter()
            .filter(|c| c.visibility != Visibility::Hidden)
        {
            let prefix = format!("| `{}` |", check.name);
            let row = spec.lines().find(|l| l.starts_with(&prefix));
            let points = row.and_then(|r| {
                r[prefix.len()..]
                    .split('|')
                    .next()
                    .and_then(|cell| cell.trim().parse::<u32>().ok())
            });
            match points {
                Some(p) if p == check.points => {}
                Some(p) => wrong.push(format!(
                    "specs/{}.md gives `{}` {p} points, the grader {}",
                    a.name, check.name, check.points
                )),
                None => wrong.push(format!(
                    "specs/{}.md has no row `| `{}` | POINTS |` in its checks table",
                    a.name, check.name
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
