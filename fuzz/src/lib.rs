//! Code shared by the fuzz targets: a connection driver for the negotiation state machine
//! that checks its invariants on every step ([`negotiation`]), the pg_hba.conf and
//! pg_ident.conf round-trip checks ([`hba`]), the fixed test PKI the certificate targets
//! verify against ([`pki`]), and how text targets read their input ([`text`]).

#[cfg(feature = "mimalloc")]
mod allocator;
pub mod hba;
pub mod negotiation;
pub mod pki;

use std::borrow::Cow;

/// With the `mimalloc` feature (the `run-all` builds without a sanitizer), the targets
/// allocate through mimalloc rather than glibc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: allocator::MiMalloc = allocator::MiMalloc;

/// The input as text, invalid UTF-8 replaced by U+FFFD as a server reading a file would
/// show it. Valid input is checked by the standard library's (uninstrumented) validator and
/// borrowed, so the common case costs the fuzzer no coverage hooks.
pub fn text(data: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(data).map_or_else(|_| String::from_utf8_lossy(data), Cow::Borrowed)
}
