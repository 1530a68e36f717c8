//! `hba`: arbitrary text as pg_hba.conf or pg_ident.conf, with includes disabled, for one
//! profile (8.4 seed, 13 to 18); the input's length picks file and profile (`pick`).
//!
//! The checks are `pgssl_fuzz::hba`'s: diagnostics rather than panics, printed rows that
//! parse again to the same rules, printing a fixpoint, matching unchanged by the round
//! trip. Both parses of a run share one `RegexCache`, so each `/regex` pattern is compiled
//! once; `hba_literal` runs the same checks on inputs without regular expressions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgssl_fuzz::hba::{check_file, pick};
use pgssl_server::hba::RegexCache;

fuzz_target!(|data: &[u8]| {
    let (profile, file) = pick(data.len());
    // (Freed with the run, so that libFuzzer's leak check sees every allocation of a run
    // freed by its end.)
    let regexes = RegexCache::new();
    check_file(profile, file, &pgssl_fuzz::text(data), &regexes);
});
