//! `pgssl-server`: a PostgreSQL-compatible server for the startup and SSL phase, built to
//! implement the documented SSL rules exactly.
//!
//! The crate is layered so that the protocol core does no IO:
//!
//! - [`wire`]: the codec for every packet and message of the startup phase;
//! - [`negotiate`]: the negotiation state machine over bytes and events;
//! - [`profile`]: which PostgreSQL version to behave like, and the table of differences;
//! - [`log`]: server log records and their PostgreSQL-style text;
//!
//! and at the edges, with tokio and OpenSSL:
//!
//! - [`config`]: settings, their types and PostgreSQL's configuration-file syntax;
//! - [`hba`]: `pg_hba.conf` and `pg_ident.conf` parsing and matching;
//! - [`identity`]: client-certificate identity (CN, DN, serial), chain and CRL checks;
//! - `openssl_ffi`: the OpenSSL calls the `openssl` crate does not wrap, made safe;
//! - [`files`]: the SSL files: key permissions, passphrases, CA/CRL/DH files;
//! - [`tls`]: building the OpenSSL context and running handshakes;
//! - [`reload`]: SIGHUP per profile; [`init`]: `pgssl-server init`;
//! - [`auth`]: pg_hba.conf / pg_ident.conf in force and `ClientAuthentication`;
//! - [`session`]: what follows startup: authentication, parameters, queries;
//! - [`state`]: what connections and the reloader share: settings generations, cancel keys,
//!   pids, backend slots;
//! - `lockfile`: the Unix socket's `.s.PGSQL.<port>.lock`, as PostgreSQL keeps it;
//! - [`server`]: listeners and the per-connection driver;
//! - [`start`]: the one start path (load, bind, serve, reload, stop) every caller uses.

pub mod auth;
pub mod cli;
pub mod conffiles;
pub mod config;
pub mod error;
pub mod files;
pub mod hba;
pub mod identity;
pub mod init;
pub mod known_settings;
mod lockfile;
pub mod log;
pub mod negotiate;
mod openssl_ffi;
pub mod profile;
pub mod query;
pub mod reload;
pub mod server;
pub mod session;
pub mod sslinfo;
pub mod start;
pub mod state;
pub mod tls;
pub mod transport;
pub mod wire;

pub use error::Error;
