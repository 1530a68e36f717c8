//! `pgssl-pki`: the certificate hierarchy of PostgreSQL's `src/test/ssl` suite, generated with
//! OpenSSL into a directory, for the conformance suite, the server's tests and the fuzzers'
//! corpora.
//!
//! ```text
//! root_ca  (CN=Test root CA for PostgreSQL SSL regression test suite)
//! ├── server_ca  → server-cn-only, server-cn-and-alt-names, ..., server-no-names, server-revoked
//! └── client_ca  → client (CN=ssltestuser), client-dn, client-revoked, client_ext,
//!                  client-long, client-revoked-utf8
//! ```
//!
//! Names, subjects, extensions, serial numbers and validity dates are fixed, so everything a
//! server reports about a certificate (DN, serial, issuer) is the same on every run; only key
//! material differs. Keys are RSA 2048, as in PostgreSQL's suite.
//!
//! The crate is also the workspace's one certificate factory:
//!
//! - [`CertBuilder`] ([`factory`]): any certificate, self-signed or CA-signed, with the key
//!   type, subject, SANs, serial, validity and extensions a test, bench, fuzz seed or the
//!   conformance harness needs;
//! - [`revocation_list`] (`crl`): a CRL from a CA the factory made;
//! - [`der`]: a minimal DER writer for structures built by hand;
//! - `hierarchy`: PostgreSQL's hierarchy, made with the above ([`generate`], [`Pki`]).

mod crl;
pub mod der;
pub mod factory;
mod hierarchy;

pub use crl::revocation_list;
pub use factory::{CertBuilder, Identity, KeyType, San, encrypted_key_pem_refusing};
pub use hierarchy::{
    CLIENT_KEY_PASSPHRASE, NOT_AFTER, NOT_BEFORE, Pki, SERVER_KEY_PASSPHRASE,
    WRONG_SERVER_KEY_PASSPHRASE, generate,
};

use std::path::PathBuf;

/// Why a certificate, a CRL or the hierarchy could not be made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// OpenSSL failed.
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// A file could not be written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No encryption of a key made the given wrong passphrase fail at the padding check
    /// ([`encrypted_key_pem_refusing`]): the "wrong" passphrase is the right one.
    #[error("no encryption of the key refuses the passphrase {wrong:?}: is it the key's own?")]
    PassphraseNotRefused {
        /// The passphrase that was meant to be refused.
        wrong: String,
    },
    /// `openssl crl -hash` (used for hashed CRL directories) failed.
    #[error("openssl crl -hash failed for {}: {why}", path.display())]
    Hash {
        /// The CRL.
        path: PathBuf,
        /// Why.
        why: String,
    },
}
