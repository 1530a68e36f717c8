//! The session's decisions, with no IO: the reply to a finished authentication (parameter
//! reports, BackendKeyData, ReadyForQuery), the client encoding and cancel key length it
//! implies, the password in a PasswordMessage, the `connection authorized` line, and the reply
//! to each message of the simple-query loop.

use crate::config::value;
use crate::negotiate::{Replication, StartupInfo};
use crate::profile::Behaviour;
use crate::query::{self, SessionView};
use crate::tls::TlsFacts;
use crate::wire::backend::Authentication;
use crate::wire::{BackendMessage, ErrorFields, FrontendMessage, Severity, TransactionStatus};

use super::error::{MessageError, SessionError};

/// Bytes of the 3.2 cancel key PostgreSQL 18 sends; earlier protocols use 4.
const LONG_CANCEL_KEY: usize = 32;
const SHORT_CANCEL_KEY: usize = 4;

/// Message types of the extended query protocol: refused once, then skipped until Sync.
const EXTENDED_PROTOCOL: &[u8] = b"PBEDCHFd";

/// How long the cancel key is for the protocol version the client speaks.
pub(super) fn cancel_key_len(behaviour: &Behaviour, info: &StartupInfo) -> usize {
    match behaviour.long_cancel_key_from {
        Some(from) if info.version >= from => LONG_CANCEL_KEY,
        _ => SHORT_CANCEL_KEY,
    }
}

/// The server encoding: the database's (UTF8), or SQL_ASCII, the boot value, for a physical
/// walsender, which connects to no database (seen on every build from 13 to 18).
fn server_encoding(info: &StartupInfo) -> &'static str {
    match info.replication {
        Replication::Physical => "SQL_ASCII",
        Replication::No | Replication::Database => "UTF8",
    }
}

/// The client encoding the startup packet asks for (the last `client_encoding` wins), by
/// PostgreSQL's name; the server encoding when it asks for none.
pub(super) fn client_encoding(info: &StartupInfo) -> Result<&'static str, SessionError> {
    match info
        .settings
        .iter()
        .rev()
        .find(|(n, _)| n == "client_encoding")
    {
        Some((_, value)) => {
            normalize_encoding(value).ok_or_else(|| SessionError::InvalidClientEncoding {
                value: value.clone(),
            })
        }
        None => Ok(server_encoding(info)),
    }
}

/// Everything sent once authentication succeeds: AuthenticationOk, the application_name
/// NOTICE if it was truncated, the ParameterStatus reports, BackendKeyData and ReadyForQuery.
pub(super) fn startup_reply(
    info: &StartupInfo,
    behaviour: &Behaviour,
    client_encoding: &str,
    pid: u32,
    key: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    BackendMessage::Authentication(Authentication::Ok).encode(&mut out);
    // application_name is a GUC_IS_NAME setting: longer values are truncated with a NOTICE,
    // sent while the startup options are applied (after authentication).
    let application_name =
        value::validate_string(info.application_name.as_deref().unwrap_or_default(), true);
    if let Some(notice) = &application_name.notice {
        BackendMessage::NoticeResponse(ErrorFields::new(Severity::Notice, "42622", notice.clone()))
            .encode(&mut out);
    }
    let application_name = application_name.value;
    let mut reported: Vec<(&str, String)> = vec![
        ("application_name", application_name),
        ("client_encoding", client_encoding.to_owned()),
        ("DateStyle", "ISO, MDY".into()),
        ("integer_datetimes", "on".into()),
        ("IntervalStyle", "postgres".into()),
        ("is_superuser", superuser(&info.user).into()),
        ("server_encoding", server_encoding(info).into()),
        ("server_version", behaviour.server_version.into()),
        ("session_authorization", info.user.clone()),
        ("standard_conforming_strings", "on".into()),
        ("TimeZone", "Etc/UTC".into()),
    ];
    reported.extend(
        behaviour
            .extra_reported
            .iter()
            .map(|(n, v)| (*n, (*v).to_owned())),
    );
    reported.sort_by_key(|(n, _)| n.to_ascii_lowercase());
    for (name, value) in reported {
        BackendMessage::ParameterStatus {
            name: name.into(),
            value,
        }
        .encode(&mut out);
    }
    BackendMessage::BackendKeyData {
        pid,
        key: key.to_vec(),
    }
    .encode(&mut out);
    BackendMessage::ReadyForQuery(TransactionStatus::Idle).encode(&mut out);
    out
}

/// The password in the client's reply to AuthenticationCleartextPassword (a C string).
pub(super) fn password(reply: FrontendMessage) -> Result<Vec<u8>, SessionError> {
    let kind = match reply {
        FrontendMessage::Password(mut p) => {
            if p.last() == Some(&0) {
                p.pop();
            }
            return Ok(p);
        }
        FrontendMessage::Query(_) => b'Q',
        FrontendMessage::Terminate => b'X',
        FrontendMessage::Other { kind, .. } => kind,
    };
    Err(SessionError::Password(MessageError::UnexpectedType(kind)))
}

/// The simple-query loop's answers, message by message.
#[derive(Debug, Default)]
pub(super) struct QueryReplies {
    /// An extended-protocol message was refused: skip the rest until Sync.
    skipping_to_sync: bool,
}

impl QueryReplies {
    /// The bytes to send for `message` (possibly none); `None` when the client terminates.
    pub(super) fn respond(
        &mut self,
        message: FrontendMessage,
        view: &SessionView<'_>,
    ) -> Result<Option<Vec<u8>>, SessionError> {
        let mut out = Vec::new();
        match message {
            FrontendMessage::Terminate => return Ok(None),
            FrontendMessage::Query(text) => {
                self.skipping_to_sync = false;
                let text = String::from_utf8_lossy(&text);
                let replies = query::respond(&text, view);
                if let Err(e) = replies.iter().try_for_each(|r| r.try_encode(&mut out)) {
                    // A reply the protocol cannot carry (the responder keeps target lists
                    // far below this): the query fails as a whole instead.
                    out.clear();
                    BackendMessage::ErrorResponse(ErrorFields::new(
                        Severity::Error,
                        "54011",
                        e.to_string(),
                    ))
                    .encode(&mut out);
                }
                // Certificate printing may leave OpenSSL errors on this thread's queue; the
                // next TLS write must not find them.
                drop(openssl::error::ErrorStack::get());
                BackendMessage::ReadyForQuery(TransactionStatus::Idle).encode(&mut out);
            }
            FrontendMessage::Other { kind: b'S', .. } => {
                self.skipping_to_sync = false;
                BackendMessage::ReadyForQuery(TransactionStatus::Idle).encode(&mut out);
            }
            FrontendMessage::Other { kind, .. } if EXTENDED_PROTOCOL.contains(&kind) => {
                if !self.skipping_to_sync {
                    self.skipping_to_sync = true;
                    BackendMessage::ErrorResponse(ErrorFields::new(
                        Severity::Error,
                        "0A000",
                        "pgssl does not support the extended query protocol",
                    ))
                    .encode(&mut out);
                }
            }
            FrontendMessage::Password(_) => {
                return Err(SessionError::Frontend(MessageError::UnexpectedType(b'p')));
            }
            FrontendMessage::Other { kind, .. } => {
                return Err(SessionError::Frontend(MessageError::UnexpectedType(kind)));
            }
        }
        Ok(Some(out))
    }
}

/// The bootstrap superuser's name: pgssl keeps no role catalog, so it treats `postgres` (the
/// name `initdb -U postgres` and the harness give the superuser) as the one superuser, and
/// every other user as an ordinary role, as a fresh PostgreSQL cluster with those roles
/// created would.
pub const BOOTSTRAP_SUPERUSER: &str = "postgres";

/// `is_superuser` for the session's user.
fn superuser(user: &str) -> &'static str {
    if user == BOOTSTRAP_SUPERUSER {
        "on"
    } else {
        "off"
    }
}

/// The `connection authorized` line of `log_connections`, as the profile's version words it.
pub(super) fn authorized_line(
    info: &StartupInfo,
    tls: Option<&TlsFacts>,
    behaviour: &Behaviour,
) -> String {
    let mut line = match info.replication {
        Replication::No => format!(
            "connection authorized: user={} database={}",
            info.user, info.database
        ),
        // A walsender, physical or logical, is logged without its database (postinit.c's
        // `if (!am_walsender)`): seen on every build from 13 to 18.
        Replication::Physical | Replication::Database => {
            format!("replication connection authorized: user={}", info.user)
        }
    };
    if let Some(app) = &info.application_name {
        line.push_str(&format!(" application_name={app}"));
    }
    if let Some(t) = tls {
        line.push_str(&format!(
            " SSL enabled (protocol={}, cipher={}, bits={}",
            t.version, t.cipher, t.bits
        ));
        // pgssl never compresses, as OpenSSL 1.1.0 and later do not by default.
        line.push_str(if behaviour.log_ssl_compression {
            ", compression=off)"
        } else {
            ")"
        });
    }
    line
}

/// The encodings a client may ask for, by PostgreSQL's normalised names.
fn normalize_encoding(value: &str) -> Option<&'static str> {
    let key: String = value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    Some(match key.as_str() {
        "UTF8" | "UNICODE" => "UTF8",
        "SQLASCII" => "SQL_ASCII",
        "LATIN1" | "ISO88591" => "LATIN1",
        "LATIN9" | "ISO885915" => "LATIN9",
        "WIN1252" => "WIN1252",
        "EUCJP" => "EUC_JP",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ProtocolVersion;

    #[test]
    fn authorized_line_as_postgres_writes_it() {
        let info = StartupInfo {
            requested_version: ProtocolVersion::V3_0,
            version: ProtocolVersion::V3_0,
            user: "postgres".into(),
            database: "postgres".into(),
            options: None,
            replication: Replication::No,
            application_name: Some("psql".into()),
            settings: vec![],
            ssl_in_use: true,
            direct_ssl: false,
        };
        let tls = TlsFacts {
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
            bits: 256,
            alpn: None,
        };
        assert_eq!(
            authorized_line(&info, Some(&tls), crate::profile::Profile::Pg15.behaviour()),
            "connection authorized: user=postgres database=postgres application_name=psql SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)"
        );
        assert!(
            authorized_line(&info, Some(&tls), crate::profile::Profile::Pg13.behaviour())
                .ends_with("bits=256, compression=off)")
        );
    }

    #[test]
    fn encodings() {
        assert_eq!(normalize_encoding("utf-8"), Some("UTF8"));
        assert_eq!(normalize_encoding("sql_ascii"), Some("SQL_ASCII"));
        assert_eq!(normalize_encoding("klingon"), None);
    }
}
