//! PostgreSQL's SSL test hierarchy (`pgssl-pki`), generated once per test binary, and data
//! directories and client keys laid out as its `SSL/Server.pm` lays them out.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::datadir::Data;

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
            .expect("PKI directory under /var/tmp")
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
    let cert = std::fs::read(pki().path("server-cn-only.crt")).expect("server-cn-only.crt");
    let key = std::fs::read(pki().path("server-cn-only.key")).expect("server-cn-only.key");
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

impl Default for ClientKeys {
    /// [`ClientKeys::new`].
    fn default() -> Self {
        Self::new()
    }
}

/// A private copy of a client key (libpq refuses group- or world-readable keys).
pub struct ClientKeys {
    dir: tempfile::TempDir,
}

impl ClientKeys {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("client key directory"),
        }
    }

    /// The path of `name` from the PKI, copied with mode 0600.
    pub fn key(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if !path.exists() {
            std::fs::copy(pki().path(name), &path).unwrap_or_else(|e| panic!("copy {name}: {e}"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("chmod {name}: {e}"));
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

/// The root certificate a client needs to verify `server-cn-only` (issued by server_ca).
pub fn server_root() -> PathBuf {
    pki().path("root+server_ca.crt")
}
