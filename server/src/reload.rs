//! Reload on SIGHUP, per profile: re-read `postgresql.conf` (and the command line over it),
//! then the SSL files where the profile re-reads them (10+, A8): a new TLS context replaces
//! the old one only if it loads completely, otherwise the old one stays in use and the log
//! says `SSL configuration was not reloaded` (A12). `ssl = off` drops the context. The seed
//! profile reads the SSL files only at server start (8.4), so its context never changes.
//! pg_hba.conf and pg_ident.conf are re-read in every profile; one that does not load keeps
//! its old rules (`pg_hba.conf was not reloaded`, worded per profile).

use std::sync::{Arc, Mutex};

use crate::auth;
use crate::config::Settings;
use crate::config::load;
use crate::files::LoadMode;
use crate::log::LogRecord;
use crate::state::{Current, Shared, tls_requests_certificates};
use crate::tls;

/// Reloads the configuration of a running server.
pub struct Reloader {
    current: Current,
    configured: Mutex<Settings>,
    cli: Vec<(String, String)>,
}

impl Reloader {
    /// A reloader for the server whose generations are in `current`.
    pub fn new(current: Current, configured: Settings, cli: Vec<(String, String)>) -> Self {
        Self {
            current,
            configured: Mutex::new(configured),
            cli,
        }
    }

    /// What PostgreSQL's postmaster does on SIGHUP, logged as it goes.
    pub fn reload(&self) {
        let old = Shared::current(&self.current);
        let pid = std::process::id();
        let log = |record: &LogRecord| old.logger.write(pid, record);
        log(&LogRecord::log(
            "received SIGHUP, reloading configuration files",
        ));
        let mut configured = self.configured.lock().unwrap_or_else(|p| p.into_inner());
        let reread = load::reread(&configured, &self.cli);
        for record in &reread.log {
            log(record);
        }
        let mut live = reread.settings.clone();
        live.port = old.settings.port;
        let behaviour = live.profile.behaviour();
        let tls = if !behaviour.reload_ssl_files {
            if old.settings.ssl {
                log(&LogRecord::log(format!(
                    "SSL files are read only at server start in profile \"{}\": \"{}\", \"{}\" and any root.crt or root.crl were not re-read",
                    behaviour.name, old.settings.ssl_cert_file, old.settings.ssl_key_file
                )));
            }
            old.tls.clone()
        } else if live.ssl {
            let mut notes = Vec::new();
            let built = tls::build_context(&live, LoadMode::Reload, &mut notes);
            for record in &notes {
                log(record);
            }
            match built {
                Ok(ctx) => Some(ctx),
                Err(e) => {
                    for record in e.reload_records() {
                        log(&record);
                    }
                    log(&LogRecord::log("SSL configuration was not reloaded"));
                    old.tls.clone()
                }
            }
        } else {
            None
        };
        // load_hba / load_ident: a file that does not load keeps its old rules.
        let ca_store = tls.as_ref().is_some_and(tls_requests_certificates);
        let (rules, records) = auth::reload(&live, ca_store, &old.auth);
        for record in &records {
            log(record);
        }
        let next = Arc::new(
            old.next_generation(Arc::new(live), tls)
                .with_auth(Arc::new(rules)),
        );
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
        *configured = reread.settings;
    }
}
