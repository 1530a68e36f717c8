//! Materializing a case's set-up: a data directory with the harness defaults (a fresh server
//! certificate, `ssl = on`) plus the case's own `postgresql.conf` lines.

use std::path::Path;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use pgssl_pki::{CertBuilder, Identity, KeyType, San};

use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;

use crate::case::{CertKind, FileOp, Owner, Setup};
use crate::error::Error;

/// The settings every case starts from; a case's own lines come after and win.
pub const DEFAULT_CONF: &[&str] = &["ssl = on", "log_connections = on"];

/// The `postgresql.conf` lines of a set-up: defaults, then the case's.
pub fn conf_lines(setup: &Setup) -> Vec<String> {
    DEFAULT_CONF
        .iter()
        .map(|s| (*s).to_owned())
        .chain(setup.conf.iter().cloned())
        .collect()
}

/// Splits `name = value` (quotes removed) the way postgresql.conf reads a simple line.
pub fn split_conf_line(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once('=')?;
    let value = value.trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .map_or(value.to_owned(), |v| v.replace("''", "'"));
    Some((name.trim().to_owned(), value))
}

/// A self-signed server certificate for CN=localhost with SANs localhost and 127.0.0.1
/// (serial 1, valid from now for 30 days), made by the `pgssl-pki` factory.
pub fn server_certificate(kind: CertKind) -> Result<(X509, PKey<Private>), Error> {
    let key_type = match kind {
        CertKind::Ec => KeyType::P256,
        CertKind::Rsa => KeyType::Rsa2048,
    };
    let Identity { cert, key } = CertBuilder::common_name("localhost")
        .key_type(key_type)
        .serial(1)
        .valid_days(30)
        .subject_alt_names(&[San::Dns("localhost"), San::Ip("127.0.0.1")])
        .build()?;
    Ok((cert, key))
}

/// The server certificate and key of each type, made once per process: every data directory
/// gets the same pair (RSA key generation alone costs tens of milliseconds).
fn cached_server_certificate(kind: CertKind) -> Result<&'static (X509, PKey<Private>), Error> {
    static EC: OnceLock<(X509, PKey<Private>)> = OnceLock::new();
    static RSA: OnceLock<(X509, PKey<Private>)> = OnceLock::new();
    let cell = match kind {
        CertKind::Ec => &EC,
        CertKind::Rsa => &RSA,
    };
    if let Some(pair) = cell.get() {
        return Ok(pair);
    }
    let pair = server_certificate(kind)?;
    Ok(cell.get_or_init(|| pair))
}

/// Writes `server.crt` and `server.key` (0600) into `dir`.
pub fn write_server_files(dir: &Path, kind: CertKind) -> Result<(), Error> {
    let (cert, key) = cached_server_certificate(kind)?;
    let crt = dir.join("server.crt");
    std::fs::write(&crt, cert.to_pem()?).map_err(|e| Error::io("writing", &crt, e))?;
    let key_path = dir.join("server.key");
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8()?)
        .map_err(|e| Error::io("writing", &key_path, e))?;
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io("setting permissions on", &key_path, e))?;
    Ok(())
}

/// The default `pg_hba.conf`: trust everything local.
pub const DEFAULT_HBA: &str =
    "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n";

/// The test PKI, generated once per process into a temporary directory.
pub fn pki() -> Result<&'static pgssl_pki::Pki, Error> {
    static PKI: OnceLock<Result<(pgssl_pki::Pki, tempfile::TempDir), String>> = OnceLock::new();
    let made = PKI.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("pgssl-conform-pki-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let pki = pgssl_pki::generate(dir.path()).map_err(|e| e.to_string())?;
        Ok((pki, dir))
    });
    match made {
        Ok((pki, _)) => Ok(pki),
        Err(e) => Err(Error::PkiFailed(e.clone())),
    }
}

/// uid and gid.
pub type Ids = (u32, u32);

/// The user the harness runs as.
pub fn current_ids() -> Ids {
    // SAFETY: getters without preconditions.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Writes the data directory files of `setup` into `dir` (which exists): certificate and key,
/// `pg_hba.conf`, `pg_ident.conf`, then the case's file changes. `server` is who the server runs
/// as; every file is given to it before the changes, which may give files to others.
/// `postgresql_conf` is the text the target wants (it knows its own listen settings).
pub fn write_data_directory(
    setup: &Setup,
    dir: &Path,
    server: Ids,
    postgresql_conf: Option<&str>,
) -> Result<(), Error> {
    write_server_files(dir, setup.cert)?;
    let write = |name: &str, text: &str| -> Result<(), Error> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io("writing", &path, e))
    };
    if let Some(conf) = postgresql_conf {
        write("postgresql.conf", conf)?;
    }
    let hba = setup
        .hba
        .as_ref()
        .map_or(DEFAULT_HBA.to_owned(), |lines| lines.join("\n") + "\n");
    write("pg_hba.conf", &hba)?;
    let ident = setup.ident.join("\n") + "\n";
    write("pg_ident.conf", &ident)?;
    chown_tree(dir, server)?;
    apply_file_ops(&setup.files, dir, server)
}

/// Applies file changes to a data directory whose server runs as `server`.
pub fn apply_file_ops(ops: &[FileOp], dir: &Path, server: Ids) -> Result<(), Error> {
    let write = |name: &str, text: &str| -> Result<(), Error> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io("writing", &path, e))
    };
    let datadir = dir.display().to_string();
    for op in ops {
        match op {
            FileOp::Write { path, text } => {
                write(path, &text.replace("{datadir}", &datadir))?;
                chown(&dir.join(path), server)?;
            }
            FileOp::Append { path, line } => {
                let p = dir.join(path);
                let mut text =
                    std::fs::read_to_string(&p).map_err(|e| Error::io("reading", &p, e))?;
                if !text.ends_with('\n') && !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&line.replace("{datadir}", &datadir));
                text.push('\n');
                write(path, &text)?;
            }
            FileOp::Remove(path) => {
                let p = dir.join(path);
                std::fs::remove_file(&p).map_err(|e| Error::io("removing", &p, e))?;
            }
            FileOp::Dir(path) => {
                let p = dir.join(path);
                let _ = std::fs::remove_file(&p);
                std::fs::create_dir(&p).map_err(|e| Error::io("creating", &p, e))?;
                chown(&p, server)?;
            }
            FileOp::Pki { file, to } => {
                let from = pki()?.path(file);
                let p = dir.join(to);
                if from.is_dir() {
                    std::fs::create_dir_all(&p).map_err(|e| Error::io("creating", &p, e))?;
                    for entry in
                        std::fs::read_dir(&from).map_err(|e| Error::io("reading", &from, e))?
                    {
                        let entry = entry.map_err(|e| Error::io("reading", &from, e))?;
                        let target = p.join(entry.file_name());
                        std::fs::copy(entry.path(), &target)
                            .map_err(|e| Error::io("copying to", &target, e))?;
                    }
                    chown_tree(&p, server)?;
                } else {
                    std::fs::copy(&from, &p).map_err(|e| Error::io("copying to", &p, e))?;
                    chown(&p, server)?;
                }
            }
            FileOp::Chmod { path, mode } => {
                let p = dir.join(path);
                let bits = u32::from_str_radix(mode.trim_start_matches("0o"), 8)
                    .map_err(|_| Error::BadFileMode(mode.clone()))?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(bits))
                    .map_err(|e| Error::io("setting permissions on", &p, e))?;
            }
            FileOp::Chown { path, owner } => {
                let ids = match owner {
                    Owner::Server => server,
                    Owner::Root => (0, server.1),
                    Owner::RootRoot => (0, 0),
                    Owner::Nobody => (65_534, 65_534),
                };
                if current_ids().0 != 0 && ids != server {
                    return Err(Error::SetupUnsupported(format!(
                        "root to give {path} another owner ({owner:?})"
                    )));
                }
                chown(&dir.join(path), ids)?;
            }
        }
    }
    Ok(())
}

fn chown(path: &Path, (uid, gid): Ids) -> Result<(), Error> {
    // Without root, files can only stay with the harness's user.
    if current_ids().0 != 0 && current_ids() == (uid, gid) {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| Error::io("chown", path, e))
}

/// Gives a directory tree to `ids`.
pub fn chown_tree(path: &Path, ids: Ids) -> Result<(), Error> {
    chown(path, ids)?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| Error::io("reading", path, e))? {
            let entry = entry.map_err(|e| Error::io("reading", path, e))?;
            chown_tree(&entry.path(), ids)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_lines_split() {
        assert_eq!(
            split_conf_line("ssl = on"),
            Some(("ssl".into(), "on".into()))
        );
        assert_eq!(
            split_conf_line("ssl_ciphers = 'NULL-SHA:@SECLEVEL=0'"),
            Some(("ssl_ciphers".into(), "NULL-SHA:@SECLEVEL=0".into()))
        );
        assert_eq!(split_conf_line("nonsense"), None);
    }
}
