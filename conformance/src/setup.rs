//! Materializing a case's set-up: a data directory with the harness defaults (a fresh server
//! certificate, `ssl = on`) plus the case's own `postgresql.conf` lines.

use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509, X509NameBuilder};

use crate::case::{CertKind, Setup};
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

/// A self-signed server certificate for CN=localhost with SANs localhost and 127.0.0.1.
pub fn server_certificate(kind: CertKind) -> Result<(X509, PKey<Private>), Error> {
    let key = match kind {
        CertKind::Ec => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
        CertKind::Rsa => PKey::from_rsa(Rsa::generate(2048)?)?,
    };
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "localhost")?;
    let name = name.build();
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let serial = BigNum::from_u32(1)?.to_asn1_integer()?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(30)?);
    cert.set_not_before(&not_before)?;
    cert.set_not_after(&not_after)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&cert.x509v3_context(None, None))?;
    cert.append_extension(san)?;
    cert.sign(&key, MessageDigest::sha256())?;
    Ok((cert.build(), key))
}

/// Writes `server.crt` and `server.key` (0600) into `dir`.
pub fn write_server_files(dir: &Path, kind: CertKind) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let (cert, key) = server_certificate(kind)?;
    let crt = dir.join("server.crt");
    std::fs::write(&crt, cert.to_pem()?).map_err(|e| Error::io("writing", &crt, e))?;
    let key_path = dir.join("server.key");
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8()?)
        .map_err(|e| Error::io("writing", &key_path, e))?;
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io("setting permissions on", &key_path, e))?;
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
