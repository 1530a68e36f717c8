//! The real `psql` (libpq) against the server under test: whether it is installed, and a
//! runner with no password prompt and no `~/.postgresql` files in the way.

use std::process::Command;

/// What psql did.
#[derive(Debug)]
pub struct Psql {
    pub ok: bool,
    pub out: String,
    pub err: String,
}

/// Whether psql is installed. Without it the calling test fails with the install hint,
/// unless `PGSSL_ALLOW_MISSING=1` (see [`missing`]).
pub fn have_psql() -> bool {
    let found = Command::new("psql").arg("--version").output().is_ok();
    if !found {
        missing("psql is not installed");
    }
    found
}

/// What a test needs is not there (`why`): the test fails with the install hint, so a green
/// run means it ran; with `PGSSL_ALLOW_MISSING=1` it returns instead, after a visible note,
/// and the caller skips.
pub fn missing(why: &str) {
    if std::env::var_os("PGSSL_ALLOW_MISSING").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED (PGSSL_ALLOW_MISSING=1): {why}");
        return;
    }
    panic!("{why}: run scripts/install-deps (as root); PGSSL_ALLOW_MISSING=1 skips instead");
}

/// Runs `psql -XAt` with `conninfo` and each query as a `-c`, with no password prompt and
/// no ~/.postgresql files in the way.
pub fn psql(conninfo: &str, queries: &[&str]) -> Psql {
    let home = tempfile::tempdir().expect("a HOME for psql");
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
        .arg(conninfo)
        .env("HOME", home.path())
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGPASSWORD")
        .env_remove("PGSSLMODE");
    for q in queries {
        cmd.args(["-c", q]);
    }
    let out = cmd.output().expect("psql");
    Psql {
        ok: out.status.success(),
        out: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        err: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

/// `host=127.0.0.1 port=P` plus `rest`.
pub fn conninfo(port: u16, rest: &str) -> String {
    format!("host=127.0.0.1 port={port} {rest}")
}
