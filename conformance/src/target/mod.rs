//! Targets: the servers a case runs against. Each provisions a case's set-up and hands back a
//! running server (or the reason it refused to start).
//!
//! - `reference[:VERSION]`: the reference server, embedded in this process, once per profile
//!   (`seed`, `15`, `18`) or for one;
//! - `postgres:BINDIR`: real PostgreSQL from its binaries (`initdb` once per run, a copy per
//!   set-up), run as an unprivileged user when the harness runs as root;
//! - `external:HOST:PORT[@VERSION]`: a server the harness cannot configure; only cases with the
//!   default set-up run.

pub mod external;
pub mod postgres;
pub mod reference;

use std::net::SocketAddr;

use crate::case::{Setup, Version};
use crate::error::Error;

/// A server started for one set-up; stopped when dropped.
pub trait Running: Send {
    /// Where clients connect.
    fn addr(&self) -> SocketAddr;
    /// The server log so far, when the target exposes it.
    fn log(&self) -> Option<Vec<String>>;
}

/// The outcome of starting a server with a set-up.
pub enum Started {
    /// It runs.
    Running(Box<dyn Running>),
    /// It refused to start: its FATAL line(s), normalized.
    Refused(Vec<String>),
}

/// Something cases run against.
pub trait Target: Send + Sync {
    /// The name used in reports and snapshot suffixes (`reference-15`, `postgres-18`).
    fn label(&self) -> String;
    /// The version whose expectations apply.
    fn version(&self) -> Version;
    /// Whether the harness can configure it (otherwise only default set-ups run).
    fn configurable(&self) -> bool;
    /// Starts (or connects to) a server with `setup`.
    fn start(&self, setup: &Setup) -> Result<Started, Error>;
}

/// Parses a `--target` argument into one or more targets (`reference` expands to every
/// profile).
pub fn parse(spec: &str) -> Result<Vec<Box<dyn Target>>, Error> {
    if spec == "reference" {
        return Ok(Version::ALL
            .into_iter()
            .map(|v| Box::new(reference::Reference::new(v)) as Box<dyn Target>)
            .collect());
    }
    if let Some(v) = spec.strip_prefix("reference:") {
        let version = Version::parse(v).ok_or_else(|| Error::BadTarget(spec.into()))?;
        return Ok(vec![Box::new(reference::Reference::new(version))]);
    }
    if let Some(bindir) = spec.strip_prefix("postgres:") {
        return Ok(vec![Box::new(postgres::Postgres::new(bindir.into())?)]);
    }
    if let Some(rest) = spec.strip_prefix("external:") {
        return Ok(vec![Box::new(external::External::parse(rest)?)]);
    }
    Err(Error::BadTarget(spec.into()))
}
