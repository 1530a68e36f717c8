//! pg-gateway as a target: `pg-gateway[@VERSION]`, our small Node server on the npm
//! `pg-gateway` package (`products/pg-gateway/server.mjs`), with no PostgreSQL behind it.
//!
//! `scripts/install-deps` installs the package, pinned by `products/pg-gateway/package-lock.json`,
//! into `/opt/pgssl/pg-gateway` (`PGSSL_PG_GATEWAY` overrides). The server script is built
//! into this binary from the checkout and written into the target's own directory beside a
//! `node_modules` link to the installed package: the script run is always the one this
//! harness was built with (an installed copy could be stale), it needs no checkout at run
//! time, and the unprivileged user the server runs as when the harness is root can read it.
//!
//! Each set-up gets a directory laid out like a data directory, from which [`config`] writes
//! the server's JSON configuration ([`hba`] reduces `pg_hba.conf` to its one method); a reload writes it again and sends SIGHUP, on which the
//! server re-reads it. Having no backend, it is judged by PostgreSQL 15's expectations unless
//! `@VERSION` says otherwise. Its log is its own, so PostgreSQL's log expectations are not
//! checked against it; a start it refuses is the trace's `start: refused:` lines.

pub mod config;
pub mod hba;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::spawned::{self, LogDialect, run_as_user};
use super::{Running, Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{Ids, conf_lines, current_ids, write_data_directory};

/// The server, as built into the harness.
const SERVER_SCRIPT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../products/pg-gateway/server.mjs"
));

/// Where `scripts/install-deps` installs the package.
const DEFAULT_INSTALL_DIR: &str = "/opt/pgssl/pg-gateway";

/// The version judged by default: there is no backend whose version it would follow.
const DEFAULT_VERSION: Version = Version::Pg15;

/// The configuration file's name in each set-up's directory.
const CONFIG_FILE: &str = "pg-gateway.json";

/// How the server's log reads.
const GATEWAY_LOG: LogDialect = LogDialect {
    ready: "LOG: ready: listening",
    reloaded: "LOG: received SIGHUP",
    refusal,
};

/// Our pg-gateway server, one process per set-up.
pub struct PgGateway {
    script: PathBuf,
    product: String,
    runtime: String,
    version: Version,
    user: Option<Ids>,
    base: tempfile::TempDir,
    counter: AtomicUsize,
}

impl PgGateway {
    /// Parses what follows `pg-gateway` in a target (`` or `@VERSION`), prepares the server
    /// script beside the installed package and reads the package's version; nothing is
    /// started yet.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        let spec = format!("pg-gateway{rest}");
        let version = match rest {
            "" => DEFAULT_VERSION,
            _ => {
                let v = rest
                    .strip_prefix('@')
                    .ok_or_else(|| Error::BadTarget(spec.clone()))?;
                Version::parse(v).ok_or_else(|| Error::UnknownVersion {
                    target: spec.clone(),
                    what: format!("version {v:?}"),
                    known: Version::known(),
                })?
            }
        };
        let install = std::env::var_os("PGSSL_PG_GATEWAY")
            .map_or_else(|| PathBuf::from(DEFAULT_INSTALL_DIR), PathBuf::from);
        let modules = install.join("node_modules");
        if !modules.join("pg-gateway").join("package.json").is_file() {
            return Err(Error::TargetUnavailable {
                target: spec,
                why: format!(
                    "no pg-gateway package under {}: run scripts/install-deps, or set PGSSL_PG_GATEWAY to the directory holding its node_modules",
                    modules.display()
                ),
            });
        }
        let base = spawned::target_base("pgssl-conform-pg-gateway-")?;
        let script = base.path().join("server.mjs");
        fs::write(&script, SERVER_SCRIPT).map_err(|e| Error::io("writing", &script, e))?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io("setting permissions on", &script, e))?;
        let link = base.path().join("node_modules");
        std::os::unix::fs::symlink(&modules, &link).map_err(|e| Error::io("linking", &link, e))?;
        let runtime = product_version(&script)
            .map_err(|why| Error::TargetUnavailable { target: spec, why })?;
        let product = runtime
            .split(" on ")
            .next()
            .unwrap_or(runtime.as_str())
            .to_owned();
        Ok(Self {
            script,
            product,
            runtime,
            version,
            user: run_as_user()?,
            base,
            counter: AtomicUsize::new(0),
        })
    }

    fn unmappable(&self, why: String) -> Error {
        Error::Unmappable {
            product: self.product.clone(),
            why,
        }
    }

    fn defaults(&self) -> config::PostgresDefaults {
        config::PostgresDefaults {
            // PostgreSQL's default ssl_ecdh_curve (13 to 17) and ssl_groups (18).
            groups: if self.version == Version::Pg18 {
                "X25519:prime256v1"
            } else {
                "prime256v1"
            },
        }
    }

    /// A directory of the server's user, private to it.
    fn private_dir(&self, path: &Path, owner: Ids) -> Result<(), Error> {
        fs::create_dir(path).map_err(|e| Error::io("creating", path, e))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("setting permissions on", path, e))?;
        crate::setup::chown_tree(path, owner)
    }
}

impl Drop for PgGateway {
    fn drop(&mut self) {
        crate::cleanup::forget_dir(self.base.path());
    }
}

/// `node server.mjs --version`: `pg-gateway 0.3.0-beta.4 on Node v20.20.2 (OpenSSL 3.0.19)`.
fn product_version(script: &Path) -> Result<String, String> {
    let out = Command::new("node")
        .arg(script)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run node: {e}; install Node.js 20 or later"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").trim();
    if !out.status.success() || !first.starts_with("pg-gateway ") {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "node server.mjs --version printed {first:?}, not pg-gateway's version: {}",
            err.trim()
        ));
    }
    Ok(first.to_owned())
}

/// Writes the server's configuration for the files in `layout.dir` as they are now.
fn write_config(
    layout: &config::Layout,
    defaults: &config::PostgresDefaults,
    owner: Ids,
) -> Result<PathBuf, String> {
    let read = |name: &str| {
        let path = layout.dir.join(name);
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let value = config::config(
        &read("postgresql.conf")?,
        &read("pg_hba.conf")?,
        &read("pg_ident.conf")?,
        layout,
        defaults,
    )?;
    let text = serde_json::to_string_pretty(&value)
        .map_err(|e| format!("cannot write the configuration as JSON: {e}"))?;
    let path = layout.dir.join(CONFIG_FILE);
    fs::write(&path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let _ = std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1));
    Ok(path)
}

impl Target for PgGateway {
    fn label(&self) -> String {
        format!("pg-gateway-{}", self.version)
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "{}, served by products/pg-gateway/server.mjs, no backend",
            self.runtime
        ))
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let owner = self.user.unwrap_or_else(current_ids);
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = self.base.path().join(format!("conf-{n}"));
        let sockets = self.base.path().join(format!("sock-{n}"));
        self.private_dir(&dir, owner)?;
        self.private_dir(&sockets, owner)?;
        let conf = conf_lines(setup).join("\n") + "\n";
        write_data_directory(setup, &dir, owner, Some(&conf))?;
        let defaults = self.defaults();
        let layout = |port: u16| config::Layout {
            dir: dir.clone(),
            socket: sockets.join(format!(".s.PGSQL.{port}")),
            port,
        };
        // Checked before any process starts, so an unmappable set-up is not applicable.
        write_config(&layout(0), &defaults, owner).map_err(|why| self.unmappable(why))?;
        let make = |port: u16| -> Result<Command, Error> {
            let l = layout(port);
            let path = write_config(&l, &defaults, owner).map_err(|why| self.unmappable(why))?;
            let mut command = Command::new("node");
            command.arg(&self.script).arg(&path).current_dir(&l.dir);
            if let Some((uid, gid)) = self.user {
                command.uid(uid).gid(gid);
            }
            for (name, value) in &setup.env {
                command.env(
                    name,
                    value.replace("{datadir}", &l.dir.display().to_string()),
                );
            }
            Ok(command)
        };
        let started = spawned::start(
            &self.label(),
            GATEWAY_LOG,
            &make,
            dir.clone(),
            sockets.clone(),
            owner,
        )?;
        match started {
            Started::Running(inner) => Ok(Started::Running(Box::new(Gateway {
                inner,
                dir,
                sockets,
                defaults,
                owner,
                product: self.product.clone(),
            }))),
            Started::Refused { fatal, log } if setup.is_default() => Err(Error::ProductFailed {
                product: self.product.clone(),
                config: dir.join(CONFIG_FILE),
                why: format!(
                    "it refused the configuration written for the default set-up ({})",
                    fatal.join(" / ")
                ),
                log_tail: log
                    .iter()
                    .rev()
                    .take(10)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n"),
            }),
            refused => Ok(refused),
        }
    }
}

/// A running server: its reload writes the configuration again from the files first.
struct Gateway {
    inner: Box<dyn Running>,
    dir: PathBuf,
    sockets: PathBuf,
    defaults: config::PostgresDefaults,
    owner: Ids,
    product: String,
}

impl Running for Gateway {
    fn addr(&self) -> std::net::SocketAddr {
        self.inner.addr()
    }

    fn log(&self) -> Option<Vec<String>> {
        None
    }

    fn unix_socket(&self) -> Option<PathBuf> {
        self.inner.unix_socket()
    }

    fn datadir(&self) -> Option<(PathBuf, Ids)> {
        Some((self.dir.clone(), self.owner))
    }

    fn reload(&self) -> Result<(), Error> {
        let port = self.inner.addr().port();
        let layout = config::Layout {
            dir: self.dir.clone(),
            socket: self.sockets.join(format!(".s.PGSQL.{port}")),
            port,
        };
        write_config(&layout, &self.defaults, self.owner).map_err(|why| Error::Unmappable {
            product: self.product.clone(),
            why,
        })?;
        self.inner.reload()
    }
}

/// The server's `FATAL: ` lines; the last three lines when there is none.
fn refusal(lines: &[String]) -> Vec<String> {
    let fatal: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("FATAL: "))
        .cloned()
        .collect();
    if fatal.is_empty() {
        lines.iter().rev().take(3).rev().cloned().collect()
    } else {
        fatal
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refusal_is_the_fatal_lines() {
        let lines = [
            "LOG: pg-gateway 0.3.0-beta.4 on Node v20.20.2 (OpenSSL 3.0.19)".to_owned(),
            "FATAL: could not read the TLS key file \"DATADIR/server.key\": ENOENT".to_owned(),
        ];
        assert_eq!(
            refusal(&lines),
            ["FATAL: could not read the TLS key file \"DATADIR/server.key\": ENOENT"]
        );
        assert_eq!(refusal(&lines[..1]), [lines[0].clone()]);
    }
}
