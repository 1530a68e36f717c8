//! Host-based authentication: pg_hba.conf / pg_ident.conf parsing and connection matching /
//! identity mapping ([`matching`]), with PostgreSQL 8.4 ("Seed"), 15 and 18 behaviour chosen
//! by [`crate::profile::Profile`] through one [`HbaDialect`] table ([`dialect`]).
//!
//! Reading a file goes [`token`] (lines, quoting, `@file` and includes through an
//! [`IncludeResolver`]) → [`line`] / [`ident_line`] (rows, in [`row`]) → a [`RuleLoad`]
//! ([`load`]) of the usable rows and every [`Diagnostic`]; `print` writes rules back as
//! text. `/regex` patterns are compiled through [`pattern`].

pub mod address;
pub mod diagnostic;
pub mod dialect;
pub mod ident_line;
pub mod include;
pub mod line;
pub mod load;
pub mod matching;
pub mod options;
pub mod pattern;
mod print;
pub mod row;
pub mod token;
pub mod vocabulary;

#[cfg(test)]
mod test_support;

pub use address::{mask_prefix_len, parse_numeric_host};
pub use diagnostic::{Diagnostic, HbaError, LogLevel};
pub use dialect::{
    HbaDialect, dialect, hba_load_failed_message, hba_not_reloaded_message,
    ident_not_reloaded_message,
};
pub use ident_line::{load_ident_file, parse_ident_str};
pub use include::{FnResolver, FsResolver, IncludeResolver, NoIncludes, ResolveError};
pub use line::{load_hba_file, parse_hba_str};
pub use load::{HbaConfig, HbaLoad, IdentConfig, IdentLoad, RuleLoad, RuleSet};
pub use matching::{
    ConnFacts, ConnKind, UsermapResult, check_usermap, connection_authenticated_message, find_row,
    hostname_match, ip_in_range, map_identity, map_identity_with_groups,
};
pub use options::ParseOptions;
pub use pattern::{CompileEach, CompiledPattern, PatternCompiler, RegexCache};
pub use row::{AuthToken, HbaAddress, HbaRow, IdentRow};
pub use token::{TokenizedLine, tokenize_str};
pub use vocabulary::{AuthMethod, BuildFeatures, ClientCertMode, ClientCertName, ConnType};
