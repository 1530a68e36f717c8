//! What a run leaves behind if it is interrupted: spawned servers and temporary directories
//! are registered here while they exist, so Ctrl-C can stop and remove them before exiting.
//! (A panic unwinds through the owners' `Drop`, which does the same.)

use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Resource {
    Process(u32),
    Dir(PathBuf),
}

static RESOURCES: Mutex<Vec<Resource>> = Mutex::new(Vec::new());

fn with<R>(f: impl FnOnce(&mut Vec<Resource>) -> R) -> R {
    f(&mut RESOURCES.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Registers a spawned server process.
pub fn register_process(pid: u32) {
    with(|r| r.push(Resource::Process(pid)));
}

/// Forgets a process that was stopped.
pub fn forget_process(pid: u32) {
    with(|r| r.retain(|x| *x != Resource::Process(pid)));
}

/// Registers a temporary directory.
pub fn register_dir(dir: PathBuf) {
    with(|r| r.push(Resource::Dir(dir)));
}

/// Forgets a directory that was removed.
pub fn forget_dir(dir: &std::path::Path) {
    with(|r| r.retain(|x| !matches!(x, Resource::Dir(d) if d == dir)));
}

/// Stops every registered process (SIGINT, then SIGKILL after two seconds) and removes every
/// registered directory. Called from the Ctrl-C handler.
pub fn run() {
    let resources = with(std::mem::take);
    let pids: Vec<u32> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::Process(p) => Some(*p),
            Resource::Dir(_) => None,
        })
        .collect();
    for pid in &pids {
        // SAFETY: kill(2) on a process this harness started.
        unsafe {
            libc::kill(*pid as i32, libc::SIGINT);
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    for pid in &pids {
        // SAFETY: kill with signal 0 only probes whether the process exists.
        while unsafe { libc::kill(*pid as i32, 0) } == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(*pid as i32, libc::SIGKILL);
        }
    }
    for r in resources {
        if let Resource::Dir(d) = r {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
