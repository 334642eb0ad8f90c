//! `segpool-client KEYPATH PROJ_ID`: see specs/seg-pool.md §4.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    seg_pool::client::run(&args)
}
