//! The state a running server shares between its connections and its reloader: one
//! generation of settings, TLS context and pg_hba.conf rules (a reload makes a new one), and,
//! across generations, the cancel-key registry, the pid counter and the `max_connections`
//! backend slots.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use openssl::ssl::SslContext;

use crate::auth::AuthRules;
use crate::config::Settings;
use crate::log::{LogRecord, Logger};
use crate::wire::CancelRequest;

/// State every connection task shares: one generation of settings and TLS context (a reload
/// makes a new generation; a connection keeps the one it started with), and the session
/// registry and pid counter, which all generations share.
pub struct Shared {
    /// The settings in force.
    pub settings: Arc<Settings>,
    /// The TLS context, when SSL is on and loaded (PostgreSQL's `LoadedSSL`).
    pub tls: Option<SslContext>,
    /// The pg_hba.conf and pg_ident.conf rules in force.
    pub auth: Arc<AuthRules>,
    /// The server log.
    pub logger: Arc<Logger>,
    sessions: Arc<Mutex<HashMap<u32, Vec<u8>>>>,
    next_pid: Arc<AtomicU32>,
    backends: Arc<AtomicUsize>,
}

/// A connection counted against `max_connections` until dropped.
pub struct BackendSlot {
    backends: Arc<AtomicUsize>,
}

impl Drop for BackendSlot {
    fn drop(&mut self) {
        self.backends.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The generation new connections get; replaced whole on reload.
pub type Current = Arc<RwLock<Arc<Shared>>>;

impl Shared {
    /// The first generation of a server whose own pid is `own_pid`: no sessions yet, and
    /// backend pids counting up from the one after it.
    pub fn first(
        settings: Settings,
        tls: Option<SslContext>,
        auth: AuthRules,
        logger: Arc<Logger>,
        own_pid: u32,
    ) -> Current {
        Arc::new(RwLock::new(Arc::new(Self {
            settings: Arc::new(settings),
            tls,
            auth: Arc::new(auth),
            logger,
            sessions: Arc::new(Mutex::new(HashMap::new())),
            next_pid: Arc::new(AtomicU32::new(own_pid.wrapping_add(1))),
            backends: Arc::new(AtomicUsize::new(0)),
        })))
    }

    /// The next generation: new settings and context, the same sessions and pid counter.
    pub fn next_generation(&self, settings: Arc<Settings>, tls: Option<SslContext>) -> Self {
        Self {
            settings,
            tls,
            auth: Arc::clone(&self.auth),
            logger: Arc::clone(&self.logger),
            sessions: Arc::clone(&self.sessions),
            next_pid: Arc::clone(&self.next_pid),
            backends: Arc::clone(&self.backends),
        }
    }

    /// This generation with other pg_hba.conf / pg_ident.conf rules.
    pub fn with_auth(mut self, auth: Arc<AuthRules>) -> Self {
        self.auth = auth;
        self
    }

    /// Takes a backend slot, as `InitProcess` takes a PGPROC: `None` when `max_connections`
    /// backends are already running.
    pub fn take_backend_slot(&self) -> Option<BackendSlot> {
        let max = self.settings.max_connections as usize;
        let taken = self.backends.fetch_add(1, Ordering::AcqRel);
        let slot = BackendSlot {
            backends: Arc::clone(&self.backends),
        };
        (taken < max).then_some(slot)
    }

    /// A root certificate store is loaded (`ssl_ca_file`, or the seed profile's `root.crt`):
    /// the context asks clients for certificates.
    pub fn ca_store_loaded(&self) -> bool {
        self.tls.as_ref().is_some_and(tls_requests_certificates)
    }

    /// The generation in force.
    pub fn current(current: &Current) -> Arc<Shared> {
        Arc::clone(&current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Writes `record` to the server log as process `pid`.
    pub(crate) fn log(&self, pid: u32, record: &LogRecord) {
        self.logger.write(pid, record);
    }

    /// The pid the next connection gets.
    pub(crate) fn next_pid(&self) -> u32 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a session's cancel key, so CancelRequests can be checked against it.
    pub fn register_session(&self, pid: u32, key: Vec<u8>) {
        self.lock_sessions().insert(pid, key);
    }

    /// Forgets a session that ended.
    pub fn unregister_session(&self, pid: u32) {
        self.lock_sessions().remove(&pid);
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Vec<u8>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks a CancelRequest as the postmaster does, logging what it finds. Queries here
    /// finish at once, so a matching request has nothing to interrupt.
    pub(crate) fn cancel(&self, pid: u32, request: &CancelRequest) {
        let Some(target) = request.pid() else { return };
        let message = match self.lock_sessions().get(&target) {
            None => format!("PID {target} in cancel request did not match any process"),
            Some(key) if key.as_slice() != request.key() => {
                format!("wrong key in cancel request for process {target}")
            }
            Some(_) => return,
        };
        self.log(pid, &LogRecord::log(message));
    }
}

/// The context asks clients for certificates: a root certificate store was loaded.
pub fn tls_requests_certificates(ctx: &SslContext) -> bool {
    ctx.verify_mode()
        .contains(openssl::ssl::SslVerifyMode::PEER)
}
