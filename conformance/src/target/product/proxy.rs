//! A product target in front of a real PostgreSQL that the harness starts (`pgbouncer`,
//! `pgpool`): its program, the backend from the spec's BINDIR, and each set-up's layout in
//! front of it.

use std::path::{Path, PathBuf};

use super::spec;
use super::workdir::{Layout, Workdir};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{Ids, current_ids};
use crate::target::backend::{Backend, BackendAddr};
use crate::target::spawned::run_as_user;

/// How a proxy's program is found and its version read.
pub struct Program {
    /// The product's name in target specs (`pgbouncer`).
    pub name: &'static str,
    /// The environment variable naming the program (`PGSSL_PGBOUNCER`).
    pub var: &'static str,
    /// The program when the variable is not set (`/usr/sbin/pgbouncer`).
    pub default: &'static str,
    /// The product and its version (`PgBouncer 1.18.0`) read from the program, or why it
    /// cannot be.
    pub version: fn(&Path) -> Result<String, String>,
}

/// A product in front of a PostgreSQL backend, checked; nothing is started yet.
pub struct Proxy {
    /// The product's program.
    pub program: PathBuf,
    /// The product and its version.
    pub product: String,
    /// The backend, started with the first set-up.
    pub backend: Backend,
    /// The version whose expectations apply: the spec's, by default the backend's.
    pub version: Version,
    /// Who the product runs as, when the harness runs as root.
    pub user: Option<Ids>,
    /// The target's working directory.
    pub workdir: Workdir,
}

impl Proxy {
    /// Parses what follows the product's name in a target (``, `@15`, `:BINDIR`,
    /// `:BINDIR@15`), checks the binaries and reads their versions.
    pub fn parse(rest: &str, program: &Program) -> Result<Self, Error> {
        let spec::WithBackend {
            spec,
            bindir,
            version,
        } = spec::with_backend(program.name, rest)?;
        let path = std::env::var_os(program.var)
            .map_or_else(|| PathBuf::from(program.default), PathBuf::from);
        let product = (program.version)(&path).map_err(|why| Error::TargetUnavailable {
            target: spec.clone(),
            why,
        })?;
        let backend = Backend::new(bindir)?;
        let workdir = Workdir::new(&format!("pgssl-conform-{}-", program.name))?;
        Ok(Self {
            program: path,
            product,
            version: version.unwrap_or_else(|| backend.version()),
            backend,
            user: run_as_user()?,
            workdir,
        })
    }

    /// The owner of the next set-up's files (the product's user) and their layout in front of
    /// the backend, which starts with the first set-up.
    pub fn set_up(&self, setup: &Setup) -> Result<(Ids, Layout<BackendAddr>), Error> {
        let owner = self.user.unwrap_or_else(current_ids);
        let backend = self.backend.addr()?;
        Ok((owner, self.workdir.set_up(setup, owner)?.behind(backend)))
    }
}
