//! `pgssl-testkit`: what `pgssl-server`'s integration tests share, compiled once as a library
//! (each file under `server/tests/` is its own crate and uses only part of it).
//!
//! - [`certs`]: keys and certificates, from `pgssl-pki`'s factory;
//! - [`datadir`]: data directories the `postgres` user can reach, system users;
//! - [`server`]: the `pgssl-server` binary started on a free port, its log, signals;
//! - [`client`]: raw protocol and TLS clients, `openssl s_client`;
//! - [`ssl_suite`]: PostgreSQL's SSL test hierarchy laid out as its `SSL/Server.pm` does;
//! - [`libpq`]: the real `psql`.
//!
//! Everything is re-exported at the root: a test says `use pgssl_testkit::*;`.

pub mod certs;
pub mod client;
pub mod datadir;
pub mod libpq;
pub mod server;
pub mod ssl_suite;

pub use certs::*;
pub use client::*;
pub use datadir::*;
pub use libpq::*;
pub use server::*;
pub use ssl_suite::*;
