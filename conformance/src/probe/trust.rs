//! Whether the server's chain verifies and names the host, against the CA file given with
//! `--ca` or else the system store (the report says which).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509StoreContext};

use crate::error::Error;

/// Where the system's trusted certificates are looked for, after `SSL_CERT_FILE`.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Where trust comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The `--ca` file.
    CaFile(PathBuf),
    /// The system's bundle at this path.
    System(PathBuf),
    /// OpenSSL's compiled-in default paths (no system bundle was found).
    OpenSslDefault,
}

impl Trust {
    /// `--ca FILE` if given, else the system bundle (`SSL_CERT_FILE`, then the usual paths).
    pub fn choose(ca: Option<&Path>) -> Self {
        if let Some(ca) = ca {
            return Self::CaFile(ca.to_owned());
        }
        let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
        from_env
            .into_iter()
            .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
            .find(|p| p.is_file())
            .map_or(Self::OpenSslDefault, Self::System)
    }

    /// The words the report uses.
    pub fn describe(&self) -> String {
        match self {
            Self::CaFile(p) => format!("the CA file {}", p.display()),
            Self::System(p) => format!("the system store {}", p.display()),
            Self::OpenSslDefault => "OpenSSL's default store".into(),
        }
    }
}

/// Whether the chain verifies, and whether it names the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The store used.
    pub trust: Trust,
    /// The name checked.
    pub name: String,
    /// `None` when the chain verifies; else OpenSSL's reason.
    pub chain_error: Option<String>,
    /// Whether the leaf names the host (checked with the leaf itself trusted).
    pub name_matches: bool,
}

/// Verifies `chain` (leaf first) against `trust`, for `name`. An unreadable `--ca` file is an
/// error; a chain that does not verify is a finding.
pub fn verify(chain: &[X509], trust: &Trust, name: &str) -> Result<Verification, Error> {
    let Some(leaf) = chain.first() else {
        return Err(Error::TargetUnavailable {
            target: name.into(),
            why: "the handshake completed without a server certificate to verify".into(),
        });
    };
    let mut store = X509StoreBuilder::new()?;
    match trust {
        Trust::CaFile(path) | Trust::System(path) => {
            let pem = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
            let certs = X509::stack_from_pem(&pem)?;
            if certs.is_empty() {
                return Err(Error::TargetUnavailable {
                    target: path.display().to_string(),
                    why:
                        "the CA file holds no PEM certificate; give --ca a file of PEM certificates"
                            .into(),
                });
            }
            for c in certs {
                // A bundle may list a certificate twice; that is no error.
                let _ = store.add_cert(c);
            }
        }
        Trust::OpenSslDefault => store.set_default_paths()?,
    }
    let store = store.build();
    let mut rest = Stack::new()?;
    for c in &chain[1..] {
        rest.push(c.clone())?;
    }
    let mut ctx = X509StoreContext::new()?;
    let chain_error = ctx.init(&store, leaf, &rest, |c| {
        Ok(if c.verify_cert()? {
            None
        } else {
            Some(c.error().error_string().to_owned())
        })
    })?;
    // The name alone: the leaf trusted as its own anchor, with the host check on.
    let mut own = X509StoreBuilder::new()?;
    own.add_cert(leaf.clone())?;
    let mut param = X509VerifyParam::new()?;
    param.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
    match name.parse::<IpAddr>() {
        Ok(ip) => param.set_ip(ip)?,
        Err(_) => param.set_host(name)?,
    }
    own.set_param(&param)?;
    let own = own.build();
    let none: Stack<X509> = Stack::new()?;
    let mut ctx = X509StoreContext::new()?;
    let name_matches = ctx.init(&own, leaf, &none, |c| c.verify_cert())?;
    Ok(Verification {
        trust: trust.clone(),
        name: name.into(),
        chain_error,
        name_matches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::certificate::info;

    #[test]
    fn a_generated_certificate_is_read_back_and_verified() {
        let (cert, _key) =
            crate::setup::server_certificate(crate::case::CertKind::Rsa).expect("certificate");
        let i = info(&cert).expect("info");
        assert_eq!((i.key_type.as_str(), i.key_bits), ("RSA", 2048));
        assert_eq!(i.san, ["DNS:localhost", "IP:127.0.0.1"]);
        assert_eq!(i.validity, "valid");
        assert_eq!(i.validity_days, 30);
        assert!(i.self_signed);
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.to_pem().expect("pem")).expect("write");
        let trust = Trust::choose(Some(&ca));
        let v = verify(std::slice::from_ref(&cert), &trust, "localhost").expect("verify");
        assert_eq!((v.chain_error.as_deref(), v.name_matches), (None, true));
        let v = verify(std::slice::from_ref(&cert), &trust, "db.example").expect("verify");
        assert_eq!((v.chain_error.as_deref(), v.name_matches), (None, false));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").expect("write");
        assert!(verify(&[cert], &Trust::CaFile(empty), "localhost").is_err());
    }
}
