//! Targets: the servers a case runs against. Each provisions a case's set-up and hands back a
//! running server (or the reason it refused to start).
//!
//! - `reference[:VERSION]`: the reference server, embedded in this process, once per profile
//!   (`seed`, `15`, `18`) or for one;
//! - `postgres:BINDIR`: real PostgreSQL from its binaries (`initdb` once per run, a copy per
//!   set-up), run as an unprivileged user when the harness runs as root;
//! - `external:HOST:PORT[@VERSION]`: a server the harness cannot configure; only cases with the
//!   default set-up run;
//! - `pgbouncer[:BINDIR][@VERSION]`: PgBouncer in front of real PostgreSQL from BINDIR
//!   ([`backend`]), configured from each set-up where PgBouncer has the concept.
//! - `pgpool[:BINDIR][@VERSION]`: pgpool-II in raw mode in front of real PostgreSQL from
//!   BINDIR, configured from each set-up where pgpool has the concept.
//! - `pg-gateway[@VERSION]`: our Node server on the npm `pg-gateway` package, no backend
//!   (judged as 15 by default), configured from each set-up where Node's TLS or pg-gateway
//!   has the concept.
//! - `pgwire[@VERSION]`: our server on the crates.io `pgwire` crate with rustls
//!   (`products/pgwire-server`), no backend (judged as 15 by default), configured from each
//!   set-up where rustls or pgwire has the concept.
//! - [`product`] (no target itself): what the four third-party targets share, from their
//!   specs and working directories to reading `postgresql.conf` and `pg_hba.conf` as a
//!   mapping does and reloading.

pub mod backend;
pub mod external;
pub mod pg_gateway;
pub mod pgbouncer;
pub mod pgpool;
pub mod pgwire;
pub mod postgres;
pub mod product;
pub mod reference;
pub mod spawned;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::Ids;

/// A server started for one set-up; stopped when dropped.
pub trait Running: Send + Sync {
    /// Where clients connect.
    fn addr(&self) -> SocketAddr;
    /// The server log so far, when the target exposes it.
    fn log(&self) -> Option<Vec<String>>;
    /// The Unix-domain socket, when the target has one the harness can reach.
    fn unix_socket(&self) -> Option<PathBuf> {
        None
    }
    /// The data directory and the user owning it, when the harness controls them.
    fn datadir(&self) -> Option<(PathBuf, Ids)> {
        None
    }
    /// Asks the server to reload its configuration (SIGHUP) and waits until it has.
    fn reload(&self) -> Result<(), Error> {
        Err(Error::SetupUnsupported(
            "a server the harness can reload".into(),
        ))
    }
}

/// Sends SIGHUP to `pid` and waits (up to five seconds) until `log` shows one more line
/// containing `marker` (PostgreSQL's `received SIGHUP`), then a little longer for the reload
/// to finish.
pub(crate) fn sighup_and_wait(
    pid: u32,
    marker: &str,
    log: &dyn Fn() -> Vec<String>,
) -> Result<(), Error> {
    let count = || log().iter().filter(|l| l.contains(marker)).count();
    let before = count();
    // SAFETY: kill(2) on a server this harness started.
    unsafe {
        libc::kill(pid as i32, libc::SIGHUP);
    }
    let start = std::time::Instant::now();
    while count() == before {
        if start.elapsed() > std::time::Duration::from_secs(5) {
            return Err(Error::TargetUnavailable {
                target: format!("pid {pid}"),
                why: "no reload logged within 5 s of SIGHUP".into(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    Ok(())
}

/// The outcome of starting a server with a set-up.
pub enum Started {
    /// It runs.
    Running(Box<dyn Running>),
    /// It refused to start.
    Refused {
        /// Its FATAL line(s), normalized: what the trace shows.
        fatal: Vec<String>,
        /// Every line it logged, as a running server's log reads, so the case's log
        /// expectations are checked on a refusal too.
        log: Vec<String>,
    },
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
    /// What the target is, for a run's header, when the label does not say it all (a
    /// product's version and what it runs in front of).
    fn describe(&self) -> Option<String> {
        None
    }
    /// For a target the harness cannot configure: how long (seconds) a timeout case waits
    /// for the server's own timeout to close it (`--wait`). With one, timeout cases run on
    /// it; without, they are not applicable.
    fn timeout_wait(&self) -> Option<u64> {
        None
    }
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
        let version = known_version(spec, v)?;
        return Ok(vec![Box::new(reference::Reference::new(version))]);
    }
    if let Some(bindir) = spec.strip_prefix("postgres:") {
        return Ok(vec![Box::new(postgres::Postgres::new(bindir.into())?)]);
    }
    if let Some(rest) = spec.strip_prefix("pgbouncer") {
        if rest.is_empty() || rest.starts_with([':', '@']) {
            return Ok(vec![Box::new(pgbouncer::Pgbouncer::parse(rest)?)]);
        }
    }
    if let Some(rest) = spec.strip_prefix("pgpool") {
        if rest.is_empty() || rest.starts_with([':', '@']) {
            return Ok(vec![Box::new(pgpool::Pgpool::parse(rest)?)]);
        }
    }
    if let Some(rest) = spec.strip_prefix("pg-gateway") {
        if rest.is_empty() || rest.starts_with('@') {
            return Ok(vec![Box::new(pg_gateway::PgGateway::parse(rest)?)]);
        }
    }
    if let Some(rest) = spec.strip_prefix("pgwire") {
        if rest.is_empty() || rest.starts_with('@') {
            return Ok(vec![Box::new(pgwire::Pgwire::parse(rest)?)]);
        }
    }
    if let Some(rest) = spec.strip_prefix("external:") {
        return Ok(vec![Box::new(external::External::parse(rest)?)]);
    }
    Err(Error::BadTarget(spec.into()))
}

/// As [`parse`], with `wait` (`--wait SECONDS`) given to `external:` targets: the bound on
/// how long a timeout case waits for the server's own timeout.
pub fn parse_waiting(spec: &str, wait: Option<u64>) -> Result<Vec<Box<dyn Target>>, Error> {
    match (spec.strip_prefix("external:"), wait) {
        (Some(rest), Some(secs)) => Ok(vec![Box::new(
            external::External::parse(rest)?.waiting(secs),
        )]),
        _ => parse(spec),
    }
}

/// The third-party products a target can name (`pgbouncer`, `pgpool` with a backend's
/// BINDIR; `pgwire`, `pg-gateway` without one).
pub const THIRD_PARTY: [&str; 4] = ["pgbouncer", "pgpool", "pgwire", "pg-gateway"];

/// Whether `spec` names a third-party target (`pgpool`, `pgpool:BINDIR@15`...): one judged
/// by a version it follows, which `--as` sets when the spec names none.
pub fn is_third_party(spec: &str) -> bool {
    THIRD_PARTY.iter().any(|product| {
        spec.strip_prefix(product)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '@']))
    })
}

/// The version `v` names in `spec`, or the error that lists the known ones.
pub(crate) fn known_version(spec: &str, v: &str) -> Result<Version, Error> {
    Version::parse(v).ok_or_else(|| Error::UnknownVersion {
        target: spec.into(),
        what: format!("version {v:?}"),
        known: Version::known(),
    })
}

/// As [`parse`], for generated scenarios: reference targets run embedded wherever the set-up
/// allows (see [`reference::Reference::embedded_where_possible`]).
pub fn parse_for_exploring(spec: &str) -> Result<Vec<Box<dyn Target>>, Error> {
    let versions: Vec<Version> = if spec == "reference" {
        Version::ALL.to_vec()
    } else if let Some(v) = spec.strip_prefix("reference:") {
        vec![known_version(spec, v)?]
    } else {
        return parse(spec);
    };
    Ok(versions
        .into_iter()
        .map(|v| {
            Box::new(reference::Reference::new(v).embedded_where_possible()) as Box<dyn Target>
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::is_third_party;

    #[test]
    fn third_party_specs_are_the_products_with_their_suffixes() {
        for spec in [
            "pgbouncer",
            "pgbouncer:/usr/lib/postgresql/15/bin",
            "pgpool@18",
            "pgwire",
            "pg-gateway@16",
        ] {
            assert!(is_third_party(spec), "{spec}");
        }
        for spec in [
            "reference:15",
            "postgres:/x",
            "external:h:1",
            "pgwirex",
            "pgpool2",
        ] {
            assert!(!is_third_party(spec), "{spec}");
        }
    }
}
