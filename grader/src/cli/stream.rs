//! `grader stream --seed S --len N` (hidden): writes the generated stream a check fed to a
//! program's stdin, byte for byte, so that the recipe under a failure can feed it again
//! (`grader stream --seed S --len N | ./target/release/PROGRAM …`).

use std::io::Write;
use std::process::ExitCode;

use grader::stream::Stream;

#[derive(clap::Args)]
pub struct Args {
    /// The generator's seed, as the recipe shows it.
    #[arg(long)]
    seed: u64,
    /// How many bytes.
    #[arg(long)]
    len: u64,
}

pub fn run(Args { seed, len }: Args) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match Stream::new(seed, len)
        .write_to(&mut out)
        .and_then(|()| out.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("grader: stream: {e}");
            ExitCode::from(1)
        }
    }
}
