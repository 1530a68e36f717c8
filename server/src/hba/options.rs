//! Parser settings ([`ParseOptions`]): profile, `ssl`, build features, include resolver
//! and regex compiler.

use super::include::{IncludeResolver, NoIncludes};
use super::pattern::{CompileEach, PatternCompiler};
use super::vocabulary::BuildFeatures;
use crate::profile::Profile;

/// Parser settings.
#[derive(Clone, Copy)]
pub struct ParseOptions<'a> {
    pub profile: Profile,
    /// `ssl = on` in postgresql.conf (affects the `hostssl` warning / 8.4 error).
    pub ssl_enabled: bool,
    pub build: BuildFeatures,
    pub resolver: &'a dyn IncludeResolver,
    /// What compiles `/regex` tokens.
    pub patterns: &'a dyn PatternCompiler,
}

impl ParseOptions<'static> {
    /// SSL on, every method supported, includes disabled, each `/regex` token compiled
    /// anew by the regex crate.
    pub fn new(profile: Profile) -> ParseOptions<'static> {
        ParseOptions::with_patterns(profile, &CompileEach)
    }
}

impl<'a> ParseOptions<'a> {
    /// As [`ParseOptions::new`], with `/regex` tokens compiled by `patterns`. (A program
    /// that never calls `new` links no regular-expression engine it does not pass here.)
    pub fn with_patterns(profile: Profile, patterns: &'a dyn PatternCompiler) -> ParseOptions<'a> {
        ParseOptions {
            profile,
            ssl_enabled: true,
            build: BuildFeatures::ALL,
            resolver: &NoIncludes,
            patterns,
        }
    }

    pub fn with_resolver<'b>(self, resolver: &'b dyn IncludeResolver) -> ParseOptions<'b>
    where
        'a: 'b,
    {
        ParseOptions {
            profile: self.profile,
            ssl_enabled: self.ssl_enabled,
            build: self.build,
            resolver,
            patterns: self.patterns,
        }
    }

    pub fn with_ssl(mut self, ssl_enabled: bool) -> ParseOptions<'a> {
        self.ssl_enabled = ssl_enabled;
        self
    }

    pub fn with_build(mut self, build: BuildFeatures) -> ParseOptions<'a> {
        self.build = build;
        self
    }
}
