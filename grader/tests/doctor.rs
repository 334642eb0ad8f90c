//! `grader doctor` on real IPC objects. The test (root) makes SysV objects and `/dev/shm`
//! entries and hands them to a student of its own — a uid nobody else uses, through `IPC_SET`
//! and `chown` — and to `nobody`, then runs the doctor as that student: every object of the
//! student is reported and none removed; `--clean --yes` removes the stale ones and nothing
//! else (not an attached segment, not an entry a process holds open, not `nobody`'s). Running
//! as the student keeps the doctor away from the objects of everything else on the machine.
//! Whatever the test made is removed when it ends, passed or failed.
#![allow(unsafe_code)]

mod common;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use grader::IpcKind;
use grader::leaks::{self, DEV_SHM, Object};
use serial_test::serial;

/// The student: a uid no account uses.
const STUDENT: u32 = 64_999;
/// Another user, whose objects the student's doctor must leave alone.
const NOBODY: u32 = 65534;

/// The few System V calls the test makes; each `unsafe` block is one call.
mod ipc {
    use grader::IpcKind;

    const NEW: libc::c_int = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;

    fn check(ret: libc::c_int, what: &str) -> libc::c_int {
        assert!(ret >= 0, "{what}: {}", std::io::Error::last_os_error());
        ret
    }

    /// A new object of `kind` with a key made from `seed`: the first free one from there.
    pub fn create(kind: IpcKind, seed: i32) -> (i32, i32) {
        for key in seed..seed + 1000 {
            // SAFETY: msgget, shmget and semget take integers only.
            let id = unsafe {
                match kind {
                    IpcKind::Msg => libc::msgget(key, NEW),
                    IpcKind::Shm => libc::shmget(key, 4096, NEW),
                    IpcKind::Sem => libc::semget(key, 2, NEW),
                }
            };
            if id >= 0 {
                return (id, key);
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
                check(id, "creating an object");
            }
        }
        panic!("no free key from {seed:#x}");
    }

    /// Makes `uid` the owner of the object (`IPC_STAT`, then `IPC_SET`).
    pub fn give(kind: IpcKind, id: i32, uid: u32) {
        match kind {
            IpcKind::Msg => {
                // SAFETY: an all-zero msqid_ds is a valid value of this C struct.
                let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
                // SAFETY: `ds` is a live, writable msqid_ds.
                let stat = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) };
                check(stat, "IPC_STAT");
                ds.msg_perm.uid = uid;
                // SAFETY: as above; IPC_SET only reads it.
                let set = unsafe { libc::msgctl(id, libc::IPC_SET, &mut ds) };
                check(set, "IPC_SET");
            }
            IpcKind::Shm => {
                // SAFETY: an all-zero shmid_ds is a valid value of this C struct.
                let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
                // SAFETY: `ds` is a live, writable shmid_ds.
                let stat = unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) };
                check(stat, "IPC_STAT");
                ds.shm_perm.uid = uid;
                // SAFETY: as above; IPC_SET only reads it.
                let set = unsafe { libc::shmctl(id, libc::IPC_SET, &mut ds) };
                check(set, "IPC_SET");
            }
            IpcKind::Sem => {
                // SAFETY: an all-zero semid_ds is a valid value of this C struct.
                let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
                // SAFETY: for IPC_STAT the fourth argument (union semun) is its `buf` member,
                // a pointer to a live, writable semid_ds.
                let stat = unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut ds as *mut _) };
                check(stat, "IPC_STAT");
                ds.sem_perm.uid = uid;
                // SAFETY: as above; IPC_SET only reads it.
                let set = unsafe { libc::semctl(id, 0, libc::IPC_SET, &mut ds as *mut _) };
                check(set, "IPC_SET");
            }
        }
    }

    /// Attaches segment `id` to this process; returns the address for [`detach`].
    pub fn attach(id: i32) -> usize {
        // SAFETY: the kernel picks the address (NULL); the mapping is never dereferenced.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), libc::SHM_RDONLY) };
        assert!(
            addr as isize != -1,
            "shmat: {}",
            std::io::Error::last_os_error()
        );
        addr as usize
    }

    /// Detaches what [`attach`] attached.
    pub fn detach(addr: usize) {
        // SAFETY: `addr` came from shmat and nothing refers to the mapping.
        unsafe { libc::shmdt(addr as *const libc::c_void) };
    }
}

/// What the test made; dropping it removes all of it, whatever the doctor did.
#[derive(Default)]
struct Made {
    sysv: Vec<(IpcKind, i32, i32)>,
    files: Vec<PathBuf>,
    attached: Vec<usize>,
    holders: Vec<Child>,
}

impl Made {
    fn sysv(&mut self, kind: IpcKind, seed: i32, owner: u32) -> (i32, i32) {
        let (id, key) = ipc::create(kind, seed);
        self.sysv.push((kind, id, key));
        ipc::give(kind, id, owner);
        (id, key)
    }

    fn file(&mut self, name: &str, owner: u32) -> PathBuf {
        let path = PathBuf::from(DEV_SHM).join(name);
        File::create(&path).unwrap();
        self.files.push(path.clone());
        std::os::unix::fs::chown(&path, Some(owner), Some(owner)).unwrap();
        path
    }

    /// Whether SysV object `id` with `key` is still there.
    fn exists(kind: IpcKind, id: i32, key: i32) -> bool {
        leaks::sysv_entries(kind).unwrap().iter().any(|e| {
            matches!(e.object, Object::SysV { id: i, key: k, .. } if i == id && k == key as i64)
        })
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        for child in &mut self.holders {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.attached.drain(..).for_each(ipc::detach);
        for &(kind, id, key) in &self.sysv {
            // Only if the id still holds the object made here, not one made since.
            if Made::exists(kind, id, key) {
                let object = Object::SysV {
                    kind,
                    id,
                    key: key.into(),
                    creator: None,
                };
                let _ = object.remove();
            }
        }
        for path in &self.files {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A copy of the grader the student can run wherever the kit lives (a clone under `/root`
/// is out of other users' reach), in a folder removed when it is dropped.
fn reachable_grader() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(
        assert_cmd::cargo::cargo_bin("grader"),
        dir.path().join("grader"),
    )
    .unwrap();
    dir
}

/// `grader doctor ARGS` run as the student: its exit status and stdout.
fn doctor(args: &[&str]) -> (i32, String) {
    let copy = reachable_grader();
    let mut cmd = std::process::Command::new(copy.path().join("grader"));
    cmd.arg("doctor")
        .args(args)
        .current_dir(copy.path())
        .stdin(Stdio::null())
        .uid(STUDENT)
        .gid(STUDENT);
    let out = assert_cmd::Command::from_std(cmd).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

/// The report's line that names `what`.
fn line<'a>(report: &'a str, what: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line names {what}:\n{report}"))
}

#[test]
#[serial(grading)]
fn the_doctor_reports_the_students_objects_and_cleans_only_the_stale_ones() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: giving objects to another uid needs root");
        return;
    }
    let pid = std::process::id();
    let seed = 0x1d0c_0000 | ((pid as i32 & 0xfff) << 4);
    let mut made = Made::default();

    // The student's stale objects: a queue, a segment, a set, an entry and a named semaphore.
    let queue = made.sysv(IpcKind::Msg, seed, STUDENT);
    let segment = made.sysv(IpcKind::Shm, seed, STUDENT);
    let set = made.sysv(IpcKind::Sem, seed, STUDENT);
    let entry = format!("ipclab-doctor-{pid}-stale");
    let sem = format!("sem.ipclab-doctor-{pid}");
    made.file(&entry, STUDENT);
    made.file(&sem, STUDENT);
    // The student's objects in use: an attached segment, an entry a process holds open.
    let attached = made.sysv(IpcKind::Shm, seed + 0x100, STUDENT);
    made.attached.push(ipc::attach(attached.0));
    let open = format!("ipclab-doctor-{pid}-open");
    let open_path = made.file(&open, STUDENT);
    let holder = std::process::Command::new("sleep")
        .arg("600")
        .stdin(File::open(&open_path).unwrap())
        .uid(STUDENT)
        .gid(STUDENT)
        .spawn()
        .unwrap();
    made.holders.push(holder);
    // Another user's: never the student's to remove.
    let foreign_queue = made.sysv(IpcKind::Msg, seed + 0x200, NOBODY);
    let foreign = format!("ipclab-doctor-{pid}-nobody");
    made.file(&foreign, NOBODY);

    let sysv_name = |(id, key): (i32, i32)| format!("id {id}, key {key:#010x}");
    let stale = [
        sysv_name(queue),
        sysv_name(segment),
        sysv_name(set),
        format!("/dev/shm/{entry})"),
        format!("POSIX named semaphore /ipclab-doctor-{pid} "),
    ];
    let in_use = [sysv_name(attached), format!("/dev/shm/{open})")];
    let foreign_names = [sysv_name(foreign_queue), foreign.clone()];
    let all_there = |made: &Made| {
        made.sysv
            .iter()
            .all(|&(kind, id, key)| Made::exists(kind, id, key))
            && made.files.iter().all(|p| p.exists())
    };

    // Reported, not removed.
    let (status, report) = doctor(&[]);
    assert!(matches!(status, 0 | 1), "exit {status}:\n{report}");
    for name in &stale {
        let l = line(&report, name);
        assert!(l.starts_with("  WARN") && l.ends_with("; stale"), "{l}");
    }
    for name in &in_use {
        let l = line(&report, name);
        assert!(l.starts_with("  OK") && l.contains("in use"), "{l}");
    }
    assert!(line(&report, &sysv_name(attached)).contains("attached by 1 process"));
    for name in &foreign_names {
        assert!(
            !report.contains(name.as_str()),
            "{name} is not the student's:\n{report}"
        );
    }
    assert!(
        report.contains(
            "Nothing was removed. To remove the 5 stale objects listed: make doctor CLEAN=1"
        ),
        "{report}"
    );
    assert!(all_there(&made), "the doctor removed something:\n{report}");

    // --clean with no terminal to ask on, and without --yes: refused, nothing removed.
    let (status, report) = doctor(&["--clean"]);
    assert_eq!(status, 2, "{report}");
    assert!(report.contains("add --yes"), "{report}");
    assert!(all_there(&made));

    // --clean --yes: the stale ones go, each named; the rest stays.
    let (status, report) = doctor(&["--clean", "--yes"]);
    assert!(matches!(status, 0 | 1), "exit {status}:\n{report}");
    for name in &stale {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("  removed ") && l.contains(name.as_str())),
            "{name} not removed:\n{report}"
        );
    }
    let removed = report
        .lines()
        .filter(|l| l.starts_with("  removed "))
        .count();
    assert_eq!(removed, stale.len(), "{report}");
    for (kind, (id, key)) in [
        (IpcKind::Msg, queue),
        (IpcKind::Shm, segment),
        (IpcKind::Sem, set),
    ] {
        assert!(!Made::exists(kind, id, key), "{kind:?} {id} is still there");
    }
    for name in [&entry, &sem] {
        assert!(
            !PathBuf::from(DEV_SHM).join(name).exists(),
            "{name} is still there"
        );
    }
    assert!(
        Made::exists(IpcKind::Shm, attached.0, attached.1),
        "the attached segment went"
    );
    assert!(Made::exists(IpcKind::Msg, foreign_queue.0, foreign_queue.1));
    for name in [&open, &foreign] {
        assert!(PathBuf::from(DEV_SHM).join(name).exists(), "{name} went");
    }
}
