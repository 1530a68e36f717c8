//! A local server process as /proc shows it: CPU time of its process tree, resident memory,
//! the process listening on a port. The parsers are pure; the readers around them return
//! `None` when /proc does not say (the process is gone, or not ours to read).

use std::collections::HashMap;
use std::net::SocketAddr;

/// The fields of `/proc/PID/stat` the load generator reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Parent process id.
    pub ppid: u32,
    /// User time, clock ticks.
    pub utime: u64,
    /// System time, clock ticks.
    pub stime: u64,
    /// User time of reaped children.
    pub cutime: u64,
    /// System time of reaped children.
    pub cstime: u64,
}

/// Parses the text of `/proc/PID/stat`; the command name (field 2, in parentheses) may hold
/// spaces and parentheses, so the fields after it are counted from its last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = text.get(text.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16,
    // cstime 17.
    let n = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        ppid: u32::try_from(n(4)?).ok()?,
        utime: n(14)?,
        stime: n(15)?,
        cutime: n(16)?,
        cstime: n(17)?,
    })
}

/// `/proc/PID/stat` of `pid`.
pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Clock ticks per second, the unit of [`Stat`]'s times.
pub fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// The process ids among /proc's entries.
fn pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .collect()
}

/// Every process id with its parent.
pub fn process_table() -> HashMap<u32, u32> {
    pids()
        .into_iter()
        .filter_map(|pid| Some((pid, stat(pid)?.ppid)))
        .collect()
}

/// `pid` and every descendant in `table` (pid to parent), parents before children.
pub fn descendants_in(table: &HashMap<u32, u32>, pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(table.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// `pid` and its live descendants.
pub fn descendants(pid: u32) -> Vec<u32> {
    descendants_in(&process_table(), pid)
}

/// CPU ticks of `pid`'s tree: its own and reaped children's, plus live descendants' own.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = stat(pid)?;
    let mut total = s.utime + s.stime + s.cutime + s.cstime;
    for d in descendants(pid).into_iter().skip(1) {
        if let Some(s) = stat(d) {
            total += s.utime + s.stime;
        }
    }
    Some(total)
}

/// Rss and Pss of the text of `/proc/PID/smaps_rollup`, KiB (0 for a missing line).
pub fn parse_smaps_rollup(text: &str) -> (u64, u64) {
    let mut rss = 0;
    let mut pss = 0;
    let value = |l: &str| {
        l.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    for line in text.lines() {
        if line.starts_with("Rss:") {
            rss += value(line);
        } else if line.starts_with("Pss:") {
            pss += value(line);
        }
    }
    (rss, pss)
}

/// Sum of VmRSS and of Pss over `pid`'s tree, KiB; `None` when one process's is unreadable.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let mut rss = 0;
    let mut pss = 0;
    for p in descendants(pid) {
        let text = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok()?;
        let (r, s) = parse_smaps_rollup(&text);
        rss += r;
        pss += s;
    }
    Some((rss, pss))
}

/// The inodes of the sockets listening on `port` in the text of `/proc/net/tcp`.
pub fn listening_inodes(net_tcp: &str, port: u16) -> Vec<String> {
    let port = format!(":{port:04X}");
    net_tcp
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1)?.ends_with(&port) && *f.get(3)? == "0A")
                .then(|| f.get(9).map(|s| (*s).to_owned()))?
        })
        .collect()
}

/// The process listening on `addr` (a loopback TCP port), from /proc/net/tcp and the file
/// descriptors of every process; the topmost if several share the socket.
pub fn listening_pid(addr: SocketAddr) -> Option<u32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted: Vec<String> = listening_inodes(&tcp, addr.port())
        .iter()
        .map(|i| format!("socket:[{i}]"))
        .collect();
    let mut holders = Vec::new();
    for pid in pids() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        if fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|t| wanted.iter().any(|w| t.as_os_str() == w.as_str()))
        }) {
            holders.push(pid);
        }
    }
    topmost(&holders, &process_table())
}

/// The first of `holders` whose parent is not one of them.
fn topmost(holders: &[u32], table: &HashMap<u32, u32>) -> Option<u32> {
    holders
        .iter()
        .copied()
        .find(|p| table.get(p).is_none_or(|pp| !holders.contains(pp)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with a space and a parenthesis, as `(sd-pam)` or `postgres: (x) y`.
        let text = "4242 (postgres: a) b) S 4000 4242 4242 0 -1 4194560 1200 0 0 0 \
                    17 9 31 12 20 0 1 0 123456 200000000 3000 18446744073709551615\n";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                ppid: 4000,
                utime: 17,
                stime: 9,
                cutime: 31,
                cstime: 12,
            })
        );
    }

    #[test]
    fn a_truncated_or_garbled_stat_is_none() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
        assert_eq!(parse_stat("1 (x)"), None);
        assert_eq!(
            parse_stat("1 (x) S notanumber 1 1 0 -1 0 0 0 0 0 1 2 3 4"),
            None
        );
    }

    #[test]
    fn this_process_has_a_stat() {
        let me = stat(std::process::id()).expect("our own /proc/PID/stat");
        assert!(me.ppid > 0);
    }

    #[test]
    fn smaps_rollup_gives_rss_and_pss() {
        let text = "55d0c0000000-7ffc00000000 ---p 00000000 00:00 0    [rollup]\n\
                    Rss:               12345 kB\n\
                    Pss:                6789 kB\n\
                    Pss_Anon:           1000 kB\n\
                    Shared_Clean:       5000 kB\n";
        assert_eq!(parse_smaps_rollup(text), (12345, 6789));
        assert_eq!(parse_smaps_rollup(""), (0, 0));
    }

    #[test]
    fn listening_sockets_are_found_by_port_and_state() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 31337 1 0000000000000000 100 0 0 10 0\n   \
   1: 0100007F:1538 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 31338 1 0000000000000000 20 4 30 10 -1\n   \
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(text, 5432), ["31337"]);
        assert_eq!(listening_inodes(text, 22), ["22"]);
        assert!(listening_inodes(text, 5433).is_empty());
    }

    #[test]
    fn descendants_and_the_topmost_holder() {
        let table: HashMap<u32, u32> = [(10, 1), (11, 10), (12, 10), (13, 11), (20, 1)].into();
        let mut tree = descendants_in(&table, 10);
        assert_eq!(tree[0], 10);
        tree.sort_unstable();
        assert_eq!(tree, [10, 11, 12, 13]);
        assert_eq!(descendants_in(&table, 20), [20]);
        assert_eq!(topmost(&[11, 10, 12], &table), Some(10));
        assert_eq!(topmost(&[13, 12], &table), Some(13));
        assert_eq!(topmost(&[], &table), None);
    }
}
