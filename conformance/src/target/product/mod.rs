//! What the third-party targets (`pgbouncer`, `pgpool`, `pgwire`, `pg-gateway`) share, so each
//! of their modules keeps only what is its product's own: its reasons for refusing a set-up
//! and its mapping decisions.
//!
//! - [`spec`]: their target specs, `[:BINDIR][@VERSION]` and `[@VERSION]`;
//! - [`proxy`]: a product in front of a PostgreSQL backend (`pgbouncer`, `pgpool`);
//! - [`version`]: the product version read from what its `--version` prints;
//! - [`workdir`]: a target's working directory, the private directories of each set-up and
//!   the files the mapping reads and writes there;
//! - [`conf`]: `postgresql.conf` read as a product mapping reads it;
//! - [`hba`]: `pg_hba.conf` rows and `pg_ident.conf` maps, likewise;
//! - [`server`]: a product server started for a set-up: its configuration written first,
//!   its command, its refusal of the default set-up, its reload writing the configuration
//!   again;
//! - [`refusal`]: what the trace shows of a start it refused.

pub mod conf;
pub mod hba;
pub mod proxy;
pub mod refusal;
pub mod server;
pub mod spec;
pub mod version;
pub mod workdir;
