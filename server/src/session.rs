//! What follows a finished startup packet: the `max_connections` slot, authentication
//! against pg_hba.conf ([`crate::auth`]), the parameter reports, BackendKeyData and
//! ReadyForQuery, then the simple-query loop until the client terminates.
//!
//! This file does the IO. What to send is decided in `session/replies.rs`, without any; every
//! way a session ends early is a [`SessionError`] (`session/error.rs`), which `end` logs,
//! sends and closes in one place.

mod error;
mod replies;

pub use error::{MessageError, SessionError};

use std::sync::Arc;

use openssl::x509::X509;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use crate::auth::{self, AuthStep, Client, Verdict};
use crate::log::LogRecord;
use crate::negotiate::{Replication, StartupInfo};
use crate::query::SessionView;
use crate::state::Shared;
use crate::transport::{Peer, Transport};
use crate::wire::backend::Authentication;
use crate::wire::{BackendMessage, FrontendMessage, Severity};

use error::Ending;
use replies::QueryReplies;

/// Size of each read from the client after startup.
const READ_CHUNK: usize = 8192;

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
    // InitProcess: no free PGPROC, no session. The slot is held until the connection closes.
    let slot = shared.take_backend_slot();
    let outcome = match slot {
        None => Err(SessionError::TooManyClients),
        Some(_) => {
            let inbox = Inbox::new(pending);
            serve(shared, &mut stream, &info, inbox, pid, peer, deadline).await
        }
    };
    end(shared, stream, pid, outcome).await;
    drop(slot);
}

/// The session from authentication to the client's Terminate or EOF (`Ok`), or to the reason
/// it ended early.
async fn serve(
    shared: &Shared,
    stream: &mut Transport,
    info: &StartupInfo,
    mut inbox: Inbox,
    pid: u32,
    peer: Peer,
    deadline: Instant,
) -> Result<(), SessionError> {
    let settings = &shared.settings;
    let behaviour = settings.profile.behaviour();
    let tls = stream.tls_facts();
    let cert: Option<X509> = match &*stream {
        Transport::Tls(s) => s.ssl().peer_certificate(),
        Transport::Tcp(_) | Transport::Unix(_) => None,
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
    authenticate(shared, stream, &mut inbox, &client, pid, deadline).await?;
    let mut key = vec![0u8; replies::cancel_key_len(behaviour, info)];
    openssl::rand::rand_bytes(&mut key).map_err(|_| SessionError::CancelKeyUnavailable)?;
    let client_encoding = replies::client_encoding(info)?;
    if settings.log_connections {
        let line = replies::authorized_line(info, tls.as_ref(), behaviour);
        shared.log(pid, &LogRecord::log(line));
    }
    let reply = replies::startup_reply(info, behaviour, client_encoding, pid, &key);
    // Registered before the client can see the key: a CancelRequest sent the moment
    // BackendKeyData arrives must find the session (as the postmaster knows a backend's key
    // before the backend reports it). `end` forgets it.
    shared.register_session(pid, key);
    if stream.write_all(&reply).await.is_err() {
        return Err(SessionError::StartupReplyUnsent);
    }
    let view = SessionView {
        pid,
        settings,
        tls: tls.as_ref(),
        user: &info.user,
        cert: cert.as_ref(),
    };
    query_loop(stream, inbox, &view).await
}

/// pg_hba.conf's verdict on `client`, asking for a password where the rule says so. The
/// verdict's log records are written here, except the FATAL of a refusal, which the error
/// carries.
async fn authenticate(
    shared: &Shared,
    stream: &mut Transport,
    inbox: &mut Inbox,
    client: &Client<'_>,
    pid: u32,
    deadline: Instant,
) -> Result<(), SessionError> {
    let step = auth::check(&shared.auth, client);
    drop(openssl::error::ErrorStack::get());
    let verdict = match step {
        AuthStep::Done(v) => Some(v),
        AuthStep::AskPassword => {
            let password = ask_password(stream, inbox, deadline).await?;
            auth::check_password(&shared.auth, client, password.as_deref())
        }
    };
    // The client went away (STATUS_EOF), or the exchange already failed and was logged.
    let Some(Verdict { log, result }) = verdict else {
        return Err(SessionError::AuthenticationAbandoned);
    };
    for record in &log {
        if record.severity != Severity::Fatal {
            shared.log(pid, record);
        }
    }
    result.map_err(|error| SessionError::AuthenticationFailed {
        logged: log
            .into_iter()
            .find(|r| r.severity == Severity::Fatal)
            .map(Box::new),
        error,
    })
}

/// `CheckPasswordAuth`'s exchange: AuthenticationCleartextPassword, then the client's
/// PasswordMessage. `Ok(None)` when the client closed the connection instead (libpq does
/// when it has no password).
async fn ask_password(
    stream: &mut Transport,
    inbox: &mut Inbox,
    deadline: Instant,
) -> Result<Option<Vec<u8>>, SessionError> {
    let request = BackendMessage::Authentication(Authentication::CleartextPassword).to_bytes();
    if stream.write_all(&request).await.is_err() || stream.flush().await.is_err() {
        return Ok(None);
    }
    match inbox.next(stream, Some(deadline)).await {
        Received::Message(reply) => replies::password(reply).map(Some),
        Received::Closed => Ok(None),
        Received::TimedOut => Err(SessionError::AuthenticationTimeout),
        Received::Malformed => Err(SessionError::Password(MessageError::InvalidLength)),
    }
}

/// The simple-query loop, until the client terminates, goes away or breaks the protocol.
async fn query_loop(
    stream: &mut Transport,
    mut inbox: Inbox,
    view: &SessionView<'_>,
) -> Result<(), SessionError> {
    let mut replies = QueryReplies::default();
    loop {
        let message = match inbox.next(stream, None).await {
            Received::Message(message) => message,
            Received::Closed | Received::TimedOut => return Ok(()),
            Received::Malformed => return Err(SessionError::Frontend(MessageError::InvalidLength)),
        };
        let Some(out) = replies.respond(message, view)? else {
            return Ok(());
        };
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return Ok(());
        }
    }
}

/// The one way a session ends: what the error says is logged and sent as an ErrorResponse,
/// the session leaves the cancel registry (a no-op before it was registered), and the
/// connection closes as the error says.
async fn end(shared: &Shared, mut stream: Transport, pid: u32, outcome: Result<(), SessionError>) {
    let ending = match &outcome {
        Ok(()) => Ending::Close,
        Err(error) => {
            if let Some(record) = error.log_record() {
                shared.log(pid, &record);
            }
            if let Some(reply) = error.reply() {
                let _ = stream
                    .write_all(&BackendMessage::ErrorResponse(reply).to_bytes())
                    .await;
            }
            error.ending()
        }
    };
    shared.unregister_session(pid);
    match ending {
        Ending::Close => stream.close().await,
        Ending::ShutdownThenClose => {
            let _ = stream.shutdown().await;
            stream.close().await;
        }
        Ending::Drop => {}
    }
}

/// What reading the next frontend message found.
enum Received {
    Message(FrontendMessage),
    /// EOF or a read error: the client is gone.
    Closed,
    /// The deadline passed first.
    TimedOut,
    /// A length word that frames no message.
    Malformed,
}

/// Frontend messages off the stream, with the bytes read ahead of them kept between calls.
struct Inbox {
    pending: Vec<u8>,
    chunk: Vec<u8>,
}

impl Inbox {
    fn new(pending: Vec<u8>) -> Self {
        Self {
            pending,
            chunk: vec![0u8; READ_CHUNK],
        }
    }

    /// The next message, reading as needed until `deadline` (if any).
    async fn next(&mut self, stream: &mut Transport, deadline: Option<Instant>) -> Received {
        loop {
            match FrontendMessage::decode(&self.pending) {
                Ok(Some((message, used))) => {
                    self.pending.drain(..used);
                    return Received::Message(message);
                }
                Ok(None) => {}
                Err(_) => return Received::Malformed,
            }
            let read = stream.read(&mut self.chunk);
            let read = match deadline {
                Some(deadline) => match timeout_at(deadline, read).await {
                    Ok(read) => read,
                    Err(_) => return Received::TimedOut,
                },
                None => read.await,
            };
            match read {
                Ok(0) | Err(_) => return Received::Closed,
                Ok(n) => self.pending.extend_from_slice(&self.chunk[..n]),
            }
        }
    }
}
