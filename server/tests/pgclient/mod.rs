//! Helpers for the tests that drive the server with the real `psql` (libpq 15) using
//! PostgreSQL's SSL test hierarchy (`pgssl-pki`): data directories laid out as SSL/Server.pm
//! lays them out, client keys copied with the modes libpq insists on, and a psql runner.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::datadir::Data;

/// The pg_hba.conf of PostgreSQL's SSL tests (SSL/Server.pm) with `trust`, plus rows for the
/// sslmode tests (`hostnossl`) and the `reject` and `password` methods.
pub const SERVER_PM_HBA: &str = "\
hostssl trustdb      all            127.0.0.1/32 trust
hostssl verifydb     ssltestuser    127.0.0.1/32 trust clientcert=verify-full
hostssl verifydb     anotheruser    127.0.0.1/32 trust clientcert=verify-full
hostssl verifydb     yetanotheruser 127.0.0.1/32 trust clientcert=verify-ca
hostssl certdb       all            127.0.0.1/32 cert
hostssl certdb_dn    all 127.0.0.1/32 cert clientname=DN map=dn
hostssl certdb_dn_re all 127.0.0.1/32 cert clientname=DN map=dnre
hostssl certdb_cn    all 127.0.0.1/32 cert clientname=CN map=cn
hostnossl nossldb    all            127.0.0.1/32 trust
host    anydb        all            127.0.0.1/32 trust
host    rejectdb     all            127.0.0.1/32 reject
host    passworddb   all            127.0.0.1/32 password
";

/// The pg_ident.conf maps of SSL/Server.pm.
pub const SERVER_PM_IDENT: &str = "\
dn   \"CN=ssltestuser-dn,OU=Testing,OU=Engineering,O=PGDG\" ssltestuser
dnre \"/^.*OU=Testing,.*$\" ssltestuser
cn   ssltestuser-dn ssltestuser
";

static PKI_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Removes the PKI directory when the test binary exits (statics are never dropped).
extern "C" fn remove_pki_dir() {
    if let Some(dir) = PKI_DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The test PKI, generated once per test binary and removed when it exits.
pub fn pki() -> &'static pgssl_pki::Pki {
    static PKI: OnceLock<pgssl_pki::Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("pgssl-test-pki-")
            .tempdir_in("/var/tmp")
            .unwrap()
            .keep();
        let _ = PKI_DIR.set(dir.clone());
        // SAFETY: registers a plain function with no preconditions.
        unsafe { libc::atexit(remove_pki_dir) };
        pgssl_pki::generate(&dir).expect("pki")
    })
}

/// Copies PKI files into `data` (keys with mode 0600).
pub fn copy_pki(data: &Data, files: &[&str]) {
    for f in files {
        let bytes = std::fs::read(pki().path(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        if f.ends_with(".key") {
            data.write_mode(f, &bytes, 0o600);
        } else {
            data.write(f, &bytes);
        }
    }
}

/// A data directory with the `server-cn-only` certificate as server.crt/server.key, the CA
/// and CRL files of Server.pm, and these pg_hba.conf and pg_ident.conf.
pub fn ssl_data(hba: &str, ident: &str) -> Data {
    let data = Data::empty();
    copy_pki(
        &data,
        &[
            "root+client_ca.crt",
            "root+client.crl",
            "root_ca.crt",
            "client_ca.crt",
            "server_ca.crt",
        ],
    );
    let cert = std::fs::read(pki().path("server-cn-only.crt")).unwrap();
    let key = std::fs::read(pki().path("server-cn-only.key")).unwrap();
    data.write("server.crt", &cert);
    data.write_mode("server.key", &key, 0o600);
    data.write("pg_hba.conf", hba.as_bytes());
    data.write("pg_ident.conf", ident.as_bytes());
    data
}

/// The settings of Server.pm's `switch_server_cert` (the CA store and CRL) for a profile.
pub fn server_pm_settings(profile: &str) -> Vec<String> {
    vec![
        "ssl=on".into(),
        format!("pgssl.profile={profile}"),
        "ssl_ca_file=root+client_ca.crt".into(),
        "ssl_crl_file=root+client.crl".into(),
        "log_connections=on".into(),
    ]
}

/// A private copy of a client key (libpq refuses group- or world-readable keys).
pub struct ClientKeys {
    dir: tempfile::TempDir,
}

impl ClientKeys {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The path of `name` from the PKI, copied with mode 0600.
    pub fn key(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if !path.exists() {
            std::fs::copy(pki().path(name), &path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }

    /// `sslcert=... sslkey=...` for the PKI's `name`.crt / `name`.key.
    pub fn cert_args(&self, name: &str) -> String {
        format!(
            "sslcert={} sslkey={}",
            pki().path(&format!("{name}.crt")).display(),
            self.key(&format!("{name}.key")).display()
        )
    }
}

/// What psql did.
#[derive(Debug)]
pub struct Psql {
    pub ok: bool,
    pub out: String,
    pub err: String,
}

/// Whether psql is installed (CI must have it).
pub fn have_psql() -> bool {
    let found = Command::new("psql").arg("--version").output().is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "psql is required in CI");
        eprintln!("SKIPPED: psql is not installed");
    }
    found
}

/// Runs `psql -XAt` with `conninfo` and each query as a `-c`, with no password prompt and
/// no ~/.postgresql files in the way.
pub fn psql(conninfo: &str, queries: &[&str]) -> Psql {
    let home = tempfile::tempdir().unwrap();
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

/// The root certificate a client needs to verify `server-cn-only` (issued by server_ca).
pub fn server_root() -> PathBuf {
    pki().path("root+server_ca.crt")
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
