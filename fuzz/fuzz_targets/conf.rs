//! `conf`: arbitrary text as postgresql.conf, parsed with includes disabled (no file is
//! ever opened), then every item validated as a setting.
//!
//! Parsing returns items or errors, never panics, and every error renders with a SQLSTATE.
//! The items written back as `name = 'quoted value'` lines (`quote_value`) parse to the
//! same names and values (up to a NUL, as PostgreSQL's C strings end there). Each value goes
//! through the value parsers: Boolean and integer in one unit family, strings with
//! `NAMEDATALEN` truncation on a character boundary, and the server's settings table for
//! one profile (the input length and the item's position choose the unit family and the
//! profile); an accepted number must be within its range.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pgssl_server::config::Settings;
use pgssl_server::config::file::{IncludePolicy, parse_str, quote_value};
use pgssl_server::config::value::{
    IntSpec, NAMEDATALEN, Unit, parse_bool, parse_int, validate_int, validate_string,
};
use pgssl_server::profile::Profile;

const UNITS: [Unit; 9] = [
    Unit::None,
    Unit::Byte,
    Unit::Kb,
    Unit::Mb,
    Unit::Blocks,
    Unit::XBlocks,
    Unit::Ms,
    Unit::S,
    Unit::Min,
];

/// Validates one item. `pick` chooses the unit family and the profile, so each run does
/// one of each (keeping the target fast) while the fuzzer still reaches them all.
/// `settings` holds the run's settings table per profile, created on first use and then
/// updated item by item (as the server applies a file), instead of one table per item.
fn check_value(
    name: &str,
    value: &str,
    pick: usize,
    settings: &mut [Option<Settings>; Profile::ALL.len()],
) {
    let _ = parse_bool(value);
    let unit = UNITS[pick % UNITS.len()];
    let _ = parse_int(value, unit);
    let spec = IntSpec {
        min: 0,
        max: 1000,
        unit,
    };
    match validate_int(name, value, &spec) {
        Ok(v) => assert!((0..=1000).contains(&v)),
        Err(e) => {
            let _ = (e.message(), e.hint(), e.sqlstate());
        }
    }
    let s = validate_string(value, true);
    assert!(s.value.len() < NAMEDATALEN);
    assert!(
        value
            .split('\0')
            .next()
            .unwrap_or_default()
            .starts_with(&s.value)
    );
    let index = pick % Profile::ALL.len();
    let settings =
        settings[index].get_or_insert_with(|| Settings::defaults("/data", Profile::ALL[index]));
    if settings.set(name, value).is_ok() {
        let _ = settings.show(name);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = pgssl_fuzz::text(data);
    let origin = Path::new("/data/postgresql.conf");
    match parse_str(&text, origin, &IncludePolicy::NO_INCLUDES) {
        Ok(parsed) => {
            // All items written back, one per line, parse to the same names and values.
            let mut printed = String::new();
            for item in &parsed.items {
                printed.push_str(&item.name);
                printed.push_str(" = ");
                printed.push_str(&quote_value(&item.value));
                printed.push('\n');
            }
            let again = parse_str(&printed, origin, &IncludePolicy::NO_INCLUDES)
                .unwrap_or_else(|e| panic!("{printed:?} does not re-parse: {:?}", e.errors));
            assert_eq!(again.items.len(), parsed.items.len(), "{printed:?}");
            let mut settings = [const { None }; Profile::ALL.len()];
            for (i, (item, back)) in parsed.items.iter().zip(&again.items).enumerate() {
                assert_eq!(back.name, item.name, "{printed:?}");
                let expected = item.value.split('\0').next().unwrap_or_default();
                assert_eq!(back.value, expected, "{printed:?}");
                check_value(&item.name, &item.value, data.len() + i, &mut settings);
            }
        }
        Err(errors) => {
            assert!(!errors.errors.is_empty());
            for e in &errors.errors {
                let _ = (e.to_string(), e.sqlstate());
            }
        }
    }
});
