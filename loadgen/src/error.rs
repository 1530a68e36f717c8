//! The load generator's error type: why one connection failed, or why a run could not go on.
//! The texts are the ones the report prints as a target's first failure.

use std::io;

/// Why a connection or a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket operation of one step of a connection failed.
    #[error("{step}: {source}")]
    Io {
        /// The step: `connect`, `startup`, `SSLRequest`, `SSLRequest reply`, `read`,
        /// `terminate`.
        step: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A socket option could not be set.
    #[error("{0}")]
    SocketOption(io::Error),
    /// The server answered the SSLRequest with something other than `S`.
    #[error("SSLRequest answered {:?}", *.0 as char)]
    SslRefused(u8),
    /// The TLS handshake failed; OpenSSL's account of it.
    #[error("TLS handshake: {0}")]
    Handshake(String),
    /// The server sent something the protocol does not allow.
    #[error("bad message: {0}")]
    BadMessage(#[from] pgssl_server::wire::DecodeError),
    /// The server answered the StartupMessage with an ErrorResponse.
    #[error("server refused: {0}")]
    Refused(String),
    /// The server closed the connection before ReadyForQuery.
    #[error("connection closed before ReadyForQuery")]
    ClosedBeforeReady,
    /// No connection of a server's warm-up completed.
    #[error(
        "{server}: no connection completed ({failures} failures; first error: {})",
        first.as_deref().map(ToString::to_string).unwrap_or_default()
    )]
    NothingCompleted {
        /// The server as given.
        server: String,
        /// Connections that failed.
        failures: u64,
        /// The first failure.
        first: Option<Box<Error>>,
    },
    /// OpenSSL failed outside a handshake (client context, crypto ceiling).
    #[error("{0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// The JSON report could not be written.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub(crate) fn io(step: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { step, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_reports_first_failures() {
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            Error::io("connect")(refused).to_string(),
            "connect: refused"
        );
        assert_eq!(
            Error::SslRefused(b'N').to_string(),
            "SSLRequest answered 'N'"
        );
        let nothing = Error::NothingCompleted {
            server: "reference".into(),
            failures: 3,
            first: Some(Box::new(Error::ClosedBeforeReady)),
        };
        assert_eq!(
            nothing.to_string(),
            "reference: no connection completed (3 failures; first error: connection closed \
             before ReadyForQuery)"
        );
        let none = Error::NothingCompleted {
            server: "x".into(),
            failures: 0,
            first: None,
        };
        assert_eq!(
            none.to_string(),
            "x: no connection completed (0 failures; first error: )"
        );
    }
}
