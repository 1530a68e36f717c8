//! `hba_literal`: the `hba` target's checks on inputs without regular expressions.
//!
//! Compiling a `/regex` token costs far more than parsing a whole file, so in `hba` the
//! fuzzer spends most of its time in the regex crate. Here an input that may hold a regex
//! token (`may_hold_regex`: a `/` where a token starts) is rejected before parsing and
//! kept out of the corpus, so the time goes to the tokenizer, keywords, addresses, options
//! and matching. Patterns are compiled by `NoPatterns`, which fails the run if called (the
//! filter let a pattern through) and keeps the regex engine out of the binary. Same checks
//! otherwise: one file for one profile (the input's length chooses), round trip through
//! `Display`, printing a fixpoint, matching unchanged.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use pgssl_fuzz::hba::{NoPatterns, check_file, may_hold_regex, pick};

fuzz_target!(|data: &[u8]| -> Corpus {
    if may_hold_regex(data) {
        return Corpus::Reject;
    }
    let (profile, file) = pick(data.len());
    check_file(profile, file, &pgssl_fuzz::text(data), &NoPatterns);
    Corpus::Keep
});
