//! The server's one error type: everything that stops it from starting (or a reload from
//! taking effect), each message naming the file or setting to fix.

use std::path::PathBuf;

use pgwire::tokio::tokio_rustls::rustls;

/// Why the server cannot start, or why a reload keeps the previous configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong.
    #[error("{0}; usage: pgssl-pgwire-server CONFIG.toml | --version | --help")]
    Usage(String),
    /// The configuration file cannot be read.
    #[error("cannot read the configuration file {}: {source}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has a wrong or unknown setting.
    #[error("configuration file {}: {message}", path.display())]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the setting and line).
        message: String,
    },
    /// A setting's value is not one the server accepts.
    #[error("configuration setting {setting}: {why}")]
    BadSetting {
        /// The setting, e.g. `tls.min_version`.
        setting: &'static str,
        /// What is wrong and what is accepted.
        why: String,
    },
    /// A certificate, key, CA or CRL file cannot be read.
    #[error("cannot read the {what} file {}: {source}", path.display())]
    ReadFile {
        /// Which file it is (`certificate`, `private key`, `CA`, `CRL`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A CRL directory cannot be listed.
    #[error("cannot list the CRL directory {}: {source}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file holds no PEM item of the kind it should, or a malformed one.
    #[error("{} holds no usable {what}: {why}", path.display())]
    Pem {
        /// What it should hold (`certificate`, `private key`, `CRL`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the PEM reader found.
        why: String,
    },
    /// rustls refused what it was given (a key that does not match the certificate, no
    /// usable protocol version, a CA it cannot use as a trust anchor ...).
    #[error("TLS configuration: {what}: {source}")]
    Tls {
        /// What was being configured.
        what: String,
        /// rustls's reason.
        source: rustls::Error,
    },
    /// The client-certificate verifier cannot be built from the CA and CRL files.
    #[error("client certificate verification (tls.ca_file {}): {why}", ca.display())]
    Verifier {
        /// The CA file.
        ca: PathBuf,
        /// rustls's reason.
        why: String,
    },
    /// A listening address cannot be bound.
    #[error("could not listen on {address}: {source}")]
    Listen {
        /// The address or socket path.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The async runtime or a signal handler could not be set up.
    #[error("could not start the server's runtime ({what}): {source}")]
    Runtime {
        /// What failed.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The pgwire version cannot be read from the crate.
    #[error(
        "pgwire's default server_version {0:?} does not end in -pgwire-VERSION, so the crate's version cannot be told"
    )]
    PgwireVersion(String),
}
