//! `svshm-counter`: see `specs/sysv-shm.md` §4.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    sysv_shm::counter::run(&args)
}
