//! Host-based authentication: pg_hba.conf / pg_ident.conf parsing
//! ([`parse`], its `/regex` patterns in [`pattern`]) and connection matching / identity
//! mapping ([`matching`]), with PostgreSQL 8.4 ("Seed"), 15 and 18 behaviour chosen by
//! [`crate::profile::Profile`] through one [`HbaDialect`] table.

pub mod matching;
pub mod parse;
pub mod pattern;

pub use matching::{
    ConnFacts, ConnKind, UsermapResult, check_usermap, connection_authenticated_message, find_row,
    hostname_match, ip_in_range, map_identity, map_identity_with_groups,
};
pub use parse::{
    AuthMethod, AuthToken, BuildFeatures, ClientCertMode, ClientCertName, ConnType, Diagnostic,
    FnResolver, FsResolver, HbaAddress, HbaConfig, HbaDialect, HbaError, HbaLoad, HbaRow,
    IdentConfig, IdentLoad, IdentRow, IncludeResolver, MAX_INCLUDE_DEPTH, NoIncludes, ParseOptions,
    ResolveError, LogLevel, TokenizedLine, absolute_config_location, dialect,
    hba_load_failed_message, hba_not_reloaded_message, ident_not_reloaded_message, load_hba_file,
    load_ident_file, parse_hba_str, parse_ident_str, tokenize_str,
};
pub use pattern::{CompileEach, CompiledPattern, PatternCompiler, RegexCache};
