//! `grader list`: the assignments and their checks, in the handouts' words: a check's time
//! limit ("10 s") and lesson paragraphs ("§5"), and who sees its result (Gradescope's
//! visibilities), and the checks each one needs ("after stream-one-byte": skipped when that one
//! did not pass).

use std::process::ExitCode;

use grader::check::Visibility;

pub fn run() -> ExitCode {
    for a in grader::assignments::all() {
        let total: u32 = a.checks.iter().map(|c| c.points).sum();
        println!("{} — {} ({total} points)", a.name, a.title);
        println!(
            "  {:>3}  {:<22} {:>5}  {:<10} {:<14} what it verifies",
            "pts", "check", "limit", "lesson", "visibility"
        );
        for c in &a.checks {
            let visibility = match c.visibility {
                Visibility::Visible => "visible",
                Visibility::Hidden => "hidden",
                Visibility::AfterDueDate => "after due date",
            };
            let lesson = if c.lesson.is_empty() { "—" } else { c.lesson };
            let limit = format!("{} s", c.limit.as_secs_f64());
            let after = if c.after.is_empty() {
                String::new()
            } else {
                format!(" (after {})", c.after.join(", "))
            };
            println!(
                "  {:>3}  {:<22} {limit:>5}  {lesson:<10} {visibility:<14} {}{after}",
                c.points, c.name, c.about
            );
        }
    }
    ExitCode::SUCCESS
}
