//! Why a session ends before the client leaves on its own, as a value: for each reason, what
//! the server log gets, what the client is sent, and how the connection is closed.

use std::fmt;

use crate::log::LogRecord;
use crate::wire::{ErrorFields, Severity};

/// A frontend message that breaks the protocol where it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageError {
    /// A length word that cannot frame a message.
    InvalidLength,
    /// A message of a type not allowed here (the type byte).
    UnexpectedType(u8),
}

/// Why a session ended early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// `max_connections` backends already run (`InitProcess` finds no free PGPROC).
    TooManyClients,
    /// The client went away during authentication, or the exchange failed and was logged
    /// already: nothing more is sent (`STATUS_EOF`).
    AuthenticationAbandoned,
    /// `authentication_timeout` expired while waiting for the password: the backend exits
    /// without a message to the client.
    AuthenticationTimeout,
    /// pg_hba.conf or the password refused the client.
    AuthenticationFailed {
        /// The FATAL as logged, with its log-only DETAIL (boxed: it is most of the size).
        logged: Option<Box<LogRecord>>,
        /// The FATAL the client is sent.
        error: ErrorFields,
    },
    /// The reply to the password request was not a well-formed PasswordMessage.
    Password(MessageError),
    /// OpenSSL could not generate the random cancel key.
    CancelKeyUnavailable,
    /// The startup packet's `client_encoding` names no encoding the server knows.
    InvalidClientEncoding {
        /// The value the client sent.
        value: String,
    },
    /// A message after startup that the simple-query loop cannot take.
    Frontend(MessageError),
    /// Writing AuthenticationOk and the parameter reports failed: the client is gone.
    StartupReplyUnsent,
}

/// How the connection ends once the error is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// Shut down (a TLS `close_notify` first) and dropped.
    Close,
    /// Shut down twice, as the session always has after a failed password exchange (the
    /// exchange shut the stream down after its FATAL, then the session closed it). Over TLS
    /// the second shutdown waits for the client's `close_notify` or EOF before the connection
    /// and its backend slot are let go.
    ShutdownThenClose,
    /// Dropped without a shutdown: the client could not be written to.
    Drop,
}

impl SessionError {
    /// The FATAL the client is sent, if any.
    pub fn reply(&self) -> Option<ErrorFields> {
        let fatal = |sqlstate: &str, message: String| {
            Some(ErrorFields::new(Severity::Fatal, sqlstate, message))
        };
        match self {
            Self::TooManyClients => fatal("53300", "sorry, too many clients already".into()),
            Self::AuthenticationAbandoned
            | Self::AuthenticationTimeout
            | Self::StartupReplyUnsent => None,
            Self::AuthenticationFailed { error, .. } => Some(error.clone()),
            Self::Password(MessageError::InvalidLength)
            | Self::Frontend(MessageError::InvalidLength) => {
                fatal("08P01", "invalid message length".into())
            }
            Self::Password(MessageError::UnexpectedType(kind)) => fatal(
                "08P01",
                format!("expected password response, got message type {kind}"),
            ),
            Self::Frontend(MessageError::UnexpectedType(kind)) => {
                fatal("08P01", format!("invalid frontend message type {kind}"))
            }
            Self::CancelKeyUnavailable => {
                fatal("XX000", "could not generate random cancel key".into())
            }
            Self::InvalidClientEncoding { value } => fatal(
                "22023",
                format!("invalid value for parameter \"client_encoding\": \"{value}\""),
            ),
        }
    }

    /// What the server log gets: the FATAL as sent, except after a failed authentication,
    /// whose logged FATAL carries a DETAIL the client does not see.
    pub fn log_record(&self) -> Option<LogRecord> {
        match self {
            Self::AuthenticationFailed { logged, .. } => logged.as_deref().cloned(),
            other => other.reply().as_ref().map(LogRecord::from),
        }
    }

    pub(super) fn ending(&self) -> Ending {
        match self {
            Self::Password(_) => Ending::ShutdownThenClose,
            Self::StartupReplyUnsent => Ending::Drop,
            _ => Ending::Close,
        }
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidLength => f.write_str("has a length word that frames no message"),
            Self::UnexpectedType(kind) => {
                write!(f, "has message type {kind}, which is not allowed there")
            }
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyClients => f.write_str(
                "too many clients: max_connections sessions are running; raise max_connections or end one",
            ),
            Self::AuthenticationAbandoned => {
                f.write_str("authentication did not finish: the client went away")
            }
            Self::AuthenticationTimeout => f.write_str(
                "the client sent no password within authentication_timeout; raise it if clients are slow",
            ),
            Self::AuthenticationFailed { error, .. } => {
                write!(f, "authentication failed: {}", error.message())
            }
            Self::Password(e) => write!(f, "the client's reply to the password request {e}"),
            Self::CancelKeyUnavailable => f.write_str(
                "could not generate a random cancel key: OpenSSL's random generator failed",
            ),
            Self::InvalidClientEncoding { value } => write!(
                f,
                "the client asked for client_encoding \"{value}\"; the server knows UTF8, SQL_ASCII, LATIN1, LATIN9, WIN1252 and EUC_JP"
            ),
            Self::Frontend(e) => write!(f, "a message after startup {e}"),
            Self::StartupReplyUnsent => {
                f.write_str("the client went away before the startup reply could be written")
            }
        }
    }
}

impl std::error::Error for SessionError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_sent_what_postgres_sends() {
        let reply = SessionError::Frontend(MessageError::UnexpectedType(b'p'))
            .reply()
            .map(|e| (e.code().to_owned(), e.message().to_owned()));
        assert_eq!(
            reply,
            Some((
                "08P01".to_owned(),
                "invalid frontend message type 112".to_owned()
            ))
        );
        assert_eq!(SessionError::AuthenticationTimeout.reply(), None);
    }

    #[test]
    fn a_failed_authentication_logs_its_own_record() {
        let logged = LogRecord::log("logged");
        let error = SessionError::AuthenticationFailed {
            logged: Some(Box::new(logged.clone())),
            error: ErrorFields::new(Severity::Fatal, "28000", "sent"),
        };
        assert_eq!(error.log_record(), Some(logged));
    }
}
