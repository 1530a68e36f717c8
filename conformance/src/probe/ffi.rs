//! The libssl calls the probe needs and the `openssl` crate does not wrap, made safe: the
//! suites a client would offer, the CA names of a CertificateRequest, a message callback that
//! records the handshake messages and alerts the server sent, and client-initiated
//! renegotiation.

use std::os::raw::{c_int, c_void};
use std::sync::{Arc, Mutex, OnceLock};

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslCipher, SslContextBuilder, SslRef};
use openssl::stack::{Stack, StackRef};
use openssl::x509::X509Name;

/// libssl's message callback: direction, version, record content type, the message.
type MsgCallback = unsafe extern "C" fn(
    write_p: c_int,
    version: c_int,
    content_type: c_int,
    buf: *const c_void,
    len: usize,
    ssl: *mut openssl_sys::SSL,
    arg: *mut c_void,
);

unsafe extern "C" {
    /// The suites `ssl` would offer in its ClientHello (a new stack; the suites are not owned).
    fn SSL_get1_supported_ciphers(
        ssl: *mut openssl_sys::SSL,
    ) -> *mut openssl_sys::stack_st_SSL_CIPHER;
    /// The suites configured on `ssl` (its cipher list and TLS 1.3 suites; not owned).
    fn SSL_get_ciphers(ssl: *const openssl_sys::SSL) -> *mut openssl_sys::stack_st_SSL_CIPHER;
    /// On a client, the CA names of the server's CertificateRequest (declared as the
    /// harness's client declares it).
    fn SSL_get_client_CA_list(ssl: *const openssl_sys::SSL) -> *mut openssl_sys::OPENSSL_STACK;
    /// Installs a callback called for every protocol message sent or received.
    fn SSL_CTX_set_msg_callback(ctx: *mut openssl_sys::SSL_CTX, cb: Option<MsgCallback>);
    /// Schedules a renegotiation, carried out by the next handshake call.
    fn SSL_renegotiate(ssl: *mut openssl_sys::SSL) -> c_int;
}

/// What the server sent during a connection, as the message callback saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Handshake message types received, in order (2 ServerHello, 4 NewSessionTicket, 13
    /// CertificateRequest, …).
    pub handshake: Vec<u8>,
    /// Alerts received: level and description.
    pub alerts: Vec<(u8, u8)>,
}

impl Seen {
    /// Whether a handshake message of type `kind` was received.
    pub fn got(&self, kind: u8) -> bool {
        self.handshake.contains(&kind)
    }

    /// How many handshake messages of type `kind` were received.
    pub fn count(&self, kind: u8) -> usize {
        self.handshake.iter().filter(|k| **k == kind).count()
    }
}

/// Handshake message types.
pub mod kind {
    /// NewSessionTicket.
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// CertificateRequest.
    pub const CERTIFICATE_REQUEST: u8 = 13;
}

/// The record of one connection, shared with the callback.
pub type Log = Arc<Mutex<Seen>>;

/// Bounds what the callback keeps, whatever the server sends.
const MAX_SEEN: usize = 256;

fn log_index() -> Option<Index<Ssl, Log>> {
    static INDEX: OnceLock<Option<Index<Ssl, Log>>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index::<Log>().ok())
}

unsafe extern "C" fn record(
    write_p: c_int,
    _version: c_int,
    content_type: c_int,
    buf: *const c_void,
    len: usize,
    ssl: *mut openssl_sys::SSL,
    _arg: *mut c_void,
) {
    const ALERT: c_int = 21;
    const HANDSHAKE: c_int = 22;
    if write_p != 0 || buf.is_null() || ssl.is_null() || len == 0 {
        return;
    }
    if content_type != ALERT && content_type != HANDSHAKE {
        return;
    }
    let Some(index) = log_index() else { return };
    // SAFETY: libssl passes the connection's live SSL and `len` readable bytes at `buf`.
    let (ssl, bytes) = unsafe {
        (
            SslRef::from_ptr(ssl),
            std::slice::from_raw_parts(buf.cast::<u8>(), len),
        )
    };
    let Some(log) = ssl.ex_data(index) else {
        return;
    };
    let mut seen = log.lock().unwrap_or_else(|p| p.into_inner());
    if seen.handshake.len() + seen.alerts.len() >= MAX_SEEN {
        return;
    }
    match (content_type, bytes) {
        (HANDSHAKE, [kind, ..]) => seen.handshake.push(*kind),
        (ALERT, [level, description, ..]) => seen.alerts.push((*level, *description)),
        _ => {}
    }
}

/// Makes every connection from `builder`'s context record what it receives into the [`Log`]
/// attached with [`attach`].
pub fn install(builder: &mut SslContextBuilder) {
    // SAFETY: `record` matches libssl's callback type and only reads what it is given.
    unsafe { SSL_CTX_set_msg_callback(builder.as_ptr(), Some(record)) }
}

/// Attaches a fresh log to `ssl`, returned for reading after the handshake.
pub fn attach(ssl: &mut Ssl) -> Log {
    let log = Log::default();
    if let Some(index) = log_index() {
        ssl.set_ex_data(index, Arc::clone(&log));
    }
    log
}

/// The suites `ssl`, as configured, would offer.
pub fn offered(ssl: &SslRef) -> Vec<super::suites::Suite> {
    // SAFETY: `ssl` is live; the returned stack is new and owned here, its suites are static
    // and SslCipher's drop does not free them.
    unsafe {
        let stack = SSL_get1_supported_ciphers(ssl.as_ptr());
        if stack.is_null() {
            return Vec::new();
        }
        let stack = Stack::<SslCipher>::from_ptr(stack);
        stack
            .iter()
            .map(super::suites::Suite::from_cipher)
            .collect()
    }
}

/// The suites configured on `ssl`, each with the oldest version OpenSSL can use it with
/// (`SSLv3`, `TLSv1.2`, `TLSv1.3`).
pub fn configured(ssl: &SslRef) -> Vec<(super::suites::Suite, &'static str)> {
    // SAFETY: the stack belongs to `ssl` and lives as long as it; it is only read.
    unsafe {
        let stack = SSL_get_ciphers(ssl.as_ptr());
        if stack.is_null() {
            return Vec::new();
        }
        StackRef::<SslCipher>::from_ptr(stack)
            .iter()
            .map(|c| (super::suites::Suite::from_cipher(c), c.version()))
            .collect()
    }
}

/// The CA names the server's CertificateRequest listed, each as `CN=…, O=…`.
pub fn client_ca_names(ssl: &SslRef) -> Vec<String> {
    // SAFETY: the stack belongs to `ssl` and lives as long as it; it is only read.
    unsafe {
        let names = SSL_get_client_CA_list(ssl.as_ptr());
        if names.is_null() {
            return Vec::new();
        }
        let names = StackRef::<X509Name>::from_ptr(names.cast());
        names
            .iter()
            .map(super::certificate::distinguished_name)
            .collect()
    }
}

/// Schedules a client-initiated renegotiation; the next `do_handshake` carries it out.
pub fn renegotiate(ssl: &SslRef) -> bool {
    // SAFETY: `ssl` is a live, connected client.
    unsafe { SSL_renegotiate(ssl.as_ptr()) == 1 }
}
