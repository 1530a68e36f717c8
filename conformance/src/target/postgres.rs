//! Real PostgreSQL as a target, started from its binaries: `postgres:BINDIR`.
//!
//! `initdb` runs once per harness run into a private directory under the system's temporary
//! directory (never under `/root`, which the server's user cannot enter); each set-up gets a
//! copy with its own `postgresql.conf` lines, certificate, `pg_hba.conf` and a private
//! `unix_socket_directories`. PostgreSQL refuses to run as root, so when the harness runs as
//! root the server runs as the `postgres` user (`PGSSL_PG_USER` to choose another).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::spawned::{self, run_as_user};
use super::{Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{conf_lines, current_ids, write_data_directory};

/// PostgreSQL from a binary directory.
pub struct Postgres {
    bindir: PathBuf,
    version: Version,
    full_version: String,
    user: Option<(u32, u32)>,
    base: tempfile::TempDir,
    template: Mutex<Option<PathBuf>>,
    counter: AtomicUsize,
}

impl Postgres {
    /// Checks the binaries and reads their version; nothing is started yet.
    pub fn new(bindir: PathBuf) -> Result<Self, Error> {
        let label = format!("postgres:{}", bindir.display());
        let unavailable = |why: String| Error::TargetUnavailable {
            target: label.clone(),
            why,
        };
        let out = Command::new(bindir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| {
                unavailable(format!(
                    "cannot run {}/postgres: {e}; give the bin directory of a PostgreSQL build (known versions: {})",
                    bindir.display(),
                    Version::known()
                ))
            })?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        let major: u32 = text
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| unavailable(format!("unexpected version output {text:?}")))?;
        let version = Version::from_major(major).ok_or_else(|| Error::UnknownVersion {
            target: label.clone(),
            what: format!("{text:?} (from {}/postgres --version)", bindir.display()),
            known: Version::known(),
        })?;
        let user = run_as_user()?;
        let base = spawned::target_base("pgssl-conform-pg-")?;
        Ok(Self {
            bindir,
            version,
            full_version: text,
            user,
            base,
            template: Mutex::new(None),
            counter: AtomicUsize::new(0),
        })
    }

    /// `postgres --version` as printed.
    ///
    /// The label names the build as well as the version when the version text names a
    /// packager: `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` is `postgres-15-debian`,
    /// an upstream build such as the npm one (`postgres (PostgreSQL) 15.18`) `postgres-15`, so
    /// two builds of one major keep their own snapshots and accepted differences.
    pub fn full_version(&self) -> &str {
        &self.full_version
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        cmd.env_remove("PGDATA").env("LC_ALL", "C");
        cmd
    }

    fn chown(&self, path: &Path) -> Result<(), Error> {
        let Some((uid, gid)) = self.user else {
            return Ok(());
        };
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| Error::io("chown", path, e))
    }

    /// Runs initdb once per harness run.
    fn template(&self) -> Result<PathBuf, Error> {
        let mut guard = self.template.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = guard.as_ref() {
            return Ok(t.clone());
        }
        let dir = self.base.path().join("template");
        fs::create_dir(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("setting permissions on", &dir, e))?;
        self.chown(&dir)?;
        let out = self
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&dir)
            .output()
            .map_err(|e| Error::io("running initdb for", &dir, e))?;
        if !out.status.success() {
            return Err(Error::TargetUnavailable {
                target: self.label(),
                why: format!(
                    "initdb failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        self.prepare_template(&dir)?;
        *guard = Some(dir.clone());
        Ok(dir)
    }

    /// The roles and extension the cases of PostgreSQL's SSL suite use (Part D's Server.pm):
    /// created once in single-user mode, so every copy has them. The reference server has no
    /// roles and answers sslinfo's functions itself.
    fn prepare_template(&self, dir: &Path) -> Result<(), Error> {
        use std::io::Write;
        let mut child = self
            .command("postgres")
            .args(["--single", "-D"])
            .arg(dir)
            .arg("postgres")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("running postgres --single on", dir, e))?;
        if let Some(mut stdin) = child.stdin.take() {
            let sql = "CREATE ROLE ssltestuser LOGIN;\nCREATE ROLE anotheruser LOGIN;\nCREATE ROLE yetanotheruser LOGIN;\nCREATE EXTENSION sslinfo;\n";
            stdin
                .write_all(sql.as_bytes())
                .map_err(|e| Error::io("writing to postgres --single on", dir, e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io("running postgres --single on", dir, e))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || stderr.contains("ERROR:") {
            return Err(Error::TargetUnavailable {
                target: self.label(),
                why: format!("preparing the template cluster failed: {}", stderr.trim()),
            });
        }
        Ok(())
    }

    fn provision(&self, setup: &Setup) -> Result<(PathBuf, PathBuf), Error> {
        let template = self.template()?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = self.base.path().join(format!("data-{n}"));
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&dir)
            .status()
            .map_err(|e| Error::io("copying", &template, e))?;
        if !status.success() {
            return Err(Error::TargetUnavailable {
                target: self.label(),
                why: format!("could not copy {} to {}", template.display(), dir.display()),
            });
        }
        let sockets = self.base.path().join(format!("sock-{n}"));
        fs::create_dir(&sockets).map_err(|e| Error::io("creating", &sockets, e))?;
        fs::set_permissions(&sockets, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("setting permissions on", &sockets, e))?;
        self.chown(&sockets)?;
        let mut conf = format!(
            "\n# pgssl conformance set-up\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            sockets.display()
        );
        for line in conf_lines(setup) {
            conf.push_str(&line);
            conf.push('\n');
        }
        let conf_path = dir.join("postgresql.conf");
        let mut text =
            fs::read_to_string(&conf_path).map_err(|e| Error::io("reading", &conf_path, e))?;
        text.push_str(&conf);
        fs::write(&conf_path, text).map_err(|e| Error::io("writing", &conf_path, e))?;
        let server = self.user.unwrap_or_else(current_ids);
        write_data_directory(setup, &dir, server, None)?;
        Ok((dir, sockets))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        crate::cleanup::forget_dir(self.base.path());
    }
}

impl Target for Postgres {
    fn label(&self) -> String {
        match build_vendor(&self.full_version) {
            Some(vendor) => format!("postgres-{}-{vendor}", self.version),
            None => format!("postgres-{}", self.version),
        }
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let (dir, sockets) = self.provision(setup)?;
        // -p wins over the port the copied postgresql.conf may name.
        let make = |port: u16| {
            let mut command = self.command("postgres");
            for (name, value) in &setup.env {
                command.env(name, value.replace("{datadir}", &dir.display().to_string()));
            }
            command.arg("-D").arg(&dir).args(["-p", &port.to_string()]);
            Ok(command)
        };
        let owner = self.user.unwrap_or_else(current_ids);
        spawned::start(
            &self.label(),
            spawned::POSTGRES_LOG,
            &make,
            dir.clone(),
            sockets.clone(),
            owner,
        )
    }
}

/// The packager named in `postgres --version`'s parenthesis, lower-cased (`debian`), if any.
fn build_vendor(version_text: &str) -> Option<String> {
    let inside = version_text.split_once('(')?.1.split_once('(')?.1;
    let vendor: String = inside
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    (!vendor.is_empty()).then(|| vendor.to_ascii_lowercase())
}

#[cfg(test)]
mod label_tests {
    use super::build_vendor;

    #[test]
    fn packaged_builds_name_their_packager() {
        assert_eq!(
            build_vendor("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)").as_deref(),
            Some("debian")
        );
        assert_eq!(build_vendor("postgres (PostgreSQL) 17.10"), None);
    }
}
