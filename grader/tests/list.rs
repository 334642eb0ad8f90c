//! `grader list` shows every check's time limit, lesson paragraphs and visibility in the
//! handout's words.

mod common;

use grader::assignments;

#[test]
fn list_agrees_with_the_handouts() {
    let out = common::grader().arg("list").assert().success();
    let listed = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let mut wrong = Vec::new();
    for a in assignments::all() {
        let spec =
            std::fs::read_to_string(common::kit().join("specs").join(format!("{}.md", a.name)))
                .unwrap();
        for c in &a.checks {
            // This assignment's part of the list: from its title line to the next.
            let section: Vec<&str> = listed
                .lines()
                .skip_while(|l| !l.starts_with(&format!("{} — ", a.name)))
                .skip(1)
                .take_while(|l| l.starts_with(' '))
                .collect();
            let line = section
                .iter()
                .find(|l| l.split_whitespace().nth(1) == Some(c.name))
                .unwrap_or_else(|| panic!("{} not listed", c.name));
            let visibility = match c.visibility {
                grader::check::Visibility::Visible => "visible",
                grader::check::Visibility::Hidden => "hidden",
                grader::check::Visibility::AfterDueDate => "after due date",
            };
            if !line.contains(visibility) {
                wrong.push(format!("{}: no `{visibility}` in {line:?}", c.name));
            }
            // The handout's row: | `name` | points | limit | what it verifies | lesson |
            let Some(row) = spec
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", c.name)))
            else {
                // Hidden checks are not in the handouts.
                continue;
            };
            let cells: Vec<&str> = row
                .split(" | ")
                .map(|cell| cell.trim_matches(|ch: char| ch == '|' || ch.is_whitespace()))
                .collect();
            let (limit, lesson) = (cells[2], cells[cells.len() - 1]);
            for (what, text) in [("limit", limit), ("lesson", lesson)] {
                if !line.contains(&format!(" {text} ")) {
                    wrong.push(format!("{}: {what} `{text}` not in {line:?}", c.name));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
