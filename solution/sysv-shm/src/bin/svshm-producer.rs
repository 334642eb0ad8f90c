//! `svshm-producer`: see `specs/sysv-shm.md` §5.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    sysv_shm::transfer::run(sysv_shm::transfer::Role::Producer, &args)
}
