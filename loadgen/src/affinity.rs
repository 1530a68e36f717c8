//! CPU affinity: the server on one core, the load generator on another, so neither's CPU time
//! includes the other's.

use crate::procfs;

/// Tasks (thread ids) under `/proc/<dir>/task`.
fn tasks(dir: &str) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{dir}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .collect()
}

fn set_affinity(tid: i32, cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity are given a valid
    // set and its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Pins every thread of `pid` and of its descendants to `cpu` (children forked later
/// inherit it).
pub fn pin_tree(pid: u32, cpu: usize) {
    for p in procfs::descendants(pid) {
        for tid in tasks(&p.to_string()) {
            set_affinity(tid, cpu);
        }
    }
}

/// Pins this process's threads (and threads it starts later) to `cpu`; not its children.
pub fn pin_self(cpu: usize) {
    for tid in tasks("self") {
        set_affinity(tid, cpu);
    }
}
