//! Code shared by the fuzz targets: a connection driver for the negotiation state machine
//! that checks its invariants on every step ([`negotiation`]), and the fixed test PKI the
//! certificate targets verify against ([`pki`]).

pub mod negotiation;
pub mod pki;
