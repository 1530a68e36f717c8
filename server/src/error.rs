//! The crate's error type: every way start-up, configuration or TLS set-up can fail, each
//! worded as PostgreSQL words it where PostgreSQL has the same failure.

use std::path::PathBuf;

use crate::log::LogRecord;
use crate::wire::Severity;

/// Why the server cannot start (or a reload cannot apply).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting name PostgreSQL does not know.
    #[error("unrecognized configuration parameter \"{name}\"")]
    UnknownSetting {
        /// The name as given.
        name: String,
    },
    /// A setting value that does not parse or is out of range.
    #[error("{message}")]
    InvalidSetting {
        /// The setting.
        name: String,
        /// PostgreSQL's message, e.g. `invalid value for parameter "ssl": "maybe"`.
        message: String,
        /// PostgreSQL's HINT, if it gives one.
        hint: Option<String>,
    },
    /// A name under a reserved prefix (`pgssl.`) that is not a pgssl setting.
    #[error("invalid configuration parameter name \"{name}\"")]
    ReservedPrefix {
        /// The name as given.
        name: String,
        /// The prefix.
        prefix: String,
    },
    /// `postgresql.conf` (or a file it includes) has errors: each was logged at LOG level,
    /// in order, before this FATAL summary.
    #[error("configuration file \"{}\" contains errors", file.display())]
    ConfigFile {
        /// The file PostgreSQL names: the last one with an error.
        file: PathBuf,
        /// The LOG records for each problem.
        problems: Vec<LogRecord>,
    },
    /// `pg_hba.conf` could not be loaded at start: each problem was logged (LOG with its
    /// CONTEXT line) before this FATAL, worded per profile (`could not load pg_hba.conf`).
    #[error("{message}")]
    HbaFile {
        /// The profile's FATAL text.
        message: String,
        /// The LOG records for each problem.
        problems: Vec<LogRecord>,
    },
    /// `pgssl-server init` cannot create the data directory.
    #[error("{message}")]
    Init {
        /// What went wrong.
        message: String,
    },
    /// A `-c` option without `=`.
    #[error("-c {0} requires a value")]
    MissingValue(String),
    /// The data directory is missing or unreadable.
    #[error("data directory \"{}\" does not exist", path.display())]
    NoDataDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The TLS context could not be built: certificate, key, ciphers, protocol range...
    #[error("{message}")]
    Tls {
        /// PostgreSQL's message (with the library's reason after `: ` where it has one).
        message: String,
        /// DETAIL line.
        detail: Option<String>,
        /// HINT line.
        hint: Option<String>,
    },
    /// A listen address could not be bound.
    #[error("could not bind {family} address \"{address}\": {reason}")]
    Bind {
        /// `IPv4`, `IPv6` or `Unix`.
        family: &'static str,
        /// The address.
        address: String,
        /// `strerror` text.
        reason: String,
    },
    /// No listener could be created at all.
    #[error("no socket created for listening")]
    NoListeners,
    /// A host name in `listen_addresses` that does not resolve.
    #[error("could not translate host name \"{host}\", service \"{port}\" to address: {reason}")]
    Resolve {
        /// The host name.
        host: String,
        /// The port.
        port: u16,
        /// The resolver's reason.
        reason: String,
    },
    /// The Unix socket's lock file names a live process: another server uses the socket
    /// (`CreateLockFile`). Stop it, or give this server another port or socket directory.
    #[error("lock file \"{}\" already exists", path.display())]
    LockFileExists {
        /// The lock file.
        path: PathBuf,
        /// The process id as the file gives it (negative: a standalone `postgres`).
        encoded_pid: i32,
        /// The socket it guards.
        socket: PathBuf,
    },
    /// The socket's lock file is empty: another server is starting, or one crashed while
    /// starting; remove the file if no server is using the socket.
    #[error("lock file \"{}\" is empty", path.display())]
    LockFileEmpty {
        /// The lock file.
        path: PathBuf,
    },
    /// The socket's lock file does not start with a process id; remove it by hand.
    #[error("bogus data in lock file \"{}\": \"{content}\"", path.display())]
    LockFileBogus {
        /// The lock file.
        path: PathBuf,
        /// What it holds.
        content: String,
    },
    /// A stale socket lock file could not be removed; remove it by hand.
    #[error("could not remove old lock file \"{}\": {reason}", path.display())]
    LockFileRemove {
        /// The lock file.
        path: PathBuf,
        /// `strerror` text.
        reason: String,
    },
    /// The socket's lock file could not be created, read or written (permissions on the
    /// socket directory, a full disk).
    #[error("could not {action} lock file \"{}\": {reason}", path.display())]
    LockFileIo {
        /// `create`, `read` or `write`, as in PostgreSQL's message.
        action: &'static str,
        /// The lock file.
        path: PathBuf,
        /// `strerror` text.
        reason: String,
    },
    /// Any other IO failure at start-up.
    #[error("{context}: {reason}")]
    Io {
        /// What was being done.
        context: String,
        /// `strerror` text.
        reason: String,
    },
}

impl Error {
    /// The error as PostgreSQL would log it at start-up: a FATAL record with its DETAIL/HINT.
    pub fn log_record(&self) -> LogRecord {
        let mut record = LogRecord::new(Severity::Fatal, self.to_string());
        match self {
            Self::InvalidSetting { hint: Some(h), .. } => record = record.with_hint(h.clone()),
            Self::ReservedPrefix { prefix, .. } => {
                record = record.with_detail(format!("\"{prefix}\" is a reserved prefix."))
            }
            Self::Tls { detail, hint, .. } => {
                record.detail = detail.clone();
                record.hint = hint.clone();
            }
            Self::LockFileExists {
                encoded_pid,
                socket,
                ..
            } => {
                let who = if *encoded_pid < 0 {
                    "postgres"
                } else {
                    "postmaster"
                };
                record = record.with_hint(format!(
                    "Is another {who} (PID {}) using socket file \"{}\"?",
                    encoded_pid.unsigned_abs(),
                    socket.display()
                ));
            }
            Self::LockFileEmpty { .. } => {
                record = record.with_hint(
                    "Either another server is starting, or the lock file is the remnant of a \
                     previous server startup crash.",
                )
            }
            Self::LockFileRemove { .. } => {
                record = record.with_hint(
                    "The file seems accidentally left over, but it could not be removed. \
                     Please remove the file by hand and try again.",
                )
            }
            _ => {}
        }
        record
    }

    /// Every record PostgreSQL logs for this failure at start-up: the LOG lines that led to
    /// it (for a configuration file), then the FATAL one.
    pub fn log_records(&self) -> Vec<LogRecord> {
        let mut out = match self {
            Self::ConfigFile { problems, .. } | Self::HbaFile { problems, .. } => problems.clone(),
            _ => Vec::new(),
        };
        out.push(self.log_record());
        out
    }

    /// The failure as a reload logs it: the same text at LOG level (PostgreSQL's
    /// `isServerStart ? FATAL : LOG`).
    pub fn reload_records(&self) -> Vec<LogRecord> {
        let mut out = self.log_records();
        if let Some(last) = out.last_mut() {
            last.severity = Severity::Log;
        }
        out
    }

    /// A TLS set-up failure with PostgreSQL's message and no DETAIL or HINT.
    pub fn tls(message: impl Into<String>) -> Self {
        Self::Tls {
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, err: &std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            reason: strerror(err),
        }
    }
}

/// An IO error as C's `strerror` (and so PostgreSQL's `%m`) words it, without Rust's
/// ` (os error N)` suffix.
pub fn strerror(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_drops_the_rust_suffix() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(strerror(&e), "No such file or directory");
    }

    #[test]
    fn records_carry_hints() {
        let e = Error::InvalidSetting {
            name: "ssl_min_protocol_version".into(),
            message: "invalid value for parameter \"ssl_min_protocol_version\": \"TLSv1.4\"".into(),
            hint: Some("Available values: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.".into()),
        };
        assert_eq!(
            e.log_record().lines(),
            [
                "FATAL:  invalid value for parameter \"ssl_min_protocol_version\": \"TLSv1.4\"",
                "HINT:  Available values: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3."
            ]
        );
    }
}
