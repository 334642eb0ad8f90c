//! `segpool-server [--timeout-ms MS] KEYPATH PROJ_ID SEGMENTS SEG_SIZE CLIENTS`: see
//! specs/seg-pool.md §3.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    seg_pool::server::run(&args)
}
