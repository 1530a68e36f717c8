//! What follows a finished startup packet: the `max_connections` slot, authentication
//! against pg_hba.conf ([`crate::auth`]), the parameter reports, BackendKeyData and
//! ReadyForQuery, then the simple-query loop until the client terminates.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use openssl::x509::X509;

use crate::auth::{self, Client, Step, Verdict};
use crate::config::value;
use crate::log::LogRecord;
use crate::negotiate::{Replication, StartupInfo};
use crate::query::{self, SessionView};
use crate::state::Shared;
use crate::transport::{Peer, Transport};
use crate::wire::backend::Authentication;
use crate::wire::{BackendMessage, ErrorFields, FrontendMessage, Severity, TransactionStatus};

/// Bytes of the 3.2 cancel key PostgreSQL 18 sends; earlier protocols use 4.
const LONG_CANCEL_KEY: usize = 32;
const SHORT_CANCEL_KEY: usize = 4;

/// Runs the session on `stream` until the client leaves. `pending` holds bytes that arrived
/// behind the startup packet.
pub async fn run(
    shared: &Arc<Shared>,
    mut stream: Transport,
    info: StartupInfo,
    pending: Vec<u8>,
    pid: u32,
    peer: Peer,
    deadline: Instant,
) {
    let mut pending = pending;
    let settings = &shared.settings;
    let rules = settings.profile.rules();
    let tls = stream.tls_facts();
    let cert: Option<X509> = match &stream {
        Transport::Tls(s) => s.ssl().peer_certificate(),
        Transport::Tcp(_) | Transport::Unix(_) => None,
    };
    // InitProcess: no free PGPROC, no session.
    let Some(_slot) = shared.take_backend_slot() else {
        let error = ErrorFields::new(Severity::Fatal, "53300", "sorry, too many clients already");
        fail(shared, &mut stream, pid, error).await;
        return;
    };
    let client = Client {
        profile: settings.profile,
        addr: peer.ip(),
        ssl: tls.is_some(),
        physical_replication: info.replication == Replication::Physical,
        user: &info.user,
        database: &info.database,
        cert: cert.as_deref(),
        ca_store: shared.ca_store_loaded(),
        log_connections: settings.log_connections,
    };
    let step = auth::check(&shared.auth, &client);
    drop(openssl::error::ErrorStack::get());
    let verdict = match step {
        Step::Done(v) => Some(v),
        Step::AskPassword => {
            let password = ask_password(shared, &mut stream, &mut pending, pid, deadline).await;
            match password {
                Err(()) => None,
                Ok(p) => auth::check_password(&shared.auth, &client, p.as_deref()),
            }
        }
    };
    let Some(Verdict { log, result }) = verdict else {
        // The client went away (STATUS_EOF), or the exchange already failed and was logged.
        stream.close().await;
        return;
    };
    for record in &log {
        if record.severity != Severity::Fatal {
            shared.logger.write(pid, record);
        }
    }
    if let Err(error) = result {
        // The FATAL as logged carries the log-only DETAIL; the client's has none.
        if let Some(record) = log.iter().find(|r| r.severity == Severity::Fatal) {
            shared.logger.write(pid, record);
        }
        let _ = stream
            .write_all(&BackendMessage::ErrorResponse(error).to_bytes())
            .await;
        stream.close().await;
        return;
    }
    let key_len = match rules.long_cancel_key_from {
        Some(from) if info.version >= from => LONG_CANCEL_KEY,
        _ => SHORT_CANCEL_KEY,
    };
    let mut key = vec![0u8; key_len];
    if openssl::rand::rand_bytes(&mut key).is_err() {
        let error = ErrorFields::new(
            Severity::Fatal,
            "XX000",
            "could not generate random cancel key",
        );
        shared.logger.write(pid, &LogRecord::from(&error));
        let _ = stream
            .write_all(&BackendMessage::ErrorResponse(error).to_bytes())
            .await;
        stream.close().await;
        return;
    }

    let client_encoding = match info
        .settings
        .iter()
        .rev()
        .find(|(n, _)| n == "client_encoding")
    {
        Some((_, value)) => match normalize_encoding(value) {
            Some(enc) => enc,
            None => {
                let error = ErrorFields::new(
                    Severity::Fatal,
                    "22023",
                    format!("invalid value for parameter \"client_encoding\": \"{value}\""),
                );
                shared.logger.write(pid, &LogRecord::from(&error));
                let _ = stream
                    .write_all(&BackendMessage::ErrorResponse(error).to_bytes())
                    .await;
                stream.close().await;
                return;
            }
        },
        None => "UTF8",
    };

    if settings.log_connections {
        shared
            .logger
            .write(pid, &LogRecord::log(authorized_line(&info, tls.as_ref())));
    }

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
        ("default_transaction_read_only", "off".into()),
        ("in_hot_standby", "off".into()),
        ("integer_datetimes", "on".into()),
        ("IntervalStyle", "postgres".into()),
        ("is_superuser", "on".into()),
        ("server_encoding", "UTF8".into()),
        ("server_version", rules.server_version.into()),
        ("session_authorization", info.user.clone()),
        ("standard_conforming_strings", "on".into()),
        ("TimeZone", "Etc/UTC".into()),
    ];
    reported.extend(
        rules
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
        key: key.clone(),
    }
    .encode(&mut out);
    BackendMessage::ReadyForQuery(TransactionStatus::Idle).encode(&mut out);
    // Registered before the client can see the key: a CancelRequest sent the moment
    // BackendKeyData arrives must find the session (as the postmaster knows a backend's key
    // before the backend reports it).
    shared.register_session(pid, key);
    if stream.write_all(&out).await.is_err() {
        shared.unregister_session(pid);
        return;
    }
    query_loop(
        shared,
        &mut stream,
        pending,
        pid,
        &info,
        tls.as_ref(),
        cert.as_ref(),
    )
    .await;
    shared.unregister_session(pid);
    stream.close().await;
}

/// Sends a FATAL error (logging it first) and closes the connection.
async fn fail(shared: &Shared, stream: &mut Transport, pid: u32, error: ErrorFields) {
    shared.logger.write(pid, &LogRecord::from(&error));
    let _ = stream
        .write_all(&BackendMessage::ErrorResponse(error).to_bytes())
        .await;
    let _ = stream.shutdown().await;
}

/// `CheckPasswordAuth`'s exchange: AuthenticationCleartextPassword, then the client's
/// PasswordMessage. `Ok(None)` when the client closed the connection instead (libpq does
/// when it has no password); `Err` when the exchange failed and the failure was sent.
async fn ask_password(
    shared: &Shared,
    stream: &mut Transport,
    pending: &mut Vec<u8>,
    pid: u32,
    deadline: Instant,
) -> Result<Option<Vec<u8>>, ()> {
    let request = BackendMessage::Authentication(Authentication::CleartextPassword).to_bytes();
    if stream.write_all(&request).await.is_err() || stream.flush().await.is_err() {
        return Ok(None);
    }
    let mut chunk = vec![0u8; 8192];
    loop {
        match FrontendMessage::decode(pending) {
            Ok(Some((msg, used))) => {
                pending.drain(..used);
                return match msg {
                    FrontendMessage::Password(mut p) => {
                        // The password is a C string.
                        if p.last() == Some(&0) {
                            p.pop();
                        }
                        Ok(Some(p))
                    }
                    other => {
                        let kind = match other {
                            FrontendMessage::Query(_) => b'Q',
                            FrontendMessage::Terminate => b'X',
                            FrontendMessage::Other { kind, .. } => kind,
                            FrontendMessage::Password(_) => b'p',
                        };
                        let error = ErrorFields::new(
                            Severity::Fatal,
                            "08P01",
                            format!("expected password response, got message type {kind}"),
                        );
                        fail(shared, stream, pid, error).await;
                        Err(())
                    }
                };
            }
            Ok(None) => {}
            Err(_) => {
                let error = ErrorFields::new(Severity::Fatal, "08P01", "invalid message length");
                fail(shared, stream, pid, error).await;
                return Err(());
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
            Ok(Ok(n)) => pending.extend_from_slice(&chunk[..n]),
            Err(_) => {
                // authentication_timeout: the backend exits without a message to the client.
                return Err(());
            }
        }
    }
}

/// The `connection authorized` line of `log_connections`, as PostgreSQL 15 words it.
fn authorized_line(info: &StartupInfo, tls: Option<&crate::tls::TlsFacts>) -> String {
    let mut line = match info.replication {
        Replication::No => format!(
            "connection authorized: user={} database={}",
            info.user, info.database
        ),
        Replication::Physical => format!("replication connection authorized: user={}", info.user),
        Replication::Database => format!(
            "replication connection authorized: user={} database={}",
            info.user, info.database
        ),
    };
    if let Some(app) = &info.application_name {
        line.push_str(&format!(" application_name={app}"));
    }
    if let Some(t) = tls {
        line.push_str(&format!(
            " SSL enabled (protocol={}, cipher={}, bits={})",
            t.version, t.cipher, t.bits
        ));
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

/// Message types of the extended query protocol: refused once, then skipped until Sync.
const EXTENDED_PROTOCOL: &[u8] = b"PBEDCHFd";

async fn query_loop(
    shared: &Arc<Shared>,
    stream: &mut Transport,
    mut buf: Vec<u8>,
    pid: u32,
    info: &StartupInfo,
    tls: Option<&crate::tls::TlsFacts>,
    cert: Option<&X509>,
) {
    let view = SessionView {
        pid,
        settings: &shared.settings,
        tls,
        user: &info.user,
        cert,
    };
    let mut chunk = vec![0u8; 8192];
    let mut skipping_to_sync = false;
    loop {
        let decoded = FrontendMessage::decode(&buf);
        let (msg, used) = match decoded {
            Ok(Some(found)) => found,
            Ok(None) => match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
            },
            Err(_) => {
                let error = ErrorFields::new(Severity::Fatal, "08P01", "invalid message length");
                shared.logger.write(pid, &LogRecord::from(&error));
                let _ = stream
                    .write_all(&BackendMessage::ErrorResponse(error).to_bytes())
                    .await;
                return;
            }
        };
        buf.drain(..used);
        let mut out = Vec::new();
        match msg {
            FrontendMessage::Terminate => return,
            FrontendMessage::Query(text) => {
                skipping_to_sync = false;
                let text = String::from_utf8_lossy(&text);
                for reply in query::respond(&text, &view) {
                    reply.encode(&mut out);
                }
                // Certificate printing may leave OpenSSL errors on this thread's queue; the
                // next TLS write must not find them.
                drop(openssl::error::ErrorStack::get());
                BackendMessage::ReadyForQuery(TransactionStatus::Idle).encode(&mut out);
            }
            FrontendMessage::Other { kind: b'S', .. } => {
                skipping_to_sync = false;
                BackendMessage::ReadyForQuery(TransactionStatus::Idle).encode(&mut out);
            }
            FrontendMessage::Other { kind, .. } if EXTENDED_PROTOCOL.contains(&kind) => {
                if !skipping_to_sync {
                    skipping_to_sync = true;
                    BackendMessage::ErrorResponse(ErrorFields::new(
                        Severity::Error,
                        "0A000",
                        "pgssl does not support the extended query protocol",
                    ))
                    .encode(&mut out);
                }
            }
            FrontendMessage::Password(_) | FrontendMessage::Other { .. } => {
                let kind = match msg {
                    FrontendMessage::Other { kind, .. } => kind,
                    _ => b'p',
                };
                let error = ErrorFields::new(
                    Severity::Fatal,
                    "08P01",
                    format!("invalid frontend message type {kind}"),
                );
                shared.logger.write(pid, &LogRecord::from(&error));
                let _ = stream
                    .write_all(&BackendMessage::ErrorResponse(error).to_bytes())
                    .await;
                return;
            }
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
    }
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
        let tls = crate::tls::TlsFacts {
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
            bits: 256,
            alpn: None,
        };
        assert_eq!(
            authorized_line(&info, Some(&tls)),
            "connection authorized: user=postgres database=postgres application_name=psql SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)"
        );
    }

    #[test]
    fn encodings() {
        assert_eq!(normalize_encoding("utf-8"), Some("UTF8"));
        assert_eq!(normalize_encoding("sql_ascii"), Some("SQL_ASCII"));
        assert_eq!(normalize_encoding("klingon"), None);
    }
}
