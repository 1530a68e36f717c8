//! `conf`: arbitrary text as postgresql.conf, parsed with includes disabled (no file is
//! ever opened), then every item validated as a setting.
//!
//! Parsing returns items or errors, never panics, and every error renders with a SQLSTATE.
//! Each item written back as `name = 'quoted value'` (`quote_value`) parses to the same
//! name and value (up to a NUL, as PostgreSQL's C strings end there). Each value goes
//! through the value parsers: Boolean, integer and real in every unit family (a result
//! must be within `i32`, a real never NaN), strings with `NAMEDATALEN` truncation on a
//! character boundary, and the server's own settings table for each profile.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pgssl_server::config::Settings;
use pgssl_server::config::file::{IncludePolicy, parse_str, quote_value};
use pgssl_server::config::value::{
    IntSpec, NAMEDATALEN, RealSpec, Unit, parse_bool, parse_int, parse_real, validate_int,
    validate_real, validate_string,
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

fn check_value(name: &str, value: &str) {
    let _ = parse_bool(value);
    for unit in UNITS {
        let _ = parse_int(value, unit);
        if let Ok(v) = parse_real(value, unit) {
            assert!(!v.is_nan(), "NaN accepted from {value:?}");
        }
        let spec = IntSpec {
            min: 0,
            max: 1000,
            unit,
        };
        if let Ok(v) = validate_int(name, value, &spec) {
            assert!((0..=1000).contains(&v));
        } else if let Err(e) = validate_int(name, value, &spec) {
            let _ = (e.message(), e.hint(), e.sqlstate());
        }
        let spec = RealSpec {
            min: -1.0,
            max: 1e6,
            unit,
        };
        match validate_real(name, value, &spec) {
            Ok(v) => assert!((-1.0..=1e6).contains(&v)),
            Err(e) => {
                let _ = (e.message(), e.hint(), e.sqlstate());
            }
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
    for profile in Profile::ALL {
        let mut settings = Settings::defaults("/data", profile);
        if settings.set(name, value).is_ok() {
            let _ = settings.show(name);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let origin = Path::new("/data/postgresql.conf");
    match parse_str(&text, origin, &IncludePolicy::NO_INCLUDES) {
        Ok(parsed) => {
            for item in &parsed.items {
                let line = format!("{} = {}\n", item.name, quote_value(&item.value));
                let again = parse_str(&line, origin, &IncludePolicy::NO_INCLUDES)
                    .unwrap_or_else(|e| panic!("{line:?} does not re-parse: {:?}", e.errors));
                assert_eq!(again.items.len(), 1, "{line:?}");
                assert_eq!(again.items[0].name, item.name);
                let expected = item.value.split('\0').next().unwrap_or_default();
                assert_eq!(again.items[0].value, expected, "{line:?}");
                check_value(&item.name, &item.value);
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
