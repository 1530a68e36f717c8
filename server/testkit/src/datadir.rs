//! Data directories for the server under test: under /var/tmp (reachable by the `postgres`
//! user, unlike /root), with a permissive `pg_hba.conf`, a certificate, files of any mode and
//! owner; and the system users the tests run the server as.

use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};

use crate::certs::{Identity, ec_key};

/// The `pg_hba.conf` test data directories get: trust every connection (the server, like
/// PostgreSQL, refuses to start without one).
pub const PERMISSIVE_HBA: &str =
    "local all all trust\nhost all all 0.0.0.0/0 trust\nhost all all ::0/0 trust\n";

impl Default for Data {
    /// [`Data::new`].
    fn default() -> Self {
        Self::new()
    }
}

/// A data directory under /var/tmp (reachable by the `postgres` user, unlike /root).
pub struct Data {
    pub dir: tempfile::TempDir,
}

impl Data {
    /// A data directory, mode 0755, holding only a permissive `pg_hba.conf`.
    pub fn empty() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pgssl-test-")
            .tempdir_in("/var/tmp")
            .expect("data directory under /var/tmp");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the data directory");
        std::fs::write(dir.path().join("pg_hba.conf"), PERMISSIVE_HBA).expect("write pg_hba.conf");
        std::fs::write(dir.path().join("pg_ident.conf"), "").expect("write pg_ident.conf");
        Self { dir }
    }

    /// A data directory with `server.crt` and `server.key` (0600) for `identity`.
    pub fn with(identity: &Identity) -> Self {
        let data = Self::empty();
        data.write("server.crt", &identity.cert_pem());
        data.write_mode("server.key", &identity.key_pem(), 0o600);
        data
    }

    /// A data directory with a fresh P-256 `localhost` certificate.
    pub fn new() -> Self {
        Self::with(&Identity::self_signed("localhost", ec_key()))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.file(name), bytes).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    pub fn write_mode(&self, name: &str, bytes: &[u8], mode: u32) {
        let path = self.file(name);
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {name}: {e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {name}: {e}"));
    }

    pub fn chmod(&self, name: &str, mode: u32) {
        std::fs::set_permissions(self.file(name), std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {name}: {e}"));
    }

    pub fn chown(&self, name: &str, uid: u32, gid: u32) {
        chown(self.file(name), Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("chown {name}: {e}"));
    }

    pub fn conf(&self, text: &str) {
        self.write("postgresql.conf", text.as_bytes());
    }
}

/// The uid and gid of a system user, from /etc/passwd.
pub fn user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<_> = l.split(':').collect();
        if f.len() < 4 || f[0] != name {
            return None;
        }
        Some((f[2].parse().ok()?, f[3].parse().ok()?))
    })
}
