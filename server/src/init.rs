//! `pgssl-server init -D DIR`: a new data directory, the seed's §17.8.3 in one command — a
//! commented `postgresql.conf` listing every setting pgssl uses with its default, a
//! `pg_hba.conf` that trusts loopback, an empty `pg_ident.conf`, and a self-signed P-256
//! certificate (SANs `localhost`, `127.0.0.1`, `::1`) with its key written 0600.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509NameBuilder};

use crate::config::Settings;
use crate::config::file::quote_value;
use crate::error::{Error, strerror};
use crate::profile::Profile;

/// Days the generated certificate is valid.
pub const CERT_DAYS: u32 = 3650;

/// Creates the data directory `dir` for `profile`. An existing empty directory is used; an
/// existing non-empty one is refused.
pub fn init(dir: &Path, profile: Profile) -> Result<(), Error> {
    let init_error = |message: String| Error::Init { message };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(init_error(format!(
                    "directory \"{}\" exists but is not empty; remove it or choose another to create a new data directory",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                init_error(format!(
                    "could not create directory \"{}\": {}",
                    dir.display(),
                    strerror(&e)
                ))
            })?,
        Err(e) => {
            return Err(init_error(format!(
                "could not access directory \"{}\": {}",
                dir.display(),
                strerror(&e)
            )));
        }
    }
    let defaults = Settings::defaults(dir, profile);
    let (key, cert) = self_signed().map_err(|e| {
        init_error(format!(
            "could not create the server certificate: {}",
            crate::files::first_reason(&e)
        ))
    })?;
    let pem = |r: Result<Vec<u8>, openssl::error::ErrorStack>| {
        r.map_err(|e| {
            init_error(format!(
                "could not encode PEM: {}",
                crate::files::first_reason(&e)
            ))
        })
    };
    let key_pem = pem(key.private_key_to_pem_pkcs8())?;
    let cert_pem = pem(cert.to_pem())?;
    write_atomically(dir, "server.key", &key_pem, 0o600)?;
    write_atomically(dir, "server.crt", &cert_pem, 0o644)?;
    write_atomically(
        dir,
        "postgresql.conf",
        postgresql_conf(&defaults).as_bytes(),
        0o600,
    )?;
    write_atomically(dir, "pg_hba.conf", PG_HBA.as_bytes(), 0o600)?;
    write_atomically(dir, "pg_ident.conf", PG_IDENT.as_bytes(), 0o600)?;
    Ok(())
}

/// The `pg_hba.conf` `init` writes: trust on the Unix socket and loopback.
pub const PG_HBA: &str = "\
# pg_hba.conf written by pgssl-server init: trust on loopback only.
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
";

/// The empty `pg_ident.conf` `init` writes.
pub const PG_IDENT: &str = "\
# pg_ident.conf written by pgssl-server init (no maps).
# MAPNAME       SYSTEM-USERNAME         PG-USERNAME
";

/// A `postgresql.conf` listing each setting pgssl uses, commented out with its default, except
/// `pgssl.profile` and `ssl = on`, which are set.
pub fn postgresql_conf(defaults: &Settings) -> String {
    let mut out = String::from(
        "# postgresql.conf written by pgssl-server init.\n\
         # Every setting pgssl uses, with its default; the command line (-c) wins over this file.\n\
         # Relative file names are relative to the data directory.\n\n",
    );
    for name in defaults.supported_names() {
        let value = defaults.show(name).unwrap_or_default();
        let line = match name {
            "pgssl.profile" => format!(
                "pgssl.profile = {}\t\t# seed, 13 … 18\n",
                quote_value(&value)
            ),
            "ssl" => "ssl = on\t\t\t\t# default off\n".to_owned(),
            _ => format!("#{name} = {}\n", conf_value(&value)),
        };
        out.push_str(&line);
    }
    out
}

/// A value as PostgreSQL's sample file writes it: numbers (with units) and booleans bare,
/// everything else quoted.
fn conf_value(value: &str) -> String {
    let numeric = value.starts_with(|c: char| c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_alphanumeric());
    if numeric || value == "on" || value == "off" {
        value.to_owned()
    } else {
        quote_value(value)
    }
}

/// A P-256 key and a self-signed certificate for `localhost`, `127.0.0.1` and `::1`, usable as
/// its own root (`sslrootcert`), as `openssl req -x509` makes them.
///
/// This is production code (`pgssl-server init`), so it keeps its own generator rather than
/// `pgssl_pki::CertBuilder`: `pgssl-pki` is test material and only a dev-dependency of this
/// crate, and this certificate's profile (a 128-bit serial, critical keyUsage
/// `digitalSignature, keyCertSign`) is the server's own contract with its users.
pub fn self_signed() -> Result<(PKey<Private>, X509), openssl::error::ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "localhost")?;
    let name = name.build();
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(128, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    let (not_before, not_after) = (
        Asn1Time::days_from_now(0)?,
        Asn1Time::days_from_now(CERT_DAYS)?,
    );
    cert.set_not_before(&not_before)?;
    cert.set_not_after(&not_after)?;
    cert.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    cert.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_cert_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&cert.x509v3_context(None, None))?;
    cert.append_extension(ski)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .ip("::1")
        .build(&cert.x509v3_context(None, None))?;
    cert.append_extension(san)?;
    cert.sign(&key, MessageDigest::sha256())?;
    Ok((key, cert.build()))
}

/// Writes `dir/name` through a temporary file created with `mode` and renamed into place, so
/// the file never exists with other permissions or partly written.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let target = dir.join(name);
    let temp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let failed = |what: &str, path: &Path, e: &std::io::Error| Error::Init {
        message: format!(
            "could not {what} file \"{}\": {}",
            path.display(),
            strerror(e)
        ),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(|e| failed("create", &temp, &e))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| failed("write", &temp, &e));
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    std::fs::rename(&temp, &target).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        failed("rename", &target, &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_lists_every_setting_and_parses_back() {
        let defaults = Settings::defaults("/d", Profile::Pg18);
        let text = postgresql_conf(&defaults);
        assert!(text.contains("pgssl.profile = '18'"));
        assert!(text.contains("#ssl_groups = 'X25519:prime256v1'"));
        assert!(!text.contains("ssl_ecdh_curve"));
        let parsed = crate::config::file::parse_str(
            &text,
            Path::new("/d/postgresql.conf"),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(parsed.items.len(), 2);
    }
}
