//! The real PostgreSQL behind a proxy target (`pgbouncer`, and later `pgpool`): started once
//! per harness run with the default set-up, reached over its private Unix socket, kept
//! running until the target is dropped.

use std::path::PathBuf;
use std::sync::Mutex;

use super::postgres::Postgres;
use super::{Running, Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;

/// Where Debian's `postgresql-15` puts its binaries: the default backend.
pub const DEFAULT_BINDIR: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL build started on first use.
pub struct Backend {
    postgres: Postgres,
    running: Mutex<Option<Box<dyn Running>>>,
}

/// Where a proxy reaches its backend: the socket directory and port.
#[derive(Clone, Debug)]
pub struct BackendAddr {
    /// The directory holding `.s.PGSQL.<port>`.
    pub socket_dir: PathBuf,
    /// The port.
    pub port: u16,
}

impl Backend {
    /// Checks the build in `bindir`; nothing starts yet.
    pub fn new(bindir: PathBuf) -> Result<Self, Error> {
        Ok(Self {
            postgres: Postgres::new(bindir)?,
            running: Mutex::new(None),
        })
    }

    /// The backend's major version: what a proxy in front of it is judged by by default.
    pub fn version(&self) -> Version {
        self.postgres.version()
    }

    /// `postgres --version` of the backend.
    pub fn full_version(&self) -> &str {
        self.postgres.full_version()
    }

    /// Starts the backend if it is not running, and says where it listens.
    pub fn addr(&self) -> Result<BackendAddr, Error> {
        let mut guard = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            match self.postgres.start(&Setup::default())? {
                Started::Running(server) => *guard = Some(server),
                Started::Refused { fatal, .. } => {
                    return Err(Error::TargetUnavailable {
                        target: self.postgres.label(),
                        why: format!(
                            "the backend refused to start with the default set-up: {}",
                            fatal.join(" / ")
                        ),
                    });
                }
            }
        }
        let server = guard.as_ref().ok_or_else(|| Error::TargetUnavailable {
            target: self.postgres.label(),
            why: "the backend is not running".into(),
        })?;
        let socket = server
            .unix_socket()
            .ok_or_else(|| Error::TargetUnavailable {
                target: self.postgres.label(),
                why: "the backend has no Unix socket".into(),
            })?;
        let socket_dir =
            socket
                .parent()
                .map(PathBuf::from)
                .ok_or_else(|| Error::TargetUnavailable {
                    target: self.postgres.label(),
                    why: format!("unexpected socket path {}", socket.display()),
                })?;
        Ok(BackendAddr {
            socket_dir,
            port: server.addr().port(),
        })
    }
}
