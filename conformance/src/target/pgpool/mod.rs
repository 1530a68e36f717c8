//! pgpool-II (Debian's `pgpool2`) as a target: `pgpool[:BINDIR][@VERSION]`, in raw mode in
//! front of one real PostgreSQL from BINDIR (default Debian's 15) that the harness starts.
//!
//! Each set-up gets a directory laid out like a data directory (certificate, key,
//! `pg_hba.conf`, `postgresql.conf`, the case's file changes), from which [`config`] writes
//! `pgpool.conf` and [`hba`] `pool_hba.conf`; the directory also holds pgpool's pid file,
//! status file and PCP socket, and a second private directory its client socket. pgpool runs in
//! the foreground (`-n`) in a process group of its own, so that dropping the server stops every
//! child it forked. A reload writes both files again from the files as they are then and sends
//! SIGHUP. pgpool is judged by the expectations of the version it follows (`@VERSION`, by
//! default the backend's). Its log is in its own format, so PostgreSQL's log expectations are
//! not checked against it; a start it refuses is the trace's `start: refused:` lines.

pub mod config;
pub mod hba;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::product::conf::PostgresDefaults;
use super::product::proxy::{Program, Proxy};
use super::product::refusal::last;
use super::product::server::{Launch, Reconfigured};
use super::product::version;
use super::product::workdir;
use super::spawned::LogDialect;
use super::{Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::Ids;

/// How pgpool's log reads (`src/main/pgpool_main.c`).
const PGPOOL_LOG: LogDialect = LogDialect {
    ready: "pgpool-II successfully started",
    reloaded: "reload config files.",
    refusal,
};

/// How pgpool-II's program is found and its version read.
const PROGRAM: Program = Program {
    name: "pgpool",
    var: "PGSSL_PGPOOL",
    default: "/usr/sbin/pgpool",
    version: product_version,
};

/// pgpool-II in front of a PostgreSQL backend.
pub struct Pgpool {
    proxy: Proxy,
}

impl Pgpool {
    /// Parses what follows `pgpool` in a target (``, `@15`, `:BINDIR`, `:BINDIR@15`), checks
    /// the binaries and reads their versions; nothing is started yet.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        Ok(Self {
            proxy: Proxy::parse(rest, &PROGRAM)?,
        })
    }
}

/// `pgpool --version`'s line without the release name: `pgpool-II version 4.3.5
/// (tamahomeboshi)` is `pgpool-II 4.3.5`.
fn product_version(program: &Path) -> Result<String, String> {
    let printed = version::printed(
        Command::new(program).arg("--version"),
        "install Debian's pgpool2 (scripts/install-deps does) or set PGSSL_PGPOOL",
    )?;
    // pgpool prints its version on standard error.
    let text = printed.stderr + &printed.stdout;
    let first = version::first_line(&text);
    match first.strip_prefix("pgpool-II version ") {
        Some(v) if printed.success => {
            let number = v.split_whitespace().next().unwrap_or(v);
            Ok(format!("pgpool-II {number}"))
        }
        _ => Err(format!(
            "{} --version printed {first:?}, not pgpool-II's version",
            program.display()
        )),
    }
}

/// Writes `pgpool.conf`, `pool_hba.conf` and an empty `pcp.conf` for the files in
/// `layout.dir` as they are now; returns the paths of the first two.
fn write_config(
    layout: &config::Layout,
    defaults: &PostgresDefaults,
    owner: Ids,
) -> Result<(PathBuf, PathBuf), String> {
    let read = |name: &str| workdir::read(&layout.dir, name);
    hba::check_ident(&read("pg_ident.conf")?)?;
    let hba = hba::pool_hba(&read("pg_hba.conf")?)?;
    let conf = config::pgpool_conf(&read("postgresql.conf")?, layout, defaults)?;
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let path = layout.dir.join(name);
        workdir::write(&path, text)?;
        std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1))
            .map_err(|e| format!("cannot give {} to its server: {e}", path.display()))?;
        Ok(path)
    };
    let conf_path = write("pgpool.conf", &conf)?;
    let hba_path = write("pool_hba.conf", &hba)?;
    write("pcp.conf", "")?;
    Ok((conf_path, hba_path))
}

impl Target for Pgpool {
    fn label(&self) -> String {
        format!("pgpool-{}", self.proxy.version)
    }

    fn version(&self) -> Version {
        self.proxy.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "{} (raw mode) in front of {}",
            self.proxy.product,
            self.proxy.backend.full_version()
        ))
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let (owner, layout) = self.proxy.set_up(setup)?;
        let defaults = PostgresDefaults::of(self.proxy.version);
        let pid_file = layout.dir.join("pgpool.pid");
        let conf_file = layout.dir.join("pgpool.conf");
        let launch = Launch {
            label: self.label(),
            log: PGPOOL_LOG,
            product: &self.proxy.product,
            user: self.proxy.user,
            owner,
            setup,
            layout,
            config: "pgpool.conf",
        };
        let command = |l: &config::Layout, (conf, hba): (PathBuf, PathBuf)| {
            // A start retried on another port finds the pid file of the attempt before.
            let _ = fs::remove_file(l.dir.join("pgpool.pid"));
            let mut command = Command::new(&self.proxy.program);
            // -n: foreground; -D: no backend status carried over from an earlier start.
            command
                .arg("-n")
                .arg("-D")
                .arg("-f")
                .arg(&conf)
                .arg("-a")
                .arg(&hba)
                .arg("-F")
                .arg(l.dir.join("pcp.conf"))
                // No pool_passwd, so no key file to decrypt it with: a name of its own, not the
                // harness user's ~/.pgpoolkey.
                .arg("-k")
                .arg(l.dir.join("pgpoolkey"))
                .process_group(0);
            command
        };
        // Its reload writes `pgpool.conf` and `pool_hba.conf` again from the files first;
        // dropped, it stops the main process, then whatever is left of its process group.
        let running = |server: Reconfigured| {
            let Some(group) = read_pid(&pid_file) else {
                return Err(Error::ProductFailed {
                    product: self.proxy.product.clone(),
                    config: conf_file,
                    why: "it wrote no readable pid file (pid_file_name), so its children could not be stopped with it".into(),
                    log_tail: String::new(),
                });
            };
            Ok(server.then_dropped(ProcessGroup(group)))
        };
        launch.start(move |l| write_config(l, &defaults, owner), command, running)
    }
}

/// The process id in pgpool's pid file (digits, padded with NUL bytes).
fn read_pid(path: &Path) -> Option<i32> {
    let text = fs::read(path).ok()?;
    let digits: String = text
        .iter()
        .map(|&b| b as char)
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|&pid| pid > 1)
}

/// pgpool's main process id, which leads the process group of it and its children: dropped
/// once the main process is stopped (SIGINT, pgpool's fast shutdown, which stops its
/// children), it kills any child that outlived it.
struct ProcessGroup(i32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group pgpool's main process led.
        unsafe {
            libc::kill(-self.0, libc::SIGKILL);
        }
    }
}

/// pgpool's `FATAL` and `ERROR` lines and the `DETAIL`/`HINT` lines after them, without the
/// prefix (`2026-12-08 02:34:36.659: main pid 16193: FATAL:  x` is `FATAL:  x`); the last
/// three lines when there is none.
fn refusal(lines: &[String]) -> Vec<String> {
    let message = |l: &String| -> String {
        l.split_once(" pid ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .map_or(l.as_str(), |(_, m)| m)
            .to_owned()
    };
    let messages: Vec<String> = lines.iter().map(message).collect();
    let mut severe = Vec::new();
    let mut following = false;
    for m in &messages {
        if m.starts_with("FATAL:") || m.starts_with("ERROR:") {
            severe.push(m.clone());
            following = true;
        } else if following && (m.starts_with("DETAIL:") || m.starts_with("HINT:")) {
            severe.push(m.clone());
        } else {
            following = false;
        }
    }
    if severe.is_empty() {
        last(&messages)
    } else {
        severe
    }
}

#[cfg(test)]
mod tests {
    use super::{read_pid, refusal};

    #[test]
    fn refusal_is_the_error_lines_without_prefix() {
        let lines = [
            "2026-12-08 02:34:36.659: main pid 16193: LOG:  Backend status file x does not exist"
                .to_owned(),
            "2026-12-08 02:34:36.660: main pid 16193: FATAL:  failed to create INET domain socket".to_owned(),
            "2026-12-08 02:34:36.660: main pid 16193: DETAIL:  bind on socket failed with error \"Address already in use\"".to_owned(),
            "2026-12-08 02:34:36.661: main pid 16193: LOG:  shutting down".to_owned(),
        ];
        assert_eq!(
            refusal(&lines),
            [
                "FATAL:  failed to create INET domain socket",
                "DETAIL:  bind on socket failed with error \"Address already in use\""
            ]
        );
        assert_eq!(
            refusal(&lines[..1]),
            ["LOG:  Backend status file x does not exist"]
        );
    }

    #[test]
    fn pid_file_digits_before_padding() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pgpool.pid");
        std::fs::write(&path, b"16193\n\0\0\0").expect("write");
        assert_eq!(read_pid(&path), Some(16193));
        std::fs::write(&path, b"\0\0").expect("write");
        assert_eq!(read_pid(&path), None);
        assert_eq!(read_pid(&dir.path().join("missing")), None);
    }
}
