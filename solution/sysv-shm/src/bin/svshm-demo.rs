//! `svshm-demo`: see `specs/sysv-shm.md` §3.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    sysv_shm::demo::run(&args)
}
