//! The harness's error type: what can stop a run (a bad case file, a target that cannot be
//! started, a missing tool), each saying what to fix.

use std::path::PathBuf;

/// Why the harness could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A case file does not parse.
    #[error("case file {file}: {message}")]
    CaseFile {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A case is malformed.
    #[error("case {id}: {why}")]
    InvalidCase {
        /// The case id.
        id: String,
        /// What is wrong.
        why: String,
    },
    /// Two cases share an id.
    #[error("duplicate case id {0}")]
    DuplicateCase(String),
    /// A `--target` that does not parse.
    #[error(
        "unknown target {0:?}: use reference, reference:VERSION, postgres:BINDIR, external:HOST:PORT[@VERSION], pgbouncer[:BINDIR][@VERSION], pgpool[:BINDIR][@VERSION], pgwire[@VERSION] or pg-gateway[@VERSION]"
    )]
    BadTarget(String),
    /// A version the suite has no expectations for: named in a target, or reported by a
    /// server or its binaries.
    #[error("target {target}: {what} is not a version the suite knows (known: {known})")]
    UnknownVersion {
        /// The target as given.
        target: String,
        /// What was found (`version "12"`, `PostgreSQL 12.22 (from bin/postgres --version)`).
        what: String,
        /// The versions that are known.
        known: String,
    },
    /// A `PGSSL_EXPLORE_SEED` or `--seed` that is not a number.
    #[error("seed {0:?} is not a number: give it in decimal or as 0x followed by hex digits")]
    BadSeed(String),
    /// A target that cannot be started or reached.
    #[error("target {target} cannot be used: {why}")]
    TargetUnavailable {
        /// The target.
        target: String,
        /// Why.
        why: String,
    },
    /// A file or directory operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `pgssl-conform matrix` was given no target.
    #[error(
        "matrix and report need at least one --target: give --target reference (every profile), or one postgres:BINDIR, external:HOST:PORT@VERSION or pgbouncer target per version"
    )]
    MatrixNoTargets,
    /// Two targets of a matrix behave as the same version, so they would share a column.
    #[error(
        "targets {first} and {second} both claim version {version}: a matrix has one column per version, so give one target per version"
    )]
    MatrixDuplicateVersion {
        /// The version both claim.
        version: String,
        /// The first target's label.
        first: String,
        /// The second target's label.
        second: String,
    },
    /// `--filter` selects no case.
    #[error("--filter {0:?} matches no case id: `pgssl-conform list` shows the ids")]
    NoCaseMatches(String),
    /// The output directory of `matrix` or `report` cannot be created or written.
    #[error(
        "cannot write the matrix or report to {}: {source}; give --out a directory that can be created and written",
        path.display()
    )]
    MatrixOutput {
        /// The `--out` directory, or the file in it.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A set-up the harness cannot build as the user it runs as (file owners need root): the
    /// only start failure reported as "not applicable"; every other one is an error.
    #[error("set-up needs {0}")]
    SetupUnsupported(String),
    /// A case's set-up that a third-party product has no equivalent for (a setting, an
    /// hba.conf construct, a file): the case is not applicable to it, with this reason.
    #[error("{product} cannot be given this set-up: {why}")]
    Unmappable {
        /// The product and version, e.g. `PgBouncer 1.18.0`.
        product: String,
        /// What has no equivalent, e.g. `it has no ssl_passphrase_command`.
        why: String,
    },
    /// A third-party product refused the configuration the harness wrote for a default
    /// set-up: the harness's mapping, or the product's installation, is wrong.
    #[error("{product} did not start with {}: {why}; its log ends:\n{log_tail}", config.display())]
    ProductFailed {
        /// The product and version.
        product: String,
        /// The configuration file written for it.
        config: PathBuf,
        /// What went wrong.
        why: String,
        /// The last lines of its log.
        log_tail: String,
    },
    /// The test PKI could not be generated.
    #[error("test PKI: {0}")]
    Pki(#[from] pgssl_pki::Error),
    /// The test PKI could not be generated (reported again to every later user).
    #[error("test PKI could not be generated: {0}")]
    PkiFailed(String),
    /// A case's `chmod` mode that is not octal.
    #[error("file mode {0:?} is not octal digits (\"0600\")")]
    BadFileMode(String),
    /// The TLS library failed while generating test material.
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}

impl Error {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
