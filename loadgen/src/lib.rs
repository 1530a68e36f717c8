//! `pgssl-loadgen`: a connection-rate load generator for servers that speak PostgreSQL's
//! startup and SSL negotiation, independent of how the servers were started.
//!
//! N client threads open and complete connections as fast as they can (TCP connect,
//! SSLRequest, TLS handshake, StartupMessage, ... ReadyForQuery, Terminate; or bare TLS),
//! each through one shared client TLS context. For a server that is a local process, its CPU
//! time comes from /proc: user+system time of the process and its live descendants, plus the
//! children it has reaped (PostgreSQL's backends), as a delta over the measurement, divided
//! by the connections completed.
//!
//! - [`drive`]: one connection, and threads of them for a duration; idle connections held;
//! - [`procfs`]: a server's CPU time, memory and listening socket from /proc;
//! - [`affinity`]: pinning processes to CPUs;
//! - [`stats`]: rounds summed, percentiles, per-connection figures;
//! - [`ceiling`]: the crypto ceiling of one handshake on this machine;
//! - [`report`]: the human table and the JSON document;
//! - [`mod@bench`]: a whole run over several servers, in alternating rounds.

pub mod affinity;
pub mod bench;
pub mod ceiling;
pub mod drive;
pub mod error;
pub mod procfs;
pub mod report;
pub mod stats;

pub use bench::{Options, Server, run};
pub use drive::Mode;
pub use error::Error;
