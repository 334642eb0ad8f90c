//! `grader build IMPL --out DIR` (hidden): builds an implementation as `grade` does (copied
//! into the work folder, built there in the build sandbox; IMPL is never written) and copies
//! the binaries into DIR, for `make bench-programs`.

use std::path::PathBuf;
use std::process::ExitCode;

use grader::{assignments, build, grade};

#[derive(clap::Args)]
pub struct Args {
    /// The implementation folder (a workspace shaped like `starter/`).
    #[arg(default_value = "starter")]
    implementation: PathBuf,
    /// The folder the binaries are copied into (made if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Build only this assignment (repeatable); all when omitted.
    #[arg(short = 'a', long = "assignment", value_name = "NAME")]
    assignments: Vec<String>,
    /// Where builds are made [default: the kit's target/ipc-lab].
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    match build_into(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("grader: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn build_into(
    Args {
        implementation,
        out,
        assignments: wanted,
        work_dir,
    }: Args,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    if let Err(code) = super::known_assignments(&wanted) {
        return Ok(code);
    }
    let work = work_dir.unwrap_or_else(grade::default_work_dir);
    // As root, the build runs as a user of this build's own, as it does for `grade`.
    let user = nix::unistd::geteuid()
        .is_root()
        .then(grader::users::take)
        .transpose()
        .context("cannot take a user for this build")?;
    let setup = build::BuildSetup {
        user: user.as_ref().map(|u| (u.uid, u.uid)),
        require_sandbox: false,
        time_scale: 1.0,
    };
    let staged = build::stage(&implementation, &work, setup)?;
    let exe = std::env::current_exe().context("cannot find the grader's own executable")?;
    let programs = build::Programs::new(&exe, None)?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot make {}", out.display()))?;
    let mut failed = false;
    for a in assignments::all()
        .into_iter()
        .filter(|a| wanted.is_empty() || wanted.iter().any(|w| w == a.name))
    {
        eprint!("grader: building {} … ", a.name);
        match staged.build(&a, &programs, &work) {
            Ok(bins) => {
                eprintln!("done");
                for (name, path) in bins {
                    let to = out.join(&name);
                    // A binary still running keeps its file busy: a new one replaces it.
                    let _ = std::fs::remove_file(&to);
                    std::fs::copy(&path, &to).with_context(|| {
                        format!("cannot copy {} to {}", path.display(), to.display())
                    })?;
                }
            }
            Err(e) => {
                eprintln!("FAILED\n{}", e.log);
                eprintln!("grader: {}: {}", a.name, e.reason);
                failed = true;
            }
        }
    }
    println!("{}", out.display());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
