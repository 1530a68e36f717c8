//! The rustls server configuration from the `[tls]` table, built as pgwire's
//! `examples/secure_server.rs` builds it (a single certificate, ALPN `postgresql`) plus what
//! the file sets: protocol range, key-exchange groups, cipher-suite order, and client
//! certificates requested and verified by rustls' `WebPkiClientVerifier` with the CRLs.
//!
//! The files are read as any rustls service reads them: no owner or permission checks on
//! the key (pgwire's examples have none).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, aws_lc_rs};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::config::{Tls, TlsVersion};
use crate::error::Error;

/// pgwire's ALPN protocol name for direct SSL (`POSTGRESQL_ALPN_NAME`, not exported).
const ALPN: &[u8] = b"postgresql";

/// The acceptor `process_socket` is given, and a one-line summary for the log.
pub fn acceptor(tls: &Tls) -> Result<(TlsAcceptor, String), Error> {
    let provider = Arc::new(provider(tls.groups.as_deref())?);
    let versions = tls.versions()?;
    let range = match (versions.first(), versions.last()) {
        (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
        _ => "none".to_owned(),
    };
    let protocol: Vec<&'static SupportedProtocolVersion> = versions
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&protocol)
        .map_err(|source| Error::Tls {
            what: format!(
                "protocol versions from {} to {}{}",
                tls.min_version.as_deref().unwrap_or("1.2"),
                tls.max_version.as_deref().unwrap_or("1.3"),
                if versions.is_empty() {
                    " (none: tls.min_version is above tls.max_version)"
                } else {
                    ""
                }
            ),
            source,
        })?;
    let crls = crls(tls)?;
    let builder = match &tls.ca_file {
        Some(ca) => builder.with_client_cert_verifier(verifier(ca, crls, provider)?),
        None => builder.with_no_client_auth(),
    };
    let chain = certificates("certificate", &tls.cert_file)?;
    let key = private_key(&tls.key_file)?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|source| Error::Tls {
            what: format!(
                "certificate {} with key {}",
                tls.cert_file.display(),
                tls.key_file.display()
            ),
            source,
        })?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.ignore_client_order = tls.prefer_server_ciphers;
    let summary = format!(
        "TLS {range}, client certificates {}",
        if tls.ca_file.is_some() {
            "requested"
        } else {
            "not requested"
        }
    );
    Ok((TlsAcceptor::from(Arc::new(config)), summary))
}

/// aws-lc-rs (pgwire's default provider) with the named key-exchange groups, in order.
fn provider(groups: Option<&[String]>) -> Result<CryptoProvider, Error> {
    let mut provider = aws_lc_rs::default_provider();
    let Some(names) = groups else {
        return Ok(provider);
    };
    let known = aws_lc_rs::ALL_KX_GROUPS;
    let name = |g: &&dyn SupportedKxGroup| format!("{:?}", g.name());
    let mut chosen = Vec::with_capacity(names.len());
    for wanted in names {
        let group = known
            .iter()
            .find(|g| name(g).eq_ignore_ascii_case(wanted))
            .ok_or_else(|| Error::BadSetting {
                setting: "tls.groups",
                why: format!(
                    "{wanted:?} is not a key-exchange group rustls knows (known: {})",
                    known.iter().map(name).collect::<Vec<_>>().join(", ")
                ),
            })?;
        chosen.push(*group);
    }
    if chosen.is_empty() {
        return Err(Error::BadSetting {
            setting: "tls.groups",
            why: "an empty list leaves no key exchange: name at least one group".into(),
        });
    }
    provider.kx_groups = chosen;
    Ok(provider)
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::ReadFile {
        what,
        path: path.to_owned(),
        source,
    })
}

fn pem_error(what: &'static str, path: &Path, e: pem::Error) -> Error {
    let why = match e {
        pem::Error::NoItemsFound => match what {
            "private key" => "no unencrypted PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) in it".to_owned(),
            "CA" => "no PEM certificate in it".to_owned(),
            _ => format!("no PEM {what} in it"),
        },
        other => other.to_string(),
    };
    Error::Pem {
        what,
        path: path.to_owned(),
        why,
    }
}

/// Every certificate in a PEM file (`what`: the certificate or the CA file); none is an
/// error.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, path, e))?;
    if certs.is_empty() {
        return Err(pem_error(what, path, pem::Error::NoItemsFound));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let what = "private key";
    let bytes = read(what, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| pem_error(what, path, e))
}

/// The CRLs of `crl_files` and of every regular file in `crl_dir` (in name order).
fn crls(tls: &Tls) -> Result<Vec<CertificateRevocationListDer<'static>>, Error> {
    let mut files: Vec<PathBuf> = tls.crl_files.clone();
    if let Some(dir) = &tls.crl_dir {
        let listing = |source| Error::ReadDir {
            path: dir.clone(),
            source,
        };
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(listing)? {
            let path = entry.map_err(listing)?.path();
            if path.is_file() {
                entries.push(path);
            }
        }
        entries.sort();
        files.extend(entries);
    }
    let what = "CRL";
    let mut out = Vec::new();
    for path in &files {
        let bytes = read(what, path)?;
        let found = CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(what, path, e))?;
        if found.is_empty() {
            return Err(pem_error(what, path, pem::Error::NoItemsFound));
        }
        out.extend(found);
    }
    Ok(out)
}

/// Client certificates requested (not required: a client without one goes on, as with
/// PostgreSQL's `ssl_ca_file`) and verified against the roots in `ca`, with the CRLs.
fn verifier(
    ca: &Path,
    crls: Vec<CertificateRevocationListDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, Error> {
    let mut roots = RootCertStore::empty();
    for cert in certificates("CA", ca)? {
        roots.add(cert).map_err(|source| Error::Tls {
            what: format!("CA file {}", ca.display()),
            source,
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .with_crls(crls)
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Verifier {
            ca: ca.to_owned(),
            why: e.to_string(),
        })
}
