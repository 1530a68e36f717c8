//! The names of the settings each PostgreSQL version knows. Each list is a data file beside
//! this module, `known_settings/pgNN.txt`: the first column of `postgres --describe-config`
//! of that major's npm build (13.23, 14.23, 15.18, 16.14, 17.10, 18.4), lower-cased, sorted,
//! one name per line. 17 and 18 add the developer option `trace_connection_negotiation`
//! (new in 17, hidden from `--describe-config`). Debian's 15 also knows `extension_destdir`,
//! a Debian patch, which the 15 profile follows upstream in not knowing.
//!
//! A name outside its profile's list is `unrecognized configuration parameter`; a name in it
//! that pgssl does not use is accepted and reported once as ignored.

/// One version's setting names: a sorted list, one per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownSettings(&'static str);

impl KnownSettings {
    /// Whether `name` (lower case) is one of these settings.
    pub fn contains(self, name: &str) -> bool {
        self.names().any(|n| n == name)
    }

    /// Every name, in order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.0.lines().filter(|l| !l.is_empty())
    }
}

/// PostgreSQL 13's settings.
pub const PG13: KnownSettings = KnownSettings(include_str!("known_settings/pg13.txt"));
/// PostgreSQL 14's settings.
pub const PG14: KnownSettings = KnownSettings(include_str!("known_settings/pg14.txt"));
/// PostgreSQL 15's settings.
pub const PG15: KnownSettings = KnownSettings(include_str!("known_settings/pg15.txt"));
/// PostgreSQL 16's settings.
pub const PG16: KnownSettings = KnownSettings(include_str!("known_settings/pg16.txt"));
/// PostgreSQL 17's settings.
pub const PG17: KnownSettings = KnownSettings(include_str!("known_settings/pg17.txt"));
/// PostgreSQL 18's settings.
pub const PG18: KnownSettings = KnownSettings(include_str!("known_settings/pg18.txt"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_lower_case_and_unique() {
        for list in [PG13, PG14, PG15, PG16, PG17, PG18] {
            let names: Vec<&str> = list.names().collect();
            assert!(names.len() > 250);
            assert!(names.windows(2).all(|w| w[0] < w[1]));
            assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
        }
    }

    #[test]
    fn releases_add_what_they_added() {
        assert!(!PG13.contains("ssl_crl_dir") && PG14.contains("ssl_crl_dir"));
        assert!(!PG15.contains("scram_iterations") && PG16.contains("scram_iterations"));
        assert!(!PG16.contains("trace_connection_negotiation"));
        assert!(PG17.contains("trace_connection_negotiation"));
        assert!(!PG17.contains("ssl_groups") && PG18.contains("ssl_groups"));
        // 18 accepts ssl_ecdh_curve only as an alias of ssl_groups (profile.rs).
        assert!(PG17.contains("ssl_ecdh_curve") && !PG18.contains("ssl_ecdh_curve"));
    }
}
