//! `pgssl-conformance`: every documented rule of PostgreSQL's SSL negotiation as a case, run
//! against any server that speaks the protocol.
//!
//! - [`case`]: the case model (set-up, steps, expectation per version);
//! - [`catalogue`]: the case files, compiled in;
//! - [`spec`]: the spec's rule ids, for coverage;
//! - [`client`]: the steps carried out over a socket, producing a [`trace::Trace`];
//! - [`target`]: reference server, real PostgreSQL, external servers;
//! - [`normalize`]: the one table of what a trace normalizes (build suffixes, ports, TLS
//!   library reason texts);
//! - [`run`]: grouping by set-up, parallel runs, verdicts;
//! - [`report`]: human, JSON and JUnit output;
//! - [`divergence`]: every failed case of a target classified (security, interoperability,
//!   fidelity) with why it matters, as Markdown and HTML;
//! - [`matrix`]: cases × versions, where behaviour changed, as Markdown, JSON and HTML;
//! - [`unstable`]: cases whose outcome on a product varies from run to run, declared;
//! - [`model`]: the rules model, each version's expectations as data;
//! - [`explore`]: generated scenarios checked against the model's oracle;
//! - [`probe`]: `pgssl-conform probe`, the black-box SSL report for any server;
//! - [`mod@bench`]: `pgssl-conform bench`, the targets brought up for `pgssl-loadgen` to load.

pub mod bench;
pub mod case;
pub mod catalogue;
pub mod cleanup;
pub mod client;
pub mod corpus;
pub mod differences;
pub mod divergence;
pub mod error;
pub mod explore;
pub mod matrix;
pub mod model;
pub mod normalize;
pub mod probe;
pub mod report;
pub mod run;
pub mod setup;
pub mod spec;
pub mod target;
pub mod trace;
pub mod unstable;

pub use error::Error;
