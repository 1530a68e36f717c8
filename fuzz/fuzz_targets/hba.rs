//! `hba`: arbitrary text as pg_hba.conf and as pg_ident.conf, with includes disabled, for
//! one profile (8.4 seed, 15 or 18: the input length modulo 3 chooses).
//!
//! Parsing reports errors as diagnostics, never panics, and every diagnostic renders. The
//! rows that parsed, printed back (`Display`), parse again without errors (unless there
//! are none: an empty pg_hba.conf is an error in 15) to the same
//! rules (`same_rule`), and printing is a fixpoint. Matching agrees across the round trip:
//! for a fixed set of connections the first matching row of the original and of the
//! re-parsed file are the same rule, and identity mapping gives the same answer. The four
//! parses of a run share one `RegexCache`, so each `/regex` pattern is compiled once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgssl_fuzz::hba::{check_file, pick};

fuzz_target!(|data: &[u8]| {
    let (profile, file) = pick(data.len());
    check_file(profile, file, &pgssl_fuzz::text(data));
});
